//! `GET /api/v1/apps/{app}/callbacks`: what was sent to the app's callback_url, and how
//! each attempt went.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_store::apps;
use slipway_store::callbacks::{self, AttemptRow, DeliveryRow};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::paging::{PageParams, Paged};
use crate::{ApiError, AppState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackView {
    /// Also sent as X-Slipway-Delivery.
    pub id: Uuid,
    /// `deployment.finished`; sent as X-Slipway-Event.
    pub event: String,
    /// The deployment the event is about.
    pub subject_id: Uuid,
    /// `pending` (to be tried, or retried), `delivered` or `failed` (given up).
    pub status: String,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempts: Vec<CallbackAttemptView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackAttemptView {
    pub at: DateTime<Utc>,
    /// The receiver's answer; `null` when none came (see `error`).
    pub http_status: Option<i16>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// `GET /api/v1/apps/{app}/callbacks`, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackList {
    pub callbacks: Vec<CallbackView>,
    /// Send as `cursor` for the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl CallbackView {
    fn new(d: DeliveryRow, attempts: Vec<AttemptRow>) -> Self {
        Self {
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            id: d.id,
            event: d.event,
            subject_id: d.subject_id,
            status: d.status,
            last_error: d.last_error,
            created_at: d.created_at,
            finished_at: d.finished_at,
            attempts: attempts
                .into_iter()
                .map(|a| CallbackAttemptView {
                    at: a.at,
                    http_status: a.http_status,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

/// The app's callback deliveries with their attempts, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/apps/{app}/callbacks", tag = "webhooks",
    params(("app" = String, Path, description = "The app's name or id"), PageParams),
    responses((status = 200, body = CallbackList),
        (status = 404, description = "No such app", body = crate::error::Body),
        (status = 422, description = "Invalid `limit` or `cursor`; `field` names it", body = crate::error::Body)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Paged(page): Paged,
) -> Result<Json<CallbackList>, ApiError> {
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let page = callbacks::list_for_app(&state.pool, app.id, &page)
        .await
        .or_not_found("app")?;
    let ids: Vec<Uuid> = page.items.iter().map(|d| d.id).collect();
    let mut attempts = callbacks::attempts_of(&state.pool, &ids)
        .await
        .or_not_found("app")?;
    Ok(Json(CallbackList {
        next_cursor: page.next_cursor(),
        callbacks: page
            .items
            .into_iter()
            .map(|d| {
                let tries = attempts.remove(&d.id).unwrap_or_default();
                CallbackView::new(d, tries)
            })
            .collect(),
    }))
}
