//! `git push` to deploy, with the real `git` CLI against the real API on a TCP port and
//! a real worker on the Docker Engine, which fetches the pushed commit from the API over
//! smart HTTP as a worker on another host would. What passes here is what a user's
//! terminal shows.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use slipway_harness::{RunningWorker, Served, app_name, config, serve, start_worker};
use slipway_store::PgPool;
use slipway_testkit::{Run, TestRepo, web_app_files, web_app_files_with_dockerfile};

/// `git` as found on PATH, as a user's shell would find it.
fn git_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("git"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("git is not on PATH: the push tests need the git CLI"))
}

/// Runs git in `dir` with no user or system configuration and no prompt: a missing or
/// refused password fails at once instead of waiting for a terminal.
async fn git(home: &Path, dir: &Path, args: &[&str]) -> Run {
    let output = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(git_binary())
            .args(args)
            .current_dir(dir)
            .env("HOME", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", "Pusher")
            .env("GIT_AUTHOR_EMAIL", "pusher@slipway.invalid")
            .env("GIT_COMMITTER_NAME", "Pusher")
            .env("GIT_COMMITTER_EMAIL", "pusher@slipway.invalid")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("git {args:?} ran for 240s"))
    .unwrap();
    let run = Run::from_output(&output);
    println!("$ git {}\n{run}", args.join(" "));
    run
}

/// The app's git URL with `token` as the password.
fn remote(served: &Served, token: &str, app: &str) -> String {
    let host = served.url.trim_start_matches("http://");
    format!("http://pusher:{token}@{host}/git/{app}.git")
}

async fn api_get(served: &Served, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", served.url))
        .bearer_auth(&served.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn deployments(served: &Served, app: &str) -> Vec<Value> {
    let (status, body) = api_get(served, &format!("/api/v1/apps/{app}/deployments")).await;
    assert_eq!(status, 200, "{body}");
    body["deployments"].as_array().unwrap().clone()
}

/// The page the app's running release serves.
async fn served_page(served: &Served, deployment: &str) -> String {
    let (_, d) = api_get(served, &format!("/api/v1/deployments/{deployment}")).await;
    let container = &d["containers"][0];
    let url = format!(
        "http://{}:{}/",
        container["ip"]
            .as_str()
            .unwrap_or_else(|| panic!("no address: {d}")),
        container["port"]
    );
    slipway_testkit::http_get(&url).await.unwrap()
}

/// The API on a port with its own repository directory, and a worker that fetches
/// pushed commits from it over HTTP (its work directory is its own, as on another host).
struct Slipway {
    served: Served,
    config: slipway_core::Config,
    worker: RunningWorker,
    repos: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Slipway {
    async fn start(pool: &PgPool, worker: &str) -> Self {
        let repos = tempfile::tempdir().unwrap();
        let mut config = config();
        config.repo_dir = repos.path().to_path_buf();
        let served = serve(pool.clone(), config.clone()).await;
        config.api_internal_url = served.url.clone();
        let worker = start_worker(pool.clone(), &config, worker).await;
        Self {
            served,
            config,
            worker,
            repos,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Deletes the app (its pushed repository goes at once, the only one the test
    /// made) and waits for the worker to remove its containers.
    async fn delete_app(self, name: &str) {
        let deleted = reqwest::Client::new()
            .delete(format!("{}/api/v1/apps/{name}", self.served.url))
            .bearer_auth(&self.served.token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status().as_u16(), 204);
        let left: Vec<String> = std::fs::read_dir(self.repos.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".git") && n != ".empty.git")
            .collect();
        assert!(left.is_empty(), "repositories left after delete: {left:?}");
        self.worker.shut_down(name, &self.config).await;
    }
}

/// The refs the API's repository shows a client.
async fn remote_refs(home: &Path, url: &str) -> String {
    git(home, home, &["ls-remote", url]).await.ok().stdout
}

fn sha_of(refs: &str, name: &str) -> Option<String> {
    refs.lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(_, n)| *n == name)
        .map(|(sha, _)| sha.to_owned())
}

/// One app's life by push: created and deployed by the first push (its output streamed
/// as it runs), cloned, another branch stored only, a history rewrite refused unless
/// forced, a detached push, refs that are not branches or tags, and other people's
/// tokens.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_push_creates_deploys_and_guards_an_app(pool: PgPool) {
    let slipway = Slipway::start(&pool, "push-test").await;
    let (served, home) = (&slipway.served, slipway.home.path());
    let name = app_name();
    let url = remote(served, &served.token, &name);
    let repo = TestRepo::with_files(web_app_files("hello from a push"));
    let first = repo.head();

    let pushed = git(home, repo.path(), &["push", &url, "main"]).await.ok();
    pushed
        .says(&format!("remote: Created app {name} (deploys branch main"))
        .says(&format!(
            "remote: Deploying {} (main) to {name}",
            &first[..7]
        ))
        .says("remote: -----> cloning")
        .says("remote: -----> building (cloning took ")
        .says("remote: -----> releasing (building took ")
        .says("remote: -----> running (releasing took ")
        .says(&format!(
            "remote: =====> {name} is running at http://{name}.localhost"
        ))
        .says(" * [new branch]      main -> main");
    // The build's own output came through too, between the phases.
    let building = pushed.stderr.find("-----> building").unwrap();
    let releasing = pushed.stderr.find("-----> releasing").unwrap();
    assert!(
        pushed.stderr[building..releasing].contains("COPY www /www"),
        "{pushed}"
    );

    let (status, app) = api_get(served, &format!("/api/v1/apps/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(app["repo_url"], Value::Null, "{app}");
    assert_eq!(app["branch"], "main");
    let list = deployments(served, &name).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "running");
    assert_eq!(list[0]["commit_sha"], first.as_str());
    let deployed = list[0]["id"].as_str().unwrap().to_owned();
    assert!(
        served_page(served, &deployed)
            .await
            .contains("hello from a push")
    );
    let refs = remote_refs(home, &url).await;
    assert_eq!(
        sha_of(&refs, "refs/heads/main"),
        Some(first.clone()),
        "{refs}"
    );
    assert!(!refs.contains("refs/slipway"), "hidden refs leaked: {refs}");

    // A redeploy through the REST API fetches the app's branch from the API too.
    let redeploy = reqwest::Client::new()
        .post(format!("{}/api/v1/apps/{name}/deployments", served.url))
        .bearer_auth(&served.token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(redeploy.status().as_u16(), 201);
    let again: Value = redeploy.json().await.unwrap();
    let again_id = again["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let finished = loop {
        let (_, d) = api_get(served, &format!("/api/v1/deployments/{again_id}")).await;
        if !matches!(
            d["status"].as_str(),
            Some("pending" | "cloning" | "building" | "releasing")
        ) {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} after 120s",
            d["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["status"], "running", "{finished}");
    assert_eq!(finished["commit_sha"], first.as_str());

    // Clone and fetch from the same URL.
    let clone = home.join("clone");
    git(home, home, &["clone", &url, clone.to_str().unwrap()])
        .await
        .ok();
    let head = git(home, &clone, &["rev-parse", "HEAD"]).await.ok();
    assert_eq!(head.stdout.trim(), first);
    git(home, &clone, &["fetch", "origin"]).await.ok();

    // Another branch is stored, not deployed.
    repo.branch("feature");
    let feature = repo.commit_on_branch("feature", "a feature", &[("www/f.html", b"f")]);
    git(home, repo.path(), &["push", &url, "feature"])
        .await
        .ok()
        .says("remote: Stored branch feature (not deployed: ")
        .says("deploys branch main)");
    assert_eq!(deployments(served, &name).await.len(), 2);
    let refs = remote_refs(home, &url).await;
    assert_eq!(sha_of(&refs, "refs/heads/feature"), Some(feature));

    // A rewrite of the deployed branch's history is refused without slipway.force...
    git(
        home,
        &clone,
        &["commit", "--amend", "-m", "rewritten", "--allow-empty"],
    )
    .await
    .ok();
    let rewritten = git(home, &clone, &["rev-parse", "HEAD"])
        .await
        .ok()
        .stdout
        .trim()
        .to_owned();
    git(home, &clone, &["push", "--force", "origin", "HEAD:main"])
        .await
        .failed()
        .says("non-fast-forward: this push rewrites the history of main")
        .says("push with -o slipway.force");
    let refs = remote_refs(home, &url).await;
    assert_eq!(sha_of(&refs, "refs/heads/main"), Some(first.clone()));
    assert_eq!(deployments(served, &name).await.len(), 2);
    // ...and deployed with it.
    git(
        home,
        &clone,
        &[
            "push",
            "--force",
            "-o",
            "slipway.force",
            "origin",
            "HEAD:main",
        ],
    )
    .await
    .ok()
    .says("-----> running")
    .says("+ ")
    .says("(forced update)");
    let refs = remote_refs(home, &url).await;
    assert_eq!(sha_of(&refs, "refs/heads/main"), Some(rewritten.clone()));

    // Detached: back as soon as the deployment is queued, with its id and how to follow.
    let third = repo.commit("third", &[("www/index.html", b"third")]);
    git(home, repo.path(), &["fetch", &url, "main"]).await.ok();
    git(home, repo.path(), &["rebase", "FETCH_HEAD"]).await.ok();
    let third_rebased = git(home, repo.path(), &["rev-parse", "HEAD"])
        .await
        .ok()
        .stdout
        .trim()
        .to_owned();
    assert_ne!(third, third_rebased);
    let detached = git(
        home,
        repo.path(),
        &["push", "-o", "slipway.detach", &url, "main"],
    )
    .await
    .ok();
    let queued = deployments(served, &name).await;
    let newest = queued[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(queued[0]["ref"], third_rebased.as_str());
    detached
        .says(&format!("as deployment {newest}"))
        .says(&format!("slipway logs --build {newest} --follow"))
        .says(&format!("/api/v1/deployments/{newest}"));
    assert!(!detached.stderr.contains("-----> running"), "{detached}");
    let refs = remote_refs(home, &url).await;
    assert_eq!(sha_of(&refs, "refs/heads/main"), Some(third_rebased));

    // Refs that are not branches or tags; unknown slipway options.
    git(home, repo.path(), &["push", &url, "HEAD:refs/notes/x"])
        .await
        .failed()
        .says("only branches (refs/heads/...) and tags (refs/tags/...) can be pushed");
    git(
        home,
        repo.path(),
        &["push", "-o", "slipway.detatch", &url, "HEAD:refs/heads/x"],
    )
    .await
    .failed()
    .says("unknown push option slipway.detatch");

    // No token: a Basic challenge, which makes git ask for credentials (and fail here,
    // where it may not prompt); a bad token: 401, and git says so.
    let host = served.url.trim_start_matches("http://");
    git(
        home,
        repo.path(),
        &["push", &format!("http://{host}/git/{name}.git"), "main"],
    )
    .await
    .failed()
    .says("could not read Username");
    let challenge = reqwest::get(format!(
        "{}/git/{name}.git/info/refs?service=git-receive-pack",
        served.url
    ))
    .await
    .unwrap();
    assert_eq!(challenge.status().as_u16(), 401);
    assert_eq!(
        challenge.headers()["www-authenticate"],
        "Basic realm=\"slipway\""
    );
    git(
        home,
        repo.path(),
        &["push", &remote(served, "not-a-token", &name), "main"],
    )
    .await
    .failed()
    .says("the token is invalid or has been revoked")
    .says("Authentication failed");
    // Someone else's app is not found, to push or to clone.
    let (_, stranger) = slipway_testkit::user_with_token(&pool, false).await;
    let theirs = remote(served, &stranger, &name);
    git(home, repo.path(), &["push", &theirs, "main"])
        .await
        .failed()
        .says("repository not found");
    git(home, home, &["clone", &theirs, "stolen"])
        .await
        .failed()
        .says("repository not found");
    // An invalid name cannot become an app.
    git(
        home,
        repo.path(),
        &["push", &remote(served, &served.token, "Not_An_App"), "main"],
    )
    .await
    .failed()
    .says("a new app cannot have that name");

    // Deleting the app removes its repository.
    let app_id = app["id"].as_str().unwrap();
    assert!(slipway.repos.path().join(format!("{app_id}.git")).exists());
    slipway.delete_app(&name).await;
}

/// A deployment that fails makes the push fail, with the phase and the reason, and the
/// branch does not move.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_failing_deployment_fails_the_push_and_leaves_the_branch(pool: PgPool) {
    let slipway = Slipway::start(&pool, "push-fail-test").await;
    let (served, home) = (&slipway.served, slipway.home.path());
    let name = app_name();
    let url = remote(served, &served.token, &name);
    let dockerfile = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo tests are red; exit 3\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("never served", dockerfile));

    let pushed = git(home, repo.path(), &["push", &url, "main"])
        .await
        .failed();
    pushed
        .says("remote: -----> building")
        .says("tests are red")
        .says("remote: =====> Deployment ")
        .says("failed in phase build")
        .says("! [remote rejected] main -> main (deployment ")
        .says("failed to push some refs");
    let refs = remote_refs(home, &url).await;
    assert_eq!(sha_of(&refs, "refs/heads/main"), None, "{refs}");
    let list = deployments(served, &name).await;
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(list[0]["phase"], "build");

    slipway.delete_app(&name).await;
}

/// A push larger than SLIPWAY_MAX_REPO_SIZE is refused before anything is stored or
/// deployed, and says which setting.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_push_over_the_size_limit_is_refused(pool: PgPool) {
    let repos = tempfile::tempdir().unwrap();
    let mut config = config();
    config.repo_dir = repos.path().to_path_buf();
    config.max_repo_size = 256 << 10;
    let served = serve(pool.clone(), config.clone()).await;
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let name = app_name();
    let url = remote(&served, &served.token, &name);
    // Incompressible, so that the pack is as big as the file.
    let mut noise = vec![0u8; 2 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for byte in &mut noise {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n"), ("noise.bin", &noise)]);
    git(home, repo.path(), &["push", &url, "main"])
        .await
        .failed()
        .says("SLIPWAY_MAX_REPO_SIZE (256.0 KiB")
        .says("the push is larger than")
        .says(&format!("App {name} removed again"));
    let (status, _) = api_get(&served, &format!("/api/v1/apps/{name}")).await;
    assert_eq!(status, 404);

    // An app that deploys from its own repository takes no pushes, and says where to push.
    let remote_app = app_name();
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/apps", served.url))
        .bearer_auth(&served.token)
        .json(&serde_json::json!({"name": remote_app, "repo_url": "https://example.com/a/b.git"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    git(
        home,
        repo.path(),
        &["push", &remote(&served, &served.token, &remote_app), "main"],
    )
    .await
    .failed()
    .says("deploys from https://example.com/a/b.git, not from pushes to Slipway");
}
