//! Shared pieces of the handler template and worked-example tests: the installed handler
//! toolchains, a project directory driven through the built binary, and handler processes.
//!
//! The toolchains (FastAPI/uvicorn/psycopg in a venv, Fastify/pg from npm) are installed by
//! `scripts/lib/test-deps.sh`, and `scripts/test.sh` names them in `SLUICEGATE_HANDLER_DEPS`.
//! Unset goes through `skip_or_fail` (a failure with `CI=true`); set but incomplete fails.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluicegate_test_support::skip_or_fail;

/// Where the handler toolchains are, or `None` after [`skip_or_fail`] when not named.
pub fn deps() -> Option<PathBuf> {
    const INSTALL: &str = "`eval \"$(bash scripts/lib/test-deps.sh target/test-deps)\"` installs them and sets it; scripts/test.sh does both";
    let Some(dir) = std::env::var_os("SLUICEGATE_HANDLER_DEPS").filter(|d| !d.is_empty()) else {
        return skip_or_fail(format!(
            "SLUICEGATE_HANDLER_DEPS is not set, so the handler templates cannot run; {INSTALL}"
        ));
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("venv/bin/python").exists() && dir.join("node/node_modules").is_dir(),
        "SLUICEGATE_HANDLER_DEPS={} lacks venv/bin/python or node/node_modules; {INSTALL}",
        dir.display()
    );
    Some(dir)
}

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    sluicegate_test_support::engines::unused_local_port()
}

/// A started handler process, stopped when dropped.
pub struct HandlerProcess {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl HandlerProcess {
    /// Start `cmd` and wait until it accepts connections on `port`.
    pub fn start(mut cmd: Command, port: u16, log: PathBuf) -> HandlerProcess {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut h = HandlerProcess { child, port, log };
        // A bounded poll, on purpose: the handlers are third-party servers (uvicorn, Fastify)
        // whose startup lines differ between versions, and a port that accepts connections is
        // exactly the readiness a client needs. The deadline only ends a handler that never
        // comes up; an early exit is reported at once.
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = h.child.try_wait() {
                panic!("handler exited ({status}) before listening:\n{}", h.log());
            }
            assert!(
                Instant::now() < deadline,
                "handler did not listen within 30 s:\n{}",
                h.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        h
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/synapsor/writeback", self.port)
    }
}

impl Drop for HandlerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A project directory: config, ledger, env, and every CLI output kept for the secret check.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    pub outputs: Vec<String>,
}

impl Project {
    pub fn new(config: &Value, env: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sluicegate.json"),
            serde_json::to_string_pretty(config).unwrap(),
        )
        .unwrap();
        Project {
            dir,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            outputs: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.insert(key.into(), value.into());
    }

    /// Run the binary in the project with its env (plus `SLUICEGATE_LOG=debug`, so the logs
    /// are part of what the secret check reads).
    pub fn cli(&mut self, args: &[&str]) -> Output {
        let o = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .current_dir(self.dir.path())
            .env_remove("SLUICEGATE_CONFIG")
            .env_remove("SLUICEGATE_STORE")
            .env("SLUICEGATE_LOG", "debug")
            .envs(&self.env)
            .args(args)
            .output()
            .unwrap();
        self.outputs.push(format!(
            "$ sluicegate {}\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
        o
    }

    /// Run and require exit 0; returns stdout.
    pub fn ok(&mut self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(
            o.status.success(),
            "`sluicegate {}` failed ({}):\n{}\n{}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Propose through the CLI and return the proposal id.
    pub fn propose(&mut self, capability: &str, args: &Value) -> String {
        let out = self.ok(&["propose", capability, "--args", &args.to_string(), "--json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["proposal"]["id"]
            .as_str()
            .or_else(|| v["proposal_id"].as_str())
            .unwrap_or_else(|| panic!("no proposal id in {v}"))
            .to_string()
    }

    pub fn approve(&mut self, id: &str) {
        self.ok(&[
            "proposals",
            "approve",
            id,
            "--yes",
            "--actor",
            "billing_lead",
        ]);
    }

    /// Every file under the project (ledger, WAL) and every CLI output, as text.
    pub fn everything_written(&self) -> String {
        let mut all = self.outputs.join("\n");
        for entry in walk(self.dir.path()) {
            if let Ok(bytes) = std::fs::read(&entry) {
                all.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        all
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Assert none of `canaries` appears in `text`.
pub fn assert_no_secret(text: &str, canaries: &[&str]) {
    for c in canaries {
        assert!(
            !text.contains(c),
            "secret canary {c:?} leaked into the ledger, logs or CLI output"
        );
    }
}
