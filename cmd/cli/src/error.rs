//! What can go wrong, shaped for people: every variant prints as one `error: …` line and
//! maps to an exit code, so no Rust error chain or debug output ever reaches the user.

use std::fmt;

/// Exit code for a followed deployment that did not end up running. Distinct from 1 (API
/// or usage error) and 2 (clap's usage errors) so scripts can tell a failed build apart.
pub const DEPLOYMENT_FAILED: i32 = 3;

#[derive(Debug)]
pub enum CliError {
    /// The API answered with its error document.
    Api {
        status: u16,
        message: String,
        field: Option<String>,
    },
    /// No HTTP answer at all: refused, DNS, timeout.
    Unreachable { url: String, detail: String },
    /// Bad input caught before any request was sent.
    Usage(String),
    /// A followed deployment ended in another state than `running`, or a followed test
    /// run did not pass; already reported.
    DeploymentFailed,
    /// Anything else (an unreadable config file, an unexpected response body).
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::DeploymentFailed => DEPLOYMENT_FAILED,
            _ => 1,
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A missing, unknown or expired token: say how to supply one.
            Self::Api {
                status: 401,
                message,
                ..
            } => write!(
                f,
                "{message} (set SLIPWAY_TOKEN or run slipway login --token)"
            ),
            Self::Api {
                message,
                field: Some(field),
                ..
            } if !message.contains(field.as_str()) => write!(f, "{message} (field: {field})"),
            Self::Api { message, .. } => f.write_str(message),
            Self::Unreachable { url, detail } => {
                write!(f, "cannot reach Slipway at {url}: {detail}")
            }
            Self::Usage(message) | Self::Other(message) => f.write_str(message),
            Self::DeploymentFailed => f.write_str("the deployment did not succeed"),
        }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
