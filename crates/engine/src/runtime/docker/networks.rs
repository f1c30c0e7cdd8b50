//! Each app runs on a bridge network of its own, so it can reach neither other apps nor
//! anything on Slipway's shared network. The containers labelled
//! `slipway.joins-app-networks=true` on the shared network (Traefik, which routes to the
//! apps, and workers, which health-check them by address) are connected to every app
//! network: when it is made, at worker start-up, and whenever one of them (re)starts.

use std::collections::HashMap;
use std::str::FromStr;

use ipnet::Ipv4Net;
use slipway_core::labels::{self, LABEL_APP, LABEL_JOINS_APP_NETWORKS, LABEL_NETWORK};
use slipway_core::subnets::AppSubnets;

use super::{DockerRuntime, docker_err};
use crate::runtime::{RuntimeError, RuntimeErrorKind};

/// Another worker may take the subnet picked between listing and creating: try the next
/// few before giving up.
const CREATE_ATTEMPTS: usize = 8;

/// Makes sure the app's network exists and every joiner is attached; returns its name.
/// The error is worded for the deployment log.
pub(crate) async fn prepare(rt: &DockerRuntime, app: &str) -> Result<String, RuntimeError> {
    let name = labels::app_network(&rt.config.network, app);
    create(rt, &name, app).await?;
    attach_joiners(rt, &name).await?;
    Ok(name)
}

async fn create(rt: &DockerRuntime, name: &str, app: &str) -> Result<(), RuntimeError> {
    let labels = HashMap::from([
        (LABEL_NETWORK.to_owned(), rt.config.network.clone()),
        (LABEL_APP.to_owned(), app.to_owned()),
    ]);
    create_labelled(rt, name, labels).await
}

/// Creates a network from SLIPWAY_APP_SUBNETS (or Docker's pools); a network of that
/// name already there is success.
pub(super) async fn create_labelled(
    rt: &DockerRuntime,
    name: &str,
    labels: HashMap<String, String>,
) -> Result<(), RuntimeError> {
    let docker_error = |e: slipway_docker::DockerError| {
        docker_err(&format!("Docker Engine error creating network {name}"), e)
    };
    let subnets = rt.config.app_subnets;
    if subnets == AppSubnets::Docker {
        return rt
            .docker
            .create_network_on(name, labels, None)
            .await
            .map_err(docker_error);
    }
    let taken: Vec<Ipv4Net> = rt
        .docker
        .taken_subnets()
        .await
        .map_err(docker_error)?
        .iter()
        .filter_map(|s| Ipv4Net::from_str(s).ok())
        .collect();
    for subnet in subnets.free(&taken).into_iter().take(CREATE_ATTEMPTS) {
        let net = subnet.to_string();
        let gateway = subnet.gateway().to_string();
        match rt
            .docker
            .create_network_on(name, labels.clone(), Some((&net, &gateway)))
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) if e.is_address_taken() => continue,
            Err(e) => return Err(docker_error(e)),
        }
    }
    Err(RuntimeError::new(
        RuntimeErrorKind::Exhausted,
        format!(
            "no free subnet left for network {name} in SLIPWAY_APP_SUBNETS ({subnets}): \
         delete unused apps, or give Slipway a larger pool (SLIPWAY_APP_SUBNETS, SLIPWAY_APP_SUBNET_SIZE)"
        ),
    ))
}

/// The running containers on the shared network that must reach every app.
async fn joiners(rt: &DockerRuntime) -> Result<Vec<String>, RuntimeError> {
    let found = rt
        .docker
        .list_containers_on_network(&rt.config.network, &[(LABEL_JOINS_APP_NETWORKS, "true")])
        .await
        .map_err(|e| docker_err("Docker Engine error listing Traefik and the workers", e))?;
    Ok(found
        .into_iter()
        .filter(|c| c.state == "running")
        .map(|c| c.id)
        .collect())
}

async fn attach_joiners(rt: &DockerRuntime, network: &str) -> Result<(), RuntimeError> {
    for joiner in joiners(rt).await? {
        rt.docker
            .connect_to_network(network, &joiner)
            .await
            .map_err(|e| {
                docker_err(
                    &format!(
                        "could not connect container {joiner} (Traefik or a worker) to {network}"
                    ),
                    e,
                )
            })?;
    }
    Ok(())
}

/// Connects every joiner to every app network of this installation: at start-up, and
/// when Traefik or a worker was recreated (Docker forgets a container's extra networks
/// when it is recreated, though not when it restarts).
pub(crate) async fn attach_all(rt: &DockerRuntime) {
    let networks = match rt
        .docker
        .networks_labelled(&[(LABEL_NETWORK, &rt.config.network)])
        .await
    {
        Ok(networks) => networks,
        Err(e) => {
            tracing::warn!(error = %e, "could not list app networks");
            return;
        }
    };
    for network in networks {
        if let Err(e) = attach_joiners(rt, &network).await {
            tracing::warn!(%network, error = %e, "could not attach to an app network");
        }
    }
}

/// Removes a deleted app's network, once its containers are gone.
pub(crate) async fn remove(
    rt: &DockerRuntime,
    app: &str,
) -> Result<(), slipway_docker::DockerError> {
    let name = labels::app_network(&rt.config.network, app);
    rt.docker.detach_all_and_remove(&name).await
}

/// Re-attaches the joiners whenever one of them starts: a Traefik container recreated
/// by `docker compose up` would otherwise reach no app until the next worker start.
pub(crate) async fn watch_joiners(
    rt: &DockerRuntime,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use futures_util::StreamExt;
    loop {
        let mut events = Box::pin(
            rt.docker
                .container_events(&[(LABEL_JOINS_APP_NETWORKS, "true")]),
        );
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                event = events.next() => event,
            };
            match event {
                Some(Ok(event)) if event.action == "start" => {
                    tracing::info!(container = %event.name, "attaching a restarted joiner to the app networks");
                    attach_all(rt).await;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        // A start may have fallen into the gap.
        attach_all(rt).await;
    }
}
