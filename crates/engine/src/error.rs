//! Errors of the engine's own work (reconciling, tearing down, reading a release back),
//! each knowing the reason a user can act on and the label it is counted under.

use slipway_store::StoreError;

use crate::runtime::RuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    /// Already worded for the deployment log by the runtime.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A stored release that cannot be run as it is (an unreadable spec, config vars
    /// this worker cannot decrypt); the message says which and what to do.
    #[error("{0}")]
    Release(String),
}

impl From<sqlx::Error> for EngineError {
    fn from(e: sqlx::Error) -> Self {
        EngineError::Store(e.into())
    }
}

impl EngineError {
    /// The reason as a user reads it in a deployment's log or events.
    pub fn reason(&self) -> String {
        self.to_string()
    }

    /// For metrics: which kind of failure, never its text.
    pub fn label(&self) -> &'static str {
        match self {
            EngineError::Store(_) => "database",
            EngineError::Runtime(e) => e.label(),
            EngineError::Release(_) => "release",
        }
    }
}
