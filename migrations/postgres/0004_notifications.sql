-- Admin notifications (issue 7): one row per message, the fan-out's cursor, and the outbox rows
-- it wrote tagged with the notification so progress is a count over email_outbox.

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    created_by      TEXT,
    audience        TEXT NOT NULL CHECK (audience IN ('VERIFIED_USERS', 'EXAM_PARTICIPANTS', 'ADDRESSES')),
    exam_id         TEXT,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'FANNING_OUT' CHECK (status IN ('FANNING_OUT', 'FANNED_OUT')),
    -- The last recipient key written to the outbox (user id, or address position); the fan-out
    -- resumes after it, in the same transaction that wrote the batch.
    cursor_key      TEXT,
    recipients      BIGINT NOT NULL DEFAULT 0,
    enqueued        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    fanned_out_at   BIGINT
);
CREATE INDEX notifications_status_idx ON notifications (status, created_at);

-- An explicit audience, stored so the fan-out pages through it like any other.
CREATE TABLE notification_addresses (
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    email           TEXT NOT NULL,
    PRIMARY KEY (notification_id, seq)
);

ALTER TABLE email_outbox ADD COLUMN notification_id TEXT;
-- At most one email per recipient per notification, whatever happens to the fan-out.
CREATE UNIQUE INDEX email_outbox_notification_recipient_key ON email_outbox (notification_id, recipient);
