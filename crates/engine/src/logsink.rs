//! Deployment log lines are produced one by one (git progress, builder output) but
//! written in batches: a background task flushes every few milliseconds, so a chatty
//! build costs a handful of round trips instead of one per line.

use std::time::Duration;

use chrono::Utc;
use slipway_store::PgPool;
use slipway_store::logs::{self, NewLine};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

const FLUSH_EVERY: Duration = Duration::from_millis(50);
const MAX_BATCH: usize = 500;

enum Message {
    Line(NewLine),
    /// Store everything sent before, then answer.
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<Message>,
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
        let _ = self.tx.send(Message::Line(NewLine {
            at: Utc::now(),
            stream,
            line: line.into(),
        }));
    }

    /// Waits until every line sent so far is stored. Called before a final status is
    /// recorded, so whoever sees the status also finds the lines that explain it.
    pub async fn flushed(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.await;
        }
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
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    let mut batch = Vec::with_capacity(64);
    let mut waiting = Vec::new();
    loop {
        let Some(first) = rx.recv().await else { break };
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => batch.push(line),
                // Nothing after a flush request waits for the deadline.
                Message::Flush(ack) => {
                    waiting.push(ack);
                    break;
                }
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            if let Ok(Some(message)) = tokio::time::timeout_at(deadline, rx.recv()).await {
                next = Some(message);
            }
        }
        flush(&pool, deployment_id, &mut batch).await;
        for ack in waiting.drain(..) {
            let _ = ack.send(());
        }
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
