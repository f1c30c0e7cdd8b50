//! Errors: Docker's own words for callers, the bollard error kept for logs.

use bollard::errors::Error as BollardError;

/// An error from the Docker Engine API.
///
/// `Display` gives the daemon's own message for 4xx/5xx answers (for example
/// `No such container: web-1`) and a short sentence for transport failures, never
/// bollard's `Debug` output. [`DockerError::bollard`] gives the underlying error.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.inner))]
pub struct DockerError {
    inner: BollardError,
}

impl DockerError {
    /// The Docker Engine answered 404 (no such container, image or network).
    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404)
    }

    /// The Docker Engine answered 409 (name in use, image in use, removal in progress…).
    pub fn is_conflict(&self) -> bool {
        self.status_code() == Some(409)
    }

    /// Creating a network failed because its subnet overlaps one another network holds.
    pub fn is_address_taken(&self) -> bool {
        self.status_code().is_some() && self.to_string().contains("overlaps")
    }

    /// The Docker Engine could not be reached: socket missing, connection refused or
    /// reset, or no answer before the client's timeout.
    pub fn is_unreachable(&self) -> bool {
        match &self.inner {
            BollardError::SocketNotFoundError(_) | BollardError::RequestTimeoutError => true,
            BollardError::HyperLegacyError { err } => {
                err.is_connect() || io_kind(err).is_some_and(is_unreachable_kind)
            }
            BollardError::HyperResponseError { err } => {
                err.is_closed()
                    || err.is_incomplete_message()
                    || io_kind(err).is_some_and(is_unreachable_kind)
            }
            BollardError::IOError { err } => is_unreachable_kind(err.kind()),
            _ => false,
        }
    }

    /// The HTTP status the daemon answered with, if it answered with an error status.
    pub fn status_code(&self) -> Option<u16> {
        match &self.inner {
            BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
            _ => None,
        }
    }

    /// The underlying bollard error.
    pub fn bollard(&self) -> &BollardError {
        &self.inner
    }
}

impl From<BollardError> for DockerError {
    fn from(inner: BollardError) -> Self {
        Self { inner }
    }
}

/// An image build that did not produce an image.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build itself failed (bad Dockerfile, failing `RUN`, missing file in the
    /// context). `message` is the builder's own text, verbatim, for the user.
    #[error("{message}")]
    Failed { message: String },
    /// The Docker Engine could not be talked to, or failed for its own reasons.
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Turns a 404 into `Ok(None)`: for lookups and removals where "already gone" is fine.
pub(crate) fn ok_if_not_found<T>(r: Result<T, BollardError>) -> Result<Option<T>, DockerError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let e = DockerError::from(e);
            if e.is_not_found() { Ok(None) } else { Err(e) }
        }
    }
}

fn describe(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => {
            if message.trim().is_empty() {
                format!("Docker Engine answered with status {status_code}")
            } else {
                message.trim().to_owned()
            }
        }
        BollardError::DockerStreamError { error } => error.trim().to_owned(),
        BollardError::SocketNotFoundError(path) => {
            format!("cannot connect to the Docker Engine: socket {path} does not exist")
        }
        BollardError::RequestTimeoutError => "the Docker Engine did not answer in time".to_owned(),
        BollardError::HyperLegacyError { err } if err.is_connect() => {
            format!("cannot connect to the Docker Engine: {}", root_cause(err))
        }
        BollardError::HyperLegacyError { err } => {
            format!("request to the Docker Engine failed: {}", root_cause(err))
        }
        BollardError::HyperResponseError { err } => {
            format!(
                "connection to the Docker Engine failed: {}",
                root_cause(err)
            )
        }
        other => other.to_string(),
    }
}

/// The innermost error's text: for a transport error that is the OS's words
/// ("Connection refused (os error 111)"), not hyper's wrappers.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = e.source();
    }
    None
}

fn is_unreachable_kind(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        NotFound
            | ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | BrokenPipe
            | TimedOut
            | PermissionDenied
            | AddrNotAvailable
            | HostUnreachable
            | NetworkUnreachable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_message_is_displayed_verbatim() {
        let e = DockerError::from(BollardError::DockerResponseServerError {
            status_code: 404,
            message: "No such container: web-1".into(),
        });
        assert_eq!(e.to_string(), "No such container: web-1");
        assert!(e.is_not_found());
        assert!(!e.is_conflict());
        assert!(!e.is_unreachable());
    }

    #[test]
    fn missing_socket_is_unreachable() {
        let e = DockerError::from(BollardError::SocketNotFoundError("/nope.sock".into()));
        assert!(e.is_unreachable());
        assert!(e.to_string().contains("/nope.sock"), "{e}");
    }

    #[test]
    fn build_failure_displays_builder_text() {
        let e = BuildError::Failed {
            message: "COPY failed: no source files".into(),
        };
        assert_eq!(e.to_string(), "COPY failed: no source files");
    }
}
