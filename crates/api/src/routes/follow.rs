//! Live deployment logs as Server-Sent Events: every stored line after the cursor, then
//! new lines as the worker writes them, until the deployment has finished and its last
//! line was sent. Each event's id is the line's `seq`, so a reconnecting client resumes
//! with `?after=` where it left off.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use slipway_store::{PgPool, deployments, logs};
use uuid::Uuid;

const POLL: Duration = Duration::from_millis(250);
const PAGE: i64 = 500;

struct Cursor {
    pool: PgPool,
    id: Uuid,
    after: i64,
    pending: std::collections::VecDeque<logs::LogLine>,
    finished: bool,
    /// The deployment has finished and one grace period has been waited out.
    drained: bool,
}

/// The worker writes a deployment's last lines (the outcome, the old release stopped)
/// just after its final status, in batches: after seeing the final status, wait this
/// long for them before ending the stream.
const FINAL_LINES_GRACE: Duration = Duration::from_millis(500);

pub fn stream(
    pool: PgPool,
    id: Uuid,
    after: i64,
    shutdown: tokio_util::sync::CancellationToken,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let cursor = Cursor {
        pool,
        id,
        after,
        pending: Default::default(),
        finished: false,
        drained: false,
    };
    let events = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(line) = c.pending.pop_front() {
                let event = Event::default()
                    .id(line.seq.to_string())
                    .event("line")
                    .json_data(&line)
                    .unwrap_or_else(|_| Event::default().comment("unserializable line"));
                return Some((Ok(event), c));
            }
            if c.finished {
                return None;
            }
            // Read the status before the lines: a line written just before the final
            // status change is then never missed.
            let done = match deployments::get(&c.pool, c.id).await {
                Ok(d) => !d.status.is_unfinished(),
                Err(_) => true,
            };
            match logs::page(&c.pool, c.id, c.after, PAGE).await {
                Ok(lines) if !lines.is_empty() => {
                    c.after = lines.last().map_or(c.after, |l| l.seq);
                    c.pending.extend(lines);
                    continue;
                }
                Ok(_) if done && !c.drained => {
                    c.drained = true;
                    tokio::time::sleep(FINAL_LINES_GRACE).await;
                    continue;
                }
                Ok(_) if done => {
                    c.finished = true;
                    return Some((
                        Ok(Event::default().event("end").data("deployment finished")),
                        c,
                    ));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "log follow: database error; retrying"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
    // A client reconnects with Last-Event-ID after a restart and misses nothing.
    let events = futures_util::StreamExt::take_until(events, shutdown.cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::default())
}
