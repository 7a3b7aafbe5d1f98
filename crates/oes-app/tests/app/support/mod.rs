//! The one harness of the app's tests: a fresh database per test on each backend, a fresh Redis
//! prefix, [`TestApp`] (the running app, built per test) and its HTTP [`Client`], a private
//! `redis-server` ([`OwnRedis`]) and a process of its own for tests that need one.
//!
//! PostgreSQL databases are created on the server named by `OES_TEST_POSTGRES_URL` (default: the
//! local server with trust auth) and dropped when the guard goes; SQLite databases are files in a
//! temporary directory.

mod app;
pub mod browser;
mod client;
mod process;

pub use app::{PASSWORD, TestApp, link_token, unique_email, unique_prefix, user};
pub use client::{Answer, Auth, Client, USER_AGENT};
pub use process::in_own_process;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use oes_app::db::{Backend, Db};
use sqlx::{AnyConnection, ConnectOptions, Executor};

pub fn postgres_admin_url() -> String {
    std::env::var("OES_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        sqlx::any::install_default_drivers();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}/oes.db", dir.path().display());
                TestDb {
                    url,
                    backend,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("oes_test_{}", uuid::Uuid::new_v4().simple());
                let admin = postgres_admin_url();
                let mut conn = admin_connection(&admin).await;
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create the test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connects and applies the migrations.
    pub async fn migrated(&self) -> Db {
        let db = Db::connect(&self.url, 5)
            .await
            .expect("connect to the test database");
        db.migrate().await.expect("migrations apply");
        db
    }
}

async fn admin_connection(url: &str) -> AnyConnection {
    sqlx::any::AnyConnectOptions::from_str(url)
        .expect("admin URL")
        .connect()
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable at {url} ({e}); run the tests with scripts/test")
        })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = postgres_admin_url();
            // Drop in a thread of its own: Drop cannot await, and the test's runtime may be gone.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let mut conn = admin_connection(&admin).await;
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                });
            })
            .join();
        }
    }
}

/// A configuration for a test server: port 0, the given database, nothing else.
pub fn config(database_url: &str, extra: &[(&str, &str)]) -> oes_app::Config {
    let mut vars: std::collections::HashMap<String, String> = [
        ("PORT", "0"),
        ("HOST", "127.0.0.1"),
        ("DATABASE_URL", database_url),
        ("AUTO_MIGRATE", "true"),
        ("DATABASE_MAX_CONNECTIONS", "5"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    oes_app::Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration is valid")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A Redis of this test's own, on a free port, that it can stop and restart; killed on drop.
pub struct OwnRedis {
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        Self::start_with(&[])
    }

    /// With extra `redis-server` arguments (for example an eviction policy).
    pub fn start_with(extra: &[&str]) -> OwnRedis {
        let mut redis = OwnRedis {
            port: free_port(),
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts (is it installed? run scripts/test)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "own redis-server did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Deletes every key under its prefixes when dropped (also when the test panics), so a test
/// leaves the shared Redis as it found it. Prefixes must be unique to the test.
pub struct RedisCleanup {
    prefixes: Vec<String>,
}

impl RedisCleanup {
    pub fn new(prefixes: impl IntoIterator<Item = String>) -> RedisCleanup {
        RedisCleanup {
            prefixes: prefixes.into_iter().collect(),
        }
    }
}

impl Drop for RedisCleanup {
    fn drop(&mut self) {
        let prefixes = std::mem::take(&mut self.prefixes);
        // A thread of its own: Drop cannot await, and the test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(redis_url()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            for prefix in prefixes {
                let keys: Vec<String> = match redis::cmd("SCAN")
                    .cursor_arg(0)
                    .arg("MATCH")
                    .arg(format!("{prefix}*"))
                    .arg("COUNT")
                    .arg(1000)
                    .clone()
                    .iter(&mut conn)
                {
                    Ok(iter) => iter.filter_map(Result::ok).collect(),
                    Err(_) => continue,
                };
                for chunk in keys.chunks(500) {
                    let _: redis::RedisResult<()> =
                        redis::cmd("UNLINK").arg(chunk).query(&mut conn);
                }
            }
        })
        .join();
    }
}
