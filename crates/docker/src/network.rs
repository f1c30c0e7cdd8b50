//! Bridge networks: the one Traefik and the worker share, and one per app, which
//! Traefik and the worker are connected to.

use std::collections::HashMap;

use bollard::models::{
    Ipam, IpamConfig, Network, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest,
};
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
        self.create_network_on(name, HashMap::new(), None).await
    }

    /// Creates a bridge network with these labels on `subnet` (`None`: Docker picks one
    /// from its own pools). A network of that name already there counts as success and
    /// is left as it is. [`DockerError::is_address_taken`] tells that another network
    /// got the subnet first.
    #[tracing::instrument(level = "debug", skip(self, labels))]
    pub async fn create_network_on(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        subnet: Option<(&str, &str)>,
    ) -> Result<(), DockerError> {
        if !self.networks_named(name).await?.is_empty() {
            return Ok(());
        }
        let mut labels = labels;
        labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels),
            ipam: subnet.map(|(subnet, gateway)| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_owned()),
                    gateway: Some(gateway.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Err(e) = self.docker.create_network(request).await {
            let e = DockerError::from(e);
            if !e.is_conflict() {
                return Err(e);
            }
        }
        self.remove_duplicates(name).await
    }

    /// The IPv4 subnets every network on the daemon uses, Slipway's or not.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn taken_subnets(&self) -> Result<Vec<String>, DockerError> {
        let networks = self.docker.list_networks(None).await?;
        Ok(networks
            .iter()
            .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
            .flatten()
            .filter_map(|c| c.subnet.clone())
            .filter(|s| !s.contains(':'))
            .collect())
    }

    /// Names of the networks carrying all of these labels.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn networks_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([(
            "label",
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        )]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let networks = self.docker.list_networks(Some(options)).await?;
        Ok(networks.into_iter().filter_map(|n| n.name).collect())
    }

    /// Ids of the containers attached to the network.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn network_containers(&self, network: &str) -> Result<Vec<String>, DockerError> {
        let inspected = self.docker.inspect_network(network, None).await?;
        Ok(inspected
            .containers
            .unwrap_or_default()
            .into_keys()
            .collect())
    }

    /// Attaches a running container to the network; one already attached is fine.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn connect_to_network(
        &self,
        network: &str,
        container: &str,
    ) -> Result<(), DockerError> {
        let request = NetworkConnectRequest {
            container: container.to_owned(),
            endpoint_config: None,
        };
        match self.docker.connect_network(network, request).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = DockerError::from(e);
                // Docker answers 403 "endpoint ... already exists" (409 on some versions).
                if e.to_string().contains("already exists") || e.is_conflict() {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Detaches every container (Traefik, workers) and removes the network; a network
    /// that does not exist is fine. App containers must be gone already.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn detach_all_and_remove(&self, network: &str) -> Result<(), DockerError> {
        let attached = match self.network_containers(network).await {
            Ok(ids) => ids,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        for container in attached {
            let request = NetworkDisconnectRequest {
                container,
                force: Some(true),
            };
            ok_if_not_found(self.docker.disconnect_network(network, request).await)?;
        }
        self.remove_network(network).await
    }

    /// Detaches and removes every network carrying all of these labels.
    pub async fn remove_networks_labelled(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<(), DockerError> {
        for network in self.networks_labelled(labels).await? {
            self.detach_all_and_remove(&network).await?;
        }
        Ok(())
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
