//! Brings the runtime in line with the database, controller-style: the current release
//! of each app has the replicas its scale asks for, and replicas that died, were killed
//! or were removed outside Slipway are recreated after a back-off that grows with their
//! recent deaths. A reconciliation that fails is retried with back-off
//! ([`controller`]), and every app is reconciled again every `SLIPWAY_RESYNC_INTERVAL`,
//! so the runtime converges on what the database wants without a worker restart.

mod app;
pub mod controller;
mod sweep;

pub use app::{Reconciled, reconcile_app};
pub use controller::ReconcileQueue;
pub use sweep::reconcile_all;

use std::time::Duration;

/// A replica that dies this often within [`CRASH_WINDOW`] (restarts by the runtime
/// included) turns its release `crashed`, and is no longer recreated: like
/// Kubernetes' CrashLoopBackOff, but with a verdict a user sees.
pub const CRASH_LIMIT: i64 = 5;
pub const CRASH_WINDOW: Duration = Duration::from_secs(10 * 60);

/// A replica's deaths within [`CRASH_WINDOW`] before `at`: what both the crash verdict
/// (watcher) and the recreation back-off (reconciler) are judged on.
pub(crate) async fn recent_deaths(
    pool: &slipway_store::PgPool,
    release: uuid::Uuid,
    replica: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<slipway_store::deaths::Recent, slipway_store::StoreError> {
    let since = at - chrono::Duration::from_std(CRASH_WINDOW).unwrap_or_default();
    slipway_store::deaths::recent(pool, release, replica, since).await
}

/// How long after its `deaths`-th recent death a replica is recreated: 1 s, 2 s, 4 s …
pub(crate) fn recreate_backoff(deaths: i64) -> Duration {
    let exponent = u32::try_from(deaths.clamp(1, 9) - 1).unwrap_or(0);
    Duration::from_secs(1 << exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second() {
        assert_eq!(recreate_backoff(0), Duration::from_secs(1));
        assert_eq!(recreate_backoff(1), Duration::from_secs(1));
        assert_eq!(recreate_backoff(2), Duration::from_secs(2));
        assert_eq!(recreate_backoff(4), Duration::from_secs(8));
        assert_eq!(recreate_backoff(1000), Duration::from_secs(256));
    }
}
