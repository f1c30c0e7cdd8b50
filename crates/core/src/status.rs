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
    /// A test-only deployment (a standalone test run) whose tests passed; it releases
    /// nothing.
    Tested,
}

impl DeploymentStatus {
    pub const ALL: [Self; 12] = [
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
        Self::Tested,
    ];

    /// Statuses in which a worker holds the deployment under a lease.
    pub const IN_FLIGHT: [Self; 4] = [
        Self::Cloning,
        Self::Building,
        Self::Testing,
        Self::Releasing,
    ];

    /// Queued or in flight: work that a newer deployment or a cancel can still stop.
    pub const UNFINISHED: [Self; 5] = [
        Self::Pending,
        Self::Cloning,
        Self::Building,
        Self::Testing,
        Self::Releasing,
    ];

    /// Releases that own the app's containers: running, or crashed (which still owns
    /// whatever containers survived until a newer release replaces it).
    pub const SERVING: [Self; 2] = [Self::Running, Self::Crashed];

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
            Self::Tested => "tested",
        }
    }

    pub fn is_in_flight(self) -> bool {
        Self::IN_FLIGHT.contains(&self)
    }

    /// Queued or in flight: work that a newer deployment or a cancel can still stop.
    pub fn is_unfinished(self) -> bool {
        Self::UNFINISHED.contains(&self)
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
            (Testing, Releasing | Tested) => true,
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
    pub const ALL: [Self; 5] = [
        Self::Clone,
        Self::Config,
        Self::Build,
        Self::Test,
        Self::Release,
    ];

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
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a deployment gets its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Clone and build (or reuse the image of the same commit).
    Build,
    /// The current release's image again, with changed config vars.
    Config,
    /// An earlier release's image and config vars again.
    Rollback,
    /// Clone, build (or reuse) and run the tests, releasing nothing: the carrier of a
    /// standalone test run, never listed as a deployment.
    Test,
}

impl Kind {
    pub const ALL: [Self; 4] = [Self::Build, Self::Config, Self::Rollback, Self::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Config => "config",
            Self::Rollback => "rollback",
            Self::Test => "test",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The status a worker claims a deployment into: config releases and rollbacks
    /// reuse an image, so they go straight to releasing.
    pub fn first_status(self) -> DeploymentStatus {
        match self {
            Self::Build | Self::Test => DeploymentStatus::Cloning,
            Self::Config | Self::Rollback => DeploymentStatus::Releasing,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a test run stands. The last four are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TestRunStatus {
    /// Waiting for a worker.
    Queued,
    /// The commit is being fetched and its image built (or reused).
    Building,
    /// The test command is running.
    Running,
    /// The command exited 0.
    Passed,
    /// The command exited non-zero, was killed, or ran out of time.
    Failed,
    /// The tests could not run (the build failed, the runtime refused, the worker was
    /// lost): says nothing about the code's tests.
    Error,
    /// Stopped on request, or with the deployment that carried it.
    Cancelled,
}

impl TestRunStatus {
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Building,
        Self::Running,
        Self::Passed,
        Self::Failed,
        Self::Error,
        Self::Cancelled,
    ];

    pub const UNFINISHED: [Self; 3] = [Self::Queued, Self::Building, Self::Running];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Building => "building",
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_finished(self) -> bool {
        !Self::UNFINISHED.contains(&self)
    }
}

impl fmt::Display for TestRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Postgres `text` columns holding one of an enum's `as_str` spellings. Decoding a
/// spelling the enum does not know is an error: a silent default would misreport (or
/// misrun) a deployment written by a newer Slipway or edited by hand.
#[cfg(feature = "sqlx")]
mod text_columns {
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Encode, Postgres, Type};

    use super::{Kind, Phase, TestRunStatus};

    #[derive(Debug, thiserror::Error)]
    #[error("unknown {what} {value:?} in the database")]
    pub struct UnknownValue {
        pub what: &'static str,
        pub value: String,
    }

    macro_rules! text_column {
        ($ty:ty, $what:literal) => {
            impl Type<Postgres> for $ty {
                fn type_info() -> PgTypeInfo {
                    <&str as Type<Postgres>>::type_info()
                }

                fn compatible(ty: &PgTypeInfo) -> bool {
                    <&str as Type<Postgres>>::compatible(ty)
                }
            }

            impl Encode<'_, Postgres> for $ty {
                fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                    <&str as Encode<Postgres>>::encode(self.as_str(), buf)
                }
            }

            impl<'r> Decode<'r, Postgres> for $ty {
                fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                    let raw = <&str as Decode<Postgres>>::decode(value)?;
                    <$ty>::parse(raw).ok_or_else(|| {
                        UnknownValue {
                            what: $what,
                            value: raw.to_owned(),
                        }
                        .into()
                    })
                }
            }
        };
    }

    text_column!(Phase, "phase");
    text_column!(Kind, "deployment kind");
    text_column!(TestRunStatus, "test run status");
}

#[cfg(feature = "sqlx")]
pub use text_columns::UnknownValue;

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
    fn phases_and_kinds_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
        assert_eq!(Phase::parse("deploy"), None);
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("Build"), None);
        for s in TestRunStatus::ALL {
            assert_eq!(TestRunStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, serde_json::Value::String(s.as_str().into()));
        }
        for k in Kind::ALL {
            assert!(
                DeploymentStatus::Pending.can_become(k.first_status()),
                "{k}"
            );
        }
        assert_eq!(DeploymentStatus::Building.phase(), Some(Phase::Build));
        assert_eq!(DeploymentStatus::Running.phase(), None);
    }

    #[test]
    fn status_groups_are_consistent() {
        use DeploymentStatus::*;
        for s in DeploymentStatus::ALL {
            // Every in-flight status, and only those, has the phase its failure is filed under.
            assert_eq!(s.is_in_flight(), s.phase().is_some(), "{s}");
            assert_eq!(s.is_unfinished(), s == Pending || s.is_in_flight(), "{s}");
            // Only unfinished work can be stopped by a cancel or a newer deployment.
            assert_eq!(s.is_unfinished(), s.can_become(Cancelled), "{s}");
        }
        assert!(DeploymentStatus::SERVING.iter().all(|s| !s.is_unfinished()));
    }
}
