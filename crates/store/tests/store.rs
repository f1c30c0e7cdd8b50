//! Store behaviour against a real Postgres (one fresh database per test, from DATABASE_URL).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::collections::HashSet;
use std::time::Duration;

use slipway_core::{DeploymentStatus, Kind, Phase};
use slipway_store::apps::{self, NewApp, Owner};
use slipway_store::queue::{self, Claim};
use slipway_store::{PgPool, StoreError, config_vars, deployments, events, images, logs};

const LEASE: Duration = Duration::from_secs(30);

fn new_app(name: &str) -> NewApp {
    NewApp {
        name: name.into(),
        repo_url: Some("https://example.com/me/app.git".into()),
        branch: None,
        dockerfile: "Dockerfile".into(),
        port: None,
        spec_path: "slipway.toml".into(),
        callback_url: None,
    }
}

async fn claim(pool: &PgPool, worker: &str, lease: Duration) -> Option<queue::Job> {
    match queue::claim(pool, worker, lease).await.unwrap() {
        Claim::Claimed(job) => Some(*job),
        Claim::EmptyQueue => None,
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn status_enum_round_trips_through_postgres(pool: PgPool) {
    for status in DeploymentStatus::ALL {
        let back: DeploymentStatus = sqlx::query_scalar("SELECT $1::deployment_status")
            .bind(status)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, status);
        let text: String = sqlx::query_scalar("SELECT $1::deployment_status::text")
            .bind(status)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, status.as_str());
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn creating_an_app_queues_its_first_deployment_and_names_are_unique(pool: PgPool) {
    let (app, first) = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();
    assert_eq!(first.status, DeploymentStatus::Pending);
    assert_eq!(first.app_id, app.id);
    let err = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name" }),
        "{err:?}"
    );
    assert_eq!(
        apps::find(&pool, Owner::Any, &app.id.to_string())
            .await
            .unwrap()
            .name,
        "hello"
    );
    assert_eq!(
        apps::find(&pool, Owner::Any, "hello").await.unwrap().id,
        app.id
    );
    let stranger = Owner::User(uuid::Uuid::now_v7());
    assert!(matches!(
        apps::find(&pool, stranger, "hello").await,
        Err(StoreError::NotFound)
    ));
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn concurrent_workers_never_claim_the_same_deployment(pool: PgPool) {
    for i in 0..40 {
        apps::create(&pool, Owner::Any, &new_app(&format!("app-{i}")))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = claim(&pool, &format!("worker-{w}"), LEASE).await {
                mine.push(job.deployment.id);
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id), "deployment {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 40);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_newer_deployment_supersedes_queued_and_in_flight_ones(pool: PgPool) {
    let (app, first) = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();
    let job = claim(&pool, "w1", LEASE).await.unwrap();
    assert_eq!(job.deployment.id, first.id);
    let stale = job.lease;
    let second = deployments::create(&pool, app.id, None).await.unwrap();
    let third = deployments::create(&pool, app.id, Some("v2"))
        .await
        .unwrap();
    // The second never started: superseded as soon as the third was queued.
    assert_eq!(
        deployments::get(&pool, second.id).await.unwrap().status,
        DeploymentStatus::Superseded
    );
    let job3 = claim(&pool, "w2", LEASE).await.unwrap();
    assert_eq!(job3.deployment.id, third.id);
    assert_eq!(job3.deployment.git_ref.as_deref(), Some("v2"));
    // The first was in flight: superseded at the third's claim, and its worker finds out.
    assert_eq!(
        deployments::get(&pool, first.id).await.unwrap().status,
        DeploymentStatus::Superseded
    );
    assert_eq!(stale.renew(LEASE).await.unwrap(), None);
    assert!(
        !stale
            .advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
            .await
            .unwrap()
    );
    assert!(!stale.hand_back().await.unwrap());
    assert_eq!(stale.status().await.unwrap(), DeploymentStatus::Superseded);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_expired_lease_is_requeued_once_then_failed_as_worker_lost(pool: PgPool) {
    let (_, first) = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();
    let short = Duration::from_millis(50);
    claim(&pool, "dead-1", short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    let reclaimed = queue::reclaim_expired(&pool, 2).await.unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].lost_in, DeploymentStatus::Cloning);
    assert_eq!(reclaimed[0].now, DeploymentStatus::Pending);

    let job = claim(&pool, "dead-2", short).await.unwrap();
    assert_eq!(job.deployment.id, first.id);
    assert!(
        job.lease
            .advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    let reclaimed = queue::reclaim_expired(&pool, 2).await.unwrap();
    assert_eq!(reclaimed[0].now, DeploymentStatus::Failed);
    let row = deployments::get(&pool, first.id).await.unwrap();
    assert_eq!(row.status, DeploymentStatus::Failed);
    assert_eq!(row.failed_phase, Some(Phase::Build));
    assert_eq!(
        row.reason.as_deref(),
        Some("worker lost: dead-2 stopped renewing its lease while building (tried 2 times)")
    );
    // The lost worker cannot resurrect it.
    assert!(
        !job.lease
            .finish(DeploymentStatus::Failed, Some(Phase::Build), "x")
            .await
            .unwrap()
    );
    // A healthy lease is left alone.
    assert!(queue::reclaim_expired(&pool, 2).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn promote_supersedes_the_previous_release(pool: PgPool) {
    let (app, first) = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();
    let lease = claim(&pool, "w", LEASE).await.unwrap().lease;
    lease
        .advance(DeploymentStatus::Cloning, DeploymentStatus::Releasing)
        .await
        .unwrap();
    assert_eq!(lease.promote().await.unwrap(), Some(vec![]));
    let second = deployments::create(&pool, app.id, None).await.unwrap();
    let lease = claim(&pool, "w", LEASE).await.unwrap().lease;
    // The running release is not touched by the claim: it keeps serving until promotion.
    assert_eq!(
        deployments::get(&pool, first.id).await.unwrap().status,
        DeploymentStatus::Running
    );
    lease
        .advance(DeploymentStatus::Cloning, DeploymentStatus::Releasing)
        .await
        .unwrap();
    assert_eq!(lease.promote().await.unwrap(), Some(vec![first.id]));
    // Promoted once: a second promotion finds it no longer releasing.
    assert_eq!(lease.promote().await.unwrap(), None);
    assert_eq!(
        deployments::get(&pool, first.id).await.unwrap().status,
        DeploymentStatus::Superseded
    );
    let events = events::of_deployment(&pool, second.id).await.unwrap();
    let statuses: Vec<_> = events.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            DeploymentStatus::Pending,
            DeploymentStatus::Cloning,
            DeploymentStatus::Releasing,
            DeploymentStatus::Running
        ]
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn log_lines_keep_their_order_and_page_by_seq(pool: PgPool) {
    let (_, d) = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();
    let lines: Vec<logs::NewLine> = (0..25)
        .map(|i| logs::NewLine {
            at: chrono::Utc::now(),
            stream: "build",
            line: format!("line {i}\0"),
        })
        .collect();
    logs::append(&pool, d.id, &lines[..10]).await.unwrap();
    logs::append(&pool, d.id, &lines[10..]).await.unwrap();
    let first = logs::page(&pool, d.id, 0, 20).await.unwrap();
    assert_eq!(first.len(), 20);
    let rest = logs::page(&pool, d.id, first.last().unwrap().seq, 20)
        .await
        .unwrap();
    let all: Vec<String> = first.iter().chain(&rest).map(|l| l.line.clone()).collect();
    let expected: Vec<String> = (0..25).map(|i| format!("line {i}\u{FFFD}")).collect();
    assert_eq!(all, expected);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn deleting_an_app_cancels_its_work_and_hands_teardown_to_one_worker(pool: PgPool) {
    let (app, d) = apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();
    apps::mark_deleted(&pool, Owner::Any, "hello")
        .await
        .unwrap();
    let row = deployments::get(&pool, d.id).await.unwrap();
    assert_eq!(row.status, DeploymentStatus::Cancelled);
    assert!(matches!(
        apps::find(&pool, Owner::Any, "hello").await,
        Err(StoreError::NotFound)
    ));
    assert!(claim(&pool, "w", LEASE).await.is_none());
    // The name is free again at once.
    apps::create(&pool, Owner::Any, &new_app("hello"))
        .await
        .unwrap();

    let held = apps::claim_teardown(&pool).await.unwrap().unwrap();
    assert_eq!(held.app.id, app.id);
    assert!(
        apps::claim_teardown(&pool).await.unwrap().is_none(),
        "a held teardown is skipped"
    );
    apps::finish_teardown(held).await.unwrap();
    assert!(matches!(
        apps::find_by_id(&pool, app.id).await,
        Err(StoreError::NotFound)
    ));
}

/// The API and every worker migrate at start-up; starting them together must be safe.
#[sqlx::test(migrations = false)]
async fn concurrent_migrations_are_safe(pool: PgPool) {
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { slipway_store::migrate(&pool).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied, slipway_store::MIGRATOR.iter().count() as i64);
}

/// Drives a deployment through claim to `releasing` and promotes it, as a worker would.
async fn release(pool: &PgPool, id: uuid::Uuid, image: &str) {
    let job = claim(pool, "w", LEASE).await.unwrap();
    assert_eq!(job.deployment.id, id);
    let lease = &job.lease;
    if job.deployment.status == DeploymentStatus::Cloning {
        lease.set_image(image, 80).await.unwrap();
        lease
            .advance(DeploymentStatus::Cloning, DeploymentStatus::Releasing)
            .await
            .unwrap();
    }
    lease.snapshot_config().await.unwrap();
    assert!(lease.promote().await.unwrap().is_some());
}

fn set(name: &str, sealed: &[u8]) -> config_vars::Change {
    config_vars::Change {
        replace: false,
        set: vec![(name.to_owned(), sealed.to_vec())],
        unset: vec![],
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_config_change_goes_to_the_release_that_will_run_with_it(pool: PgPool) {
    let (app, first) = apps::create(&pool, Owner::Any, &new_app("cfg"))
        .await
        .unwrap();
    // Before any release: the queued deployment will snapshot it.
    let applied = config_vars::change(&pool, app.id, &set("A", b"sealed-1"), 10)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(applied, config_vars::Applied::Pending(id) if id == first.id),
        "{applied:?}"
    );
    release(&pool, first.id, "img:1").await;
    let row = deployments::get(&pool, first.id).await.unwrap();
    let snapshot = row.config_snapshot.unwrap().0;
    assert_eq!(snapshot.keys().collect::<Vec<_>>(), ["A"]);

    // With a release running: a config release of its image is queued.
    let applied = config_vars::change(&pool, app.id, &set("B", b"sealed-2"), 10)
        .await
        .unwrap()
        .unwrap();
    let config_vars::Applied::Release(second) = applied else {
        panic!("{applied:?}")
    };
    assert_eq!(
        (second.kind, second.source_deployment_id),
        (Kind::Config, Some(first.id))
    );
    assert_eq!(second.image.as_deref(), Some("img:1"));
    // It goes straight to releasing when claimed, and snapshots both vars then.
    let job = claim(&pool, "w", LEASE).await.unwrap();
    assert_eq!(
        (job.deployment.id, job.deployment.status),
        (second.id, DeploymentStatus::Releasing)
    );

    // A change while that deployment is releasing (its snapshot may be taken already)
    // queues another release that follows it, with its image.
    let applied = config_vars::change(&pool, app.id, &set("C", b"sealed-3"), 10)
        .await
        .unwrap()
        .unwrap();
    let config_vars::Applied::Release(third) = applied else {
        panic!("{applied:?}")
    };
    assert_eq!(third.source_deployment_id, Some(second.id));

    // Too many vars: refused, nothing changed.
    let many = config_vars::Change {
        replace: false,
        set: (0..10).map(|i| (format!("V{i}"), b"x".to_vec())).collect(),
        unset: vec![],
    };
    let refused = config_vars::change(&pool, app.id, &many, 10).await.unwrap();
    assert!(refused.is_err());
    assert_eq!(config_vars::list(&pool, app.id).await.unwrap().len(), 3);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn rollback_targets_the_previous_release_and_copies_its_config(pool: PgPool) {
    let (app, first) = apps::create(&pool, Owner::Any, &new_app("rb"))
        .await
        .unwrap();
    assert!(matches!(
        deployments::rollback(&pool, app.id, None).await,
        Err(deployments::RollbackError::NothingToRollBackTo)
    ));
    config_vars::change(&pool, app.id, &set("A", b"one"), 10)
        .await
        .unwrap()
        .unwrap();
    release(&pool, first.id, "img:1").await;
    let second = deployments::create(&pool, app.id, None).await.unwrap();
    config_vars::change(&pool, app.id, &set("A", b"two"), 10)
        .await
        .unwrap()
        .unwrap();
    release(&pool, second.id, "img:2").await;
    // Only released deployments are targets; the default is the one before the current.
    let never = deployments::create(&pool, app.id, None).await.unwrap();
    assert!(matches!(
        deployments::rollback(&pool, app.id, Some(never.id)).await,
        Err(deployments::RollbackError::NotARelease(_))
    ));
    let back = deployments::rollback(&pool, app.id, None).await.unwrap();
    assert_eq!(
        (back.kind, back.source_deployment_id),
        (Kind::Rollback, Some(first.id))
    );
    assert_eq!(back.image.as_deref(), Some("img:1"));
    assert_eq!(
        deployments::get(&pool, never.id).await.unwrap().status,
        DeploymentStatus::Superseded,
        "the queued build gives way to the rollback"
    );
    let sealed = &back.config_snapshot.as_ref().unwrap().0["A"];
    assert_eq!(
        sealed, "b25l",
        "the first release's sealed value (base64 of \"one\")"
    );
    release(&pool, back.id, "unused").await;
    assert_eq!(
        deployments::get(&pool, second.id).await.unwrap().status,
        DeploymentStatus::RolledBack
    );
    let keep = images::to_keep(&pool, app.id, 1).await.unwrap();
    assert_eq!(keep, ["img:1"]);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_note_seen_by_several_workers_is_recorded_once(pool: PgPool) {
    let (_, first) = apps::create(&pool, Owner::Any, &new_app("noted"))
        .await
        .unwrap();
    let notes: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                events::note(&pool, first.id, "container x exited with 137").await
            })
        })
        .collect();
    for note in notes {
        note.await.unwrap().unwrap();
    }
    events::note(&pool, first.id, "container x exited with 1")
        .await
        .unwrap();
    let messages: Vec<String> = events::of_deployment(&pool, first.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.message)
        .filter(|m| m.starts_with("container x"))
        .collect();
    assert_eq!(
        messages,
        ["container x exited with 137", "container x exited with 1"]
    );
}

/// Writes `value` into one column of the deployment as text, bypassing the typed API.
async fn write_raw(pool: &PgPool, id: uuid::Uuid, column: &str, value: &str) {
    let sql = match column {
        "kind" => "UPDATE deployments SET kind = $2 WHERE id = $1",
        "failed_phase" => "UPDATE deployments SET failed_phase = $2 WHERE id = $1",
        "status" => "UPDATE deployments SET status = $2::deployment_status WHERE id = $1",
        _ => unreachable!("{column}"),
    };
    sqlx::query(sql)
        .bind(id)
        .bind(value)
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn kinds_phases_and_statuses_round_trip_through_their_columns(pool: PgPool) {
    let (_, d) = apps::create(&pool, Owner::Any, &new_app("typed"))
        .await
        .unwrap();
    for kind in Kind::ALL {
        sqlx::query("UPDATE deployments SET kind = $2 WHERE id = $1")
            .bind(d.id)
            .bind(kind)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(deployments::get(&pool, d.id).await.unwrap().kind, kind);
        let text: String = sqlx::query_scalar("SELECT kind FROM deployments WHERE id = $1")
            .bind(d.id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, kind.as_str());
    }
    for phase in Phase::ALL.map(Some).into_iter().chain([None]) {
        sqlx::query("UPDATE deployments SET failed_phase = $2 WHERE id = $1")
            .bind(d.id)
            .bind(phase)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            deployments::get(&pool, d.id).await.unwrap().failed_phase,
            phase
        );
        let text: Option<String> =
            sqlx::query_scalar("SELECT failed_phase FROM deployments WHERE id = $1")
                .bind(d.id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(text.as_deref(), phase.map(Phase::as_str));
    }
    for status in DeploymentStatus::ALL {
        sqlx::query("UPDATE deployments SET status = $2 WHERE id = $1")
            .bind(d.id)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(deployments::get(&pool, d.id).await.unwrap().status, status);
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_unknown_kind_phase_or_status_in_the_database_is_an_error(pool: PgPool) {
    let (_, d) = apps::create(&pool, Owner::Any, &new_app("typed"))
        .await
        .unwrap();
    // As a newer Slipway (or a hand edit) might leave them: the constraint and the enum
    // are widened first, so the value really is in the column.
    sqlx::query("ALTER TABLE deployments DROP CONSTRAINT deployments_kind_check")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("ALTER TYPE deployment_status ADD VALUE 'paused'")
        .execute(&pool)
        .await
        .unwrap();
    for (column, value) in [
        ("kind", "canary"),
        ("failed_phase", "deploy"),
        ("status", "paused"),
    ] {
        write_raw(&pool, d.id, column, value).await;
        let err = deployments::get(&pool, d.id).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Db(sqlx::Error::ColumnDecode { index, .. }) if index.contains(column)),
            "{column}: {err:?}"
        );
        assert!(format!("{err:?}").contains(value), "{err:?}");
        let good = match column {
            "kind" => "build",
            "failed_phase" => "build",
            _ => "pending",
        };
        write_raw(&pool, d.id, column, good).await;
        deployments::get(&pool, d.id).await.unwrap();
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_handed_back_deployment_is_queued_again_without_using_an_attempt(pool: PgPool) {
    let (_, d) = apps::create(&pool, Owner::Any, &new_app("back"))
        .await
        .unwrap();
    let job = claim(&pool, "leaving", LEASE).await.unwrap();
    assert_eq!(job.lease.deployment_id(), d.id);
    assert_eq!(job.lease.worker_id(), "leaving");
    assert!(job.lease.hand_back().await.unwrap());
    assert!(!job.lease.hand_back().await.unwrap(), "only once");
    let row = deployments::get(&pool, d.id).await.unwrap();
    assert_eq!((row.status, row.attempts), (DeploymentStatus::Pending, 0));
    let last = events::of_deployment(&pool, d.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        last.message.as_deref(),
        Some("handed back: leaving shut down while cloning; queued again")
    );
    let again = claim(&pool, "next", LEASE).await.unwrap();
    assert_eq!((again.deployment.id, again.deployment.attempts), (d.id, 1));
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_cancel_files_the_deployment_under_the_phase_it_was_in(pool: PgPool) {
    let (app, queued) = apps::create(&pool, Owner::Any, &new_app("stop"))
        .await
        .unwrap();
    let job = claim(&pool, "w", LEASE).await.unwrap();
    job.lease
        .advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
        .await
        .unwrap();
    let deployments::CancelOutcome::Cancelled(row) =
        deployments::cancel(&pool, queued.id).await.unwrap()
    else {
        panic!("not cancelled")
    };
    assert_eq!(
        (row.status, row.failed_phase),
        (DeploymentStatus::Cancelled, Some(Phase::Build))
    );
    // One that never started has no phase.
    let next = deployments::create(&pool, app.id, None).await.unwrap();
    let deployments::CancelOutcome::Cancelled(row) =
        deployments::cancel(&pool, next.id).await.unwrap()
    else {
        panic!("not cancelled")
    };
    assert_eq!(row.failed_phase, None);
    assert!(matches!(
        deployments::cancel(&pool, next.id).await.unwrap(),
        deployments::CancelOutcome::AlreadyFinished(DeploymentStatus::Cancelled)
    ));
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn one_reconciliation_per_app_at_a_time(pool: PgPool) {
    let (one, _) = apps::create(&pool, Owner::Any, &new_app("one"))
        .await
        .unwrap();
    let (two, _) = apps::create(&pool, Owner::Any, &new_app("two"))
        .await
        .unwrap();
    let held = apps::lock_for_reconcile(&pool, one.id).await.unwrap();
    // Another app's reconciliation does not wait.
    apps::lock_for_reconcile(&pool, two.id)
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { apps::lock_for_reconcile(&pool, one.id).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the second lock waits for the first"
    );
    held.release().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Dropping a lock lets go of it too.
    drop(second);
    tokio::time::timeout(
        Duration::from_secs(10),
        apps::lock_for_reconcile(&pool, one.id),
    )
    .await
    .unwrap()
    .unwrap();
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_first_generated_installation_secret_is_everyones(pool: PgPool) {
    use slipway_store::secrets;
    let first = secrets::get_or_create(&pool, "internal_token", "from-the-api")
        .await
        .unwrap();
    let second = secrets::get_or_create(&pool, "internal_token", "from-a-worker")
        .await
        .unwrap();
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("from-the-api", "from-the-api")
    );
    let other = secrets::get_or_create(&pool, "another", "x").await.unwrap();
    assert_eq!(other, "x");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_death_seen_by_two_workers_counts_once(pool: PgPool) {
    use slipway_store::deaths::{self, Death};
    let app = apps::create(&pool, Owner::Any, &new_app("deaths"))
        .await
        .unwrap();
    let id = app.1.id;
    let at = chrono::Utc::now();
    let death = |replica_id: &'static str, died_at| Death {
        deployment_id: id,
        replica: "web-1",
        replica_id,
        died_at,
        exit_code: Some(137),
    };
    assert!(deaths::record(&pool, &death("c1", at)).await.unwrap());
    assert!(!deaths::record(&pool, &death("c1", at)).await.unwrap());
    let later = at + chrono::Duration::seconds(3);
    assert!(deaths::record(&pool, &death("c2", later)).await.unwrap());
    let since = at - chrono::Duration::minutes(10);
    let recent = deaths::recent(&pool, id, "web-1", since).await.unwrap();
    assert_eq!(recent.count, 2);
    assert_eq!(
        recent.last.map(|t| t.timestamp_micros()),
        Some(later.timestamp_micros())
    );
    let none = deaths::recent(&pool, id, "web-1", later + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!((none.count, none.last), (0, None));
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_deployment_queues_its_callback_once_when_it_finishes_whoever_ends_it(pool: PgPool) {
    use slipway_store::callbacks;
    let mut hello = new_app("hello");
    hello.callback_url = Some("https://ci.example.com/slipway".into());
    let (app, first) = apps::create(&pool, Owner::Any, &hello).await.unwrap();
    let queued = || async {
        let rows: Vec<(uuid::Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT subject_id, event, payload FROM callback_deliveries ORDER BY created_at, id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows
    };
    assert!(queued().await.is_empty(), "queued is not finished");

    // A worker releases it: running is finished.
    let lease = claim(&pool, "w", LEASE).await.unwrap().lease;
    lease
        .advance(DeploymentStatus::Cloning, DeploymentStatus::Releasing)
        .await
        .unwrap();
    lease.promote().await.unwrap();
    // A worker fails the next one.
    let second = deployments::create(&pool, app.id, None).await.unwrap();
    let lease = claim(&pool, "w", LEASE).await.unwrap().lease;
    assert!(
        lease
            .finish(DeploymentStatus::Failed, Some(Phase::Build), "x")
            .await
            .unwrap()
    );
    // The third replaces the first, which had finished already: no second event for it.
    let third = deployments::create(&pool, app.id, None).await.unwrap();
    let lease = claim(&pool, "w", LEASE).await.unwrap().lease;
    lease
        .advance(DeploymentStatus::Cloning, DeploymentStatus::Releasing)
        .await
        .unwrap();
    lease.promote().await.unwrap();
    assert_eq!(
        deployments::get(&pool, first.id).await.unwrap().status,
        DeploymentStatus::Superseded
    );
    // A queued one superseded by a newer request, and one cancelled from the API.
    let fourth = deployments::create(&pool, app.id, None).await.unwrap();
    let fifth = deployments::create(&pool, app.id, None).await.unwrap();
    deployments::cancel(&pool, fifth.id).await.unwrap();

    let got = queued().await;
    let subjects: Vec<uuid::Uuid> = got.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        subjects,
        [first.id, second.id, third.id, fourth.id, fifth.id]
    );
    assert!(
        got.iter().all(
            |(_, event, payload)| event == callbacks::DEPLOYMENT_FINISHED && payload.is_none()
        )
    );

    // An app without callback_url queues nothing, through the trigger or directly.
    let (quiet, quiet_first) = apps::create(&pool, Owner::Any, &new_app("quiet"))
        .await
        .unwrap();
    deployments::cancel(&pool, quiet_first.id).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let subject = uuid::Uuid::now_v7();
    let none = callbacks::enqueue(
        &mut conn,
        quiet.id,
        "test_run.finished",
        subject,
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(none, None);
    // Another event, with its payload given: kept as given.
    let id = callbacks::enqueue(
        &mut conn,
        app.id,
        "test_run.finished",
        subject,
        Some(r#"{"id":"t","status":"passed"}"#),
    )
    .await
    .unwrap();
    assert!(id.is_some());
    let last = queued().await.pop().unwrap();
    assert_eq!(
        last,
        (
            subject,
            "test_run.finished".to_owned(),
            Some(r#"{"id":"t","status":"passed"}"#.to_owned())
        )
    );
}
