//! The Docker build context, written straight from a commit's tree into a tar stream.
//! Entries carry fixed metadata (mtime 0, uid 0) so the same commit always yields the
//! same bytes and Docker's layer cache hits on a redeploy. A fetched submodule's tree
//! takes the place of its gitlink, under the same rules.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use git2::{ObjectType, Oid, Repository, Tree};

use slipway_core::display::human_bytes;

use crate::SourceError;
use crate::dockerignore::DockerIgnore;
use crate::fetched::{Fetched, MODE_GITLINK, MODE_SYMLINK, Submodule, read_dockerignore};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSummary {
    pub files: u64,
    pub bytes: u64,
    pub ignored: u64,
    pub skipped_symlinks: Vec<String>,
}

const MODE_EXECUTABLE: i32 = 0o100755;

/// Writes the context of `fetched`'s commit to `out` as a complete tar archive.
/// `max_bytes`: the most file content the context may hold (ignored files excluded);
/// past it, [`SourceError::TooLarge`].
pub fn write_context<W: Write>(
    fetched: &Fetched,
    dockerfile: &str,
    max_bytes: u64,
    out: W,
    cancel: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<ContextSummary, SourceError> {
    let repo = Repository::open_bare(&fetched.git_dir)?;
    let commit = repo.find_commit(git2::Oid::from_str(&fetched.commit_sha)?)?;
    let tree = commit.tree()?;
    let short = fetched
        .commit_sha
        .get(..7)
        .unwrap_or(&fetched.commit_sha)
        .to_owned();
    let is_regular_file = tree
        .get_path(std::path::Path::new(dockerfile))
        .is_ok_and(|e| e.kind() == Some(ObjectType::Blob) && e.filemode() != MODE_SYMLINK);
    if !is_regular_file {
        return Err(SourceError::DockerfileMissing {
            path: dockerfile.to_owned(),
            commit: short,
        });
    }
    let ignore = read_dockerignore(&repo, &tree)?;
    let mut writer = ContextWriter {
        submodules: fetched.submodules.as_ref(),
        tar: tar::Builder::new(out),
        ignore,
        dockerfile,
        max_bytes,
        cancel,
        log,
        summary: ContextSummary::default(),
    };
    writer.walk(&repo, &tree, "", false)?;
    writer.tar.into_inner()?.flush()?;
    Ok(writer.summary)
}

struct ContextWriter<'a, W: Write> {
    /// Fetched submodules by path; `None` when the app did not ask for them.
    submodules: Option<&'a BTreeMap<String, Submodule>>,
    tar: tar::Builder<W>,
    ignore: DockerIgnore,
    dockerfile: &'a str,
    max_bytes: u64,
    cancel: &'a AtomicBool,
    log: &'a mut dyn FnMut(String),
    summary: ContextSummary,
}

impl<W: Write> ContextWriter<'_, W> {
    /// Writes `tree` of `repo` under `prefix`; `in_submodule` when that tree is a
    /// submodule's.
    fn walk(
        &mut self,
        repo: &Repository,
        tree: &Tree<'_>,
        prefix: &str,
        in_submodule: bool,
    ) -> Result<(), SourceError> {
        for entry in tree.iter() {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(SourceError::Cancelled);
            }
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            let path = format!("{prefix}{name}");
            let mode = entry.filemode();
            if mode == MODE_GITLINK {
                if self.ignore.is_ignored(&path) && !self.ignore.has_exceptions() {
                    self.summary.ignored += 1;
                    continue;
                }
                self.submodule(&path, entry.id(), in_submodule)?;
                continue;
            }
            if entry.kind() == Some(ObjectType::Tree) {
                // An ignored directory can still hold re-included files ("!dir/keep").
                if self.ignore.is_ignored(&path) && !self.ignore.has_exceptions() {
                    self.summary.ignored += 1;
                    continue;
                }
                let subtree = entry.to_object(repo)?.peel_to_tree()?;
                self.walk(repo, &subtree, &format!("{path}/"), in_submodule)?;
                continue;
            }
            let always = path == self.dockerfile || path == ".dockerignore";
            if !always && self.ignore.is_ignored(&path) {
                self.summary.ignored += 1;
                continue;
            }
            let blob = entry.to_object(repo)?.peel_to_blob()?;
            if mode == MODE_SYMLINK {
                self.symlink(&path, blob.content())?;
            } else {
                self.file(&path, blob.content(), mode == MODE_EXECUTABLE)?;
            }
        }
        Ok(())
    }

    /// The tree of the submodule at `path`, in place of its gitlink, where it was fetched.
    fn submodule(&mut self, path: &str, commit: Oid, nested: bool) -> Result<(), SourceError> {
        if nested {
            (self.log)(format!(
                "skipping nested submodule {path}: submodules of submodules are not fetched"
            ));
            return Ok(());
        }
        let Some(fetched) = self.submodules else {
            (self.log)(format!(
                "skipping submodule {path}: submodules are not fetched \
                 (set [build] submodules = true in slipway.toml to include them)"
            ));
            return Ok(());
        };
        let Some(submodule) = fetched.get(path) else {
            (self.log)(format!(
                "skipping submodule {path}: .gitmodules has no entry for it"
            ));
            return Ok(());
        };
        let repo = Repository::open_bare(&submodule.git_dir)?;
        let tree = repo.find_commit(commit)?.tree()?;
        self.walk(&repo, &tree, &format!("{path}/"), true)
    }

    fn file(&mut self, path: &str, data: &[u8], executable: bool) -> Result<(), SourceError> {
        if self.summary.bytes + data.len() as u64 > self.max_bytes {
            return Err(SourceError::TooLarge {
                what: "the build context",
                limit: human_bytes(self.max_bytes),
                setting: "SLIPWAY_MAX_CONTEXT_SIZE",
            });
        }
        let mut header = header(
            tar::EntryType::Regular,
            if executable { 0o755 } else { 0o644 },
        );
        header.set_size(data.len() as u64);
        self.tar.append_data(&mut header, path, data)?;
        self.summary.files += 1;
        self.summary.bytes += data.len() as u64;
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &[u8]) -> Result<(), SourceError> {
        let target = String::from_utf8_lossy(target).into_owned();
        if !stays_inside(path, &target) {
            (self.log)(format!(
                "skipping symlink {path} -> {target}: it points outside the repository"
            ));
            self.summary.skipped_symlinks.push(path.to_owned());
            return Ok(());
        }
        let mut header = header(tar::EntryType::Symlink, 0o777);
        header.set_size(0);
        self.tar.append_link(&mut header, path, &target)?;
        self.summary.files += 1;
        Ok(())
    }
}

fn header(kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// Whether a symlink at `path` pointing to `target` resolves, lexically, inside the
/// repository. Absolute targets never do.
fn stays_inside(path: &str, target: &str) -> bool {
    if target.starts_with('/') || target.is_empty() {
        return false;
    }
    let mut depth: Vec<&str> = path.split('/').collect();
    depth.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            other => depth.push(other),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::stays_inside;

    #[test]
    fn symlink_targets() {
        assert!(stays_inside("a/link", "b"));
        assert!(stays_inside("a/link", "../c"));
        assert!(stays_inside("a/b/link", "../../c"));
        assert!(!stays_inside("a/link", "../../etc/passwd"));
        assert!(!stays_inside("link", "../x"));
        assert!(!stays_inside("link", "/etc/passwd"));
        assert!(!stays_inside("link", ""));
        assert!(stays_inside("a/link", "./x/../y"));
    }
}
