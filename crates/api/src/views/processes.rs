//! What the processes of an app look like to users: the API's `/processes` and the
//! dashboard's app page both show this.

use std::collections::BTreeMap;

use serde::Serialize;
use slipway_core::spec::{AppSpec, ProcessSpec};
use slipway_store::apps::AppRow;
use slipway_store::deployments::{self, DeploymentRow};

use super::ContainerView;
use crate::error::OrNotFound;
use crate::{ApiError, AppState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProcessView {
    /// Replicas wanted: the API's scale where set, else the spec's.
    pub replicas: u32,
    pub command: Option<Vec<String>>,
    /// Only `web` is routed by Traefik.
    pub routed: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProcessesView {
    /// The running release they belong to, if any.
    pub deployment_id: Option<uuid::Uuid>,
    pub processes: BTreeMap<String, ProcessView>,
    /// The containers the running release has now (scaling takes a moment).
    pub containers: Vec<ContainerView>,
}

/// The running release and the spec it runs with; before the first release, the
/// defaults (a `web` process only).
pub(crate) async fn running(
    state: &AppState,
    app: &AppRow,
) -> Result<(Option<DeploymentRow>, AppSpec), ApiError> {
    let current = deployments::current_release(&state.pool, app.id)
        .await
        .or_not_found("app")?;
    let spec = current
        .as_ref()
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| serde_json::from_value::<AppSpec>(s.0.clone()).ok())
        .unwrap_or_default();
    Ok((current, spec))
}

pub(crate) async fn view(state: &AppState, app: &AppRow) -> Result<ProcessesView, ApiError> {
    let (current, spec) = running(state, app).await?;
    let processes = spec
        .processes
        .iter()
        .map(|(name, p)| {
            let replicas = app.scale.0.get(name).copied().unwrap_or(p.replicas);
            let view = ProcessView {
                replicas,
                command: p.command.clone(),
                routed: ProcessSpec::is_web(name),
            };
            (name.clone(), view)
        })
        .collect();
    let containers = match &current {
        Some(d) => slipway_store::containers::list(&state.pool, d.id)
            .await
            .or_not_found("app")?
            .into_iter()
            .map(ContainerView::from)
            .collect(),
        None => Vec::new(),
    };
    Ok(ProcessesView {
        deployment_id: current.map(|d| d.id),
        processes,
        containers,
    })
}
