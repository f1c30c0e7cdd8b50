//! Removing a deleted app from the runtime: its containers and images, found by the
//! ownership labels, then the app's rows.

use std::time::Duration;

use slipway_core::labels::LABEL_APP_ID;
use slipway_store::apps::{self, Teardown};

use crate::Context;

#[tracing::instrument(skip_all, fields(app = %teardown.app.name, app_id = %teardown.app.id))]
pub(crate) async fn run(ctx: &Context, teardown: Teardown) {
    let app_id = teardown.app.id.to_string();
    let filter = [(LABEL_APP_ID, app_id.as_str())];
    let result = async {
        for c in ctx.docker.list_containers(&filter).await? {
            ctx.docker
                .stop_and_remove(&c.id, Duration::from_secs(10))
                .await?;
            tracing::info!(container = %c.name, "removed container");
        }
        for image in ctx.docker.list_images(&filter).await? {
            ctx.docker.remove_image(&image.id).await?;
            tracing::info!(image = %image.id, "removed image");
        }
        Ok::<(), slipway_docker::DockerError>(())
    }
    .await;
    match result {
        // The row goes only once the runtime is clean; otherwise the lock is released
        // and the next pass tries again.
        Ok(()) => match apps::finish_teardown(teardown).await {
            Ok(()) => tracing::info!("app removed"),
            Err(e) => tracing::error!(error = %e, "could not remove the app's rows"),
        },
        Err(e) => tracing::warn!(error = %e, "teardown incomplete; will retry"),
    }
}
