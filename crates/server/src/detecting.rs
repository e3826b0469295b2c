//! Continuous detection inside `custodian serve`: a task that runs
//! `custodian_app::detection::live` whenever the store may have received
//! events.
//!
//! Rules:
//! - It wakes when the API has stored new events, and every `interval`
//!   anyway: an `import` or a collector writing the same store from
//!   another process is found by the next look.
//! - One step at a time. A step that fails is logged (its error, never an
//!   event's content) and tried again at the next wake; the server keeps
//!   serving.
//! - What it did is kept for `/metrics`: events, late events, alerts raised
//!   and withdrawn, events held, how long ago the last step finished and
//!   how far behind the newest event time it stands.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custodian_app::detection::live::{Live, LiveOptions, Step};
use custodian_detect::Config;

use crate::{now_of, AppState};

/// How the task runs.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    pub config: Config,
    pub live: LiveOptions,
    /// The longest wait between two looks at the store.
    pub interval: Duration,
}

/// What the task last did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    pub(crate) running: bool,
    pub(crate) last: Option<Step>,
    pub(crate) step_seconds: f64,
    /// Seconds since the epoch (the server's clock).
    pub(crate) finished_at: i64,
    pub(crate) failures: u64,
}

/// The task's bell and its status.
#[derive(Default)]
pub(crate) struct Detecting {
    pub(crate) wake: tokio::sync::Notify,
    pub(crate) status: Mutex<Status>,
}

impl Detecting {
    /// Something was stored: look now.
    pub(crate) fn ring(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Starts continuous detection on the server's store.
pub fn spawn(state: Arc<AppState>, opts: DetectOptions) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let store = state.store.clone();
        let mut live = loop {
            match Live::open(store.as_ref(), opts.config.clone(), opts.live).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::error!(error = %e, "continuous detection cannot start; trying again");
                    tokio::time::sleep(opts.interval).await;
                }
            }
        };
        if let Ok(mut s) = state.detecting.status.lock() {
            s.running = true;
        }
        tracing::info!("continuous detection running");
        loop {
            let t = Instant::now();
            let result = live
                .step(store.as_ref(), &state.ledger, now_of(&state))
                .await;
            let seconds = t.elapsed().as_secs_f64();
            match result {
                Ok(step) => {
                    if step.stored > 0 {
                        state.outbox.wake.notify_one();
                    }
                    if step.stored > 0 || step.withdrawn > 0 {
                        tracing::info!(
                            stored = step.stored,
                            withdrawn = step.withdrawn,
                            "continuous detection: alerts"
                        );
                    }
                    if let Ok(mut s) = state.detecting.status.lock() {
                        s.last = Some(step);
                        s.step_seconds = seconds;
                        s.finished_at = (state.clock)();
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "a continuous detection step failed");
                    if let Ok(mut s) = state.detecting.status.lock() {
                        s.failures += 1;
                    }
                }
            }
            let _ = tokio::time::timeout(opts.interval, state.detecting.wake.notified()).await;
        }
    })
}
