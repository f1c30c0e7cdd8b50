//! The repositories pushed to Slipway: one bare repository per app under
//! SLIPWAY_REPO_DIR, named by the app's id (a later app of the same name starts afresh),
//! worked on by the real `git` binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use uuid::Uuid;

/// Where a deploying push keeps its commit until the deployment ends: not a branch or
/// tag (users cannot push or fetch it), but a ref, so that a worker can fetch it.
pub const INCOMING: &str = "refs/slipway/incoming/";
/// An all-zero object id: "no such ref" in git's protocol.
pub const ZERO: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("git is not installed on the API server (no `git` on PATH)")]
    NoGit,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("git {command} failed: {stderr}")]
    Git { command: String, stderr: String },
}

#[derive(Clone)]
pub struct Storage {
    dir: PathBuf,
}

impl Storage {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self, app_id: Uuid) -> PathBuf {
        self.dir.join(format!("{app_id}.git"))
    }

    /// The app's repository, made (empty, on `branch`) if it does not exist yet.
    pub async fn ensure(&self, app_id: Uuid, branch: &str) -> Result<PathBuf, StorageError> {
        self.ensure_at(self.path(app_id), branch).await
    }

    /// An empty repository, whose advertisement is what a push to a new app sees.
    pub async fn empty(&self) -> Result<PathBuf, StorageError> {
        self.ensure_at(self.dir.join(".empty.git"), super::DEFAULT_BRANCH)
            .await
    }

    async fn ensure_at(&self, path: PathBuf, branch: &str) -> Result<PathBuf, StorageError> {
        if tokio::fs::try_exists(path.join("HEAD")).await? {
            return Ok(path);
        }
        tokio::fs::create_dir_all(&self.dir).await?;
        // Made aside and renamed into place, so that two first pushes at once never
        // see a half-made repository.
        let scratch = self.dir.join(format!(".new-{}", Uuid::new_v4()));
        let made = async {
            let initial = format!("--initial-branch={branch}");
            git(
                &scratch,
                &["init", "--bare", "--quiet", "--template=", &initial],
            )
            .await?;
            match tokio::fs::rename(&scratch, &path).await {
                Ok(()) => Ok(()),
                // Another request made it meanwhile: theirs is as good.
                Err(_) if tokio::fs::try_exists(path.join("HEAD")).await? => Ok(()),
                Err(e) => Err(StorageError::Io(e)),
            }
        }
        .await;
        let _ = tokio::fs::remove_dir_all(&scratch).await;
        made.map(|()| path)
    }

    /// Removes an app's repository (the app was deleted); a missing one is fine.
    pub async fn remove(&self, app_id: Uuid) -> Result<(), std::io::Error> {
        match tokio::fs::remove_dir_all(self.path(app_id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Bytes the repository takes on disk: what SLIPWAY_MAX_REPO_SIZE bounds.
pub async fn size(path: &Path) -> u64 {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || disk_usage(&path))
        .await
        .unwrap_or(0)
}

fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// The `git` binary on PATH, found when first needed.
pub fn git_binary() -> Result<&'static Path, StorageError> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join("git"))
                .find(|candidate| candidate.is_file())
        })
        .as_deref()
        .ok_or(StorageError::NoGit)
}

/// A git command on `repo` that reads no user or system configuration and runs no
/// hooks: what it does depends on Slipway alone.
pub fn command(
    repo: &Path,
    config: &[(&str, &str)],
    args: &[&str],
) -> Result<Command, StorageError> {
    let mut command = Command::new(git_binary()?);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", repo)
        .args(["-c", "core.hooksPath=/dev/null"]);
    for (key, value) in config {
        command.arg("-c").arg(format!("{key}={value}"));
    }
    command
        .args(args)
        .current_dir(repo.parent().unwrap_or(repo))
        .kill_on_drop(true);
    Ok(command)
}

/// Runs `git -C repo args…` to completion; its stdout, or its stderr as the error.
pub async fn git(repo: &Path, args: &[&str]) -> Result<String, StorageError> {
    let mut full = vec!["--git-dir"];
    let dir = repo.to_string_lossy();
    full.push(&dir);
    full.extend_from_slice(args);
    let output = command(repo, &[], &full)?
        .stdin(Stdio::null())
        .output()
        .await?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(StorageError::Git {
            command: args.first().copied().unwrap_or_default().to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The commit `name` points at, or [`ZERO`] when there is no such ref.
pub async fn resolve(repo: &Path, name: &str) -> Result<String, StorageError> {
    match git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{name}^{{commit}}"),
        ],
    )
    .await
    {
        Ok(sha) => Ok(sha),
        Err(StorageError::Git { .. }) => Ok(ZERO.to_owned()),
        Err(e) => Err(e),
    }
}

/// Whether `old` is an ancestor of `new` (a fast-forward from `old` to `new`).
pub async fn is_ancestor(repo: &Path, old: &str, new: &str) -> Result<bool, StorageError> {
    match git(repo, &["merge-base", "--is-ancestor", old, new]).await {
        Ok(_) => Ok(true),
        Err(StorageError::Git { stderr, .. }) if stderr.is_empty() => Ok(false),
        Err(e) => Err(e),
    }
}
