//! Asking a remote which commit a ref names, without fetching anything (`git ls-remote`).
//! A redeploy of a commit Slipway has already built then needs neither clone nor build.

use std::cell::Cell;

use git2::{Cred, CredentialType, Direction, Remote, RemoteCallbacks};

/// The commit `git_ref` (a branch, tag or full sha; `None` for the default branch) names
/// on the remote, or `None` when that cannot be told without fetching (an abbreviated
/// sha, an unreachable remote): the caller then fetches as usual.
pub fn resolve_commit(url: &str, git_ref: Option<&str>) -> Option<String> {
    if let Some(r) = git_ref
        && r.len() == 40
        && r.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Some(r.to_ascii_lowercase());
    }
    let mut remote = Remote::create_detached(url).ok()?;
    let asked = Cell::new(false);
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |_url, username, allowed| {
        if asked.replace(true) || !allowed.contains(CredentialType::SSH_KEY) {
            return Err(git2::Error::from_str("no credentials"));
        }
        Cred::ssh_key_from_agent(username.unwrap_or("git"))
    });
    let connection = remote
        .connect_auth(Direction::Fetch, Some(callbacks), None)
        .ok()?;
    let heads = connection.list().ok()?;
    let wanted: Vec<String> = match git_ref {
        None => vec!["HEAD".to_owned()],
        // As the fetch does: a branch first, then a tag (its commit, for annotated tags).
        Some(name) => vec![
            format!("refs/heads/{name}"),
            format!("refs/tags/{name}^{{}}"),
            format!("refs/tags/{name}"),
        ],
    };
    wanted.iter().find_map(|w| {
        heads
            .iter()
            .find(|h| h.name() == w)
            .map(|h| h.oid().to_string())
    })
}
