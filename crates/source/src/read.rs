//! Reading one file of the fetched commit without a checkout (the app spec file).

use git2::{ObjectType, Repository};

use crate::SourceError;
use crate::fetched::{Fetched, MAX_READ_BYTES, MODE_SYMLINK};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path} is not a regular file in the commit")]
    NotAFile { path: String },
    #[error("{path} is larger than {} KiB", MAX_READ_BYTES / 1024)]
    TooLarge { path: String },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl From<git2::Error> for ReadError {
    fn from(e: git2::Error) -> Self {
        ReadError::Source(SourceError::Git(e))
    }
}

/// The text of `path` in the fetched commit, or `None` when the commit has no such path.
pub fn read_file(fetched: &Fetched, path: &str) -> Result<Option<String>, ReadError> {
    let repo = Repository::open_bare(&fetched.git_dir)?;
    let commit = repo.find_commit(git2::Oid::from_str(&fetched.commit_sha)?)?;
    let tree = commit.tree()?;
    let entry = match tree.get_path(std::path::Path::new(path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // A symlink could point anywhere, even outside the repository: refuse it.
    if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == MODE_SYMLINK {
        return Err(ReadError::NotAFile {
            path: path.to_owned(),
        });
    }
    let blob = entry.to_object(&repo)?.peel_to_blob()?;
    if blob.size() > MAX_READ_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(blob.content().to_vec())
        .map(Some)
        .map_err(|_| ReadError::NotText {
            path: path.to_owned(),
        })
}
