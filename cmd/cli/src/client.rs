//! The REST client: JSON in and out, the API's error document turned into `CliError::Api`,
//! and transport failures into "cannot reach Slipway".

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::settings::Settings;

/// Ordinary requests are small; a server that takes longer is stuck, not busy.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    settings: Settings,
}

impl Client {
    pub fn new(settings: Settings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("slipway-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::other(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self { http, settings })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.settings.url));
        if let Some(token) = &self.settings.token {
            builder = builder.bearer_auth(token);
        }
        builder
    }

    /// Sends and checks the status; a response that is not 2xx becomes the API's message.
    async fn send(&self, builder: RequestBuilder) -> Result<Response> {
        let response = builder.send().await.map_err(|e| self.transport(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(api_error(response).await)
    }

    pub fn transport(&self, e: &reqwest::Error) -> CliError {
        CliError::Unreachable {
            url: self.settings.url.clone(),
            detail: root_cause(e),
        }
    }

    async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut builder = self.request(method, path).timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = self.send(builder).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::other(format!("the server sent a response that is not JSON: {e}"))
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.json(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.json(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.json(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.json(Method::DELETE, path, None).await.map(drop)
    }

    /// A GET whose response body stays open (Server-Sent Events): no overall timeout.
    pub async fn stream(&self, path: &str) -> Result<Response> {
        let builder = self
            .request(Method::GET, path)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        self.send(builder).await
    }
}

/// Turns a JSON value into a typed view; a mismatch means client and server disagree.
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| CliError::other(format!("unexpected response from the server: {e}")))
}

async fn api_error(response: Response) -> CliError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    match error {
        Some(error) => CliError::Api {
            status: status.as_u16(),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the server gave no message")
                .to_owned(),
            field: error
                .get("field")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        // Not Slipway's error document: a proxy in between, or not Slipway at all.
        None => CliError::Api {
            status: status.as_u16(),
            message: format!(
                "the server answered {status} without a Slipway error: is this a Slipway API URL?"
            ),
            field: None,
        },
    }
}

/// reqwest's own message ("error sending request for url …") hides the useful part, the
/// innermost cause such as "Connection refused".
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    cause.to_string()
}
