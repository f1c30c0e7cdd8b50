//! The deployment state machine. Every status change is persisted as one row update plus
//! one event row, so these enums are also the vocabulary of the event history.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "deployment_status", rename_all = "snake_case")
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeploymentStatus {
    /// Queued; no worker has claimed it yet.
    Pending,
    /// A worker is fetching the commit from the repository.
    Cloning,
    /// The image is being built by the Docker Engine.
    Building,
    /// The repository's tests are running in an isolated container.
    Testing,
    /// Containers are starting and must answer HTTP before they take traffic.
    Releasing,
    /// The release is healthy and serving.
    Running,
    /// A phase failed; `phase` and `reason` say which and why.
    Failed,
    /// Stopped on request (or because its app was deleted) before it finished.
    Cancelled,
    /// A newer deployment of the same app took over.
    Superseded,
    /// The running release's containers died and Docker gave up restarting them.
    Crashed,
    /// Replaced by a rollback to an earlier release.
    RolledBack,
}

impl DeploymentStatus {
    pub const ALL: [Self; 11] = [
        Self::Pending,
        Self::Cloning,
        Self::Building,
        Self::Testing,
        Self::Releasing,
        Self::Running,
        Self::Failed,
        Self::Cancelled,
        Self::Superseded,
        Self::Crashed,
        Self::RolledBack,
    ];

    /// Statuses in which a worker holds the deployment under a lease.
    pub const IN_FLIGHT: [Self; 4] = [
        Self::Cloning,
        Self::Building,
        Self::Testing,
        Self::Releasing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Cloning => "cloning",
            Self::Building => "building",
            Self::Testing => "testing",
            Self::Releasing => "releasing",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Superseded => "superseded",
            Self::Crashed => "crashed",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn is_in_flight(self) -> bool {
        Self::IN_FLIGHT.contains(&self)
    }

    /// Queued or in flight: work that a newer deployment or a cancel can still stop.
    pub fn is_unfinished(self) -> bool {
        self == Self::Pending || self.is_in_flight()
    }

    /// The phase a worker is in while it holds this status.
    pub fn phase(self) -> Option<Phase> {
        match self {
            Self::Cloning => Some(Phase::Clone),
            Self::Building => Some(Phase::Build),
            Self::Testing => Some(Phase::Test),
            Self::Releasing => Some(Phase::Release),
            _ => None,
        }
    }

    /// Whether the pipeline may move from `self` to `next`. Terminal states only move on
    /// through the watcher or a rollback (`running` → `crashed`, `superseded`, `rolled_back`).
    pub fn can_become(self, next: Self) -> bool {
        use DeploymentStatus::*;
        match (self, next) {
            // Config releases and rollbacks reuse an image: they go straight to releasing.
            (Pending, Cloning | Releasing | Cancelled | Superseded | Failed) => true,
            (Cloning, Building | Testing | Releasing) => true,
            (Building, Testing | Releasing) => true,
            (Testing, Releasing) => true,
            (Releasing, Running) => true,
            (Cloning | Building | Testing | Releasing, Failed | Cancelled | Superseded) => true,
            // A lost worker's deployment goes back to the queue for its retry.
            (Cloning | Building | Testing | Releasing, Pending) => true,
            (Running, Superseded | Crashed | RolledBack) => true,
            _ => false,
        }
    }
}

impl fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The step of the pipeline a failure belongs to, as reported in `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Clone,
    Config,
    Build,
    Test,
    Release,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clone => "clone",
            Self::Config => "config",
            Self::Build => "build",
            Self::Test => "test",
            Self::Release => "release",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Clone,
            Self::Config,
            Self::Build,
            Self::Test,
            Self::Release,
        ]
        .into_iter()
        .find(|p| p.as_str() == raw)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_match_as_str() {
        // Both spellings reach users (JSON and the Postgres enum), so they must agree.
        for s in DeploymentStatus::ALL {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, serde_json::Value::String(s.as_str().into()));
            let back: DeploymentStatus = serde_json::from_value(json).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn pipeline_order_is_allowed_and_terminal_states_stay_put() {
        use DeploymentStatus::*;
        let path = [Pending, Cloning, Building, Releasing, Running];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
        assert!(!Failed.can_become(Running));
        assert!(!Cancelled.can_become(Cloning));
        assert!(!Superseded.can_become(Running));
        assert!(!Running.can_become(Building));
    }

    #[test]
    fn phases_round_trip() {
        for p in [
            Phase::Clone,
            Phase::Config,
            Phase::Build,
            Phase::Test,
            Phase::Release,
        ] {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
        assert_eq!(DeploymentStatus::Building.phase(), Some(Phase::Build));
        assert_eq!(DeploymentStatus::Running.phase(), None);
    }
}
