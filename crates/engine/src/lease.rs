//! Keeps a claimed deployment's lease alive while its pipeline runs, and cancels the
//! pipeline as soon as the deployment is no longer this worker's (cancelled by a user,
//! superseded by a newer deployment, or reclaimed after a stall).

use std::time::Duration;

use slipway_store::lease::Lease;
use tokio_util::sync::CancellationToken;

pub struct LeaseKeeper {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl LeaseKeeper {
    pub fn spawn(lease: Lease, duration: Duration, lost: CancellationToken) -> Self {
        let stop = CancellationToken::new();
        let stop_rx = stop.clone();
        let handle = tokio::spawn(async move {
            let deployment_id = lease.deployment_id();
            let every = duration / 3;
            loop {
                tokio::select! {
                    _ = stop_rx.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                match lease.renew(duration).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::info!(%deployment_id, "deployment left this worker's hands; stopping its pipeline");
                        lost.cancel();
                        return;
                    }
                    // A database hiccup is not a lost lease; the next renewal may succeed,
                    // and if none does the lease expires and another worker reclaims it.
                    Err(e) => tracing::warn!(%deployment_id, error = %e, "could not renew lease"),
                }
            }
        });
        Self { stop, handle }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.handle.await;
    }
}
