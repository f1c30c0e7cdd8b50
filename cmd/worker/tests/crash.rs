//! A worker process killed with SIGKILL in the middle of a deployment, and another one
//! started: the deployment ends `failed` with "worker lost" in the phase it was in (clone,
//! build or release), no container of it remains, and every log line written before the
//! kill is still there.
//! And a worker whose Postgres restarts under it carries on. Real processes, real
//! databases, the real Docker Engine.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slipway_core::{DeploymentStatus, Phase, labels};
use slipway_store::apps::{self, NewApp, Owner};
use slipway_store::{PgPool, deployments, events, logs};
use slipway_testkit::{
    TestRepo, web_app_files, web_app_files_with_dockerfile, web_app_files_with_spec,
};
use support::SlowGitServer;
use uuid::Uuid;

mod support;

struct Setup {
    url: String,
    network: String,
    work: std::path::PathBuf,
}

impl Setup {
    async fn new(pool: &PgPool) -> Self {
        Self::with_url(slipway_testkit::database_url_of(pool).await)
    }

    fn with_url(url: String) -> Self {
        let id = &Uuid::new_v4().simple().to_string()[..12];
        Self {
            url,
            network: format!("slipway-test-{id}"),
            work: std::env::temp_dir().join(format!("slipway-crash-{id}")),
        }
    }

    /// A worker that gives a lost deployment no second attempt, and notices a lost
    /// lease within seconds.
    fn worker(&self, name: &str) -> Child {
        self.worker_with(name, &[])
    }

    fn worker_with(&self, name: &str, extra: &[(&str, &str)]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_slipway-worker"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.url)
            .env("SLIPWAY_NETWORK", &self.network)
            .env("SLIPWAY_WORK_DIR", self.work.join(name))
            .env("SLIPWAY_ALLOW_LOCAL_REPOS", "true")
            .env("SLIPWAY_LEASE_DURATION", "2s")
            .env("SLIPWAY_MAX_ATTEMPTS", "1")
            .env("SLIPWAY_POLL_INTERVAL", "200ms")
            .env("SLIPWAY_WORKER_METRICS_PORT", "off")
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn containers_of(&self, app: &str) -> Vec<String> {
        docker_lines(&["ps", "-aq", "--filter", &format!("label=slipway.app={app}")])
    }

    /// Removes the app's containers, networks (the shared one and the app's own) and
    /// images, and the workers' work directories.
    fn clean(&self, app: &str) {
        for id in self.containers_of(app) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
        let app_networks = docker_lines(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=slipway.app={app}"),
        ]);
        for network in app_networks.iter().chain([&self.network]) {
            let _ = Command::new("docker")
                .args(["network", "rm", network])
                .output();
        }
        // By name, not id: an identical build of another test's app shares the id.
        let images = docker_lines(&[
            "images",
            "--filter",
            &format!("reference={}", labels::image_repository(app)),
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ]);
        for image in images {
            let _ = Command::new("docker").args(["rmi", &image]).output();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// The output of `docker args`, a word per item.
fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

async fn create(pool: &PgPool, repo_url: String) -> (String, Uuid) {
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let new = NewApp {
        name: name.clone(),
        repo_url: Some(repo_url),
        branch: None,
        dockerfile: "Dockerfile".into(),
        port: None,
        spec_path: "slipway.toml".into(),
        callback_url: None,
    };
    let (_, deployment) = apps::create(pool, Owner::Any, &new).await.unwrap();
    (name, deployment.id)
}

async fn wait_for_line(pool: &PgPool, id: Uuid, needle: &str) -> Vec<logs::LogLine> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let lines = logs::page(pool, id, 0, 10_000).await.unwrap();
        if lines.iter().any(|l| l.line.contains(needle)) {
            return lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log line with {needle:?} within 120s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What [`kill_when`] leaves once its checks passed: the second worker, still running
/// for a test that goes on. Dropping it stops the worker and removes the app's
/// containers, the network and the work directory, also when an assertion failed.
struct Recovered {
    setup: Setup,
    app: String,
    /// The lost deployment.
    id: Uuid,
    /// Whether the killed worker's files for the deployment were still on disk when the
    /// second worker started on the same work directory.
    work_left: bool,
    worker: Child,
}

impl Drop for Recovered {
    fn drop(&mut self) {
        let _ = self.worker.kill();
        let _ = self.worker.wait();
        self.setup.clean(&self.app);
    }
}

/// Kills the first worker once `needle` is in the log, starts a second on the same work
/// directory (a worker restarted on the same machine meets what the killed one left),
/// and checks the outcome as the module says.
async fn kill_when(pool: &PgPool, repo_url: String, needle: &str, phase: &str) -> Recovered {
    let setup = Setup::new(pool).await;
    let (app, id) = create(pool, repo_url).await;
    let mut first = setup.worker("node");
    let before = wait_for_line(pool, id, needle).await;
    first.kill().unwrap(); // SIGKILL: no chance to clean up or hand back
    first.wait().unwrap();
    assert_eq!(
        deployments::get(pool, id)
            .await
            .unwrap()
            .status
            .phase()
            .map(|p| p.as_str()),
        Some(phase),
        "killed in the {phase} phase"
    );
    let work_left = setup.work.join("node").join(id.to_string()).exists();

    let recovered = Recovered {
        worker: setup.worker("node"),
        setup,
        app,
        id,
        work_left,
    };
    let done = finished(pool, id, Duration::from_secs(60)).await;
    // The second worker removes what the first one started.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !recovered.setup.containers_of(&recovered.app).is_empty()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leftovers = recovered.setup.containers_of(&recovered.app);
    // The worker that failed the lost deployment also removes its work directory.
    let work = recovered.setup.work.join("node").join(id.to_string());
    while work.exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !work.exists(),
        "the lost deployment's work directory is still there"
    );
    let after = logs::page(pool, id, 0, 10_000).await.unwrap();

    assert_eq!(done.status, DeploymentStatus::Failed, "{:?}", done.reason);
    assert_eq!(done.failed_phase.map(Phase::as_str), Some(phase));
    let reason = done.reason.unwrap_or_default();
    assert!(reason.contains("worker lost"), "{reason}");
    assert!(leftovers.is_empty(), "containers left: {leftovers:?}");
    for line in &before {
        assert!(
            after
                .iter()
                .any(|l| l.seq == line.seq && l.line == line.line),
            "lost log line {}: {}",
            line.seq,
            line.line
        );
    }
    recovered
}

/// Deployment `id` once it is no longer under way; the test fails if that takes longer
/// than `within`.
async fn finished(pool: &PgPool, id: Uuid, within: Duration) -> deployments::DeploymentRow {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let d = deployments::get(pool, id).await.unwrap();
        if !d.status.is_unfinished() {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?} after {within:?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A local clone is over before anything can be killed: the repository is served over
/// HTTP a few KiB at a time, with megabytes of random (incompressible) bytes in it, so
/// the fetch lasts seconds.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_worker_killed_mid_clone_leaves_a_failed_deployment_and_a_usable_work_dir(pool: PgPool) {
    let mut files = web_app_files("cloned after all");
    files.push(("noise.bin".to_owned(), support::random_bytes(3 << 20)));
    let server = SlowGitServer::start(TestRepo::with_files(files));
    // git's progress: the pack is on its way.
    let recovered = kill_when(&pool, server.url(), "Received ", "clone").await;
    let log = logs::page(&pool, recovered.id, 0, 10_000).await.unwrap();
    assert!(
        !log.iter().any(|l| l.line.starts_with("Checked out")),
        "the clone finished before the kill: {:?}",
        log.iter().map(|l| &l.line).collect::<Vec<_>>()
    );
    assert!(
        recovered.work_left,
        "the killed worker left no partial clone: the test proves less than it says"
    );

    // The same work directory, partial clone and all, serves the next deployment.
    server.go_fast();
    let app_id = deployments::get(&pool, recovered.id).await.unwrap().app_id;
    let next = deployments::create(&pool, app_id, None).await.unwrap();
    let done = finished(&pool, next.id, Duration::from_secs(120)).await;
    assert_eq!(done.status, DeploymentStatus::Running, "{:?}", done.reason);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_worker_killed_mid_build_leaves_a_failed_deployment_and_its_log(pool: PgPool) {
    let slow = "FROM scratch\nCOPY busybox /bin/busybox\n\
        RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo building; /bin/busybox sleep 30\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("never", slow));
    kill_when(&pool, repo.url(), "building", "build").await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_worker_killed_mid_release_leaves_no_container_behind(pool: PgPool) {
    // The health check cannot pass: the release waits, with its container running.
    let spec = "[healthcheck]\npath = \"/missing\"\nstatus = 200\ntimeout = \"60s\"\n";
    let repo = TestRepo::with_files(web_app_files_with_spec("never healthy", Some(spec)));
    kill_when(&pool, repo.url(), "Waiting up to", "release").await;
}

/// Postgres restarted under a running worker: the worker stays up, and once the
/// database is back it takes and finishes work as before.
#[tokio::test]
async fn a_worker_outlives_a_postgres_restart() {
    let pg = slipway_testkit::PrivatePostgres::start();
    let setup = Setup::with_url(pg.url());
    let mut worker = setup.worker("survivor");
    // A database error during start-up (migrations, the key check, LISTEN) stops the
    // worker, on purpose; the outage is for a worker past it. Listening on the queue
    // channel is its last step that needs the database (and implies the migrations).
    let pool = slipway_store::connect(&pg.url(), 2, Duration::from_secs(10))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let listening = format!("LISTEN \"{}\"", slipway_store::QUEUE_CHANNEL);
    loop {
        let (listeners,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE query = $1")
                .bind(&listening)
                .fetch_one(&pool)
                .await
                .unwrap();
        if listeners > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not listen on the queue within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;

    pg.pause();
    // Longer than a poll interval and a lease: the worker meets the outage head-on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let alive_during = worker.try_wait().unwrap().is_none();
    pg.resume();

    let pool = slipway_store::connect(&pg.url(), 2, Duration::from_secs(10))
        .await
        .unwrap();
    let repo = TestRepo::with_files(slipway_testkit::web_app_files("after the outage"));
    let (app, id) = create(&pool, repo.url()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let done = loop {
        let d = deployments::get(&pool, id).await.unwrap();
        if !d.status.is_unfinished() {
            break d;
        }
        if tokio::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let alive_after = worker.try_wait().unwrap().is_none();
    let _ = worker.kill();
    let _ = worker.wait();
    setup.clean(&app);

    assert!(alive_during, "the worker exited while Postgres was down");
    assert!(alive_after, "the worker exited after Postgres came back");
    assert_eq!(done.status, DeploymentStatus::Running, "{:?}", done.reason);
}

/// SIGTERM with a build still running: the worker waits SLIPWAY_SHUTDOWN_GRACE, then
/// queues the deployment again for another worker (without using up an attempt),
/// removes what it started, and exits cleanly.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_stopping_worker_hands_a_long_build_back_after_its_grace(pool: PgPool) {
    let setup = Setup::new(&pool).await;
    let slow = "FROM scratch\nCOPY busybox /bin/busybox\n\
        RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo building; /bin/busybox sleep 60\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("later", slow));
    let (app, id) = create(&pool, repo.url()).await;
    let mut worker = setup.worker_with("graceful", &[("SLIPWAY_SHUTDOWN_GRACE", "1s")]);
    wait_for_line(&pool, id, "building").await;
    let attempts_before = deployments::get(&pool, id).await.unwrap().attempts;

    let asked = std::time::Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 30 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = asked.elapsed();
    let after = deployments::get(&pool, id).await.unwrap();
    let events = events::of_deployment(&pool, id).await.unwrap();
    let leftovers = setup.containers_of(&app);
    setup.clean(&app);

    assert!(exit.success(), "{exit:?}");
    assert!(
        took >= Duration::from_secs(1),
        "the grace was not waited: {took:?}"
    );
    assert_eq!(
        after.status,
        DeploymentStatus::Pending,
        "{:?}",
        after.reason
    );
    assert_eq!(
        after.attempts,
        attempts_before - 1,
        "a hand-back is not a failed attempt"
    );
    let last = events.last().unwrap();
    assert!(
        last.message
            .as_deref()
            .unwrap_or_default()
            .starts_with("handed back: "),
        "{:?}",
        last.message
    );
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
