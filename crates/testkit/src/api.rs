//! One HTTP client for the API's tests: requests go through the router with `oneshot`,
//! without a network port, and every answer comes back as status, headers, text and JSON.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use slipway_store::PgPool;
use tower::ServiceExt;

/// An answer, whole. `json` is `Null` when the body is not JSON (HTML, SSE, text).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

#[derive(Clone)]
pub struct ApiClient {
    router: Router,
}

impl ApiClient {
    /// A client that sends no token unless a request brings one.
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// A client holding `token` (see [`crate::with_token`]).
    pub fn with_token(router: Router, token: &str) -> Self {
        Self::new(crate::with_token(router, token))
    }

    /// A client holding a fresh admin's token: most tests are not about authorization.
    pub async fn as_admin(pool: &PgPool, router: Router) -> Self {
        Self::new(crate::as_admin(pool, router).await)
    }

    /// The router, for what a `Reply` cannot hold: a response read as a stream.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call_json("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call_json("PUT", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call_json("PATCH", path, Some(body)).await
    }

    /// A request whose body is sent as written, so that tests can send what is not JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.raw(method, path, None, body.map(str::to_owned)).await
    }

    pub async fn call_json(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, None, body).await
    }

    /// A request with one more header, such as its own Authorization or an
    /// Idempotency-Key.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        header: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> Reply {
        self.raw(method, path, header, body.map(|b| b.to_string()))
            .await
    }

    /// Bodies go as `application/json`, like every client's.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        header: Option<(&str, &str)>,
        body: Option<String>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap_or_else(|e| panic!("{method} {path} is not a request: {e}"));
        self.send(request).await
    }

    /// Any request, as built by the test.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("reading the response body: {e}"))
            .to_bytes();
        Reply {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}
