//! The job handlers, one file per job, and [`register_all`]: the one list that binds each job
//! type of [`crate::queue`] to the handler that runs it, with its worker settings.

mod auto_submit;
mod notify;
mod score;
mod send_email;

use oes_jobs::WorkerOptions;

use crate::queue::{AutoSubmit, CalculateScore, FanOut, SendEmail};
use crate::state::AppState;

/// Registers every worker of the platform on `state.jobs`. They start when the queue backend is
/// there (now, or when Redis answers), unless this process does not run workers.
pub async fn register_all(state: &AppState) {
    let jobs = &state.jobs;
    let mail = &state.config.mail;
    jobs.register::<SendEmail>(
        send_email::Deliver::new(state),
        WorkerOptions {
            concurrency: mail.email_concurrency,
            lock_duration: mail.job_lock,
            stalled_interval: mail.job_stalled_interval,
            ..WorkerOptions::default()
        },
    )
    .await;
    let exams = WorkerOptions {
        concurrency: 10,
        ..WorkerOptions::default()
    };
    jobs.register::<CalculateScore>(score::Score::new(state), exams.clone())
        .await;
    jobs.register::<AutoSubmit>(auto_submit::Submit::new(state), exams)
        .await;
    // One fan-out at a time per process is enough: each one feeds the email queue far faster
    // than SMTP drains it.
    jobs.register::<FanOut>(
        notify::Fan::new(state),
        WorkerOptions {
            concurrency: 1,
            ..WorkerOptions::default()
        },
    )
    .await;
}
