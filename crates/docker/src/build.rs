//! Image builds with the classic builder, streaming the build output.

use std::collections::HashMap;

use bollard::errors::Error as BollardError;
use bollard::models::BuildInfo;
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::{BuildError, DockerClient, DockerError};

/// What to build and how to name it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildRequest {
    /// `repository:tag` given to the image.
    pub tag: String,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    pub labels: HashMap<String, String>,
    pub build_args: HashMap<String, String>,
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
        let options = BuildImageOptionsBuilder::new()
            .dockerfile(&req.dockerfile)
            .t(&req.tag)
            .labels(&req.labels)
            .buildargs(&req.build_args)
            .rm(true)
            .forcerm(true)
            .version(BuilderVersion::BuilderV1)
            .build();
        // No task is spawned here: the request (and its body) lives in this future,
        // so dropping the future drops the connection.
        let mut items =
            self.docker
                .build_image(options, None, Some(bollard::body_try_stream(context)));
        let mut image_id = None;
        while let Some(item) = items.next().await {
            let info = item.map_err(build_error)?;
            if let Some(detail) = &info.error_detail {
                let message = detail.message.clone().unwrap_or_default();
                return Err(BuildError::Failed {
                    message: if message.is_empty() {
                        "the build failed without a message".into()
                    } else {
                        message
                    },
                });
            }
            if let Some(id) = info.aux.as_ref().and_then(|aux| aux.id.clone()) {
                image_id = Some(id);
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
        let exposed_ports = self.exposed_tcp_ports(&id).await?;
        Ok(BuiltImage { id, exposed_ports })
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
