use std::sync::Arc;
use std::time::Duration;

use oes_cache::{Cache, CacheConfig, L1Capacity, keys};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Exam {
    id: u32,
    title: String,
}

fn exam(id: u32) -> Exam {
    Exam {
        id,
        title: format!("Exam {id}"),
    }
}

#[tokio::test]
async fn embedded_mode_offers_the_same_api_without_redis() {
    let cache = Cache::embedded(CacheConfig::default()).expect("embedded");
    assert!(!cache.is_redis_connected());
    assert_eq!(cache.get::<Exam>(&keys::exam(1)).await, None);

    cache
        .set(&keys::exam(1), &exam(1), keys::ttl::STATIC)
        .await
        .expect("set");
    assert_eq!(cache.get::<Exam>(&keys::exam(1)).await, Some(exam(1)));
    // The same entry read under another type is decoded from its JSON.
    let as_json = cache.get::<serde_json::Value>(&keys::exam(1)).await;
    assert_eq!(
        as_json,
        Some(serde_json::json!({"id": 1, "title": "Exam 1"}))
    );

    let raw = cache.get_json(&keys::exam(1)).await.expect("json");
    assert_eq!(&raw[..], br#"{"id":1,"title":"Exam 1"}"#);

    assert!(cache.delete(&keys::exam(1)).await.expect("delete"));
    assert!(!cache.delete(&keys::exam(1)).await.expect("delete"));
    assert_eq!(cache.get::<Exam>(&keys::exam(1)).await, None);

    let loaded = cache
        .get_or_set(&keys::exam(2), keys::ttl::STATIC, || async {
            Ok::<_, String>(exam(2))
        })
        .await;
    assert_eq!(loaded.ok(), Some(exam(2)));
    let again = cache
        .get_or_set(&keys::exam(2), keys::ttl::STATIC, || async {
            Err::<Exam, _>("must not run".to_owned())
        })
        .await;
    assert_eq!(again.ok(), Some(exam(2)));

    let missing = cache
        .get_or_set_opt(&keys::exam(3), keys::ttl::STATIC, || async {
            Ok::<Option<Exam>, String>(None)
        })
        .await;
    assert_eq!(missing.ok(), Some(None));

    cache
        .set(&keys::exams_all(), &vec![exam(1), exam(2)], keys::ttl::LIST)
        .await
        .expect("set");
    let removed = cache
        .delete_many(&[keys::exam(2), keys::exams_all(), keys::exam(9)])
        .await
        .expect("delete_many");
    assert_eq!(removed, 2);

    cache
        .set(&keys::question(1), &1_u8, keys::ttl::STATIC)
        .await
        .expect("set");
    assert!(cache.clear().await.expect("clear") >= 1);
    assert_eq!(cache.get::<u8>(&keys::question(1)).await, None);

    let stats = cache.stats();
    assert_eq!(stats.loads, 2);
    assert!(stats.l1_hits >= 2);
}

#[tokio::test]
async fn embedded_entries_expire_after_their_ttl() {
    let cache = Cache::embedded(CacheConfig::default()).expect("embedded");
    cache
        .set("k", &1_u8, Duration::from_millis(200))
        .await
        .expect("set");
    assert_eq!(cache.get::<u8>("k").await, Some(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.get::<u8>("k").await, None);
}

#[tokio::test]
async fn arc_values_are_shared_not_copied_on_an_l1_hit() {
    let cache = Cache::embedded(CacheConfig::default()).expect("embedded");
    let paper = Arc::new(vec![exam(1), exam(2)]);
    cache
        .set("exam:1:questions", &paper, keys::ttl::STATIC)
        .await
        .expect("set");
    let hit = cache
        .get::<Arc<Vec<Exam>>>("exam:1:questions")
        .await
        .expect("hit");
    let again = cache
        .get::<Arc<Vec<Exam>>>("exam:1:questions")
        .await
        .expect("hit");
    assert!(Arc::ptr_eq(&hit, &again));
}

#[tokio::test]
async fn a_byte_bounded_l1_evicts_to_stay_within_its_budget() {
    let cache = Cache::embedded(CacheConfig {
        l1_capacity: L1Capacity::Bytes(64 * 1024),
        ..CacheConfig::default()
    })
    .expect("embedded");
    let value = "x".repeat(1024);
    for i in 0..1000 {
        cache
            .set(&format!("k{i}"), &value, keys::ttl::STATIC)
            .await
            .expect("set");
    }
    let mut present = 0;
    for i in 0..1000 {
        present += usize::from(cache.get::<String>(&format!("k{i}")).await.is_some());
    }
    assert!(
        present > 0 && present <= 64,
        "{present} entries of 1 KB kept in 64 KB"
    );
}

#[test]
fn an_empty_namespace_is_refused() {
    let err = Cache::embedded(CacheConfig {
        namespace: String::new(),
        ..CacheConfig::default()
    })
    .expect_err("empty namespace");
    assert!(err.to_string().contains("namespace"));
}

#[tokio::test]
async fn invalidating_other_keys_during_a_load_still_keeps_the_loaded_value() {
    // On exam day other keys are deleted all the time (every start clears a student's list);
    // that must not stop a hot key from staying in memory.
    let cache = Cache::embedded(CacheConfig::default()).expect("cache");
    let loads = Arc::new(std::sync::atomic::AtomicU32::new(0));
    for round in 0..3 {
        let (c, l) = (cache.clone(), Arc::clone(&loads));
        let value: u32 = cache
            .get_or_set("paper:1", Duration::from_secs(60), || async move {
                l.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                c.delete_many(&[format!("user:{round}:exams"), "exams:all".to_owned()])
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(7)
            })
            .await
            .expect("loaded");
        assert_eq!(value, 7);
    }
    assert_eq!(
        loads.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the value was not kept"
    );
    assert_eq!(cache.stats().l1_hits, 2);
}
