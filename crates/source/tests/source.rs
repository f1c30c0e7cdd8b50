//! Fetching real (local) git repositories and reading back the tar contexts made from them.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use slipway_source::{Fetched, SourceError, fetch, write_context};
use slipway_testkit::TestRepo;

mod submodules;

struct Fetch {
    fetched: Result<Fetched, SourceError>,
    log: Vec<String>,
    _dir: tempfile::TempDir,
}

fn fetch_ref(repo: &TestRepo, git_ref: Option<&str>) -> Fetch {
    fetch_url(&repo.url(), git_ref, &AtomicBool::new(false))
}

fn fetch_url(url: &str, git_ref: Option<&str>, cancel: &AtomicBool) -> Fetch {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    let fetched = fetch(url, None, git_ref, dir.path(), u64::MAX, cancel, &mut |l| {
        log.push(l)
    });
    Fetch {
        fetched,
        log,
        _dir: dir,
    }
}

#[derive(Debug, PartialEq)]
enum Entry {
    File { mode: u32, data: Vec<u8> },
    Symlink(String),
}

fn context(
    fetched: &Fetched,
    dockerfile: &str,
) -> (
    BTreeMap<String, Entry>,
    slipway_source::ContextSummary,
    Vec<u8>,
    Vec<String>,
) {
    let mut bytes = Vec::new();
    let mut log = Vec::new();
    let summary = write_context(
        fetched,
        dockerfile,
        u64::MAX,
        &mut bytes,
        &AtomicBool::new(false),
        &mut |l| log.push(l),
    )
    .unwrap();
    let mut entries = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let header = entry.header().clone();
        assert_eq!(header.mtime().unwrap(), 0, "fixed mtime for {path}");
        let value = match header.entry_type() {
            tar::EntryType::Symlink => Entry::Symlink(
                entry
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            ),
            _ => {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
                Entry::File {
                    mode: header.mode().unwrap(),
                    data,
                }
            }
        };
        entries.insert(path, value);
    }
    (entries, summary, bytes, log)
}

/// A successful fetch and the directory that holds it (deleted when dropped).
fn fetch_ok(repo: &TestRepo, git_ref: Option<&str>) -> (Fetched, tempfile::TempDir) {
    let f = fetch_ref(repo, git_ref);
    (f.fetched.unwrap(), f._dir)
}

fn file(data: &str) -> Entry {
    Entry::File {
        mode: 0o644,
        data: data.as_bytes().to_vec(),
    }
}

#[test]
fn fetches_the_default_branch_a_branch_and_tags() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n"), ("v", b"1")]);
    let first = repo.head();
    repo.tag("v1");
    repo.annotated_tag("v1-annotated");
    repo.branch("stable");
    let second = repo.commit("second\n\nwith a body", &[("v", b"2")]);

    let head = fetch_ref(&repo, None);
    let fetched = head.fetched.unwrap();
    assert_eq!(fetched.commit_sha, second);
    assert_eq!(fetched.commit_message, "second\n\nwith a body");
    assert!(
        head.log.iter().any(|l| l.starts_with("Checked out ")),
        "{:?}",
        head.log
    );
    assert_eq!(
        fetch_ref(&repo, Some("main")).fetched.unwrap().commit_sha,
        second
    );
    assert_eq!(
        fetch_ref(&repo, Some("stable")).fetched.unwrap().commit_sha,
        first
    );
    assert_eq!(
        fetch_ref(&repo, Some("v1")).fetched.unwrap().commit_sha,
        first
    );
    assert_eq!(
        fetch_ref(&repo, Some("v1-annotated"))
            .fetched
            .unwrap()
            .commit_sha,
        first
    );
}

#[test]
fn fetches_full_and_abbreviated_commit_shas_of_older_commits() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n")]);
    let old = repo.head();
    repo.commit("newer", &[("x", b"x")]);
    assert_eq!(
        fetch_ref(&repo, Some(&old)).fetched.unwrap().commit_sha,
        old
    );
    assert_eq!(
        fetch_ref(&repo, Some(&old[..8]))
            .fetched
            .unwrap()
            .commit_sha,
        old
    );
}

#[test]
fn an_unknown_ref_or_repository_is_explained() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n")]);
    let err = fetch_ref(&repo, Some("no-such-branch"))
        .fetched
        .unwrap_err();
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err}");
    assert!(err.to_string().contains("no-such-branch"));
    let err = fetch_ref(&repo, Some("deadbeef")).fetched.unwrap_err();
    assert!(matches!(err, SourceError::RefNotFound { .. }), "{err}");

    let url = "file:///nonexistent/slipway-test.git";
    let err = fetch_url(url, None, &AtomicBool::new(false))
        .fetched
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("could not fetch {url}: ")),
        "{text}"
    );
    assert!(
        text.len() > format!("could not fetch {url}: ").len(),
        "git's own words follow: {text}"
    );
}

#[test]
fn a_cancelled_fetch_stops() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n")]);
    let err = fetch_url(&repo.url(), None, &AtomicBool::new(true))
        .fetched
        .unwrap_err();
    assert!(matches!(err, SourceError::Cancelled), "{err}");
}

#[test]
fn the_context_holds_the_commit_with_modes_and_honours_dockerignore() {
    let repo = TestRepo::new(&[
        ("Dockerfile", b"FROM scratch\n"),
        (
            ".dockerignore",
            b"# build output\ntarget\n**/*.log\nsecrets/\n!secrets/public.pem\nDockerfile\n",
        ),
        ("src/main.sh", b"echo hi"),
        ("target/debug/big", b"junk"),
        ("logs/deep/x.log", b"log"),
        ("app.log", b"log"),
        ("secrets/key.pem", b"private"),
        ("secrets/public.pem", b"public"),
    ]);
    repo.set_executable("exec", "src/main.sh");
    let (fetched, _dir) = fetch_ok(&repo, None);
    let (entries, summary, _, _) = context(&fetched, "Dockerfile");
    let paths: Vec<&str> = entries.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            ".dockerignore",
            "Dockerfile",
            "secrets/public.pem",
            "src/main.sh"
        ]
    );
    assert_eq!(
        entries["src/main.sh"],
        Entry::File {
            mode: 0o755,
            data: b"echo hi".to_vec()
        }
    );
    assert_eq!(
        entries["Dockerfile"],
        file("FROM scratch\n"),
        "the Dockerfile is sent even when ignored"
    );
    assert_eq!(summary.files, 4);
    assert_eq!(summary.ignored, 4);
}

#[test]
fn symlinks_are_kept_inside_and_dropped_when_they_leave_the_repository() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n"), ("www/index.html", b"hi")]);
    repo.symlink("inside", "www/home.html", "index.html");
    repo.symlink("up and out", "www/passwd", "../../etc/passwd");
    repo.symlink("absolute", "abs", "/etc/passwd");
    let (fetched, _dir) = fetch_ok(&repo, None);
    let (entries, summary, _, log) = context(&fetched, "Dockerfile");
    assert_eq!(
        entries["www/home.html"],
        Entry::Symlink("index.html".into())
    );
    assert!(!entries.contains_key("www/passwd"));
    assert!(!entries.contains_key("abs"));
    assert_eq!(summary.skipped_symlinks, ["abs", "www/passwd"]);
    assert!(
        log.iter()
            .any(|l| l.contains("www/passwd -> ../../etc/passwd")
                && l.contains("outside the repository")),
        "{log:?}"
    );
}

#[test]
fn a_missing_dockerfile_is_named_and_contexts_are_reproducible() {
    let repo = TestRepo::new(&[
        ("Dockerfile", b"FROM scratch\n"),
        ("docker/web.Dockerfile", b"FROM scratch\n"),
    ]);
    let (fetched, _dir) = fetch_ok(&repo, None);
    let mut sink = Vec::new();
    let err = write_context(
        &fetched,
        "nope/Dockerfile",
        u64::MAX,
        &mut sink,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Dockerfile not found at \"nope/Dockerfile\" in commit "),
        "{err}"
    );
    let err = write_context(
        &fetched,
        "docker",
        u64::MAX,
        &mut sink,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, SourceError::DockerfileMissing { .. }),
        "a directory is not a Dockerfile"
    );
    let (_, _, first, _) = context(&fetched, "docker/web.Dockerfile");
    let (again, _dir2) = fetch_ok(&repo, None);
    let (_, _, second, _) = context(&again, "docker/web.Dockerfile");
    assert_eq!(first, second, "the same commit gives the same bytes");
}

#[test]
fn a_cancelled_context_stops() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n")]);
    let (fetched, _dir) = fetch_ok(&repo, None);
    let err = write_context(
        &fetched,
        "Dockerfile",
        u64::MAX,
        Vec::new(),
        &AtomicBool::new(true),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, SourceError::Cancelled));
}

#[test]
fn refs_resolve_to_commits_without_fetching() {
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n"), ("v", b"1")]);
    let first = repo.head();
    repo.tag("v1");
    repo.annotated_tag("v1-annotated");
    repo.branch("stable");
    let second = repo.commit("second", &[("v", b"2")]);
    let url = repo.url();
    let resolve = |r: Option<&str>| slipway_source::resolve_commit(&url, r);
    assert_eq!(resolve(None), Some(second.clone()));
    assert_eq!(resolve(Some("main")), Some(second.clone()));
    assert_eq!(resolve(Some("stable")), Some(first.clone()));
    assert_eq!(resolve(Some("v1")), Some(first.clone()));
    assert_eq!(
        resolve(Some("v1-annotated")),
        Some(first.clone()),
        "the tag's commit, not the tag object"
    );
    assert_eq!(resolve(Some(&first.to_uppercase())), Some(first.clone()));
    // What ls-remote cannot answer is left to the fetch.
    assert_eq!(resolve(Some(&first[..8])), None);
    assert_eq!(resolve(Some("no-such-branch")), None);
    assert_eq!(
        slipway_source::resolve_commit("file:///nonexistent/repo", None),
        None
    );
}

/// 200 KiB that do not compress: what a fetch transfers is about this much.
fn incompressible() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..200 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn a_repository_over_the_size_limit_stops_the_fetch_naming_the_setting() {
    let big = incompressible();
    let repo = TestRepo::new(&[("Dockerfile", b"FROM scratch\n"), ("blob.bin", &big)]);
    let dir = tempfile::tempdir().unwrap();
    let err = fetch(
        &repo.url(),
        None,
        None,
        dir.path(),
        64 * 1024,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, SourceError::TooLarge { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "the repository is larger than 64.0 KiB, the most this server accepts (SLIPWAY_MAX_REPO_SIZE)"
    );
    // The same repository under a limit it fits in.
    let dir = tempfile::tempdir().unwrap();
    let ok = fetch(
        &repo.url(),
        None,
        None,
        dir.path(),
        1024 * 1024,
        &AtomicBool::new(false),
        &mut |_| {},
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[test]
fn a_build_context_over_the_size_limit_is_refused_and_ignored_files_do_not_count() {
    let big = incompressible();
    let repo = TestRepo::new(&[
        ("Dockerfile", b"FROM scratch\n"),
        ("data/blob.bin", &big),
        (".dockerignore", b"data\n"),
    ]);
    let (fetched, _dir) = fetch_ok(&repo, None);
    let mut sink = Vec::new();
    write_context(
        &fetched,
        "Dockerfile",
        1024,
        &mut sink,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("the ignored 200 KiB do not count");
    repo.commit("send the data", &[(".dockerignore", b"")]);
    let (fetched, _dir) = fetch_ok(&repo, None);
    let err = write_context(
        &fetched,
        "Dockerfile",
        100 * 1024,
        Vec::new(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the build context is larger than 100.0 KiB, the most this server accepts (SLIPWAY_MAX_CONTEXT_SIZE)"
    );
}
