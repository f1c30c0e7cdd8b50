//! Deployment work directories (`SLIPWAY_WORK_DIR/<deployment id>`, the clone and its
//! submodules). A run removes its own when it ends, but a worker killed mid-run cannot:
//! without a sweep each SIGKILL or OOM kill would leave a whole repository on disk.

use std::collections::HashMap;
use std::path::PathBuf;

use slipway_store::deployments;
use uuid::Uuid;

use crate::Context;

/// Removes the work directories of deployments that are finished or unknown. Those of
/// unfinished deployments stay: another worker sharing the directory may be using one,
/// and a handed-back deployment may be retried here. Other entries are not Slipway's and
/// are left alone. Returns what was removed.
pub(crate) async fn sweep(ctx: &Context) -> Vec<PathBuf> {
    let mut dirs: HashMap<Uuid, PathBuf> = HashMap::new();
    let mut entries = match tokio::fs::read_dir(&ctx.config.work_dir).await {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(dir = %ctx.config.work_dir.display(), error = %e, "could not read the work directory");
            return Vec::new();
        }
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|name| Uuid::parse_str(name).ok())
        {
            dirs.insert(id, entry.path());
        }
    }
    if dirs.is_empty() {
        return Vec::new();
    }
    let ids: Vec<Uuid> = dirs.keys().copied().collect();
    let statuses = match deployments::statuses(&ctx.pool, &ids).await {
        Ok(statuses) => statuses,
        Err(e) => {
            tracing::warn!(error = %e, "could not read deployment statuses; work directories kept");
            return Vec::new();
        }
    };
    for (id, status) in statuses {
        if status.is_unfinished() {
            dirs.remove(&id);
        }
    }
    let mut removed = Vec::new();
    for (id, dir) in dirs {
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {
                tracing::info!(deployment = %id, dir = %dir.display(), "removed a leftover work directory");
                removed.push(dir);
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove a leftover work directory")
            }
        }
    }
    removed
}
