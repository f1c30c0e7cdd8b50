//! Images: existence, listing by label, removal.

use std::collections::HashMap;

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use crate::client::label_filters;
use crate::error::ok_if_not_found;
use crate::{DockerClient, DockerError};

/// One image as listed by the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSummary {
    /// `sha256:…`
    pub id: String,
    /// `repo:tag` references; empty for a dangling image.
    pub tags: Vec<String>,
    pub labels: HashMap<String, String>,
}

/// What an inspected image says of itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageDetails {
    /// TCP ports from the image's `EXPOSE`, sorted.
    pub exposed_ports: Vec<u16>,
    pub labels: HashMap<String, String>,
}

impl DockerClient {
    /// Whether an image with this reference (tag or id) exists locally.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn image_exists(&self, reference: &str) -> Result<bool, DockerError> {
        Ok(ok_if_not_found(self.docker.inspect_image(reference).await)?.is_some())
    }

    /// Removes the image (untags it, and deletes its layers once no tag is left).
    /// Not forced: an image used by a container is refused with a 409. A missing
    /// image is fine.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn remove_image(&self, reference: &str) -> Result<(), DockerError> {
        let options = RemoveImageOptionsBuilder::new()
            .force(false)
            .noprune(false)
            .build();
        ok_if_not_found(
            self.docker
                .remove_image(reference, Some(options), None)
                .await,
        )?;
        Ok(())
    }

    /// Images carrying all the given labels (`key=value` pairs); all images if none.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn list_images(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ImageSummary>, DockerError> {
        self.images_matching(label_filters(labels)).await
    }

    /// Every tag of `repository` (e.g. all `slipway-hello:*` images).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn list_images_of(&self, repository: &str) -> Result<Vec<ImageSummary>, DockerError> {
        self.images_matching(HashMap::from([(
            "reference".to_owned(),
            vec![repository.to_owned()],
        )]))
        .await
    }

    async fn images_matching(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<ImageSummary>, DockerError> {
        let options = ListImagesOptionsBuilder::new().filters(&filters).build();
        let images = self.docker.list_images(Some(options)).await?;
        Ok(images
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                tags: i
                    .repo_tags
                    .into_iter()
                    .filter(|t| t != "<none>:<none>")
                    .collect(),
                labels: i.labels,
            })
            .collect())
    }

    /// The image's exposed TCP ports, sorted, without duplicates.
    /// The TCP ports the image EXPOSEs, or `None` when there is no such image: one
    /// call answers both "can this build be skipped" and "which port does it use".
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn image_exposed_ports(
        &self,
        reference: &str,
    ) -> Result<Option<Vec<u16>>, DockerError> {
        let Some(image) = ok_if_not_found(self.docker.inspect_image(reference).await)? else {
            return Ok(None);
        };
        let exposed = image
            .config
            .and_then(|c| c.exposed_ports)
            .unwrap_or_default();
        Ok(Some(tcp_ports(&exposed)))
    }

    /// The image's labels and the TCP ports it EXPOSEs, or `None` when there is no such
    /// image.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn image_details(
        &self,
        reference: &str,
    ) -> Result<Option<ImageDetails>, DockerError> {
        let Some(image) = ok_if_not_found(self.docker.inspect_image(reference).await)? else {
            return Ok(None);
        };
        let config = image.config.unwrap_or_default();
        Ok(Some(ImageDetails {
            exposed_ports: tcp_ports(&config.exposed_ports.unwrap_or_default()),
            labels: config.labels.unwrap_or_default(),
        }))
    }

    pub(crate) async fn exposed_tcp_ports(&self, reference: &str) -> Result<Vec<u16>, DockerError> {
        let image = self.docker.inspect_image(reference).await?;
        let exposed = image
            .config
            .and_then(|c| c.exposed_ports)
            .unwrap_or_default();
        Ok(tcp_ports(&exposed))
    }
}

/// `["80/tcp", "53/udp", "8080"]` → `[80, 8080]`.
fn tcp_ports(exposed: &[String]) -> Vec<u16> {
    let mut ports: Vec<u16> = exposed
        .iter()
        .filter_map(|p| match p.split_once('/') {
            Some((port, proto)) if proto.eq_ignore_ascii_case("tcp") => port.parse().ok(),
            Some(_) => None,
            None => p.parse().ok(),
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::tcp_ports;

    #[test]
    fn only_tcp_ports_sorted() {
        let exposed = ["8080/tcp", "53/udp", "80/tcp", "80/tcp", "9000", "x/tcp"].map(String::from);
        assert_eq!(tcp_ports(&exposed), vec![80, 8080, 9000]);
    }
}
