//! The web dashboard at `/`: pages rendered on the server from the same store the API
//! reads. The browser needs no build step: a small script calls the JSON API for the
//! redeploy and rollback buttons, follows logs over the API's SSE streams, and refreshes
//! the live part of an app page by fetching it again as an HTML fragment.

mod format;
mod pages;
pub(crate) mod session;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::Markup;
use slipway_store::apps::{self, AppRow};
use slipway_store::page::{Page, PageRequest};
use slipway_store::{config_vars, deployments, events, test_runs};

use self::session::Viewer;
use crate::error::OrNotFound;
use crate::paging::{PageParams, Paged};
use crate::views::processes::{ProcessesView, view as processes_of};
use crate::views::test_runs::TestRunView;
use crate::views::{AppView, DeploymentView};
use crate::{ApiError, AppState};

/// How many deployments an app page's timeline shows: the recent ones, which is what the
/// page is for; the whole history is the API's and the CLI's.
const TIMELINE: u32 = 20;

/// A failed page is still a page: the status and the message, readable in a browser.
pub(crate) struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (self.0.status, pages::error(self.0.status, &self.0.message)).into_response()
    }
}

/// The apps, newest first, each with its newest deployment's status and its URL; a page
/// of 100 with a link to the next, rather than every app: a page a person scans, and
/// one whose rendering time does not grow with the number of apps.
#[utoipa::path(get, path = "/", tag = "dashboard", security(()), params(PageParams),
    responses((status = 200, description = "The dashboard: every app", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /login"),
        (status = 422, description = "Invalid `limit` or `cursor`", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable", content_type = "text/html", body = String)))]
pub async fn index(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    paged: Result<Paged, ApiError>,
) -> Result<Markup, PageError> {
    let Paged(page) = paged?;
    let Page { items: apps, next } = apps::list(&state.pool, viewer.owner(), &page)
        .await
        .or_not_found("app")?;
    let ids: Vec<_> = apps.iter().map(|a| a.id).collect();
    let latest = deployments::latest_of_apps(&state.pool, &ids)
        .await
        .or_not_found("deployment")?;
    let rows = apps
        .into_iter()
        .map(|app| {
            let newest = latest
                .iter()
                .find(|d| d.app_id == app.id)
                .cloned()
                .map(DeploymentView::summary);
            (AppView::new(app, &state.config), newest)
        })
        .collect::<Vec<_>>();
    let next = next.map(|c| c.encode());
    Ok(pages::index(
        &viewer,
        &rows,
        next.as_deref(),
        page.after().is_some(),
    ))
}

/// One app: its deployments as a timeline, live logs, config vars (masked), processes,
/// and buttons to redeploy and roll back.
#[utoipa::path(get, path = "/apps/{app}", tag = "dashboard", security(()), params(("app" = String, Path, description = "The app's name or id")),
    responses((status = 200, description = "The app's page", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /login"),
        (status = 404, description = "No such app", content_type = "text/html", body = String)))]
pub async fn app_page(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    Path(app): Path<String>,
) -> Result<Markup, PageError> {
    let (app, live) = load(&state, &viewer, &app).await?;
    Ok(pages::app(&viewer, &app, &live))
}

/// The part of an app page that changes on its own (status, timeline, processes,
/// config), which the page's script fetches again every few seconds.
#[utoipa::path(get, path = "/apps/{app}/live", tag = "dashboard", security(()), params(("app" = String, Path, description = "The app's name or id")),
    responses((status = 200, description = "An HTML fragment", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /login"),
        (status = 404, description = "No such app", content_type = "text/html", body = String)))]
pub async fn live(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    Path(app): Path<String>,
) -> Result<Markup, PageError> {
    let (app, live) = load(&state, &viewer, &app).await?;
    Ok(pages::live(&app, &live))
}

/// The dashboard's script and stylesheet, compiled into the binary.
#[utoipa::path(get, path = "/assets/{file}", tag = "dashboard", security(()), params(("file" = String, Path, description = "`dashboard.js` or `dashboard.css`")),
    responses((status = 200, description = "The asset", content_type = "text/plain", body = String),
        (status = 404, description = "No such asset", body = crate::error::Body)))]
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (content_type, body) = match file.as_str() {
        "dashboard.js" => (
            "text/javascript; charset=utf-8",
            include_str!("dashboard.js"),
        ),
        "dashboard.css" => ("text/css; charset=utf-8", include_str!("dashboard.css")),
        _ => return Err(ApiError::not_found("asset")),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            // Short: a new Slipway version's assets must not wait a day to arrive.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}

/// The viewer's app (a 404 page for anyone else's) and what its page shows.
async fn load(
    state: &AppState,
    viewer: &slipway_store::users::Caller,
    app: &str,
) -> Result<(AppView, Live), ApiError> {
    let app = apps::find(&state.pool, viewer.owner(), app)
        .await
        .or_not_found(&format!("app {app}"))?;
    let live = live_view(state, &app).await?;
    Ok((AppView::new(app, &state.config), live))
}

/// What an app page shows besides the app itself.
pub(crate) struct Live {
    /// Newest first, each with its phases measured.
    pub timeline: Vec<DeploymentView>,
    pub processes: ProcessesView,
    /// Names only: values stay masked on the dashboard.
    pub config: Vec<String>,
    /// The recent test runs, newest first.
    pub test_runs: Vec<TestRunView>,
}

async fn live_view(state: &AppState, app: &AppRow) -> Result<Live, ApiError> {
    let timeline = PageRequest::first(TIMELINE).map_err(ApiError::from)?;
    let rows = deployments::list_for_app(&state.pool, app.id, &timeline)
        .await
        .or_not_found("app")?
        .items;
    let ids: Vec<_> = rows.iter().map(|d| d.id).collect();
    let mut events = events::of_deployments(&state.pool, &ids)
        .await
        .or_not_found("app")?;
    let timeline = rows
        .into_iter()
        .map(|d| {
            let events = events.remove(&d.id).unwrap_or_default();
            DeploymentView::detailed(d, &events, Vec::new())
        })
        .collect();
    let processes = processes_of(state, app).await?;
    let config = config_vars::names(&state.pool, app.id)
        .await
        .or_not_found("app")?;
    let recent = PageRequest::first(TIMELINE).map_err(ApiError::from)?;
    let test_runs = test_runs::list_for_app(&state.pool, app.id, &recent)
        .await
        .or_not_found("app")?
        .items
        .into_iter()
        .map(TestRunView::from)
        .collect();
    Ok(Live {
        timeline,
        processes,
        config,
        test_runs,
    })
}
