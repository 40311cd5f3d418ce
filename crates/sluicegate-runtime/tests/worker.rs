//! `ReviewApi::run_worker` on a real ledger and a real app database (SQLite, PostgreSQL,
//! MariaDB): two workers, each with its own ledger handle (as two processes have), drain
//! the same approved proposals at once and every one is written exactly once, with one
//! `applied` receipt; a job that keeps failing backs off (the ledger's clock, moved by the
//! test) and ends as a dead letter; a worker never applies what `apply` refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::apply_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apply_support::app::{App, Desk, config};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sluicegate_core::config::Engine;
use sluicegate_core::decision::{Verdict, public_key_text, signing_key};
use sluicegate_ledger::{ActivityQuery, Filter, Ledger, WORKER_DEAD_LETTER};
use sluicegate_runtime::worker::{JobOutcome, JobReport, Poll, WorkerOptions};
use sluicegate_runtime::{Env, ReviewApi};

const JOBS: usize = 12;

fn once(id: &str) -> WorkerOptions {
    let mut opts = WorkerOptions::new(id.into());
    opts.once = true;
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

async fn two_workers_race(engine: Engine) {
    let Some(app) = App::create(engine, "worker_race").await else {
        return;
    };
    let values: Vec<String> = (0..JOBS)
        .map(|i| format!("('W-{i}', 'acme', NULL, 1)"))
        .collect();
    app.execute(&format!("INSERT INTO tickets VALUES {}", values.join(", ")))
        .await;
    let doc = app.config_doc("tickets", None, &[]);
    let path = app.path("ledger.db");
    let desk = Desk::open(&path, config(&doc), app.env(&[]));
    let mut ids = Vec::new();
    for i in 0..JOBS {
        ids.push(
            desk.approved(&format!("W-{i}"), &format!("raced {i}"))
                .await,
        );
    }
    // Two workers, each with its own ledger handle and writer, as two processes would be.
    let a = Desk::open(&path, config(&doc), app.env(&[]));
    let b = Desk::open(&path, config(&doc), app.env(&[]));
    let (oa, ob) = (once("worker-a"), once("worker-b"));
    let (ja, jb) = tokio::join!(drain(&a.review, &oa), drain(&b.review, &ob));
    let label = app.name();
    let mut reported: Vec<&JobReport> = ja.iter().chain(&jb).collect();
    reported.sort_by(|x, y| x.proposal_id.cmp(&y.proposal_id));
    assert_eq!(
        reported.len(),
        JOBS,
        "{label}: one report per job: {reported:?}"
    );
    assert!(
        reported.iter().all(|j| j.outcome == JobOutcome::Applied),
        "{label}: {reported:?}"
    );
    for (i, id) in ids.iter().enumerate() {
        let (note, version) = app.row("tickets", &format!("W-{i}")).await;
        assert_eq!(note, Some(format!("raced {i}")), "{label} W-{i}");
        assert_eq!(version.as_deref(), Some("2"), "{label} W-{i}: written once");
        let source = app.source_receipts(id).await;
        assert_eq!(source.len(), 1, "{label} {id}: {source:?}");
        assert_eq!(source[0].1, "applied", "{label} {id}");
        let applied: Vec<String> = desk
            .ledger
            .receipts(id)
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "applied")
            .map(|r| r.writeback_job_id)
            .collect();
        assert_eq!(applied, [source[0].0.clone()], "{label} {id}");
        assert_eq!(desk.ledger.work_item(id).unwrap().unwrap().status, "done");
    }
    let verified = desk.ledger.verify(&[]).unwrap();
    assert!(
        verified.problems.is_empty(),
        "{label}: {:?}",
        verified.problems
    );
    // Nothing is left to claim.
    assert!(drain(&a.review, &once("worker-a")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_write_each_job_once_on_sqlite() {
    two_workers_race(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_write_each_job_once_on_postgres() {
    two_workers_race(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_write_each_job_once_on_mariadb() {
    two_workers_race(Engine::Mysql).await;
}

/// A ledger clock that stands still until the test moves it.
#[derive(Clone)]
struct Hands(Arc<Mutex<DateTime<Utc>>>);

impl Hands {
    fn open(path: &std::path::Path) -> (Hands, Ledger) {
        let hands = Hands(Arc::new(Mutex::new(
            Utc::now() + chrono::Duration::seconds(1),
        )));
        let t = hands.0.clone();
        let ledger = Ledger::open_with_clock(
            path,
            Arc::new(move || {
                t.lock()
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            }),
        )
        .unwrap();
        (hands, ledger)
    }

    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(secs);
    }
}

/// The writer URL is missing where the worker runs: `apply` refuses before recording
/// anything, the worker retries after 10 s, then 20 s, then gives up at the third attempt.
#[tokio::test]
async fn a_failing_job_backs_off_then_is_dead_lettered() {
    let app = App::create(Engine::Sqlite, "worker_dead").await.unwrap();
    let doc = app.config_doc("tickets", None, &[]);
    let path = app.path("ledger.db");
    let desk = Desk::open(&path, config(&doc), app.env(&[]));
    let id = desk.approved("T-1", "never written").await;
    let before = app.snapshot().await;

    let (hands, ledger) = Hands::open(&path);
    // No APP_URL: the writer's URL is not set for this worker.
    let review = ReviewApi::new(
        Some(config(&doc)),
        ledger.clone(),
        Env::from_map(Default::default()),
    );
    let mut opts = once("worker-a");
    opts.max_attempts = 3;
    opts.retry.first = Duration::from_secs(10);

    let mut seen = Vec::new();
    for wait in [0, 10, 20] {
        hands.advance(wait);
        let jobs = drain(&review, &opts).await;
        assert_eq!(jobs.len(), 1, "after {wait}s: {jobs:?}");
        assert!(drain(&review, &opts).await.is_empty(), "backing off");
        seen.push(jobs[0].clone());
    }
    let outcomes: Vec<(JobOutcome, u32)> = seen.iter().map(|j| (j.outcome, j.attempt)).collect();
    assert_eq!(
        outcomes,
        [
            (JobOutcome::Retry, 1),
            (JobOutcome::Retry, 2),
            (JobOutcome::DeadLetter, 3)
        ]
    );
    for j in &seen {
        assert_eq!(j.error_code.as_deref(), Some("WRITER_URL_MISSING"), "{j:?}");
    }
    assert!(seen[0].retry_at.is_some() && seen[2].dead_letter_id.is_some());
    hands.advance(3600);
    assert!(
        drain(&review, &opts).await.is_empty(),
        "a dead letter stays put"
    );
    assert_eq!(app.snapshot().await, before, "nothing was written");

    let page = ledger
        .activity(&ActivityQuery {
            filter: Filter {
                status: Some(WORKER_DEAD_LETTER.into()),
                ..Filter::default()
            },
            ..ActivityQuery::default()
        })
        .unwrap();
    assert_eq!(page.items.len(), 1, "{:?}", page.items);
    assert_eq!(page.items[0].proposal.as_deref(), Some(id.as_str()));
    assert!(
        page.items[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("WRITER_URL_MISSING: "),
        "{:?}",
        page.items[0]
    );
}

/// With reviewers configured, an approval recorded unsigned (while none were) is refused by
/// `apply`, so the worker never writes it: it ends as a dead letter with apply's code.
#[tokio::test]
async fn a_worker_never_applies_what_apply_refuses() {
    let app = App::create(Engine::Sqlite, "worker_signed").await.unwrap();
    let ann = signing_key(&[1; 32]);
    let reviewers: Vec<Value> =
        vec![json!({"name": "ann", "public_key": public_key_text(&ann.verifying_key())})];
    let path = app.path("ledger.db");
    let unsigned_desk = Desk::open(
        &path,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let id = unsigned_desk.approved("T-1", "unsigned").await;
    let before = app.snapshot().await;

    let signed = Desk::open(
        &path,
        config(&app.config_doc("tickets", None, &reviewers)),
        app.env(&[]),
    );
    let mut opts = once("worker-a");
    opts.max_attempts = 1;
    let jobs = drain(&signed.review, &opts).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].outcome, JobOutcome::DeadLetter);
    assert_eq!(
        jobs[0].error_code.as_deref(),
        Some("APPROVAL_SIGNATURE_MISSING"),
        "{:?}",
        jobs[0]
    );
    assert_eq!(app.snapshot().await, before, "nothing was written");
    assert!(app.source_receipts(&id).await.is_empty());

    // Signed by ann, the next one applies.
    let good = signed.propose("T-2", "signed").await;
    signed
        .decide(&good, Verdict::Approve, Some(ann.clone()))
        .await
        .unwrap();
    let jobs = drain(&signed.review, &opts).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0].proposal_id.as_str(), jobs[0].outcome),
        (good.as_str(), JobOutcome::Applied)
    );
}

/// The writer's database cannot be reached: the attempt's `failed` receipt is recorded, the
/// job backs off, and once the database is back the next claim applies it.
#[tokio::test]
async fn a_failed_write_is_retried_and_applies_once_the_database_is_back() {
    let app = App::create(Engine::Sqlite, "worker_retry").await.unwrap();
    let doc = app.config_doc("tickets", None, &[]);
    let path = app.path("ledger.db");
    let desk = Desk::open(&path, config(&doc), app.env(&[]));
    let id = desk.approved("T-1", "after the outage").await;

    let (hands, ledger) = Hands::open(&path);
    let gone = format!("sqlite://{}", app.path("no/such/dir/app.db").display());
    let down = ReviewApi::new(
        Some(config(&doc)),
        ledger.clone(),
        app.env(&[("APP_URL", gone)]),
    );
    let up = ReviewApi::new(Some(config(&doc)), ledger.clone(), app.env(&[]));
    let opts = once("worker-a");

    let first = drain(&down, &opts).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].outcome, JobOutcome::Retry, "{:?}", first[0]);
    assert_eq!(first[0].error_code.as_deref(), Some("DATABASE_UNAVAILABLE"));
    assert_eq!(desk.ledger.proposal(&id).unwrap().state, "failed");
    assert!(drain(&up, &opts).await.is_empty(), "backing off");

    hands.advance(5);
    let second = drain(&up, &opts).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(
        (second[0].outcome, second[0].attempt),
        (JobOutcome::Applied, 2)
    );
    let statuses: Vec<String> = desk
        .ledger
        .receipts(&id)
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, ["failed", "applied"]);
    assert_eq!(app.source_receipts(&id).await.len(), 1);
    assert_eq!(desk.ledger.proposal(&id).unwrap().state, "applied");
}

/// An app-owned handler that answers `failed` is called once: the worker gives the job up at
/// once instead of retrying (a handler is never called twice for one key unattended).
#[tokio::test]
async fn a_failed_handler_call_is_never_resent_unattended() {
    let app = App::create(Engine::Sqlite, "worker_handler").await.unwrap();
    let calls = app.path("calls");
    let script = app.path("handler.sh");
    std::fs::write(
        &script,
        "cat >/dev/null\necho call >> \"$1\"\necho '{\"status\":\"failed\",\"safe_error_code\":\"APP_REFUSED\"}'\n",
    )
    .unwrap();
    let handler =
        json!({"type": "command_handler", "command_env": "HOOK_COMMAND", "timeout_ms": 10000});
    let doc = app.config_doc("tickets", Some(handler), &[]);
    let hook = format!("sh '{}' '{}'", script.display(), calls.display());
    let desk = Desk::open(
        &app.path("ledger.db"),
        config(&doc),
        app.env(&[("HOOK_COMMAND", hook)]),
    );
    let id = desk.approved("T-1", "handled").await;
    let jobs = drain(&desk.review, &once("worker-a")).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0].outcome, jobs[0].attempt),
        (JobOutcome::DeadLetter, 1),
        "{:?}",
        jobs[0]
    );
    assert_eq!(jobs[0].error_code.as_deref(), Some("APP_REFUSED"));
    assert!(
        jobs[0]
            .error
            .as_deref()
            .unwrap()
            .contains(&format!("sluicegate apply {id} --force-handler-retry")),
        "{:?}",
        jobs[0]
    );
    assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 1);
    assert!(drain(&desk.review, &once("worker-a")).await.is_empty());
}

/// A stop that arrives while a job is being claimed: the claim is handed back untried
/// (`released`, not counted as an attempt) and the next worker gets it at once. The stop is
/// sent by the ledger's clock when the claim's transaction reads it, so it lands exactly
/// between the claim and the apply.
#[tokio::test]
async fn a_stop_that_comes_with_the_claim_hands_it_back_untried() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let app = App::create(Engine::Sqlite, "worker_release").await.unwrap();
    let doc = app.config_doc("tickets", None, &[]);
    let path = app.path("ledger.db");
    let desk = Desk::open(&path, config(&doc), app.env(&[]));
    let id = desk.approved("T-1", "after a restart").await;
    let before = app.snapshot().await;

    let (tx, rx) = tokio::sync::watch::channel(false);
    let armed = Arc::new(AtomicBool::new(false));
    let trigger = armed.clone();
    let ledger = Ledger::open_with_clock(
        &path,
        Arc::new(move || {
            if trigger.load(Ordering::SeqCst) {
                let _ = tx.send(true);
            }
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }),
    )
    .unwrap();
    let review = ReviewApi::new(Some(config(&doc)), ledger, app.env(&[]));
    armed.store(true, Ordering::SeqCst);
    let mut jobs = Vec::new();
    review
        .run_worker(&once("worker-a"), &mut Poll, rx, &mut |j| {
            jobs.push(j.clone())
        })
        .await
        .unwrap();
    armed.store(false, Ordering::SeqCst);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0].outcome, jobs[0].fence, jobs[0].attempt),
        (JobOutcome::Released, 1, 1)
    );
    assert_eq!(app.snapshot().await, before, "nothing was written");
    let item = desk.ledger.work_item(&id).unwrap().unwrap();
    assert_eq!(
        (item.status.as_str(), item.attempts, item.holder),
        ("ready", 0, None)
    );

    let next = drain(&desk.review, &once("worker-b")).await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(
        (next[0].outcome, next[0].fence, next[0].attempt),
        (JobOutcome::Applied, 2, 1)
    );
}
