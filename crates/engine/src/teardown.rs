//! Removing a deleted app: its environment from the runtime (replicas, network), its
//! images (this installation's, by their labels), then its rows.

use std::time::Duration;

use slipway_store::apps::{self, Teardown};
use slipway_store::{containers, deployments, images};
use uuid::Uuid;

use crate::Context;
use crate::app_images::owned_tags;
use crate::runtime::docker::docker_err;
use crate::runtime::{Environment, RuntimeError};

#[tracing::instrument(skip_all, fields(app = %teardown.app.name, app_id = %teardown.app.id))]
pub(crate) async fn run(ctx: &Context, teardown: Teardown) {
    let env = Environment {
        app_id: teardown.app.id,
        app: teardown.app.name.clone(),
    };
    let result = async {
        ctx.runtime.destroy(&env).await?;
        // By tag, not id: an identical build of another app shares the image id, and
        // removing the id would take that app's tag with it.
        // Only this installation's: another one on the same Docker host may have an
        // app of the same name.
        let tags = owned_tags(&ctx.docker, &ctx.config.network, &teardown.app.name)
            .await
            .map_err(|e| docker_err("could not list the app's images", e))?;
        for tag in tags {
            ctx.docker
                .remove_image(&tag)
                .await
                .map_err(|e| docker_err("could not remove the app's image", e))?;
            tracing::info!(%tag, "removed image");
        }
        Ok::<(), RuntimeError>(())
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

/// Removes the containers and image of a deployment whose worker was lost for good.
#[tracing::instrument(skip(ctx))]
pub(crate) async fn remove_deployment_leftovers(ctx: &Context, deployment_id: Uuid) {
    match ctx.runtime.retire(deployment_id, Duration::ZERO).await {
        Ok(removed) => {
            for name in removed {
                tracing::info!(replica = %name, "removed a lost worker's replica");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not remove a lost worker's replicas"),
    }
    if let Err(e) = containers::forget_all(&ctx.pool, deployment_id).await {
        tracing::warn!(error = %e, "could not forget a lost worker's containers");
    }
    // Only found when the lost worker shared this one's work directory (restarted on
    // the same host, say); elsewhere the start-up sweep of that host removes it.
    let dir = ctx.config.work_dir.join(deployment_id.to_string());
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => tracing::info!(dir = %dir.display(), "removed a lost worker's work directory"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a lost worker's work directory")
        }
    }
    if let Ok(Some(image)) = deployments::get(&ctx.pool, deployment_id)
        .await
        .map(|d| d.image)
        && let Ok(false) = images::needed_elsewhere(&ctx.pool, &image, deployment_id).await
        && let Err(e) = ctx.docker.remove_image(&image).await
    {
        tracing::warn!(%image, error = %e, "could not remove a lost worker's image");
    }
}
