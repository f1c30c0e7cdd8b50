use std::sync::Arc;
use std::time::Duration;

use slipway_core::Config;
use slipway_core::crypto::Cipher;
use slipway_store::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Seals and opens config vars; `None` without SLIPWAY_SECRET_KEY.
    pub cipher: Option<Cipher>,
    /// Requests per token; `None` when SLIPWAY_RATE_LIMIT is 0.
    pub(crate) limits: Option<Arc<crate::limits::RateLimits>>,
    /// Fired when the server is stopping: open event streams end, so that graceful
    /// shutdown is not held up by a client following a log.
    pub shutdown: CancellationToken,
    /// Asks workers for runtime logs: the API itself has no access to the runtime.
    pub(crate) workers: reqwest::Client,
    /// Database events for WebSocket clients; listens from the first client on.
    pub(crate) live: Arc<crate::ws::feed::Feed>,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> Self {
        let cipher = config.secret_key.as_ref().map(|k| Cipher::new(k.bytes()));
        // No overall timeout: a followed log stays open; single answers get one per request.
        let workers = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            pool,
            cipher,
            limits: crate::limits::RateLimits::new(config.rate_limit).map(Arc::new),
            shutdown: CancellationToken::new(),
            config: Arc::new(config),
            workers,
            live: Arc::default(),
        }
    }
}
