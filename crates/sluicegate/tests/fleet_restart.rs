//! The ledger's PostgreSQL restarted under a running fleet: two `mcp serve-streamable-http`
//! servers and a `sluicegate worker` on a ledger in a private PostgreSQL server of this test's
//! own (the suite's shared one is never restarted), while the official Python MCP SDK calls a
//! read and a proposal on both servers without pause. Three times, a few proposals are
//! approved and the database is restarted with `pg_ctl restart -m fast`; a few more are
//! approved and it is stopped with `-m immediate` (a crash) and, once the clients have been
//! refused a read and a proposal, started again. Afterwards: every call answered `ok` is in the
//! ledger (its proposal, its evidence); every other answer was a refusal with the stable code
//! of an unavailable ledger; the same server processes serve and record again without being
//! restarted; and the same worker applied every approved proposal (those caught by an outage
//! too, once their claim's lease ran out), each written once with one `applied` receipt.
//!
//! Without PostgreSQL's server binaries or the Python clients it goes through `skip_or_fail`
//! (a failure with CI=true).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::app;
use crate::mcp_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use app::App;
use mcp_support::{ServerProc, TOKEN, client_script, python};
use serde_json::{Value, json};
use sluicegate_core::config::Engine;
use sluicegate_ledger::{Durability, Ledger};
use sluicegate_test_support::pg_cluster::{PgCluster, StopMode};
use sluicegate_test_support::process::{Signal, signal, wait_within};

/// Far beyond a normal run; only reached when something hangs.
const DEADLINE: Duration = Duration::from_secs(90);
/// Each round restarts the ledger's server once (`-m fast`) and crashes it once.
const ROUNDS: usize = 3;
/// Proposals approved just before each restart and each crash, for the worker to be busy with.
const BATCH: usize = 3;
/// Python clients (a legacy and a stateless one per server).
const CLIENTS: usize = 4;
/// Rows per client (`LOOP_ROWS` of fleet_client.py).
const LOOP_ROWS: usize = 3000;
/// The code a call gets when its records could not be written (v2 envelope: `error.code`,
/// with the runtime's reason beside it).
const UNAVAILABLE: (&str, &str) = ("TEMPORARILY_UNAVAILABLE", "LOCAL_STORE_UNAVAILABLE");

fn cmd(config: &std::path::Path, ledger_url: &str, app: &App, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
    c.args(args)
        .arg("--config")
        .arg(config)
        .env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .env_remove("SLUICEGATE_LOG")
        .env_remove("SLUICEGATE_FAILPOINTS")
        .env("SG_LEDGER_URL", ledger_url)
        .env("APP_URL", &app.url)
        .env("TENANT", "acme")
        .env("PRINCIPAL", "agent_7")
        .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
        .stdin(Stdio::null());
    c
}

/// A child killed (and reaped) if the test ends before it stopped it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Lines a child prints on stdout, collected as they come.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<Value>>>);

impl Lines {
    /// The lines, and the reader, which ends when the child closes its stdout.
    fn follow(child: &mut Child) -> (Lines, JoinHandle<()>) {
        let lines = Lines::default();
        let sink = lines.0.clone();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
                sink.lock().unwrap().push(v);
            }
        });
        (lines, reader)
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn since(&self, mark: usize) -> Vec<Value> {
        self.0.lock().unwrap()[mark..].to_vec()
    }

    /// Poll (with the deadline) until `done` holds for the lines printed since `mark`.
    fn wait(&self, mark: usize, what: &str, done: impl Fn(&[Value]) -> bool) {
        let started = Instant::now();
        loop {
            if done(&self.since(mark)) {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "waited {DEADLINE:?} for {what}; lines since: {:?}",
                self.since(mark)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// At least `n` calls answered `ok` on each of `urls` among `lines`.
fn served_by_each(lines: &[Value], urls: &[String], n: usize) -> bool {
    urls.iter().all(|u| {
        lines
            .iter()
            .filter(|l| l["url"] == json!(u) && l["ok"] == json!(true))
            .count()
            >= n
    })
}

#[test]
fn a_ledger_postgres_restart_loses_no_recorded_call_and_the_fleet_recovers() {
    let Some(python) = python() else {
        return;
    };
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let started = Instant::now();
    let ledger_url = cluster.url("postgres");
    Ledger::migrate_postgres(&ledger_url).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = rt
        .block_on(App::create(Engine::Sqlite, "fleet_restart"))
        .unwrap();
    // The rows the client's proposals are for: L-<client>-<k>.
    let rows: Vec<String> = (0..CLIENTS)
        .flat_map(|c| (0..LOOP_ROWS).map(move |k| format!("('L-{c}-{k}', 'acme', NULL, 1)")))
        .collect();
    rt.block_on(app.execute(&format!("INSERT INTO tickets VALUES {}", rows.join(", "))));
    let mut config = app.config_doc("tickets", None, &[]);
    config["storage"] = json!({"engine": "postgres", "url_env": "SG_LEDGER_URL"});
    config["capabilities"].as_array_mut().unwrap().push(json!({
        "name": "support.inspect_ticket", "kind": "read", "source": "app",
        "target": {"schema": app.schema, "table": "tickets", "primary_key": "id", "tenant_key": "tenant_id"},
        "args": {"ticket_id": {"type": "string"}},
        "lookup": {"id_from_arg": "ticket_id"},
        "visible_columns": ["id", "note", "version"]
    }));
    let config_path = app.path("sluicegate.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let sg = |args: &[&str]| cmd(&config_path, &ledger_url, &app, args);

    let mut servers: Vec<ServerProc> = (0..2)
        .map(|_| ServerProc::start(sg(&["mcp", "serve-streamable-http", "--port", "0"])))
        .collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    // Short leases and retries, so jobs caught by an outage are done within the test.
    let worker_log = app.path("worker.log");
    let mut worker = sg(&[
        "worker",
        "--json",
        "--worker-id",
        "restart-w",
        "--lease-seconds",
        "5",
        "--retry-seconds",
        "1",
        "--retry-max-seconds",
        "2",
        "--poll-max-seconds",
        "2",
    ])
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(&worker_log).unwrap())
    .spawn()
    .map(Reaped)
    .unwrap();
    let (jobs, _) = Lines::follow(&mut worker.0);

    let stop_file = app.path("stop-the-client");
    let mut client = Command::new(&python)
        .arg(client_script("fleet_client.py"))
        .arg("loop")
        .arg(&stop_file)
        .args(&urls)
        .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Reaped)
        .unwrap();
    let (calls, client_reader) = Lines::follow(&mut client.0);
    calls.wait(0, "both servers serving", |l| served_by_each(l, &urls, 3));

    // Approvals through the CLI, each of a proposal for a row no other approved one is for.
    let mut approved: Vec<(String, String, String)> = Vec::new();
    let mut approve = |calls: &Lines, mark: usize, count: usize| -> Vec<String> {
        calls.wait(mark, "proposals to approve", |l| {
            l.iter()
                .filter(|c| c["kind"] == "proposal" && c["ok"] == json!(true))
                .count()
                >= count
        });
        let mut ids = Vec::new();
        for l in calls.since(mark) {
            if ids.len() == count {
                break;
            }
            let ticket = l["ticket"].as_str().unwrap().to_string();
            if l["kind"] != "proposal"
                || l["ok"] != json!(true)
                || approved.iter().any(|(_, t, _)| *t == ticket)
            {
                continue;
            }
            let id = l["proposal_id"].as_str().unwrap().to_string();
            let out = sg(&["proposals", "approve", &id, "--yes", "--actor", "ann"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "approve {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let note = format!("loop {} {}", l["client"], l["n"]);
            approved.push((id.clone(), ticket, note));
            ids.push(id);
        }
        assert_eq!(ids.len(), count, "proposals to approve since line {mark}");
        ids
    };
    let applied_by_worker = |id: &str| {
        let started = Instant::now();
        while !jobs
            .since(0)
            .iter()
            .any(|j| j["proposal_id"] == json!(id) && j["outcome"] == "applied")
        {
            assert!(
                started.elapsed() < DEADLINE,
                "the worker did not apply {id}; its lines: {:?}; its log:\n{}",
                jobs.since(0),
                std::fs::read_to_string(&worker_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // Before any restart: approved, then applied.
    let before = approve(&calls, 0, 1).remove(0);
    applied_by_worker(&before);

    // Rounds of: a few approvals for the worker to be busy with, `pg_ctl restart -m fast`
    // (every session ended, the server back at once); more approvals, then a crash (`-m
    // immediate`), started again once the clients were refused a read and a proposal. After
    // each, both servers serve again.
    let mut fast_windows = Vec::new();
    let mut up_mark = 0;
    for _ in 0..ROUNDS {
        approve(&calls, up_mark, BATCH);
        let restart_mark = calls.len();
        cluster.restart(StopMode::Fast);
        let restarted = calls.len();
        fast_windows.push(restart_mark..restarted);
        calls.wait(
            restarted,
            "both servers serving after a fast restart",
            |l| served_by_each(l, &urls, 3),
        );

        approve(&calls, restarted, BATCH);
        let down_mark = calls.len();
        cluster.stop(StopMode::Immediate);
        calls.wait(down_mark, "refusals while the ledger is down", |l| {
            ["read", "proposal"].iter().all(|kind| {
                l.iter()
                    .any(|c| c["kind"] == json!(kind) && c["ok"] == json!(false))
            })
        });
        cluster.start_again();
        up_mark = calls.len();
        calls.wait(up_mark, "both servers serving after a crash", |l| {
            served_by_each(l, &urls, 3)
        });
    }

    // The same worker applies a proposal recorded and approved after the restarts.
    let after = approve(&calls, up_mark, 1).remove(0);
    applied_by_worker(&after);

    std::fs::write(&stop_file, "").unwrap();
    let status = wait_within(&mut client.0, DEADLINE).expect("the client stops");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut client.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "fleet_client.py: {status}\n{stderr}");
    client_reader.join().unwrap();
    let all = calls.since(0);

    // Every `ok` answer is in the ledger; every other answer is the unavailable-ledger
    // refusal.
    let ledger = Ledger::open_postgres(&ledger_url, "$SG_LEDGER_URL", Durability::Full).unwrap();
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut answered = 0;
    for c in &all {
        if c["ok"] == json!(true) {
            answered += 1;
            let evidence = c["evidence_id"].as_str().unwrap_or_else(|| panic!("{c}"));
            let found = ledger
                .evidence(evidence)
                .unwrap_or_else(|e| panic!("{c}: {e}"));
            if c["kind"] == "proposal" {
                let id = c["proposal_id"].as_str().unwrap_or_else(|| panic!("{c}"));
                let p = ledger.proposal(id).unwrap_or_else(|e| panic!("{c}: {e}"));
                assert_eq!(p.proposal_id, id);
                assert_eq!(
                    ledger
                        .proposal_for_evidence(&found.evidence_bundle_id)
                        .unwrap()
                        .as_deref(),
                    Some(id),
                    "{c}"
                );
            }
        } else {
            assert_eq!(
                (c["code"].as_str(), c["reason"].as_str()),
                (Some(UNAVAILABLE.0), Some(UNAVAILABLE.1)),
                "{c}"
            );
            *refused.entry(c["kind"].as_str().unwrap()).or_default() += 1;
        }
    }
    let during_restart: usize = fast_windows
        .iter()
        .map(|w| {
            all[w.clone()]
                .iter()
                .filter(|c| c["ok"] == json!(false))
                .count()
        })
        .sum();

    // The worker recovered with the ledger: every approved proposal applied, each written once
    // and with one `applied` receipt, the jobs caught by an outage too.
    let waited = Instant::now();
    for (id, ticket, note) in &approved {
        loop {
            let state = ledger.proposal(id).unwrap().state;
            if state == "applied" {
                break;
            }
            assert!(
                waited.elapsed() < DEADLINE,
                "{id} is {state}; worker: {:?}",
                jobs.since(0)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let receipts: Vec<_> = ledger
            .receipts(id)
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "applied")
            .collect();
        assert_eq!(receipts.len(), 1, "{id}: {receipts:?}");
        let source = rt.block_on(app.source_receipts(id));
        assert_eq!(
            source,
            [(receipts[0].writeback_job_id.clone(), "applied".to_string())],
            "{id}"
        );
        let row = rt.block_on(app.row("tickets", ticket));
        assert_eq!(row, (Some(note.clone()), Some("2".to_string())), "{ticket}");
        assert!(ledger.worker_dead_letters(id).unwrap().is_empty(), "{id}");
    }
    for j in jobs.since(0) {
        assert!(
            ["applied", "already_applied", "retry", "claim_lost"]
                .contains(&j["outcome"].as_str().unwrap()),
            "{j}"
        );
    }
    let outcomes = jobs.since(0).iter().fold(BTreeMap::new(), |mut m, j| {
        *m.entry(j["outcome"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        m
    });
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "the worker is the one started first"
    );
    signal(worker.0.id(), Signal::TERM);
    let status = wait_within(&mut worker.0, Duration::from_secs(30)).expect("the worker stops");
    assert!(status.success(), "worker: {status}");
    let report = ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    for s in &mut servers {
        assert!(
            s.child.try_wait().unwrap().is_none(),
            "the server is the one started first"
        );
        assert!(s.stop(), "server exits cleanly: {}", s.log.lock().unwrap());
    }
    eprintln!(
        "fleet_restart: {} calls, {answered} answered and all found in the ledger, refused {refused:?} \
         ({during_restart} during the {ROUNDS} fast restarts); {} approved and applied once, \
         worker outcomes {outcomes:?}; {:.1?}",
        all.len(),
        approved.len(),
        started.elapsed()
    );
}
