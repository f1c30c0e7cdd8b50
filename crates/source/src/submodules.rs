//! Fetching the git submodules of a fetched commit, for apps that ask for them
//! (`[build] submodules = true`). Each submodule's URL comes from the commit's
//! `.gitmodules`, so it is held to every rule an app's `repo_url` is held to; its
//! commit is fetched into a bare repository of its own, within what is left of the
//! repository's size limit. Submodules of submodules are not fetched.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use git2::{ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};
use slipway_core::display::{human_bytes, short_sha};
use slipway_core::validate::redact;

use crate::fetch::fetch_commit;
use crate::fetched::{
    Fetched, MAX_READ_BYTES, MODE_GITLINK, MODE_SYMLINK, Submodule, read_dockerignore,
};
use crate::{SourceError, gitmodules, remote};

/// Where submodules come from and what they may cost.
#[derive(Debug, Clone, Copy)]
pub struct SubmoduleFetch<'a> {
    /// The app's repository URL: relative submodule URLs (`../lib.git`) resolve
    /// against it, as git resolves them against the superproject's remote.
    pub repo_url: &'a str,
    /// The directory the submodules' repositories are made in.
    pub dest: &'a Path,
    /// The most the repository and all its submodules may transfer together (the
    /// limit the repository was fetched under).
    pub max_bytes: u64,
    /// Whether `file://` URLs, local paths and loopback hosts may be fetched.
    pub allow_local: bool,
}

/// Fetches the submodules of `fetched`'s commit and returns it with them. A gitlink
/// that `.dockerignore` leaves out is not fetched (the log says so), nor is one that
/// `.gitmodules` does not declare (the build context writer says so).
pub fn fetch_submodules(
    fetched: &Fetched,
    how: &SubmoduleFetch<'_>,
    cancel: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<Fetched, SourceError> {
    let repo = Repository::open_bare(&fetched.git_dir)?;
    let tree = repo
        .find_commit(Oid::from_str(&fetched.commit_sha)?)?
        .tree()?;
    let gitlinks = gitlinks(&tree)?;
    let mut done = fetched.clone();
    let mut submodules = BTreeMap::new();
    if gitlinks.is_empty() {
        done.submodules = Some(submodules);
        return Ok(done);
    }
    let declared = read_gitmodules(&repo, &tree)?;
    let ignore = read_dockerignore(&repo, &tree)?;
    let mut received = fetched.received_bytes;
    for (index, (path, oid)) in gitlinks.into_iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(SourceError::Cancelled);
        }
        if ignore.is_ignored(&path) && !ignore.has_exceptions() {
            log(format!(
                "Submodule {path} is left out by .dockerignore: not fetched"
            ));
            continue;
        }
        let Some(entry) = declared
            .iter()
            .find(|d| d.path.as_deref().map(|p| p.trim_end_matches('/')) == Some(&path))
        else {
            continue;
        };
        let in_submodule = |e: SourceError| match e {
            SourceError::Cancelled => e,
            e => SourceError::Submodule {
                path: path.clone(),
                reason: Box::new(e),
            },
        };
        let url = submodule_url(entry.url.as_deref(), how).map_err(in_submodule)?;
        // Credentials in the submodule's URL, or the app's it was resolved against,
        // are for git only.
        let hide = |text: &str| redact(&redact(text, &url), how.repo_url);
        let shown = hide(&url);
        if let Err(reason) = remote::check_url(&url, how.allow_local) {
            return Err(in_submodule(SourceError::UrlRefused {
                url: shown,
                reason: hide(&reason),
            }));
        }
        let sha = oid.to_string();
        log(format!(
            "Fetching submodule {path} from {shown} (commit {})",
            short_sha(&sha)
        ));
        let git_dir = how.dest.join("submodules").join(format!("{index}.git"));
        let mut quiet = |line: String| log(hide(&line));
        let (bytes, found) = fetch_commit(
            &url,
            oid,
            &git_dir,
            how.max_bytes,
            received,
            cancel,
            &mut quiet,
        )
        .map_err(in_submodule)?;
        received += bytes;
        if !found {
            return Err(in_submodule(SourceError::CommitMissing {
                commit: sha,
                url: shown,
            }));
        }
        log(format!(
            "Fetched submodule {path} at {} ({})",
            short_sha(&sha),
            human_bytes(bytes)
        ));
        submodules.insert(
            path.clone(),
            Submodule {
                path,
                commit: sha,
                git_dir,
            },
        );
    }
    done.received_bytes = received;
    done.submodules = Some(submodules);
    Ok(done)
}

/// The gitlinks of `tree` (paths with `/`, and the commits they name), in tree order.
fn gitlinks(tree: &Tree<'_>) -> Result<Vec<(String, Oid)>, SourceError> {
    let mut found = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        if entry.filemode() == MODE_GITLINK {
            let name = String::from_utf8_lossy(entry.name_bytes());
            found.push((format!("{root}{name}"), entry.id()));
        }
        TreeWalkResult::Ok
    })?;
    Ok(found)
}

/// The submodules `.gitmodules` declares; none without the file.
fn read_gitmodules(
    repo: &Repository,
    tree: &Tree<'_>,
) -> Result<Vec<gitmodules::Declared>, SourceError> {
    let Some(entry) = tree.get_name(".gitmodules") else {
        return Ok(Vec::new());
    };
    // git refuses a symlinked .gitmodules too: its target could be anything.
    if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == MODE_SYMLINK {
        return Err(SourceError::GitmodulesFile(
            "is not a regular file (git refuses a symlinked .gitmodules too)",
        ));
    }
    let blob = entry.to_object(repo)?.peel_to_blob()?;
    if blob.size() > MAX_READ_BYTES {
        return Err(SourceError::GitmodulesFile("is larger than 1 MiB"));
    }
    let Ok(text) = std::str::from_utf8(blob.content()) else {
        return Err(SourceError::GitmodulesFile("is not UTF-8 text"));
    };
    gitmodules::parse(text).map_err(|e| SourceError::Gitmodules {
        line: e.line,
        message: e.message,
    })
}

/// The URL to fetch a submodule from: its `.gitmodules` url, resolved against the
/// app's when relative.
fn submodule_url(declared: Option<&str>, how: &SubmoduleFetch<'_>) -> Result<String, SourceError> {
    let Some(url) = declared.filter(|u| !u.is_empty()) else {
        return Err(SourceError::SubmoduleUrl(
            ".gitmodules gives it no url".to_owned(),
        ));
    };
    gitmodules::resolve_url(how.repo_url, url)
        .map_err(|e| SourceError::SubmoduleUrl(redact(&redact(&e, url), how.repo_url)))
}
