//! `slipway test`: start a test run and follow it to its end, then print its counts and
//! failures. Exits with the deployment-failed code unless the tests passed, so scripts
//! can gate on it.

use std::time::Duration;

use serde_json::json;

use crate::client::{Client, parse};
use crate::commands::segment;
use crate::error::{CliError, Result};
use crate::follow::{drain, print_lines};
use crate::models::TestRun;
use crate::progress::Progress;

const POLL: Duration = Duration::from_millis(250);
/// Failures printed; the counts cover all of them.
const SHOWN_FAILURES: usize = 20;

pub async fn run(
    client: &Client,
    app: &str,
    git_ref: Option<String>,
    command: Option<String>,
) -> Result<()> {
    let mut body = json!({});
    if let Some(r) = git_ref {
        body["ref"] = json!(r);
    }
    if let Some(c) = command {
        body["command"] = json!(c);
    }
    let path = format!("/api/v1/apps/{}/test-runs", segment(app)?);
    let run: TestRun = parse(client.post(&path, &body).await?)?;
    println!("Test run {}", run.id);
    let id = run.id;
    let logs = format!("/api/v1/test-runs/{id}/logs");
    let mut progress = Progress::new();
    let mut after = 0;
    let run = loop {
        // Status before lines: a line written just before the end is never missed.
        let run: TestRun = parse(client.get(&format!("/api/v1/test-runs/{id}")).await?)?;
        after = print_lines(client, &logs, after, &mut progress).await?;
        if !run.is_unfinished() {
            drain(client, &logs, after, &mut progress).await?;
            progress.clear();
            break run;
        }
        if progress.current() != Some(run.status.as_str()) {
            progress.start(&run.status);
        } else {
            progress.tick();
        }
        tokio::time::sleep(POLL).await;
    };
    report(&run)
}

fn report(run: &TestRun) -> Result<()> {
    if let Some(t) = &run.tests {
        println!(
            "{} tests: {} passed, {} failed, {} skipped",
            t.total, t.passed, t.failed, t.skipped
        );
    }
    for f in run.failures.iter().take(SHOWN_FAILURES) {
        println!("  FAILED {}.{}: {}", f.suite, f.name, f.message);
    }
    if run.failures.len() > SHOWN_FAILURES {
        println!("  … and {} more", run.failures.len() - SHOWN_FAILURES);
    }
    if let Some(note) = &run.note {
        println!("note: {note}");
    }
    let took = run
        .duration_ms
        .map(|ms| format!(" in {:.1}s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let sha = run
        .commit_sha
        .as_deref()
        .map(|s| format!(" ({})", s.get(..10).unwrap_or(s)))
        .unwrap_or_default();
    if run.status == "passed" {
        println!("Tests passed{sha}{took}.");
        return Ok(());
    }
    let exit = run
        .exit_code
        .map(|c| format!(" (exit code {c})"))
        .unwrap_or_default();
    eprintln!("error: test run {} {}{exit}{sha}{took}", run.id, run.status);
    Err(CliError::DeploymentFailed)
}
