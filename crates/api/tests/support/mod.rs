//! What the API tests that need a real worker share.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use axum::http::StatusCode;
use slipway_core::Config;
use slipway_docker::DockerClient;
use slipway_engine::{Context, Worker};
use slipway_store::PgPool;
use slipway_testkit::ApiClient;
use tokio_util::sync::CancellationToken;

/// A real worker on the real Docker Engine, in this process; stop it with the token.
pub async fn spawn_worker(
    pool: &PgPool,
    config: &Config,
    id: &str,
) -> (
    DockerClient,
    tempfile::TempDir,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), slipway_engine::WorkerError>>,
) {
    let docker = slipway_testkit::docker(DockerClient::connect(None).await);
    let work = tempfile::tempdir().unwrap();
    let mut worker_config = config.clone();
    worker_config.work_dir = work.path().to_path_buf();
    let worker = Worker::new(
        Context::new(pool.clone(), docker.clone(), worker_config).unwrap(),
        id,
    );
    let stop = CancellationToken::new();
    let worker_task = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    (docker, work, stop, worker_task)
}

/// Deletes the app, waits for the worker to remove its containers, then stops the worker
/// and removes the test's networks.
pub async fn delete_and_stop(
    api: &ApiClient,
    docker: &DockerClient,
    name: &str,
    config: &Config,
    stop: CancellationToken,
    worker_task: tokio::task::JoinHandle<Result<(), slipway_engine::WorkerError>>,
) {
    let deleted = api.delete(&format!("/api/v1/apps/{name}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !docker
        .list_containers(&[("slipway.app", name)])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "containers still present 30s after DELETE"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker_task.await.unwrap().unwrap();
    let _ = docker
        .remove_networks_labelled(&[("slipway.network", &config.network)])
        .await;
    let _ = docker.remove_network(&config.network).await;
}
