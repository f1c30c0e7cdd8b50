//! Deployment log lines are produced one by one (git progress, builder output) but
//! written in batches: a background task flushes every few milliseconds, so a chatty
//! build costs a handful of round trips instead of one per line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Longest line stored; longer ones are cut, saying so.
const MAX_LINE: usize = 8 * 1024;

/// Slipway's own lines (phases, outcome) are few and short and must survive a flood.
const OWN_STREAM: &str = "slipway";

#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<Message>,
    budget: Arc<Budget>,
}

/// How much of a deployment's output may be stored. Lines past it are dropped where
/// they are produced, so a build that floods its output holds neither memory (the
/// channel never holds more than the budget) nor disk.
struct Budget {
    limit: u64,
    used: AtomicU64,
    exhausted: AtomicBool,
}

pub struct LogWriter {
    handle: tokio::task::JoinHandle<()>,
}

impl LogSink {
    /// `limit`: bytes of output stored before the rest is dropped (SLIPWAY_LOG_LIMIT).
    pub fn start(pool: PgPool, deployment_id: Uuid, limit: u64) -> (LogSink, LogWriter) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(write_batches(pool, deployment_id, rx));
        let budget = Arc::new(Budget {
            limit,
            used: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
        });
        (LogSink { tx, budget }, LogWriter { handle })
    }

    /// Usable from blocking threads (git) and async code alike.
    pub fn line(&self, stream: &'static str, line: impl Into<String>) {
        let line = cut_long(line.into());
        if stream != OWN_STREAM {
            let size = line.len() as u64 + 1;
            let used = self.budget.used.fetch_add(size, Ordering::Relaxed) + size;
            if used > self.budget.limit {
                if !self.budget.exhausted.swap(true, Ordering::Relaxed) {
                    self.send(
                        OWN_STREAM,
                        format!(
                            "Log truncated: this deployment's output passed {} KiB; later output \
                             is dropped (SLIPWAY_LOG_LIMIT). Slipway's own lines still follow.",
                            self.budget.limit / 1024
                        ),
                    );
                }
                return;
            }
        }
        self.send(stream, line);
    }

    fn send(&self, stream: &'static str, line: String) {
        // A closed channel means the writer is gone at shutdown; nothing left to tell.
        let _ = self.tx.send(Message::Line(NewLine {
            at: Utc::now(),
            stream,
            line,
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

/// A line over `MAX_LINE` bytes is cut there (on a character boundary), saying so.
fn cut_long(mut line: String) -> String {
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str(" … [line cut at 8 KiB]");
    }
    line
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        assert_eq!(cut_long("short".into()), "short");
        let long = "é".repeat(MAX_LINE); // two bytes each
        let cut = cut_long(long);
        assert!(cut.ends_with(" … [line cut at 8 KiB]"));
        assert!(cut.len() <= MAX_LINE + 30, "{}", cut.len());
        assert!(cut.starts_with("éé"));
    }
}
