-- `oes import node` (issue 13): what each Node row looked like when it was last imported, so a
-- re-run rewrites only the rows Node changed since (and leaves alone what OES changed, such as
-- a password rehashed to argon2id at login). The ids are Node's own: OES keeps them.
CREATE TABLE node_import_ledger (
    -- The Node table: users, user_profiles, questions, exams, exam_attempts, student_answers.
    kind            TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    -- SHA-256 of the Node row (with what it was imported together with), hex.
    fingerprint     TEXT NOT NULL,
    imported_at     BIGINT NOT NULL,
    PRIMARY KEY (kind, node_id)
);
