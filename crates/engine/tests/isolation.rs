//! What an app container may not do, checked from inside a real one that a real worker
//! released: reach a database on Slipway's internal network or the host's Postgres,
//! find a Docker socket, or hold more than the few capabilities a web server needs.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::process::Command;

use slipway_store::apps::{self, Owner};
use slipway_store::{PgPool, containers};
use slipway_testkit::{TestRepo, web_app_files};
use support::Env;
use uuid::Uuid;

/// `docker ARGS…`: (success, stdout + stderr).
fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Can `container` open a TCP connection to `host:port`? (busybox nc, 2 s timeout)
fn connects_from(container: &str, host: &str, port: &str) -> (bool, String) {
    docker(&[
        "exec",
        container,
        "/bin/busybox",
        "nc",
        "-w",
        "2",
        host,
        port,
    ])
}

/// The effective capability mask of CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID and
/// NET_BIND_SERVICE (bits 0, 1, 3, 6, 7, 10), as /proc/<pid>/status prints it.
const KEPT_CAPS: &str = "00000000000004cb";

/// The container's address on `network`.
fn ip_on(container: &str, network: &str) -> String {
    let (ok, out) = docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        container,
    ]);
    assert!(ok, "{out}");
    out.trim().to_owned()
}

/// The networks the container is attached to.
fn networks_of(container: &str) -> Vec<String> {
    let (ok, out) = docker(&[
        "inspect",
        "-f",
        "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
        container,
    ]);
    assert!(ok, "{out}");
    out.split_whitespace().map(str::to_owned).collect()
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_app_container_cannot_reach_slipways_database_or_the_docker_socket(pool: PgPool) {
    let db_port = std::env::var("DATABASE_URL")
        .unwrap()
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next().map(str::to_owned))
        .unwrap();
    let mut env = Env::new(pool).await;
    env.start_worker("w1");
    let repo = TestRepo::with_files(web_app_files("isolated"));
    let (_, first) = env.create_app(&repo, None).await;
    let running = env.wait_running(first.id).await;
    let image = running.image.clone().unwrap();
    let running_app = env.apps[0].clone();
    let app = containers::list(&env.pool, first.id).await.unwrap()[0]
        .name
        .clone();

    // How Docker was asked to run it.
    let (ok, host_config) = docker(&["inspect", "-f", "{{json .HostConfig}}", &app]);
    assert!(ok, "{host_config}");
    let hc: serde_json::Value = serde_json::from_str(&host_config).unwrap();
    assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]), "{hc}");
    assert_eq!(
        hc["SecurityOpt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    assert_eq!(hc["PidsLimit"], 512);
    assert_eq!(hc["Privileged"], false);
    assert_eq!(hc["Memory"], 256 * 1024 * 1024, "the default memory limit");
    assert!(
        hc["Binds"].is_null() || hc["Binds"] == serde_json::json!([]),
        "{hc}"
    );
    let (_, mounts) = docker(&["inspect", "-f", "{{json .Mounts}}", &app]);
    assert_eq!(mounts.trim(), "[]", "no host mounts");

    // What the process inside actually holds.
    let (ok, status) = docker(&["exec", &app, "/bin/busybox", "cat", "/proc/1/status"]);
    assert!(ok, "{status}");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(field("CapEff:"), KEPT_CAPS, "{status}");
    assert_eq!(field("CapBnd:"), KEPT_CAPS, "{status}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    let (found, _) = docker(&["exec", &app, "/bin/busybox", "ls", "/var/run/docker.sock"]);
    assert!(
        !found,
        "the Docker socket must not be inside an app container"
    );

    // A stand-in for compose's Postgres on Slipway's internal network: a container the
    // app must not reach, by address or by name, while a neighbour on that network can.
    let internal = format!(
        "slipway-test-internal-{}",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let db = format!("{internal}-db");
    assert!(docker(&["network", "create", &internal]).0);
    let (ok, out) = docker(&["run", "-d", "--name", &db, "--network", &internal, &image]);
    assert!(ok, "{out}");
    let (_, db_ip) = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &db,
    ]);
    let db_ip = db_ip.trim().to_owned();
    let (neighbour_ok, neighbour) = docker(&[
        "run",
        "--rm",
        "--network",
        &internal,
        &image,
        "/bin/busybox",
        "nc",
        "-w",
        "2",
        &db_ip,
        "80",
    ]);
    let (by_ip, by_ip_out) = connects_from(&app, &db_ip, "80");
    let (by_name, by_name_out) = connects_from(&app, &db, "80");

    // The host's own Postgres (the one this test suite runs on), through the gateway of
    // the app's network: the address an app would try first.
    let app_network = slipway_core::labels::app_network(&env.config.network, &running_app);
    let (_, gateway) = docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        &app_network,
    ]);
    let (host_pg, host_pg_out) = connects_from(&app, gateway.trim(), &db_port);
    let host_side =
        std::net::TcpStream::connect(("127.0.0.1", db_port.parse::<u16>().unwrap())).is_ok();

    docker(&["rm", "-f", &db]);
    docker(&["network", "rm", &internal]);
    env.teardown().await;

    assert!(
        neighbour_ok,
        "the probe works on the internal network: {neighbour}"
    );
    assert!(
        !by_ip,
        "the app reached the internal database by address: {by_ip_out}"
    );
    assert!(
        !by_name,
        "the app resolved the internal database by name: {by_name_out}"
    );
    assert!(host_side, "Postgres answers on the host");
    assert!(
        !host_pg,
        "the app reached the host's Postgres through {}: {host_pg_out}",
        gateway.trim()
    );
}

/// Polls `check` for up to 15 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still not true after 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn each_app_has_a_network_that_only_traefik_and_the_workers_share(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let shared = env.config.network.clone();
    env.docker.ensure_network(&shared).await.unwrap();
    // Stand-ins, from the image the first app builds: a Traefik (labelled to join every
    // app network) and something else on the shared network, like a worker's metrics.
    env.start_worker("w1");
    let repo_a = TestRepo::with_files(web_app_files("app a"));
    let (_, a) = env.create_app(&repo_a, None).await;
    let image = env.wait_running(a.id).await.image.unwrap();
    let tag = &Uuid::new_v4().simple().to_string()[..8];
    let traefik = format!("slipway-test-traefik-{tag}");
    let internal = format!("slipway-test-shared-{tag}");
    let (ok, out) = docker(&[
        "run",
        "-d",
        "--name",
        &traefik,
        "--network",
        &shared,
        "--label",
        "slipway.joins-app-networks=true",
        &image,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = docker(&[
        "run",
        "-d",
        "--name",
        &internal,
        "--network",
        &shared,
        &image,
    ]);
    assert!(ok, "{out}");

    // A release attaches the joiners that run at that moment.
    let repo_b = TestRepo::with_files(web_app_files("app b"));
    let (_, b) = env.create_app(&repo_b, None).await;
    env.wait_running(b.id).await;
    let container_a = containers::list(&env.pool, a.id).await.unwrap()[0]
        .name
        .clone();
    let container_b = containers::list(&env.pool, b.id).await.unwrap()[0]
        .name
        .clone();
    let net_a = slipway_core::labels::app_network(&shared, &env.apps[0]);
    let net_b = slipway_core::labels::app_network(&shared, &env.apps[1]);
    assert_eq!(networks_of(&container_a), [net_a.as_str()]);
    assert_eq!(networks_of(&container_b), [net_b.as_str()]);
    let (_, subnet) = docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        &net_b,
    ]);
    assert!(
        subnet.trim().starts_with("10.213."),
        "from SLIPWAY_APP_SUBNETS: {subnet}"
    );
    assert!(
        networks_of(&traefik).contains(&net_b),
        "{:?}",
        networks_of(&traefik)
    );

    // App A's network existed before the stand-in: the watcher attaches a joiner when it
    // starts, as it does a Traefik that compose recreated.
    eventually("the joiner attached to app A's network", || {
        networks_of(&traefik).contains(&net_a)
    })
    .await;
    let b_ip = ip_on(&container_b, &net_b);
    let (reaches_b, out) = connects_from(&traefik, &b_ip, "80");
    assert!(reaches_b, "Traefik reaches app B: {out}");
    let (reaches_a, out) = connects_from(&traefik, &ip_on(&container_a, &net_a), "80");
    assert!(reaches_a, "Traefik reaches app A: {out}");

    // Apps reach neither each other nor what sits on the shared network.
    let (a_to_b, out) = connects_from(&container_a, &b_ip, "80");
    assert!(!a_to_b, "app A reached app B by address: {out}");
    let (a_to_b_name, out) = connects_from(&container_a, &container_b, "80");
    assert!(!a_to_b_name, "app A reached app B by name: {out}");
    let (a_to_shared, out) = connects_from(&container_a, &ip_on(&internal, &shared), "80");
    assert!(!a_to_shared, "app A reached the shared network: {out}");

    // Deleting an app removes its network, detaching the joiners first.
    apps::mark_deleted(&env.pool, Owner::Any, &env.apps[1])
        .await
        .unwrap();
    eventually("app B's network removed", || {
        !docker(&["network", "inspect", &net_b]).0
    })
    .await;

    docker(&["rm", "-f", &traefik, &internal]);
    env.teardown().await;
}
