//! Following a deployment to its end by polling: its status and its log every ~250 ms.
//! Polling is simpler than SSE here and survives a restarted API without any resume logic.

use std::time::Duration;

use crate::client::{Client, parse};
use crate::error::{CliError, Result};
use crate::models::{App, BuildLines, Deployment};
use crate::progress::Progress;

const POLL: Duration = Duration::from_millis(250);
const PAGE: usize = 1000;
/// The worker stores log lines in batches a few ms after writing them, so the final
/// status can land before the last lines. After the end, read until the log is quiet.
const QUIET: Duration = Duration::from_millis(400);
const DRAIN_AT_MOST: Duration = Duration::from_secs(3);

/// Prints every log line after `after`, page by page; returns the new cursor.
pub async fn print_build_lines(
    client: &Client,
    id: &str,
    after: i64,
    progress: &mut Progress,
) -> Result<i64> {
    print_lines(
        client,
        &format!("/api/v1/deployments/{id}/logs"),
        after,
        progress,
    )
    .await
}

/// Prints every line after `after` of the log at `logs` (a deployment's or a test
/// run's), page by page; returns the new cursor.
pub async fn print_lines(
    client: &Client,
    logs: &str,
    mut after: i64,
    progress: &mut Progress,
) -> Result<i64> {
    loop {
        let page: BuildLines = parse(
            client
                .get(&format!("{logs}?after={after}&limit={PAGE}"))
                .await?,
        )?;
        for line in &page.lines {
            progress.line(&format_build_line(&line.stream, &line.line));
        }
        after = page.next_after;
        if page.lines.len() < PAGE {
            return Ok(after);
        }
    }
}

/// Slipway's own notes are marked so they stand out from the build tool's output.
fn format_build_line(stream: &str, line: &str) -> String {
    match stream {
        "slipway" => format!("  -----> {line}"),
        _ => format!("         {line}"),
    }
}

/// Follows deployment `id` until it finishes. Ok only when it ends `running`; otherwise
/// the phase and reason are printed and `DeploymentFailed` is returned.
pub async fn follow(client: &Client, id: &str) -> Result<()> {
    let mut progress = Progress::new();
    let mut after = 0;
    let mut done_phases = 0;
    let deployment = loop {
        // Status before lines: a line written just before the final status is never missed.
        let d: Deployment = parse(client.get(&format!("/api/v1/deployments/{id}")).await?)?;
        after = print_build_lines(client, id, after, &mut progress).await?;
        let finished = !d.is_unfinished();
        if finished {
            // Before the last phase line, so that phase's trailing lines sit above it.
            drain(
                client,
                &format!("/api/v1/deployments/{id}/logs"),
                after,
                &mut progress,
            )
            .await?;
        }
        // Every phase but the last has ended; the last ends with the deployment.
        let ended = if finished {
            d.phases.len()
        } else {
            d.phases.len().saturating_sub(1)
        };
        while done_phases < ended {
            let phase = &d.phases[done_phases];
            // Only the phase the deployment ended in can have gone wrong (failed,
            // cancelled, superseded); every earlier one was left because it succeeded.
            let ended_here = finished && done_phases + 1 == d.phases.len();
            if progress.current() != Some(phase.phase.as_str()) {
                progress.start(&phase.phase);
            }
            let took = phase
                .duration_ms
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Duration::from_millis);
            progress.finish(!ended_here || d.status == "running", took);
            done_phases += 1;
        }
        if finished {
            progress.clear();
            break d;
        }
        match d.phases.get(done_phases) {
            Some(phase) if progress.current() != Some(phase.phase.as_str()) => {
                progress.start(&phase.phase)
            }
            None if progress.current().is_none() => progress.start("waiting for a worker"),
            _ => progress.tick(),
        }
        tokio::time::sleep(POLL).await;
    };
    report(client, &deployment).await
}

/// Reads the log at `logs` after its owner finished, until it is quiet.
pub async fn drain(
    client: &Client,
    logs: &str,
    mut after: i64,
    progress: &mut Progress,
) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut quiet_since = tokio::time::Instant::now();
    while quiet_since.elapsed() < QUIET && started.elapsed() < DRAIN_AT_MOST {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let next = print_lines(client, logs, after, progress).await?;
        if next != after {
            after = next;
            quiet_since = tokio::time::Instant::now();
        }
    }
    Ok(())
}

async fn report(client: &Client, d: &Deployment) -> Result<()> {
    if d.status == "running" {
        let url = match &d.app_name {
            Some(app) => parse::<App>(client.get(&format!("/api/v1/apps/{app}")).await?)?.url,
            None => None,
        };
        let sha = d.short_sha().map(|s| format!(" ({s})")).unwrap_or_default();
        match url {
            Some(url) => println!("Deployed{sha}: {url}"),
            None => println!("Deployed{sha}."),
        }
        return Ok(());
    }
    let reason = d.reason.as_deref().unwrap_or("no reason given");
    let message = match (d.status.as_str(), d.phase.as_deref()) {
        ("failed", Some(phase)) => format!("deployment failed in {phase}: {reason}"),
        ("failed", None) => format!("deployment failed: {reason}"),
        (status, _) => format!("deployment {} ended {status}: {reason}", d.id),
    };
    eprintln!("error: {message}");
    Err(CliError::DeploymentFailed)
}
