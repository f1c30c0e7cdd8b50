//! The shipped docker-compose.yml must be accepted by the Compose tool a user has:
//! the v2 plugin (`docker compose`) or the standalone v1 `docker-compose`.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::path::Path;
use std::process::Command;

#[test]
fn docker_compose_accepts_the_compose_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let plugin = Command::new("docker").args(["compose", "version"]).output();
    let mut command = if plugin.is_ok_and(|o| o.status.success()) {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    };
    let output = command
        .args(["-f", "docker-compose.yml", "config", "-q"])
        .current_dir(&root)
        .output()
        .expect("neither `docker compose` nor `docker-compose` is installed; scripts/test.sh installs docker-compose");
    assert!(
        output.status.success(),
        "the Compose tool rejected docker-compose.yml:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
