//! slipway-worker: claims deployments from the queue and runs them on Docker.

use anyhow::Context as _;
use slipway_docker::DockerClient;
use slipway_engine::{Context, Worker};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = slipway_service::load_config()?;
    slipway_service::init_tracing(config.log_json);
    let connections = u32::try_from(config.worker_concurrency * 2 + 4).unwrap_or(u32::MAX);
    let pool = slipway_service::database(&config, connections).await?;
    slipway_service::settle_internal_token(&mut config, &pool).await?;
    let docker = DockerClient::connect(config.docker_host.as_deref())
        .await
        .context("could not reach the Docker Engine (DOCKER_HOST)")?;
    std::fs::create_dir_all(&config.work_dir).with_context(|| {
        format!(
            "could not create SLIPWAY_WORK_DIR {}",
            config.work_dir.display()
        )
    })?;
    let id = format!("{}-{}", hostname(), std::process::id());
    let shutdown = slipway_service::shutdown_token();
    let port = config.worker_metrics_port;
    let ctx = Context::new(pool.clone(), docker, config).context("could not set up the worker")?;
    if let Some(port) = port {
        let config = &ctx.config;
        let internal = slipway_worker_http::Internal {
            pool,
            runtime: ctx.runtime.clone(),
            app_subnets: config.app_subnets,
            token: config.internal_token.clone(),
            shutdown: shutdown.clone(),
        };
        let listener = slipway_worker_http::bind(port).await?;
        tokio::spawn(async move {
            if let Err(e) = slipway_worker_http::serve(internal, listener).await {
                tracing::error!(error = %e, "internal server stopped");
            }
        });
    }
    let worker = Worker::new(ctx, id);
    worker.run(shutdown).await.context("worker stopped")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}
