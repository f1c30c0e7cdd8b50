//! One WebSocket client's state: which apps it follows, which deployments it started,
//! and how far it has read each deployment's log. Turns client messages and database
//! events into the JSON messages the client receives.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};
use slipway_store::users::Caller;
use slipway_store::{apps, logs};
use uuid::Uuid;

use super::feed::Event;
use crate::error::OrNotFound;
use crate::routes::deployments;
use crate::routes::test_runs::{self, CreateTestRun};
use crate::views::test_runs::TestRunView;
use crate::{ApiError, AppState};

/// Lines fetched per query when a log notification names many.
const LOG_PAGE: i64 = 500;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Subscribe {
        app: String,
    },
    Unsubscribe {
        app: String,
    },
    Deploy {
        app: String,
        #[serde(rename = "ref")]
        git_ref: Option<String>,
    },
    Test {
        app: String,
        #[serde(rename = "ref")]
        git_ref: Option<String>,
        commit: Option<String>,
        command: Option<String>,
    },
}

pub struct Session {
    state: AppState,
    caller: Caller,
    /// Followed apps: id → name.
    apps: HashMap<Uuid, String>,
    /// Deployments this client started (followed even without a subscription): id → app name.
    started: HashMap<Uuid, String>,
    /// Last log seq sent, per deployment.
    cursors: HashMap<Uuid, i64>,
    /// Test runs seen, by the deployment that carries them (its log is theirs).
    test_runs: HashMap<Uuid, Uuid>,
}

impl Session {
    pub fn new(state: AppState, caller: Caller) -> Self {
        Self {
            state,
            caller,
            apps: HashMap::new(),
            started: HashMap::new(),
            cursors: HashMap::new(),
            test_runs: HashMap::new(),
        }
    }

    /// The answers to one client message: `accepted` or an `error`, echoing its `id`.
    pub async fn handle(&mut self, text: &str) -> Value {
        let mut message: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return error(None, "invalid_message", "a message is a JSON object", None),
            Err(e) => {
                return error(None, "invalid_message", &format!("not JSON: {e}"), None);
            }
        };
        let id = message.as_object_mut().and_then(|m| m.remove("id"));
        let request = match serde_path_to_error::deserialize::<_, Request>(message) {
            Ok(r) => r,
            Err(e) => {
                let field = e.path().to_string();
                let field = (field != ".").then_some(field);
                return error(id, "invalid_message", &e.into_inner().to_string(), field);
            }
        };
        let answer = match request {
            Request::Subscribe { app } => self.subscribe(&app).await,
            Request::Unsubscribe { app } => Ok(self.unsubscribe(&app)),
            Request::Deploy { app, git_ref } => self.deploy(&app, git_ref.as_deref()).await,
            Request::Test {
                app,
                git_ref,
                commit,
                command,
            } => {
                let body = CreateTestRun {
                    git_ref,
                    commit,
                    command,
                };
                self.test(&app, body).await
            }
        };
        match answer {
            Ok(mut accepted) => {
                accepted["type"] = json!("accepted");
                if let Some(id) = id {
                    accepted["id"] = id;
                }
                accepted
            }
            Err(e) => api_error(id, e),
        }
    }

    async fn subscribe(&mut self, app: &str) -> Result<Value, ApiError> {
        let row = apps::find(&self.state.pool, self.caller.owner(), app)
            .await
            .or_not_found("app")?;
        self.apps.insert(row.id, row.name.clone());
        Ok(json!({"app": row.name}))
    }

    fn unsubscribe(&mut self, app: &str) -> Value {
        self.apps
            .retain(|id, name| name != app && id.to_string() != app);
        json!({"app": app})
    }

    /// Commands start work, so they count against the token's rate as REST calls do
    /// (the middleware only sees the one upgrade request).
    fn rate_limited(&self) -> Result<(), ApiError> {
        match &self.state.limits {
            Some(limits) => limits.check(self.caller.token_id),
            None => Ok(()),
        }
    }

    async fn deploy(&mut self, app: &str, git_ref: Option<&str>) -> Result<Value, ApiError> {
        self.rate_limited()?;
        let row = deployments::queue(&self.state, &self.caller, app, git_ref).await?;
        self.started.insert(row.id, row.app_name.clone());
        Ok(json!({"app": row.app_name, "deployment_id": row.id, "status": row.status}))
    }

    async fn test(&mut self, app: &str, body: CreateTestRun) -> Result<Value, ApiError> {
        self.rate_limited()?;
        let run = test_runs::queue(&self.state, &self.caller, app, body).await?;
        self.started.insert(run.deployment_id, run.app_name.clone());
        self.test_runs.insert(run.deployment_id, run.id);
        Ok(json!({"app": run.app_name, "test_run_id": run.id, "status": run.status}))
    }

    /// The app name an event is shown under, if this client follows it.
    fn follows(&self, event: &Event) -> Option<String> {
        self.started
            .get(&event.deployment())
            .or_else(|| self.apps.get(&event.app()))
            .cloned()
    }

    /// The messages a database event becomes for this client (none if it follows
    /// neither the app nor the deployment).
    pub async fn on_event(&mut self, event: &Event) -> Result<Vec<Value>, ApiError> {
        let Some(app) = self.follows(event) else {
            return Ok(Vec::new());
        };
        match *event {
            // A standalone test run's carrier: its `test_run` events tell the story.
            Event::Status { ref kind, .. } if kind == "test" => Ok(Vec::new()),
            Event::TestRun {
                test_run,
                deployment,
                status,
                ..
            } => {
                self.test_runs.insert(deployment, test_run);
                let mut out = vec![json!({
                    "type": "status", "app": app, "test_run_id": test_run, "status": status,
                })];
                if status.is_finished() {
                    let run = slipway_store::test_runs::get_visible(
                        &self.state.pool,
                        self.caller.owner(),
                        test_run,
                    )
                    .await
                    .or_not_found("test run")?;
                    out.push(json!({
                        "type": "result", "app": app, "test_run_id": test_run,
                        "test_run": TestRunView::from(run),
                    }));
                }
                Ok(out)
            }
            Event::Status {
                deployment, status, ..
            } => {
                let mut out = vec![json!({
                    "type": "status", "app": app, "deployment_id": deployment, "status": status,
                })];
                if !status.is_unfinished() {
                    let view = crate::routes::deployment_view(
                        &self.state.pool,
                        self.caller.owner(),
                        deployment,
                    )
                    .await?;
                    out.push(json!({
                        "type": "result", "app": app, "deployment_id": deployment,
                        "deployment": view,
                    }));
                }
                Ok(out)
            }
            Event::Log {
                deployment,
                first_seq,
                last_seq,
                ..
            } => self.log_lines(&app, deployment, first_seq, last_seq).await,
        }
    }

    /// The lines up to `last_seq` this client has not been sent. A deployment first seen
    /// mid-way starts at the notified batch: a subscription shows what happens from now on.
    async fn log_lines(
        &mut self,
        app: &str,
        deployment: Uuid,
        first_seq: i64,
        last_seq: i64,
    ) -> Result<Vec<Value>, ApiError> {
        let mut after = *self
            .cursors
            .entry(deployment)
            .or_insert(first_seq.saturating_sub(1));
        let mut out = Vec::new();
        while after < last_seq {
            let lines = logs::page(&self.state.pool, deployment, after, LOG_PAGE)
                .await
                .or_not_found("deployment")?;
            let Some(last) = lines.last() else { break };
            after = last.seq;
            let test_run = self.test_runs.get(&deployment).copied();
            out.extend(lines.into_iter().map(|l| {
                let mut line = json!({
                    "type": "log", "app": app, "deployment_id": deployment,
                    "seq": l.seq, "at": l.at, "stream": l.stream, "line": l.line,
                });
                if let Some(id) = test_run {
                    line["test_run_id"] = json!(id);
                }
                line
            }));
        }
        self.cursors.insert(deployment, after);
        Ok(out)
    }
}

pub fn error(id: Option<Value>, code: &str, message: &str, field: Option<String>) -> Value {
    let mut body = json!({"type": "error", "error": {"code": code, "message": message}});
    if let Some(field) = field {
        body["error"]["field"] = json!(field);
    }
    if let Some(id) = id {
        body["id"] = id;
    }
    body
}

fn api_error(id: Option<Value>, e: ApiError) -> Value {
    error(id, e.code, &e.message, e.field)
}
