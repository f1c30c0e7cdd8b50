//! What an app container may not do, checked from inside a real one that a real worker
//! released: reach a database on Slipway's internal network or the host's Postgres,
//! find a Docker socket, or hold more than the few capabilities a web server needs.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::process::Command;

use slipway_store::{PgPool, deployments};
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
    let app = deployments::containers(&env.pool, first.id).await.unwrap()[0]
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
    let (_, gateway) = docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        &env.config.network,
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
