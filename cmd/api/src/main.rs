//! slipway-api: the REST API and dashboard. Configuration comes from the environment
//! (see README); `create-admin` makes an admin user and prints its first token.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use slipway_core::token;
use slipway_store::users;

#[derive(Parser)]
#[command(
    name = "slipway-api",
    version,
    about = "Slipway's REST API and dashboard"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and dashboard (the default).
    Serve,
    /// Create an admin user and print its first API token (shown once).
    CreateAdmin {
        /// The user's name (1–63 of a-z0-9-).
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = slipway_service::load_config()?;
    slipway_service::init_tracing(config.log_json);
    let pool = slipway_service::database(&config, 10).await?;
    slipway_service::settle_internal_token(&mut config, &pool).await?;
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(pool, config).await,
        Command::CreateAdmin { name } => create_admin(&pool, &name).await,
    }
}

async fn create_admin(pool: &slipway_store::PgPool, name: &str) -> anyhow::Result<()> {
    let name =
        slipway_core::AppName::parse(name).map_err(|e| anyhow::anyhow!("--name: {}", e.message))?;
    let new = token::generate();
    match users::create(pool, name.as_str(), true, &new).await {
        Ok(_) => {
            // The token on stdout alone, so that scripts can capture it.
            println!("{}", new.token);
            eprintln!("admin {name} created; this token is shown only now");
            Ok(())
        }
        Err(slipway_store::StoreError::Conflict { .. }) => {
            anyhow::bail!("a user named {name} exists already; choose another --name")
        }
        Err(e) => Err(e).context("could not create the admin"),
    }
}

async fn serve(pool: slipway_store::PgPool, config: slipway_core::Config) -> anyhow::Result<()> {
    let admin = config
        .admin_token
        .as_ref()
        .map(|t| token::from_text(t.expose().to_owned()));
    users::sync_admin_token(&pool, "admin", admin.as_ref())
        .await
        .context("could not store SLIPWAY_ADMIN_TOKEN")?;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("could not listen on port {} (PORT)", config.port))?;
    tracing::info!(addr = %listener.local_addr()?, admin_token = admin.is_some(), "slipway-api listening");
    let shutdown = slipway_service::shutdown_token();
    let mut state = slipway_api::AppState::new(pool, config);
    state.shutdown = shutdown.clone();
    let callbacks = tokio::spawn(slipway_api::callbacks::run(state.clone()));
    let app = slipway_api::router(state);
    let drained = shutdown.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move { drained.cancelled().await })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => return served.context("server error"),
        () = shutdown.cancelled() => {}
    }
    // Requests in flight get DRAIN to finish; event streams end at once (AppState). An
    // attempt being delivered is abandoned uncommitted: its delivery is tried again.
    callbacks.abort();
    match tokio::time::timeout(DRAIN, server).await {
        Ok(served) => served.context("server error"),
        Err(_) => {
            tracing::warn!(
                grace_s = DRAIN.as_secs(),
                "requests still open after the grace period; exiting"
            );
            Ok(())
        }
    }
}

/// How long in-flight requests may take to finish after SIGTERM.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);
