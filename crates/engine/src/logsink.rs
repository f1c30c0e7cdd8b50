//! Deployment log lines are produced one by one (git progress, builder output) but
//! written in batches: a background task flushes every few milliseconds, so a chatty
//! build costs a handful of round trips instead of one per line.

use std::time::Duration;

use chrono::Utc;
use slipway_store::PgPool;
use slipway_store::logs::{self, NewLine};
use tokio::sync::mpsc;
use uuid::Uuid;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const MAX_BATCH: usize = 500;

#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<NewLine>,
}

pub struct LogWriter {
    handle: tokio::task::JoinHandle<()>,
}

impl LogSink {
    pub fn start(pool: PgPool, deployment_id: Uuid) -> (LogSink, LogWriter) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(write_batches(pool, deployment_id, rx));
        (LogSink { tx }, LogWriter { handle })
    }

    /// Usable from blocking threads (git) and async code alike.
    pub fn line(&self, stream: &'static str, line: impl Into<String>) {
        // A closed channel means the writer is gone at shutdown; nothing left to tell.
        let _ = self.tx.send(NewLine {
            at: Utc::now(),
            stream,
            line: line.into(),
        });
    }
}

impl LogWriter {
    /// Waits until every line sent before all sinks were dropped is stored.
    pub async fn finish(self) {
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "log writer task failed");
        }
    }
}

async fn write_batches(
    pool: PgPool,
    deployment_id: Uuid,
    mut rx: mpsc::UnboundedReceiver<NewLine>,
) {
    let mut batch = Vec::with_capacity(64);
    loop {
        let Some(first) = rx.recv().await else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => batch.push(line),
                Ok(None) | Err(_) => break,
            }
        }
        flush(&pool, deployment_id, &mut batch).await;
    }
    flush(&pool, deployment_id, &mut batch).await;
}

async fn flush(pool: &PgPool, deployment_id: Uuid, batch: &mut Vec<NewLine>) {
    if batch.is_empty() {
        return;
    }
    // Retried a few times: losing build output is what users complain about most.
    for attempt in 1..=5u64 {
        match logs::append(pool, deployment_id, batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(%deployment_id, attempt, error = %e, "could not store log lines");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    }
    tracing::error!(%deployment_id, lines = batch.len(), "dropping log lines after repeated failures");
    batch.clear();
}
