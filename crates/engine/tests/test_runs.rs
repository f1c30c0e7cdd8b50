//! Test runs against a real worker, Postgres and Docker Engine: tests gate releases,
//! their JUnit reports are read, time limits and cancels stop them, and standalone runs
//! release nothing.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::time::Duration;

use slipway_core::crypto::{self, Cipher};
use slipway_core::{DeploymentStatus, Phase, TestRunStatus};
use slipway_store::config_vars::{self, Applied, Change};
use slipway_store::test_runs::{self, NewTestRun, TestRunRow};
use slipway_store::{PgPool, containers, deployments};
use slipway_testkit::{JUNIT_EXAMPLE as JUNIT, TestRepo, web_app_files, web_app_files_with_spec};
use support::Env;
use uuid::Uuid;

/// A `[test]` table running `script` with busybox's shell.
fn test_spec(script: &str, extra: &str) -> String {
    format!(
        "[test]\ncommand = [\"/bin/busybox\", \"sh\", \"-c\", {script:?}]\n{extra}",
        script = script
    )
}

/// Copies the documented report where `[test] report` says, then exits `code`.
fn writes_report(code: i32) -> String {
    format!(
        "/bin/busybox mkdir -p /tmp && /bin/busybox cp /www/junit.xml /tmp/junit.xml && echo wrote the report; exit {code}"
    )
}

fn files_with(page: &str, spec: &str, extra: &[(&str, &str)]) -> slipway_testkit::Files {
    let mut files = web_app_files_with_spec(page, Some(spec));
    for (path, body) in extra {
        files.push(((*path).to_owned(), body.as_bytes().to_vec()));
    }
    files
}

async fn set_var(env: &Env, app_id: Uuid, name: &str, value: &str) -> Applied {
    let cipher = Cipher::new(env.config.secret_key.as_ref().unwrap().bytes());
    let sealed = cipher
        .seal(&crypto::config_var_aad(&app_id.to_string(), name), value)
        .unwrap();
    let change = Change {
        set: vec![(name.to_owned(), sealed)],
        ..Change::default()
    };
    config_vars::change(&env.pool, app_id, &change, 100)
        .await
        .unwrap()
        .unwrap()
}

async fn run_of(env: &Env, deployment: Uuid) -> TestRunRow {
    test_runs::of_deployment(&env.pool, deployment)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("deployment {deployment} recorded no test run"))
}

async fn served(env: &Env, deployment: Uuid) -> String {
    let containers = containers::list(&env.pool, deployment).await.unwrap();
    let web = containers.iter().find(|c| c.process == "web").unwrap();
    let url = format!("http://{}:{}/", web.ip.clone().unwrap(), web.port);
    slipway_testkit::http_get(&url).await.unwrap()
}

/// Nothing of a test run is left: no container, no network of its own.
async fn nothing_left(env: &Env, app: &str) {
    let left = env
        .docker
        .list_containers(&[("slipway.process", "test"), ("slipway.app", app)])
        .await
        .unwrap();
    assert!(left.is_empty(), "test containers left: {left:?}");
    let networks = env
        .docker
        .networks_labelled(&[("slipway.one-off-network", &env.config.network)])
        .await
        .unwrap();
    assert!(networks.is_empty(), "test networks left: {networks:?}");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_failing_test_blocks_the_release_and_v1_keeps_serving(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let repo = TestRepo::with_files(web_app_files("v1"));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let mut first = env.wait_running(first.id).await;

    let script = "echo checking the app; echo GREETING=$GREETING; echo broken >&2; exit 3";
    repo.commit_owned(
        "v2 with failing tests",
        &files_with("v2", &test_spec(script, ""), &[]),
    );
    if let Applied::Release(release) = set_var(&env, app.id, "GREETING", "hello").await {
        first = env.wait_running(release.id).await;
    }
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    let second = env.wait_finished(second.id).await;
    let log = env.log_text(second.id).await;
    assert_eq!(second.status, DeploymentStatus::Failed, "{log}");
    assert_eq!(second.failed_phase, Some(Phase::Test));
    let reason = second.reason.clone().unwrap();
    assert!(reason.contains("exit code 3"), "{reason}");
    assert!(
        reason.contains("broken"),
        "the last lines are quoted: {reason}"
    );
    assert!(log.contains("checking the app"), "{log}");
    assert!(
        log.contains("GREETING=hello"),
        "config vars reach the tests: {log}"
    );

    let run = run_of(&env, second.id).await;
    assert_eq!(run.status, TestRunStatus::Failed);
    assert_eq!(run.exit_code, Some(3));
    assert_eq!(run.gated_deployment(), Some(second.id));
    assert_eq!(run.commit_sha.as_deref(), Some(repo.head().as_str()));
    assert!(run.duration_ms.is_some() && run.finished_at.is_some());

    let current = deployments::current_release(&env.pool, app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.id, first.id);
    assert!(served(&env, first.id).await.contains("v1"));
    nothing_left(&env, &app.name).await;
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn passing_tests_release_and_a_junit_report_gives_counts_and_failures(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let spec = test_spec(&writes_report(0), "report = \"/tmp/junit.xml\"\n");
    let repo = TestRepo::with_files(files_with("tested", &spec, &[("www/junit.xml", JUNIT)]));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    assert!(served(&env, first.id).await.contains("tested"));

    let run = run_of(&env, first.id).await;
    assert_eq!(run.status, TestRunStatus::Passed, "{:?}", run.note);
    assert_eq!(run.exit_code, Some(0));
    let counts = run.counts().unwrap();
    assert_eq!(
        (counts.total, counts.passed, counts.failed, counts.skipped),
        (8, 5, 2, 1)
    );
    let failed: Vec<(&str, &str)> = run
        .failures
        .as_ref()
        .unwrap()
        .0
        .iter()
        .map(|f| (f.name.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            ("testCase5", "Expected value did not match."),
            ("testCase6", "Division by zero.")
        ]
    );
    let events = slipway_store::events::of_deployment(&env.pool, first.id)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.status == DeploymentStatus::Testing),
        "the deployment went through testing"
    );
    nothing_left(&env, &app.name).await;
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_failed_run_with_a_report_names_its_counts_and_a_malformed_one_is_a_note(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let spec = test_spec(&writes_report(1), "report = \"/tmp/junit.xml\"\n");
    let repo = TestRepo::with_files(files_with("counted", &spec, &[("www/junit.xml", JUNIT)]));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_finished(first.id).await;
    assert_eq!(first.status, DeploymentStatus::Failed);
    let reason = first.reason.unwrap();
    assert!(
        reason.contains("8 tests: 5 passed, 2 failed, 1 skipped")
            && reason.contains("Tests.Registration.testCase5, Tests.Registration.testCase6"),
        "{reason}"
    );

    // Malformed: the run still passes on its exit code, with a note instead of counts.
    repo.commit_owned(
        "malformed report",
        &files_with(
            "malformed",
            &spec.replace("exit 1", "exit 0"),
            &[("www/junit.xml", "<testsuites><testsuite")],
        ),
    );
    let second = deployments::create(&env.pool, app.id, None).await.unwrap();
    let second = env.wait_running(second.id).await;
    let run = run_of(&env, second.id).await;
    assert_eq!(run.status, TestRunStatus::Passed);
    assert!(run.counts().is_none() && run.failures.is_none());
    let note = run.note.unwrap();
    assert!(
        note.contains("/tmp/junit.xml") && note.contains("not valid"),
        "{note}"
    );
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_test_over_its_time_limit_fails_saying_how_to_raise_it(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let spec = test_spec("echo started; /bin/busybox sleep 60", "timeout = \"1s\"\n");
    let repo = TestRepo::with_files(files_with("slow", &spec, &[]));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_finished(first.id).await;
    assert_eq!(first.status, DeploymentStatus::Failed);
    assert_eq!(first.failed_phase, Some(Phase::Test));
    let reason = first.reason.unwrap();
    assert!(
        reason.contains("longer than 1s") && reason.contains("[test] timeout"),
        "{reason}"
    );
    let run = run_of(&env, first.id).await;
    assert_eq!((run.status, run.exit_code), (TestRunStatus::Failed, None));
    nothing_left(&env, &app.name).await;
    env.teardown().await;
}

async fn wait_run(env: &Env, id: Uuid) -> TestRunRow {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let run = test_runs::get_visible(&env.pool, slipway_store::apps::Owner::Any, id)
            .await
            .unwrap();
        if run.status.is_finished() {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run still {}",
            run.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_standalone_run_releases_nothing_reuses_the_image_and_can_be_cancelled(pool: PgPool) {
    let mut env = Env::new(pool).await;
    let spec = test_spec("echo spec tests pass", "");
    let repo = TestRepo::with_files(files_with("standalone", &spec, &[]));
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    let sha = repo.head();

    // The spec's command, on the commit that is serving: its image is reused.
    let new = NewTestRun {
        git_ref: Some(&sha),
        ..NewTestRun::default()
    };
    let run = test_runs::create(&env.pool, app.id, &new).await.unwrap();
    assert_eq!(run.status, TestRunStatus::Queued);
    assert_eq!(run.gated_deployment(), None);
    let run = wait_run(&env, run.id).await;
    let log = env.log_text(run.deployment_id).await;
    assert_eq!(run.status, TestRunStatus::Passed, "{log}");
    assert_eq!(
        run.command.as_deref(),
        Some("/bin/busybox sh -c 'echo spec tests pass'")
    );
    assert!(
        log.contains("no clone, no build") && log.contains("spec tests pass"),
        "{log}"
    );
    // The run's outcome is recorded when the command exits; its carrier ends a moment later.
    let carrier = env.wait_finished(run.deployment_id).await;
    assert_eq!(carrier.status, DeploymentStatus::Tested);

    // A command of its own that fails: failed, and the release is untouched.
    let failing = vec!["/bin/busybox".to_owned(), "false".to_owned()];
    let new = NewTestRun {
        command: Some(("/bin/busybox false", failing)),
        ..NewTestRun::default()
    };
    let run = test_runs::create(&env.pool, app.id, &new).await.unwrap();
    let run = wait_run(&env, run.id).await;
    assert_eq!(
        (run.status, run.exit_code),
        (TestRunStatus::Failed, Some(1))
    );

    // Cancelled while its command runs: stopped at once, and nothing is left.
    let sleeping = vec![
        "/bin/busybox".to_owned(),
        "sleep".to_owned(),
        "300".to_owned(),
    ];
    let new = NewTestRun {
        command: Some(("/bin/busybox sleep 300", sleeping)),
        ..NewTestRun::default()
    };
    let run = test_runs::create(&env.pool, app.id, &new).await.unwrap();
    env.wait_for_log(run.deployment_id, "Testing commit").await;
    let before = run_of(&env, run.deployment_id).await;
    assert_eq!(before.status, TestRunStatus::Running);
    test_runs::cancel(&env.pool, &before).await.unwrap();
    let run = wait_run(&env, run.id).await;
    assert_eq!(run.status, TestRunStatus::Cancelled);
    env.wait_for_log(run.deployment_id, "Stopped: the deployment is cancelled")
        .await;
    nothing_left(&env, &app.name).await;

    let current = deployments::current_release(&env.pool, app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.id, first.id);
    let listed = deployments::list_for_app(&env.pool, app.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "test runs' carriers are not listed");
    env.teardown().await;
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn tests_run_in_the_test_target_stage(pool: PgPool) {
    let mut env = Env::new(pool).await;
    // Only the `test` stage has the test script; the released image has none.
    let dockerfile = "FROM scratch AS base\n\
COPY busybox /bin/busybox\n\
COPY www /www\n\
FROM base AS test\n\
COPY check.sh /check.sh\n\
FROM base\n\
CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]\n";
    let spec = "[test]\ncommand = \"/bin/busybox sh /check.sh\"\ntarget = \"test\"\n";
    let mut files = slipway_testkit::web_app_files_with_dockerfile("staged", dockerfile);
    files.push(("slipway.toml".into(), spec.as_bytes().to_vec()));
    files.push(("check.sh".into(), b"echo the test stage ran".to_vec()));
    let repo = TestRepo::with_files(files);
    env.start_worker("w1");
    let (app, first) = env.create_app(&repo, None).await;
    let first = env.wait_running(first.id).await;
    let log = env.log_text(first.id).await;
    assert!(log.contains("the test stage ran"), "{log}");
    assert_eq!(run_of(&env, first.id).await.status, TestRunStatus::Passed);
    let images: Vec<String> = env
        .labelled_images(&app.name)
        .await
        .into_iter()
        .flat_map(|i| i.tags)
        .collect();
    assert_eq!(
        images,
        [first.image.clone().unwrap()],
        "the test stage's image is removed"
    );
    env.teardown().await;
}
