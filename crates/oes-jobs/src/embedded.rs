//! In-process job runner for embedded mode (`oes serve` with no Redis): the same states,
//! ordering, retries, backoff, delays and id de-duplication as BullMQ, held in memory.
//!
//! Nothing survives a restart; the application re-derives pending work from the database
//! (its sweeps), which is why every job id is deterministic and every handler idempotent.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use crate::api::{JobHandler, JobQueue, WorkerHandle, WorkerInner, run_handler};
use crate::error::JobError;
use crate::stats::{Counters, StatsReader};
use crate::types::{
    CleanState, HandlerError, JobContext, JobCounts, JobInfo, JobOptions, JobState, WorkerOptions,
    millis, now_ms, validate_options, validate_queue_name,
};

/// In-memory jobs with BullMQ semantics. Clones share the same queues.
#[derive(Clone, Default)]
pub struct EmbeddedJobs {
    queues: Arc<Mutex<HashMap<String, Arc<QueueCell>>>>,
}

impl EmbeddedJobs {
    /// An empty set of queues.
    pub fn new() -> Self {
        Self::default()
    }

    fn cell(&self, queue: &str) -> Result<Arc<QueueCell>, JobError> {
        validate_queue_name(queue)?;
        let mut queues = lock(&self.queues);
        Ok(queues
            .entry(queue.to_string())
            .or_insert_with(|| {
                Arc::new(QueueCell {
                    name: queue.to_string(),
                    data: Mutex::new(QueueData::default()),
                    wake: Notify::new(),
                })
            })
            .clone())
    }
}

impl std::fmt::Debug for EmbeddedJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedJobs").finish_non_exhaustive()
    }
}

/// A poisoned lock only means a panic happened elsewhere while holding it; the queue data
/// is updated in single steps, so it is still consistent and worth using.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct QueueCell {
    name: String,
    data: Mutex<QueueData>,
    /// Woken whenever a job may have become runnable.
    wake: Notify,
}

struct Record {
    name: String,
    data: serde_json::Value,
    opts: JobOptions,
    state: JobState,
    attempts_made: u32,
    failed_reason: Option<String>,
    timestamp: u64,
    processed_on: Option<u64>,
    finished_on: Option<u64>,
    /// Changes on every fetch, so a late result from an abandoned try cannot finish a newer one.
    lease: u64,
}

#[derive(Default)]
struct QueueData {
    jobs: HashMap<String, Record>,
    next_id: u64,
    next_seq: u64,
    next_lease: u64,
    waiting: VecDeque<String>,
    /// (priority, arrival, id): lowest priority number first, FIFO within a priority.
    prioritized: BTreeSet<(u32, u64, String)>,
    /// (due ms, arrival, id).
    delayed: BTreeSet<(u64, u64, String)>,
    active: usize,
    /// (finished ms, id), oldest first.
    completed: BTreeSet<(u64, String)>,
    failed: BTreeSet<(u64, String)>,
}

enum Fetch {
    Job(JobContext, u64),
    /// Nothing runnable; the earliest delayed job is due at this ms, if any.
    Idle(Option<u64>),
}

enum Finish {
    Completed,
    Retried,
    Failed,
    /// The lease was lost (job cleaned or re-queued meanwhile): nothing recorded.
    Stale,
}

impl QueueData {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn make_ready(&mut self, id: &str) {
        let seq = self.seq();
        let Some(rec) = self.jobs.get_mut(id) else {
            return;
        };
        match rec.opts.priority.filter(|p| *p > 0) {
            Some(p) => {
                rec.state = JobState::Prioritized;
                self.prioritized.insert((p, seq, id.to_string()));
            }
            None => {
                rec.state = JobState::Waiting;
                self.waiting.push_back(id.to_string());
            }
        }
    }

    fn make_delayed(&mut self, id: &str, due: u64) {
        let seq = self.seq();
        if let Some(rec) = self.jobs.get_mut(id) {
            rec.state = JobState::Delayed;
            self.delayed.insert((due, seq, id.to_string()));
        }
    }

    fn promote_due(&mut self, now: u64) {
        while let Some(first) = self.delayed.first() {
            // Strictly after: `now` is truncated to the ms, so at `due == now` up to 1 ms of
            // the delay may still be left.
            if first.0 >= now {
                break;
            }
            if let Some((_, _, id)) = self.delayed.pop_first() {
                self.make_ready(&id);
            }
        }
    }

    fn fetch(&mut self, queue: &str, now: u64) -> Fetch {
        self.promote_due(now);
        let next = self
            .waiting
            .pop_front()
            .or_else(|| self.prioritized.pop_first().map(|(_, _, id)| id));
        let Some(id) = next else {
            return Fetch::Idle(self.delayed.first().map(|d| d.0));
        };
        self.next_lease += 1;
        let lease = self.next_lease;
        let Some(rec) = self.jobs.get_mut(&id) else {
            return Fetch::Idle(None);
        };
        rec.state = JobState::Active;
        rec.processed_on = Some(now);
        rec.lease = lease;
        self.active += 1;
        Fetch::Job(
            JobContext {
                queue: queue.to_string(),
                id,
                name: rec.name.clone(),
                data: rec.data.clone(),
                attempts_made: rec.attempts_made,
            },
            lease,
        )
    }

    fn holds(&self, id: &str, lease: u64) -> bool {
        self.jobs
            .get(id)
            .is_some_and(|r| r.state == JobState::Active && r.lease == lease)
    }

    fn finish(
        &mut self,
        id: &str,
        lease: u64,
        result: Result<(), HandlerError>,
        now: u64,
    ) -> Finish {
        if !self.holds(id, lease) {
            return Finish::Stale;
        }
        self.active -= 1;
        let Some(rec) = self.jobs.get_mut(id) else {
            return Finish::Stale;
        };
        rec.attempts_made += 1;
        match result {
            Ok(()) => {
                rec.state = JobState::Completed;
                rec.finished_on = Some(now);
                let age = rec.opts.remove_on_complete_age;
                self.completed.insert((now, id.to_string()));
                if let Some(age) = age {
                    self.remove_older(
                        CleanState::Completed,
                        now.saturating_sub(millis(age)),
                        age.is_zero(),
                    );
                }
                Finish::Completed
            }
            Err(e) => {
                let fatal = matches!(e, HandlerError::Fatal(_));
                let (HandlerError::Retry(msg) | HandlerError::Fatal(msg)) = e;
                rec.failed_reason = Some(msg);
                if fatal || rec.attempts_made >= rec.opts.attempts {
                    rec.state = JobState::Failed;
                    rec.finished_on = Some(now);
                    self.failed.insert((now, id.to_string()));
                    Finish::Failed
                } else {
                    let delay = rec.opts.backoff.delay_after(rec.attempts_made);
                    if delay.is_zero() {
                        self.make_ready(id);
                    } else {
                        self.make_delayed(id, now.saturating_add(millis(delay)));
                    }
                    Finish::Retried
                }
            }
        }
    }

    /// What BullMQ's stalled check does for a job whose worker died: back to waiting.
    fn release(&mut self, id: &str, lease: u64) -> bool {
        if !self.holds(id, lease) {
            return false;
        }
        self.active -= 1;
        self.make_ready(id);
        true
    }

    /// Removes finished jobs of `state` that finished before `cutoff` (or at it, if `inclusive`).
    fn remove_older(&mut self, state: CleanState, cutoff: u64, inclusive: bool) -> u64 {
        let set = match state {
            CleanState::Completed => &mut self.completed,
            CleanState::Failed => &mut self.failed,
        };
        let mut removed = Vec::new();
        while let Some((at, _)) = set.first() {
            if *at > cutoff || (*at == cutoff && !inclusive) {
                break;
            }
            if let Some((_, id)) = set.pop_first() {
                removed.push(id);
            }
        }
        for id in &removed {
            self.jobs.remove(id);
        }
        removed.len() as u64
    }

    fn info(&self, id: &str) -> Option<JobInfo> {
        self.jobs.get(id).map(|r| JobInfo {
            id: id.to_string(),
            name: r.name.clone(),
            data: r.data.clone(),
            state: r.state,
            attempts_made: r.attempts_made,
            failed_reason: r.failed_reason.clone(),
            timestamp: r.timestamp,
            processed_on: r.processed_on,
            finished_on: r.finished_on,
        })
    }

    fn retry(&mut self, id: &str) -> bool {
        let Some(rec) = self.jobs.get_mut(id) else {
            return false;
        };
        let Some(finished) = rec.finished_on.filter(|_| rec.state == JobState::Failed) else {
            return false;
        };
        // Same fields BullMQ's reprocessJob clears; attemptsMade is kept.
        rec.finished_on = None;
        rec.processed_on = None;
        rec.failed_reason = None;
        self.failed.remove(&(finished, id.to_string()));
        self.make_ready(id);
        true
    }
}

#[async_trait]
impl JobQueue for EmbeddedJobs {
    async fn add(
        &self,
        queue: &str,
        name: &str,
        data: serde_json::Value,
        opts: &JobOptions,
    ) -> Result<String, JobError> {
        validate_options(opts)?;
        let cell = self.cell(queue)?;
        let now = now_ms();
        {
            let mut q = lock(&cell.data);
            let id = match &opts.job_id {
                Some(id) if q.jobs.contains_key(id) => return Ok(id.clone()),
                Some(id) => id.clone(),
                None => {
                    q.next_id += 1;
                    q.next_id.to_string()
                }
            };
            q.jobs.insert(
                id.clone(),
                Record {
                    name: name.to_string(),
                    data,
                    opts: opts.clone(),
                    state: JobState::Waiting,
                    attempts_made: 0,
                    failed_reason: None,
                    timestamp: now,
                    processed_on: None,
                    finished_on: None,
                    lease: 0,
                },
            );
            match opts.delay.filter(|d| !d.is_zero()) {
                Some(d) => q.make_delayed(&id, now.saturating_add(millis(d))),
                None => q.make_ready(&id),
            }
            drop(q);
            cell.wake.notify_waiters();
            Ok(id)
        }
    }

    async fn counts(&self, queue: &str) -> Result<JobCounts, JobError> {
        let cell = self.cell(queue)?;
        let q = lock(&cell.data);
        Ok(JobCounts {
            waiting: q.waiting.len() as u64,
            active: q.active as u64,
            delayed: q.delayed.len() as u64,
            prioritized: q.prioritized.len() as u64,
            completed: q.completed.len() as u64,
            failed: q.failed.len() as u64,
            paused: 0,
        })
    }

    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, JobError> {
        let cell = self.cell(queue)?;
        let q = lock(&cell.data);
        Ok(q.info(id))
    }

    async fn failed(&self, queue: &str, start: i64, end: i64) -> Result<Vec<JobInfo>, JobError> {
        let cell = self.cell(queue)?;
        let q = lock(&cell.data);
        let newest_first: Vec<&String> = q.failed.iter().rev().map(|(_, id)| id).collect();
        let len = newest_first.len() as i64;
        let norm = |i: i64| if i < 0 { len + i } else { i };
        let (from, to) = (norm(start).max(0), norm(end).min(len - 1));
        if from > to {
            return Ok(Vec::new());
        }
        Ok(newest_first[from as usize..=to as usize]
            .iter()
            .filter_map(|id| q.info(id))
            .collect())
    }

    async fn retry_failed(&self, queue: &str, id: Option<&str>) -> Result<u64, JobError> {
        let cell = self.cell(queue)?;
        let moved = {
            let mut q = lock(&cell.data);
            match id {
                Some(id) => u64::from(q.retry(id)),
                None => {
                    let ids: Vec<String> = q.failed.iter().map(|(_, id)| id.clone()).collect();
                    ids.iter().filter(|id| q.retry(id)).count() as u64
                }
            }
        };
        if moved > 0 {
            cell.wake.notify_waiters();
        }
        Ok(moved)
    }

    async fn clean(
        &self,
        queue: &str,
        state: CleanState,
        grace: Duration,
    ) -> Result<u64, JobError> {
        let cell = self.cell(queue)?;
        let mut q = lock(&cell.data);
        Ok(q.remove_older(state, now_ms().saturating_sub(millis(grace)), true))
    }

    async fn start_worker(
        &self,
        queue: &str,
        handler: Arc<dyn JobHandler>,
        opts: WorkerOptions,
    ) -> Result<WorkerHandle, JobError> {
        if opts.concurrency == 0 {
            return Err(JobError::InvalidOptions(
                "concurrency must be at least 1".into(),
            ));
        }
        let cell = self.cell(queue)?;
        let counters = Arc::new(Counters::default());
        let (closing_tx, closing_rx) = watch::channel(false);
        let runner = tokio::spawn(run_worker(
            cell,
            handler,
            opts.concurrency,
            counters.clone(),
            closing_rx,
        ));
        Ok(WorkerHandle {
            queue: queue.to_string(),
            stats: StatsReader(counters),
            inner: WorkerInner::Embedded(EmbeddedWorker {
                closing: closing_tx,
                runner: Some(runner),
            }),
        })
    }
}

/// Puts a job back to waiting if its try is dropped before finishing (the task was aborted
/// or its runtime went away): the in-process equivalent of BullMQ's stalled-job recovery.
struct LeaseGuard {
    cell: Arc<QueueCell>,
    counters: Arc<Counters>,
    id: String,
    lease: u64,
    done: bool,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if lock(&self.cell.data).release(&self.id, self.lease) {
            Counters::bump(&self.counters.stalled);
            warn!(queue = %self.cell.name, job_id = %self.id, "abandoned job moved back to waiting");
            self.cell.wake.notify_waiters();
        }
    }
}

async fn run_worker(
    cell: Arc<QueueCell>,
    handler: Arc<dyn JobHandler>,
    concurrency: usize,
    counters: Arc<Counters>,
    mut closing: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running: JoinSet<()> = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let permit: OwnedSemaphorePermit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = closing.wait_for(|c| *c) => break,
        };
        // Register interest before looking, so an add between the look and the wait is not missed.
        let wake = cell.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let fetched = lock(&cell.data).fetch(&cell.name, now_ms());
        match fetched {
            Fetch::Job(ctx, lease) => {
                let guard = LeaseGuard {
                    cell: cell.clone(),
                    counters: counters.clone(),
                    id: ctx.id.clone(),
                    lease,
                    done: false,
                };
                running.spawn(run_one(guard, handler.clone(), ctx, permit));
            }
            Fetch::Idle(next_due) => {
                drop(permit);
                let sleep_for = next_due
                    .map(|due| Duration::from_millis(due.saturating_sub(now_ms()) + 1))
                    .unwrap_or(Duration::from_secs(3600));
                tokio::select! {
                    _ = &mut wake => {}
                    _ = tokio::time::sleep(sleep_for) => {}
                    _ = closing.wait_for(|c| *c) => break,
                }
            }
        }
    }
    // Stopped fetching: let the tries in flight finish (shutdown bounds this by aborting).
    while running.join_next().await.is_some() {}
}

async fn run_one(
    mut guard: LeaseGuard,
    handler: Arc<dyn JobHandler>,
    ctx: JobContext,
    _permit: OwnedSemaphorePermit,
) {
    let (result, took) = run_handler(handler.as_ref(), &ctx).await;
    guard.counters.record_run(took);
    let reason = result.as_ref().err().map(ToString::to_string);
    let outcome = lock(&guard.cell.data).finish(&ctx.id, guard.lease, result, now_ms());
    guard.done = true;
    let (queue, id) = (&guard.cell.name, &ctx.id);
    match outcome {
        Finish::Completed => {
            Counters::bump(&guard.counters.completed);
            debug!(queue = %queue, job_id = %id, "job completed");
        }
        Finish::Retried => {
            Counters::bump(&guard.counters.retried);
            info!(queue = %queue, job_id = %id, reason = reason.as_deref().unwrap_or(""), "job will be retried");
        }
        Finish::Failed => {
            Counters::bump(&guard.counters.failed);
            warn!(queue = %queue, job_id = %id, reason = reason.as_deref().unwrap_or(""), "job failed");
        }
        Finish::Stale => {
            debug!(queue = %queue, job_id = %id, "result of an abandoned try ignored");
        }
    }
    guard.cell.wake.notify_waiters();
}

pub(crate) struct EmbeddedWorker {
    closing: watch::Sender<bool>,
    runner: Option<JoinHandle<()>>,
}

impl EmbeddedWorker {
    pub(crate) async fn shutdown(mut self, timeout: Duration) -> Result<(), JobError> {
        self.closing.send_replace(true);
        let Some(mut runner) = self.runner.take() else {
            return Ok(());
        };
        if tokio::time::timeout(timeout, &mut runner).await.is_err() {
            // Aborting drops the tries still running; their guards put the jobs back.
            runner.abort();
            warn!("job worker shutdown timed out; unfinished jobs returned to waiting");
        }
        Ok(())
    }
}

impl Drop for EmbeddedWorker {
    fn drop(&mut self) {
        // Stop fetching; the runner task finishes the tries in flight on its own.
        self.closing.send_replace(true);
    }
}
