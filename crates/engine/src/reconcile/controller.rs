//! The reconcile loop: apps are queued (by NOTIFY, by the watcher, by the pipeline),
//! reconciled one at a time, requeued with back-off when that fails or when a dead
//! replica waits out its own back-off, and all of them are queued again every
//! `SLIPWAY_RESYNC_INTERVAL`, so drift nobody announced is corrected too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use slipway_store::apps;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Context;

/// The first retry of a failed reconciliation; each further failure doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Retries never wait longer than this, so a runtime that comes back is used soon.
pub const MAX_RETRY: Duration = Duration::from_secs(60);

type Request = (Uuid, Duration);

/// A handle for asking the worker's reconcile loop to look at an app.
#[derive(Clone)]
pub struct ReconcileQueue {
    tx: mpsc::UnboundedSender<Request>,
    rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<Request>>>>,
}

impl Default for ReconcileQueue {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
        }
    }
}

impl ReconcileQueue {
    /// Reconcile the app as soon as the loop is free.
    pub fn enqueue(&self, app: Uuid) {
        self.enqueue_after(app, Duration::ZERO);
    }

    /// Reconcile the app in `delay` (or sooner, if it is asked for sooner).
    pub fn enqueue_after(&self, app: Uuid, delay: Duration) {
        // Nobody receives once the worker stopped: nothing left to reconcile then.
        let _ = self.tx.send((app, delay));
    }

    fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Request>> {
        self.rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

fn retry_delay(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(MAX_RETRY)
}

/// Runs until `shutdown` fires. Only one loop per worker takes the queue.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let Some(mut rx) = ctx.reconcile.take_receiver() else {
        tracing::error!("the reconcile loop is already running");
        return;
    };
    let mut due: HashMap<Uuid, Instant> = HashMap::new();
    let mut failures: HashMap<Uuid, u32> = HashMap::new();
    // tokio panics on a zero period; the setting refuses zero, this guards tests.
    let every = ctx.config.resync_interval.max(Duration::from_millis(100));
    let mut resync = tokio::time::interval_at(Instant::now() + every, every);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = due.values().min().copied();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            request = rx.recv() => match request {
                Some((app, delay)) => schedule(&mut due, app, Instant::now() + delay),
                None => return,
            },
            _ = resync.tick() => match apps::list_live_ids(&ctx.pool).await {
                Ok(ids) => {
                    let now = Instant::now();
                    for app in ids {
                        schedule(&mut due, app, now);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "resync: could not list apps"),
            },
            _ = sleep_until(next) => {
                let now = Instant::now();
                let ready: Vec<Uuid> = due.iter().filter(|(_, at)| **at <= now).map(|(app, _)| *app).collect();
                for app in ready {
                    due.remove(&app);
                    if shutdown.is_cancelled() {
                        return;
                    }
                    reconcile_one(&ctx, app, &mut due, &mut failures).await;
                }
            }
        }
    }
}

async fn reconcile_one(
    ctx: &Context,
    app: Uuid,
    due: &mut HashMap<Uuid, Instant>,
    failures: &mut HashMap<Uuid, u32>,
) {
    match super::reconcile_app(ctx, app).await {
        Ok(done) => {
            failures.remove(&app);
            if let Some(wait) = done.again_in {
                schedule(due, app, Instant::now() + wait);
            }
        }
        Err(e) => {
            let count = failures.entry(app).or_insert(0);
            *count += 1;
            let wait = retry_delay(*count);
            slipway_telemetry::metrics()
                .reconcile_errors
                .with_label_values(&[e.label()])
                .inc();
            tracing::warn!(app_id = %app, error = %e, retry_in_ms = wait.as_millis() as u64, "could not reconcile app; will retry");
            schedule(due, app, Instant::now() + wait);
        }
    }
}

/// Keeps the earlier of two requests for the same app.
fn schedule(due: &mut HashMap<Uuid, Instant>, app: Uuid, at: Instant) {
    due.entry(app)
        .and_modify(|when| *when = (*when).min(at))
        .or_insert(at);
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_a_minute() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(6), Duration::from_secs(32));
        assert_eq!(retry_delay(7), MAX_RETRY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn the_earlier_request_wins() {
        let mut due = HashMap::new();
        let app = Uuid::now_v7();
        let now = Instant::now();
        schedule(&mut due, app, now + Duration::from_secs(5));
        schedule(&mut due, app, now + Duration::from_secs(1));
        schedule(&mut due, app, now + Duration::from_secs(9));
        assert_eq!(due[&app], now + Duration::from_secs(1));
    }
}
