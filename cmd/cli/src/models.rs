//! The parts of the API's documents the CLI shows. Lenient on purpose: unknown fields are
//! ignored and most fields are optional, so a newer server does not break an older CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Deserialize, Debug)]
pub struct App {
    pub name: String,
    /// `None`: a push app, whose code is pushed to Slipway with git.
    pub repo_url: Option<String>,
    pub branch: Option<String>,
    pub dockerfile: Option<String>,
    pub port: Option<i64>,
    #[serde(default)]
    pub scale: BTreeMap<String, u32>,
    pub url: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub deployment: Option<Deployment>,
}

#[derive(Deserialize, Debug)]
pub struct Deployment {
    pub id: String,
    pub app_name: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub status: String,
    pub kind: Option<String>,
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_message: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub phases: Vec<Phase>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub containers: Vec<Container>,
}

impl Deployment {
    /// Statuses from which the pipeline still moves on by itself.
    pub fn is_unfinished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "pending" | "cloning" | "building" | "testing" | "releasing"
        )
    }

    pub fn short_sha(&self) -> Option<&str> {
        self.commit_sha.as_deref().map(|s| s.get(..10).unwrap_or(s))
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct Phase {
    pub phase: String,
    pub duration_ms: Option<i64>,
}

#[derive(Deserialize, Debug)]
pub struct Event {
    pub status: String,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Deserialize, Debug)]
pub struct Container {
    pub name: String,
    pub process: String,
    pub ip: Option<String>,
    pub port: Option<i64>,
}

#[derive(Deserialize, Debug)]
pub struct BuildLines {
    pub lines: Vec<BuildLine>,
    pub next_after: i64,
}

#[derive(Deserialize, Debug)]
pub struct BuildLine {
    pub stream: String,
    pub line: String,
}

#[derive(Deserialize, Debug)]
pub struct RuntimeLine {
    pub container: String,
    pub stream: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub line: String,
}

#[derive(Deserialize, Debug)]
pub struct ConfigChange {
    pub config: BTreeMap<String, String>,
    pub release: Option<Deployment>,
    pub applies_to: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Processes {
    pub processes: BTreeMap<String, Process>,
}

#[derive(Deserialize, Debug)]
pub struct Process {
    pub replicas: u32,
    pub routed: bool,
}

#[derive(Deserialize, Debug)]
pub struct TestRun {
    pub id: String,
    pub status: String,
    pub commit_sha: Option<String>,
    pub exit_code: Option<i64>,
    pub duration_ms: Option<i64>,
    pub tests: Option<TestCounts>,
    #[serde(default)]
    pub failures: Vec<TestFailure>,
    pub note: Option<String>,
}

impl TestRun {
    pub fn is_unfinished(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "building" | "running")
    }
}

#[derive(Deserialize, Debug)]
pub struct TestCounts {
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
}

#[derive(Deserialize, Debug)]
pub struct TestFailure {
    pub suite: String,
    pub name: String,
    pub message: String,
}
