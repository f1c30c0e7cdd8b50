//! A test run as users see it: `GET /api/v1/test-runs/{id}`, the lists, and later the
//! callbacks and WebSocket results, all carry this same JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_core::TestRunStatus;
use slipway_store::test_runs::TestRunRow;
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestRunView {
    pub id: Uuid,
    /// The app's name.
    pub app: String,
    pub status: TestRunStatus,
    /// Known once the commit is fetched.
    pub commit_sha: Option<String>,
    /// The command run, as a shell would read it; known once the spec is read.
    pub command: Option<String>,
    pub exit_code: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// The deployment whose release these tests gate; absent for a standalone run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<Uuid>,
    /// Read from the JUnit report (`[test] report`); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<TestCountsView>,
    /// The report's failed and errored test cases (the first 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<TestFailureView>>,
    /// Why there are no counts (a missing or malformed report), or why the run errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestCountsView {
    pub total: i32,
    pub passed: i32,
    pub failed: i32,
    pub skipped: i32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestFailureView {
    pub suite: String,
    pub name: String,
    pub message: String,
}

impl From<TestRunRow> for TestRunView {
    fn from(t: TestRunRow) -> Self {
        let counts = t.counts();
        Self {
            deployment_id: t.gated_deployment(),
            id: t.id,
            app: t.app_name,
            status: t.status,
            commit_sha: t.commit_sha,
            command: t.command,
            exit_code: t.exit_code,
            started_at: t.started_at,
            finished_at: t.finished_at,
            duration_ms: t.duration_ms,
            tests: counts.map(|c| TestCountsView {
                total: c.total,
                passed: c.passed,
                failed: c.failed,
                skipped: c.skipped,
            }),
            failures: counts.and(t.failures).map(|f| {
                f.0.into_iter()
                    .map(|f| TestFailureView {
                        suite: f.suite,
                        name: f.name,
                        message: f.message,
                    })
                    .collect()
            }),
            note: t.note,
        }
    }
}
