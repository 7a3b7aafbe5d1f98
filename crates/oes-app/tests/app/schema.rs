//! The migrations apply on both backends, and one representative query per table works on both
//! through the one query layer (`$n` placeholders, decimals as text, instants as milliseconds).

use crate::support::{BACKENDS, TestDb};
use oes_app::db::{Backend, Db};
use sqlx::Row;

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Db, Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in BACKENDS {
        let tdb = TestDb::new(backend).await;
        let db = tdb.migrated().await;
        test(db.clone(), backend).await;
        db.close().await;
    }
}

async fn insert_user(db: &Db, id: &str, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, full_name, password_hash, role, email_verified, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'USER', $5, $6, $6)",
    )
    .bind(id)
    .bind(email)
    .bind("Asha Rao")
    .bind("argon2-hash")
    .bind(false)
    .bind(1_700_000_000_000_i64)
    .execute(db.pool())
    .await
    .map(|_| ())
}

#[tokio::test]
async fn migrations_apply_twice_without_error_on_both_backends() {
    each_backend(|db, backend| async move {
        db.migrate()
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: second run: {e}"));
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(db.pool())
                .await
                .expect("migration table");
        assert_eq!(applied as usize, db.known_migrations().len(), "{backend:?}");
    })
    .await;
}

#[tokio::test]
async fn emails_are_unique_case_insensitively() {
    each_backend(|db, backend| async move {
        insert_user(&db, "u1", "asha@example.com")
            .await
            .expect("first insert");
        let dup = insert_user(&db, "u2", "Asha@Example.COM").await;
        assert!(
            dup.is_err(),
            "{backend:?}: a differently-cased duplicate was accepted"
        );
        let row =
            sqlx::query("SELECT id, email_verified FROM users WHERE lower(email) = lower($1)")
                .bind("ASHA@example.com")
                .fetch_one(db.pool())
                .await
                .expect("found");
        assert_eq!(row.get::<String, _>("id"), "u1");
        assert!(!oes_app::db::flag(&row, "email_verified").expect("a flag"));
    })
    .await;
}

#[tokio::test]
async fn sessions_tokens_and_profiles_round_trip_and_cascade() {
    each_backend(|db, backend| async move {
        insert_user(&db, "u1", "a@example.com").await.expect("user");
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at, ip, user_agent)
             VALUES ('s1', 'u1', 'h1', 1, 2, 1, '127.0.0.1', 'test')",
        )
        .execute(db.pool())
        .await
        .expect("session");
        sqlx::query(
            "INSERT INTO account_tokens (id, user_id, purpose, token_hash, created_at, expires_at)
             VALUES ('t1', 'u1', 'RESET_PASSWORD', 'th', 1, 2)",
        )
        .execute(db.pool())
        .await
        .expect("token");
        sqlx::query(
            "INSERT INTO user_profiles (user_id, enrollment_number, course, department, year, semester, updated_at)
             VALUES ('u1', 'ENR001', 'BTECH', 'CST', 'TWO', 'S3', 1)",
        )
        .execute(db.pool())
        .await
        .expect("profile");
        let bad_enum = sqlx::query(
            "INSERT INTO user_profiles (user_id, enrollment_number, course, department, year, semester, updated_at)
             VALUES ('u1', 'ENR002', 'PHD', 'CST', 'TWO', 'S3', 1)",
        )
        .execute(db.pool())
        .await;
        assert!(bad_enum.is_err(), "{backend:?}: an unknown course was stored");

        let tries: i64 = sqlx::query_scalar(
            "UPDATE account_tokens SET failed_tries = failed_tries + 1 WHERE id = $1 RETURNING failed_tries",
        )
        .bind("t1")
        .fetch_one(db.pool())
        .await
        .expect("returning");
        assert_eq!(tries, 1);

        sqlx::query("DELETE FROM users WHERE id = 'u1'").execute(db.pool()).await.expect("delete");
        for table in ["sessions", "account_tokens", "user_profiles"] {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(db.pool())
                .await
                .expect("count");
            assert_eq!(left, 0, "{backend:?}: {table} did not cascade");
        }
    })
    .await;
}

#[tokio::test]
async fn question_bank_and_exam_tables_keep_decimal_marks_exact() {
    each_backend(|db, backend| async move {
        insert_user(&db, "admin", "admin@example.com").await.expect("user");
        sqlx::query(
            "INSERT INTO questions (id, statement, question_type, domain, marks, negative_marks, difficulty, created_by, created_at, updated_at)
             VALUES ('q1', 'What is 2+2?', 'NUMERICAL', 'math', CAST($1 AS NUMERIC), CAST($2 AS NUMERIC), 'EASY', 'admin', 1, 1)",
        )
        .bind("1.5")
        .bind("0.25")
        .execute(db.pool())
        .await
        .expect("question");
        sqlx::query("INSERT INTO numerical_answers (question_id, value, tolerance) VALUES ('q1', CAST($1 AS NUMERIC), CAST($2 AS NUMERIC))")
            .bind("4")
            .bind("0.01")
            .execute(db.pool())
            .await
            .expect("numerical answer");
        sqlx::query("INSERT INTO questions (id, statement, question_type, domain, marks, negative_marks, created_at, updated_at)
                     VALUES ('q2', 'Pick one', 'SINGLE_CORRECT', 'math', CAST('1' AS NUMERIC), CAST('0' AS NUMERIC), 1, 1)")
            .execute(db.pool())
            .await
            .expect("mcq");
        for (id, pos, correct) in [("o1", 1_i64, true), ("o2", 2, false)] {
            sqlx::query("INSERT INTO question_options (id, question_id, position, text, is_correct) VALUES ($1, 'q2', $2, $1, $3)")
                .bind(id)
                .bind(pos)
                .bind(correct)
                .execute(db.pool())
                .await
                .expect("option");
        }
        sqlx::query(
            "INSERT INTO exams (id, title, duration_minutes, start_time, end_time, created_by, created_at, updated_at)
             VALUES ('e1', 'Midterm', 60, 1000, 2000, 'admin', 1, 1)",
        )
        .execute(db.pool())
        .await
        .expect("exam");
        let backwards = sqlx::query(
            "INSERT INTO exams (id, title, duration_minutes, start_time, end_time, created_at, updated_at)
             VALUES ('e2', 'Backwards', 60, 2000, 1000, 1, 1)",
        )
        .execute(db.pool())
        .await;
        assert!(backwards.is_err(), "{backend:?}: an exam ending before it starts was stored");
        sqlx::query("INSERT INTO exam_questions (id, exam_id, question_id, question_order, marks) VALUES ('eq1', 'e1', 'q1', 1, CAST($1 AS NUMERIC))")
            .bind("2.5")
            .execute(db.pool())
            .await
            .expect("exam question");

        let row = sqlx::query(
            "SELECT CAST(q.marks AS TEXT) AS marks, CAST(q.negative_marks AS TEXT) AS neg,
                    CAST(n.value AS TEXT) AS value, CAST(eq.marks AS TEXT) AS slot
             FROM questions q JOIN numerical_answers n ON n.question_id = q.id
             JOIN exam_questions eq ON eq.question_id = q.id WHERE q.id = $1",
        )
        .bind("q1")
        .fetch_one(db.pool())
        .await
        .expect("joined row");
        let dec = |col: &str| -> rust_decimal::Decimal {
            row.get::<String, _>(col).parse().expect("a decimal")
        };
        assert_eq!(dec("marks"), rust_decimal::Decimal::new(15, 1), "{backend:?}");
        assert_eq!(dec("neg"), rust_decimal::Decimal::new(25, 2), "{backend:?}");
        assert_eq!(dec("value"), rust_decimal::Decimal::new(4, 0), "{backend:?}");
        assert_eq!(dec("slot"), rust_decimal::Decimal::new(25, 1), "{backend:?}");

        let ordered: Vec<String> = sqlx::query_scalar("SELECT id FROM question_options WHERE question_id = 'q2' ORDER BY position")
            .fetch_all(db.pool())
            .await
            .expect("options");
        assert_eq!(ordered, ["o1", "o2"]);

        // A question in an exam cannot be deleted from under it.
        let delete = sqlx::query("DELETE FROM questions WHERE id = 'q1'").execute(db.pool()).await;
        assert!(delete.is_err(), "{backend:?}: a question used by an exam was deleted");
    })
    .await;
}

#[tokio::test]
async fn attempts_answers_events_and_outbox_round_trip() {
    each_backend(|db, backend| async move {
        insert_user(&db, "u1", "s@example.com").await.expect("user");
        sqlx::query("INSERT INTO exams (id, title, duration_minutes, start_time, end_time, created_at, updated_at) VALUES ('e1', 'T', 10, 1, 2, 1, 1)")
            .execute(db.pool())
            .await
            .expect("exam");
        sqlx::query(
            "INSERT INTO exam_attempts (id, exam_id, user_id, status, started_at, deadline_at) VALUES ('a1', 'e1', 'u1', 'IN_PROGRESS', 1, 600001)",
        )
        .execute(db.pool())
        .await
        .expect("attempt");
        let second = sqlx::query(
            "INSERT INTO exam_attempts (id, exam_id, user_id, status, started_at, deadline_at) VALUES ('a2', 'e1', 'u1', 'IN_PROGRESS', 1, 600001)",
        )
        .execute(db.pool())
        .await;
        assert!(second.is_err(), "{backend:?}: a second attempt for the same exam was stored");

        sqlx::query(
            "INSERT INTO student_answers (id, attempt_id, question_id, selected_option_ids, numerical_answer, saved_at)
             VALUES ('sa1', 'a1', 'q1', '[]', CAST($1 AS NUMERIC), 5)
             ON CONFLICT (attempt_id, question_id) DO UPDATE SET numerical_answer = excluded.numerical_answer",
        )
        .bind("0")
        .execute(db.pool())
        .await
        .expect("answer");
        let answer: Option<String> = sqlx::query_scalar("SELECT CAST(numerical_answer AS TEXT) FROM student_answers WHERE id = 'sa1'")
            .fetch_one(db.pool())
            .await
            .expect("read answer");
        // An answer of 0 stays 0, not null (the original lost it).
        assert_eq!(answer.as_deref().map(|s| s.parse::<rust_decimal::Decimal>().ok()), Some(Some(rust_decimal::Decimal::ZERO)));

        // Submitting is a conditional update: only one of two racing submits wins.
        let first = sqlx::query("UPDATE exam_attempts SET status = 'SUBMITTED', submitted_at = 7 WHERE id = 'a1' AND status = 'IN_PROGRESS'")
            .execute(db.pool())
            .await
            .expect("submit");
        let again = sqlx::query("UPDATE exam_attempts SET status = 'AUTO_SUBMITTED', submitted_at = 8 WHERE id = 'a1' AND status = 'IN_PROGRESS'")
            .execute(db.pool())
            .await
            .expect("auto-submit");
        assert_eq!((first.rows_affected(), again.rows_affected()), (1, 0), "{backend:?}");

        let event_id: i64 = sqlx::query_scalar(
            "INSERT INTO attempt_events (attempt_id, kind, at, ip, user_agent) VALUES ('a1', 'SUBMIT', 7, '10.0.0.1', 'ua') RETURNING id",
        )
        .fetch_one(db.pool())
        .await
        .expect("event");
        assert!(event_id >= 1);

        sqlx::query("INSERT INTO email_outbox (id, template, recipient, params, priority, created_at) VALUES ('m1', 'verify_email', 's@example.com', '{}', 1, 1)")
            .execute(db.pool())
            .await
            .expect("outbox");
        let pending: Vec<String> = sqlx::query_scalar("SELECT id FROM email_outbox WHERE status = 'PENDING' ORDER BY created_at")
            .fetch_all(db.pool())
            .await
            .expect("pending");
        assert_eq!(pending, ["m1"], "{backend:?}");
    })
    .await;
}
