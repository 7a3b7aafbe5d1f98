//! The runtime that holds the queue backend (BullMQ on Redis, or the in-process runner in
//! embedded mode) and the workers registered on it.
//!
//! In Redis mode the backend may arrive late: when Redis is unreachable at start-up the process
//! serves anyway, work stays in the database (outbox rows, attempts), and the workers start as
//! soon as Redis answers. Every job can be re-derived from the database by the sweeps.

use std::sync::Arc;
use std::time::Duration;

use oes_jobs::{
    EmbeddedJobs, JobError, JobOptions, JobQueue, RedisJobs, WorkerHandle, WorkerOptions,
    WorkerStats,
};
use tokio::sync::{Mutex, RwLock};
use tokio::task::JoinHandle;

use super::{Handler, Job, Typed};
use crate::redis_link::RedisLink;

struct Registration {
    queue: &'static str,
    handler: Arc<dyn oes_jobs::JobHandler>,
    options: WorkerOptions,
}

#[derive(Clone)]
pub struct JobRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    backend: RwLock<Option<Arc<dyn JobQueue>>>,
    embedded: bool,
    registrations: Mutex<Vec<Registration>>,
    workers: Mutex<Vec<WorkerHandle>>,
    run_workers: bool,
    connector: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl JobRuntime {
    /// Embedded mode: the in-process runner, available at once.
    pub fn embedded(run_workers: bool) -> Self {
        let backend: Arc<dyn JobQueue> = Arc::new(EmbeddedJobs::new());
        Self::with_backend(Some(backend), true, run_workers)
    }

    fn with_backend(backend: Option<Arc<dyn JobQueue>>, embedded: bool, run_workers: bool) -> Self {
        JobRuntime {
            inner: Arc::new(Inner {
                backend: RwLock::new(backend),
                embedded,
                registrations: Mutex::new(Vec::new()),
                workers: Mutex::new(Vec::new()),
                run_workers,
                connector: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Redis mode: BullMQ under `prefix` (`bull` to share queues with Node BullMQ). Connects now
    /// when Redis answers, otherwise as soon as the link reports Redis reachable.
    pub fn redis(url: &str, prefix: &str, link: &RedisLink, run_workers: bool) -> Self {
        let runtime = Self::with_backend(None, false, run_workers);
        let url = url.to_owned();
        let prefix = prefix.to_owned();
        let mut connected = link.connected();
        let weak = Arc::downgrade(&runtime.inner);
        let task = tokio::spawn(async move {
            loop {
                if connected.wait_for(|up| *up).await.is_err() {
                    return;
                }
                match RedisJobs::connect(&url, &prefix).await {
                    Ok(jobs) => {
                        let Some(inner) = weak.upgrade() else { return };
                        let backend: Arc<dyn JobQueue> = Arc::new(jobs);
                        *inner.backend.write().await = Some(backend.clone());
                        tracing::info!("job queues on Redis (BullMQ prefix `{prefix}`)");
                        JobRuntime { inner }.start_registered(&backend).await;
                        return;
                    }
                    Err(e) => {
                        tracing::warn!("job queues not connected yet: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        if let Ok(mut slot) = runtime.inner.connector.lock() {
            *slot = Some(task);
        }
        runtime
    }

    pub fn is_embedded(&self) -> bool {
        self.inner.embedded
    }

    /// The backend, when connected.
    pub async fn backend(&self) -> Option<Arc<dyn JobQueue>> {
        self.inner.backend.read().await.clone()
    }

    /// Adds a job with its own options ([`Job::options`]), or fails with `JobError` when the
    /// backend is not (yet) connected. Adding a job whose id exists is a no-op.
    pub async fn add<J: Job>(&self, job: &J) -> Result<String, JobError> {
        self.add_with(job, job.options()).await
    }

    /// Adds a job with options chosen by the caller; the job id is always the job's own.
    pub async fn add_with<J: Job>(
        &self,
        job: &J,
        mut opts: JobOptions,
    ) -> Result<String, JobError> {
        let Some(backend) = self.backend().await else {
            return Err(JobError::Backend("the job queue is not connected".into()));
        };
        opts.job_id = job.id();
        let data = serde_json::to_value(job)
            .map_err(|e| JobError::Backend(format!("cannot encode a {} job: {e}", J::NAME)))?;
        backend.add(J::QUEUE.name(), J::NAME, data, &opts).await
    }

    /// Registers the worker of `J`'s queue; it starts when the backend is available (now, or
    /// when Redis answers), unless this process does not run workers.
    pub async fn register<J: Job>(&self, handler: impl Handler<J>, options: WorkerOptions) {
        self.inner.registrations.lock().await.push(Registration {
            queue: J::QUEUE.name(),
            handler: Arc::new(Typed::new(handler)),
            options,
        });
    }

    /// Starts the registered workers if the backend is already there.
    pub async fn start(&self) {
        if let Some(backend) = self.backend().await {
            self.start_registered(&backend).await;
        }
    }

    async fn start_registered(&self, backend: &Arc<dyn JobQueue>) {
        if !self.inner.run_workers {
            return;
        }
        let registrations = self.inner.registrations.lock().await;
        let mut workers = self.inner.workers.lock().await;
        if !workers.is_empty() {
            return;
        }
        for r in registrations.iter() {
            match backend
                .start_worker(r.queue, r.handler.clone(), r.options.clone())
                .await
            {
                Ok(handle) => {
                    tracing::info!(
                        queue = r.queue,
                        concurrency = r.options.concurrency,
                        "worker started"
                    );
                    workers.push(handle);
                }
                Err(e) => tracing::error!(queue = r.queue, "worker did not start: {e}"),
            }
        }
    }

    /// Counters of the running workers, per queue.
    pub async fn worker_stats(&self) -> Vec<(String, WorkerStats)> {
        self.inner
            .workers
            .lock()
            .await
            .iter()
            .map(|w| (w.queue().to_owned(), w.stats()))
            .collect()
    }

    /// Lets active jobs finish (bounded by `timeout`) and stops the workers.
    pub async fn shutdown(&self, timeout: Duration) {
        if let Ok(mut slot) = self.inner.connector.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
        let workers: Vec<WorkerHandle> = self.inner.workers.lock().await.drain(..).collect();
        // All at once: the bound is one `timeout` for the process, not one per queue.
        futures::future::join_all(workers.into_iter().map(|worker| async move {
            let queue = worker.queue().to_owned();
            match worker.shutdown(timeout).await {
                Ok(()) => tracing::info!(queue, "worker stopped"),
                Err(e) => tracing::warn!(queue, "worker stopped uncleanly: {e}"),
            }
        }))
        .await;
    }
}
