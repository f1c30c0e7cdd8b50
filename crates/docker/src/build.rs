//! Image builds with BuildKit or the classic builder, streaming the build output.

use std::collections::HashMap;

use bollard::errors::Error as BollardError;
use bollard::models::{BuildInfo, BuildInfoAux};
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::build_session::{self, BuildSecrets, SessionError};
use crate::buildkit_progress::Progress;
use crate::{BuildError, DockerClient, DockerError};

/// Which of the daemon's builders runs a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Builder {
    /// BuildKit, through the Engine API without a session (`POST /build?version=2`):
    /// `RUN --mount`, parallel stages, no intermediate containers.
    #[default]
    BuildKit,
    /// The classic builder (`version=1`).
    Legacy,
}

impl Builder {
    /// The name the deployment log shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::BuildKit => "BuildKit",
            Self::Legacy => "the legacy builder",
        }
    }
}

/// What to build and how to name it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildRequest {
    /// `repository:tag` given to the image.
    pub tag: String,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    pub labels: HashMap<String, String>,
    pub build_args: HashMap<String, String>,
    /// The Dockerfile stage to build (`--target`); the last stage when `None`.
    pub target: Option<String>,
    /// Served to `RUN --mount=type=secret` steps through a BuildKit session; never
    /// part of the build's options, so never in the image or its history.
    pub secrets: BuildSecrets,
    pub builder: Builder,
}

/// A successfully built image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:…`
    pub id: String,
    /// TCP ports from the image's `EXPOSE`, sorted.
    pub exposed_ports: Vec<u16>,
}

impl DockerClient {
    /// Builds an image from a tar context streamed to the daemon as it is produced.
    ///
    /// Every output line goes to `on_line` as it arrives. A failing step gives
    /// [`BuildError::Failed`] with the builder's own text. Dropping the returned
    /// future closes the connection, which makes the daemon cancel the build.
    #[tracing::instrument(level = "debug", skip_all, fields(tag = %req.tag))]
    pub async fn build_image<S>(
        &self,
        req: &BuildRequest,
        context: S,
        on_line: &mut (dyn FnMut(String) + Send),
    ) -> Result<BuiltImage, BuildError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let mut options = BuildImageOptionsBuilder::new()
            .dockerfile(&req.dockerfile)
            .t(&req.tag)
            .labels(&req.labels)
            .buildargs(&req.build_args)
            .rm(true)
            .forcerm(true)
            // Always version 1 for bollard: see `buildkit_without_session`.
            .version(BuilderVersion::BuilderV1);
        if let Some(target) = &req.target {
            options = options.target(target);
        }
        // Held until the build ends: dropping it closes the session.
        let session = if req.secrets.is_empty() {
            None
        } else {
            if req.builder == Builder::Legacy {
                return Err(BuildError::Failed {
                    message: "build secrets need BuildKit; the legacy builder cannot mount them"
                        .into(),
                });
            }
            let session = build_session::open(&self.session_host, req.secrets.clone())
                .await
                .map_err(session_error)?;
            options = options.session(&session.id);
            Some(session)
        };
        let docker = match req.builder {
            Builder::BuildKit => buildkit_without_session(&self.docker),
            Builder::Legacy => self.docker.clone(),
        };
        // No task is spawned here: the request (and its body) lives in this future,
        // so dropping the future drops the connection.
        let mut items = docker.build_image(
            options.build(),
            None,
            Some(bollard::body_try_stream(context)),
        );
        let mut image_id = None;
        let mut progress = Progress::default();
        while let Some(item) = items.next().await {
            let info = match item.map_err(build_error) {
                Ok(info) => info,
                Err(BuildError::Failed { message }) => {
                    return Err(BuildError::Failed {
                        message: progress.failure(&message),
                    });
                }
                Err(e) => return Err(e),
            };
            if let Some(detail) = &info.error_detail {
                let message = detail.message.clone().unwrap_or_default();
                return Err(BuildError::Failed {
                    message: if message.is_empty() {
                        "the build failed without a message".into()
                    } else {
                        progress.failure(&message)
                    },
                });
            }
            match &info.aux {
                Some(BuildInfoAux::Default(image)) => {
                    if let Some(id) = &image.id {
                        image_id = Some(id.clone());
                    }
                }
                Some(BuildInfoAux::BuildKit(status)) => {
                    for line in progress.lines(status) {
                        on_line(line);
                    }
                }
                None => {}
            }
            for line in output_lines(&info) {
                on_line(line);
            }
        }
        let id = match image_id {
            Some(id) => id,
            None => {
                let image = self
                    .docker
                    .inspect_image(&req.tag)
                    .await
                    .map_err(DockerError::from)?;
                image.id.ok_or_else(|| BuildError::Failed {
                    message: format!("the build finished but image {} has no id", req.tag),
                })?
            }
        };
        drop(session);
        let exposed_ports = self.exposed_tcp_ports(&id).await?;
        Ok(BuiltImage { id, exposed_ports })
    }
}

/// The same connection, with `/build` requests sent as `version=2` (BuildKit).
///
/// bollard insists on running its own BuildKit session for `version=2`, one that serves
/// no secrets; the daemon needs none, and builds from the tar body alone. So the
/// request goes out as a classic build and is rewritten on its way (a `session`
/// parameter, when [`build_session`] opened one, goes along as is); bollard still
/// decodes BuildKit's progress (`BuildInfoAux::BuildKit`).
fn buildkit_without_session(docker: &bollard::Docker) -> bollard::Docker {
    docker.clone().with_request_modifier(|mut request| {
        let uri = request.uri();
        if uri.path().ends_with("/build")
            && let Some(query) = uri.query()
        {
            let query: Vec<&str> = query
                .split('&')
                .map(|pair| {
                    if pair == "version=1" {
                        "version=2"
                    } else {
                        pair
                    }
                })
                .collect();
            let path_and_query = format!("{}?{}", uri.path(), query.join("&"));
            let mut parts = uri.clone().into_parts();
            if let Ok(pq) = path_and_query.parse() {
                parts.path_and_query = Some(pq);
                if let Ok(rewritten) = http::Uri::from_parts(parts) {
                    *request.uri_mut() = rewritten;
                }
            }
        }
        request
    })
}

/// A refused or impossible session is the user's to read (it explains why their
/// secrets cannot be served); a broken connection is the daemon's.
fn session_error(e: SessionError) -> BuildError {
    match e {
        SessionError::Io(err) => BuildError::Docker(BollardError::IOError { err }.into()),
        other => BuildError::Failed {
            message: other.to_string(),
        },
    }
}

/// The `/build` endpoint answers a bad request (unparsable Dockerfile, missing
/// Dockerfile, bad option) with 400 or 500 and the reason; those are the user's to
/// read, like errors in the stream. Transport failures stay Docker errors.
fn build_error(e: BollardError) -> BuildError {
    match e {
        BollardError::DockerStreamError { error } => BuildError::Failed { message: error },
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } if (400..=500).contains(&status_code) && !message.trim().is_empty() => {
            BuildError::Failed { message }
        }
        other => BuildError::Docker(other.into()),
    }
}

/// The human-readable lines of one build output item: its `stream` text split on
/// newlines, and `status` messages other than progress ticks.
fn output_lines(info: &BuildInfo) -> Vec<String> {
    let mut lines: Vec<String> = info
        .stream
        .as_deref()
        .unwrap_or_default()
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let is_progress_tick = info
        .progress_detail
        .as_ref()
        .is_some_and(|p| p.current.is_some());
    if let Some(status) = info
        .status
        .as_deref()
        .filter(|s| !s.trim().is_empty() && !is_progress_tick)
    {
        lines.push(match info.id.as_deref() {
            Some(id) if !id.is_empty() => format!("{id}: {status}"),
            _ => status.to_owned(),
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use bollard::models::ProgressDetail;

    use super::*;

    fn stream(text: &str) -> BuildInfo {
        BuildInfo {
            stream: Some(text.into()),
            ..Default::default()
        }
    }

    #[test]
    fn stream_text_is_split_and_trimmed() {
        assert_eq!(
            output_lines(&stream("Step 1/2 : FROM scratch")),
            vec!["Step 1/2 : FROM scratch"]
        );
        assert_eq!(output_lines(&stream("\n")), Vec::<String>::new());
        assert_eq!(output_lines(&stream("a\r\n\r\nb\n")), vec!["a", "b"]);
    }

    #[test]
    fn status_lines_without_progress_ticks() {
        let status = BuildInfo {
            status: Some("Pulling fs layer".into()),
            id: Some("abc".into()),
            ..Default::default()
        };
        assert_eq!(output_lines(&status), vec!["abc: Pulling fs layer"]);
        let tick = BuildInfo {
            status: Some("Downloading".into()),
            progress_detail: Some(ProgressDetail {
                current: Some(1),
                total: Some(2),
            }),
            ..Default::default()
        };
        assert!(output_lines(&tick).is_empty());
    }

    #[test]
    fn daemon_refusals_are_build_failures() {
        let e = build_error(BollardError::DockerResponseServerError {
            status_code: 400,
            message: "dockerfile parse error line 2: unknown instruction: FOOBAR".into(),
        });
        assert!(matches!(e, BuildError::Failed { ref message } if message.contains("FOOBAR")));
        let e = build_error(BollardError::RequestTimeoutError);
        assert!(matches!(e, BuildError::Docker(_)));
    }
}
