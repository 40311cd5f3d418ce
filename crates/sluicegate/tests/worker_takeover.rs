//! A worker stalled (not dead) after its write, past its lease: another worker takes the job
//! over, finds the write in the source's receipt table and records it for the stalled attempt;
//! when the stalled worker wakes, its claim is gone and the ledger refuses its finish
//! (`CLAIM_LOST`). One write, one `applied` receipt, on SQLite, PostgreSQL and MariaDB.
//!
//! In-process: the fail point `apply.after_source_commit` (this test binary's build carries
//! the fail points) holds the first worker until the test lets it go, and each worker's
//! ledger handle has its own clock, which the test moves past the lease: no sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::app;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::{App, Desk, config};
use chrono::{DateTime, Utc};
use sluicegate_core::config::Engine;
use sluicegate_ledger::Ledger;
use sluicegate_runtime::ReviewApi;
use sluicegate_runtime::worker::{JobOutcome, JobReport, Poll, WorkerOptions};

const STEP: &str = "apply.after_source_commit";
const DEADLINE: Duration = Duration::from_secs(60);

/// A ledger handle whose clock stands still until moved.
fn ledger_at(path: &std::path::Path, at: DateTime<Utc>) -> (Arc<Mutex<DateTime<Utc>>>, Ledger) {
    let t = Arc::new(Mutex::new(at));
    let clock = t.clone();
    let ledger = Ledger::open_with_clock(
        path,
        Arc::new(move || {
            clock
                .lock()
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }),
    )
    .unwrap();
    (t, ledger)
}

fn once(id: &str) -> WorkerOptions {
    let mut opts = WorkerOptions::new(id.into());
    opts.once = true;
    opts.lease = Duration::from_secs(30);
    opts
}

async fn drain(review: &ReviewApi, opts: &WorkerOptions) -> Vec<JobReport> {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut jobs = Vec::new();
    review
        .run_worker(opts, &mut Poll, rx, &mut |j| jobs.push(j.clone()))
        .await
        .unwrap();
    jobs
}

async fn stalled_past_its_lease(engine: Engine) {
    let Some(app) = App::create(engine, "worker_stall").await else {
        return;
    };
    let label = app.name();
    let doc = app.config_doc("tickets", None, &[]);
    let path = app.path("ledger.db");
    let desk = Desk::open(&path, config(&doc), app.env(&[]));
    let id = desk.approved("T-1", "stalled worker").await;
    let (_, version) = app.row("tickets", "T-1").await;
    let version: i64 = version.unwrap().parse().unwrap();

    let start = Utc::now() + chrono::Duration::seconds(1);
    let (_, ledger_a) = ledger_at(&path, start);
    let (clock_b, ledger_b) = ledger_at(&path, start);
    let stalled = ReviewApi::new(Some(config(&doc)), ledger_a, app.env(&[]));
    let heir = ReviewApi::new(Some(config(&doc)), ledger_b, app.env(&[]));

    let (reached_tx, reached) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let (reached_tx, release_rx) = (Mutex::new(reached_tx), Mutex::new(release_rx));
    let first = std::sync::atomic::AtomicBool::new(true);
    fail::cfg_callback(STEP, move || {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            reached_tx.lock().unwrap().send(()).unwrap();
            let _ = release_rx.lock().unwrap().recv();
        }
    })
    .unwrap();
    let worker_a = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(drain(&stalled, &once("worker-a")))
    });
    reached
        .recv_timeout(DEADLINE)
        .expect("worker-a reached its COMMIT");
    // The write is in the source; worker-a's claim still runs.
    assert_eq!(
        app.row("tickets", "T-1").await.0.as_deref(),
        Some("stalled worker")
    );
    assert!(
        drain(&heir, &once("worker-b")).await.is_empty(),
        "{label}: leased"
    );

    *clock_b.lock().unwrap() += chrono::Duration::seconds(30);
    let b = drain(&heir, &once("worker-b")).await;
    assert_eq!(b.len(), 1, "{label}: {b:?}");
    assert_eq!(
        (b[0].outcome, b[0].fence, b[0].taken_over),
        (JobOutcome::AlreadyApplied, 2, true),
        "{label}: {:?}",
        b[0]
    );

    release.send(()).unwrap();
    let a = worker_a.join().unwrap();
    fail::remove(STEP);
    assert_eq!(a.len(), 1, "{label}: {a:?}");
    assert_eq!(
        (a[0].outcome, a[0].fence, a[0].error_code.as_deref()),
        (JobOutcome::ClaimLost, 1, Some("CLAIM_LOST")),
        "{label}: {:?}",
        a[0]
    );

    // One write; the stalled attempt's write has its one `applied` receipt.
    let (_, now) = app.row("tickets", "T-1").await;
    assert_eq!(now, Some((version + 1).to_string()), "{label}: one write");
    let source = app.source_receipts(&id).await;
    assert_eq!(source.len(), 1, "{label}: {source:?}");
    let receipts: Vec<(String, String)> = desk
        .ledger
        .receipts(&id)
        .unwrap()
        .into_iter()
        .map(|r| (r.writeback_job_id, r.status))
        .collect();
    let applied: Vec<&String> = receipts
        .iter()
        .filter(|(_, s)| s == "applied")
        .map(|(j, _)| j)
        .collect();
    assert_eq!(applied, [&source[0].0], "{label}: {receipts:?}");
    let item = desk.ledger.work_item(&id).unwrap().unwrap();
    assert_eq!(
        (
            item.status.as_str(),
            item.fence,
            item.last_outcome.as_deref()
        ),
        ("done", 2, Some("already_applied")),
        "{label}"
    );
    let report = desk.ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{label}: {:?}", report.problems);
}

/// One test for every engine: the fail point is process-wide, so no two stall at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_worker_past_its_lease_is_taken_over_and_fenced_off() {
    for engine in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
        stalled_past_its_lease(engine).await;
    }
}
