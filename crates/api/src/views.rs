//! What the API returns: rows from the store shaped for users.

pub(crate) mod processes;
pub mod test_runs;

use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_core::{Config, DeploymentStatus};
use slipway_store::apps::AppRow;
use slipway_store::containers::ContainerRow;
use slipway_store::deployments::DeploymentRow;
use slipway_store::events::EventRow;
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AppView {
    pub id: Uuid,
    pub name: String,
    /// `null` for a push app: its code is pushed to `/git/<name>.git`.
    pub repo_url: Option<String>,
    /// None: the repository's default branch.
    pub branch: Option<String>,
    pub dockerfile: String,
    /// None: the image's single EXPOSEd port, else 80.
    pub port: Option<i32>,
    /// Path of the app spec file in the repository.
    pub spec_path: String,
    /// Replica counts set through the API (they override the spec's `replicas`).
    pub scale: std::collections::BTreeMap<String, u32>,
    /// Where finished deployments are POSTed (see `GET /api/v1/apps/{app}/callbacks`).
    pub callback_url: Option<String>,
    pub subdomain: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
}

impl AppView {
    pub fn new(app: AppRow, config: &Config) -> Self {
        Self {
            url: config.url_for(&app.name),
            subdomain: app.name.clone(),
            id: app.id,
            name: app.name,
            // Credentials in the URL are for git, not for every API reader.
            repo_url: app
                .repo_url
                .as_deref()
                .map(|url| slipway_core::validate::redact(url, url)),
            branch: app.branch,
            dockerfile: app.dockerfile,
            port: app.port,
            spec_path: app.spec_path,
            scale: app.scale.0,
            callback_url: app
                .callback_url
                .map(|url| slipway_core::validate::redact(&url, &url)),
            created_at: app.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeploymentView {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub status: DeploymentStatus,
    /// `build` (from git), `config` (config vars changed) or `rollback`.
    pub kind: String,
    /// The release whose image a config release or rollback reuses.
    pub source_deployment_id: Option<Uuid>,
    /// The phase that failed (clone, config, build, release), when status is failed.
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_message: Option<String>,
    pub image: Option<String>,
    pub port: Option<i32>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When it started serving; only such deployments can be rolled back to.
    pub released_at: Option<DateTime<Utc>>,
    /// Time from queueing to a worker picking it up.
    pub pickup_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<Vec<PhaseView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerView>>,
    /// Every status change and note (a replica that died, a scale change), oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PhaseView {
    pub phase: &'static str,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ContainerView {
    pub name: String,
    pub process: String,
    pub replica: i32,
    pub ip: Option<String>,
    pub port: i32,
    pub host_port: Option<i32>,
}

impl From<ContainerRow> for ContainerView {
    fn from(c: ContainerRow) -> Self {
        Self {
            name: c.name,
            process: c.process,
            replica: c.replica,
            ip: c.ip,
            port: c.port,
            host_port: c.host_port,
        }
    }
}

impl DeploymentView {
    pub fn summary(d: DeploymentRow) -> Self {
        Self {
            pickup_ms: d.started_at.map(|s| (s - d.created_at).num_milliseconds()),
            id: d.id,
            app_id: d.app_id,
            app_name: d.app_name,
            git_ref: d.git_ref,
            status: d.status,
            kind: d.kind.as_str().to_owned(),
            source_deployment_id: d.source_deployment_id,
            phase: d.failed_phase.map(|p| p.as_str().to_owned()),
            reason: d.reason,
            commit_sha: d.commit_sha,
            commit_message: d.commit_message,
            image: d.image,
            port: d.port,
            attempts: d.attempts,
            created_at: d.created_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
            released_at: d.released_at,
            phases: None,
            containers: None,
            events: None,
        }
    }

    pub fn detailed(d: DeploymentRow, events: &[EventRow], containers: Vec<ContainerRow>) -> Self {
        let mut view = Self::summary(d);
        view.phases = Some(phases(events));
        view.events = Some(
            events
                .iter()
                .map(|e| EventView {
                    status: e.status,
                    message: e.message.clone(),
                    at: e.at,
                })
                .collect(),
        );
        view.containers = Some(containers.into_iter().map(ContainerView::from).collect());
        view
    }
}

/// A phase lasts from the event that entered it to the next event, whatever that was.
fn phases(events: &[EventRow]) -> Vec<PhaseView> {
    events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let phase = e.status.phase()?.as_str();
            let finished_at = events.get(i + 1).map(|next| next.at);
            Some(PhaseView {
                phase,
                started_at: e.at,
                finished_at,
                duration_ms: finished_at.map(|f| (f - e.at).num_milliseconds()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_measured_between_events() {
        let t0 = Utc::now();
        let at = |ms| t0 + chrono::Duration::milliseconds(ms);
        let ev = |status, ms| EventRow {
            status,
            message: None,
            at: at(ms),
        };
        let events = [
            ev(DeploymentStatus::Pending, 0),
            ev(DeploymentStatus::Cloning, 10),
            ev(DeploymentStatus::Building, 110),
            ev(DeploymentStatus::Releasing, 1110),
        ];
        let p = phases(&events);
        let got: Vec<_> = p.iter().map(|p| (p.phase, p.duration_ms)).collect();
        assert_eq!(
            got,
            [
                ("clone", Some(100)),
                ("build", Some(1000)),
                ("release", None)
            ]
        );
    }
}
