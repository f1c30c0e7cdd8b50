//! The `slipway` binary against a real API on a real TCP port, backed by a fresh Postgres
//! database per test and, where deployments must run, a real worker on the real Docker
//! Engine. Nothing is mocked: what passes here is what a user's terminal would see.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use slipway_harness::{Served, app_name, config, serve, start_worker};
use slipway_store::PgPool;
use slipway_testkit::{Run, TestRepo, web_app_files, web_app_files_with_dockerfile};

/// Runs the built binary with its config dir inside `home`, stdin closed (not a TTY),
/// and `SLIPWAY_URL` set when `url` is given. Async, so the in-process server keeps serving.
async fn slipway(url: Option<&str>, home: &Path, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("SLIPWAY_URL")
        .env_remove("SLIPWAY_TOKEN")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(url) = url {
        command.env("SLIPWAY_URL", url);
    }
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .unwrap_or_else(|_| panic!("slipway {args:?} ran for 240s"))
        .unwrap();
    let run = Run::from_output(&output);
    // Captured by the test harness; shown when a test fails, as a transcript.
    println!("$ slipway {}\n{run}", args.join(" "));
    run
}

/// Signs in as the served API's admin: later commands in `home` use the stored token.
async fn login(served: &Served, home: &Path) {
    slipway(
        None,
        home,
        &["login", "--url", &served.url, "--token", &served.token],
    )
    .await
    .ok();
}

/// Create, inspect, configure, scale, redeploy, roll back and delete one app, all
/// through the CLI.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_app_lives_and_dies_through_the_cli(pool: PgPool) {
    let config = config();
    let worker = start_worker(pool.clone(), &config, "cli-test").await;
    let served = serve(pool, config.clone()).await;
    let url = served.url.clone();
    let home = tempfile::tempdir().unwrap();
    login(&served, home.path()).await;
    let cli = |args: Vec<&str>| {
        let url = url.clone();
        let home = home.path().to_path_buf();
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            slipway(Some(&url), &home, &args).await
        }
    };
    let repo = TestRepo::with_files(web_app_files("hello from the cli"));
    let name = app_name();
    let repo_url = repo.url();

    let created = cli(vec!["apps", "create", &name, "--repo", &repo_url])
        .await
        .ok();
    assert!(
        created
            .stdout
            .contains(&format!("Deployed ({}", &repo.head()[..10])),
        "{created}"
    );
    assert!(
        created.stdout.contains(&format!("http://{name}.localhost")),
        "{created}"
    );
    for phase in ["✓ clone", "✓ build", "✓ release"] {
        assert!(created.stdout.contains(phase), "{created}");
    }
    assert!(
        created.stdout.contains("[1/2] COPY busybox"),
        "build lines: {created}"
    );

    let list = cli(vec!["apps", "list", "--json"]).await.ok().json();
    assert_eq!(list["apps"][0]["name"], name.as_str(), "{list}");
    let table = cli(vec!["apps", "list"]).await.ok();
    assert!(table.stdout.starts_with("NAME"), "{table}");
    let info = cli(vec!["apps", "info", "-a", &name, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(info["repo_url"], repo_url.as_str());

    let deployments = cli(vec!["deployments", "list", "-a", &name, "--json"])
        .await
        .ok()
        .json();
    let first = deployments["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = cli(vec!["deployments", "info", &first]).await.ok();
    assert!(shown.stdout.contains("status      running"), "{shown}");
    let build_log = cli(vec!["logs", "--build", &first]).await.ok();
    assert!(
        build_log.stdout.contains("[1/2] COPY busybox"),
        "{build_log}"
    );

    let runtime = cli(vec![
        "logs",
        "-a",
        &name,
        "--tail",
        "10",
        "--process",
        "web",
    ])
    .await;
    assert_eq!(runtime.code, 0, "{runtime}");
    // Following holds the stream open until interrupted.
    let mut following = tokio::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["logs", "-a", &name, "-f"])
        .env("SLIPWAY_URL", &url)
        .env("XDG_CONFIG_HOME", home.path())
        .env("SLIPWAY_TOKEN", &served.token)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        following.try_wait().unwrap().is_none(),
        "logs -f ended early"
    );
    following.kill().await.unwrap();

    cli(vec!["config", "set", "-a", &name, "GREETING=hi", "URL=a=b"])
        .await
        .ok();
    let masked = cli(vec!["config", "get", "-a", &name]).await.ok();
    assert!(masked.stdout.contains("GREETING=********"), "{masked}");
    assert!(!masked.stdout.contains("GREETING=hi"), "{masked}");
    let revealed = cli(vec!["config", "get", "-a", &name, "--reveal", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(revealed["config"], json!({"GREETING": "hi", "URL": "a=b"}));
    cli(vec!["config", "unset", "-a", &name, "URL"]).await.ok();
    let revealed = cli(vec!["config", "get", "-a", &name, "--reveal"])
        .await
        .ok();
    assert_eq!(revealed.stdout, "GREETING=hi\n", "{revealed}");

    let scaled = cli(vec!["scale", "-a", &name, "web=2"]).await.ok();
    assert!(scaled.stdout.contains("web=2"), "{scaled}");
    let info = cli(vec!["apps", "info", "-a", &name, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(info["scale"], json!({"web": 2}), "{info}");

    // A fresh build supersedes the config releases still on their way; then there is
    // an earlier release that served to go back to.
    let deployed = cli(vec!["deploy", "-a", &name]).await.ok();
    assert!(deployed.stdout.contains("Deployed"), "{deployed}");
    let rolled = cli(vec!["rollback", "-a", &name]).await.ok();
    assert!(
        rolled.stdout.contains(&format!("http://{name}.localhost")),
        "{rolled}"
    );
    let kinds = cli(vec!["deployments", "list", "-a", &name, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(kinds["deployments"][0]["kind"], "rollback", "{kinds}");
    assert_eq!(kinds["deployments"][0]["status"], "running", "{kinds}");

    let refused = cli(vec!["apps", "delete", "-a", &name]).await;
    assert_eq!(refused.code, 1, "{refused}");
    assert!(refused.stderr.starts_with("error: refusing"), "{refused}");
    cli(vec!["apps", "delete", "-a", &name, "--yes"]).await.ok();
    worker.shut_down(&name, &config).await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_broken_build_fails_the_deploy_with_its_phase_and_reason(pool: PgPool) {
    let config = config();
    let worker = start_worker(pool.clone(), &config, "cli-test").await;
    let served = serve(pool, config.clone()).await;
    let url = served.url.clone();
    let home = tempfile::tempdir().unwrap();
    login(&served, home.path()).await;
    let repo = TestRepo::with_files(web_app_files_with_dockerfile(
        "never served",
        "FROM scratch\nCOPY no-such-file /x\n",
    ));
    let name = app_name();
    let repo_url = repo.url();
    let created = slipway(
        Some(&url),
        home.path(),
        &["apps", "create", &name, "--repo", &repo_url, "--no-follow"],
    )
    .await
    .ok();
    assert!(created.stdout.contains("queued"), "{created}");

    let failed = slipway(Some(&url), home.path(), &["deploy", "-a", &name]).await;
    assert_ne!(failed.code, 0, "{failed}");
    assert!(
        failed
            .stderr
            .contains("error: deployment failed in build: "),
        "{failed}"
    );
    assert!(failed.stdout.contains("✗ build"), "{failed}");
    // Exactly one error line: the follower's, not a second generic one.
    assert_eq!(failed.stderr.matches("error:").count(), 1, "{failed}");

    slipway(
        Some(&url),
        home.path(),
        &["apps", "delete", "-a", &name, "--yes"],
    )
    .await
    .ok();
    worker.shut_down(&name, &config).await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn slipway_test_follows_a_run_and_fails_when_the_tests_fail(pool: PgPool) {
    let config = config();
    let worker = start_worker(pool.clone(), &config, "cli-test-runs").await;
    let served = serve(pool, config.clone()).await;
    let url = served.url.clone();
    let home = tempfile::tempdir().unwrap();
    login(&served, home.path()).await;
    let junit = r#"<testsuite name="app.Checks" tests="2" failures="1">
  <testcase classname="app.Checks" name="home_page"/>
  <testcase classname="app.Checks" name="login"><failure message="expected 200, got 500"/></testcase>
</testsuite>"#;
    let spec = "[test]\ncommand = \"/bin/busybox cp /www/junit.xml /junit.xml\"\nreport = \"/junit.xml\"\n";
    let mut files = slipway_testkit::web_app_files_with_spec("tested by the cli", Some(spec));
    files.push(("www/junit.xml".into(), junit.as_bytes().to_vec()));
    let repo = TestRepo::with_files(files);
    let name = app_name();
    let repo_url = repo.url();
    slipway(
        Some(&url),
        home.path(),
        &["apps", "create", &name, "--repo", &repo_url, "--no-follow"],
    )
    .await
    .ok();

    let failing = slipway(
        Some(&url),
        home.path(),
        &[
            "test",
            "-a",
            &name,
            "--command",
            "/bin/busybox sh -c 'echo from the tests; exit 2'",
        ],
    )
    .await;
    assert_ne!(failing.code, 0, "{failing}");
    assert!(failing.stdout.contains("from the tests"), "{failing}");
    assert!(failing.stderr.contains("failed (exit code 2)"), "{failing}");

    let passing = slipway(Some(&url), home.path(), &["test", "-a", &name]).await;
    assert_eq!(passing.code, 0, "{passing}");
    assert!(
        passing
            .stdout
            .contains("2 tests: 1 passed, 1 failed, 0 skipped")
            && passing
                .stdout
                .contains("FAILED app.Checks.login: expected 200, got 500")
            && passing.stdout.contains("Tests passed"),
        "{passing}"
    );

    slipway(
        Some(&url),
        home.path(),
        &["apps", "delete", "-a", &name, "--yes"],
    )
    .await
    .ok();
    worker.shut_down(&name, &config).await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn errors_are_the_apis_messages_and_a_down_server_is_unreachable(pool: PgPool) {
    let served = serve(pool, config()).await;
    let url = served.url.clone();
    let home = tempfile::tempdir().unwrap();
    login(&served, home.path()).await;

    let missing = slipway(Some(&url), home.path(), &["apps", "info", "-a", "nope"]).await;
    assert_eq!(missing.code, 1, "{missing}");
    assert_eq!(missing.stderr, "error: app not found\n", "{missing}");
    assert_eq!(missing.stdout, "");

    let invalid = slipway(
        Some(&url),
        home.path(),
        &[
            "apps",
            "create",
            "Bad_Name",
            "--repo",
            "https://example.com/a.git",
        ],
    )
    .await;
    assert_eq!(invalid.code, 1, "{invalid}");
    assert!(invalid.stderr.starts_with("error: "), "{invalid}");
    assert!(invalid.stderr.contains("name"), "{invalid}");
    assert!(
        !invalid.stderr.contains("Api {"),
        "no debug output: {invalid}"
    );

    // Port 1 on loopback: nothing listens there.
    let down = slipway(Some("http://127.0.0.1:1"), home.path(), &["apps", "list"]).await;
    assert_eq!(down.code, 1, "{down}");
    assert!(
        down.stderr
            .starts_with("error: cannot reach Slipway at http://127.0.0.1:1: "),
        "{down}"
    );

    // https is spoken: against this plain-HTTP server the TLS handshake is what fails.
    let https = url.replace("http://", "https://");
    let tls = slipway(Some(&https), home.path(), &["apps", "list"]).await;
    assert_eq!(tls.code, 1, "{tls}");
    assert!(
        tls.stderr
            .starts_with(&format!("error: cannot reach Slipway at {https}: ")),
        "{tls}"
    );

    let usage = slipway(Some(&url), home.path(), &["scale", "-a", "x", "web"]).await;
    assert_eq!(usage.code, 1, "{usage}");
    let clap_usage = slipway(Some(&url), home.path(), &["apps", "info"]).await;
    assert_eq!(clap_usage.code, 2, "{clap_usage}");

    // A wrong token is refused with the API's reason.
    let refused = slipway(
        Some(&url),
        home.path(),
        &["apps", "list", "--token", "slw_not_a_real_token"],
    )
    .await;
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused
            .stderr
            .starts_with("error: the token is invalid or has been revoked"),
        "{refused}"
    );

    // login stored the server and token; later commands use them without SLIPWAY_URL.
    let stored = home.path().join(".config/slipway/config.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&stored).unwrap()).unwrap();
    assert_eq!(saved, json!({"url": url, "token": served.token}));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = slipway(None, home.path(), &["apps", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(listed, json!({"apps": [], "next_cursor": null}));
    // The environment wins over the stored file.
    let env_wins = slipway(Some("http://127.0.0.1:1"), home.path(), &["apps", "list"]).await;
    assert!(env_wins.stderr.contains("127.0.0.1:1"), "{env_wins}");

    let bash = slipway(None, home.path(), &["completions", "bash"])
        .await
        .ok();
    assert!(bash.stdout.contains("slipway"), "{bash}");
}

/// An admin makes a user; the user makes and revokes a token of their own.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn users_and_tokens_through_the_cli(pool: PgPool) {
    let served = serve(pool, config()).await;
    let url = served.url.clone();
    let home = tempfile::tempdir().unwrap();
    login(&served, home.path()).await;

    let me = slipway(Some(&url), home.path(), &["whoami"]).await.ok();
    assert!(me.stdout.trim_end().ends_with(" (admin)"), "{me}");
    let created = slipway(Some(&url), home.path(), &["users", "create", "dora"])
        .await
        .ok();
    let dora = created.stdout.trim().to_owned();
    assert!(dora.starts_with("slw_"), "{created}");
    let listed = slipway(Some(&url), home.path(), &["users", "list", "--json"])
        .await
        .ok()
        .json();
    assert!(
        listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["name"] == "dora" && u["is_admin"] == false),
        "{listed}"
    );

    let as_dora = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(["--token".to_owned(), dora.clone()]);
        all
    };
    let args = as_dora(&["whoami"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(
        slipway(Some(&url), home.path(), &args).await.ok().stdout,
        "dora\n"
    );
    let args = as_dora(&["users", "list"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let denied = slipway(Some(&url), home.path(), &args).await;
    assert_eq!(denied.code, 1, "{denied}");
    assert_eq!(
        denied.stderr, "error: only admins may do this\n",
        "{denied}"
    );

    let args = as_dora(&["tokens", "create", "--name", "ci"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ci = slipway(Some(&url), home.path(), &args).await.ok();
    let ci_token = ci.stdout.trim().to_owned();
    assert!(ci_token.starts_with("slw_"), "{ci}");
    let args = as_dora(&["tokens", "list", "--json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tokens = slipway(Some(&url), home.path(), &args).await.ok();
    assert!(
        !tokens.stdout.contains(&ci_token),
        "token text never listed"
    );
    assert_eq!(tokens.json()["tokens"].as_array().unwrap().len(), 2);

    // A token that expires: the API checks the duration, the table shows when.
    let args = as_dora(&["tokens", "create", "--name", "short", "--expires-in", "2h"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let short = slipway(Some(&url), home.path(), &args).await.ok();
    assert!(short.stdout.trim().starts_with("slw_"), "{short}");
    assert!(short.stderr.contains("it expires at "), "{short}");
    let args = as_dora(&["tokens", "create", "--expires-in", "soon"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bad = slipway(Some(&url), home.path(), &args).await;
    assert_eq!(bad.code, 1, "{bad}");
    assert!(bad.stderr.starts_with("error: expires_in must be"), "{bad}");
    let args = as_dora(&["tokens", "list"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let table = slipway(Some(&url), home.path(), &args).await.ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].contains("EXPIRES"), "{table}");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .map(|l| (*l).to_owned())
            .unwrap_or_else(|| panic!("no {name} row: {table}"))
    };
    assert!(row("ci").contains(" never "), "{table}");
    assert!(!row("short").contains("never"), "{table}");

    let args = as_dora(&["tokens", "revoke", &ci_token[..12]]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    slipway(Some(&url), home.path(), &args).await.ok();
    let revoked = slipway(Some(&url), home.path(), &["whoami", "--token", &ci_token]).await;
    assert_eq!(revoked.code, 1, "{revoked}");
    assert!(revoked.stderr.contains("revoked"), "{revoked}");
}

/// Listings follow `next_cursor` past the server's largest page (1,000), and `--limit`
/// shows the newest N, also across pages.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn listings_follow_cursors_to_the_last_page(pool: PgPool) {
    // bulk-1 is the newest, bulk-1005 the oldest.
    sqlx::query(
        "INSERT INTO apps (id, name, repo_url, created_at)
         SELECT gen_random_uuid(), 'bulk-' || g, 'https://example.com/a/b.git',
                now() - g * interval '1 second'
         FROM generate_series(1, 1005) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    let served = serve(pool, config()).await;
    let home = tempfile::tempdir().unwrap();
    login(&served, home.path()).await;
    let names = |listed: &Value| -> Vec<String> {
        listed["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let bulk = |range: std::ops::RangeInclusive<u32>| -> Vec<String> {
        range.map(|n| format!("bulk-{n}")).collect()
    };

    let all = slipway(None, home.path(), &["apps", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(names(&all), bulk(1..=1005));
    assert_eq!(all["next_cursor"], Value::Null);
    let table = slipway(None, home.path(), &["apps", "list"]).await.ok();
    assert_eq!(
        table.stdout.lines().count(),
        1 + 1005,
        "a header and every app"
    );

    let newest = slipway(
        None,
        home.path(),
        &["apps", "list", "--limit", "3", "--json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(names(&newest), bulk(1..=3));
    assert!(newest["next_cursor"].is_string(), "{newest}");
    let across = slipway(
        None,
        home.path(),
        &["apps", "list", "--limit", "1002", "--json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(names(&across), bulk(1..=1002));

    let zero = slipway(None, home.path(), &["apps", "list", "--limit", "0"]).await;
    assert_eq!(zero.code, 2, "a malformed command line: {zero}");
}
