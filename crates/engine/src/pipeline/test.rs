//! The test phase: the spec's `[test] command` (or a standalone run's own command) in a
//! one-off container of the built image, isolated and under `[test] timeout`. It passes
//! only on exit code 0; its JUnit report, when `[test] report` names one, gives the run
//! its counts and failures.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use slipway_core::display::short_sha;
use slipway_core::spec::{AppSpec, DEFAULT_TEST_TIMEOUT, MAX_TEST_TIMEOUT, WEB};
use slipway_core::{Phase, TestRunStatus};
use slipway_store::test_runs::{self, Ending, TestCounts, TestFailure};

use super::{Run, humanize};
use crate::Failure;
use crate::runtime::{Collected, Completed, Environment, LogLine, OneOffSpec};

/// Lines of the command's output quoted in a failure's reason.
const TAIL_LINES: usize = 15;
/// Failed test names quoted in a failure's reason.
const NAMED_FAILURES: usize = 5;

/// What the test phase runs.
pub(super) struct TestPlan {
    pub command: Vec<String>,
    pub timeout: std::time::Duration,
    pub report: Option<String>,
    /// The image of `[test] target`, when the tests have a stage of their own.
    pub image: Option<String>,
}

impl Run<'_> {
    /// Whether this deployment runs tests, and with what: a release whose spec has
    /// `[test]`, or a standalone run (with the spec's command or its own). `None`: no
    /// tests, release directly.
    pub(super) async fn test_plan(&self, spec: &AppSpec) -> Result<Option<TestPlan>, Failure> {
        let standalone = self.job.deployment.kind == slipway_core::Kind::Test;
        let test = spec.test.as_ref();
        let command = if standalone {
            let run = test_runs::of_deployment(&self.ctx.pool, self.job.deployment.id)
                .await
                .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
            run.and_then(|r| r.command_override.map(|c| c.0))
                .or_else(|| test.map(|t| t.command.clone()))
        } else {
            test.map(|t| t.command.clone())
        };
        let Some(command) = command else {
            if standalone {
                return Err(Failure::new(
                    Phase::Test,
                    format!(
                        "nothing to run: {} has no [test] command and the run named none (\"command\")",
                        self.job.app.spec_path
                    ),
                ));
            }
            return Ok(None);
        };
        Ok(Some(TestPlan {
            command,
            timeout: test
                .map_or(DEFAULT_TEST_TIMEOUT, |t| t.timeout)
                .min(MAX_TEST_TIMEOUT),
            report: test.and_then(|t| t.report.clone()),
            image: None,
        }))
    }

    /// Runs the tests in a container of `image`; Ok only if they pass. The run's end is
    /// recorded here, with its exit code, counts and failures.
    pub(super) async fn test(
        &mut self,
        plan: &TestPlan,
        image: &str,
        port: u16,
        spec: &AppSpec,
    ) -> Result<(), Failure> {
        let id = self.job.deployment.id;
        let pool = &self.ctx.pool;
        let shown = shell_words::join(&plan.command);
        let row = slipway_store::deployments::get(pool, id)
            .await
            .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
        test_runs::progress(
            pool,
            id,
            TestRunStatus::Running,
            row.commit_sha.as_deref(),
            Some(&shown),
        )
        .await
        .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
        let one_off = self.one_off_spec(plan, image, port, spec).await?;
        self.slipway_line(format!(
            "Testing commit {} in {}: {shown} (time limit {})",
            row.commit_sha.as_deref().map(short_sha).unwrap_or("?"),
            one_off.image,
            humanize(plan.timeout)
        ));
        let tail = Mutex::new(VecDeque::with_capacity(TAIL_LINES));
        let sink = self.log.clone();
        let output = |line: LogLine| {
            if let Ok(mut tail) = tail.lock() {
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.text.clone());
            }
            sink.line("test", line.text);
        };
        let started = std::time::Instant::now();
        let ran = self
            .ctx
            .runtime
            .run_to_completion(&one_off, &output, &self.lost)
            .await;
        let tail: Vec<String> = tail.into_inner().map(Vec::from).unwrap_or_default();
        let completed = match ran {
            Ok(completed) if completed.stopped => return Err(Failure::Lost),
            Ok(completed) => completed,
            Err(e) => return Err(Failure::new(Phase::Test, e.to_string())),
        };
        let (ending, verdict) = judge(plan, &completed, &tail);
        self.log.flushed().await;
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
        test_runs::finish(&mut conn, &[id], &ending)
            .await
            .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
        if let Some(note) = &ending.note {
            self.slipway_line(note.clone());
        }
        match verdict {
            Ok(summary) => {
                self.slipway_line(format!(
                    "Tests passed in {:.1}s{summary}",
                    started.elapsed().as_secs_f64()
                ));
                Ok(())
            }
            Err(reason) => Err(Failure::new(Phase::Test, reason)),
        }
    }

    async fn one_off_spec(
        &self,
        plan: &TestPlan,
        image: &str,
        port: u16,
        spec: &AppSpec,
    ) -> Result<OneOffSpec, Failure> {
        let app = &self.job.app;
        let id = self.job.deployment.id;
        // The vars of the moment; the release snapshots them again when it starts.
        self.job
            .lease
            .snapshot_config()
            .await
            .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
        let snapshot = self
            .job
            .lease
            .config_snapshot()
            .await
            .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
        let mut vars: BTreeMap<String, String> =
            crate::replicas::open_vars(self.ctx.cipher.as_ref(), app.id, &snapshot)
                .map_err(|e| Failure::new(Phase::Config, e.reason()))?;
        vars.extend([
            ("PORT".to_owned(), port.to_string()),
            ("SLIPWAY_APP".to_owned(), app.name.clone()),
            ("SLIPWAY_PROCESS".to_owned(), "test".to_owned()),
            ("SLIPWAY_DEPLOYMENT_ID".to_owned(), id.to_string()),
            ("CI".to_owned(), "true".to_owned()),
        ]);
        // Tests run under the web process' limits: what the app is given to run in.
        let web = spec.process(WEB);
        let config = &self.ctx.config;
        Ok(OneOffSpec {
            env: Environment {
                app_id: app.id,
                app: app.name.clone(),
            },
            release: id,
            name: slipway_core::labels::container_name(&app.name, &id.to_string(), "test", 1),
            purpose: "test".to_owned(),
            image: plan.image.clone().unwrap_or_else(|| image.to_owned()),
            port,
            command: Some(plan.command.clone()),
            vars,
            memory: web.and_then(|p| p.memory).or(config.default_memory),
            cpus: web.and_then(|p| p.cpus).or(config.default_cpus),
            timeout: plan.timeout,
            collect: plan.report.clone(),
        })
    }
}

/// The run's ending, and Ok(summary) if the tests passed, else the deployment's reason.
fn judge(
    plan: &TestPlan,
    completed: &Completed,
    tail: &[String],
) -> (Ending, Result<String, String>) {
    let mut ending = Ending {
        exit_code: completed.exit_code.and_then(|c| i32::try_from(c).ok()),
        ..Ending::default()
    };
    if let (Some(path), Some(collected)) = (&plan.report, &completed.collected) {
        match collected {
            Collected::File(xml) => match crate::test_report::read(xml) {
                Ok((counts, failures)) => {
                    ending.counts = Some(counts);
                    ending.failures = failures;
                }
                Err(why) => ending.note = Some(format!("{path}: {why}")),
            },
            Collected::Missing => {
                ending.note = Some(format!(
                    "{path}: the test command wrote no report there ([test] report)"
                ));
            }
            Collected::Unreadable(why) => {
                ending.note = Some(format!("{path}: the report could not be read: {why}"));
            }
        }
    }
    let counted = ending
        .counts
        .map(|c| counts_text(&c, &ending.failures))
        .unwrap_or_default();
    let verdict = if completed.timed_out {
        Err(format!(
            "tests took longer than {} and were stopped; raise [test] timeout in the app's spec file (at most {}){counted}",
            humanize(plan.timeout),
            humanize(MAX_TEST_TIMEOUT)
        ))
    } else if completed.oom_killed {
        Err(format!(
            "tests were killed for going over the memory limit; raise [resources.web] memory{counted}"
        ))
    } else if completed.exit_code == Some(0) {
        Ok(counted)
    } else {
        Err(format!(
            "tests failed with exit code {}{counted}",
            completed
                .exit_code
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
        ))
    };
    ending.status = Some(if verdict.is_ok() {
        TestRunStatus::Passed
    } else {
        TestRunStatus::Failed
    });
    let verdict = verdict.map_err(|reason| {
        if tail.is_empty() {
            reason
        } else {
            format!("{reason}; last lines of output:\n{}", tail.join("\n"))
        }
    });
    (ending, verdict)
}

fn counts_text(c: &TestCounts, failures: &[TestFailure]) -> String {
    let mut text = format!(
        " ({} tests: {} passed, {} failed, {} skipped",
        c.total, c.passed, c.failed, c.skipped
    );
    if !failures.is_empty() {
        let named: Vec<String> = failures
            .iter()
            .take(NAMED_FAILURES)
            .map(|f| format!("{}.{}", f.suite, f.name))
            .collect();
        text.push_str(&format!("; failed: {}", named.join(", ")));
        if failures.len() > NAMED_FAILURES {
            text.push_str(", …");
        }
    }
    text.push(')');
    text
}
