//! A worker process killed with SIGKILL in the middle of a deployment, and another one
//! started: the deployment ends `failed` with "worker lost" in the phase it was in, no
//! container of it remains, and every log line written before the kill is still there.
//! And a worker whose Postgres restarts under it carries on. Real processes, real
//! databases, the real Docker Engine.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slipway_core::DeploymentStatus;
use slipway_store::apps::{self, NewApp, Owner};
use slipway_store::{PgPool, deployments, logs};
use slipway_testkit::{TestRepo, web_app_files_with_dockerfile, web_app_files_with_spec};
use uuid::Uuid;

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
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label=slipway.app={app}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    fn clean(&self, app: &str) {
        for id in self.containers_of(app) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

async fn create(pool: &PgPool, repo: &TestRepo) -> (String, Uuid) {
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let new = NewApp {
        name: name.clone(),
        repo_url: repo.url(),
        branch: None,
        dockerfile: "Dockerfile".into(),
        port: None,
        spec_path: "slipway.toml".into(),
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

/// Kills the first worker once `needle` is in the log, starts a second, and checks the
/// outcome as the module says.
async fn kill_when(pool: PgPool, repo: TestRepo, needle: &str, phase: &str) {
    let setup = Setup::new(&pool).await;
    let (app, id) = create(&pool, &repo).await;
    let mut first = setup.worker("first");
    let before = wait_for_line(&pool, id, needle).await;
    first.kill().unwrap(); // SIGKILL: no chance to clean up or hand back
    first.wait().unwrap();
    assert_eq!(
        deployments::get(&pool, id)
            .await
            .unwrap()
            .status
            .phase()
            .map(|p| p.as_str()),
        Some(phase),
        "killed in the {phase} phase"
    );

    let mut second = setup.worker("second");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let d = deployments::get(&pool, id).await.unwrap();
        if !d.status.is_unfinished() {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The second worker removes what the first one started.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !setup.containers_of(&app).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leftovers = setup.containers_of(&app);
    let after = logs::page(&pool, id, 0, 10_000).await.unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    setup.clean(&app);

    assert_eq!(done.status, DeploymentStatus::Failed, "{:?}", done.reason);
    assert_eq!(done.failed_phase.as_deref(), Some(phase));
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
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_worker_killed_mid_build_leaves_a_failed_deployment_and_its_log(pool: PgPool) {
    let slow = "FROM scratch\nCOPY busybox /bin/busybox\n\
        RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo building; /bin/busybox sleep 30\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("never", slow));
    kill_when(pool, repo, "building", "build").await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_worker_killed_mid_release_leaves_no_container_behind(pool: PgPool) {
    // The health check cannot pass: the release waits, with its container running.
    let spec = "[healthcheck]\npath = \"/missing\"\nstatus = 200\ntimeout = \"60s\"\n";
    let repo = TestRepo::with_files(web_app_files_with_spec("never healthy", Some(spec)));
    kill_when(pool, repo, "Waiting up to", "release").await;
}

/// Postgres restarted under a running worker: the worker stays up, and once the
/// database is back it takes and finishes work as before.
#[tokio::test]
async fn a_worker_outlives_a_postgres_restart() {
    let pg = slipway_testkit::PrivatePostgres::start();
    let setup = Setup::with_url(pg.url());
    let mut worker = setup.worker("survivor");
    // The worker applies the migrations; wait for them before writing.
    let pool = slipway_store::connect(&pg.url(), 2, Duration::from_secs(10))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while sqlx::query("SELECT 1 FROM apps LIMIT 1")
        .execute(&pool)
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no migrations after 30 s"
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
    let (app, id) = create(&pool, &repo).await;
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
    let (app, id) = create(&pool, &repo).await;
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
    let events = deployments::events(&pool, id).await.unwrap();
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
