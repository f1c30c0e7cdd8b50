//! What every Slipway binary does before its real work: read `.env` and the
//! environment, set up logging, reach and migrate the database, and turn SIGTERM or
//! Ctrl-C into a cancellation token.

use std::time::Duration;

use anyhow::Context as _;
use slipway_core::Config;
use slipway_store::PgPool;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// How long start-up waits for Postgres before giving up.
const DATABASE_PATIENCE: Duration = Duration::from_secs(60);

pub fn load_config() -> anyhow::Result<Config> {
    // A missing .env is normal; a malformed one is a mistake worth stopping for.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => return Err(e).context("could not read .env"),
    }
    Config::from_lookup(|k| std::env::var(k).ok()).context("invalid configuration")
}

pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // stderr, as the README says: stdout stays free for what a command prints
    // (`slipway-api create-admin` prints the token there for scripts to capture).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn database(config: &Config, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = slipway_store::connect(
        config.database_url.expose(),
        max_connections,
        DATABASE_PATIENCE,
    )
    .await
    .context("could not connect to the database at DATABASE_URL")?;
    slipway_store::migrate(&pool)
        .await
        .context("could not apply database migrations")?;
    check_secret_key(config, &pool).await?;
    Ok(pool)
}

/// Config vars are sealed with SLIPWAY_SECRET_KEY: once any exist, a server without the
/// key (or with another one) could neither release apps nor show their config, so it
/// refuses to start and says why.
pub async fn check_secret_key(config: &Config, pool: &PgPool) -> anyhow::Result<()> {
    let Some((app_id, name, sealed)) = slipway_store::config_vars::any_sealed(pool)
        .await
        .context("could not read config vars")?
    else {
        return Ok(());
    };
    let Some(key) = &config.secret_key else {
        anyhow::bail!(
            "SLIPWAY_SECRET_KEY is not set, but the database holds config vars encrypted with it: \
             set the key they were created with (the same value on the API and every worker)"
        );
    };
    let cipher = slipway_core::crypto::Cipher::new(key.bytes());
    let aad = slipway_core::crypto::config_var_aad(&app_id.to_string(), &name);
    cipher.open(&aad, &sealed).map_err(|_| {
        anyhow::anyhow!(
            "SLIPWAY_SECRET_KEY does not decrypt the stored config vars: it is not the key they \
             were created with (the same value must be set on the API and every worker)"
        )
    })?;
    Ok(())
}

/// Cancelled on the first SIGTERM or Ctrl-C.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        trigger.cancel();
    });
    token
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
