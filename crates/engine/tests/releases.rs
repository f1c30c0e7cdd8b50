//! Releases on the real Docker Engine and Postgres: the app spec, processes and limits,
//! health-gated releases, config vars, rollbacks, image reuse and pruning, scaling,
//! cancelling, the watcher and start-up reconciliation.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_core::{DeploymentStatus, Kind, Phase};
use slipway_store::apps;
use slipway_store::config_vars::Applied;
use slipway_store::deployments::{self, CancelOutcome};
use slipway_store::{PgPool, containers, events};
use slipway_testkit::{
    TestRepo, web_app_files, web_app_files_with_dockerfile, web_app_files_with_spec,
};

mod support;

use support::{Env, set_config};

/// busybox httpd on 8080 with a health page, two web replicas and a worker process.
const TWO_PROCESSES: &str = r#"
port = 8080

[healthcheck]
path = "/health.html"
retries = 2
interval = "100ms"

[processes.web]
command = "/bin/busybox httpd -f -p 8080 -h /www"
replicas = 2

[processes.worker]
command = ["/bin/busybox", "sleep", "3600"]

[resources.web]
memory = "64m"
cpus = 0.5
"#;

fn inspect(name: &str, format: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker inspect {name}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn get(url: &str) -> String {
    slipway_testkit::http_get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The page of the app's running release, through its first web container.
async fn web_url(env: &Env, deployment: uuid::Uuid, path: &str) -> String {
    let containers = containers::list(&env.pool, deployment).await.unwrap();
    let web = containers
        .iter()
        .find(|c| c.process == "web")
        .expect("a web container");
    format!("http://{}:{}{path}", web.ip.clone().unwrap(), web.port)
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_spec_file_sets_processes_replicas_health_check_and_limits(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let mut files = web_app_files_with_spec("spec app", Some(TWO_PROCESSES));
    files.push(("www/health.html".into(), b"ok".to_vec()));
    let repo = TestRepo::with_files(files);
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let done = env.wait_running(first.id).await;
    assert_eq!(done.port, Some(8080), "the spec's port");
    let containers = containers::list(&env.pool, first.id).await.unwrap();
    let shape: Vec<(String, i32)> = containers
        .iter()
        .map(|c| (c.process.clone(), c.replica))
        .collect();
    assert_eq!(
        shape,
        [("web".into(), 1), ("web".into(), 2), ("worker".into(), 1)]
    );
    for c in &containers {
        let labels = inspect(&c.name, "{{json .Config.Labels}}");
        let routed = labels.contains(&format!("traefik.http.routers.slipway-{}.rule", app.name));
        assert_eq!(routed, c.process == "web", "only web is routed: {labels}");
    }
    let web = &containers[0];
    assert_eq!(
        inspect(&web.name, "{{.HostConfig.Memory}}"),
        (64 * 1024 * 1024).to_string()
    );
    assert_eq!(inspect(&web.name, "{{.HostConfig.NanoCpus}}"), "500000000");
    let worker = &containers[2];
    assert_eq!(
        inspect(&worker.name, "{{json .Config.Cmd}}"),
        r#"["/bin/busybox","sleep","3600"]"#
    );
    assert_eq!(
        inspect(&worker.name, "{{.HostConfig.Memory}}"),
        env.config.default_memory.map_or(0, |m| m).to_string(),
        "processes without [resources] get the default limit"
    );
    // Log lines are written in batches, a moment after the status: wait for the last.
    env.wait_for_log(first.id, "Deployment is running").await;
    let log = env.log_text(first.id).await;
    assert!(log.contains("Read slipway.toml"), "{log}");
    // Each web replica passed the check twice in a row.
    assert_eq!(log.matches("is healthy (HTTP 200)").count(), 2, "{log}");
    assert!(
        get(&web_url(&env, first.id, "/").await)
            .await
            .contains("spec app")
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_invalid_spec_fails_in_config_naming_the_key_and_line(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let spec = "port = 8080\n\n[processes.web]\nreplicas = \"two\"\n";
    let repo = TestRepo::with_files(web_app_files_with_spec("x", Some(spec)));
    env.start_worker("w1");
    let (_, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Config));
    let reason = done.reason.unwrap();
    assert!(reason.starts_with("slipway.toml: "), "{reason}");
    assert!(reason.contains("processes.web.replicas"), "{reason}");
    assert!(reason.contains("line 4"), "{reason}");
    assert!(env.running_containers(&env.apps[0]).await.is_empty());
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_failing_health_check_leaves_the_old_release_serving_and_says_why(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("version one"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    let old_url = web_url(&env, first.id, "/").await;

    // busybox answers 404 for a missing path; the spec accepts only 200.
    let spec = r#"
[healthcheck]
path = "/missing"
status = "200"
timeout = "3s"

[processes.web]
command = ["/bin/busybox", "sh", "-c", "echo v2-starting; exec /bin/busybox httpd -f -p 80 -h /www"]
"#;
    repo.commit_owned("v2", &web_app_files_with_spec("version two", Some(spec)));
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    let done = env.wait_finished(second.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Release));
    let reason = done.reason.unwrap();
    assert!(reason.contains("health check failed"), "{reason}");
    assert!(
        reason.contains("HTTP 404"),
        "the last response is in the reason: {reason}"
    );
    env.wait_for_log(second.id, "Deployment failed").await;
    let log = env.log_text(second.id).await;
    assert!(
        log.contains("[app] v2-starting"),
        "the container's own output: {log}"
    );

    assert!(
        get(&old_url).await.contains("version one"),
        "the old release still serves"
    );
    let old = deployments::get(&env.pool, first.id).await.unwrap();
    assert_eq!(old.status, DeploymentStatus::Running);
    assert!(
        containers::list(&env.pool, second.id)
            .await
            .unwrap()
            .is_empty()
    );
    let names = env.running_containers(&app.name).await;
    assert_eq!(
        names.len(),
        1,
        "only the old release's container: {names:?}"
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_config_change_releases_the_same_image_with_the_new_var_sealed_at_rest(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files_with_spec("config app", None));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    let env_page = get(&web_url(&env, first.id, "/cgi-bin/env").await).await;
    assert!(env_page.contains("SLIPWAY_PROCESS=web"), "{env_page}");
    assert!(!env_page.contains("GREETING="), "{env_page}");

    let Applied::Release(release) =
        set_config(&env, &app, &[("GREETING", Some("hello-from-config"))]).await
    else {
        panic!("a config change of a running app queues a release");
    };
    let release = env.wait_running(release.id).await;
    assert_eq!(release.kind, Kind::Config);
    assert_eq!(release.image, first.image, "no rebuild: the same image");
    assert!(!env.log_text(release.id).await.contains("[build]"));
    let env_page = get(&web_url(&env, release.id, "/cgi-bin/env").await).await;
    assert!(
        env_page.contains("GREETING=hello-from-config"),
        "{env_page}"
    );
    assert_eq!(
        deployments::get(&env.pool, first.id).await.unwrap().status,
        DeploymentStatus::Superseded
    );

    // Postgres holds ciphertext only: neither the var nor the release's snapshot has it.
    let stored: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT sealed FROM config_vars")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!String::from_utf8_lossy(&stored[0].0).contains("hello-from-config"));
    let dump: String = sqlx::query_scalar(
        "SELECT string_agg(coalesce(config_snapshot::text, ''), ' ') FROM deployments",
    )
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert!(dump.contains("GREETING"), "{dump}");
    assert!(!dump.contains("hello-from-config"), "{dump}");

    // Unsetting releases again without it.
    let Applied::Release(third) = set_config(&env, &app, &[("GREETING", None)]).await else {
        panic!("unset queues a release");
    };
    env.wait_running(third.id).await;
    let env_page = get(&web_url(&env, third.id, "/cgi-bin/env").await).await;
    assert!(!env_page.contains("GREETING="), "{env_page}");
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn rollback_serves_the_previous_release_again_without_a_build(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files_with_spec("page one", None));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    set_config(&env, &app, &[("MARK", Some("one"))]).await;
    // The config release; wait for it, then deploy a new commit over it.
    let one = deployments::current_release(&env.pool, app.id)
        .await
        .unwrap()
        .unwrap();
    let one = if one.kind == Kind::Config {
        one
    } else {
        let first_ten = slipway_store::page::PageRequest::first(10).unwrap();
        let list = deployments::list_for_app(&env.pool, app.id, &first_ten)
            .await
            .unwrap();
        list.items
            .into_iter()
            .find(|d| d.kind == Kind::Config)
            .unwrap()
    };
    let one = env.wait_running(one.id).await;
    repo.commit_owned("v2", &web_app_files_with_spec("page two", None));
    let two = deployments::create(&env.pool, app.id, None).await.unwrap();
    let two = env.wait_running(two.id).await;
    assert!(
        get(&web_url(&env, two.id, "/").await)
            .await
            .contains("page two")
    );

    let back = deployments::rollback(&env.pool, app.id, None)
        .await
        .unwrap();
    assert_eq!(back.kind, Kind::Rollback);
    assert_eq!(back.source_deployment_id, Some(one.id));
    let back = env.wait_running(back.id).await;
    assert_eq!(back.image, one.image);
    assert!(
        get(&web_url(&env, back.id, "/").await)
            .await
            .contains("page one")
    );
    let env_page = get(&web_url(&env, back.id, "/cgi-bin/env").await).await;
    assert!(
        env_page.contains("MARK=one"),
        "the release's config came back too: {env_page}"
    );
    assert!(!env.log_text(back.id).await.contains("[build]"));
    assert_eq!(
        deployments::get(&env.pool, two.id).await.unwrap().status,
        DeploymentStatus::RolledBack
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn redeploying_a_commit_reuses_its_image_and_old_images_are_pruned(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.keep_images = 1).await;
    let repo = TestRepo::with_files(web_app_files("v1"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    let again = deployments::create(&env.pool, app.id, None).await.unwrap();
    let again = env.wait_running(again.id).await;
    assert_eq!(again.image, first.image);
    env.wait_for_log(again.id, "Deployment is running").await;
    let log = env.log_text(again.id).await;
    assert!(log.contains("no clone, no build"), "{log}");
    assert!(!log.contains("[build]") && !log.contains("[git]"), "{log}");
    assert_eq!(again.commit_sha, first.commit_sha);
    let statuses: Vec<_> = events::of_deployment(&env.pool, again.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.status)
        .collect();
    use DeploymentStatus::*;
    assert_eq!(statuses, [Pending, Cloning, Releasing, Running]);
    // An abbreviated sha cannot be resolved without fetching: the commit is fetched, and
    // the build is still skipped because its image is here.
    let short_sha = &first.commit_sha.as_deref().unwrap()[..8];
    let by_sha = deployments::create(&env.pool, app.id, Some(short_sha))
        .await
        .unwrap();
    let by_sha = env.wait_running(by_sha.id).await;
    assert_eq!(by_sha.image, first.image);
    env.wait_for_log(by_sha.id, "Deployment is running").await;
    let log = env.log_text(by_sha.id).await;
    assert!(
        log.contains("[git]") && log.contains("skipping the build"),
        "{log}"
    );
    assert!(!log.contains("[build]"), "{log}");

    // Another installation on this Docker host with an app of the same name.
    let foreign =
        support::build_foreign_image(&env.docker, &app.name, "another-installation").await;
    repo.commit_owned("v2", &web_app_files("v2"));
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    let second = env.wait_running(second.id).await;
    assert_ne!(second.image, first.image);
    // Pruning follows the promotion: wait for it.
    env.wait_for_log(second.id, "Removed old image").await;
    let tags: Vec<String> = env
        .docker
        .list_images_of(&format!("slipway-{}", app.name))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|i| i.tags)
        .collect();
    assert_eq!(
        tags.iter().filter(|t| **t != foreign).collect::<Vec<_>>(),
        [second.image.as_ref().unwrap()],
        "SLIPWAY_KEEP_IMAGES=1 keeps the current image only"
    );
    assert!(
        tags.contains(&foreign),
        "another installation's image was pruned: {tags:?}"
    );
    env.docker.remove_image(&foreign).await.unwrap();
    // The pruned image cannot be rolled back to; the failure says why.
    let back = deployments::rollback(&env.pool, app.id, Some(first.id))
        .await
        .unwrap();
    let back = env.wait_finished(back.id).await;
    assert_eq!(back.status, DeploymentStatus::Failed);
    assert!(back.reason.unwrap().contains("SLIPWAY_KEEP_IMAGES"));
    assert_eq!(
        deployments::get(&env.pool, second.id).await.unwrap().status,
        DeploymentStatus::Running,
        "a failed rollback changes nothing"
    );
    env.teardown().await;
}

async fn wait_for_replicas(env: &Env, deployment: uuid::Uuid, process: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = containers::list(&env.pool, deployment).await.unwrap();
        let count = rows.iter().filter(|c| c.process == process).count();
        if count == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{process} has {count} replicas, want {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn scaling_to_three_and_back_to_one(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("scaled"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    apps::set_scale(&env.pool, app.id, &BTreeMap::from([("web".to_owned(), 3)]))
        .await
        .unwrap();
    wait_for_replicas(&env, first.id, "web", 3).await;
    assert_eq!(env.running_containers(&app.name).await.len(), 3);
    for c in containers::list(&env.pool, first.id).await.unwrap() {
        let page = get(&format!("http://{}:{}/", c.ip.unwrap(), c.port)).await;
        assert!(page.contains("scaled"), "replica {} serves", c.replica);
    }
    apps::set_scale(&env.pool, app.id, &BTreeMap::from([("web".to_owned(), 1)]))
        .await
        .unwrap();
    wait_for_replicas(&env, first.id, "web", 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.running_containers(&app.name).await.len() != 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = events::of_deployment(&env.pool, first.id).await.unwrap();
    assert!(
        events.iter().any(|e| e
            .message
            .as_deref()
            .is_some_and(|m| m.contains("reconciled to web=3"))),
        "{events:?}"
    );
    // The next release starts with the app's scale.
    let next = deployments::create(&env.pool, app.id, None).await.unwrap();
    env.wait_running(next.id).await;
    assert_eq!(containers::list(&env.pool, next.id).await.unwrap().len(), 1);
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn cancelling_an_in_flight_build_stops_it_and_removes_its_leftovers(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let slow =
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"60\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("slow", slow));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_for_log(first.id, "[2/2] RUN").await;
    let started = tokio::time::Instant::now();
    match deployments::cancel(&env.pool, first.id).await.unwrap() {
        CancelOutcome::Cancelled(row) => assert_eq!(row.status, DeploymentStatus::Cancelled),
        other => panic!("{other:?}"),
    }
    env.wait_for_log(first.id, "Stopped: the deployment is cancelled")
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped promptly"
    );
    let row = deployments::get(&env.pool, first.id).await.unwrap();
    assert_eq!(row.status, DeploymentStatus::Cancelled);
    assert_eq!(row.failed_phase, Some(Phase::Build));
    assert!(env.running_containers(&app.name).await.is_empty());
    let images = env
        .docker
        .list_images_of(&format!("slipway-{}", app.name))
        .await
        .unwrap();
    assert!(images.is_empty(), "{images:?}");
    // A finished deployment cannot be cancelled again.
    assert!(matches!(
        deployments::cancel(&env.pool, first.id).await.unwrap(),
        CancelOutcome::AlreadyFinished(DeploymentStatus::Cancelled)
    ));
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn replicas_killed_or_removed_outside_slipway_come_back_and_the_release_keeps_running(
    pool: PgPool,
) {
    let mut env = Env::new(pool).await;
    let spec = "[processes.web]\nreplicas = 2\n";
    let repo = TestRepo::with_files(web_app_files_with_spec("converges", Some(spec)));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    let before = containers::list(&env.pool, first.id).await.unwrap();
    assert_eq!(before.len(), 2, "{before:?}");
    let (killed, removed) = (&before[0], &before[1]);
    // Docker restarts neither: a killed container is "stopped by the user", a removed
    // one is gone. Only the reconciler can bring them back.
    for args in [vec!["kill", &killed.name], vec!["rm", "-f", &removed.name]] {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    // Well before the periodic resync (1 minute): the deaths themselves bring them back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let after = loop {
        let rows = containers::list(&env.pool, first.id).await.unwrap();
        let running = env.running_containers(&app.name).await;
        let recreated = rows.len() == 2
            && rows.iter().all(|r| {
                running.contains(&r.name)
                    && before
                        .iter()
                        .all(|b| b.name != r.name || b.container_id != r.container_id)
            });
        if recreated {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not recreated: {rows:?}, running {running:?}\n{:?}",
            events::of_deployment(&env.pool, first.id).await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for replica in &after {
        let ip = replica
            .ip
            .clone()
            .expect("recreated replica has an address");
        let page = slipway_testkit::http_get(&format!("http://{ip}:{}/", replica.port))
            .await
            .expect("recreated replica serves");
        assert!(page.contains("converges"), "{page}");
    }
    let row = deployments::get(&env.pool, first.id).await.unwrap();
    assert_eq!(row.status, DeploymentStatus::Running, "{:?}", row.reason);
    let events: Vec<String> = events::of_deployment(&env.pool, first.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    let has = |needle: &str| events.iter().any(|m| m.contains(needle));
    assert!(
        has(&format!("{} (web) exited with 137", killed.name)) && has("was not restarted"),
        "the kill is in the history: {events:?}"
    );
    assert!(
        has(&format!("{} (web) exited with 137", removed.name))
            && has("was removed outside Slipway"),
        "the removal is in the history: {events:?}"
    );
    assert!(
        has("reconciled to web=2: started"),
        "the recreation is in the history: {events:?}"
    );
    env.teardown().await;
}

async fn wait_for_status(
    env: &Env,
    id: uuid::Uuid,
    status: DeploymentStatus,
) -> deployments::DeploymentRow {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row = deployments::get(&env.pool, id).await.unwrap();
        if row.status == status {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} ({:?})",
            row.status,
            row.reason
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_process_that_keeps_crashing_is_restarted_and_recreated_then_the_release_is_crashed(
    pool: PgPool,
) {
    let mut env = Env::with(pool, |c| c.restart_max_retries = 1).await;
    let spec = r#"
[processes.worker]
command = ["/bin/busybox", "sh", "-c", "sleep 2; exit 3"]
"#;
    let repo = TestRepo::with_files(web_app_files_with_spec("flaky", Some(spec)));
    env.start_worker("w1");
    let (_, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    let row = wait_for_status(&env, first.id, DeploymentStatus::Crashed).await;
    let reason = row.reason.unwrap();
    assert!(
        reason.contains("(worker) exited with 3")
            && reason.contains("died 5 times within 10 minutes"),
        "{reason}"
    );
    let events = events::of_deployment(&env.pool, first.id).await.unwrap();
    assert!(
        events.iter().any(|e| e
            .message
            .as_deref()
            .is_some_and(|m| m.contains("restarted in place (restart 1 of 1)"))),
        "the first death was recorded with its restart: {events:?}"
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn start_up_reconciliation_removes_orphans_and_recreates_missing_replicas(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("reconciled"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    env.stop_workers().await;

    // An orphan: a Slipway container whose deployment the database does not know.
    let orphan = format!("{}-orphan", app.name);
    let out = std::process::Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &orphan,
            "--network",
            &env.config.network,
        ])
        .args([
            "--label",
            "slipway.managed=true",
            "--label",
            &format!("slipway.app={}", app.name),
        ])
        .args([
            "--label",
            &format!("slipway.deployment.id={}", uuid::Uuid::now_v7()),
        ])
        .args([first.image.as_deref().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // A missing replica: the running release's container removed behind Slipway's back.
    let replica = containers::list(&env.pool, first.id)
        .await
        .unwrap()
        .remove(0);
    let out = std::process::Command::new("docker")
        .args(["rm", "-f", &replica.name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    env.start_worker("w2");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let running = env.running_containers(&app.name).await;
        if running == [replica.name.clone()] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {running:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = get(&web_url(&env, first.id, "/").await).await;
    assert!(page.contains("reconciled"));
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_one_off_run_reports_its_output_and_exit_and_leaves_nothing(pool: PgPool) {
    use slipway_engine::runtime::docker::DockerRuntime;
    use slipway_engine::runtime::{Environment, OneOffSpec, Runtime};
    use std::sync::Mutex;

    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("one-off"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    let runtime = DockerRuntime::new(
        env.docker.clone(),
        env.config.clone(),
        reqwest::Client::new(),
    );
    let spec = |name: &str, script: &str, timeout: Duration| OneOffSpec {
        env: Environment {
            app_id: app.id,
            app: app.name.clone(),
        },
        release: first.id,
        name: format!("{}-{name}", app.name),
        purpose: "test".into(),
        image: first.image.clone().unwrap(),
        port: 80,
        command: Some(vec![
            "/bin/busybox".into(),
            "sh".into(),
            "-c".into(),
            script.into(),
        ]),
        vars: BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]),
        memory: None,
        cpus: None,
        timeout,
        collect: None,
    };
    let never = tokio_util::sync::CancellationToken::new();
    let seen = Mutex::new(Vec::new());
    let collect = |line: slipway_engine::runtime::LogLine| seen.lock().unwrap().push(line.text);
    let done = runtime
        .run_to_completion(
            &spec(
                "ok",
                "echo $GREETING; echo oops >&2; exit 3",
                Duration::from_secs(30),
            ),
            &collect,
            &never,
        )
        .await
        .unwrap();
    assert_eq!((done.exit_code, done.timed_out), (Some(3), false));
    // stdout and stderr are separate pipes: their relative order is not kept.
    let mut lines = seen.lock().unwrap().clone();
    lines.sort();
    assert_eq!(lines, ["hello", "oops"]);

    let slow = runtime
        .run_to_completion(
            &spec("slow", "echo started; sleep 60", Duration::from_secs(2)),
            &collect,
            &never,
        )
        .await
        .unwrap();
    assert!(slow.timed_out && slow.exit_code.is_none(), "{slow:?}");
    let left = env
        .docker
        .list_containers(&[("slipway.process", "test")])
        .await
        .unwrap();
    assert!(
        left.iter().all(|c| !c.name.starts_with(&app.name)),
        "one-off containers left: {left:?}"
    );
    env.teardown().await;
}
