//! The ledger's PostgreSQL restarted under a running fleet: two `mcp serve-streamable-http`
//! servers and a `sluicegate worker` on a ledger in a private PostgreSQL server of this test's
//! own (the suite's shared one is never restarted), while the official Python MCP SDK calls a
//! read and a proposal on both servers without pause. Three times, the database is restarted
//! with `pg_ctl restart -m fast`, then stopped with `-m immediate` (a crash) and, once the
//! clients have been refused a read and a proposal, started again. Afterwards: every call answered `ok` is in the
//! ledger (its proposal, its evidence); every other answer was a refusal with the stable code
//! of an unavailable ledger; the same server processes serve and record again without being
//! restarted; and the same worker applies a proposal approved after the restarts.
//!
//! Without PostgreSQL's server binaries or the Python clients it goes through `skip_or_fail`
//! (a failure with CI=true).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sluicegate-runtime/tests/apply_support/app.rs"]
mod app;
mod mcp_support;

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
    let mut worker = sg(&["worker", "--json", "--worker-id", "restart-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (jobs, _) = Lines::follow(&mut worker);

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
        .unwrap();
    let (calls, client_reader) = Lines::follow(&mut client);
    calls.wait(0, "both servers serving", |l| served_by_each(l, &urls, 3));

    // Approve a proposal and let the worker apply it: the run before any restart.
    let approve_and_apply = |calls: &Lines, mark: usize| {
        let id = calls
            .since(mark)
            .iter()
            .find(|l| l["kind"] == "proposal" && l["ok"] == json!(true))
            .and_then(|l| l["proposal_id"].as_str().map(str::to_string))
            .unwrap();
        let out = sg(&["proposals", "approve", &id, "--yes", "--actor", "ann"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "approve {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        jobs.wait(0, "the worker applying the approved proposal", |l| {
            l.iter().any(|j| j["proposal_id"] == json!(id))
        });
        let line = jobs
            .since(0)
            .into_iter()
            .find(|j| j["proposal_id"] == json!(id))
            .unwrap();
        assert_eq!(line["outcome"], "applied", "{line}");
        id
    };
    let before = approve_and_apply(&calls, 0);

    // Rounds of: `pg_ctl restart -m fast` (every session ended, the server back at once),
    // then a crash (`-m immediate`), started again once the clients were refused a read and a
    // proposal. After each, both servers serve again.
    let mut fast_windows = Vec::new();
    let mut up_mark = 0;
    for _ in 0..ROUNDS {
        let restart_mark = calls.len();
        cluster.restart(StopMode::Fast);
        let restarted = calls.len();
        fast_windows.push(restart_mark..restarted);
        calls.wait(
            restarted,
            "both servers serving after a fast restart",
            |l| served_by_each(l, &urls, 3),
        );

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

    // The same worker applies a proposal recorded and approved after both restarts.
    let after = approve_and_apply(&calls, up_mark);

    std::fs::write(&stop_file, "").unwrap();
    let status = wait_within(&mut client, DEADLINE).expect("the client stops");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut client.stderr.take().unwrap(), &mut stderr).unwrap();
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

    // The worker recovered with the ledger: both proposals applied, each once.
    for id in [&before, &after] {
        assert_eq!(ledger.proposal(id).unwrap().state, "applied");
        let receipts = ledger.receipts(id).unwrap();
        assert_eq!(receipts.len(), 1, "{id}: {receipts:?}");
        assert_eq!(receipts[0].status, "applied");
    }
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker is the one started first"
    );
    signal(worker.id(), Signal::TERM);
    let status = wait_within(&mut worker, Duration::from_secs(30)).expect("the worker stops");
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
         ({during_restart} during the {ROUNDS} fast restarts), {:.1?}",
        all.len(),
        started.elapsed()
    );
}
