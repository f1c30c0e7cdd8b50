//! Throwaway git repositories for tests, made with git2 (no git CLI needed).

use std::path::Path;

use git2::{IndexAddOption, Repository, Signature};
use tempfile::TempDir;

pub type Files = Vec<(String, Vec<u8>)>;

/// A non-bare repository on branch `main`, deleted when dropped.
pub struct TestRepo {
    dir: TempDir,
    repo: Repository,
}

impl TestRepo {
    pub fn new(files: &[(&str, &[u8])]) -> Self {
        Self::with_files(
            files
                .iter()
                .map(|(p, d)| ((*p).to_owned(), d.to_vec()))
                .collect(),
        )
    }

    /// Creates the repository with `files` in a first commit named "initial".
    pub fn with_files(files: Files) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repository::init(dir.path()).expect("git init");
        repo.set_head("refs/heads/main").expect("HEAD -> main");
        let this = Self { dir, repo };
        this.commit_owned("initial", &files);
        this
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// Writes (or overwrites) `files`, keeps the others, commits, and returns the sha.
    pub fn commit(&self, message: &str, files: &[(&str, &[u8])]) -> String {
        let owned: Files = files
            .iter()
            .map(|(p, d)| ((*p).to_owned(), d.to_vec()))
            .collect();
        self.commit_owned(message, &owned)
    }

    pub fn commit_owned(&self, message: &str, files: &Files) -> String {
        for (path, data) in files {
            let full = self.dir.path().join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&full, data).expect("write file");
            // Binaries and scripts must be executable in the image, as in a real repository.
            if data.starts_with(b"\x7fELF") || data.starts_with(b"#!") {
                // Binaries in fixtures (busybox) must run inside the image.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
        self.commit_worktree(message)
    }

    pub fn remove(&self, message: &str, paths: &[&str]) -> String {
        for path in paths {
            std::fs::remove_file(self.dir.path().join(path)).expect("remove file");
        }
        self.commit_worktree(message)
    }

    /// Commits a symlink `path` -> `target` (the target need not exist).
    pub fn symlink(&self, message: &str, path: &str, target: &str) -> String {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::os::unix::fs::symlink(target, &full).expect("symlink");
        self.commit_worktree(message)
    }

    /// Commits a gitlink (a submodule, as a tree holds it) at `path` naming `commit`,
    /// which need not exist anywhere. The work tree gets an empty directory in its place,
    /// as after `git clone` without `--recurse-submodules`. Pair it with a `.gitmodules`.
    pub fn gitlink(&self, message: &str, path: &str, commit: &str) -> String {
        std::fs::create_dir_all(self.dir.path().join(path)).expect("mkdir");
        let mut index = self.repo.index().expect("index");
        let zero = git2::IndexTime::new(0, 0);
        index
            .add(&git2::IndexEntry {
                ctime: zero,
                mtime: zero,
                dev: 0,
                ino: 0,
                mode: 0o160000,
                uid: 0,
                gid: 0,
                file_size: 0,
                id: git2::Oid::from_str(commit).expect("a commit sha"),
                flags: 0,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            })
            .expect("add gitlink");
        index.write().expect("write index");
        self.commit_worktree(message)
    }

    pub fn set_executable(&self, message: &str, path: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let full = self.dir.path().join(path);
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        self.commit_worktree(message)
    }

    pub fn tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .expect("head")
            .peel_to_commit()
            .expect("commit");
        self.repo
            .tag_lightweight(name, head.as_object(), false)
            .expect("tag");
    }

    pub fn annotated_tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .expect("head")
            .peel_to_commit()
            .expect("commit");
        self.repo
            .tag(name, head.as_object(), &signature(), "annotated", false)
            .expect("tag");
    }

    /// Creates branch `name` at HEAD (HEAD stays on main).
    pub fn branch(&self, name: &str) {
        let head = self
            .repo
            .head()
            .expect("head")
            .peel_to_commit()
            .expect("commit");
        self.repo.branch(name, &head, false).expect("branch");
    }

    /// Commits on branch `name` without moving HEAD off main.
    pub fn commit_on_branch(&self, name: &str, message: &str, files: &[(&str, &[u8])]) -> String {
        self.repo
            .set_head(&format!("refs/heads/{name}"))
            .expect("switch");
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .expect("checkout");
        let sha = self.commit(message, files);
        self.repo.set_head("refs/heads/main").expect("switch back");
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .expect("checkout");
        sha
    }

    pub fn head(&self) -> String {
        self.repo
            .head()
            .expect("head")
            .peel_to_commit()
            .expect("commit")
            .id()
            .to_string()
    }

    fn commit_worktree(&self, message: &str) -> String {
        let mut index = self.repo.index().expect("index");
        index
            .add_all(["*"], IndexAddOption::DEFAULT, None)
            .expect("add");
        index.update_all(["*"], None).expect("update");
        index.write().expect("write index");
        let tree_id = index.write_tree().expect("write tree");
        let tree = self.repo.find_tree(tree_id).expect("tree");
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let sig = signature();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .expect("commit")
            .to_string()
    }
}

fn signature() -> Signature<'static> {
    Signature::new(
        "Slipway Tests",
        "tests@slipway.invalid",
        &git2::Time::new(1_700_000_000, 0),
    )
    .expect("signature")
}
