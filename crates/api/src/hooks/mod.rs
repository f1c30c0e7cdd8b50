//! `POST /hooks/{provider}/{app}`: signed deliveries from GitHub, Gitea and GitLab. No
//! bearer token: the signature over the raw body, made with the app's webhook secret,
//! is the authentication, and it is checked before a byte of the body is parsed.

mod payload;
mod provider;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use slipway_core::GitRef;
use slipway_core::webhook::normalise_repo_url;
use slipway_store::apps::{self, AppRow, Owner};
use slipway_store::deployments;
use slipway_store::webhooks::{self, Delivery, PullRequestRow};
use sqlx::PgConnection;

use crate::error::OrNotFound;
use crate::views::DeploymentView;
use crate::{ApiError, AppState};
use payload::{Event, Malformed, Push, Repository};
pub(crate) use provider::Provider;

/// Forges send whole commit lists; GitHub caps its payloads at 25 MB, but a push that
/// deploys needs far less than this.
pub const MAX_HOOK_BODY: usize = 1024 * 1024;

/// The answer to a delivery, also what a repeat of it gets again.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HookAnswer {
    /// `deploying`, `ignored` or `recorded` (a pull request event).
    pub result: String,
    /// Why an event was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The deployment a push queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestView>,
    /// Set on a repeated delivery id: nothing was done this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
    /// The status the first delivery with this id was answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_status: Option<u16>,
}

/// A recorded pull (merge) request event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PullRequestView {
    pub number: i64,
    /// `opened`, `closed`, `reopened`, `synchronized` (new commits), `edited`, … as the
    /// forge says, with GitHub's `synchronize` and GitLab's `open`/`close`/`reopen`/
    /// `merge`/`update` mapped onto these words.
    pub action: String,
    pub head_sha: String,
    pub head_ref: Option<String>,
    pub head_repo: Option<String>,
    pub base_ref: Option<String>,
    pub base_repo: Option<String>,
    pub merged: bool,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

impl From<PullRequestRow> for PullRequestView {
    fn from(r: PullRequestRow) -> Self {
        Self {
            number: r.number,
            action: r.action,
            head_sha: r.head_sha,
            head_ref: r.head_ref,
            head_repo: r.head_repo,
            base_ref: r.base_ref,
            base_repo: r.base_repo,
            merged: r.merged,
            received_at: r.received_at,
        }
    }
}

impl HookAnswer {
    fn ignored(reason: impl Into<String>) -> (StatusCode, Self) {
        (
            StatusCode::ACCEPTED,
            Self {
                result: "ignored".to_owned(),
                reason: Some(reason.into()),
                deployment: None,
                pull_request: None,
                replayed: None,
                first_status: None,
            },
        )
    }
}

/// Receive a forge's webhook delivery.
///
/// A push to the app's branch (default: the repository's default branch) deploys its
/// head commit; pings, tags, other branches, branch deletions and other events are
/// acknowledged and ignored; pull (merge) request events are recorded. A delivery id
/// seen in the last 24 hours gets its first answer again (200) and does nothing.
#[utoipa::path(post, path = "/hooks/{provider}/{app}", tag = "webhooks", security(()),
    params(
        ("provider" = String, Path, description = "`github`, `gitea` or `gitlab`"),
        ("app" = String, Path, description = "The app's name or id"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "GitHub: `sha256=` + hex HMAC-SHA256 of the body"),
        ("X-Gitea-Signature" = Option<String>, Header, description = "Gitea: hex HMAC-SHA256 of the body"),
        ("X-Gitlab-Token" = Option<String>, Header, description = "GitLab: the secret itself"),
    ),
    request_body(content = Object, description = "The forge's JSON payload, as sent", content_type = "application/json"),
    responses(
        (status = 200, description = "A repeated delivery id: the first answer, with `replayed` and `first_status`; nothing done", body = HookAnswer),
        (status = 201, description = "A push to the tracked branch: deployment of its head commit queued", body = HookAnswer),
        (status = 202, description = "Acknowledged: ignored (with `reason`) or a pull request recorded", body = HookAnswer),
        (status = 401, description = "Signature missing or wrong; nothing done", body = crate::error::Body),
        (status = 404, description = "No such app or provider", body = crate::error::Body),
        (status = 413, description = "Body over 1 MiB", body = crate::error::Body),
        (status = 422, description = "Malformed payload, missing header, or another repository than the app's; `field` names it", body = crate::error::Body),
        (status = 503, description = "The app's secret is encrypted and this server lacks SLIPWAY_SECRET_KEY, or the database is unavailable", body = crate::error::Body)))]
pub async fn receive(
    State(state): State<AppState>,
    Path((provider, app)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body).await?;
    let provider = Provider::parse(&provider).ok_or_else(|| ApiError::not_found("provider"))?;
    let app = apps::find(&state.pool, Owner::Any, &app)
        .await
        .or_not_found("app")?;
    let secret = crate::webhook_secret::existing(&state, app.id).await?;
    if !secret.is_some_and(|s| provider.verify(&headers, s.as_bytes(), &body)) {
        tracing::warn!(app = %app.name, provider = provider.as_str(), "webhook refused: bad or missing signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            format!(
                "the {} header is missing or does not match this app's webhook secret \
                 (GET /api/v1/apps/{}/webhook shows it)",
                provider.signature_header(),
                app.name
            ),
        ));
    }
    let event = header(&headers, provider.event_header())?;
    let delivery_id = header(&headers, provider.delivery_header())?;
    let mut tx = state
        .pool
        .begin()
        .await
        .map_err(|e| ApiError::store("app", e.into()))?;
    let claimed = webhooks::claim_delivery(&mut tx, app.id, provider.as_str(), &delivery_id)
        .await
        .or_not_found("app")?;
    if let Delivery::Seen { status, body } = claimed {
        tracing::info!(app = %app.name, delivery_id, "webhook delivery repeated; answered as before");
        return Ok(replay(status, &body));
    }
    let (status, answer) = act(&mut tx, provider, &app, &event, &delivery_id, &body).await?;
    let text = serde_json::to_string(&answer).map_err(|e| ApiError::internal("serialize", e))?;
    webhooks::answered(
        &mut tx,
        app.id,
        provider.as_str(),
        &delivery_id,
        status.as_u16(),
        &text,
    )
    .await
    .or_not_found("app")?;
    tx.commit()
        .await
        .map_err(|e| ApiError::store("app", e.into()))?;
    tracing::info!(app = %app.name, provider = provider.as_str(), event, delivery_id,
        result = answer.result, reason = answer.reason.as_deref().unwrap_or(""), "webhook delivery handled");
    Ok((status, Json(answer)).into_response())
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_HOOK_BODY)
        .await
        .map_err(|e| {
            if e.into_inner().is::<http_body_util::LengthLimitError>() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("webhook bodies are limited to {MAX_HOOK_BODY} bytes"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "could not read the body",
                )
            }
        })
}

fn header(headers: &HeaderMap, name: &'static str) -> Result<String, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid(name, format!("the {name} header is missing")))
}

fn replay(status: i16, body: &str) -> Response {
    let mut answer: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(object) = answer.as_object_mut() {
        object.insert("replayed".into(), true.into());
        object.insert("first_status".into(), status.into());
    }
    (StatusCode::OK, Json(answer)).into_response()
}

/// What the delivery does, in the transaction that remembers its id.
async fn act(
    tx: &mut PgConnection,
    provider: Provider,
    app: &AppRow,
    event: &str,
    delivery_id: &str,
    body: &[u8],
) -> Result<(StatusCode, HookAnswer), ApiError> {
    let delivery = payload::parse(provider, event, body).map_err(malformed)?;
    match delivery.event {
        Event::Ping => Ok(HookAnswer::ignored("ping: the hook reaches Slipway")),
        Event::Other(name) => Ok(HookAnswer::ignored(format!(
            "{name} events do nothing; Slipway acts on push and pull request events"
        ))),
        Event::Push(push) => {
            same_repository(app, &delivery.repository)?;
            push_answer(tx, app, push, &delivery.repository).await
        }
        Event::PullRequest(pr) => {
            same_repository(app, &delivery.repository)?;
            let row =
                webhooks::record_pull_request(tx, app.id, provider.as_str(), delivery_id, &pr)
                    .await
                    .or_not_found("app")?;
            Ok((
                StatusCode::ACCEPTED,
                HookAnswer {
                    result: "recorded".to_owned(),
                    reason: None,
                    deployment: None,
                    pull_request: Some(row.into()),
                    replayed: None,
                    first_status: None,
                },
            ))
        }
    }
}

async fn push_answer(
    tx: &mut PgConnection,
    app: &AppRow,
    push: Push,
    repository: &Repository,
) -> Result<(StatusCode, HookAnswer), ApiError> {
    if let Some(tag) = push.git_ref.strip_prefix("refs/tags/") {
        return Ok(HookAnswer::ignored(format!(
            "tag push ({tag}): tags are not deployed"
        )));
    }
    let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else {
        return Ok(HookAnswer::ignored(format!(
            "{} is not a branch",
            push.git_ref
        )));
    };
    let tracked = app
        .branch
        .clone()
        .or_else(|| repository.default_branch.clone())
        .ok_or_else(|| {
            ApiError::invalid(
                "repository.default_branch",
                "the app follows the repository's default branch, and the payload does not name it",
            )
        })?;
    let Some(head) = push.head else {
        return Ok(HookAnswer::ignored(format!("branch {branch} was deleted")));
    };
    if branch != tracked {
        return Ok(HookAnswer::ignored(format!(
            "push to {branch}; the app deploys {tracked}"
        )));
    }
    let commit = GitRef::parse("after", &head)?;
    let row = deployments::insert(tx, app.id, Some(commit.as_str()))
        .await
        .or_not_found("app")?;
    tracing::info!(app = %app.name, deployment_id = %row.id, commit = commit.as_str(), "push webhook: deployment queued");
    Ok((
        StatusCode::CREATED,
        HookAnswer {
            result: "deploying".to_owned(),
            reason: None,
            deployment: Some(DeploymentView::summary(row)),
            pull_request: None,
            replayed: None,
            first_status: None,
        },
    ))
}

/// A hook pasted into the wrong app must not deploy someone else's code.
fn same_repository(app: &AppRow, repository: &Repository) -> Result<(), ApiError> {
    let Some(repo_url) = app.repo_url.as_deref() else {
        return Err(ApiError::invalid(
            "repository",
            "this app is deployed by git push to Slipway and follows no repository; \
             push to it instead, or set the hook on an app created with a repo_url",
        ));
    };
    let ours = normalise_repo_url(repo_url);
    if repository
        .urls
        .iter()
        .any(|url| normalise_repo_url(url) == ours)
    {
        return Ok(());
    }
    let theirs = repository.urls.first().map_or("none", String::as_str);
    Err(ApiError::invalid(
        "repository",
        format!(
            "this delivery is for repository {theirs}, not this app's ({}): is the hook set on the right app?",
            slipway_core::validate::redact(repo_url, repo_url)
        ),
    ))
}

fn malformed(m: Malformed) -> ApiError {
    let message = if m.field == "body" {
        format!(
            "{}; set the hook's content type to application/json",
            m.message
        )
    } else {
        m.message
    };
    ApiError::invalid(m.field, message)
}
