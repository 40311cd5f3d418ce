//! kill -9 at each step of `sluicegate apply` (the real binary), on SQLite, PostgreSQL and
//! MariaDB: after the attempt's job is recorded, inside the source transaction before COMMIT,
//! after COMMIT but before the ledger's receipt, after an orphaned write was reconciled, and
//! after the receipt; and twice in a row. Then `apply` again without the fail point: exactly
//! one write in the source, every write with an `applied` receipt in the ledger for the very
//! attempt the source says wrote it, and a ledger that verifies.
//!
//! The binary cargo builds for these tests carries the fail points (dev-dependency feature
//! `failpoints`); `SLUICEGATE_FAILPOINTS` arms one, the process prints a marker on stderr when
//! it gets there and blocks, and the test sends SIGKILL.
//!
//! And the same step stalled rather than killed: another `apply` cannot tell a stalled
//! attempt from a dead one and records its write for it; when the stalled one wakes, the
//! receipt recorded for it stands and both report success.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::app;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use app::{App, Desk, config};
use serde_json::Value;
use sluicegate_core::config::Engine;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::ApplyOptions;
use sluicegate_runtime::failpoint::MARKER;

/// The kills of one trial, in order, before the clean `apply`.
const SEQUENCES: [&[&str]; 6] = [
    &["apply.after_job_queued"],
    &["writeback.before_commit"],
    &["apply.after_source_commit"],
    &["apply.after_source_commit", "apply.after_reconcile"],
    &["apply.after_receipt"],
    // The attempt that wrote dies before its receipt; the next dies before it reaches the
    // source. The write belongs to the first, not to the newest attempt left without one.
    &["apply.after_source_commit", "apply.after_job_queued"],
];

const TRIALS: usize = 30;

/// How long a run may take to reach its fail point or finish: far beyond a normal run, and
/// only ever reached when something hangs.
const DEADLINE: Duration = Duration::from_secs(60);

struct Cli<'a> {
    app: &'a App,
    config: &'a Path,
    ledger: &'a Path,
}

impl Cli<'_> {
    fn command(&self, id: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
        cmd.args(["apply", id, "--json", "--config"])
            .arg(self.config)
            .arg("--store")
            .arg(self.ledger)
            .env("APP_URL", &self.app.url)
            .env("TENANT", "acme")
            .env("PRINCIPAL", "agent_7")
            .env_remove("SLUICEGATE_FAILPOINTS")
            .env_remove("SLUICEGATE_STORE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `apply` with `step` armed: wait until the process says it is there, then kill -9.
    fn killed_at(&self, id: &str, step: &str) {
        let mut child = self
            .command(id)
            .env("SLUICEGATE_FAILPOINTS", step)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = DEADLINE.saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok(line) if line == format!("{MARKER} {step}") => break,
                Ok(line) => seen.push(line),
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    panic!(
                        "{}: apply never reached {step} ({e}; {status}); stderr: {seen:?}",
                        self.app.name()
                    );
                }
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "{}: {step}: {status}",
            self.app.name()
        );
    }

    /// `apply` without a fail point: its printed status.
    fn apply(&self, id: &str) -> String {
        let out = self.command(id).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: {}: {stderr}",
            self.app.name(),
            out.status
        );
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        result["status"].as_str().unwrap().to_string()
    }
}

async fn crash_trials(engine: Engine) {
    let Some(app) = App::create(engine, "apply_crash").await else {
        return;
    };
    let started = Instant::now();
    let doc = app.config_doc("tickets", None, &[]);
    let config_path = app.path("sluicegate.json");
    std::fs::write(&config_path, doc.to_string()).unwrap();
    let ledger_path = app.path("ledger.db");
    let desk = Desk::open(&ledger_path, config(&doc), app.env(&[]));
    let cli = Cli {
        app: &app,
        config: &config_path,
        ledger: &ledger_path,
    };
    for trial in 0..TRIALS {
        let steps = SEQUENCES[trial % SEQUENCES.len()];
        let label = format!("{} trial {trial} {steps:?}", app.name());
        let note = format!("crash trial {trial}");
        let id = desk.approved("T-1", &note).await;
        let (old_note, version) = app.row("tickets", "T-1").await;
        let version: i64 = version.unwrap().parse().unwrap();

        for step in steps {
            cli.killed_at(&id, step);
            // Killed before COMMIT, nothing is in the source; from COMMIT on, the write is.
            let committed = !matches!(*step, "apply.after_job_queued" | "writeback.before_commit")
                || steps[0] == "apply.after_source_commit";
            let (now, _) = app.row("tickets", "T-1").await;
            let want = if committed {
                Some(note.clone())
            } else {
                old_note.clone()
            };
            assert_eq!(now, want, "{label}: after the kill at {step}");
        }
        let status = cli.apply(&id);
        let wrote_before = !matches!(
            steps[0],
            "apply.after_job_queued" | "writeback.before_commit"
        );
        let want = if wrote_before {
            "already_applied"
        } else {
            "applied"
        };
        assert_eq!(status, want, "{label}");

        // Exactly one write: the patch, the version advanced once, one source receipt.
        let (written, now) = app.row("tickets", "T-1").await;
        assert_eq!(written.as_deref(), Some(note.as_str()), "{label}");
        assert_eq!(now, Some((version + 1).to_string()), "{label}: one write");
        let source = app.source_receipts(&id).await;
        assert_eq!(source.len(), 1, "{label}: {source:?}");
        let (writer, source_status) = &source[0];
        assert_eq!(source_status, "applied", "{label}");

        // The attempt that wrote has an `applied` receipt; no other attempt claims a write,
        // and no attempt has two receipts.
        let receipts = desk.ledger.receipts(&id).unwrap();
        let applied: Vec<&str> = receipts
            .iter()
            .filter(|r| r.status == "applied")
            .map(|r| r.writeback_job_id.as_str())
            .collect();
        assert_eq!(applied, [writer.as_str()], "{label}: {receipts:?}");
        for job in desk.ledger.jobs(&id).unwrap() {
            let mine = receipts
                .iter()
                .filter(|r| r.writeback_job_id == job.writeback_job_id)
                .count();
            assert!(mine <= 1, "{label}: {receipts:?}");
        }
        assert_eq!(
            desk.ledger.proposal(&id).unwrap().state,
            "applied",
            "{label}"
        );
        let report = desk.ledger.verify(&[]).unwrap();
        assert!(report.ok(), "{label}: {:?}", report.problems);
    }
    eprintln!(
        "{}: {TRIALS} crash trials in {:?}",
        app.name(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_each_step_of_apply_on_sqlite() {
    crash_trials(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_each_step_of_apply_on_postgres() {
    crash_trials(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_each_step_of_apply_on_mariadb() {
    crash_trials(Engine::Mysql).await;
}

/// `apply` stalls after its COMMIT (in this process, the fail point holding it); another
/// `apply` of the same proposal finds the write, records it for the stalled attempt, and
/// records its own `already_applied`. Then the stalled one wakes: the receipt recorded for it
/// stands, and it reports its write as applied rather than failing.
async fn stalled_after_commit(engine: Engine) {
    let Some(app) = App::create(engine, "apply_stall").await else {
        return;
    };
    const STEP: &str = "apply.after_source_commit";
    let ledger = app.path("ledger.db");
    let config = config(&app.config_doc("tickets", None, &[]));
    let stalled = Desk::open(&ledger, config.clone(), app.env(&[]));
    let other = Desk::open(&ledger, config, app.env(&[]));
    let id = stalled.approved("T-1", "stalled").await;

    let (reached_tx, reached) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let (reached_tx, release_rx) = (Mutex::new(reached_tx), Mutex::new(release_rx));
    let first = AtomicBool::new(true);
    // Only the first attempt to get there stalls; the other passes through.
    fail::cfg_callback(STEP, move || {
        if first.swap(false, Ordering::SeqCst) {
            reached_tx.lock().unwrap().send(()).unwrap();
            let _ = release_rx.lock().unwrap().recv();
        }
    })
    .unwrap();
    let review = stalled.review.clone();
    let pid = id.clone();
    let stalled_apply = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(review.apply(&pid, &ApplyOptions::default()))
    });
    reached
        .recv_timeout(DEADLINE)
        .expect("the first apply reached its COMMIT");

    let second = other
        .review
        .apply(&id, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(second.result.status, ReceiptStatus::AlreadyApplied);
    release.send(()).unwrap();
    let first = stalled_apply.join().unwrap();
    fail::remove(STEP);
    let first = first.unwrap_or_else(|e| panic!("{}: the stalled apply failed: {e:?}", app.name()));
    assert_eq!(
        first.result.status,
        ReceiptStatus::Applied,
        "{}",
        app.name()
    );

    let source = app.source_receipts(&id).await;
    assert_eq!(source.len(), 1, "{source:?}");
    assert_eq!(source[0].0, first.writeback_job_id);
    let receipts = stalled.ledger.receipts(&id).unwrap();
    let statuses: Vec<(&str, &str)> = receipts
        .iter()
        .map(|r| (r.writeback_job_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            (first.writeback_job_id.as_str(), "applied"),
            (second.writeback_job_id.as_str(), "already_applied")
        ]
    );
    assert_eq!(
        first.receipt.as_ref().unwrap().writeback_job_id,
        first.writeback_job_id
    );
    assert!(
        stalled
            .ledger
            .events(&id)
            .unwrap()
            .iter()
            .any(|e| e.kind == "writeback_reconciled")
    );
    let report = stalled.ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

/// One test for every engine: the fail point is process-wide, so no two stall at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_stalled_after_commit_keeps_the_receipt_recorded_for_it() {
    for engine in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
        stalled_after_commit(engine).await;
    }
}
