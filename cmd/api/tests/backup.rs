//! scripts/backup.sh and scripts/restore.sh against a real Postgres: a database filled
//! through the store is dumped, dropped, restored, and must read back as it was written,
//! config vars still opening with the same key. Restoring over Slipway's tables is
//! refused without --force and changes nothing; with --force it brings the backup back.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use slipway_core::crypto::{self, Cipher};
use slipway_core::token::NewToken;
use slipway_core::{DeploymentStatus, Phase};
use slipway_store::apps::{self, AppRow, NewApp, Owner};
use slipway_store::config_vars::{self, Applied, Change};
use slipway_store::containers::{self, NewContainer};
use slipway_store::deployments::{self, DeploymentRow};
use slipway_store::events;
use slipway_store::lease::Lease;
use slipway_store::logs::{self, NewLine};
use slipway_store::page::{self, PageRequest};
use slipway_store::queue::{self, Claim};
use slipway_store::users::{self, UserRow};
use sqlx::Connection as _;
use sqlx::PgPool;
use sqlx::types::chrono::{DateTime, Utc};
use uuid::Uuid;

const BACKUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/backup.sh");
const RESTORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/restore.sh");
const KEY: [u8; 32] = *b"slipway-backup-test-key-32-bytes";
const LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// Everything the test wrote, as it expects to read it back.
struct Written {
    user: UserRow,
    token: NewToken,
    /// By name, as `apps::create` and `set_scale` returned them.
    apps: BTreeMap<String, AppRow>,
    /// Every deployment of those apps, oldest first, with the status it was left in.
    deployments: Vec<(Uuid, DeploymentStatus)>,
    /// (app, name) → the plaintext value.
    config: BTreeMap<(Uuid, String), String>,
    /// The released deployment and the values its config snapshot must open to.
    snapshot: (Uuid, BTreeMap<String, String>),
    /// Deployment → its log lines (at, stream, line) in order.
    logs: BTreeMap<Uuid, Vec<(DateTime<Utc>, String, String)>>,
}

fn new_app(name: &str, branch: Option<&str>, port: Option<u16>) -> NewApp {
    NewApp {
        name: name.into(),
        repo_url: Some(format!("https://git.example.com/dora/{name}.git")),
        branch: branch.map(Into::into),
        dockerfile: "docker/Dockerfile".into(),
        port,
        spec_path: "deploy/slipway.toml".into(),
        callback_url: None,
    }
}

/// Seals and stores config vars as the API does: bound to their app and name.
async fn set_config(
    pool: &PgPool,
    cipher: &Cipher,
    written: &mut Written,
    app: Uuid,
    vars: &[(&str, &str)],
) -> Applied {
    let mut change = Change::default();
    for (name, value) in vars {
        let sealed = cipher
            .seal(&crypto::config_var_aad(&app.to_string(), name), value)
            .unwrap();
        change.set.push(((*name).to_owned(), sealed));
        written
            .config
            .insert((app, (*name).to_owned()), (*value).to_owned());
    }
    config_vars::change(pool, app, &change, 500)
        .await
        .unwrap()
        .unwrap()
}

/// Appends log lines at fixed, microsecond-precise times (what Postgres keeps).
async fn log(
    pool: &PgPool,
    written: &mut Written,
    deployment: Uuid,
    lines: &[(&'static str, String)],
) {
    let entries = written.logs.entry(deployment).or_default();
    let mut batch = Vec::new();
    for (stream, line) in lines {
        let n = i64::try_from(entries.len()).unwrap();
        let at = DateTime::from_timestamp_micros(1_795_430_100_123_456 + n * 1_234_567).unwrap();
        batch.push(NewLine {
            at,
            stream,
            line: line.clone(),
        });
        // Postgres text holds no NUL: the store keeps the line with U+FFFD instead.
        entries.push((at, (*stream).to_owned(), line.replace('\0', "\u{FFFD}")));
    }
    logs::append(pool, deployment, &batch).await.unwrap();
}

async fn claim(pool: &PgPool, worker: &str) -> (DeploymentRow, Lease) {
    match queue::claim(pool, worker, LEASE).await.unwrap() {
        Claim::Claimed(job) => (job.deployment, job.lease),
        Claim::EmptyQueue => panic!("nothing to claim"),
    }
}

/// A user, two apps with config vars, a released build, a failed one, a queued one and
/// a queued config release, container records and log lines: through the store's own
/// functions, as the API and the worker write them.
async fn populate(pool: &PgPool, cipher: &Cipher) -> Written {
    let token = slipway_core::token::generate();
    let (user, _) = users::create(pool, "dora", false, &token).await.unwrap();
    users::add_token(pool, user.id, "ci", &slipway_core::token::generate(), None)
        .await
        .unwrap();
    let owner = Owner::User(user.id);
    let (web, web_first) = apps::create(pool, owner, &new_app("web", Some("main"), Some(8080)))
        .await
        .unwrap();
    let (api, api_first) = apps::create(pool, owner, &new_app("api", None, None))
        .await
        .unwrap();
    let mut written = Written {
        user,
        token,
        apps: BTreeMap::new(),
        deployments: Vec::new(),
        config: BTreeMap::new(),
        snapshot: (web_first.id, BTreeMap::new()),
        logs: BTreeMap::new(),
    };

    // The same name in both apps with different values: after a restore each must still
    // open under its own app (the associated data binds it there).
    let web_vars = [
        (
            "DATABASE_URL",
            "postgres://web:s3cret@db:5432/web?sslmode=require",
        ),
        ("GREETING", "héllo, wörld ✓ — \"quoted\" 'single'"),
        (
            "PEM",
            "-----BEGIN KEY-----\nAAAA\tBBBB\\n\r\n-----END KEY-----\n",
        ),
    ];
    let applied = set_config(pool, cipher, &mut written, web.id, &web_vars).await;
    assert!(
        matches!(applied, Applied::Pending(id) if id == web_first.id),
        "{applied:?}"
    );
    set_config(
        pool,
        cipher,
        &mut written,
        api.id,
        &[
            ("DATABASE_URL", "postgres://api:other@db/api"),
            ("EMPTY", ""),
        ],
    )
    .await;

    // web's first deployment runs through the whole pipeline and serves.
    let (d, lease) = claim(pool, "worker-1").await;
    assert_eq!(d.id, web_first.id, "the oldest deployment is claimed first");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    lease
        .set_commit(sha, "First commit\n\nWith a body.")
        .await
        .unwrap();
    log(
        pool,
        &mut written,
        d.id,
        &[
            (
                "git",
                "Fetching main from https://git.example.com/dora/web.git".into(),
            ),
            ("git", format!("HEAD is now at {sha}")),
        ],
    )
    .await;
    assert!(
        lease
            .advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
            .await
            .unwrap()
    );
    let image = format!("slipway-web:{sha}-5f3e2a");
    lease.set_image(&image, 8080).await.unwrap();
    let spec = serde_json::json!({
        "port": 8080,
        "processes": {"web": {"command": ["busybox", "httpd", "-f"], "replicas": 2}},
        "healthcheck": {"path": "/healthz", "timeout_ms": 60000},
    });
    lease.set_spec(&spec).await.unwrap();
    log(
        pool,
        &mut written,
        d.id,
        &[
            ("build", "Step 1/3 : FROM scratch".into()),
            (
                "build",
                " ---> Using cache\ttab\\backslash \"quotes\" ünïcödé 🚀".into(),
            ),
            ("build", "a NUL \0 byte, then more".into()),
            ("build", "x".repeat(5000)),
            ("build", String::new()),
            ("slipway", "built in 1.2s".into()),
        ],
    )
    .await;
    assert!(
        lease
            .advance(DeploymentStatus::Building, DeploymentStatus::Releasing)
            .await
            .unwrap()
    );
    lease.snapshot_config().await.unwrap();
    written.snapshot = (
        d.id,
        web_vars
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    );
    for replica in 1..=2u16 {
        containers::record(
            pool,
            d.id,
            &NewContainer {
                name: &format!("web-web-{replica}-{}", &d.id.simple().to_string()[..8]),
                container_id: &format!("{replica:0>64}"),
                process: "web",
                replica: u32::from(replica),
                ip: Some(&format!("172.18.0.{}", 10 + replica)),
                port: 8080,
                host_port: (replica == 1).then_some(49153),
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(lease.promote().await.unwrap(), Some(vec![]));
    log(
        pool,
        &mut written,
        d.id,
        &[("slipway", "web-1 and web-2 healthy; serving".into())],
    )
    .await;
    events::note(
        pool,
        d.id,
        "web-web-2 exited with code 137 and was restarted",
    )
    .await
    .unwrap();

    // A config change releases the running image again: a queued config release.
    let applied = set_config(
        pool,
        cipher,
        &mut written,
        web.id,
        &[("GREETING", "hi again")],
    )
    .await;
    let Applied::Release(config_release) = applied else {
        panic!("a config change of a running app queues a release: {applied:?}");
    };
    let web_scaled = apps::set_scale(pool, web.id, &BTreeMap::from([("web".to_owned(), 3)]))
        .await
        .unwrap();

    // api's first build fails; a second, for a tag, waits in the queue.
    let (d, lease) = claim(pool, "worker-2").await;
    assert_eq!(d.id, api_first.id);
    lease
        .set_commit(
            "fedcba9876543210fedcba9876543210fedcba98",
            "Break the build",
        )
        .await
        .unwrap();
    assert!(
        lease
            .advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
            .await
            .unwrap()
    );
    log(
        pool,
        &mut written,
        d.id,
        &[
            ("build", "Step 1/2 : FROM rust:1.95".into()),
            ("build", "error: could not compile `api`".into()),
            ("slipway", "build failed: exit code 101".into()),
        ],
    )
    .await;
    assert!(
        lease
            .finish(
                DeploymentStatus::Failed,
                Some(Phase::Build),
                "the build failed: error: could not compile `api` (exit code 101)",
            )
            .await
            .unwrap()
    );
    let api_second = deployments::create(pool, api.id, Some("v1.2"))
        .await
        .unwrap();

    written.apps.insert(web_scaled.name.clone(), web_scaled);
    written.apps.insert(api.name.clone(), api);
    written.deployments = vec![
        (web_first.id, DeploymentStatus::Running),
        (api_first.id, DeploymentStatus::Failed),
        (config_release.id, DeploymentStatus::Pending),
        (api_second.id, DeploymentStatus::Pending),
    ];
    written
}

fn debug_eq<T: Debug>(what: &str, got: &T, want: &T) {
    assert_eq!(format!("{got:#?}"), format!("{want:#?}"), "{what}");
}

/// Reads everything back through the store and compares it with what was written.
async fn check_written(pool: &PgPool, cipher: &Cipher, written: &Written) {
    let all = PageRequest::first(page::MAX_LIMIT).unwrap();
    let everyone = users::list(pool, &all).await.unwrap().items;
    assert_eq!(everyone.len(), 1, "{everyone:?}");
    debug_eq("the user", &everyone[0], &written.user);

    let apps = apps::list(pool, Owner::User(written.user.id), &all)
        .await
        .unwrap()
        .items;
    let mut names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["api", "web"]);
    for app in &apps {
        debug_eq(&format!("app {}", app.name), app, &written.apps[&app.name]);
    }
    assert_eq!(
        written.apps["web"].scale.0,
        BTreeMap::from([("web".to_owned(), 3)])
    );

    let mut found = Vec::new();
    for app in &apps {
        for d in deployments::list_for_app(pool, app.id, &all)
            .await
            .unwrap()
            .items
        {
            assert!(
                !events::of_deployment(pool, d.id).await.unwrap().is_empty(),
                "deployment {} has its history",
                d.id
            );
            found.push((d.created_at, d.id, d.status));
        }
    }
    found.sort_by_key(|(at, id, _)| (*at, *id));
    let found: Vec<(Uuid, DeploymentStatus)> =
        found.into_iter().map(|(_, id, s)| (id, s)).collect();
    assert_eq!(found, written.deployments, "deployments and their statuses");

    let (released, values) = &written.snapshot;
    let release = deployments::get(pool, *released).await.unwrap();
    assert_eq!(
        release.commit_sha.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(
        release.commit_message.as_deref(),
        Some("First commit\n\nWith a body.")
    );
    assert_eq!(release.port, Some(8080));
    assert!(release.released_at.is_some() && release.image.is_some());
    assert_eq!(
        release
            .spec
            .as_ref()
            .map(|s| &s.0["processes"]["web"]["replicas"]),
        Some(&serde_json::json!(2))
    );
    let containers = containers::list(pool, release.id).await.unwrap();
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(containers[0].host_port, Some(49153));
    let events = events::of_deployment(pool, release.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message.as_deref()
                == Some("web-web-2 exited with code 137 and was restarted")),
        "{events:?}"
    );
    let snapshot = release.config_snapshot.as_ref().unwrap();
    let opened: BTreeMap<String, String> = snapshot
        .0
        .iter()
        .map(|(name, b64)| {
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            let aad = crypto::config_var_aad(&release.app_id.to_string(), name);
            (name.clone(), cipher.open(&aad, &sealed).unwrap())
        })
        .collect();
    assert_eq!(&opened, values, "the release's config snapshot");

    let mut config = BTreeMap::new();
    for app in &apps {
        for (name, sealed) in config_vars::list(pool, app.id).await.unwrap() {
            let aad = crypto::config_var_aad(&app.id.to_string(), &name);
            let value = cipher
                .open(&aad, &sealed)
                .unwrap_or_else(|e| panic!("config var {name} of {}: {e}", app.name));
            config.insert((app.id, name), value);
        }
    }
    assert_eq!(
        config, written.config,
        "config vars, opened with the same key"
    );

    // Line by line, so that a difference is shown without pages of the 5000-byte line.
    let show = |(at, stream, line): &(DateTime<Utc>, String, String)| {
        let cut: String = line.chars().take(100).collect();
        format!("{at:?} {stream} {cut:?} ({} bytes)", line.len())
    };
    for (id, _) in &written.deployments {
        let got: Vec<_> = logs::page(pool, *id, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.at, l.stream, l.line))
            .collect();
        let want = written.logs.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(got.len(), want.len(), "log lines of deployment {id}");
        for (i, (got, want)) in got.iter().zip(want).enumerate() {
            assert!(
                got == want,
                "log line {i} of deployment {id}:\n got {}\nwant {}",
                show(got),
                show(want)
            );
        }
    }
}

/// Every object of the public schema and every row of every table (as JSON text), so
/// that two databases can be compared whole.
#[derive(Debug, PartialEq)]
struct Snapshot {
    schema: Vec<String>,
    tables: BTreeMap<String, Vec<String>>,
}

async fn snapshot(pool: &PgPool) -> Snapshot {
    let schema: Vec<String> = sqlx::query_scalar(
        "SELECT d FROM (
             SELECT 'relation ' || c.relname || ' ' || c.relkind::text AS d
               FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
             UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
                              || pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid)
               FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
             UNION ALL SELECT 'function ' || pg_get_functiondef(oid)
               FROM pg_proc WHERE pronamespace = 'public'::regnamespace
             UNION ALL SELECT 'enum ' || t.typname || ' '
                              || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
               FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
              WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname
             UNION ALL SELECT 'sequence ' || sequencename || ' ' || coalesce(last_value::text, 'unused')
               FROM pg_sequences WHERE schemaname = 'public'
             UNION ALL SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type
                              || ' ' || is_nullable || ' ' || coalesce(column_default, '')
               FROM information_schema.columns WHERE table_schema = 'public'
         ) s ORDER BY d",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut tables = BTreeMap::new();
    for name in names {
        let sql = format!(
            "SELECT coalesce(array_agg(to_jsonb(t)::text ORDER BY to_jsonb(t)::text), '{{}}')
             FROM public.\"{}\" t",
            name.replace('"', "\"\"")
        );
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .unwrap();
        tables.insert(name, rows);
    }
    Snapshot { schema, tables }
}

/// Compares two snapshots, naming the first difference (rows can be long: cut short).
fn assert_same(got: &Snapshot, want: &Snapshot, context: &str) {
    let short = |s: &String| s.chars().take(300).collect::<String>();
    let diff = |got: &[String], want: &[String]| {
        let (got, want): (BTreeSet<_>, BTreeSet<_>) = (got.iter().collect(), want.iter().collect());
        let extra: Vec<String> = got.difference(&want).map(|s| short(s)).collect();
        let missing: Vec<String> = want.difference(&got).map(|s| short(s)).collect();
        format!("missing: {missing:#?}\nunexpected: {extra:#?}")
    };
    assert!(
        got.schema == want.schema,
        "{context}: the schema differs\n{}",
        diff(&got.schema, &want.schema)
    );
    let names = |s: &Snapshot| s.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{context}: the tables differ");
    for (name, rows) in &want.tables {
        assert!(
            got.tables[name] == *rows,
            "{context}: table {name} differs ({} rows, expected {})\n{}",
            got.tables[name].len(),
            rows.len(),
            diff(&got.tables[name], rows)
        );
    }
}

struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs a script with DATABASE_URL set, from a directory other than the repository.
async fn run(script: &'static str, args: &[&str], database_url: &str) -> Ran {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let database_url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("bash")
            .arg(script)
            .args(&args)
            .env("DATABASE_URL", &database_url)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        Ran {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("slipway-backup-test-{}", Uuid::new_v4()));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `slipway-YYYYMMDDTHHMMSSZ.dump`
fn is_backup_name(name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix("slipway-")
        .and_then(|s| s.strip_suffix(".dump"))
    else {
        return false;
    };
    stamp.len() == 16
        && stamp.char_indices().all(|(i, c)| match i {
            8 => c == 'T',
            15 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

async fn database_exists(server: &str, db: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(db)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    found.is_some()
}

async fn connect(url: &str) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the restored database: {e}"))
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_backup_restores_everything_and_a_restore_never_overwrites_by_accident(pool: PgPool) {
    let url = slipway_testkit::database_url_of(&pool).await;
    let (server, db) = url
        .rsplit_once('/')
        .map(|(s, d)| (s.to_owned(), d.to_owned()))
        .unwrap();
    let cipher = Cipher::new(&KEY);
    let written = populate(&pool, &cipher).await;
    check_written(&pool, &cipher, &written).await;
    let before = snapshot(&pool).await;

    let dir = TempDir::new();
    let dir_arg = dir.0.to_str().unwrap();

    // A dump that fails leaves nothing behind, not even a partial file.
    let missing = format!(
        "{server}/slipway_backup_test_missing_{}",
        Uuid::new_v4().simple()
    );
    let failed = run(BACKUP, &[dir_arg], &missing).await;
    assert!(
        !failed.success,
        "a backup of a missing database succeeded: {}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("no backup was written"),
        "{}",
        failed.stderr
    );
    assert_eq!(failed.stdout, "", "a failed backup prints no path");
    assert_eq!(
        entries(&dir.0),
        Vec::<String>::new(),
        "a failed backup left files"
    );

    let backup = run(BACKUP, &[dir_arg], &url).await;
    assert!(backup.success, "backup.sh failed:\n{}", backup.stderr);
    assert_eq!(
        backup.stdout.lines().count(),
        1,
        "stdout: {:?}",
        backup.stdout
    );
    let file = PathBuf::from(backup.stdout.strip_suffix('\n').unwrap_or(&backup.stdout));
    assert_eq!(
        file.parent(),
        Some(dir.0.as_path()),
        "stdout: {:?}",
        backup.stdout
    );
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(is_backup_name(&name), "{name}");
    assert_eq!(
        entries(&dir.0),
        [name.as_str()],
        "only the backup is left in the directory"
    );
    let meta = std::fs::metadata(&file).unwrap();
    assert!(meta.len() > 0);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        meta.permissions().mode() & 0o077,
        0,
        "the backup is readable by its owner only"
    );
    let file_arg = file.to_str().unwrap().to_owned();

    // The database goes away entirely, then comes back from the file.
    pool.close().await;
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{}\"",
        db.replace('"', "\"\"")
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    assert!(!database_exists(&server, &db).await, "{db} was not dropped");

    let restore = run(RESTORE, &[&file_arg], &url).await;
    assert!(restore.success, "restore.sh failed:\n{}", restore.stderr);
    assert!(
        restore.stderr.contains(&format!("created database {db}")),
        "{}",
        restore.stderr
    );
    let pool = connect(&url).await;
    check_written(&pool, &cipher, &written).await;
    assert_same(
        &snapshot(&pool).await,
        &before,
        "after restoring into a new database",
    );

    // Over a database that has Slipway's tables, without --force: refused, untouched.
    // A change made after the backup shows whether anything was restored over it.
    let (marker, _) = apps::create(
        &pool,
        Owner::User(written.user.id),
        &new_app("marker", None, None),
    )
    .await
    .unwrap();
    let changed = snapshot(&pool).await;
    let refused = run(RESTORE, &[&file_arg], &url).await;
    assert!(
        !refused.success,
        "restore.sh without --force restored over a database:\n{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("already has Slipway's tables")
            && refused.stderr.contains("--force")
            && refused.stderr.contains("nothing was restored"),
        "the refusal says why and what to do:\n{}",
        refused.stderr
    );
    assert_same(&snapshot(&pool).await, &changed, "after a refused restore");
    assert_eq!(
        apps::find(&pool, Owner::Any, "marker").await.unwrap().id,
        marker.id
    );

    // With --force the backup replaces what is there. The API would be stopped for this:
    // its connections cache type ids that the restore recreates, so reconnect after it.
    pool.close().await;
    let forced = run(RESTORE, &["--force", &file_arg], &url).await;
    assert!(
        forced.success,
        "restore.sh --force failed:\n{}",
        forced.stderr
    );
    let pool = connect(&url).await;
    assert_same(&snapshot(&pool).await, &before, "after restore --force");
    check_written(&pool, &cipher, &written).await;

    // The restored database keeps working: sequences continue past the restored rows,
    // new deployments queue, and the user's token still signs in.
    let (released, _) = written.snapshot;
    let last_seq = logs::page(&pool, released, 0, 10_000)
        .await
        .unwrap()
        .last()
        .unwrap()
        .seq;
    logs::append(
        &pool,
        released,
        &[NewLine {
            at: Utc::now(),
            stream: "slipway",
            line: "after the restore".into(),
        }],
    )
    .await
    .unwrap();
    let lines = logs::page(&pool, released, last_seq, 10).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].seq > last_seq);
    let api = &written.apps["api"];
    deployments::create(&pool, api.id, None).await.unwrap();
    let caller = users::authenticate(&pool, &written.token.hash)
        .await
        .unwrap();
    assert_eq!(caller.map(|c| c.user_id), Some(written.user.id));
    pool.close().await;
}
