//! The same behaviour bodies run against BullMQ in real Redis and against the embedded runner.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Act, Backend, Recorder, fast_worker, steady_worker, wait_until};
use oes_jobs::{Backoff, CleanState, JobOptions, JobQueue, JobState};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

async fn state_of(jobs: &dyn JobQueue, queue: &str, id: &str) -> Option<JobState> {
    jobs.job(queue, id)
        .await
        .expect("job lookup")
        .map(|j| j.state)
}

fn quick_retries(attempts: u32) -> JobOptions {
    JobOptions {
        attempts,
        backoff: Backoff::Exponential {
            initial: Duration::from_millis(100),
        },
        ..JobOptions::default()
    }
}

mod bodies {
    use super::*;

    pub async fn a_job_added_is_processed_by_the_worker(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::ok();
        let worker = jobs
            .start_worker("email", rec.clone(), steady_worker(5))
            .await
            .expect("start worker");
        let data = json!({"to": "a@example.com", "subject": "Hi", "html": "<p>Hi</p>"});
        let id = jobs
            .add("email", "send-email", data.clone(), &JobOptions::default())
            .await
            .expect("add");
        wait_until("job completed", LIMIT, || async {
            state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Completed)
        })
        .await;
        let calls = rec.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "send-email");
        assert_eq!(calls[0].data, data);
        let info = jobs.job("email", &id).await.unwrap().unwrap();
        assert_eq!(info.attempts_made, 1);
        assert!(info.finished_on.is_some() && info.processed_on.is_some());
        wait_until("completion counted", LIMIT, || async {
            worker.stats().completed == 1
        })
        .await;
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    pub async fn a_failing_job_is_retried_with_growing_delays_and_ends_failed(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::new(|_, n| Act::Retry(format!("smtp down (try {})", n + 1)));
        let worker = jobs
            .start_worker("email", rec.clone(), steady_worker(5))
            .await
            .unwrap();
        let id = jobs
            .add("email", "send-email", json!({"n": 1}), &quick_retries(3))
            .await
            .unwrap();
        wait_until("job failed", LIMIT, || async {
            state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Failed)
        })
        .await;

        let calls = rec.calls_for(&id);
        assert_eq!(calls.len(), 3, "tried exactly `attempts` times");
        let attempts: Vec<u32> = calls.iter().map(|c| c.attempts_made).collect();
        assert_eq!(attempts, vec![0, 1, 2]);
        // Backoff 100 ms then 200 ms: a retry may run late, never early (give or take the
        // 1 ms resolution of BullMQ's timestamps).
        assert!(calls[1].at - calls[0].at >= Duration::from_millis(99));
        assert!(calls[2].at - calls[1].at >= Duration::from_millis(199));

        let info = jobs.job("email", &id).await.unwrap().unwrap();
        assert_eq!(info.attempts_made, 3);
        assert_eq!(info.failed_reason.as_deref(), Some("smtp down (try 3)"));
        let failed = jobs.failed("email", 0, -1).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, id);
        assert_eq!(failed[0].state, JobState::Failed);
        assert_eq!(failed[0].attempts_made, 3);

        wait_until("failure counted", LIMIT, || async {
            let s = worker.stats();
            s.failed == 1 && s.retried == 2
        })
        .await;
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    pub async fn a_fatal_error_fails_the_job_without_retrying(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::new(|_, _| Act::Fatal("mailbox does not exist".into()));
        let worker = jobs
            .start_worker("email", rec.clone(), steady_worker(1))
            .await
            .unwrap();
        let id = jobs
            .add("email", "send-email", json!({}), &quick_retries(3))
            .await
            .unwrap();
        wait_until("job failed", LIMIT, || async {
            state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Failed)
        })
        .await;
        assert_eq!(rec.calls_for(&id).len(), 1);
        let info = jobs.job("email", &id).await.unwrap().unwrap();
        assert_eq!(info.attempts_made, 1);
        assert_eq!(
            info.failed_reason.as_deref(),
            Some("mailbox does not exist")
        );
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    pub async fn retrying_a_failed_job_runs_it_again(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::new(|_, n| {
            if n == 0 {
                Act::Fatal("template missing".into())
            } else {
                Act::Ok
            }
        });
        let worker = jobs
            .start_worker("email", rec.clone(), steady_worker(2))
            .await
            .unwrap();
        let opts = JobOptions::with_id("outbox-7");
        let id = jobs
            .add("email", "send-email", json!({}), &opts)
            .await
            .unwrap();
        assert_eq!(id, "outbox-7");
        wait_until("job failed", LIMIT, || async {
            state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Failed)
        })
        .await;
        assert_eq!(
            jobs.retry_failed("email", Some("no-such-job"))
                .await
                .unwrap(),
            0
        );
        assert_eq!(jobs.retry_failed("email", Some(&id)).await.unwrap(), 1);
        wait_until("retried job completed", LIMIT, || async {
            state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Completed)
        })
        .await;
        assert_eq!(rec.calls_for(&id).len(), 2);
        assert_eq!(
            jobs.retry_failed("email", Some(&id)).await.unwrap(),
            0,
            "a completed job is not retried"
        );

        // Retrying every failed job at once.
        let rec_all = Recorder::new(|_, n| {
            if n == 0 {
                Act::Fatal("no".into())
            } else {
                Act::Ok
            }
        });
        let worker2 = jobs
            .start_worker("digest", rec_all.clone(), steady_worker(2))
            .await
            .unwrap();
        for i in 0..3 {
            jobs.add("digest", "d", json!({"i": i}), &JobOptions::default())
                .await
                .unwrap();
        }
        wait_until("three failed", LIMIT, || async {
            jobs.counts("digest").await.unwrap().failed == 3
        })
        .await;
        let all = jobs.failed("digest", 0, -1).await.unwrap();
        assert_eq!(all.len(), 3);
        assert!(
            all.windows(2).all(|w| w[0].finished_on >= w[1].finished_on),
            "most recently failed first"
        );
        let page = jobs.failed("digest", 1, 1).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id, all[1].id);
        assert!(jobs.failed("digest", 5, 9).await.unwrap().is_empty());
        assert_eq!(jobs.retry_failed("digest", None).await.unwrap(), 3);
        wait_until("three completed", LIMIT, || async {
            jobs.counts("digest").await.unwrap().completed == 3
        })
        .await;
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
        worker2.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    pub async fn a_duplicate_job_id_is_added_once(b: Backend) {
        let jobs = b.jobs.clone();
        let opts = JobOptions::with_id("score-attempt-12");
        let first = jobs
            .add(
                "score-calculation",
                "calculate-score",
                json!({"attemptId": 12}),
                &opts,
            )
            .await
            .unwrap();
        let second = jobs
            .add(
                "score-calculation",
                "calculate-score",
                json!({"attemptId": 999}),
                &opts,
            )
            .await
            .unwrap();
        assert_eq!(first, "score-attempt-12");
        assert_eq!(second, first);
        assert_eq!(jobs.counts("score-calculation").await.unwrap().waiting, 1);
        let info = jobs
            .job("score-calculation", &first)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            info.data,
            json!({"attemptId": 12}),
            "the first payload is kept"
        );

        let rec = Recorder::ok();
        let worker = jobs
            .start_worker("score-calculation", rec.clone(), steady_worker(2))
            .await
            .unwrap();
        wait_until("job completed", LIMIT, || async {
            state_of(jobs.as_ref(), "score-calculation", &first).await == Some(JobState::Completed)
        })
        .await;
        // While the completed job is retained, its id still de-duplicates.
        jobs.add(
            "score-calculation",
            "calculate-score",
            json!({"attemptId": 12}),
            &opts,
        )
        .await
        .unwrap();
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!(rec.calls().len(), 1);
        let c = jobs.counts("score-calculation").await.unwrap();
        assert_eq!((c.waiting, c.completed), (0, 1));
    }

    pub async fn priorities_run_one_before_ten_and_unprioritized_first(b: Backend) {
        let jobs = b.jobs.clone();
        for (name, priority) in [
            ("p10", Some(10)),
            ("p1", Some(1)),
            ("plain", None),
            ("p5", Some(5)),
        ] {
            let opts = JobOptions {
                priority,
                ..JobOptions::default()
            };
            jobs.add("work", name, json!({}), &opts).await.unwrap();
        }
        let c = jobs.counts("work").await.unwrap();
        assert_eq!((c.waiting, c.prioritized), (1, 3));
        let rec = Recorder::ok();
        let worker = jobs
            .start_worker("work", rec.clone(), steady_worker(1))
            .await
            .unwrap();
        wait_until("all four ran", LIMIT, || async { rec.calls().len() == 4 }).await;
        let order: Vec<String> = rec.calls().into_iter().map(|c| c.name).collect();
        assert_eq!(order, vec!["plain", "p1", "p5", "p10"]);
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    pub async fn a_delayed_job_runs_after_its_delay(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::ok();
        let worker = jobs
            .start_worker("auto-submit", rec.clone(), steady_worker(2))
            .await
            .unwrap();
        let opts = JobOptions {
            delay: Some(Duration::from_millis(400)),
            ..JobOptions::with_id("attempt-3")
        };
        let id = jobs
            .add("auto-submit", "auto-submit", json!({"attemptId": 3}), &opts)
            .await
            .unwrap();
        assert_eq!(
            state_of(jobs.as_ref(), "auto-submit", &id).await,
            Some(JobState::Delayed)
        );
        assert_eq!(jobs.counts("auto-submit").await.unwrap().delayed, 1);
        wait_until("delayed job completed", LIMIT, || async {
            state_of(jobs.as_ref(), "auto-submit", &id).await == Some(JobState::Completed)
        })
        .await;
        let info = jobs.job("auto-submit", &id).await.unwrap().unwrap();
        let started = info.processed_on.expect("processed_on");
        assert!(
            started >= info.timestamp + 400,
            "ran {} ms after adding",
            started - info.timestamp
        );
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    }

    pub async fn counts_follow_jobs_through_their_states_and_clean_removes_finished(b: Backend) {
        let jobs = b.jobs.clone();
        let plain = JobOptions::default();
        jobs.add("q", "ok", json!({}), &plain).await.unwrap();
        jobs.add("q", "bad", json!({}), &plain).await.unwrap();
        let urgent = JobOptions {
            priority: Some(1),
            ..JobOptions::default()
        };
        jobs.add("q", "ok", json!({}), &urgent).await.unwrap();
        let later = JobOptions {
            delay: Some(Duration::from_secs(3600)),
            ..JobOptions::default()
        };
        jobs.add("q", "ok", json!({}), &later).await.unwrap();
        let c = jobs.counts("q").await.unwrap();
        assert_eq!(
            (
                c.waiting,
                c.prioritized,
                c.delayed,
                c.active,
                c.completed,
                c.failed
            ),
            (2, 1, 1, 0, 0, 0)
        );

        let rec = Recorder::new(|job, _| {
            if job.name == "bad" {
                Act::Fatal("bad job".into())
            } else {
                Act::Ok
            }
        });
        let worker = jobs.start_worker("q", rec, steady_worker(3)).await.unwrap();
        wait_until("three finished", LIMIT, || async {
            let c = jobs.counts("q").await.unwrap();
            c.completed == 2 && c.failed == 1
        })
        .await;
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
        let c = jobs.counts("q").await.unwrap();
        assert_eq!(
            (
                c.waiting,
                c.prioritized,
                c.delayed,
                c.active,
                c.completed,
                c.failed
            ),
            (0, 0, 1, 0, 2, 1)
        );
        assert_eq!(
            jobs.clean("q", CleanState::Completed, Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            jobs.clean("q", CleanState::Completed, Duration::ZERO)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            jobs.clean("q", CleanState::Failed, Duration::ZERO)
                .await
                .unwrap(),
            1
        );
        let c = jobs.counts("q").await.unwrap();
        assert_eq!((c.completed, c.failed, c.delayed), (0, 0, 1));
    }

    pub async fn completed_jobs_are_removed_when_retention_is_zero(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::ok();
        let worker = jobs
            .start_worker("q", rec.clone(), steady_worker(1))
            .await
            .unwrap();
        let opts = JobOptions {
            remove_on_complete_age: Some(Duration::ZERO),
            ..JobOptions::with_id("gone-1")
        };
        jobs.add("q", "x", json!({}), &opts).await.unwrap();
        wait_until("ran", LIMIT, || async { rec.succeeded().len() == 1 }).await;
        wait_until("removed", LIMIT, || async {
            jobs.job("q", "gone-1").await.unwrap().is_none()
        })
        .await;
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!(jobs.counts("q").await.unwrap().completed, 0);
    }

    pub async fn shutdown_waits_for_an_active_job(b: Backend) {
        let jobs = b.jobs.clone();
        let rec = Recorder::new(|_, _| Act::Slow(Duration::from_millis(600)));
        let worker = jobs
            .start_worker("slow", rec.clone(), steady_worker(2))
            .await
            .unwrap();
        let id = jobs
            .add("slow", "x", json!({}), &JobOptions::default())
            .await
            .unwrap();
        wait_until("job started", LIMIT, || async { rec.calls().len() == 1 }).await;
        worker.shutdown(Duration::from_secs(10)).await.unwrap();
        assert_eq!(rec.succeeded(), vec![id.clone()]);
        assert_eq!(
            state_of(jobs.as_ref(), "slow", &id).await,
            Some(JobState::Completed)
        );
    }

    pub async fn shutdown_gives_up_on_a_stuck_job_which_then_runs_elsewhere(b: Backend) {
        let jobs = b.jobs.clone();
        let stuck = Recorder::new(|_, _| Act::Hang);
        let first = jobs
            .start_worker("email", stuck.clone(), fast_worker(1))
            .await
            .unwrap();
        let id = jobs
            .add(
                "email",
                "send-email",
                json!({}),
                &JobOptions::with_id("outbox-stuck"),
            )
            .await
            .unwrap();
        wait_until("stuck job started", LIMIT, || async {
            stuck.calls().len() == 1
        })
        .await;
        // Returns although the job never finishes: the wait is bounded by the timeout.
        first.shutdown(Duration::from_millis(300)).await.unwrap();

        let rec = Recorder::ok();
        let second = jobs
            .start_worker("email", rec.clone(), fast_worker(1))
            .await
            .unwrap();
        wait_until(
            "abandoned job completed by another worker",
            LIMIT,
            || async { state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Completed) },
        )
        .await;
        second.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!(rec.succeeded(), vec![id]);
    }

    pub async fn a_job_of_a_worker_that_dies_mid_job_is_recovered_and_completes_once(b: Backend) {
        let jobs = b.jobs.clone();
        let id = jobs
            .add(
                "email",
                "send-email",
                json!({}),
                &JobOptions::with_id("outbox-crash"),
            )
            .await
            .unwrap();

        // The doomed worker runs on its own runtime; dropping that runtime kills every task
        // of the worker at once (fetch loop, lease renewal, the job itself), like a crash.
        let doomed = Recorder::new(|_, _| Act::Hang);
        let (jobs2, doomed2) = (jobs.clone(), doomed.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let handle = jobs2
                    .start_worker("email", doomed2.clone(), fast_worker(1))
                    .await
                    .unwrap();
                wait_until("doomed worker took the job", LIMIT, || async {
                    doomed2.calls().len() == 1
                })
                .await;
                std::mem::forget(handle);
            });
            drop(rt);
        })
        .join()
        .unwrap();
        let crashed = std::time::Instant::now();
        assert_eq!(doomed.calls().len(), 1);

        let rec = Recorder::ok();
        let worker = jobs
            .start_worker("email", rec.clone(), fast_worker(1))
            .await
            .unwrap();
        wait_until("recovered job completed", LIMIT, || async {
            state_of(jobs.as_ref(), "email", &id).await == Some(JobState::Completed)
        })
        .await;
        eprintln!(
            "{}: job of a dead worker completed {:?} after the crash (lease 1 s, stalled check 500 ms)",
            b.kind,
            crashed.elapsed()
        );
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!(rec.succeeded(), vec![id.clone()], "completed exactly once");
        assert!(doomed.succeeded().is_empty());
        let info = jobs.job("email", &id).await.unwrap().unwrap();
        assert_eq!(info.attempts_made, 1, "a crash is not a failed attempt");
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_redis() {
                bodies::$name(Backend::redis().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                bodies::$name(Backend::embedded()).await;
            }
        }
    )*};
}

on_both_backends!(
    a_job_added_is_processed_by_the_worker,
    a_failing_job_is_retried_with_growing_delays_and_ends_failed,
    a_fatal_error_fails_the_job_without_retrying,
    retrying_a_failed_job_runs_it_again,
    a_duplicate_job_id_is_added_once,
    priorities_run_one_before_ten_and_unprioritized_first,
    a_delayed_job_runs_after_its_delay,
    counts_follow_jobs_through_their_states_and_clean_removes_finished,
    completed_jobs_are_removed_when_retention_is_zero,
    shutdown_waits_for_an_active_job,
    shutdown_gives_up_on_a_stuck_job_which_then_runs_elsewhere,
    a_job_of_a_worker_that_dies_mid_job_is_recovered_and_completes_once,
);

#[test]
fn invalid_queue_names_and_job_ids_are_rejected() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let jobs: Arc<dyn JobQueue> = Arc::new(oes_jobs::EmbeddedJobs::new());
        let bad_queue = jobs
            .add("a:b", "x", json!({}), &JobOptions::default())
            .await;
        assert!(matches!(
            bad_queue,
            Err(oes_jobs::JobError::InvalidQueueName(_))
        ));
        let bad_id = jobs
            .add("q", "x", json!({}), &JobOptions::with_id("123"))
            .await;
        assert!(matches!(bad_id, Err(oes_jobs::JobError::InvalidJobId(_))));
    });
}
