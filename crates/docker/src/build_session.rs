//! A BuildKit session for one build, through which the daemon fetches the build's
//! secrets (`RUN --mount=type=secret,id=NAME`).
//!
//! The client opens `POST /session` on the Engine API announcing the gRPC methods it
//! serves; the daemon upgrades that connection to HTTP/2 (h2c) and from then on is the
//! gRPC *client* on it. The build names the session with `session=<id>`. A secret's
//! value leaves this process only as the answer to the daemon's `GetSecret` call on
//! that connection: no file, build arg or environment variable ever holds it.
//! Dropping the [`Session`] closes the connection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use bollard::health::health_check_response::ServingStatus;
use bollard::health::health_server::{Health, HealthServer};
use bollard::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

/// Values handed to a build's `RUN --mount=type=secret,id=NAME` steps, by id.
/// `Debug` shows the ids only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BuildSecrets(BTreeMap<String, String>);

impl BuildSecrets {
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self(values)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl std::fmt::Debug for BuildSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Where a session connects: the daemon the client talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SessionHost {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
    /// A connection this module cannot open itself (TLS, SSH): the address, for the reason.
    Unsupported(String),
}

impl SessionHost {
    /// From a `DOCKER_HOST`-style address, read as bollard reads it.
    pub(crate) fn parse(host: &str) -> Self {
        if let Some(path) = host.strip_prefix("unix://") {
            return Self::Unix(PathBuf::from(path));
        }
        let plain = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"));
        match plain {
            // bollard speaks TLS to a tcp:// host when DOCKER_TLS_VERIFY is set.
            Some(address) if std::env::var_os("DOCKER_TLS_VERIFY").is_none() => {
                Self::Tcp(address.trim_end_matches('/').to_owned())
            }
            _ => Self::Unsupported(host.to_owned()),
        }
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The daemon answered `/session` with something other than an upgrade.
    #[error("the Docker Engine refused a BuildKit session ({status}): {message}")]
    Refused { status: String, message: String },
    #[error(
        "build secrets need a BuildKit session, which Slipway opens over a unix socket or plain tcp:// connection to the Docker Engine, not over {0}"
    )]
    Unsupported(String),
    #[error("could not open a BuildKit session with the Docker Engine: {0}")]
    Io(#[from] std::io::Error),
}

/// An open session; the daemon can call back into it until it is dropped.
pub(crate) struct Session {
    pub(crate) id: String,
    served: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.served.abort();
    }
}

/// Opens a session serving `secrets`. Returns once the daemon has accepted it, so a
/// build naming it finds it.
pub(crate) async fn open(
    host: &SessionHost,
    secrets: BuildSecrets,
) -> Result<Session, SessionError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let served = match host {
        SessionHost::Unix(path) => {
            let mut io = tokio::net::UnixStream::connect(path).await?;
            upgrade(&mut io, "docker", &id).await?;
            tokio::spawn(serve(io, secrets))
        }
        SessionHost::Tcp(address) => {
            let mut io = tokio::net::TcpStream::connect(address.as_str()).await?;
            upgrade(&mut io, address, &id).await?;
            tokio::spawn(serve(io, secrets))
        }
        SessionHost::Unsupported(address) => {
            return Err(SessionError::Unsupported(address.clone()));
        }
    };
    Ok(Session { id, served })
}

/// The gRPC methods the daemon may call, announced when the session opens (BuildKit
/// only calls methods announced).
fn methods() -> [String; 2] {
    [
        format!("/{}/GetSecret", SecretsServer::<SecretStore>::NAME),
        format!("/{}/Check", HealthServer::<Alive>::NAME),
    ]
}

/// `POST /session` with `Upgrade: h2c`, leaving `io` at the first byte of HTTP/2.
async fn upgrade<IO>(io: &mut IO, host: &str, id: &str) -> Result<(), SessionError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!(
        "POST /session HTTP/1.1\r\nHost: {host}\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\
         Content-Length: 0\r\nX-Docker-Expose-Session-Uuid: {id}\r\n\
         X-Docker-Expose-Session-Name: slipway\r\nX-Docker-Expose-Session-Sharedkey: {id}\r\n"
    );
    for method in methods() {
        request.push_str(&format!(
            "X-Docker-Expose-Session-Grpc-Method: {method}\r\n"
        ));
    }
    request.push_str("\r\n");
    io.write_all(request.as_bytes()).await?;
    io.flush().await?;
    let head = read_head(io).await?;
    let status = head.lines().next().unwrap_or_default().trim().to_owned();
    if status.split(' ').nth(1) == Some("101") {
        return Ok(());
    }
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_ERROR_BODY);
    let mut body = vec![0; length];
    io.read_exact(&mut body).await?;
    Err(SessionError::Refused {
        status,
        message: daemon_message(&body),
    })
}

const MAX_HEAD: usize = 16 * 1024;
const MAX_ERROR_BODY: usize = 16 * 1024;

/// The response's status line and headers, read a byte at a time so that nothing
/// after them (the daemon's first HTTP/2 frames) is consumed.
async fn read_head<IO: AsyncRead + Unpin>(io: &mut IO) -> Result<String, SessionError> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(SessionError::Refused {
                status: "no status".into(),
                message: "the answer's headers never ended".into(),
            });
        }
        match io.read_u8().await {
            Ok(byte) => head.push(byte),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(SessionError::Refused {
                    status: "no status".into(),
                    message: "the Docker Engine closed the connection".into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The daemon's JSON error (`{"message": …}`), else the body as text.
fn daemon_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).trim().to_owned();
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or(if text.is_empty() {
            "no reason given".into()
        } else {
            text
        })
}

/// Serves the session's gRPC services on the upgraded connection until the daemon
/// closes it or the task is aborted.
async fn serve<IO>(io: IO, secrets: BuildSecrets)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let routes = tonic::service::Routes::new(HealthServer::new(Alive))
        .add_service(SecretsServer::new(SecretStore(Arc::new(secrets))));
    let connection = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(
            hyper_util::rt::TokioIo::new(io),
            hyper_util::service::TowerToHyperService::new(routes),
        );
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "BuildKit session ended");
    }
}

struct SecretStore(Arc<BuildSecrets>);

#[tonic::async_trait]
impl Secrets for SecretStore {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        match self.0.0.get(id) {
            Some(value) => Ok(Response::new(GetSecretResponse {
                data: value.as_bytes().to_vec(),
            })),
            // NotFound is what BuildKit expects for an unknown id: a `required=false`
            // mount then goes without, a required one fails naming the id.
            None => Err(Status::not_found(format!(
                "secret {id} is not in [build] secrets"
            ))),
        }
    }
}

/// BuildKit checks the session's health every second and drops it on a failed check.
struct Alive;

#[tonic::async_trait]
impl Health for Alive {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("only Check is served"))
    }

    type WatchStream =
        Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("only Check is served"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            SessionHost::parse("unix:///var/run/docker.sock"),
            SessionHost::Unix("/var/run/docker.sock".into())
        );
        assert!(matches!(
            SessionHost::parse("ssh://me@host"),
            SessionHost::Unsupported(_)
        ));
        assert!(matches!(
            SessionHost::parse("https://host:2376"),
            SessionHost::Unsupported(_)
        ));
    }

    #[test]
    fn debug_shows_ids_only() {
        let secrets = BuildSecrets::new(BTreeMap::from([("NPM_TOKEN".into(), "s3cret".into())]));
        let shown = format!("{secrets:?}");
        assert!(shown.contains("NPM_TOKEN"));
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn daemon_messages() {
        assert_eq!(
            daemon_message(br#"{"message":"page not found"}"#),
            "page not found"
        );
        assert_eq!(daemon_message(b"plain\n"), "plain");
        assert_eq!(daemon_message(b""), "no reason given");
    }
}
