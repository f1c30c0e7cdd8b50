//! Start-up refuses bad configuration with a message that names the variable.

use std::process::Command;

fn start(binary: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(binary)
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_value_stops_the_worker_naming_the_variable() {
    let worker = env!("CARGO_BIN_EXE_slipway-worker");
    let (ok, stderr) = start(worker, &[]);
    assert!(
        !ok && stderr.contains("DATABASE_URL is required"),
        "{stderr}"
    );
    let (ok, stderr) = start(
        worker,
        &[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_POLL_INTERVAL", "soon"),
        ],
    );
    assert!(
        !ok && stderr.contains("SLIPWAY_POLL_INTERVAL=\"soon\" is invalid"),
        "{stderr}"
    );
    let (ok, stderr) = start(
        worker,
        &[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_WORKER_CONCURRENCY", "0"),
        ],
    );
    assert!(
        !ok && stderr.contains("SLIPWAY_WORKER_CONCURRENCY"),
        "{stderr}"
    );
}
