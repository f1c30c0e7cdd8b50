//! A Postgres server of the test's own, to stop and start under running Slipway
//! processes. Debian's server binaries (scripts/deps.sh installs them) in a temporary
//! data directory, trust authentication, on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PrivatePostgres {
    bin: PathBuf,
    data: tempfile::TempDir,
    pub port: u16,
}

/// The newest `/usr/lib/postgresql/<version>/bin` with initdb and pg_ctl.
fn server_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("no Postgres server under /usr/lib/postgresql (scripts/deps.sh installs it)")
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePostgres {
    /// initdb and start. As root, Postgres refuses to run: the data directory then
    /// belongs to, and the server runs as, the `postgres` user Debian's package creates.
    pub fn start() -> Self {
        let bin = server_bin();
        let data = tempfile::tempdir().expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let pg = Self { bin, data, port };
        if pg.as_root() {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(pg.data.path()),
                "chown the data directory",
            );
        }
        run(
            pg.tool("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(pg.db()),
            "initdb",
        );
        pg.resume();
        pg
    }

    fn as_root(&self) -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    }

    /// A server tool, run as the user that owns the data directory.
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn db(&self) -> PathBuf {
        self.data.path().join("db")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.data.path().display()
        );
        run(
            self.tool("pg_ctl")
                .args(["-w", "-o", &options, "-l"])
                .arg(self.data.path().join("server.log"))
                .arg("-D")
                .arg(self.db())
                .arg("start"),
            "pg_ctl start",
        );
    }

    /// Stops it the way an operator's restart does: fast, clients disconnected.
    pub fn pause(&self) {
        run(
            self.tool("pg_ctl")
                .args(["-w", "-m", "fast", "-D"])
                .arg(self.db())
                .arg("stop"),
            "pg_ctl stop",
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.db())
            .arg("stop")
            .output();
    }
}
