//! The dashboard in a real browser: Debian's chromium, headless, driven over WebDriver by
//! chromedriver (both installed by `scripts/deps.sh`), against the real API and a real
//! worker on the Docker Engine. It opens the app list, follows the link to an app the
//! test deployed, clicks Redeploy and watches the new deployment take over, and saves
//! screenshots under `target/tmp/dashboard/`.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use slipway_harness::{app_name, config, serve, start_worker};
use slipway_store::PgPool;
use slipway_testkit::{TestRepo, web_app_files};

/// The first of these on PATH: Debian calls the browser `chromium`.
fn find_program(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "none of {names:?} is on PATH: the browser test needs Debian's chromium and \
                 chromium-driver (scripts/deps.sh installs them)"
            )
        })
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    _process: tokio::process::Child,
    url: String,
}

async fn chromedriver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let process = tokio::process::Command::new(find_program(&["chromedriver"]))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("chromedriver to answer", Duration::from_secs(20), || {
        let request = http.get(format!("{url}/status")).send();
        async move { request.await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    Driver {
        _process: process,
        url,
    }
}

async fn browser(driver: &Driver) -> Client {
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": find_program(&["chromium", "chromium-browser", "google-chrome"]),
            // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1200"]
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Polls `check` until it gives a value, failing the test after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An attribute of the first element matching `css`, if there is one now. The page's
/// script replaces the live part every refresh, so elements are looked up afresh.
async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.ok()?;
    element.attr(name).await.ok().flatten()
}

async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn sign_in(client: &Client, token: &str) {
    let field = client.find(Locator::Id("token")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(token).await.unwrap();
    client
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

async fn api(
    http: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: &str,
    body: Value,
) -> Value {
    let response = http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

async fn wait_until_finished(http: &reqwest::Client, token: &str, base: &str, id: &str) -> Value {
    eventually(
        &format!("deployment {id} to finish"),
        Duration::from_secs(180),
        || async {
            let d = http
                .get(format!("{base}/api/v1/deployments/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            let unfinished = ["pending", "cloning", "building", "testing", "releasing"];
            (!unfinished.contains(&d["status"].as_str()?)).then_some(d)
        },
    )
    .await
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_dashboard_shows_an_app_and_redeploys_it_in_a_real_browser(pool: PgPool) {
    let config = config();
    let worker = start_worker(pool.clone(), &config, "dashboard-test").await;
    let served = serve(pool, config.clone()).await;
    let (base, token) = (served.url.as_str(), served.token.as_str());
    let http = reqwest::Client::new();

    let repo = TestRepo::with_files(web_app_files("hello from the dashboard test"));
    let name = app_name();
    let created = api(
        &http,
        token,
        reqwest::Method::POST,
        &format!("{base}/api/v1/apps"),
        json!({"name": name, "repo_url": repo.url()}),
    )
    .await;
    let first = created["deployment"]["id"].as_str().unwrap().to_owned();
    // Set while the first build runs: the build picks it up when it releases.
    api(
        &http,
        token,
        reqwest::Method::PATCH,
        &format!("{base}/api/v1/apps/{name}/config"),
        json!({"GREETING": "s3cret-greeting"}),
    )
    .await;
    let deployed = wait_until_finished(&http, token, base, &first).await;
    assert_eq!(deployed["status"], "running", "{deployed}");

    let driver = chromedriver().await;
    let client = browser(&driver).await;

    // Signed out, the dashboard sends the browser to sign in; a wrong token is refused.
    client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/login");
    // A click does not wait for the page it leads to: each step waits for its page.
    sign_in(&client, "slw_wrong").await;
    eventually("the sign-in error", Duration::from_secs(20), || async {
        text(&client, "#login-error")
            .await
            .contains("not valid")
            .then_some(())
    })
    .await;
    sign_in(&client, token).await;

    // The app list: the app, its status, its URL.
    let row = format!("#apps tr[data-app='{name}']");
    eventually("the app list", Duration::from_secs(20), || async {
        let path = client.current_url().await.ok()?.path().to_owned();
        let listed = client.find(Locator::Css(&row)).await.is_ok();
        (path == "/" && listed).then_some(())
    })
    .await;
    assert_eq!(
        attr(&client, &format!("{row} .status"), "data-status").await,
        Some("running".to_owned())
    );
    assert!(
        text(&client, &row)
            .await
            .contains(&format!("http://{name}.localhost")),
        "{}",
        text(&client, &row).await
    );
    screenshot(&client, "apps.png").await;

    // The app page, reached by its link.
    client
        .find(Locator::Css(&format!("{row} a[href='/apps/{name}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let current = format!("#timeline .deployment[data-id='{first}']");
    eventually("the app page", Duration::from_secs(20), || async {
        let status = attr(&client, &current, "data-status").await?;
        (status == "running").then_some(())
    })
    .await;
    assert!(
        attr(&client, &current, "data-current").await.is_some(),
        "the running release is marked as serving"
    );
    let phases = text(&client, &format!("{current} .phases")).await;
    for phase in ["clone", "build", "release"] {
        assert!(phases.contains(phase), "phases: {phases}");
    }
    assert!(text(&client, "#config").await.contains("GREETING"));
    let source = client.source().await.unwrap();
    assert!(
        !source.contains("s3cret-greeting"),
        "config values must stay masked on the dashboard"
    );
    assert_eq!(
        text(&client, "#processes tr[data-process='web']")
            .await
            .split_whitespace()
            .take(4)
            .collect::<Vec<_>>(),
        ["web", "web", "1", "1"],
        "process, routed tag, wanted, running"
    );
    // The newest deployment's build log streams into the page over SSE.
    let log = eventually(
        "the build log to stream in",
        Duration::from_secs(20),
        || async {
            let log = text(&client, "#log").await;
            log.contains("-- end of log --").then_some(log)
        },
    )
    .await;
    assert!(log.contains("Deployment is running"), "log panel: {log}");

    // Redeploy, and watch the new deployment go through to serving.
    client
        .find(Locator::Id("redeploy"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = eventually("the redeploy notice", Duration::from_secs(20), || async {
        let notice = text(&client, "#notice").await;
        notice.contains(" is ").then_some(notice)
    })
    .await;
    let second = notice
        .split_whitespace()
        .find(|w| w.len() == 36 && w.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no deployment id in the notice: {notice}"))
        .to_owned();
    assert_ne!(second, first);
    let newest = format!("#timeline .deployment[data-id='{second}']");
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = attr(&client, &newest, "data-status").await {
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            let serving = attr(&client, &newest, "data-current").await.is_some();
            if status == "running" && serving {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redeploy was not shown serving within 120s; statuses seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("statuses the page showed for the redeploy: {seen:?}");
    eventually(
        "the first release to be shown superseded",
        Duration::from_secs(10),
        || async {
            let status = attr(&client, &current, "data-status").await?;
            (status == "superseded").then_some(())
        },
    )
    .await;
    assert!(
        text(&client, "#log-title").await.contains(&second),
        "the log panel follows the new deployment"
    );
    let shot = screenshot(&client, "app-after-redeploy.png").await;
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "an empty page?"
    );

    // An unknown app is a readable 404 page, not JSON.
    client
        .goto(&format!("{base}/apps/no-such-app"))
        .await
        .unwrap();
    assert!(text(&client, "h1").await.starts_with("404"));

    client.close().await.unwrap();
    let response = http
        .delete(format!("{base}/api/v1/apps/{name}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
    worker.shut_down(&name, &config).await;
}
