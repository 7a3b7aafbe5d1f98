//! `/api/profile` over HTTP on SQLite and PostgreSQL: the profile through the cache, its
//! validation, and the confirmed email change.

use crate::support::{self, Auth, PASSWORD, link_token, unique_email};
use serde_json::{Value, json};

fn profile(enrollment: &str) -> Value {
    json!({
        "fullName": "Asha K. Rao",
        "course": "btech",
        "department": "CST",
        "year": "THREE",
        "semester": "S5",
        "enrollmentNumber": enrollment,
    })
}

#[tokio::test]
async fn the_profile_is_read_through_the_cache_and_an_update_shows_at_once() {
    for backend in support::BACKENDS {
        let redis = support::redis_url();
        let app = super::start(backend, &[("REDIS_URL", redis.as_str())]).await;
        let email = unique_email("cache");
        let token = app.verified_user(&email, 1).await;
        let stats = || app.server.state().cache.stats();

        let first = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(first.body["data"]["email"], email);
        assert_eq!(first.body["data"]["emailVerified"], true);
        assert_eq!(first.body["data"]["profile"], Value::Null);
        assert_eq!(first.body["data"]["profileComplete"], false);
        assert!(first.body["message"].is_string());

        let before = stats();
        let second = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        let after = stats();
        assert_eq!(second.body, first.body);
        assert!(
            after.l1_hits + after.l2_hits > before.l1_hits + before.l2_hits,
            "the second read is a cache hit: {before:?} -> {after:?}"
        );
        assert_eq!(after.loads, before.loads, "no second load");

        let put = app
            .call(
                "PUT",
                "/api/profile/me",
                Some(profile("ENR-001")),
                Auth::Bearer(&token),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.body);
        assert_eq!(put.body["data"]["profileComplete"], true);
        assert_eq!(put.body["data"]["fullName"], "Asha K. Rao");
        assert_eq!(put.body["data"]["profile"]["course"], "BTECH");

        let read = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(read.body["data"]["profile"]["enrollmentNumber"], "ENR-001");
        assert_eq!(read.body["data"]["profile"]["semester"], "S5");
        assert_eq!(read.body["data"]["fullName"], "Asha K. Rao");
        assert_eq!(read.body["data"]["profileComplete"], true);

        let mut changed = profile("ENR-002");
        changed["year"] = json!("FOUR");
        app.call(
            "PUT",
            "/api/profile/me",
            Some(changed),
            Auth::Bearer(&token),
        )
        .await;
        let read = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(read.body["data"]["profile"]["year"], "FOUR");
        assert_eq!(read.body["data"]["profile"]["enrollmentNumber"], "ENR-002");
        app.stop().await;
    }
}

#[tokio::test]
async fn invalid_profile_values_are_400_with_the_allowed_values_and_a_taken_enrollment_is_409() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let first = app.verified_user(&unique_email("first"), 1).await;
        let second = app.verified_user(&unique_email("second"), 2).await;

        let cases = [
            ("course", json!("PHD"), vec!["BTECH", "BARCH", "MTECH"]),
            (
                "department",
                json!("CSE"),
                vec!["AEAM", "CE", "CST", "EE", "ETC", "IT", "ME", "MIN", "MME"],
            ),
            (
                "year",
                json!("SIX"),
                vec!["ONE", "TWO", "THREE", "FOUR", "FIVE"],
            ),
            (
                "semester",
                json!("S9"),
                vec!["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"],
            ),
        ];
        for (field, value, allowed) in cases {
            let mut body = profile("ENR-100");
            body[field] = value;
            let answer = app
                .call("PUT", "/api/profile/me", Some(body), Auth::Bearer(&first))
                .await;
            assert_eq!(answer.status, 400, "{field}: {}", answer.body);
            assert_eq!(answer.code(), "invalid_value");
            assert_eq!(answer.body["details"]["field"], field);
            assert_eq!(answer.body["details"]["allowed"], json!(allowed));
        }
        for (field, value) in [("enrollmentNumber", json!("AB")), ("fullName", json!(""))] {
            let mut body = profile("ENR-100");
            body[field] = value;
            let answer = app
                .call("PUT", "/api/profile/me", Some(body), Auth::Bearer(&first))
                .await;
            assert_eq!(answer.status, 400);
            assert_eq!(answer.code(), "validation_failed");
            assert_eq!(answer.body["details"]["field"], field);
        }
        let mut missing = profile("ENR-100");
        missing.as_object_mut().expect("object").remove("semester");
        let answer = app
            .call(
                "PUT",
                "/api/profile/me",
                Some(missing),
                Auth::Bearer(&first),
            )
            .await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body["details"]["field"], "semester");

        let ok = app
            .call(
                "PUT",
                "/api/profile/me",
                Some(profile("ENR-100")),
                Auth::Bearer(&first),
            )
            .await;
        assert_eq!(ok.status, 200);
        let taken = app
            .call(
                "PUT",
                "/api/profile/me",
                Some(profile("ENR-100")),
                Auth::Bearer(&second),
            )
            .await;
        assert_eq!(taken.status, 409);
        assert_eq!(taken.code(), "enrollment_taken");
        // Keeping one's own number is not a conflict.
        let again = app
            .call(
                "PUT",
                "/api/profile/me",
                Some(profile("ENR-100")),
                Auth::Bearer(&first),
            )
            .await;
        assert_eq!(again.status, 200);

        // Refused updates change nothing, and their transactions do not leak connections
        // (K1): far more refusals than the pool has connections.
        for _ in 0..12 {
            let refused = app
                .call(
                    "PUT",
                    "/api/profile/me",
                    Some(profile("ENR-100")),
                    Auth::Bearer(&second),
                )
                .await;
            assert_eq!(refused.status, 409);
        }
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&second))
            .await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["data"]["profile"], Value::Null);
        app.stop().await;
    }
}

#[tokio::test]
async fn an_email_change_applies_only_once_confirmed_from_the_new_mailbox() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let old = unique_email("old");
        let new = unique_email("new");
        let token = app.verified_user(&old, 1).await;
        let other_session = app.login(&old, PASSWORD).await;

        let wrong = app
            .call(
                "POST",
                "/api/profile/email",
                Some(json!({ "newEmail": new, "password": "not my password 1" })),
                Auth::Bearer(&token),
            )
            .await;
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.code(), "wrong_password");
        let bad = app
            .call(
                "POST",
                "/api/profile/email",
                Some(json!({ "newEmail": "nope", "password": PASSWORD })),
                Auth::Bearer(&token),
            )
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.code(), "validation_failed");

        let asked = app
            .call(
                "POST",
                "/api/profile/email",
                Some(json!({ "newEmail": new.to_uppercase(), "password": PASSWORD })),
                Auth::Bearer(&token),
            )
            .await;
        assert_eq!(asked.status, 200, "{}", asked.body);

        // Two emails: the link to the new address, the notice to the old one.
        let confirm = app.email_to(&new, 3).await;
        let notice = app.email_to(&old, 3).await;
        assert!(
            notice
                .text()
                .expect("text")
                .contains(&oes_mail::mask_address(&new))
        );
        let link = link_token(&confirm, "/confirm-email-change?token=");

        // Not applied yet.
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(me.body["data"]["email"], old);

        let done = app
            .post_anonymously(&format!("/api/profile/email/confirm/{link}"), json!({}))
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        for session in [&token, &other_session] {
            let me = app
                .call("GET", "/api/profile/me", None, Auth::Bearer(session))
                .await;
            assert_eq!(me.status, 401, "sessions end with an email change");
        }
        let reused = app
            .post_anonymously(&format!("/api/profile/email/confirm/{link}"), json!({}))
            .await;
        assert_eq!(reused.status, 400);
        assert_eq!(reused.code(), "invalid_token");

        let fresh = app.login(&new, PASSWORD).await;
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&fresh))
            .await;
        assert_eq!(me.body["data"]["email"], new);
        let gone = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": old, "password": PASSWORD }),
            )
            .await;
        assert_eq!(gone.status, 401);
        app.stop().await;
    }
}

#[tokio::test]
async fn an_expired_email_change_link_is_refused_and_a_taken_address_gets_no_link() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let mine = unique_email("mine");
        let theirs = unique_email("theirs");
        let token = app.verified_user(&mine, 1).await;
        app.verified_user(&theirs, 2).await;

        let taken = app
            .call(
                "POST",
                "/api/profile/email",
                Some(json!({ "newEmail": theirs, "password": PASSWORD })),
                Auth::Bearer(&token),
            )
            .await;
        assert_eq!(taken.status, 200, "the same answer for a taken address");
        app.email_to(&mine, 3).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.sink.messages().len(), 3, "only the notice to the owner");

        let target = unique_email("target");
        app.call(
            "POST",
            "/api/profile/email",
            Some(json!({ "newEmail": target, "password": PASSWORD })),
            Auth::Bearer(&token),
        )
        .await;
        let link = link_token(
            &app.email_to(&target, 5).await,
            "/confirm-email-change?token=",
        );
        app.sql("UPDATE account_tokens SET expires_at = 1 WHERE purpose = 'CHANGE_EMAIL'")
            .await;
        let expired = app
            .post_anonymously(&format!("/api/profile/email/confirm/{link}"), json!({}))
            .await;
        assert_eq!(expired.status, 400);
        assert_eq!(expired.code(), "invalid_token");
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(me.body["data"]["email"], mine);
        app.stop().await;
    }
}
