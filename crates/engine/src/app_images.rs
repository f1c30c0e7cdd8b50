//! Which images belong to this installation and app. Several installations may share
//! one Docker host (each with its own `SLIPWAY_NETWORK`) and even app names, so images
//! are told apart by their labels, not by their repository name `slipway-<app>` alone.

use std::collections::HashMap;

use slipway_core::labels::{self, LABEL_APP, LABEL_NETWORK};
use slipway_docker::{DockerClient, DockerError};

/// The labels of every image Slipway builds: the installation (`SLIPWAY_NETWORK`, as on
/// containers) and the app.
pub(crate) fn image_labels(network: &str, app: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_NETWORK.to_owned(), network.to_owned()),
        (LABEL_APP.to_owned(), app.to_owned()),
    ])
}

/// Whether an image with these labels is this installation's image of `app`. Images
/// built before images had labels carry neither and count as ours, as they always did.
pub(crate) fn is_ours(labels: &HashMap<String, String>, network: &str, app: &str) -> bool {
    labels.get(LABEL_NETWORK).is_none_or(|n| n == network)
        && labels.get(LABEL_APP).is_none_or(|a| a == app)
}

/// The tags (`slipway-<app>:…`) of this installation's images of `app`.
pub(crate) async fn owned_tags(
    docker: &DockerClient,
    network: &str,
    app: &str,
) -> Result<Vec<String>, DockerError> {
    let repository = labels::image_repository(app);
    let prefix = format!("{repository}:");
    let images = docker.list_images_of(&repository).await?;
    Ok(images
        .into_iter()
        .filter(|i| is_ours(&i.labels, network, app))
        .flat_map(|i| i.tags)
        .filter(|t| t.starts_with(&prefix))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_installations_image_is_not_ours() {
        let ours = image_labels("slipway", "web");
        assert!(is_ours(&ours, "slipway", "web"));
        assert!(!is_ours(&ours, "staging", "web"));
        assert!(!is_ours(&ours, "slipway", "api"));
        assert!(is_ours(&HashMap::new(), "slipway", "web"));
    }
}
