//! slipway-api: the REST API. Configuration comes from the environment (see README).

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = slipway_service::load_config()?;
    slipway_service::init_tracing(config.log_json);
    let pool = slipway_service::database(&config, 10).await?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("could not listen on port {} (PORT)", config.port))?;
    tracing::info!(addr = %listener.local_addr()?, "slipway-api listening");
    let shutdown = slipway_service::shutdown_token();
    let app = slipway_api::router(slipway_api::AppState::new(pool, config));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("server error")
}
