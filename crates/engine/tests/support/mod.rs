//! Shared by the engine's integration tests: a worker environment on its own Docker
//! network and database, with cleanup of everything the test's apps created.

#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use slipway_core::crypto::{self, Cipher};
use slipway_core::{Config, DeploymentStatus, Phase};
use slipway_docker::DockerClient;
use slipway_engine::{Context, Worker};
use slipway_store::apps::{self, NewApp, Owner};
use slipway_store::config_vars::{self, Applied, Change};
use slipway_store::deployments::{self, DeploymentRow};
use slipway_store::{PgPool, containers, logs};
use slipway_testkit::TestRepo;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const NEVER_LISTENS: &str =
    "FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\",\"sleep\",\"3600\"]\n";

pub struct Env {
    pub pool: PgPool,
    pub docker: DockerClient,
    pub config: Config,
    pub apps: Vec<String>,
    pub workers: Vec<(CancellationToken, tokio::task::JoinHandle<()>)>,
    pub _work: tempfile::TempDir,
    /// Set by [`Env::teardown`]; otherwise (a failed assertion) `Drop` cleans up.
    torn_down: bool,
}

impl Env {
    pub async fn new(pool: PgPool) -> Self {
        Self::with(pool, |_| {}).await
    }

    pub async fn with(pool: PgPool, tweak: impl FnOnce(&mut Config)) -> Self {
        let docker = slipway_testkit::docker(DockerClient::connect(None).await);
        let work = tempfile::tempdir().unwrap();
        let network = format!(
            "slipway-test-{}",
            &Uuid::new_v4().simple().to_string()[..12]
        );
        let mut config = Config::for_tests("unused", &network, work.path().to_path_buf());
        tweak(&mut config);
        Self {
            pool,
            docker,
            config,
            apps: Vec::new(),
            workers: Vec::new(),
            _work: work,
            torn_down: false,
        }
    }

    pub fn start_worker(&mut self, id: &str) {
        self.start_worker_on(id, self.docker.clone());
    }

    /// A worker that reaches Docker through `docker` (a proxy the test can cut).
    pub fn start_worker_on(&mut self, id: &str, docker: DockerClient) {
        let ctx = Context::new(self.pool.clone(), docker, self.config.clone()).unwrap();
        let worker = Worker::new(ctx, id);
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move { worker.run(token).await.expect("worker failed") });
        self.workers.push((stop, handle));
    }

    pub async fn create_app(
        &mut self,
        repo: &TestRepo,
        port: Option<u16>,
    ) -> (apps::AppRow, DeploymentRow) {
        self.create_app_at(&repo.url(), port).await
    }

    /// An app whose repository is at `repo_url`, whatever that is.
    pub async fn create_app_at(
        &mut self,
        repo_url: &str,
        port: Option<u16>,
    ) -> (apps::AppRow, DeploymentRow) {
        let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
        self.apps.push(name.clone());
        let new = NewApp {
            name,
            repo_url: Some(repo_url.to_owned()),
            branch: None,
            dockerfile: "Dockerfile".into(),
            port,
            spec_path: "slipway.toml".into(),
            callback_url: None,
        };
        apps::create(&self.pool, Owner::Any, &new).await.unwrap()
    }

    pub async fn wait_finished(&self, id: Uuid) -> DeploymentRow {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let row = deployments::get(&self.pool, id).await.unwrap();
            if !row.status.is_unfinished() {
                return row;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deployment {id} still {} after 120s",
                row.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_running(&self, id: Uuid) -> DeploymentRow {
        let row = self.wait_finished(id).await;
        assert_eq!(
            row.status,
            DeploymentStatus::Running,
            "{:?}\n{}",
            row.reason,
            self.log_text(id).await
        );
        row
    }

    /// Waits for the deployment to fail in `phase`; returns the reason.
    pub async fn wait_failed(&self, id: Uuid, phase: Phase) -> String {
        let row = self.wait_finished(id).await;
        assert_eq!(
            (row.status, row.failed_phase),
            (DeploymentStatus::Failed, Some(phase)),
            "{:?}\n{}",
            row.reason,
            self.log_text(id).await
        );
        row.reason.unwrap_or_default()
    }

    pub async fn wait_for_log(&self, id: Uuid, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.log_text(id).await.contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.log_text(id).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn page(&self, id: Uuid) -> String {
        let containers = containers::list(&self.pool, id).await.unwrap();
        let containers: Vec<_> = containers
            .into_iter()
            .filter(|c| c.process == "web")
            .collect();
        assert_eq!(containers.len(), 1, "one web container expected");
        let ip = containers[0].ip.clone().expect("container has an address");
        slipway_testkit::http_get(&format!("http://{ip}:{}/", containers[0].port))
            .await
            .expect("page answers")
    }

    pub async fn log_text(&self, id: Uuid) -> String {
        let lines = logs::page(&self.pool, id, 0, 100_000).await.unwrap();
        lines
            .iter()
            .map(|l| format!("[{}] {}\n", l.stream, l.line))
            .collect()
    }

    pub async fn running_containers(&self, app: &str) -> Vec<String> {
        let list = self
            .docker
            .list_containers(&[("slipway.app", app)])
            .await
            .unwrap();
        list.into_iter()
            .filter(|c| c.state == "running")
            .map(|c| c.name)
            .collect()
    }

    /// The images carrying this installation's and `app`'s labels.
    pub async fn labelled_images(&self, app: &str) -> Vec<slipway_docker::ImageSummary> {
        self.docker
            .list_images(&[
                ("slipway.app", app),
                ("slipway.network", self.config.network.as_str()),
            ])
            .await
            .unwrap()
    }

    /// Stops every worker started so far and waits for them.
    pub async fn stop_workers(&mut self) {
        for (stop, handle) in self.workers.drain(..) {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
    }

    pub async fn teardown(mut self) {
        self.torn_down = true;
        for (stop, handle) in self.workers.drain(..) {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
        for app in &self.apps {
            for c in self
                .docker
                .list_containers(&[("slipway.app", app)])
                .await
                .unwrap_or_default()
            {
                let _ = self.docker.stop_and_remove(&c.id, Duration::ZERO).await;
            }
            let repository = format!("slipway-{app}");
            for image in self
                .docker
                .list_images_of(&repository)
                .await
                .unwrap_or_default()
            {
                for tag in image
                    .tags
                    .iter()
                    .filter(|t| t.starts_with(&format!("{repository}:")))
                {
                    let _ = self.docker.remove_image(tag).await;
                }
            }
        }
        let _ = self
            .docker
            .remove_networks_labelled(&[("slipway.network", &self.config.network)])
            .await;
        let _ = self.docker.remove_network(&self.config.network).await;
    }
}

/// A test that panics never reaches `teardown()`: its workers are stopped and what its
/// apps left in Docker is removed here, synchronously, with the docker CLI (no runtime
/// to await on while unwinding).
impl Drop for Env {
    fn drop(&mut self) {
        if self.torn_down {
            return;
        }
        for (stop, _) in &self.workers {
            stop.cancel();
        }
        let docker = |args: &[&str]| {
            std::process::Command::new("docker")
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        for app in &self.apps {
            let label = format!("label=slipway.app={app}");
            for id in docker(&["ps", "-aq", "--filter", &label]).split_whitespace() {
                docker(&["rm", "-f", id]);
            }
            let reference = format!("reference=slipway-{app}");
            let tags = docker(&[
                "images",
                "--filter",
                &reference,
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ]);
            for tag in tags.split_whitespace() {
                docker(&["rmi", tag]);
            }
        }
        let label = format!("label=slipway.network={}", self.config.network);
        for net in docker(&["network", "ls", "-q", "--filter", &label]).split_whitespace() {
            docker(&["network", "rm", net]);
        }
        docker(&["network", "rm", &self.config.network]);
    }
}

/// Sets (`Some`) and unsets (`None`) the app's config vars as the API would: sealed
/// with the installation's key.
pub async fn set_config(env: &Env, app: &apps::AppRow, vars: &[(&str, Option<&str>)]) -> Applied {
    let cipher = Cipher::new(env.config.secret_key.as_ref().unwrap().bytes());
    let mut change = Change::default();
    for (name, value) in vars {
        match value {
            Some(v) => change.set.push((
                (*name).to_owned(),
                cipher
                    .seal(&crypto::config_var_aad(&app.id.to_string(), name), v)
                    .unwrap(),
            )),
            None => change.unset.push((*name).to_owned()),
        }
    }
    config_vars::change(&env.pool, app.id, &change, 100)
        .await
        .unwrap()
        .unwrap()
}

/// Builds the busybox web app (serving `page`) straight through the Docker API, with
/// `labels`, as something other than this worker would have: a lost worker, another
/// installation.
pub async fn build_fixture_image(
    docker: &DockerClient,
    tag: &str,
    page: &str,
    labels: &[(&str, &str)],
) {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in slipway_testkit::web_app_files(page) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        tar.append_data(&mut header, path, data.as_slice()).unwrap();
    }
    let bytes = bytes::Bytes::from(tar.into_inner().unwrap());
    let context = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
    let request = slipway_docker::BuildRequest {
        tag: tag.to_owned(),
        dockerfile: "Dockerfile".into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    };
    docker
        .build_image(&request, context, &mut |_| {})
        .await
        .unwrap();
}

/// Builds the web app as another installation on the same Docker host would: tagged in
/// `slipway-<app>` but labelled with that installation's network. Returns the tag; the
/// caller removes it.
pub async fn build_foreign_image(docker: &DockerClient, app: &str, network: &str) -> String {
    let tag = format!("slipway-{app}:foreign");
    let labels = [("slipway.network", network), ("slipway.app", app)];
    build_fixture_image(docker, &tag, "foreign", &labels).await;
    tag
}
