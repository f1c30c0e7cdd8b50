//! Fetching one commit with libgit2 into a fresh bare repository. No work tree is checked
//! out: the build context is written straight from the commit's tree.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use git2::{AutotagOption, Cred, CredentialType, FetchOptions, Oid, RemoteCallbacks, Repository};
use slipway_core::display::human_bytes;
use slipway_core::validate::redact;

use crate::SourceError;
use crate::fetched::Fetched;

/// Where the fetched commit is kept inside the scratch repository.
const TARGET: &str = "refs/slipway/target";
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// A user name and password for an http(s) remote that asks for them (Basic
/// authentication): a worker fetching a push app's commits from the API.
pub struct Login {
    pub user: String,
    pub password: String,
}

/// Fetches `git_ref` (a branch, tag or commit sha; `None` for the remote's default
/// branch) from `url` into `dest`, shallowly where the transport allows it, offering
/// `login` if the remote asks for credentials. `max_bytes`: the most the remote may
/// send; past it the fetch stops with [`SourceError::TooLarge`].
pub fn fetch(
    url: &str,
    login: Option<&Login>,
    git_ref: Option<&str>,
    dest: &Path,
    max_bytes: u64,
    cancel: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<Fetched, SourceError> {
    let git_dir = dest.join("repo.git");
    let repo = Repository::init_bare(&git_dir)?;
    log(format!(
        "Fetching {} ({})",
        redact(url, url),
        git_ref.unwrap_or("default branch")
    ));
    let mut session = Session::new(&repo, url, cancel, log, max_bytes, 0);
    session.login = login;
    let found = match git_ref {
        None => session.fetch_into_target("HEAD")?,
        Some(r) => session.fetch_named(r)?,
    };
    if !found {
        return Err(SourceError::RefNotFound {
            git_ref: git_ref.unwrap_or("HEAD").to_owned(),
            url: redact(url, url),
        });
    }
    let commit = repo.find_reference(TARGET)?.peel_to_commit()?;
    let fetched = Fetched {
        git_dir: git_dir.clone(),
        commit_sha: commit.id().to_string(),
        commit_message: commit.message().unwrap_or_default().trim().to_owned(),
        received_bytes: session.received.get(),
        submodules: None,
    };
    let summary = fetched.commit_message.lines().next().unwrap_or_default();
    (session.log)(format!(
        "Checked out {}: {summary}",
        &fetched.commit_sha[..7]
    ));
    Ok(fetched)
}

/// Fetches commit `oid` from `url` into a fresh bare repository at `git_dir`, under
/// what is left of `max_bytes` after `spent`: asked for by id, shallow, where the
/// transport allows it, else looked for among every branch and tag. Returns the bytes
/// received and whether the commit arrived.
pub(crate) fn fetch_commit(
    url: &str,
    oid: Oid,
    git_dir: &Path,
    max_bytes: u64,
    spent: u64,
    cancel: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<(u64, bool), SourceError> {
    let repo = Repository::init_bare(git_dir)?;
    let mut session = Session::new(&repo, url, cancel, log, max_bytes, spent);
    session.what = "the repository with its submodules";
    let found = session.fetch_oid(oid)?;
    Ok((session.received.get().saturating_sub(spent), found))
}

fn is_local(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with('/')
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

struct Session<'a> {
    repo: &'a Repository,
    url: &'a str,
    cancel: &'a AtomicBool,
    log: &'a mut dyn FnMut(String),
    shallow: bool,
    max_bytes: u64,
    /// Bytes received so far, this session's transfers and any counted before it: all
    /// of them together may not pass `max_bytes`.
    received: Cell<u64>,
    /// Set when the transfer passed `max_bytes` and was stopped for it.
    too_large: Cell<bool>,
    /// What the size limit is said to be about.
    what: &'static str,
    login: Option<&'a Login>,
}

impl<'a> Session<'a> {
    fn new(
        repo: &'a Repository,
        url: &'a str,
        cancel: &'a AtomicBool,
        log: &'a mut dyn FnMut(String),
        max_bytes: u64,
        spent: u64,
    ) -> Self {
        Self {
            repo,
            url,
            cancel,
            log,
            shallow: !is_local(url),
            max_bytes,
            received: Cell::new(spent),
            too_large: Cell::new(false),
            what: "the repository",
            login: None,
        }
    }

    /// Fetches one commit by id into the target ref; false when the remote has not got
    /// it (or will not serve it).
    fn fetch_oid(&mut self, oid: Oid) -> Result<bool, SourceError> {
        // Most hosts serve a commit by id, and shallow that is one commit's tree rather
        // than the whole history. A local remote never does, but sends whatever its
        // refs reach.
        if self.shallow {
            self.attempt(&[format!("+{oid}:{TARGET}")], true)?;
            if self.has(oid) {
                return self.keep(oid);
            }
        }
        self.run(
            &[
                "+refs/heads/*:refs/remotes/origin/*".to_owned(),
                "+refs/tags/*:refs/tags/*".to_owned(),
            ],
            false,
        )?;
        if self.has(oid) {
            return self.keep(oid);
        }
        Ok(false)
    }

    /// A fetch whose failure is not an error (the server may refuse to serve a commit
    /// by id), except when it was stopped: cancelled or over the size limit.
    fn attempt(&mut self, refspecs: &[String], shallow: bool) -> Result<(), SourceError> {
        match self.try_fetch(refspecs, shallow) {
            Err(e) if self.cancel.load(Ordering::Relaxed) || self.too_large.get() => {
                Err(self.explain(e))
            }
            _ => Ok(()),
        }
    }

    fn has(&self, oid: Oid) -> bool {
        self.repo.find_commit(oid).is_ok()
    }

    fn keep(&self, oid: Oid) -> Result<bool, SourceError> {
        self.repo
            .reference(TARGET, oid, true, "slipway: submodule commit")?;
        Ok(true)
    }

    fn fetch_named(&mut self, name: &str) -> Result<bool, SourceError> {
        if self.fetch_into_target(&format!("refs/heads/{name}"))? {
            return Ok(true);
        }
        if self.fetch_into_target(&format!("refs/tags/{name}"))? {
            return Ok(true);
        }
        if !(7..=40).contains(&name.len()) || !is_hex(name) {
            return Ok(false);
        }
        // Servers may serve a full sha directly (shallow); anything else needs history.
        if name.len() == 40
            && self.shallow
            && self.try_fetch(&[format!("+{name}:{TARGET}")], true).is_ok()
        {
            return Ok(self.target_exists());
        }
        self.run(
            &[
                "+refs/heads/*:refs/remotes/origin/*".to_owned(),
                "+refs/tags/*:refs/tags/*".to_owned(),
            ],
            false,
        )?;
        let Ok(object) = self.repo.revparse_single(name) else {
            return Ok(false);
        };
        let Ok(commit) = object.peel_to_commit() else {
            return Ok(false);
        };
        self.repo
            .reference(TARGET, commit.id(), true, "slipway: resolved commit")?;
        Ok(true)
    }

    /// Fetches `source` (a remote ref) into the target ref; false when the remote has no such ref.
    fn fetch_into_target(&mut self, source: &str) -> Result<bool, SourceError> {
        self.run(&[format!("+{source}:{TARGET}")], self.shallow)?;
        Ok(self.target_exists())
    }

    fn target_exists(&self) -> bool {
        self.repo.find_reference(TARGET).is_ok()
    }

    fn run(&mut self, refspecs: &[String], shallow: bool) -> Result<(), SourceError> {
        self.try_fetch(refspecs, shallow)
            .map_err(|e| self.explain(e))
    }

    fn try_fetch(&mut self, refspecs: &[String], shallow: bool) -> Result<(), git2::Error> {
        let cancel = self.cancel;
        let (max_bytes, too_large) = (self.max_bytes, &self.too_large);
        // Each transfer counts from zero; earlier ones are already in `received`.
        let before = self.received.get();
        let this_transfer = Cell::new(0u64);
        let this = &this_transfer;
        // Both progress callbacks write to the same log.
        let log = RefCell::new(&mut *self.log);
        let log = &log;
        let mut callbacks = RemoteCallbacks::new();
        let mut last_report = Instant::now();
        let asked = Cell::new(0u32);
        let login = self.login;
        callbacks.credentials(move |_url, username, allowed| {
            asked.set(asked.get() + 1);
            if asked.get() > 1 {
                return Err(git2::Error::from_str(
                    "the credentials offered were refused",
                ));
            }
            if allowed.contains(CredentialType::SSH_KEY) {
                return Cred::ssh_key_from_agent(username.unwrap_or("git"));
            }
            if let Some(login) = login
                && allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            {
                return Cred::userpass_plaintext(&login.user, &login.password);
            }
            Err(git2::Error::new(
                git2::ErrorCode::Auth,
                git2::ErrorClass::Http,
                "authentication required, and Slipway has no credentials for this repository",
            ))
        });
        let mut progress = String::new();
        callbacks.sideband_progress(move |data| {
            for line in String::from_utf8_lossy(data).split(['\r', '\n']) {
                let line = line.trim();
                if !line.is_empty() {
                    (log.borrow_mut())(format!("remote: {line}"));
                }
            }
            !cancel.load(Ordering::Relaxed)
        });
        callbacks.transfer_progress(move |stats| {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            let received = stats.received_bytes() as u64;
            this.set(received);
            if before.saturating_add(received) > max_bytes {
                too_large.set(true);
                return false;
            }
            let done = stats.received_objects() == stats.total_objects();
            if done || last_report.elapsed() >= PROGRESS_EVERY {
                last_report = Instant::now();
                let line = format!(
                    "Received {}/{} objects ({})",
                    stats.received_objects(),
                    stats.total_objects(),
                    human_bytes(stats.received_bytes() as u64)
                );
                if line != progress && stats.total_objects() > 0 {
                    (log.borrow_mut())(line.clone());
                    progress = line;
                }
            }
            true
        });
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(callbacks)
            .download_tags(AutotagOption::None);
        if shallow {
            options.depth(1);
        }
        let mut remote = self.repo.remote_anonymous(self.url)?;
        let fetched = remote.fetch(refspecs, Some(&mut options), None);
        self.received
            .set(before.saturating_add(this_transfer.get()));
        fetched
    }

    fn explain(&self, e: git2::Error) -> SourceError {
        if self.cancel.load(Ordering::Relaxed) {
            return SourceError::Cancelled;
        }
        if self.too_large.get() {
            return SourceError::TooLarge {
                what: self.what,
                limit: human_bytes(self.max_bytes),
                setting: "SLIPWAY_MAX_REPO_SIZE",
            };
        }
        // Credentials in the URL are for git only, and git may quote the URL.
        let message = redact(e.message(), self.url);
        let url = redact(self.url, self.url);
        if e.code() == git2::ErrorCode::Auth {
            return SourceError::Auth { url, message };
        }
        SourceError::Fetch { url, message }
    }
}
