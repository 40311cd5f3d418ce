//! A private PostgreSQL server for one test: `initdb` and `pg_ctl` in a temp dir, on a free
//! loopback port, for tests that stop or restart the database under running processes. The
//! suite's shared server (`SLUICEGATE_TEST_POSTGRES_URL`) must never be restarted: other tests
//! use it at the same time.
//!
//! The binaries are the highest-versioned `/usr/lib/postgresql/*/bin` (Debian's layout, what
//! `scripts/test.sh` installs). `initdb` refuses to run as root, so as root the server runs as
//! the `postgres` OS user (or `sluicegate-test`, the user `scripts/lib/engines.sh` creates when
//! there is no `postgres`), through `runuser`, in a temp dir handed to that user. Without the
//! binaries the caller goes through [`crate::skip_or_fail`]. The server is stopped (`-m
//! immediate`) and its files removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::skip_or_fail;

/// How `pg_ctl` stops the server (its `-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnect every session (`FATAL: terminating connection due to administrator
    /// command`), then shut down cleanly.
    Fast,
    /// Kill the server processes at once: a crash, with recovery at the next start.
    Immediate,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// A running private PostgreSQL server with one superuser, `sluicegate`, trusted on loopback.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    /// The OS user the server runs as, when the test runs as root.
    os_user: Option<String>,
    port: u16,
}

impl PgCluster {
    /// `initdb` and start a server, or `None` (via [`skip_or_fail`]) when PostgreSQL's server
    /// binaries are not installed. Panics when they are but the server does not start.
    pub fn start() -> Option<PgCluster> {
        let Some(bindir) = server_bindir() else {
            return skip_or_fail(
                "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin, so a private server cannot be started; `bash scripts/test.sh` installs them",
            );
        };
        let os_user = if rustix::process::getuid().is_root() {
            let Some(user) = ["postgres", "sluicegate-test"]
                .into_iter()
                .find(|u| id(u, "-u").is_some())
            else {
                return skip_or_fail(
                    "running as root without a `postgres` or `sluicegate-test` OS user to run PostgreSQL as (initdb refuses root); `bash scripts/test.sh` creates one",
                );
            };
            Some(user.to_string())
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("sg-pgcluster-")
            .tempdir()
            .expect("a temp dir");
        if let Some(user) = &os_user {
            let uid = id(user, "-u").expect("the user's uid");
            let gid = id(user, "-g").expect("the user's gid");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("hand the temp dir to the server's user");
        }
        let mut cluster = PgCluster {
            dir,
            bindir,
            os_user,
            port: 0,
        };
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                "data",
                "-U",
                "sluicegate",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(initdb.status.success(), "initdb: {}", text(&initdb));
        std::fs::create_dir_all(cluster.dir.path().join("sock")).expect("socket dir");
        if let Some(user) = &cluster.os_user {
            let uid = id(user, "-u").expect("the user's uid");
            std::os::unix::fs::chown(cluster.dir.path().join("sock"), Some(uid), None)
                .expect("hand the socket dir to the server's user");
        }
        // A port found free can be taken before the server binds it: try a few.
        for attempt in 1..=3 {
            cluster.port = crate::engines::unused_local_port();
            let start = cluster.pg_ctl(&["start", "-o", &cluster.options()]);
            if start.status.success() {
                return Some(cluster);
            }
            assert!(
                attempt < 3 && cluster.log().contains("Address already in use"),
                "pg_ctl start: {}\n{}",
                text(&start),
                cluster.log()
            );
        }
        unreachable!("the loop returns or panics")
    }

    /// `postgres://sluicegate@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://sluicegate@127.0.0.1:{}/{database}", self.port)
    }

    /// `pg_ctl restart -m MODE`: returns once the server accepts connections again.
    pub fn restart(&self, mode: StopMode) {
        let out = self.pg_ctl(&["restart", "-m", mode.as_str(), "-o", &self.options()]);
        assert!(
            out.status.success(),
            "pg_ctl restart: {}\n{}",
            text(&out),
            self.log()
        );
    }

    /// `pg_ctl stop -m MODE`: returns once the server is gone.
    pub fn stop(&self, mode: StopMode) {
        let out = self.pg_ctl(&["stop", "-m", mode.as_str()]);
        assert!(out.status.success(), "pg_ctl stop: {}", text(&out));
    }

    /// `pg_ctl start` after [`PgCluster::stop`], on the same port: returns once the server
    /// accepts connections (after crash recovery, following an immediate stop).
    pub fn start_again(&self) {
        let out = self.pg_ctl(&["start", "-o", &self.options()]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            text(&out),
            self.log()
        );
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    fn options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().join("sock").display()
        )
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["-D", "data", "-l", "postgres.log", "-w", "-t", "60"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Run one of the server's programs as its OS user, in the temp dir.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bindir.join(program);
        let mut cmd = match &self.os_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("PGDATA")
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", path.display()))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.dir.path().join("data/postmaster.pid").exists() {
            let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        }
    }
}

/// The highest-versioned `/usr/lib/postgresql/*/bin` holding `initdb` and `pg_ctl`.
fn server_bindir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (is_file(&bin.join("initdb")) && is_file(&bin.join("pg_ctl"))).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_file(p: &Path) -> bool {
    p.is_file()
}

/// `id FLAG USER` (the uid or gid), or `None` when there is no such user.
fn id(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
