//! The pipeline end to end on the real Docker Engine and a real Postgres: fixture git
//! repositories built `FROM scratch` with a static busybox serving HTTP.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use slipway_core::{BuilderChoice, DeploymentStatus, Phase};
use slipway_store::PgPool;
use slipway_store::apps::{self, Owner};
use slipway_store::queue::{self, Claim};
use slipway_store::{containers, deployments, events};
use slipway_testkit::{TestRepo, WEB_DOCKERFILE, web_app_files, web_app_files_with_dockerfile};
use uuid::Uuid;

mod support;

use support::{Env, NEVER_LISTENS, set_config};

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_app_goes_from_queued_to_serving_its_page(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("hello from slipway"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(
        done.status,
        DeploymentStatus::Running,
        "{:?}\n{}",
        done.reason,
        env.log_text(first.id).await
    );
    assert_eq!(done.commit_sha.as_deref(), Some(repo.head().as_str()));
    assert_eq!(done.commit_message.as_deref(), Some("initial"));
    // Tagged by commit (and a digest of the Dockerfile path and build args), so the
    // same commit can reuse it.
    assert_eq!(
        done.image.as_deref().unwrap().rsplit_once('-').unwrap().0,
        format!("slipway-{}:{}", app.name, &repo.head()[..12])
    );
    assert_eq!(done.port, Some(80), "no EXPOSE and no port: 80");
    assert!(env.page(first.id).await.contains("hello from slipway"));
    let log = env.log_text(first.id).await;
    assert!(
        log.contains("with BuildKit") && log.contains("[build] [1/2] COPY busybox /bin/busybox"),
        "build output is in the log:\n{log}"
    );
    assert!(!log.contains("moby.buildkit"), "{log}");
    assert!(log.contains("[git] "), "git progress is in the log:\n{log}");
    let events = events::of_deployment(&env.pool, first.id).await.unwrap();
    let statuses: Vec<_> = events.iter().map(|e| e.status).collect();
    use DeploymentStatus::*;
    assert_eq!(statuses, [Pending, Cloning, Building, Releasing, Running]);
    let name = slipway_core::labels::container_name(&app.name, &first.id.to_string(), "web", 1);
    assert_eq!(env.running_containers(&app.name).await, [name]);
    let container = &env
        .docker
        .list_containers(&[("slipway.app", app.name.as_str())])
        .await
        .unwrap()[0];
    let router = format!("traefik.http.routers.slipway-{}.rule", app.name);
    assert_eq!(
        container.labels[&router],
        format!("Host(`{}.localhost`)", app.name)
    );
    assert_eq!(container.labels["traefik.enable"], "true");
    // Traefik reaches the app on the app's own network, the only one it is on.
    let app_network = slipway_core::labels::app_network(&env.config.network, &app.name);
    assert_eq!(container.labels["traefik.docker.network"], app_network);
    assert_eq!(container.labels["slipway.network"], env.config.network);
    assert_eq!(
        container.labels["slipway.deployment.id"],
        first.id.to_string()
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_broken_dockerfile_fails_in_build_with_the_builders_words(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let broken = "FROM scratch\nCOPY no-such-file /x\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("x", broken));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Build));
    let reason = done.reason.unwrap();
    assert!(reason.contains("no-such-file"), "{reason}");
    assert!(env.log_text(first.id).await.contains("no-such-file"));
    assert!(env.running_containers(&app.name).await.is_empty());
    env.teardown().await;
}

/// BuildKit's own features (`RUN --mount`) work, the log reads like a build log, and
/// the image carries the installation's and the app's labels.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_dockerfile_with_a_cache_mount_builds_with_buildkit_and_serves(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n\
         RUN --mount=type=cache,target=/cache [\"/bin/busybox\",\"sh\",\"-c\",\"echo said-{}; /bin/busybox touch /cache/x\"]\n\
         CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n",
        Uuid::new_v4().simple()
    );
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("cached", &dockerfile));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    let log = env.log_text(first.id).await;
    assert_eq!(
        done.status,
        DeploymentStatus::Running,
        "{:?}\n{log}",
        done.reason
    );
    assert!(env.page(first.id).await.contains("cached"));
    assert!(log.contains("with BuildKit"), "{log}");
    // The step as it starts (BuildKit names the stage `stage-0` in some Dockerfiles).
    assert!(
        log.contains("3/3] RUN --mount=type=cache,target=/cache"),
        "{log}"
    );
    assert!(log.contains("[build] said-"), "the step's output:\n{log}");
    assert!(log.contains(": done in "), "step durations:\n{log}");
    assert!(
        !log.contains("moby.buildkit") && !log.contains("aux"),
        "{log}"
    );
    let labelled = env.labelled_images(&app.name).await;
    assert_eq!(labelled.len(), 1, "{labelled:#?}");
    assert_eq!(labelled[0].tags, [done.image.clone().unwrap()]);
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_failing_run_step_fails_the_build_naming_the_step_and_its_output(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let failing = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo 'cannot frobnicate {}'; exit 3\"]\n",
        Uuid::new_v4().simple()
    );
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("x", &failing));
    env.start_worker("w1");
    let (_, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Build));
    let reason = done.reason.unwrap();
    assert!(reason.contains("step [2/2] RUN"), "{reason}");
    assert!(reason.contains("cannot frobnicate"), "{reason}");
    assert!(reason.contains("exit code: 3"), "{reason}");
    let log = env.log_text(first.id).await;
    assert!(log.contains("[build] cannot frobnicate"), "{log}");
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn build_target_builds_the_named_stage(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let stages = "FROM scratch AS base\nCOPY busybox /bin/busybox\n\
        FROM base AS site\nCOPY www /www\n\
        CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n\
        FROM base AS broken\nRUN [\"/bin/busybox\",\"false\"]\n";
    let mut files = web_app_files_with_dockerfile("the site stage", stages);
    files.push((
        "slipway.toml".into(),
        b"[build]\ntarget = \"site\"\n".to_vec(),
    ));
    let repo = TestRepo::with_files(files);
    env.start_worker("w1");
    let (_, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(
        done.status,
        DeploymentStatus::Running,
        "{:?}\n{}",
        done.reason,
        env.log_text(first.id).await
    );
    assert!(env.page(first.id).await.contains("the site stage"));
    env.teardown().await;
}

/// The site serves `/secret-length`, written by a step that fails unless the mounted
/// secret hashes to `digest`.
fn secret_reading_app(digest: &str) -> Vec<(String, Vec<u8>)> {
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n\
         RUN --mount=type=secret,id=NPM_TOKEN [\"/bin/busybox\",\"sh\",\"-c\",\
         \"/bin/busybox sha256sum /run/secrets/NPM_TOKEN | /bin/busybox grep -q ^{digest} \
         && /bin/busybox wc -c < /run/secrets/NPM_TOKEN > /www/secret-length\"]\n\
         CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n"
    );
    let mut files = web_app_files_with_dockerfile("secret app", &dockerfile);
    files.push((
        "slipway.toml".into(),
        b"[build]\nsecrets = [\"NPM_TOKEN\"]\n".to_vec(),
    ));
    files
}

/// The docker CLI's view of an image: every layer's command, and `docker save`'s bytes.
fn history_and_saved(image: &str) -> (String, Vec<u8>) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "docker {args:?}: {out:?}");
        out.stdout
    };
    let history = run(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", image]);
    (
        String::from_utf8_lossy(&history).into_owned(),
        run(&["save", image]),
    )
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_config_var_listed_in_build_secrets_reaches_the_build_and_no_image_or_log(pool: PgPool) {
    use sha2::Digest;
    let mut env = Env::new(pool).await;
    let value = format!("npm-{}", Uuid::new_v4().simple());
    let digest = format!("{:x}", sha2::Sha256::digest(value.as_bytes()));
    let repo = TestRepo::with_files(secret_reading_app(&digest));
    let (app, first) = env.create_app(&repo, None).await;
    set_config(&env, &app, &[("NPM_TOKEN", Some(&value))]).await;
    env.start_worker("w1");
    let done = env.wait_running(first.id).await;
    let log = env.log_text(first.id).await;
    assert!(
        log.contains("Build secrets from config vars: NPM_TOKEN"),
        "{log}"
    );
    assert!(!log.contains(&value), "{log}");
    let container = &containers::list(&env.pool, first.id).await.unwrap()[0];
    let length = slipway_testkit::http_get(&format!(
        "http://{}:{}/secret-length",
        container.ip.clone().unwrap(),
        container.port
    ))
    .await
    .unwrap();
    assert_eq!(length.trim(), value.len().to_string());
    let (history, saved) = history_and_saved(&done.image.clone().unwrap());
    assert!(
        history.contains("/run/secrets/NPM_TOKEN > /www/secret-length"),
        "{history}"
    );
    assert!(!history.contains(&value), "{history}");
    assert!(
        !saved.windows(value.len()).any(|w| w == value.as_bytes()),
        "the value is in the saved image"
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_build_secret_without_its_config_var_fails_the_build_naming_it(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(secret_reading_app("0"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let reason = env.wait_failed(first.id, Phase::Build).await;
    assert!(
        reason.contains("[build] secrets lists NPM_TOKEN")
            && reason.contains(&format!("slipway config set -a {} NPM_TOKEN=", app.name)),
        "{reason}"
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn build_secrets_with_the_legacy_builder_fail_saying_they_need_buildkit(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.builder = BuilderChoice::Legacy).await;
    let repo = TestRepo::with_files(secret_reading_app("0"));
    let (app, first) = env.create_app(&repo, None).await;
    set_config(&env, &app, &[("NPM_TOKEN", Some("x"))]).await;
    env.start_worker("w1");
    let reason = env.wait_failed(first.id, Phase::Build).await;
    assert!(
        reason.contains("need BuildKit") && reason.contains("SLIPWAY_BUILDER=legacy"),
        "{reason}"
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_legacy_builder_still_builds_when_chosen(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.builder = BuilderChoice::Legacy).await;
    let repo = TestRepo::with_files(web_app_files("legacy"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    let log = env.log_text(first.id).await;
    assert_eq!(
        done.status,
        DeploymentStatus::Running,
        "{:?}\n{log}",
        done.reason
    );
    assert!(env.page(first.id).await.contains("legacy"));
    assert!(
        log.contains("with the legacy builder") && log.contains("[build] Step 1/"),
        "{log}"
    );
    let labelled = env.labelled_images(&app.name).await;
    assert_eq!(labelled.len(), 1, "{labelled:#?}");
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_unknown_repository_fails_in_clone(pool: PgPool) {
    let mut env = Env::new(pool).await;
    env.start_worker("w1");
    let url = format!("file:///nonexistent/{}.git", Uuid::new_v4().simple());
    let (_, first) = env.create_app_at(&url, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Clone));
    assert!(done.reason.unwrap().contains(&url));
    env.teardown().await;
}

/// A password or token in the repository URL is for git only: the failure reason and
/// the log name the URL with `***` in its place.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn credentials_in_the_repo_url_never_reach_the_log_or_the_reason(pool: PgPool) {
    let mut env = Env::new(pool).await;
    env.start_worker("w1");
    let url = "https://bob:hunter2@no-such-host.invalid/team/app.git";
    let (_, first) = env.create_app_at(url, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.failed_phase, Some(Phase::Clone));
    let reason = done.reason.unwrap();
    assert!(
        reason.contains("https://bob:***@no-such-host.invalid/team/app.git"),
        "{reason}"
    );
    let log = env.log_text(first.id).await;
    assert!(log.contains("bob:***@"), "{log}");
    assert!(
        !reason.contains("hunter2") && !log.contains("hunter2"),
        "{reason}\n{log}"
    );
    env.teardown().await;
}

/// A host name is resolved before git connects: one that leads to loopback (here,
/// `localhost`, with local repositories not allowed) fails the clone phase saying why.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_host_resolving_to_a_refused_address_fails_before_git_connects(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.allow_local_repos = false).await;
    env.start_worker("w1");
    let (_, first) = env.create_app_at("https://localhost:1/x.git", None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.failed_phase, Some(Phase::Clone));
    let reason = done.reason.unwrap();
    assert!(reason.starts_with("localhost resolves to "), "{reason}");
    assert!(reason.contains("loopback"), "{reason}");
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_container_that_never_answers_fails_in_release_and_the_previous_release_keeps_serving(
    pool: PgPool,
) {
    let mut env = Env::with(pool, |c| c.release_timeout = Duration::from_secs(4)).await;
    let repo = TestRepo::with_files(web_app_files("version one"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;

    repo.commit("never listens", &[("Dockerfile", NEVER_LISTENS.as_bytes())]);
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    let done = env.wait_finished(second.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Release));
    let reason = done.reason.unwrap();
    assert!(
        reason.contains("did not pass GET / on port 80") && reason.contains("connection refused"),
        "{reason}"
    );
    // The previous release is untouched and still serving; the failed one is gone.
    assert_eq!(
        deployments::get(&env.pool, first.id).await.unwrap().status,
        DeploymentStatus::Running
    );
    assert!(env.page(first.id).await.contains("version one"));
    let first_name =
        slipway_core::labels::container_name(&app.name, &first.id.to_string(), "web", 1);
    assert_eq!(env.running_containers(&app.name).await, [first_name]);
    assert!(
        containers::list(&env.pool, second.id)
            .await
            .unwrap()
            .is_empty()
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn redeploying_replaces_the_content_and_removes_the_old_container(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("version one"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, Some(80)).await;
    env.wait_running(first.id).await;

    let sha = repo.commit(
        "second version",
        &[("www/index.html", b"version two".as_slice())],
    );
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    let done = env.wait_finished(second.id).await;
    assert_eq!(done.status, DeploymentStatus::Running, "{:?}", done.reason);
    assert_eq!(done.commit_sha.as_deref(), Some(sha.as_str()));
    assert!(env.page(second.id).await.contains("version two"));
    let old = deployments::get(&env.pool, first.id).await.unwrap();
    assert_eq!(old.status, DeploymentStatus::Superseded);
    // The old release is retired right after the new one is promoted.
    let expected = [slipway_core::labels::container_name(
        &app.name,
        &second.id.to_string(),
        "web",
        1,
    )];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let containers = loop {
        let names: Vec<String> = env
            .docker
            .list_containers(&[("slipway.app", app.name.as_str())])
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        if names == expected || tokio::time::Instant::now() > deadline {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        containers::list(&env.pool, first.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(containers, expected, "the old container is removed");
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn two_workers_share_the_queue_without_taking_the_same_deployment(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("shared"));
    env.start_worker("w1");
    env.start_worker("w2");
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(env.create_app(&repo, None).await.1.id);
    }
    for id in ids {
        let done = env.wait_finished(id).await;
        assert_eq!(done.status, DeploymentStatus::Running, "{:?}", done.reason);
        assert_eq!(done.attempts, 1);
        let claims: Vec<_> = events::of_deployment(&env.pool, id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.status == DeploymentStatus::Cloning)
            .collect();
        assert_eq!(claims.len(), 1, "claimed exactly once");
    }
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_deployment_whose_worker_died_is_reclaimed_and_finished_by_another(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.lease_duration = Duration::from_secs(1)).await;
    let repo = TestRepo::with_files(web_app_files("reclaimed"));
    let (_, first) = env.create_app(&repo, None).await;
    // A worker claims it and dies without a word: its lease simply stops being renewed.
    let Claim::Claimed(job) = queue::claim(&env.pool, "doomed", Duration::from_millis(200))
        .await
        .unwrap()
    else {
        panic!("nothing to claim");
    };
    assert_eq!(job.deployment.id, first.id);
    env.start_worker("rescuer");
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Running, "{:?}", done.reason);
    assert_eq!(done.attempts, 2);
    let events = events::of_deployment(&env.pool, first.id).await.unwrap();
    assert!(events.iter().any(|e| {
        e.message
            .as_deref()
            .is_some_and(|m| m.starts_with("worker lost: doomed"))
    }));
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn deleting_an_app_removes_its_containers_and_images(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.publish_ports = true).await;
    let repo = TestRepo::with_files(web_app_files("doomed"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    // With SLIPWAY_PUBLISH_PORTS the container also answers on a loopback port.
    let containers = containers::list(&env.pool, first.id).await.unwrap();
    let host_port = containers[0].host_port.expect("published port");
    let page = slipway_testkit::http_get(&format!("http://127.0.0.1:{host_port}/"))
        .await
        .unwrap();
    assert!(page.contains("doomed"));
    let foreign =
        support::build_foreign_image(&env.docker, &app.name, "another-installation").await;
    apps::mark_deleted(&env.pool, Owner::Any, &app.name)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while apps::find_by_id(&env.pool, app.id).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "app row still present after 30s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let label = [("slipway.app", app.name.as_str())];
    assert!(env.docker.list_containers(&label).await.unwrap().is_empty());
    // Only this installation's images: another's image of the same name stays.
    let left: Vec<String> = env
        .docker
        .list_images_of(&format!("slipway-{}", app.name))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|i| i.tags)
        .collect();
    assert_eq!(left, std::slice::from_ref(&foreign));
    env.docker.remove_image(&foreign).await.unwrap();
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_build_past_its_time_limit_is_stopped_and_fails_saying_so(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.build_timeout = Duration::from_secs(3)).await;
    let slow = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"sleep\",\"60\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("slow", slow));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Build));
    let reason = done.reason.unwrap();
    assert!(
        reason.contains("longer than 3s") && reason.contains("SLIPWAY_BUILD_TIMEOUT"),
        "{reason}"
    );
    assert!(env.running_containers(&app.name).await.is_empty());
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_deployment_lost_for_good_fails_as_worker_lost_and_leaves_no_container(pool: PgPool) {
    let mut env = Env::with(pool, |c| {
        c.lease_duration = Duration::from_secs(1);
        c.max_attempts = 1;
    })
    .await;
    let repo = TestRepo::with_files(web_app_files("lost"));
    let (app, first) = env.create_app(&repo, None).await;
    let Claim::Claimed(job) = queue::claim(&env.pool, "doomed", Duration::from_millis(300))
        .await
        .unwrap()
    else {
        panic!("nothing to claim");
    };
    // The doomed worker got as far as starting the release's container before it died.
    job.lease
        .advance(DeploymentStatus::Cloning, DeploymentStatus::Releasing)
        .await
        .unwrap();
    env.docker
        .ensure_network(&env.config.network)
        .await
        .unwrap();
    let image = format!("slipway-{}:lost", app.name);
    support::build_fixture_image(&env.docker, &image, "lost", &[]).await;
    let spec = slipway_docker::ContainerSpec {
        name: slipway_core::labels::container_name(&app.name, &first.id.to_string(), "web", 1),
        image: image.clone(),
        network: env.config.network.clone(),
        port: 80,
        labels: slipway_core::labels::ownership_labels(
            &env.config.network,
            &app.name,
            &app.id.to_string(),
            &first.id.to_string(),
            "web",
        ),
        ..Default::default()
    };
    env.docker.run_container(&spec).await.unwrap();

    env.start_worker("rescuer");
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Release));
    assert!(
        done.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("worker lost: doomed"),
        "{:?}",
        done.reason
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !env
        .docker
        .list_containers(&[("slipway.app", app.name.as_str())])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lost worker's container is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_newer_deployment_stops_an_in_flight_build_at_once(pool: PgPool) {
    // A lease renewal would only notice after minutes: only the stop notification can
    // end the first build within this test's wait.
    let mut env = Env::with(pool, |c| c.lease_duration = Duration::from_secs(300)).await;
    let slow =
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"sleep\",\"120\"]\n";
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("first", slow));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    env.wait_for_log(first.id, "[2/2] RUN").await;

    repo.commit(
        "fast again",
        &[
            ("Dockerfile", WEB_DOCKERFILE.as_bytes()),
            ("www/index.html", b"second"),
        ],
    );
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    env.wait_running(second.id).await;
    assert!(env.page(second.id).await.contains("second"));
    let first_row = deployments::get(&env.pool, first.id).await.unwrap();
    assert_eq!(
        first_row.status,
        DeploymentStatus::Superseded,
        "{:?}\n{}",
        first_row.reason,
        env.log_text(first.id).await
    );
    env.wait_for_log(first.id, "Stopped: the deployment is superseded")
        .await;
    env.teardown().await;
}

/// A build that floods its output: what is stored stops at SLIPWAY_LOG_LIMIT with a
/// marker saying so, the worker carries on, and Slipway's own lines (the outcome) are
/// still written after it.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_flooding_build_is_cut_at_the_log_limit_and_still_deploys(pool: PgPool) {
    let limit = 64 * 1024;
    let mut env = Env::with(pool, |c| c.log_limit = limit).await;
    env.start_worker("w1");
    // About 1.9 MB of numbers, one per line (after a long line of spaces); the run's
    // own id keeps Docker's layer cache from replaying an earlier run's step silently.
    let flood = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n\
         RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo {}; /bin/busybox printf '%20000s\\\\n' x; /bin/busybox seq 1 300000\"]\n\
         CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n",
        Uuid::new_v4()
    );
    let repo = TestRepo::with_files(web_app_files_with_dockerfile("flooded", &flood));
    let (_, first) = env.create_app(&repo, None).await;
    let done = env.wait_running(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Running);
    env.wait_for_log(first.id, "Deployment is running").await;
    let lines = slipway_store::logs::page(&env.pool, first.id, 0, 100_000)
        .await
        .unwrap();
    let build_bytes: usize = lines
        .iter()
        .filter(|l| l.stream == "build")
        .map(|l| l.line.len() + 1)
        .sum();
    assert!(
        build_bytes <= limit as usize,
        "{build_bytes} bytes of build output stored"
    );
    assert!(
        build_bytes > limit as usize / 2,
        "{build_bytes}: the budget was used"
    );
    let marker = lines
        .iter()
        .position(|l| {
            l.line
                .starts_with("Log truncated: this deployment's output passed 64 KiB")
        })
        .expect("a truncation marker");
    assert!(
        lines[marker..]
            .iter()
            .any(|l| l.line.starts_with("Deployment is running")),
        "the outcome follows the marker: {:?}",
        lines[marker.saturating_sub(3)..]
            .iter()
            .map(|l| (
                l.stream.as_str(),
                l.line.chars().take(80).collect::<String>()
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        !lines.iter().any(|l| l.line == "300000"),
        "the end of the flood is dropped"
    );

    env.teardown().await;
}

/// An app whose `www` is a submodule: with `[build] submodules = true` in its spec, the
/// submodule's commit is fetched and built in, and its page is served.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_app_with_submodules_enabled_serves_the_submodules_files(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let site = TestRepo::new(&[("index.html", b"hello from a submodule".as_slice())]);
    let busybox = std::fs::read(slipway_testkit::busybox_path()).unwrap();
    let gitmodules = format!(
        "[submodule \"www\"]\n\tpath = www\n\turl = {}\n",
        site.url()
    );
    let repo = TestRepo::new(&[
        ("Dockerfile", WEB_DOCKERFILE.as_bytes()),
        ("busybox", &busybox),
        ("slipway.toml", b"[build]\nsubmodules = true\n"),
        (".gitmodules", gitmodules.as_bytes()),
    ]);
    repo.gitlink("add the site", "www", &site.head());
    env.start_worker("w1");
    let (_, first) = env.create_app(&repo, None).await;
    env.wait_running(first.id).await;
    assert!(env.page(first.id).await.contains("hello from a submodule"));
    let log = env.log_text(first.id).await;
    assert!(
        log.contains("[git] Fetching submodule www from ")
            && log.contains("Submodules: fetched www"),
        "{log}"
    );
    env.teardown().await;
}

/// A submodule URL is held to the rules of an app's `repo_url`: here a local one on a
/// server that does not allow local repositories. The reason names the submodule and
/// the rule, and never the password in the URL.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_forbidden_submodule_url_fails_the_clone_naming_the_submodule(pool: PgPool) {
    let mut env = Env::with(pool, |c| c.allow_local_repos = false).await;
    let repo = TestRepo::new(&[
        ("Dockerfile", b"FROM scratch\n".as_slice()),
        ("slipway.toml", b"[build]\nsubmodules = true\n"),
        (
            ".gitmodules",
            b"[submodule \"meta\"]\n\tpath = vendor/meta\n\turl = http://bob:hunter2@169.254.169.254/x.git\n",
        ),
    ]);
    repo.gitlink("add a submodule", "vendor/meta", &repo.head());
    env.start_worker("w1");
    // The app's own URL is local: only the API refuses those, and it is not asked here.
    let (_, first) = env.create_app(&repo, None).await;
    let done = env.wait_finished(first.id).await;
    assert_eq!(done.status, DeploymentStatus::Failed);
    assert_eq!(done.failed_phase, Some(Phase::Clone));
    let reason = done.reason.unwrap();
    assert_eq!(
        reason,
        "submodule vendor/meta: cannot fetch from http://bob:***@169.254.169.254/x.git: \
         link-local addresses (169.254.0.0/16, cloud metadata) are refused"
    );
    assert!(!env.log_text(first.id).await.contains("hunter2"));
    env.teardown().await;
}

/// A worker killed mid-run leaves its deployment's work directory behind; the next one
/// to start removes those of finished or unknown deployments, and keeps those still in
/// flight (another worker may share the directory) and whatever is not Slipway's.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_starting_worker_removes_leftover_work_directories(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("leftovers"));
    let (_, in_flight) = env.create_app(&repo, None).await;
    let Claim::Claimed(job) = queue::claim(&env.pool, "elsewhere", Duration::from_secs(3600))
        .await
        .unwrap()
    else {
        panic!("nothing to claim")
    };
    assert_eq!(job.deployment.id, in_flight.id);
    let (_, finished) = env.create_app(&repo, None).await;
    sqlx::query("UPDATE deployments SET status = 'failed', finished_at = now() WHERE id = $1")
        .bind(finished.id)
        .execute(&env.pool)
        .await
        .unwrap();
    let work = env.config.work_dir.clone();
    let dir = |name: String| {
        let path = work.join(name);
        std::fs::create_dir_all(path.join("partial.git/objects")).unwrap();
        std::fs::write(path.join("partial.git/objects/pack"), b"half a clone").unwrap();
        path
    };
    let kept_in_flight = dir(in_flight.id.to_string());
    let removed_finished = dir(finished.id.to_string());
    let removed_unknown = dir(Uuid::new_v4().to_string());
    let not_ours = dir("notes".to_owned());

    env.start_worker("w1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while removed_finished.exists() || removed_unknown.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "leftover work directories still there after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        kept_in_flight.exists(),
        "an in-flight deployment's directory"
    );
    assert!(not_ours.exists(), "a directory that is not a deployment's");
    env.teardown().await;
}
