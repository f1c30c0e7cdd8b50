//! Bridge networks the app containers (and the proxy) share.

use std::collections::HashMap;

use bollard::models::{Network, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;

use crate::error::ok_if_not_found;
use crate::{DockerClient, DockerError, MANAGED_LABEL};

impl DockerClient {
    /// Creates a bridge network labelled `slipway.managed=true` unless one with this
    /// name exists. Safe to call concurrently: a 409 from a newer daemon counts as
    /// success, and since API 1.41 daemons accept duplicate names, any duplicates
    /// created by a race are removed again, keeping the oldest.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn ensure_network(&self, name: &str) -> Result<(), DockerError> {
        if self.networks_named(name).await?.is_empty() {
            let request = NetworkCreateRequest {
                name: name.to_owned(),
                driver: Some("bridge".to_owned()),
                labels: Some(HashMap::from([(
                    MANAGED_LABEL.to_owned(),
                    "true".to_owned(),
                )])),
                ..Default::default()
            };
            if let Err(e) = self.docker.create_network(request).await {
                let e = DockerError::from(e);
                if !e.is_conflict() {
                    return Err(e);
                }
            }
        }
        self.remove_duplicates(name).await
    }

    /// Removes the network; a network that does not exist is fine.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        ok_if_not_found(self.docker.remove_network(name).await)?;
        Ok(())
    }

    /// Networks whose name is exactly `name` (the daemon's filter matches substrings).
    async fn networks_named(&self, name: &str) -> Result<Vec<Network>, DockerError> {
        let filters = HashMap::from([("name", vec![name])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let mut networks = self.docker.list_networks(Some(options)).await?;
        networks.retain(|n| n.name.as_deref() == Some(name));
        Ok(networks)
    }

    /// Every racer keeps the same one (oldest, then lowest id) and removes the rest.
    async fn remove_duplicates(&self, name: &str) -> Result<(), DockerError> {
        let mut networks = self.networks_named(name).await?;
        if networks.len() < 2 {
            return Ok(());
        }
        networks.sort_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)));
        for extra in networks.iter().skip(1).filter_map(|n| n.id.as_deref()) {
            tracing::debug!(network = name, id = extra, "removing duplicate network");
            if let Err(e) = ok_if_not_found(self.docker.remove_network(extra).await) {
                tracing::warn!(network = name, id = extra, error = %e, "could not remove duplicate network");
            }
        }
        Ok(())
    }
}
