use slipway_core::Phase;

/// Why a pipeline run ended early.
#[derive(Debug)]
pub enum Failure {
    /// A phase failed; the reason is written for the user who has to fix it.
    Phase { phase: Phase, reason: String },
    /// The deployment left this worker's hands (cancelled, superseded, reclaimed, or the
    /// worker is shutting down): someone else has already recorded its status.
    Lost,
}

impl Failure {
    pub fn new(phase: Phase, reason: impl Into<String>) -> Self {
        Failure::Phase {
            phase,
            reason: reason.into(),
        }
    }

    /// An infrastructure error (database, Docker) during `phase`, worded for the user.
    pub fn infra(phase: Phase, what: &str, err: impl std::fmt::Display) -> Self {
        Failure::new(phase, format!("{what}: {err}"))
    }
}
