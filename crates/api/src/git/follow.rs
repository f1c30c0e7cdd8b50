//! A deployment, followed into a push's output as it runs: each status change with the
//! time the phase before it took, every build and release line, and a keep-alive line
//! when nothing was said for a while, so that no proxy cuts a long build.

use std::time::Duration;

use chrono::{DateTime, Utc};
use slipway_core::DeploymentStatus;
use slipway_store::{PgPool, deployments, events, logs};
use uuid::Uuid;

use super::out::Out;

/// Without a live-event feed (or between its events) the database is read this often.
const POLL: Duration = Duration::from_millis(250);
/// Under the 20 s within which a quiet connection must show a sign of life.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const PAGE: i64 = 500;
/// The worker writes a deployment's last lines just after its final status, flushing
/// every 50 ms: four flushes' worth is plenty, and every millisecond here is one the
/// pusher waits for after the release already serves.
const FINAL_LINES_GRACE: Duration = Duration::from_millis(200);

/// How a followed deployment ended.
pub struct End {
    pub status: DeploymentStatus,
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub took: Duration,
}

/// `wake` (the API's live events) ends each wait as soon as the deployment changes,
/// rather than at the next poll.
pub async fn follow(pool: &PgPool, id: Uuid, mut wake: Option<Wake>, out: &mut Out) -> End {
    let started = tokio::time::Instant::now();
    let mut seen_events = 0usize;
    let mut after = 0i64;
    let mut phase_began: Option<(DeploymentStatus, DateTime<Utc>)> = None;
    let mut finished_at: Option<tokio::time::Instant> = None;
    // Phase lines wait for the log lines written before them (see `Held`).
    let mut held = Held::default();
    loop {
        // The status before the lines, as the SSE follower does: a line written just
        // before the final status is then never missed.
        let row = deployments::get(pool, id).await;
        if let Ok(all) = events::of_deployment(pool, id).await {
            for event in all.iter().skip(seen_events) {
                if let Some(line) = phase_line(&mut phase_began, event) {
                    held.events
                        .push((event.at, line, tokio::time::Instant::now()));
                }
            }
            seen_events = all.len();
        }
        let mut said: Vec<(DateTime<Utc>, String)> = Vec::new();
        loop {
            match logs::page(pool, id, after, PAGE).await {
                Ok(lines) if !lines.is_empty() => {
                    after = lines.last().map_or(after, |l| l.seq);
                    said.extend(lines.into_iter().map(|l| (l.at, l.line)));
                }
                _ => break,
            }
        }
        let finished = row.as_ref().is_ok_and(|d| !d.status.is_unfinished());
        said.extend(held.release(&said, finished));
        said.sort_by_key(|(at, _)| *at);
        for (_, line) in said {
            out.say(line).await;
        }
        match &row {
            Ok(d) if !d.status.is_unfinished() => match finished_at {
                Some(at) if at.elapsed() >= FINAL_LINES_GRACE => {
                    return End {
                        status: d.status,
                        phase: d.failed_phase.map(|p| p.to_string()),
                        reason: d.reason.clone(),
                        // Queued to finished, as the deployment's own record has it (not
                        // counting this follower's polling and grace period).
                        took: d
                            .finished_at
                            .and_then(|end| (end - d.created_at).to_std().ok())
                            .unwrap_or_else(|| started.elapsed()),
                    };
                }
                Some(_) => {}
                None => finished_at = Some(tokio::time::Instant::now()),
            },
            Ok(d) => {
                if out.quiet_for() >= KEEP_ALIVE {
                    let waiting = if d.status == DeploymentStatus::Pending {
                        "waiting for a worker"
                    } else {
                        d.status.as_str()
                    };
                    out.say(format!(
                        "... still {waiting} ({}s)",
                        started.elapsed().as_secs()
                    ))
                    .await;
                }
            }
            Err(e) => {
                tracing::warn!(deployment_id = %id, error = %e, "following a pushed deployment: database error; retrying");
                if out.quiet_for() >= KEEP_ALIVE {
                    out.say("... the database is not answering; still trying")
                        .await;
                }
            }
        }
        wait(&mut wake, id, finished_at.is_some()).await;
    }
}

pub type Wake = tokio::sync::broadcast::Receiver<std::sync::Arc<crate::ws::feed::Event>>;

/// Until the next poll, or until the feed says something happened to this deployment
/// (during the final grace period, only the poll: the lines it waits for may come in
/// several batches).
async fn wait(wake: &mut Option<Wake>, id: Uuid, finishing: bool) {
    let poll = if finishing { FINAL_LINES_GRACE } else { POLL };
    let Some(events) = wake.as_mut().filter(|_| !finishing) else {
        tokio::time::sleep(poll).await;
        return;
    };
    let changed = async {
        loop {
            match events.recv().await {
                Ok(event) if event.deployment() == id => return,
                Ok(_) => {}
                // Behind: read the database now, which has everything.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await
                }
            }
        }
    };
    tokio::select! {
        () = tokio::time::sleep(poll) => {}
        () = changed => {}
    }
}

/// Status changes are committed at once, while the worker's log lines reach the
/// database in batches a moment later: a phase line is held until a log line from after
/// it has been read (so the build's output is not shown under the next phase), for at
/// most [`HOLD`], or until the deployment has finished.
#[derive(Default)]
struct Held {
    events: Vec<(DateTime<Utc>, String, tokio::time::Instant)>,
    latest_line: Option<DateTime<Utc>>,
}

/// Far over the worker's log flush interval (50 ms), and short enough to go unnoticed.
const HOLD: Duration = Duration::from_secs(1);

impl Held {
    fn release(
        &mut self,
        lines: &[(DateTime<Utc>, String)],
        finished: bool,
    ) -> Vec<(DateTime<Utc>, String)> {
        if let Some(newest) = lines.iter().map(|(at, _)| *at).max() {
            self.latest_line = Some(self.latest_line.map_or(newest, |l| l.max(newest)));
        }
        let latest = self.latest_line;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|(at, _, seen)| {
                finished || latest.is_some_and(|l| l > *at) || seen.elapsed() >= HOLD
            });
        self.events = waiting;
        ready.into_iter().map(|(at, line, _)| (at, line)).collect()
    }
}

/// `-----> building (cloning took 1.2s)`; notes that change no status are shown as they
/// are. The queued state is left out (the push just said it queued the deployment), and
/// so is a failure's reason, which the worker's last line and the summary give.
fn phase_line(
    began: &mut Option<(DeploymentStatus, DateTime<Utc>)>,
    event: &events::EventRow,
) -> Option<String> {
    let previous = *began;
    if previous.is_some_and(|(status, _)| status == event.status) {
        return event.message.as_deref().map(|m| format!("-----> {m}"));
    }
    *began = Some((event.status, event.at));
    if event.status == DeploymentStatus::Pending {
        return None;
    }
    let mut line = format!("-----> {}", event.status.as_str());
    if let Some((status, at)) = previous {
        let took = (event.at - at).to_std().unwrap_or_default();
        let what = if status == DeploymentStatus::Pending {
            "waited for a worker".to_owned()
        } else {
            format!("{} took", status.as_str())
        };
        line.push_str(&format!(" ({what} {:.1}s)", took.as_secs_f64()));
    }
    if event.status != DeploymentStatus::Failed
        && let Some(message) = event.message.as_deref().filter(|m| !m.is_empty())
    {
        line.push_str(": ");
        line.push_str(message);
    }
    Some(line)
}
