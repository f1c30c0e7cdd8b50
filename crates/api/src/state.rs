use std::sync::Arc;

use slipway_core::Config;
use slipway_core::crypto::Cipher;
use slipway_docker::DockerClient;
use slipway_store::PgPool;
use tokio::sync::OnceCell;
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
    docker: Arc<OnceCell<DockerClient>>,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> Self {
        let cipher = config.secret_key.as_ref().map(|k| Cipher::new(k.bytes()));
        Self {
            pool,
            cipher,
            limits: crate::limits::RateLimits::new(config.rate_limit).map(Arc::new),
            shutdown: CancellationToken::new(),
            config: Arc::new(config),
            docker: Arc::new(OnceCell::new()),
        }
    }

    /// Connects on first use, so the API starts (and reports not-ready) while Docker is down.
    pub async fn docker(&self) -> Result<&DockerClient, slipway_docker::DockerError> {
        self.docker
            .get_or_try_init(|| DockerClient::connect(self.config.docker_host.as_deref()))
            .await
    }
}
