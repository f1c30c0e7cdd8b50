//! traefik/entrypoint.sh renders Traefik's static configuration: the Let's Encrypt
//! resolver appears only when SLIPWAY_ACME_EMAIL is set, and a value that could break the
//! YAML is refused. (Traefik itself cannot run here: no image registry.)

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::path::Path;
use std::process::Command;

fn render(email: Option<&str>) -> (bool, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new("sh");
    cmd.arg("traefik/entrypoint.sh")
        .arg("--print")
        .current_dir(&root);
    cmd.env_remove("SLIPWAY_ACME_EMAIL");
    if let Some(email) = email {
        cmd.env("SLIPWAY_ACME_EMAIL", email);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_acme_resolver_is_rendered_only_with_an_email() {
    let (ok, plain, err) = render(None);
    assert!(ok, "{err}");
    assert!(
        plain.contains("websecure:\n    address: \":443\""),
        "{plain}"
    );
    assert!(plain.contains("directory: /etc/traefik/dynamic"), "{plain}");
    assert!(!plain.contains("certificatesResolvers"), "{plain}");

    let (ok, tls, err) = render(Some("ops@example.com"));
    assert!(ok, "{err}");
    assert!(tls.starts_with(&plain), "the base file is kept as is");
    let resolver = &tls[plain.len()..];
    for line in [
        "certificatesResolvers:",
        "  letsencrypt:",
        "      email: \"ops@example.com\"",
        "      storage: /letsencrypt/acme.json",
        "        entryPoint: web",
    ] {
        assert!(
            resolver.contains(line),
            "{line:?} missing from:\n{resolver}"
        );
    }

    // Surrounding blanks are dropped, as the Rust config does; blank alone means unset.
    let (ok, padded, err) = render(Some(" ops@example.com\n"));
    assert!(ok && padded == tls, "{err}");
    let (ok, blank, err) = render(Some("  "));
    assert!(ok && blank == plain, "{err}");

    for bad in [
        "x\"\n  evil: true@example.com",
        // A valid first line must not smuggle in more YAML.
        "ops@example.com\n\"\nevil: x",
        "o\"ps@example.com",
        "ops@example.com $(id)",
        "ops@example",
    ] {
        let (ok, out, err) = render(Some(bad));
        assert!(
            !ok && err.contains("SLIPWAY_ACME_EMAIL") && !out.contains("evil"),
            "{bad:?} was accepted:\n{out}"
        );
    }
}

#[test]
fn the_redirect_middleware_the_labels_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dynamic = std::fs::read_to_string(root.join("traefik/dynamic/middlewares.yml")).unwrap();
    // Labels say `slipway-https-redirect@file`: the file provider's middleware of that name.
    let name = slipway_core::labels::HTTPS_REDIRECT
        .strip_suffix("@file")
        .unwrap();
    assert!(
        dynamic.contains(&format!(
            "    {name}:\n      redirectScheme:\n        scheme: https"
        )),
        "{dynamic}"
    );
}
