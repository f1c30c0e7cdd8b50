//! `git push`. The commands are read here first, so that the push is decided by
//! Slipway rather than by git alone:
//!
//! - a ref that is not a branch or tag, or the deletion of the app's branch, is refused;
//! - other branches and tags are handed to `git receive-pack` as they are (stored only);
//! - the app's branch is received under a hidden ref (`refs/slipway/incoming/<id>`)
//!   instead: its objects are then in the repository, where a worker on any host can
//!   fetch the commit from the API, while the branch still points where it did. The
//!   commit is deployed, and only if the deployment succeeds is the branch moved to it
//!   (compare-and-swap) and the push told `ok`; otherwise it is told `ng` with the
//!   phase and reason, and `git push` exits non-zero.
//!
//! The pack is bounded by SLIPWAY_MAX_REPO_SIZE less what the repository already takes.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Stdio;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use slipway_core::display::{human_bytes, short_sha};
use slipway_core::{AppName, DeploymentStatus, DockerfilePath};
use slipway_store::apps::{self, AppRow, NewApp, Owner};
use slipway_store::users::Caller;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::access::{self, GitError, Target, Who};
use super::body::Incoming;
use super::out::{Out, Statuses};
use super::pkt::{self, Pkt};
use super::storage::{self, INCOMING, Storage, ZERO};
use crate::AppState;

/// More commands than any real push carries.
const MAX_COMMANDS: usize = 1000;

pub(super) async fn receive_pack(
    State(state): State<AppState>,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GitError> {
    let who = access::who(&state, &headers).await?;
    let Who::User(caller) = who else {
        return Err(GitError::new(
            StatusCode::FORBIDDEN,
            "the internal token may fetch, not push",
        ));
    };
    let target = match access::target(&state, &Who::User(caller.clone()), &repo).await? {
        Target::App(app) if app.repo_url.is_some() => return Err(super::not_a_push_app(&app)),
        Target::App(app) => Ok(app),
        Target::New(Ok(name)) => Err(name),
        Target::New(Err(why)) => {
            return Err(GitError::new(StatusCode::UNPROCESSABLE_ENTITY, why));
        }
    };
    let incoming = Incoming::new(body, &headers)
        .map_err(|e| GitError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e))?;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let push = Push {
        storage: Storage::new(&state.config.repo_dir),
        state,
        caller,
        out: Out::new(tx),
    };
    // The push goes on if the client leaves: a deployment that succeeds still moves
    // its branch.
    tokio::spawn(push.run(target, incoming));
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(Ok::<_, std::convert::Infallible>);
    Ok((
        [
            (CONTENT_TYPE, "application/x-git-receive-pack-result"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One ref update the client asked for.
#[derive(Debug, Clone)]
struct Command {
    old: String,
    new: String,
    name: String,
}

impl Command {
    fn parse(line: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(line).ok()?;
        let mut parts = text.splitn(3, ' ');
        let (old, new, name) = (parts.next()?, parts.next()?, parts.next()?);
        let oid = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (oid(old) && oid(new) && !name.is_empty()).then(|| Self {
            old: old.to_ascii_lowercase(),
            new: new.to_ascii_lowercase(),
            name: name.to_owned(),
        })
    }

    fn deletes(&self) -> bool {
        self.new == ZERO
    }

    fn line(&self) -> String {
        format!("{} {} {}", self.old, self.new, self.name)
    }
}

/// What the client sent before its pack.
struct Request {
    /// `shallow <oid>` lines of a shallow clone's push, passed on as they are.
    shallow: Vec<Vec<u8>>,
    commands: Vec<Command>,
    capabilities: BTreeSet<String>,
    options: Vec<String>,
}

/// `Ok(None)`: the client sent nothing (it gave up).
async fn read_request(body: &mut Incoming) -> Result<Option<Request>, String> {
    let mut request = Request {
        shallow: Vec::new(),
        commands: Vec::new(),
        capabilities: BTreeSet::new(),
        options: Vec::new(),
    };
    loop {
        let data = match body.pkt().await? {
            None if request.commands.is_empty() => return Ok(None),
            None => return Err("the push ended before its command list did".to_owned()),
            Some(Pkt::Flush) => break,
            Some(Pkt::Special(_)) => return Err("unexpected delimiter in the command list".to_owned()),
            Some(Pkt::Data(data)) => data,
        };
        let mut line = pkt::text(&data);
        if line.starts_with(b"shallow ") {
            request.shallow.push(line.to_vec());
            continue;
        }
        if request.commands.is_empty()
            && let Some(nul) = line.iter().position(|b| *b == 0)
        {
            let caps = String::from_utf8_lossy(&line[nul + 1..]).into_owned();
            request.capabilities = caps.split(' ').filter(|c| !c.is_empty()).map(str::to_owned).collect();
            line = &line[..nul];
        }
        let command = Command::parse(line).ok_or_else(|| {
            format!("malformed command {:?}", String::from_utf8_lossy(line))
        })?;
        request.commands.push(command);
        if request.commands.len() > MAX_COMMANDS {
            return Err(format!("more than {MAX_COMMANDS} refs in one push"));
        }
    }
    if request.capabilities.contains("push-options") {
        loop {
            match body.pkt().await? {
                Some(Pkt::Flush) => break,
                Some(Pkt::Data(data)) => request
                    .options
                    .push(String::from_utf8_lossy(pkt::text(&data)).into_owned()),
                _ => return Err("the push options ended early".to_owned()),
            }
        }
    }
    Ok(Some(request))
}

/// `-o slipway.detach`, `-o slipway.force`.
#[derive(Default)]
struct Options {
    detach: bool,
    force: bool,
}

impl Options {
    /// Unknown `slipway.*` options are refused (a typo must not deploy unexpectedly);
    /// others are left to whoever they are for.
    fn parse(raw: &[String]) -> Result<Self, String> {
        let mut options = Self::default();
        for option in raw {
            match option.as_str() {
                "slipway.detach" => options.detach = true,
                "slipway.force" => options.force = true,
                other if other.starts_with("slipway.") => {
                    return Err(format!(
                        "unknown push option {other}; Slipway knows slipway.detach and slipway.force"
                    ));
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

/// What becomes of one command.
enum Plan {
    /// The app's branch: received under this hidden ref, then deployed.
    Deploy { incoming: String },
    /// Handed to receive-pack as it is.
    Store,
    Refuse(String),
}

struct Push {
    state: AppState,
    storage: Storage,
    caller: Caller,
    out: Out,
}

impl Push {
    async fn run(mut self, target: Result<AppRow, AppName>, mut body: Incoming) {
        let request = match read_request(&mut body).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::info!(error = %e, "unreadable push");
                return self.out.report(Err(e), &Vec::new()).await;
            }
        };
        self.out.sideband = request.capabilities.contains("side-band-64k")
            || request.capabilities.contains("side-band");
        let refuse_all = |out: Out, request: &Request, reason: &str| {
            let statuses = request
                .commands
                .iter()
                .map(|c| (c.name.clone(), Err(reason.to_owned())))
                .collect::<Statuses>();
            async move { out.report(Ok(()), &statuses).await }
        };
        let options = match Options::parse(&request.options) {
            Ok(options) => options,
            Err(e) => {
                drain(&mut body, self.state.config.max_repo_size).await;
                return refuse_all(self.out, &request, &e).await;
            }
        };
        let created = target.is_err();
        let app = match target {
            Ok(app) => app,
            Err(name) => match self.create_app(&name, &request.commands).await {
                Ok(app) => app,
                Err(e) => {
                    drain(&mut body, self.state.config.max_repo_size).await;
                    return refuse_all(self.out, &request, &e).await;
                }
            },
        };
        let branch = app
            .branch
            .clone()
            .unwrap_or_else(|| super::DEFAULT_BRANCH.to_owned());
        let path = match self.storage.ensure(app.id, &branch).await {
            Ok(path) => path,
            Err(e) => {
                tracing::error!(app = %app.name, error = %e, "push: repository storage");
                drain(&mut body, self.state.config.max_repo_size).await;
                return refuse_all(self.out, &request, "internal error; the server log has details")
                    .await;
            }
        };
        let tracked = format!("refs/heads/{branch}");
        let plans: Vec<Plan> = request.commands.iter().map(|c| plan(c, &tracked, &app.name)).collect();
        let (unpack, received) = self.receive(&path, &request, &plans, &mut body).await;
        // A ref receive-pack did not report on: the pack was refused (git's own words).
        let missing = if unpack.is_err() { "unpacker error" } else { "not received" }.to_owned();
        let mut statuses: Statuses = Vec::new();
        for (command, plan) in request.commands.iter().zip(&plans) {
            let status = match plan {
                Plan::Refuse(reason) => Err(reason.clone()),
                Plan::Store => {
                    let status = received.get(&command.name).cloned().unwrap_or_else(|| Err(missing.clone()));
                    if status.is_ok() {
                        self.out.say(stored_note(command, &app.name, &branch)).await;
                    }
                    status
                }
                Plan::Deploy { incoming } => {
                    let status = match received.get(incoming).cloned().unwrap_or_else(|| Err(missing.clone())) {
                        Ok(()) => self.deploy(&app, &path, command, &tracked, &options).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = storage::git(&path, &["update-ref", "-d", incoming]).await {
                        tracing::warn!(app = %app.name, error = %e, "could not remove {incoming}");
                    }
                    status
                }
            };
            statuses.push((command.name.clone(), status));
        }
        if created && received.is_empty() {
            self.forget_app(&app).await;
        }
        self.out.report(unpack, &statuses).await;
    }

    /// An app this push created, when nothing of the push was stored: a refused push
    /// leaves no app behind.
    async fn forget_app(&mut self, app: &AppRow) {
        let owner = Owner::User(self.caller.user_id);
        match apps::mark_deleted(&self.state.pool, owner, &app.id.to_string()).await {
            Ok(_) => {
                if let Err(e) = self.storage.remove(app.id).await {
                    tracing::warn!(app = %app.name, error = %e, "could not remove a refused push's repository");
                }
                self.out
                    .say(format!("App {} removed again: nothing of this push was stored", app.name))
                    .await;
            }
            Err(e) => tracing::warn!(app = %app.name, error = %e, "could not remove the app a refused push created"),
        }
    }

    /// A push to a name no app has: a push app of the caller's, deploying the branch
    /// pushed (`main` or `master` when several are).
    async fn create_app(&mut self, name: &AppName, commands: &[Command]) -> Result<AppRow, String> {
        let branches: Vec<&str> = commands
            .iter()
            .filter(|c| !c.deletes())
            .filter_map(|c| c.name.strip_prefix("refs/heads/"))
            .collect();
        let branch = ["main", "master"]
            .into_iter()
            .find(|b| branches.contains(b))
            .or_else(|| branches.first().copied())
            .unwrap_or(super::DEFAULT_BRANCH);
        let branch = slipway_core::GitRef::parse("branch", branch)
            .map_err(|e| format!("cannot create app {name}: {e}"))?;
        let new = NewApp {
            name: name.to_string(),
            repo_url: None,
            branch: Some(branch.as_str().to_owned()),
            dockerfile: DockerfilePath::default().as_str().to_owned(),
            port: None,
            spec_path: slipway_core::spec::DEFAULT_SPEC_PATH.to_owned(),
        };
        match apps::create_push(&self.state.pool, Owner::User(self.caller.user_id), &new).await {
            Ok(app) => {
                tracing::info!(app = %app.name, user = %self.caller.name, "push app created by git push");
                self.out
                    .say(format!(
                        "Created app {} (deploys branch {}; {})",
                        app.name,
                        branch.as_str(),
                        self.state.config.url_for(&app.name)
                    ))
                    .await;
                Ok(app)
            }
            // Taken meanwhile, by someone else as far as this push can tell.
            Err(slipway_store::StoreError::Conflict { .. }) => Err("repository not found".to_owned()),
            Err(e) => {
                tracing::error!(error = %e, "push: could not create the app");
                Err("could not create the app; the server log has details".to_owned())
            }
        }
    }

    /// Runs `git receive-pack` on the commands Slipway lets through (the app's branch
    /// renamed to its hidden ref), feeding it the pack. Returns the unpack status and
    /// receive-pack's status per ref it was given.
    async fn receive(
        &mut self,
        path: &Path,
        request: &Request,
        plans: &[Plan],
        body: &mut Incoming,
    ) -> (Result<(), String>, HashMap<String, Result<(), String>>) {
        let max = self.state.config.max_repo_size;
        let mut lines: Vec<String> = Vec::new();
        for (command, plan) in request.commands.iter().zip(plans) {
            match plan {
                Plan::Deploy { incoming } => {
                    lines.push(format!("{ZERO} {} {incoming}", command.new));
                }
                Plan::Store => lines.push(command.line()),
                Plan::Refuse(_) => {}
            }
        }
        if lines.is_empty() {
            drain(body, max).await;
            return (Ok(()), HashMap::new());
        }
        let used = storage::size(path).await;
        let room = max.saturating_sub(used);
        let too_big = || {
            format!(
                "the push is larger than the {} this repository has left of SLIPWAY_MAX_REPO_SIZE ({}; the repository takes {})",
                human_bytes(room),
                human_bytes(max),
                human_bytes(used)
            )
        };
        let mut first = true;
        let mut input = Vec::new();
        for line in &request.shallow {
            input.extend(pkt::line(&[line.as_slice(), b"\n"].concat()));
        }
        for line in lines {
            let mut data = line.into_bytes();
            if std::mem::take(&mut first) {
                data.push(0);
                data.extend_from_slice(receive_capabilities(&request.capabilities).as_bytes());
            }
            data.push(b'\n');
            input.extend(pkt::line(&data));
        }
        input.extend_from_slice(pkt::FLUSH);
        let outcome = self.run_receive_pack(path, room, input, body).await;
        let (stdout, stderr, over) = match outcome {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "push: git receive-pack");
                drain(body, max).await;
                return (Err("internal error; the server log has details".to_owned()), HashMap::new());
            }
        };
        if over {
            // receive-pack was stopped mid-pack: its complaint about that says nothing.
            drain(body, max).await;
            return (Err(too_big()), HashMap::new());
        }
        for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
            self.out.say(line).await;
        }
        parse_report(&stdout)
    }

    /// Feeds `input` and then the rest of the body to receive-pack, stopping (`over`)
    /// when the pack passes `room` bytes. Returns its stdout, stderr and `over`.
    async fn run_receive_pack(
        &mut self,
        path: &Path,
        room: u64,
        input: Vec<u8>,
        body: &mut Incoming,
    ) -> Result<(Vec<u8>, String, bool), storage::StorageError> {
        let dir = path.to_string_lossy();
        // git's own limit too (0 would mean none): the pack as received, not as stored.
        let limit = room.max(1).to_string();
        let mut child = storage::command(
            path,
            &[("receive.maxInputSize", &limit)],
            &["receive-pack", "--stateless-rpc", &dir],
        )?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(storage::StorageError::Io(std::io::Error::other("no pipes to git")));
        };
        let reading = tokio::spawn(async move {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
            (out, String::from_utf8_lossy(&err).into_owned())
        });
        let mut over = false;
        let mut fed = 0u64;
        if stdin.write_all(&input).await.is_ok() {
            loop {
                match body.chunk().await {
                    Ok(Some(chunk)) => {
                        fed += chunk.len() as u64;
                        if fed > room {
                            over = true;
                            break;
                        }
                        // receive-pack stopped reading: its report says why.
                        if stdin.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(error = %e, "push body unreadable");
                        break;
                    }
                }
            }
        }
        drop(stdin);
        if over {
            let _ = child.kill().await;
        }
        let _ = child.wait().await;
        let (out, err) = reading.await.unwrap_or_default();
        Ok((out, err, over))
    }

    /// Checks, deploys and, if the deployment runs, moves the branch. `Err`: the reason
    /// the push is told.
    async fn deploy(
        &mut self,
        app: &AppRow,
        path: &Path,
        command: &Command,
        tracked: &str,
        options: &Options,
    ) -> Result<(), String> {
        let internal = |e: storage::StorageError| {
            tracing::error!(app = %app.name, error = %e, "push: git");
            "internal error; the server log has details".to_owned()
        };
        let branch = tracked.trim_start_matches("refs/heads/");
        let current = storage::resolve(path, tracked).await.map_err(internal)?;
        if command.old != current {
            return Err(format!(
                "stale info: {branch} is at {} here, not {}; fetch and push again",
                short_or_none(&current),
                short_or_none(&command.old)
            ));
        }
        if current != ZERO
            && !options.force
            && !storage::is_ancestor(path, &current, &command.new).await.map_err(internal)?
        {
            return Err(format!(
                "non-fast-forward: this push rewrites the history of {branch}, which {} deploys; push with -o slipway.force to replace it",
                app.name
            ));
        }
        let deployment = slipway_store::deployments::create(&self.state.pool, app.id, Some(&command.new))
            .await
            .map_err(|e| {
                tracing::error!(app = %app.name, error = %e, "push: could not queue the deployment");
                "could not queue the deployment; the server log has details".to_owned()
            })?;
        tracing::info!(app = %app.name, deployment_id = %deployment.id, commit = %command.new, "push queued a deployment");
        self.out
            .say(format!(
                "Deploying {} ({branch}) to {} as deployment {}",
                short_sha(&command.new),
                app.name,
                deployment.id
            ))
            .await;
        let move_branch = |current: String| {
            let new = command.new.clone();
            let message = format!("slipway: deployment {}", deployment.id);
            async move {
                storage::git(path, &["update-ref", "-m", &message, tracked, &new, &current])
                    .await
                    .map_err(|e| match e {
                        storage::StorageError::Git { stderr, .. } => format!(
                            "{branch} moved during the deployment ({stderr}); fetch and check"
                        ),
                        other => internal(other),
                    })
            }
        };
        if options.detach {
            move_branch(current).await?;
            self.out
                .say(format!(
                    "Queued; not waiting (slipway.detach). Follow it with: slipway logs --build {} --follow",
                    deployment.id
                ))
                .await;
            self.out
                .say(format!("or GET /api/v1/deployments/{}", deployment.id))
                .await;
            return Ok(());
        }
        let end = super::follow::follow(&self.state.pool, deployment.id, &mut self.out).await;
        match end.status {
            DeploymentStatus::Running => {
                move_branch(current).await?;
                self.out
                    .say(format!(
                        "=====> {} is running at {} (deployed in {:.1}s)",
                        app.name,
                        self.state.config.url_for(&app.name),
                        end.took.as_secs_f64()
                    ))
                    .await;
                Ok(())
            }
            status => {
                let reason = end.reason.unwrap_or_else(|| status.as_str().to_owned());
                let what = match end.phase {
                    Some(phase) => format!("failed in phase {phase}: {reason}"),
                    None => format!("{status}: {reason}"),
                };
                self.out
                    .say(format!("=====> Deployment {} {what}", deployment.id))
                    .await;
                Err(format!("deployment {} {what}", deployment.id))
            }
        }
    }
}

fn plan(command: &Command, tracked: &str, app: &str) -> Plan {
    let name = command.name.as_str();
    if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
        return Plan::Refuse(format!(
            "only branches (refs/heads/...) and tags (refs/tags/...) can be pushed, not {name}"
        ));
    }
    if name != tracked {
        return Plan::Store;
    }
    if command.deletes() {
        return Plan::Refuse(format!(
            "{} is the branch {app} deploys; it cannot be deleted",
            tracked.trim_start_matches("refs/heads/")
        ));
    }
    Plan::Deploy {
        incoming: format!("{INCOMING}{}", Uuid::now_v7()),
    }
}

fn stored_note(command: &Command, app: &str, branch: &str) -> String {
    let name = &command.name;
    let (kind, short) = match name.strip_prefix("refs/tags/") {
        Some(tag) => ("tag", tag),
        None => ("branch", name.trim_start_matches("refs/heads/")),
    };
    if command.deletes() {
        format!("Deleted {kind} {short}")
    } else {
        format!("Stored {kind} {short} (not deployed: {app} deploys branch {branch})")
    }
}

fn short_or_none(sha: &str) -> String {
    if sha == ZERO {
        "nothing".to_owned()
    } else {
        short_sha(sha).to_owned()
    }
}

/// The capabilities receive-pack is asked for: the client's, less those Slipway
/// answers itself (side-band, push options), with plain `report-status` for Slipway
/// to read.
fn receive_capabilities(client: &BTreeSet<String>) -> String {
    let mut caps: Vec<&str> = client
        .iter()
        .map(String::as_str)
        .filter(|c| {
            !matches!(
                *c,
                "side-band" | "side-band-64k" | "push-options" | "report-status" | "report-status-v2" | "atomic"
            )
        })
        .collect();
    caps.insert(0, "report-status");
    caps.join(" ")
}

/// receive-pack's report: `unpack ok|<error>`, then `ok <ref>` / `ng <ref> <reason>`.
fn parse_report(stdout: &[u8]) -> (Result<(), String>, HashMap<String, Result<(), String>>) {
    let packets = match pkt::parse_all(stdout) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "push: unreadable receive-pack report");
            return (Err("internal error; the server log has details".to_owned()), HashMap::new());
        }
    };
    let mut unpack = Err("git receive-pack gave no report".to_owned());
    let mut refs = HashMap::new();
    for packet in packets {
        let Pkt::Data(data) = packet else { continue };
        let text = String::from_utf8_lossy(pkt::text(&data)).into_owned();
        if let Some(status) = text.strip_prefix("unpack ") {
            unpack = if status == "ok" { Ok(()) } else { Err(status.to_owned()) };
        } else if let Some(name) = text.strip_prefix("ok ") {
            refs.insert(name.to_owned(), Ok(()));
        } else if let Some(rest) = text.strip_prefix("ng ") {
            let (name, reason) = rest.split_once(' ').unwrap_or((rest, "refused"));
            refs.insert(name.to_owned(), Err(reason.to_owned()));
        }
    }
    (unpack, refs)
}

/// Reads and drops what is left of a refused push's body (up to `max` bytes), so that
/// the client gets to read the answer that says why rather than a broken connection.
async fn drain(body: &mut Incoming, max: u64) {
    let mut read = 0u64;
    while let Ok(Some(chunk)) = body.chunk().await {
        read += chunk.len() as u64;
        if read > max {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_malformed_ones_do_not() {
        let c = Command::parse(format!("{ZERO} {} refs/heads/main", "a".repeat(40)).as_bytes()).unwrap();
        assert_eq!(c.name, "refs/heads/main");
        assert!(!c.deletes());
        assert!(Command::parse(b"x y refs/heads/main").is_none());
        assert!(Command::parse(format!("{ZERO} {ZERO}").as_bytes()).is_none());
    }

    #[test]
    fn only_branches_and_tags_pass_and_the_deployed_branch_cannot_be_deleted() {
        let at = |name: &str, new: &str| Command {
            old: ZERO.to_owned(),
            new: new.to_owned(),
            name: name.to_owned(),
        };
        let sha = "b".repeat(40);
        assert!(matches!(plan(&at("refs/heads/main", &sha), "refs/heads/main", "a"), Plan::Deploy { .. }));
        assert!(matches!(plan(&at("refs/heads/dev", &sha), "refs/heads/main", "a"), Plan::Store));
        assert!(matches!(plan(&at("refs/tags/v1", &sha), "refs/heads/main", "a"), Plan::Store));
        assert!(matches!(plan(&at("refs/notes/x", &sha), "refs/heads/main", "a"), Plan::Refuse(_)));
        assert!(matches!(plan(&at("refs/heads/main", ZERO), "refs/heads/main", "a"), Plan::Refuse(_)));
    }

    #[test]
    fn receive_pack_is_asked_for_a_plain_report() {
        let client: BTreeSet<String> = ["report-status-v2", "side-band-64k", "quiet", "push-options", "object-format=sha1", "agent=git/2.47"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            receive_capabilities(&client),
            "report-status agent=git/2.47 object-format=sha1 quiet"
        );
    }

    #[test]
    fn reports_parse() {
        let mut wire = pkt::line(b"unpack ok\n");
        wire.extend(pkt::line(b"ok refs/heads/dev\n"));
        wire.extend(pkt::line(b"ng refs/tags/v1 already exists\n"));
        wire.extend_from_slice(pkt::FLUSH);
        let (unpack, refs) = parse_report(&wire);
        assert!(unpack.is_ok());
        assert_eq!(refs["refs/heads/dev"], Ok(()));
        assert_eq!(refs["refs/tags/v1"], Err("already exists".to_owned()));
    }
}
