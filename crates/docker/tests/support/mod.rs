//! Helpers for the Docker integration tests: a connected client, random names,
//! build contexts made in memory, and cleanup that runs even when a test panics.

#![allow(dead_code)] // shared by test files that each use a subset

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use slipway_docker::{BuildRequest, Builder, BuiltImage, DockerClient};

pub const PAGE: &str = "<h1>hello from slipway</h1>\n";

pub const WEB_DOCKERFILE: &str = "FROM scratch\n\
    COPY busybox /bin/busybox\n\
    COPY index.html /www/index.html\n\
    EXPOSE 80\n\
    CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n";

/// A client for the local Docker Engine; fails the test if the engine does not answer.
pub async fn docker() -> DockerClient {
    let client = match DockerClient::connect(None).await {
        Ok(client) => client,
        Err(e) => panic!("Docker Engine not reachable: {e}"),
    };
    if let Err(e) = client.ping().await {
        panic!("Docker Engine not reachable: {e}");
    }
    client
}

/// A raw bollard connection, for checking things the crate's API does not expose.
pub fn bollard() -> bollard::Docker {
    match bollard::Docker::connect_with_defaults() {
        Ok(docker) => docker,
        Err(e) => panic!("Docker Engine not reachable: {e}"),
    }
}

/// `slipway-test-<what>-<uuid>`: lowercase, valid as a container, network or image name.
pub fn unique(what: &str) -> String {
    format!("slipway-test-{what}-{}", uuid::Uuid::now_v7().simple())
}

/// A tar build context holding `Dockerfile` and the given files.
pub fn context(dockerfile: &str, files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let dockerfile = ("Dockerfile", dockerfile.as_bytes(), 0o644);
    for (path, data, mode) in std::iter::once(&dockerfile).chain(files) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        tar.append_data(&mut header, path, *data)
            .expect("append to the tar context");
    }
    tar.into_inner().expect("finish the tar context")
}

/// The web app's context: static busybox serving `PAGE` with httpd.
pub fn web_context(dockerfile: &str) -> Vec<u8> {
    let busybox = std::fs::read("/usr/bin/busybox")
        .expect("read /usr/bin/busybox (apt-get install busybox-static)");
    context(
        dockerfile,
        &[
            ("busybox", &busybox, 0o755),
            ("index.html", PAGE.as_bytes(), 0o644),
        ],
    )
}

/// The context as a stream of 64 KiB chunks, as the source crate would produce it.
pub fn stream(tar: Vec<u8>) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Bytes, std::io::Error>> = tar
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(chunks)
}

/// Each request's image is labelled with its own tag: tests build the same context at
/// the same time, and identical images share one id, so one test removing its tag could
/// delete the image another test's build is still exporting ("failed to get digest").
pub fn build_request(tag: &str, labels: &[(&str, &str)]) -> BuildRequest {
    let mut labels: HashMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.insert("slipway.test-build".to_owned(), tag.to_owned());
    BuildRequest {
        tag: tag.to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        labels,
        build_args: HashMap::new(),
        target: None,
        secrets: Default::default(),
        builder: Builder::BuildKit,
    }
}

/// Builds the busybox web image under a fresh tag (registered for cleanup).
pub async fn build_web_image(docker: &DockerClient, cleanup: &mut Cleanup) -> (String, BuiltImage) {
    let tag = format!("{}:latest", unique("web"));
    cleanup.image(&tag);
    let mut on_line = |_line: String| {};
    let built = docker
        .build_image(
            &build_request(&tag, &[]),
            stream(web_context(WEB_DOCKERFILE)),
            &mut on_line,
        )
        .await
        .unwrap_or_else(|e| panic!("building the web image failed: {e}"));
    (tag, built)
}

/// GETs the URL until it answers 200 (httpd may still be starting) and returns the body.
pub async fn get_page(url: &str) -> String {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("http client");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let last = match http.get(url).send().await {
            Ok(response) if response.status().is_success() => match response.text().await {
                Ok(body) => return body,
                Err(e) => e.to_string(),
            },
            Ok(response) => format!("status {}", response.status()),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() > deadline {
            panic!("{url} did not serve the page: {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` every 100 ms until it gives `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Removes what a test created when it goes out of scope, passing or panicking:
/// containers first, then networks, then images. Runs on its own thread and runtime
/// because `Drop` cannot await.
#[derive(Default)]
pub struct Cleanup {
    containers: Vec<String>,
    networks: Vec<String>,
    images: Vec<String>,
}

impl Cleanup {
    pub fn container(&mut self, name: &str) {
        self.containers.push(name.to_owned());
    }
    pub fn network(&mut self, name: &str) {
        self.networks.push(name.to_owned());
    }
    pub fn image(&mut self, reference: &str) {
        self.images.push(reference.to_owned());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (containers, networks, images) = (
            std::mem::take(&mut self.containers),
            std::mem::take(&mut self.networks),
            std::mem::take(&mut self.images),
        );
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(docker) = DockerClient::connect(None).await else {
                    return;
                };
                for c in &containers {
                    if let Err(e) = docker.stop_and_remove(c, Duration::ZERO).await {
                        eprintln!("cleanup: container {c}: {e}");
                    }
                }
                for n in &networks {
                    if let Err(e) = docker.remove_network(n).await {
                        eprintln!("cleanup: network {n}: {e}");
                    }
                }
                for i in &images {
                    if let Err(e) = docker.remove_image(i).await {
                        eprintln!("cleanup: image {i}: {e}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}
