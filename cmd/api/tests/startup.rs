//! Start-up refuses bad configuration with a message that names the variable.

use std::process::Command;

#[test]
fn a_bad_value_stops_the_api_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_slipway-api"))
        .env_clear()
        .env("DATABASE_URL", "postgres://x")
        .env("PORT", "http")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("PORT=\"http\" is invalid"), "{stderr}");
}
