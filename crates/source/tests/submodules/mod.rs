//! Submodules: fetched only when asked for, each held to the rules of an app's
//! `repo_url`, within the repository's size limit, and written into the context in
//! place of their gitlinks.

use std::sync::atomic::AtomicBool;

use slipway_source::{Fetched, SourceError, SubmoduleFetch, fetch, fetch_submodules};
use slipway_testkit::TestRepo;

use super::{Entry, context, fetch_ok, file, incompressible};

const DOCKERFILE: (&str, &[u8]) = ("Dockerfile", b"FROM scratch\n");

fn gitmodules(entries: &[(&str, &str)]) -> Vec<u8> {
    entries
        .iter()
        .map(|(path, url)| format!("[submodule \"{path}\"]\n\tpath = {path}\n\turl = {url}\n"))
        .collect::<String>()
        .into_bytes()
}

/// An app whose commit has `.gitmodules` declaring `entries` and a gitlink for each
/// path, naming the matching commit of `commits`.
fn app_with(entries: &[(&str, &str)], commits: &[&str], extra: &[(&str, &[u8])]) -> TestRepo {
    let declared = gitmodules(entries);
    let mut files = vec![DOCKERFILE, (".gitmodules", declared.as_slice())];
    files.extend_from_slice(extra);
    let app = TestRepo::new(&files);
    for ((path, _), commit) in entries.iter().zip(commits) {
        app.gitlink("add a submodule", path, commit);
    }
    app
}

struct Outcome {
    result: Result<Fetched, SourceError>,
    log: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Fetches `app` and then its submodules, as the worker does, with `repo_url` as the
/// app's URL and both fetches sharing `max_bytes`.
fn fetch_all(app: &TestRepo, repo_url: &str, max_bytes: u64, allow_local: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let mut log = Vec::new();
    let result = fetch(
        &app.url(),
        None,
        None,
        dir.path(),
        max_bytes,
        &cancel,
        &mut |l| log.push(l),
    )
    .and_then(|fetched| {
        let how = SubmoduleFetch {
            repo_url,
            dest: dir.path(),
            max_bytes,
            allow_local,
        };
        fetch_submodules(&fetched, &how, &cancel, &mut |l| log.push(l))
    });
    Outcome {
        result,
        log,
        _dir: dir,
    }
}

#[test]
fn enabled_submodules_are_in_the_context_at_their_commits() {
    // Gitlinks name older commits, one of them on no branch or tag at all (only a pull
    // request ref leads to it, as on GitHub), so neither is what a default clone gives.
    // (A local remote sends what every ref reaches; a server is asked for it by id.)
    let lib = TestRepo::new(&[("README", b"lib v1"), ("src/lib.txt", b"one")]);
    let lib_v1 = lib.head();
    lib.commit("v2", &[("README", b"lib v2")]);
    let theme = TestRepo::new(&[("theme.css", b"body {}")]);
    theme.branch("pr");
    let theme_pr = theme.commit_on_branch("pr", "pull request", &[("theme.css", b"pr")]);
    {
        let repo = git2::Repository::open(theme.path()).unwrap();
        let oid = git2::Oid::from_str(&theme_pr).unwrap();
        repo.reference("refs/pull/1/head", oid, false, "a pull request")
            .unwrap();
        repo.find_branch("pr", git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
    }
    // The theme's URL is relative, as in most repositories: a sibling of the app's.
    let theme_dir = theme.path().file_name().unwrap().to_string_lossy();
    let relative = format!("../{theme_dir}");
    let app = app_with(
        &[("vendor/lib", &lib.url()), ("www/theme", &relative)],
        &[&lib_v1, &theme_pr],
        &[(".dockerignore", b"vendor/lib/src\n")],
    );
    let out = fetch_all(&app, &app.url(), u64::MAX, true);
    let fetched = out.result.unwrap();
    let log = out.log;
    let subs = fetched.submodules.as_ref().unwrap();
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert_eq!(subs["vendor/lib"].commit, lib_v1);
    assert_eq!(subs["www/theme"].commit, theme_pr);
    assert!(
        log.iter().any(|l| l
            == &format!(
                "Fetching submodule vendor/lib from {} (commit {})",
                lib.url(),
                &lib_v1[..7]
            )),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with(&format!(
            "Fetching submodule www/theme from {} (",
            theme.url()
        ))),
        "the relative URL resolved against the app's: {log:?}"
    );

    let (entries, summary, _, context_log) = context(&fetched, "Dockerfile");
    let paths: Vec<&str> = entries.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            ".dockerignore",
            ".gitmodules",
            "Dockerfile",
            "vendor/lib/README",
            "www/theme/theme.css"
        ],
        "the same .dockerignore covers the submodules' files: {context_log:?}"
    );
    assert_eq!(entries["vendor/lib/README"], file("lib v1"));
    assert_eq!(entries["www/theme/theme.css"], file("pr"));
    assert_eq!(summary.ignored, 1);
    assert!(
        !context_log.iter().any(|l| l.contains("skipping")),
        "{context_log:?}"
    );
}

#[test]
fn without_the_setting_submodules_are_skipped_saying_how_to_enable_them() {
    let lib = TestRepo::new(&[("README", b"lib")]);
    let app = app_with(&[("vendor/lib", &lib.url())], &[&lib.head()], &[]);
    let (fetched, _dir) = fetch_ok(&app, None);
    assert!(fetched.submodules.is_none());
    let (entries, _, _, log) = context(&fetched, "Dockerfile");
    assert!(
        !entries.keys().any(|p| p.starts_with("vendor")),
        "{entries:?}"
    );
    assert_eq!(
        log,
        ["skipping submodule vendor/lib: submodules are not fetched \
          (set [build] submodules = true in slipway.toml to include them)"]
    );
}

#[test]
fn undeclared_nested_and_ignored_gitlinks_are_not_fetched() {
    let inner = TestRepo::new(&[("deep.txt", b"deep")]);
    // A submodule with a submodule of its own.
    let lib = app_with(&[("inner", &inner.url())], &[&inner.head()], &[]);
    let unreachable = "0123456789abcdef0123456789abcdef01234567";
    let app = app_with(
        &[
            ("lib", &lib.url()),
            ("ignored", "https://169.254.169.254/x.git"),
        ],
        &[&lib.head(), unreachable],
        &[(".dockerignore", b"ignored\n")],
    );
    app.gitlink(
        "a gitlink .gitmodules does not declare",
        "orphan",
        unreachable,
    );
    let out = fetch_all(&app, &app.url(), u64::MAX, true);
    let fetched = out.result.unwrap();
    assert!(
        out.log
            .iter()
            .any(|l| l == "Submodule ignored is left out by .dockerignore: not fetched"),
        "{:?}",
        out.log
    );
    let subs = fetched.submodules.as_ref().unwrap();
    assert_eq!(subs.keys().collect::<Vec<_>>(), ["lib"]);
    let (entries, summary, _, log) = context(&fetched, "Dockerfile");
    assert!(entries.contains_key("lib/Dockerfile"), "{entries:?}");
    assert!(!entries.keys().any(|p| p.starts_with("lib/inner/")));
    assert!(!entries.keys().any(|p| p.starts_with("orphan")));
    assert_eq!(summary.ignored, 1, "the ignored submodule");
    assert_eq!(
        log,
        [
            "skipping nested submodule lib/inner: submodules of submodules are not fetched",
            "skipping submodule orphan: .gitmodules has no entry for it",
        ]
    );
}

#[test]
fn forbidden_submodule_urls_are_refused_naming_the_path_and_the_rule() {
    let lib = TestRepo::new(&[("README", b"lib")]);
    let sha = lib.head();
    for (url, rule) in [
        (
            lib.url(),
            "local repositories (file:// URLs and paths) are disabled on this server",
        ),
        (
            lib.path().display().to_string(),
            "SLIPWAY_ALLOW_LOCAL_REPOS=true",
        ),
        (
            "http://169.254.169.254/latest/meta-data.git".to_owned(),
            "link-local addresses (169.254.0.0/16, cloud metadata) are refused",
        ),
        (
            "https://metadata.google.internal/x.git".to_owned(),
            "cloud metadata hosts are refused",
        ),
        ("https://127.0.0.1/x.git".to_owned(), "loopback"),
        (
            "ftp://example.com/x.git".to_owned(),
            "ftp:// is not supported",
        ),
        // Relative, resolved against the app's file:// URL: local too.
        ("../lib".to_owned(), "local repositories"),
    ] {
        let app = app_with(&[("vendor/lib", &url)], &[&sha], &[]);
        let out = fetch_all(&app, &app.url(), u64::MAX, false);
        let err = out.result.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("submodule vendor/lib: cannot fetch from "),
            "{url}: {text}"
        );
        assert!(text.contains(rule), "{url}: {text}");
        assert!(
            matches!(&err, SourceError::Submodule { path, reason }
                if path == "vendor/lib" && matches!(**reason, SourceError::UrlRefused { .. })),
            "{err:?}"
        );
        assert!(
            !out.log.iter().any(|l| l.starts_with("Fetching submodule")),
            "nothing was fetched: {:?}",
            out.log
        );
    }
}

#[test]
fn credentials_in_submodule_urls_never_reach_the_log_or_the_error() {
    let lib = TestRepo::new(&[("README", b"lib")]);
    let sha = lib.head();
    let cases = [
        // Its own credentials; the host does not resolve, so git fails.
        (
            "https://bob:hunter2@no-such-host.invalid/team/lib.git",
            "https://example.com/team/app.git",
            "hunter2",
            "could not fetch https://bob:***@no-such-host.invalid/team/lib.git: ",
        ),
        (
            "https://ghp_t0ken@169.254.169.254/team/lib.git",
            "https://example.com/team/app.git",
            "ghp_t0ken",
            "cannot fetch from https://***@169.254.169.254/team/lib.git: link-local",
        ),
        // The app's credentials, inherited by a relative URL.
        (
            "../lib.git",
            "https://alice:s3cret@no-such-host.invalid/team/app.git",
            "s3cret",
            "could not fetch https://alice:***@no-such-host.invalid/team/lib.git: ",
        ),
    ];
    for (url, repo_url, secret, expected) in cases {
        let app = app_with(&[("vendor/lib", url)], &[&sha], &[]);
        let out = fetch_all(&app, repo_url, u64::MAX, false);
        let err = out.result.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("submodule vendor/lib: {expected}")),
            "{text}"
        );
        let debug = format!("{err:?}");
        let log = out.log.join("\n");
        assert!(
            !text.contains(secret) && !debug.contains(secret) && !log.contains(secret),
            "{text}\n{debug}\n{log}"
        );
    }
}

#[test]
fn a_submodule_commit_nowhere_in_its_repository_is_named() {
    let lib = TestRepo::new(&[("README", b"lib")]);
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let app = app_with(&[("vendor/lib", &lib.url())], &[missing], &[]);
    let err = fetch_all(&app, &app.url(), u64::MAX, true)
        .result
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "submodule vendor/lib: commit {missing} is not in {}: it is on no branch or tag \
             there, and the server did not send it when asked for it by id",
            lib.url()
        )
    );
}

#[test]
fn the_repository_and_its_submodules_share_the_size_limit() {
    let big = incompressible();
    let lib = TestRepo::new(&[("blob.bin", &big)]);
    let app = app_with(&[("vendor/lib", &lib.url())], &[&lib.head()], &[]);
    // The app alone fits in 100 KiB; with its 200 KiB submodule it does not.
    let err = fetch_all(&app, &app.url(), 100 * 1024, true)
        .result
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::Submodule { reason, .. }
            if matches!(**reason, SourceError::TooLarge { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "submodule vendor/lib: the repository with its submodules is larger than 100.0 KiB, \
         the most this server accepts (SLIPWAY_MAX_REPO_SIZE)"
    );
    let out = fetch_all(&app, &app.url(), 1024 * 1024, true);
    let fetched = out.result.unwrap();
    assert!(
        fetched.received_bytes > 200 * 1024,
        "both fetches are counted: {}",
        fetched.received_bytes
    );
    let (entries, ..) = context(&fetched, "Dockerfile");
    assert!(matches!(&entries["vendor/lib/blob.bin"], Entry::File { data, .. } if *data == big));
}

#[test]
fn a_broken_gitmodules_names_its_line_and_a_missing_url_its_submodule() {
    let lib = TestRepo::new(&[("README", b"lib")]);
    let app = TestRepo::new(&[
        DOCKERFILE,
        (
            ".gitmodules",
            b"[submodule \"lib\"]\n\tpath = lib\n\turl = \"x\n",
        ),
    ]);
    app.gitlink("lib", "lib", &lib.head());
    let err = fetch_all(&app, &app.url(), u64::MAX, true)
        .result
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid .gitmodules line 3: a quote is not closed before the end of the line"
    );
    app.commit(
        "no url",
        &[(".gitmodules", b"[submodule \"lib\"]\n\tpath = lib\n")],
    );
    let err = fetch_all(&app, &app.url(), u64::MAX, true)
        .result
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "submodule lib: .gitmodules gives it no url"
    );
}

#[test]
fn a_commit_without_gitlinks_needs_no_gitmodules() {
    let app = TestRepo::new(&[DOCKERFILE, (".gitmodules", b"[broken")]);
    let out = fetch_all(&app, &app.url(), u64::MAX, false);
    let fetched = out.result.unwrap();
    assert_eq!(fetched.submodules.as_ref().map(|s| s.len()), Some(0));
}

#[test]
fn a_cancelled_submodule_fetch_stops() {
    let lib = TestRepo::new(&[("README", b"lib")]);
    let app = app_with(&[("vendor/lib", &lib.url())], &[&lib.head()], &[]);
    let (fetched, dir) = fetch_ok(&app, None);
    let how = SubmoduleFetch {
        repo_url: &app.url(),
        dest: dir.path(),
        max_bytes: u64::MAX,
        allow_local: true,
    };
    let err = fetch_submodules(&fetched, &how, &AtomicBool::new(true), &mut |_| {}).unwrap_err();
    assert!(matches!(err, SourceError::Cancelled), "{err:?}");
}
