//! Which images must stay: the worker prunes an app's old images and removes the image
//! of a failed build, but never one a deployment may still run.

use slipway_core::DeploymentStatus;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// Images of the app that must stay: those of unfinished or serving deployments (a
/// queued rollback or config release will need them) and of the `keep` releases that
/// served last.
pub async fn to_keep(pool: &PgPool, app_id: Uuid, keep: i64) -> Result<Vec<String>, StoreError> {
    let wanted: Vec<DeploymentStatus> = DeploymentStatus::UNFINISHED
        .into_iter()
        .chain(DeploymentStatus::SERVING)
        .collect();
    Ok(sqlx::query_scalar(
        "SELECT image FROM deployments
         WHERE app_id = $1 AND image IS NOT NULL AND status = ANY($3)
         UNION
         SELECT image FROM (
             SELECT image, max(released_at) AS last FROM deployments
             WHERE app_id = $1 AND image IS NOT NULL AND released_at IS NOT NULL
             GROUP BY image ORDER BY last DESC LIMIT $2
         ) recent",
    )
    .bind(app_id)
    .bind(keep)
    .bind(wanted)
    .fetch_all(pool)
    .await?)
}

/// Whether a deployment other than `except` still needs `image`: one that is unfinished
/// or that once served (a rollback target).
pub async fn needed_elsewhere(
    pool: &PgPool,
    image: &str,
    except: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deployments WHERE image = $1 AND id <> $2
             AND (released_at IS NOT NULL OR status = ANY($3)))",
    )
    .bind(image)
    .bind(except)
    .bind(&DeploymentStatus::UNFINISHED[..])
    .fetch_one(pool)
    .await?)
}
