//! The fleet of issue 16, with the built binary: one migrated PostgreSQL ledger, an app
//! database on PostgreSQL with the receipt table, reviewers configured so every decision is
//! signed, three `mcp serve-streamable-http` servers and two `sluicegate worker` processes.
//! The official Python MCP SDK proposes a change to each of 1,000 rows, spread over the three
//! servers (legacy sessions and stateless 2026-07-28 clients); each proposal is approved and
//! signed through `proposals approve --key`, eight approve processes at once; the
//! workers apply them as they are approved. Then: every proposal applied exactly once (one
//! source receipt each, each row changed exactly as proposed), exactly one `applied` receipt
//! each in the ledger, every chain verifies with every decision signed, no dead letters, and
//! both workers applied some.
//!
//! `SLUICEGATE_TEST_FLEET_PROPOSALS` overrides the 1,000 for a quick local run. Without
//! PostgreSQL or the Python clients it goes through `skip_or_fail` (a failure with CI=true).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::app;
use crate::mcp_support;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::App;
use mcp_support::{ServerProc, TOKEN, client_script, python};
use serde_json::{Value, json};
use sluicegate_core::config::Engine;
use sluicegate_ledger::{Durability, Ledger};
use sluicegate_test_support::engines::{EngineKind, TestDatabase, query_text_on};
use sluicegate_test_support::process::{Signal, signal, wait_within};

const SERVERS: usize = 3;
const WORKERS: usize = 2;
/// Python MCP clients per server (alternately legacy and stateless).
const CLIENTS_PER_SERVER: usize = 2;
/// `proposals approve` processes running at once.
const APPROVERS: usize = 8;
/// Far beyond a normal run; only reached when something hangs.
const DEADLINE: Duration = Duration::from_secs(240);

fn proposals() -> usize {
    std::env::var("SLUICEGATE_TEST_FLEET_PROPOSALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// The config, the ledger's URL and the app's env: what every process of the fleet runs with.
struct Fleet {
    config: PathBuf,
    key: PathBuf,
    ledger_url: String,
    app_url: String,
}

impl Fleet {
    /// The binary with `args` and `--config`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.bare(args);
        c.arg("--config").arg(&self.config);
        c
    }

    /// The binary with `args` and the fleet's env.
    fn bare(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
        c.args(args)
            .env_remove("SLUICEGATE_CONFIG")
            .env_remove("SLUICEGATE_STORE")
            .env_remove("SLUICEGATE_LOG")
            .env_remove("SLUICEGATE_FAILPOINTS")
            .env_remove("SLUICEGATE_REVIEWER_KEY")
            .env("SG_LEDGER_URL", &self.ledger_url)
            .env("APP_URL", &self.app_url)
            .env("TENANT", "acme")
            .env("PRINCIPAL", "agent_7")
            .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
            .stdin(Stdio::null());
        c
    }
}

/// A running `sluicegate worker --json`; its stdout lines are collected as they come.
struct Worker {
    child: Child,
    lines: Option<std::thread::JoinHandle<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl Worker {
    fn start(fleet: &Fleet, id: &str) -> Worker {
        let mut child = fleet
            .cmd(&["worker", "--json", "--worker-id", id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Some(std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l}: {e}")))
                .collect()
        }));
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Worker {
            child,
            lines,
            stderr,
        }
    }

    /// SIGTERM, then its job lines once it has exited (cleanly).
    fn stop(mut self) -> Vec<Value> {
        signal(self.child.id(), Signal::TERM);
        let status = wait_within(&mut self.child, Duration::from_secs(30)).expect("worker exits");
        let stderr = self.stderr.lock().unwrap().clone();
        assert!(status.success(), "worker: {status}: {stderr}");
        // The reader ends with the pipe, which the exited worker has closed.
        self.lines.take().unwrap().join().unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One value of a one-row, one-column query.
async fn scalar(url: &str, sql: &str) -> String {
    let rows = query_text_on(EngineKind::Postgres, url, sql).await.unwrap();
    rows[0][0].clone().unwrap_or_default()
}

/// Approve and sign every proposal through the CLI, `APPROVERS` processes at a time (each
/// decision bound to the content hash the command shows, as a reviewer's is).
fn approve_all(fleet: &Arc<Fleet>, calls: &[String]) {
    let queue = Arc::new(Mutex::new(calls.to_vec()));
    let threads: Vec<_> = (0..APPROVERS)
        .map(|_| {
            let (queue, fleet) = (queue.clone(), fleet.clone());
            std::thread::spawn(move || {
                loop {
                    let Some(id) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let key = fleet.key.display().to_string();
                    let out = fleet
                        .cmd(&[
                            "proposals",
                            "approve",
                            &id,
                            "--yes",
                            "--json",
                            "--actor",
                            "ann",
                            "--key",
                            &key,
                        ])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "approve {id}: {}\n{}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
                    assert_eq!(p["proposal_id"], json!(id));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_and_two_workers_apply_1000_signed_proposals_exactly_once() {
    let n = proposals();
    let Some(python) = python() else {
        return;
    };
    let Some(app) = App::create(Engine::Postgres, "fleet_app").await else {
        return;
    };
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "fleet_ledger").await else {
        return;
    };
    let started = Instant::now();
    Ledger::migrate_postgres(db.url()).unwrap();
    let rows: Vec<String> = (0..n)
        .map(|i| format!("('W-{i}', 'acme', NULL, 1)"))
        .collect();
    app.execute(&format!("INSERT INTO tickets VALUES {}", rows.join(", ")))
        .await;

    // A reviewer key, and a config that trusts only it.
    let key = app.path("keys/ann.key");
    let mut config = app.config_doc("tickets", None, &[]);
    config["storage"] = json!({"engine": "postgres", "url_env": "SG_LEDGER_URL"});
    let config_path = app.path("sluicegate.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let fleet = Arc::new(Fleet {
        config: config_path.clone(),
        key: key.clone(),
        ledger_url: db.url().to_string(),
        app_url: app.url.clone(),
    });
    let out = fleet
        .bare(&["reviewer", "init", "--name", "ann", "--key"])
        .arg(&key)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public_key = serde_json::from_slice::<Value>(&out.stdout).unwrap()["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    config["reviewers"] = json!([{"name": "ann", "public_key": public_key}]);
    std::fs::write(&config_path, config.to_string()).unwrap();

    let servers: Vec<ServerProc> = (0..SERVERS)
        .map(|_| ServerProc::start(fleet.cmd(&["mcp", "serve-streamable-http", "--port", "0"])))
        .collect();
    let workers: Vec<Worker> = (0..WORKERS)
        .map(|w| Worker::start(&fleet, &format!("fleet-w{w}")))
        .collect();
    let setup = started.elapsed();

    // 1,000 proposals through the Python MCP SDK, spread over the servers.
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let out = Command::new(&python)
        .arg(client_script("fleet_client.py"))
        .args(["batch", &n.to_string(), &CLIENTS_PER_SERVER.to_string()])
        .args(&urls)
        .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
        .env("PYTHONUNBUFFERED", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fleet_client.py: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = doc["calls"].as_array().unwrap();
    assert_eq!(calls.len(), n);
    let mut per_url: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_mode: BTreeMap<&str, usize> = BTreeMap::new();
    let mut proposed = Vec::with_capacity(n);
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(c["i"], json!(i));
        assert_eq!(c["ok"], json!(true), "{c}");
        *per_url.entry(c["url"].as_str().unwrap()).or_default() += 1;
        *per_mode.entry(c["mode"].as_str().unwrap()).or_default() += 1;
        let id = c["proposal_id"].as_str().unwrap_or_else(|| panic!("{c}"));
        proposed.push(id.to_string());
    }
    assert_eq!(per_url.len(), SERVERS, "every server answered: {per_url:?}");
    assert_eq!(per_mode.len(), 2, "both kinds of client: {per_mode:?}");
    // A stateless (2026-07-28) client is not tied to a server: its requests went to each
    // server in turn, and every one of its proposals was recorded (checked above and below).
    let mut stateless: BTreeMap<u64, HashSet<&str>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c["mode"] == "2026-07-28") {
        stateless
            .entry(c["client"].as_u64().unwrap())
            .or_default()
            .insert(c["url"].as_str().unwrap());
    }
    assert!(!stateless.is_empty());
    assert!(
        stateless.values().any(|servers| servers.len() == SERVERS),
        "a stateless client's calls were answered by every server: {stateless:?}"
    );
    let ids: HashSet<&str> = proposed.iter().map(String::as_str).collect();
    assert_eq!(ids.len(), n, "every proposal has its own id");
    let proposing = started.elapsed() - setup;

    // Every one approved and signed, while the workers apply what is already approved.
    approve_all(&fleet, &proposed);
    let approving = started.elapsed() - setup - proposing;

    // Wait (polling, with a deadline) until every proposal is applied.
    let waited = Instant::now();
    loop {
        let applied: usize = scalar(
            db.url(),
            "SELECT count(*) FROM proposals WHERE state = 'applied'",
        )
        .await
        .parse()
        .unwrap();
        let dead = scalar(db.url(), "SELECT count(*) FROM worker_dead_letters").await;
        assert_eq!(dead, "0", "dead letters");
        if applied == n {
            break;
        }
        assert!(
            waited.elapsed() < DEADLINE,
            "{applied} of {n} applied; workers: {:?}",
            workers
                .iter()
                .map(|w| w.stderr.lock().unwrap().clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let draining = waited.elapsed();

    // Both workers applied some, each job once, and nothing else happened to any job.
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    let mut applied_by: BTreeMap<String, String> = BTreeMap::new();
    for w in workers {
        for line in w.stop() {
            assert_eq!(line["outcome"], "applied", "{line}");
            let id = line["proposal_id"].as_str().unwrap().to_string();
            let worker = line["worker_id"].as_str().unwrap().to_string();
            *by_worker.entry(worker.clone()).or_default() += 1;
            assert!(
                applied_by.insert(id.clone(), worker).is_none(),
                "{id} twice"
            );
        }
    }
    assert_eq!(applied_by.len(), n);
    assert_eq!(
        by_worker.len(),
        WORKERS,
        "both workers applied some: {by_worker:?}"
    );

    // The source: one receipt row per proposal, each row changed exactly as proposed.
    let receipts = query_text_on(
        EngineKind::Postgres,
        &app.url,
        "SELECT proposal_id, count(*), min(status), min(job_id) FROM sluicegate_writeback_receipts GROUP BY proposal_id",
    )
    .await
    .unwrap();
    assert_eq!(receipts.len(), n);
    let mut source_job: BTreeMap<String, String> = BTreeMap::new();
    for r in &receipts {
        let id = r[0].clone().unwrap();
        assert!(ids.contains(id.as_str()), "{r:?}");
        assert_eq!(r[1].as_deref(), Some("1"), "{r:?}");
        assert_eq!(r[2].as_deref(), Some("applied"), "{r:?}");
        source_job.insert(id, r[3].clone().unwrap());
    }
    let rows = query_text_on(
        EngineKind::Postgres,
        &app.url,
        "SELECT id, note, version FROM tickets WHERE id LIKE 'W-%'",
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), n);
    for r in &rows {
        let id = r[0].as_deref().unwrap();
        let i = id.strip_prefix("W-").unwrap();
        assert_eq!(
            r[1].as_deref(),
            Some(format!("fleet {i}").as_str()),
            "{r:?}"
        );
        assert_eq!(r[2].as_deref(), Some("2"), "{id} written once: {r:?}");
    }
    let untouched = app.query("SELECT note, version FROM tickets WHERE id NOT LIKE 'W-%'");
    for r in untouched.await.unwrap() {
        assert_eq!(r, [None, Some("1".to_string())]);
    }

    // The ledger: exactly one `applied` receipt per proposal, the one the source holds, and
    // one signed decision.
    let ledger = Ledger::open_postgres(db.url(), "$SG_LEDGER_URL", Durability::Full).unwrap();
    for id in &proposed {
        let applied: Vec<String> = ledger
            .receipts(id)
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "applied")
            .map(|r| r.writeback_job_id)
            .collect();
        assert_eq!(applied, [source_job[id].clone()], "{id}");
        assert_eq!(ledger.proposal(id).unwrap().state, "applied");
        let decisions = ledger.decisions(id).unwrap();
        assert_eq!(decisions.len(), 1, "{id}");
        assert!(decisions[0].signature.is_some(), "{id}: signed");
    }
    let dead = scalar(db.url(), "SELECT count(*) FROM worker_dead_letters").await;
    assert_eq!(dead, "0");

    // Every chain verifies, as an operator checks it.
    let out = fleet.cmd(&["store", "verify", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["proposals"], json!(n), "{report}");
    assert_eq!(report["decisions"], json!(n), "{report}");
    assert_eq!(report["signed_decisions"], json!(n), "{report}");
    assert_eq!(report["problems"], json!([]), "{report}");

    for mut s in servers {
        assert!(s.stop(), "server exits cleanly: {}", s.log.lock().unwrap());
    }
    eprintln!(
        "fleet: {n} proposals over {SERVERS} servers {per_url:?}, {WORKERS} workers {by_worker:?}: \
         setup {setup:.1?}, proposals {proposing:.1?}, approvals {approving:.1?} ({APPROVERS} at once), \
         last applies {draining:.1?}, total {:.1?}",
        started.elapsed()
    );
}
