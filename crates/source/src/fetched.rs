//! What the other modules share about a fetched commit: the commit with its submodules,
//! the git file modes they look for, and the limits on the files they read from its
//! tree. It depends on none of them, so they need not depend on each other.

use std::collections::BTreeMap;
use std::path::PathBuf;

use git2::{Repository, Tree};

use crate::SourceError;
use crate::dockerignore::DockerIgnore;

pub(crate) const MODE_SYMLINK: i32 = 0o120000;
pub(crate) const MODE_GITLINK: i32 = 0o160000;

/// Files larger than this are not read: a spec file is a few hundred bytes.
pub(crate) const MAX_READ_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Fetched {
    /// The bare repository holding the commit.
    pub git_dir: PathBuf,
    pub commit_sha: String,
    pub commit_message: String,
    /// What the fetch transferred: submodules share SLIPWAY_MAX_REPO_SIZE with it.
    pub received_bytes: u64,
    /// The submodules fetched with [`crate::fetch_submodules`], by path; `None` when
    /// they were not asked for.
    pub submodules: Option<BTreeMap<String, Submodule>>,
}

/// A fetched submodule: commit `commit` of the bare repository at `git_dir`, whose tree
/// the build context holds at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submodule {
    pub path: String,
    pub commit: String,
    pub git_dir: PathBuf,
}

/// The `.dockerignore` at the root of `tree`; an empty one without the file.
pub(crate) fn read_dockerignore(
    repo: &Repository,
    tree: &Tree<'_>,
) -> Result<DockerIgnore, SourceError> {
    match tree.get_name(".dockerignore") {
        Some(entry) => {
            let blob = entry.to_object(repo)?.peel_to_blob()?;
            DockerIgnore::parse(&String::from_utf8_lossy(blob.content()))
        }
        None => Ok(DockerIgnore::default()),
    }
}
