/// Why a fetch or a build context failed, in words a user can act on. Where git failed,
/// git's own message is kept verbatim.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("could not fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("repository {url} needs credentials: {message}")]
    Auth { url: String, message: String },
    #[error("ref \"{git_ref}\" not found in {url} (looked for a branch, a tag and a commit)")]
    RefNotFound { git_ref: String, url: String },
    #[error("Dockerfile not found at \"{path}\" in commit {commit}")]
    DockerfileMissing { path: String, commit: String },
    #[error("invalid .dockerignore line {line}: {message}")]
    Dockerignore { line: usize, message: String },
    #[error("invalid .gitmodules line {line}: {message}")]
    Gitmodules { line: usize, message: &'static str },
    #[error(".gitmodules {0}")]
    GitmodulesFile(&'static str),
    /// Something went wrong with the submodule at `path`; `reason` says what.
    #[error("submodule {path}: {reason}")]
    Submodule {
        path: String,
        reason: Box<SourceError>,
    },
    #[error("{0}")]
    SubmoduleUrl(String),
    /// A submodule URL broke a rule an app's `repo_url` is held to.
    #[error("cannot fetch from {url}: {reason}")]
    UrlRefused { url: String, reason: String },
    #[error(
        "commit {commit} is not in {url}: it is on no branch or tag there, and the server did not send it when asked for it by id"
    )]
    CommitMissing { commit: String, url: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{what} is larger than {limit}, the most this server accepts ({setting})")]
    TooLarge {
        what: &'static str,
        limit: String,
        setting: &'static str,
    },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("could not write the build context: {0}")]
    Io(#[from] std::io::Error),
}
