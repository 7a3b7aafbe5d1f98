//! Test support: backends under unique prefixes, a scriptable handler, a polling wait,
//! and a private redis-server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oes_jobs::{
    EmbeddedJobs, HandlerError, JobContext, JobHandler, JobQueue, RedisJobs, WorkerOptions,
};

pub fn redis_url() -> String {
    std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

pub fn unique_prefix() -> String {
    format!("oes-test-{}", uuid::Uuid::new_v4())
}

/// Deletes every key under `prefix:` with SCAN + DEL (never FLUSHDB: the Redis is shared).
pub fn delete_prefix(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    let pattern = format!("{prefix}:*");
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query(&mut conn)
        else {
            return;
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<u64> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Removes a test's keys even when the test panics.
pub struct PrefixGuard {
    pub url: String,
    pub prefix: String,
}

impl Drop for PrefixGuard {
    fn drop(&mut self) {
        delete_prefix(&self.url, &self.prefix);
    }
}

/// One backend under test. Redis fixtures own a unique prefix that is deleted on drop.
pub struct Backend {
    pub jobs: Arc<dyn JobQueue>,
    pub kind: &'static str,
    pub guard: Option<PrefixGuard>,
}

impl Backend {
    pub async fn redis() -> Self {
        let url = redis_url();
        let prefix = unique_prefix();
        let jobs = RedisJobs::connect(&url, &prefix)
            .await
            .expect("Redis must be reachable at OES_TEST_REDIS_URL");
        Self {
            jobs: Arc::new(jobs),
            kind: "redis",
            guard: Some(PrefixGuard { url, prefix }),
        }
    }

    pub fn embedded() -> Self {
        Self {
            jobs: Arc::new(EmbeddedJobs::new()),
            kind: "embedded",
            guard: None,
        }
    }
}

/// Leases long enough that a loaded machine never loses one mid-job.
pub fn steady_worker(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        lock_duration: Duration::from_secs(10),
        stalled_interval: Duration::from_secs(2),
        run_retry_delay: Duration::from_millis(100),
    }
}

/// Short leases so a dead worker's job comes back within a few seconds.
pub fn fast_worker(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        lock_duration: Duration::from_millis(1000),
        stalled_interval: Duration::from_millis(500),
        run_retry_delay: Duration::from_millis(100),
    }
}

/// What the scripted handler does on one call.
#[derive(Clone, Debug)]
pub enum Act {
    Ok,
    Retry(String),
    Fatal(String),
    /// Takes this long, then succeeds.
    Slow(Duration),
    /// Never returns (a worker stuck or dying mid-job).
    Hang,
}

#[derive(Clone, Debug)]
pub struct Call {
    pub id: String,
    pub name: String,
    pub data: serde_json::Value,
    pub attempts_made: u32,
    pub at: Instant,
}

type Script = dyn Fn(&JobContext, usize) -> Act + Send + Sync;

/// A handler whose behaviour per call is scripted and whose calls are recorded.
pub struct Recorder {
    script: Box<Script>,
    calls: Mutex<Vec<Call>>,
    per_job: Mutex<HashMap<String, usize>>,
    finished: Mutex<Vec<String>>,
}

impl Recorder {
    /// `script(job, n)` decides the n-th call (0-based) for that job id.
    pub fn new(script: impl Fn(&JobContext, usize) -> Act + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
            per_job: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
        })
    }

    pub fn ok() -> Arc<Self> {
        Self::new(|_, _| Act::Ok)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn calls_for(&self, id: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.id == id).collect()
    }

    /// Ids of calls that returned Ok, in order.
    pub fn succeeded(&self) -> Vec<String> {
        self.finished.lock().unwrap().clone()
    }
}

#[oes_jobs::async_trait]
impl JobHandler for Recorder {
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
        let n = {
            let mut per = self.per_job.lock().unwrap();
            let n = per.entry(job.id.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        self.calls.lock().unwrap().push(Call {
            id: job.id.clone(),
            name: job.name.clone(),
            data: job.data.clone(),
            attempts_made: job.attempts_made,
            at: Instant::now(),
        });
        let act = (self.script)(job, n);
        match act {
            Act::Ok => {}
            Act::Retry(m) => return Err(HandlerError::Retry(m)),
            Act::Fatal(m) => return Err(HandlerError::Fatal(m)),
            Act::Slow(d) => tokio::time::sleep(d).await,
            Act::Hang => std::future::pending::<()>().await,
        }
        self.finished.lock().unwrap().push(job.id.clone());
        Ok(())
    }
}

/// Polls `check` until it is true; panics with `what` after `limit` (a safety net for a
/// broken implementation, not a timing assertion).
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A redis-server of our own, for tests that kill Redis.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> Self {
        let port = free_port();
        let mut me = Self { port, child: None };
        me.spawn();
        me
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = redis::Client::open(self.url())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if up {
                return;
            }
            assert!(Instant::now() < deadline, "own redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
