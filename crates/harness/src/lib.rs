//! A whole Slipway in one test process: the real API router served on an ephemeral TCP
//! port and a real worker on the real Docker Engine, each test on its own network and
//! (through `sqlx::test`) its own database. For tests of programs that reach Slipway
//! over the network, such as the CLI and a browser.

#![allow(clippy::unwrap_used)] // test support: a failed step must fail the test loudly

use std::time::Duration;

use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_docker::DockerClient;
use slipway_engine::{Context, Worker};
use slipway_store::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Test settings on a network of the test's own, so parallel tests never share one.
pub fn config() -> Config {
    let network = format!(
        "slipway-test-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let mut c = Config::for_tests("unused", &network, std::env::temp_dir());
    c.allow_local_repos = true;
    c
}

/// A unique app name, so tests never collide on Docker names.
pub fn app_name() -> String {
    format!("t-{}", &Uuid::new_v4().simple().to_string()[..10])
}

/// A served API and an admin's token for it.
pub struct Served {
    pub url: String,
    pub token: String,
}

/// Serves the real router on an ephemeral port, and makes an admin to call it as.
pub async fn serve(pool: PgPool, config: Config) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_, token) = slipway_testkit::user_with_token(&pool, true).await;
    let app = router(AppState::new(pool, config));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        url: format!("http://{addr}"),
        token,
    }
}

/// A worker on the real Docker Engine, stopped by [`RunningWorker::shut_down`].
pub struct RunningWorker {
    docker: DockerClient,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), slipway_engine::WorkerError>>,
    _work: tempfile::TempDir,
}

/// The worker also serves its internal server (runtime logs for the API) on an ephemeral
/// port of 127.0.0.1, which its heartbeat advertises.
pub async fn start_worker(pool: PgPool, config: &Config, name: &str) -> RunningWorker {
    let docker = slipway_testkit::docker(DockerClient::connect(None).await);
    let work = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut worker_config = config.clone();
    worker_config.work_dir = work.path().to_path_buf();
    worker_config.worker_url = Some(format!("http://{}", listener.local_addr().unwrap()));
    let ctx = Context::new(pool.clone(), docker.clone(), worker_config).expect("worker context");
    let stop = CancellationToken::new();
    let internal = slipway_worker_http::Internal {
        pool,
        runtime: ctx.runtime.clone(),
        app_subnets: ctx.config.app_subnets,
        token: ctx.config.internal_token.clone(),
        shutdown: stop.clone(),
    };
    tokio::spawn(slipway_worker_http::serve(internal, listener));
    let worker = Worker::new(ctx, name);
    let task = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    RunningWorker {
        docker,
        stop,
        task,
        _work: work,
    }
}

impl RunningWorker {
    /// Waits for the (deleted) app's containers to be gone, then stops the worker and
    /// removes the test's network.
    pub async fn shut_down(self, app: &str, config: &Config) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self
            .docker
            .list_containers(&[("slipway.app", app)])
            .await
            .unwrap()
            .is_empty()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "containers of {app} still present 30s after delete"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        let _ = self
            .docker
            .remove_networks_labelled(&[("slipway.network", &config.network)])
            .await;
        let _ = self.docker.remove_network(&config.network).await;
    }
}
