//! The Docker Engine going away under a running worker: the deployment in flight fails
//! with a reason that says so, instead of hanging. The worker reaches Docker through a
//! TCP proxy to the real socket, and the test cuts the proxy mid-build.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipway_core::{DeploymentStatus, Phase};
use slipway_docker::DockerClient;
use slipway_store::PgPool;
use slipway_testkit::{TestRepo, web_app_files_with_dockerfile};
use support::Env;
use tokio::task::JoinHandle;

/// Forwards TCP connections to the local Docker socket until stopped.
struct Proxy {
    addr: std::net::SocketAddr,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut docker) =
                        tokio::net::UnixStream::connect("/var/run/docker.sock").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut docker).await;
                    }
                });
                tracked.lock().unwrap().push(pipe);
            }
        });
        Self {
            addr,
            accept,
            connections,
        }
    }

    /// As if the daemon died: open connections drop, new ones are refused.
    fn cut(&self) {
        self.accept.abort();
        for pipe in self.connections.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_deployment_fails_saying_docker_is_gone_when_the_engine_disappears(pool: PgPool) {
    let proxy = Proxy::start().await;
    let docker = DockerClient::connect(Some(&format!("tcp://{}", proxy.addr)))
        .await
        .unwrap();
    let mut env = Env::new(pool).await;
    env.start_worker_on("w1", docker);
    let slow = "FROM scratch\nCOPY busybox /bin/busybox\n\
        RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo building; /bin/busybox sleep 60\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("never", slow));
    let (_, first) = env.create_app(&repo, None).await;
    env.wait_for_log(first.id, "building").await;

    proxy.cut();
    let cut_at = std::time::Instant::now();
    let done = env.wait_finished(first.id).await;
    let took = cut_at.elapsed();
    let log = env.log_text(first.id).await;
    env.teardown().await;

    assert_eq!(done.status, DeploymentStatus::Failed, "{:?}", done.reason);
    assert_eq!(done.failed_phase, Some(Phase::Build));
    let reason = done.reason.unwrap_or_default();
    println!("reason: {reason}");
    assert!(reason.contains("Docker"), "{reason}\n{log}");
    assert!(took < Duration::from_secs(30), "it took {took:?} to notice");
}
