//! Admin notifications over HTTP on both backends (embedded queue): audiences, validation,
//! progress, and a fan-out that dies half-way and resumes without writing anyone twice.

use std::collections::HashSet;
use std::time::Duration;

use super::notifying::{ADMIN, prepare, start, start_on};
use crate::support::{self, Answer, Auth, PASSWORD, user};
use oes_app::db::Db;
use oes_app::domain::accounts::Role;
use oes_app::queue::JobRuntime;
use oes_app::redis_link::RedisLink;
use oes_app::service::notifications::NewMessage;
use oes_app::service::notifications::{self, BATCH};
use serde_json::json;

/// Stores a notification as `create` does when the queue cannot be reached: the row is
/// committed and its fan-out job never added (what the resume sweep exists for), so nothing
/// but the test runs the fan-out until a process resumes it.
async fn stored_without_its_job(db: &Db, subject: &str, addresses: &[String]) -> uuid::Uuid {
    let (admin, _) = oes_app::service::accounts::find_user_by_email(db, ADMIN)
        .await
        .expect("read")
        .expect("the admin exists");
    let unreachable = JobRuntime::redis(
        "redis://127.0.0.1:1",
        "oes-test-none",
        &RedisLink::disabled(),
        false,
    );
    let message = NewMessage::parse(subject, "b", "ADDRESSES", None, Some(addresses))
        .expect("a valid notification");
    notifications::create(db, &unreachable, admin, message)
        .await
        .expect("stored")
}

async fn enqueued(db: &Db, id: uuid::Uuid) -> i64 {
    notifications::progress(db, id)
        .await
        .expect("progress")
        .enqueued
}

fn subjects_to(messages: &[oes_mail::sink::ReceivedMessage]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| {
            let parsed = m.parse();
            (
                m.rcpt_to.first().cloned().unwrap_or_default(),
                parsed.subject().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_list_of_addresses_gets_one_email_each_and_progress_counts_them() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        let id = app
            .notify(json!({
                "subject": "Exam centre moved",
                "body": "Room 4 is now room 12.",
                "audience": "ADDRESSES",
                "addresses": ["a@x.test", "B@x.test", "b@x.test", " c@x.test "],
            }))
            .await;
        let progress = app.wait_done(&id, Duration::from_secs(30)).await;
        assert_eq!(progress["recipients"], 3, "{progress}");
        assert_eq!(progress["enqueued"], 3, "{progress}");
        assert_eq!(progress["sent"], 3, "{progress}");
        assert_eq!(progress["failed"], 0, "{progress}");
        assert_eq!(progress["status"], "FANNED_OUT");
        assert_eq!(progress["audience"], "ADDRESSES");

        let messages = app.sink.wait_for(3, Duration::from_secs(10)).await;
        let mut got = subjects_to(&messages);
        got.sort();
        assert_eq!(
            got,
            ["a@x.test", "b@x.test", "c@x.test"]
                .map(|a| (a.to_owned(), "Exam centre moved".to_owned()))
        );
        let parsed = messages[0].parse();
        let text = parsed.text().unwrap_or_default();
        assert!(text.contains("Room 4 is now room 12."), "{text}");
        app.stop().await;
    }
}

#[tokio::test]
async fn verified_users_are_the_audience_and_unverified_ones_are_left_out() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        user(&app.db, "v1@x.test", Role::User, true).await;
        user(&app.db, "v2@x.test", Role::User, true).await;
        user(&app.db, "pending@x.test", Role::User, false).await;
        let id = app
            .notify(json!({
                "subject": "Maintenance tonight",
                "body": "The platform is down 22:00-23:00.",
                "audience": "VERIFIED_USERS",
            }))
            .await;
        let progress = app.wait_done(&id, Duration::from_secs(30)).await;
        assert_eq!(progress["sent"], 3, "{progress}");
        let messages = app.sink.wait_for(3, Duration::from_secs(10)).await;
        let mut to: Vec<String> = subjects_to(&messages).into_iter().map(|(t, _)| t).collect();
        to.sort();
        assert_eq!(to, [ADMIN, "v1@x.test", "v2@x.test"]);
        // Users are greeted by name.
        let parsed = messages[0].parse();
        let text = parsed.text().unwrap_or_default();
        assert!(text.contains("Asha Rao"), "{text}");
        app.stop().await;
    }
}

#[tokio::test]
async fn only_admins_may_notify_and_bad_requests_are_refused_with_the_field() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        user(&app.db, "student@x.test", Role::User, true).await;
        let Answer { body: login, .. } = app
            .call(
                "POST",
                "/api/auth/login",
                Some(json!({ "email": "student@x.test", "password": PASSWORD })),
                Auth::None,
            )
            .await;
        let student = login["accessToken"].as_str().expect("token").to_owned();
        let good = json!({ "subject": "s", "body": "b", "audience": "VERIFIED_USERS" });

        let Answer { status, .. } = app
            .call(
                "POST",
                "/api/admin/notifications",
                Some(good.clone()),
                Auth::None,
            )
            .await;
        assert_eq!(status, 401);
        let Answer { status, .. } = app
            .call(
                "POST",
                "/api/admin/notifications",
                Some(good),
                Auth::Bearer(&student),
            )
            .await;
        assert_eq!(status, 403);

        let admin = app.admin.clone();
        let cases = [
            (
                json!({ "subject": " ", "body": "b", "audience": "VERIFIED_USERS" }),
                "subject",
            ),
            (
                json!({ "subject": "a\nb", "body": "b", "audience": "VERIFIED_USERS" }),
                "subject",
            ),
            (
                json!({ "subject": "s", "body": "", "audience": "VERIFIED_USERS" }),
                "body",
            ),
            (
                json!({ "subject": "s", "body": "b", "audience": "EVERYONE" }),
                "audience",
            ),
            (
                json!({ "subject": "s", "body": "b", "audience": "EXAM_PARTICIPANTS" }),
                "examId",
            ),
            (
                json!({ "subject": "s", "body": "b", "audience": "ADDRESSES", "addresses": [] }),
                "addresses",
            ),
            (
                json!({ "subject": "s", "body": "b", "audience": "ADDRESSES", "addresses": ["ok@x.test", "nope"] }),
                "addresses",
            ),
        ];
        for (body, field) in cases {
            let Answer {
                status,
                body: answer,
                ..
            } = app
                .call(
                    "POST",
                    "/api/admin/notifications",
                    Some(body),
                    Auth::Bearer(&admin),
                )
                .await;
            assert_eq!(status, 400, "{answer}");
            assert_eq!(answer["code"], "validation_failed");
            assert_eq!(answer["details"]["field"], field, "{answer}");
        }

        let unknown_exam = json!({
            "subject": "s", "body": "b", "audience": "EXAM_PARTICIPANTS",
            "examId": uuid::Uuid::new_v4().to_string(),
        });
        let Answer { status, .. } = app
            .call(
                "POST",
                "/api/admin/notifications",
                Some(unknown_exam),
                Auth::Bearer(&admin),
            )
            .await;
        assert_eq!(status, 404);
        let Answer {
            status,
            body: answer,
            ..
        } = app
            .call(
                "GET",
                &format!("/api/admin/notifications/{}", uuid::Uuid::new_v4()),
                None,
                Auth::Bearer(&admin),
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(answer["code"], "not_found");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_fan_out_that_dies_after_a_batch_resumes_without_writing_anyone_twice() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        let total = 2 * BATCH + 37;
        let addresses: Vec<String> = (0..total).map(|i| format!("r{i}@resume.test")).collect();
        // Written without a job, so only this test runs the fan-out.
        let id = stored_without_its_job(&app.db, "Resume", &addresses).await;

        let state = app.server.state().clone();
        let crashed = {
            let state = state.clone();
            tokio::spawn(async move { notifications::fan_out(&state.db, &state.emails, id).await })
        };
        // Kill the fan-out once its first batch is committed.
        loop {
            if enqueued(&app.db, id).await >= BATCH {
                crashed.abort();
                break;
            }
            assert!(
                !crashed.is_finished(),
                "the fan-out ended before it could be killed"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = crashed.await;
        let written = enqueued(&app.db, id).await;
        assert!(written >= BATCH && written % BATCH == 0 || written == total);

        let report = notifications::fan_out(&state.db, &state.emails, id)
            .await
            .expect("the resumed fan-out finishes");
        assert_eq!(
            i64::try_from(report.written).expect("fits") + written,
            total
        );
        let progress = app
            .wait_done(&id.to_string(), Duration::from_secs(60))
            .await;
        assert_eq!(progress["enqueued"], total);
        assert_eq!(progress["sent"], total, "{progress}");

        let messages = app
            .sink
            .wait_for(
                usize::try_from(total).expect("fits"),
                Duration::from_secs(10),
            )
            .await;
        let to: HashSet<String> = messages
            .iter()
            .filter_map(|m| m.rcpt_to.first().cloned())
            .collect();
        assert_eq!(
            messages.len(),
            to.len(),
            "someone got the notification twice"
        );
        assert_eq!(to.len(), addresses.len());
        // A second run of a finished fan-out writes nothing.
        let again = notifications::fan_out(&state.db, &state.emails, id)
            .await
            .expect("no-op");
        assert_eq!(again.written, 0);
        app.stop().await;
    }
}

#[tokio::test]
async fn exam_participants_are_the_users_with_an_attempt_on_that_exam() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        let took_it = user(&app.db, "took-it@x.test", Role::User, true).await;
        let also = user(&app.db, "also@x.test", Role::User, true).await;
        user(&app.db, "elsewhere@x.test", Role::User, true).await;
        let state = app.server.state().clone();
        let admin = user(&app.db, "second-admin@x.test", Role::Admin, true).await;
        let now = oes_app::db::now_ms();
        let exam = oes_app::service::exams::create(
            &state,
            admin,
            oes_app::service::exams::ExamInput {
                title: Some("Physics".into()),
                duration_minutes: Some(30),
                start_time: Some(oes_app::domain::exams::format_instant(now + 3_600_000)),
                end_time: Some(oes_app::domain::exams::format_instant(now + 7_200_000)),
                ..Default::default()
            },
        )
        .await
        .expect("exam");
        for student in [took_it, also] {
            sqlx::query(
                "INSERT INTO exam_attempts (id, exam_id, user_id, status, started_at, deadline_at)
                 VALUES ($1, $2, $3, 'SUBMITTED', $4, $4)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(exam.id.to_string())
            .bind(student.to_string())
            .bind(now)
            .execute(app.db.pool())
            .await
            .expect("attempt");
        }
        let id = app
            .notify(json!({
                "subject": "Re-sit on Friday",
                "body": "Question 4 was misprinted.",
                "audience": "EXAM_PARTICIPANTS",
                "examId": exam.id.to_string(),
            }))
            .await;
        let progress = app.wait_done(&id, Duration::from_secs(30)).await;
        assert_eq!(progress["recipients"], 2, "{progress}");
        assert_eq!(progress["sent"], 2, "{progress}");
        assert_eq!(progress["examId"], exam.id.to_string());
        let messages = app.sink.wait_for(2, Duration::from_secs(10)).await;
        let mut to: Vec<String> = subjects_to(&messages).into_iter().map(|(t, _)| t).collect();
        to.sort();
        assert_eq!(to, ["also@x.test", "took-it@x.test"]);
        app.stop().await;
    }
}

#[tokio::test]
async fn an_unfinished_fan_out_found_at_start_up_is_resumed() {
    for backend in support::BACKENDS {
        // A notification whose fan-out never ran (its in-process queue died with the process).
        let (test_db, db) = prepare(backend).await;
        let addresses: Vec<String> = (0..3).map(|i| format!("later{i}@x.test")).collect();
        let id = stored_without_its_job(&db, "Left behind", &addresses).await;

        let app = start_on(test_db, db, &[]).await;
        let progress = app
            .wait_done(&id.to_string(), Duration::from_secs(30))
            .await;
        assert_eq!(progress["sent"], 3, "{progress}");
        assert_eq!(app.sink.wait_for(3, Duration::from_secs(10)).await.len(), 3);
        app.stop().await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_notification_routes() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        let Answer {
            status, body: doc, ..
        } = app.call("GET", "/api/openapi.json", None, Auth::None).await;
        assert_eq!(status, 200);
        let paths = &doc["paths"];
        assert!(
            paths["/api/admin/notifications"]["post"].is_object(),
            "{paths}"
        );
        assert!(
            paths["/api/admin/notifications/{id}"]["get"].is_object(),
            "{paths}"
        );
        app.stop().await;
    }
}
