//! The advertisement (`info/refs`) for both services, and `git-upload-pack` (clone and
//! fetch). A user sees branches and tags; a worker (internal token) may also fetch a
//! commit a push is deploying, which is held under a hidden ref.

use std::process::Stdio;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::access::{self, GitError, Who};
use super::body::Incoming;
use super::pkt::{self, Pkt};
use super::storage::{self, Storage};
use crate::AppState;

/// A fetch's negotiation is a few MB at most, even for large histories.
const MAX_UPLOAD_REQUEST: u64 = 64 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Upload,
    Receive,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Upload => "git-upload-pack",
            Self::Receive => "git-receive-pack",
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ServiceQuery {
    service: Option<String>,
}

/// git's ref advertisement, the first request of a clone, fetch or push.
#[utoipa::path(get, path = "/git/{repo}/info/refs", tag = "git", security(("git" = [])),
    params(("repo" = String, Path, description = "`<app>.git` (name or id)"),
        ("service" = String, Query, description = "`git-upload-pack` (clone, fetch) or `git-receive-pack` (push)")),
    responses(
        (status = 200, description = "The advertisement", content_type = "application/x-git-upload-pack-advertisement", body = Vec<u8>),
        (status = 401, description = "No token or a bad one (`WWW-Authenticate: Basic`)", content_type = "text/plain", body = String),
        (status = 403, description = "Not the smart protocol, or a worker's token pushing", content_type = "text/plain", body = String),
        (status = 404, description = "No such app, or another user's", content_type = "text/plain", body = String),
        (status = 409, description = "The app deploys from its repo_url, not from pushes", content_type = "text/plain", body = String),
        (status = 422, description = "A push to a name no app may have", content_type = "text/plain", body = String)))]
pub(crate) async fn info_refs(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    Query(query): Query<ServiceQuery>,
    headers: HeaderMap,
) -> Result<Response, GitError> {
    let service = match query.service.as_deref() {
        Some("git-upload-pack") => Service::Upload,
        Some("git-receive-pack") => Service::Receive,
        _ => {
            return Err(GitError::new(
                StatusCode::FORBIDDEN,
                "Slipway speaks git's smart HTTP protocol only (git 1.6.6 or newer)",
            ));
        }
    };
    let who = access::who(&state, &headers).await?;
    let target = access::target(&state, &who, &repo).await?;
    let storage = Storage::new(&state.config.repo_dir);
    let protocol = git_protocol(&headers);
    let advertisement = match service {
        Service::Upload => {
            let app = target.fetchable()?;
            let path = storage
                .ensure(
                    app.id,
                    app.branch.as_deref().unwrap_or(super::DEFAULT_BRANCH),
                )
                .await
                .map_err(super::storage_error)?;
            advertise(&path, service, upload_config(&who), protocol.as_deref()).await?
        }
        Service::Receive => {
            access::pusher(who)?;
            let path = match target.pushable()? {
                Ok(app) => {
                    storage
                        .ensure(
                            app.id,
                            app.branch.as_deref().unwrap_or(super::DEFAULT_BRANCH),
                        )
                        .await
                }
                Err(_new_app) => storage.empty().await,
            }
            .map_err(super::storage_error)?;
            let config = [
                ("receive.advertisePushOptions", "true"),
                ("receive.hideRefs", "refs/slipway"),
            ];
            let raw = advertise(&path, service, &config, None).await?;
            without_unsupported_capabilities(&raw)
                .map_err(|e| GitError::internal("receive-pack advertisement", e))?
        }
    };
    Ok((
        [
            (
                CONTENT_TYPE,
                format!("application/x-{}-advertisement", service.name()),
            ),
            (CACHE_CONTROL, "no-cache".to_owned()),
        ],
        advertisement,
    )
        .into_response())
}

/// Users see branches and tags only; a worker may fetch any commit the repository
/// holds (it asks by id for the commit a push is deploying).
fn upload_config(who: &Who) -> &'static [(&'static str, &'static str)] {
    match who {
        Who::User(_) => &[("uploadpack.hideRefs", "refs/slipway")],
        Who::Worker => &[("uploadpack.allowAnySHA1InWant", "true")],
    }
}

/// The `Git-Protocol` header (`version=2`), passed to upload-pack as GIT_PROTOCOL when
/// it holds only what that header may.
fn git_protocol(headers: &HeaderMap) -> Option<String> {
    headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.len() <= 256
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=:._-".contains(&b))
        })
        .map(str::to_owned)
}

async fn advertise(
    path: &std::path::Path,
    service: Service,
    config: &[(&str, &str)],
    protocol: Option<&str>,
) -> Result<Vec<u8>, GitError> {
    let sub = service.name().trim_start_matches("git-");
    let dir = path.to_string_lossy();
    let mut command = storage::command(
        path,
        config,
        &[sub, "--stateless-rpc", "--advertise-refs", &dir],
    )
    .map_err(super::storage_error)?;
    if let Some(protocol) = protocol {
        command.env("GIT_PROTOCOL", protocol);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| GitError::internal("running git", e))?;
    if !output.status.success() {
        return Err(GitError::internal(
            "git advertisement",
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    let v2 = protocol.is_some_and(|p| p.contains("version=2"));
    let mut out = Vec::new();
    // Protocol v2 starts with its own capability list; v0 with the service line.
    if !v2 {
        out.extend(pkt::line(
            format!("# service={}\n", service.name()).as_bytes(),
        ));
        out.extend_from_slice(pkt::FLUSH);
    }
    out.extend(output.stdout);
    Ok(out)
}

/// receive-pack's advertisement without `atomic` (a deploying ref is decided after the
/// others) and `report-status-v2` (the answer is written by Slipway, in v1 form).
fn without_unsupported_capabilities(advertisement: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(advertisement.len());
    let mut first = true;
    for packet in pkt::parse_all(advertisement)? {
        match packet {
            Pkt::Data(data) if first && !data.starts_with(b"#") => {
                first = false;
                let text = pkt::text(&data);
                let Some(nul) = text.iter().position(|b| *b == 0) else {
                    out.extend(pkt::line(&data));
                    continue;
                };
                let caps = String::from_utf8_lossy(&text[nul + 1..]);
                let kept: Vec<&str> = caps
                    .split(' ')
                    .filter(|c| !matches!(*c, "atomic" | "report-status-v2"))
                    .collect();
                let mut line = text[..=nul].to_vec();
                line.extend_from_slice(kept.join(" ").as_bytes());
                line.push(b'\n');
                out.extend(pkt::line(&line));
            }
            Pkt::Data(data) => out.extend(pkt::line(&data)),
            Pkt::Flush => out.extend_from_slice(pkt::FLUSH),
            Pkt::Special(n) => out.extend(format!("{n:04x}").into_bytes()),
        }
    }
    Ok(out)
}

/// Clone and fetch: git's upload-pack over stateless RPC.
#[utoipa::path(post, path = "/git/{repo}/git-upload-pack", tag = "git", security(("git" = [])),
    params(("repo" = String, Path, description = "`<app>.git` (name or id)")),
    request_body(content = Vec<u8>, content_type = "application/x-git-upload-pack-request", description = "git's request, gzip-encoded or not"),
    responses(
        (status = 200, description = "git's answer", content_type = "application/x-git-upload-pack-result", body = Vec<u8>),
        (status = 401, description = "No token or a bad one (`WWW-Authenticate: Basic`)", content_type = "text/plain", body = String),
        (status = 404, description = "No such app, or another user's", content_type = "text/plain", body = String),
        (status = 409, description = "The app deploys from its repo_url", content_type = "text/plain", body = String)))]
pub(crate) async fn upload_pack(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GitError> {
    let who = access::who(&state, &headers).await?;
    let app = access::target(&state, &who, &repo).await?.fetchable()?;
    let mut incoming = Incoming::new(body, &headers)
        .map_err(|e| GitError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e))?;
    let path = Storage::new(&state.config.repo_dir)
        .ensure(
            app.id,
            app.branch.as_deref().unwrap_or(super::DEFAULT_BRANCH),
        )
        .await
        .map_err(super::storage_error)?;
    let dir = path.to_string_lossy();
    let mut command = storage::command(
        &path,
        upload_config(&who),
        &["upload-pack", "--stateless-rpc", &dir],
    )
    .map_err(super::storage_error)?;
    if let Some(protocol) = git_protocol(&headers) {
        command.env("GIT_PROTOCOL", protocol);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GitError::internal("running git upload-pack", e))?;
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(GitError::internal("git upload-pack", "no pipes"));
    };
    let app_name = app.name.clone();
    tokio::spawn(async move {
        let mut fed = 0u64;
        loop {
            match incoming.chunk().await {
                Ok(Some(chunk)) => {
                    fed += chunk.len() as u64;
                    if fed > MAX_UPLOAD_REQUEST || stdin.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(app = %app_name, error = %e, "git fetch request unreadable");
                    break;
                }
            }
        }
        drop(stdin);
        let mut errors = String::new();
        let _ = stderr.read_to_string(&mut errors).await;
        match child.wait().await {
            Ok(status) if status.success() => {}
            Ok(status) => {
                tracing::info!(app = %app_name, %status, stderr = %errors.trim(), "git upload-pack failed")
            }
            Err(e) => tracing::warn!(app = %app_name, error = %e, "git upload-pack"),
        }
    });
    Ok((
        [
            (CONTENT_TYPE, "application/x-git-upload-pack-result"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(stdout)),
    )
        .into_response())
}
