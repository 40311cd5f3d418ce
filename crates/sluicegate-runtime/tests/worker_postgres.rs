//! The worker on a PostgreSQL ledger: two workers race on every one of 1,000 jobs (A claims
//! it, its lease runs out on the test's clock, B takes it over, both apply it at once) and each
//! job is written once, with one `applied` receipt and one source receipt; two
//! `ReviewApi::run_worker` loops on a clock that jumps past the lease at every reading take
//! each other's claims over mid-apply and still write each job once; an idle
//! worker is woken by `NOTIFY` for work approved after it went idle, long before its poll (also
//! after its connections were cut), a running worker waits out a ledger database that is down,
//! and one whose ledger goes away while a job is in hand keeps running and writes it once.
//! Each test has its own ledger database; without a server they fail under CI=true.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::apply_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use apply_support::app::{App, Desk, config};
use sluicegate_core::config::Engine;
use sluicegate_ledger::{Clock, Durability, Ledger, system_clock};
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::worker::{JobOutcome, JobReport, Listen, Wake, WorkerOptions};
use sluicegate_runtime::{ApplyOptions, ReviewApi};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

/// A migrated PostgreSQL ledger database of the test's own.
async fn ledger_database(prefix: &str) -> Option<TestDatabase> {
    let db = TestDatabase::create(EngineKind::Postgres, prefix).await?;
    Ledger::migrate_postgres(db.url()).unwrap();
    Some(db)
}

/// Let the ledger's database accept connections again, or refuse them and end the ones it
/// has (as during a restart of its PostgreSQL).
async fn allow_connections(db: &TestDatabase, allow: bool) {
    let name = db.name();
    let mut sql = format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}");
    if !allow {
        sql.push_str(&format!(
            "; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ));
    }
    sluicegate_test_support::engines::execute_on(EngineKind::Postgres, db.admin_url(), &sql)
        .await
        .unwrap();
}

fn open(db: &TestDatabase, clock: Clock) -> Ledger {
    Ledger::open_postgres_with_clock(db.url(), "$TEST_LEDGER_URL", Durability::Relaxed, clock)
        .unwrap()
}

/// Jobs in the race (`SLUICEGATE_TEST_WORKER_JOBS` overrides, e.g. for a quick local run).
fn jobs() -> usize {
    std::env::var("SLUICEGATE_TEST_WORKER_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

const LEASE: Duration = Duration::from_secs(30);

/// A clock shared by the racing workers that moves a lease and a second further at every
/// reading: whatever one worker claimed has expired by the other's next claim.
fn jumping_clock() -> Clock {
    let start = chrono::Utc::now().timestamp_millis() + 1000;
    let n = Arc::new(AtomicI64::new(0));
    Arc::new(move || {
        let step = (LEASE.as_millis() as i64) + 1000;
        let at = start + n.fetch_add(1, Ordering::SeqCst) * step;
        chrono::DateTime::from_timestamp_millis(at)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

async fn drain(review: &ReviewApi, opts: &WorkerOptions) -> Vec<JobReport> {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut jobs = Vec::new();
    review
        .run_worker(opts, &mut sluicegate_runtime::worker::Poll, rx, &mut |j| {
            jobs.push(j.clone())
        })
        .await
        .unwrap();
    jobs
}

/// An app database with `n` tickets, a PostgreSQL ledger of its own, and `n` approved
/// proposals (by a few reviewers at once); the ids in ticket order.
struct Raced {
    app: App,
    db: TestDatabase,
    doc: serde_json::Value,
    desk: Arc<Desk>,
    ids: Vec<(usize, String)>,
}

async fn approved_jobs(source: Engine, n: usize, prefix: &str) -> Option<Raced> {
    let app = App::create(source, &format!("{prefix}_app")).await?;
    let db = ledger_database(prefix).await?;
    let values: Vec<String> = (0..n)
        .map(|i| format!("('W-{i}', 'acme', NULL, 1)"))
        .collect();
    app.execute(&format!("INSERT INTO tickets VALUES {}", values.join(", ")))
        .await;
    let doc = app.config_doc("tickets", None, &[]);
    let desk = Arc::new(Desk::with_ledger(
        open(&db, system_clock()),
        config(&doc),
        app.env(&[]),
    ));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let desk = desk.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (t..n).step_by(4) {
                ids.push((
                    i,
                    desk.approved(&format!("W-{i}"), &format!("raced {i}"))
                        .await,
                ));
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids.sort();
    Some(Raced {
        app,
        db,
        doc,
        desk,
        ids,
    })
}

/// Each job written once: the row's version moved once, one source receipt, and the one
/// `applied` receipt in the ledger is that attempt's; every chain verifies.
async fn written_once(r: &Raced) {
    let label = r.app.name();
    for (i, id) in &r.ids {
        let (note, version) = r.app.row("tickets", &format!("W-{i}")).await;
        assert_eq!(note, Some(format!("raced {i}")), "{label} W-{i}");
        assert_eq!(version.as_deref(), Some("2"), "{label} W-{i}: written once");
        let source = r.app.source_receipts(id).await;
        assert_eq!(source.len(), 1, "{label} {id}: {source:?}");
        assert_eq!(source[0].1, "applied", "{label} {id}");
        let applied: Vec<String> = r
            .desk
            .ledger
            .receipts(id)
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "applied")
            .map(|r| r.writeback_job_id)
            .collect();
        assert_eq!(applied, [source[0].0.clone()], "{label} {id}");
    }
    let verified = r.desk.ledger.verify(&[]).unwrap();
    assert!(
        verified.problems.is_empty(),
        "{label}: {:?}",
        verified.problems
    );
}

/// A ledger clock that stands still until the test moves it.
#[derive(Clone)]
struct Hands(Arc<AtomicI64>);

impl Hands {
    fn new() -> Hands {
        Hands(Arc::new(AtomicI64::new(
            chrono::Utc::now().timestamp_millis() + 1000,
        )))
    }

    fn clock(&self) -> Clock {
        let t = self.0.clone();
        Arc::new(move || {
            chrono::DateTime::from_timestamp_millis(t.load(Ordering::SeqCst))
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
    }

    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
}

/// Two workers race on every one of the jobs: worker A claims it, its lease runs out, worker
/// B takes it over, and both apply it at once through the one executor path; then both try
/// to finish. Exactly one attempt writes, A's finish is `CLAIM_LOST`, B's is recorded.
async fn forced_race(source: Engine) {
    let n = jobs();
    let Some(r) = approved_jobs(source, n, "pgworker_race").await else {
        return;
    };
    let hands = Hands::new();
    let a = Desk::with_ledger(open(&r.db, hands.clock()), config(&r.doc), r.app.env(&[]));
    let b = Desk::with_ledger(open(&r.db, hands.clock()), config(&r.doc), r.app.env(&[]));
    let label = r.app.name();
    let started = Instant::now();
    let opts = ApplyOptions::default();
    let mut done = 0;
    loop {
        let Some(ca) = a
            .ledger
            .claim_work("worker-a", LEASE, 1)
            .await
            .unwrap()
            .pop()
        else {
            break;
        };
        hands.advance(LEASE);
        let cb = b
            .ledger
            .claim_work("worker-b", LEASE, 1)
            .await
            .unwrap()
            .pop();
        let cb = cb.expect("the expired claim is taken over");
        assert_eq!(cb.proposal_id, ca.proposal_id, "{label}");
        assert!(cb.taken_over && cb.fence == ca.fence + 1, "{label}: {cb:?}");
        let id = &ca.proposal_id;
        let (ra, rb) = tokio::join!(a.review.apply(id, &opts), b.review.apply(id, &opts));
        let wrote = [&ra, &rb]
            .iter()
            .filter(|r| matches!(r, Ok(rep) if rep.result.status == ReceiptStatus::Applied))
            .count();
        assert_eq!(
            wrote, 1,
            "{label} {id}: exactly one attempt writes: {ra:?} {rb:?}"
        );
        let lost = a.ledger.finish_claim(&ca, "applied").await.unwrap_err();
        assert_eq!(lost.code(), Some("CLAIM_LOST"), "{label}: {lost}");
        b.ledger.finish_claim(&cb, "applied").await.unwrap();
        assert_eq!(b.ledger.work_item(id).unwrap().unwrap().status, "done");
        done += 1;
    }
    eprintln!("{label}: {done} jobs raced in {:?}", started.elapsed());
    assert_eq!(done, n, "{label}: every job was claimed");
    written_once(&r).await;
}

/// The same on the worker loop itself: two `run_worker`s on a clock that jumps a lease
/// further at every reading, so whatever one has claimed looks expired to the other and
/// most jobs are taken over mid-apply; each is still written once.
async fn racing_loops(source: Engine, n: usize) {
    let Some(r) = approved_jobs(source, n, "pgworker_loops").await else {
        return;
    };
    let clock = jumping_clock();
    let a = Desk::with_ledger(open(&r.db, clock.clone()), config(&r.doc), r.app.env(&[]));
    let b = Desk::with_ledger(open(&r.db, clock), config(&r.doc), r.app.env(&[]));
    let opts = |id: &str| {
        let mut o = WorkerOptions::new(id.into());
        o.once = true;
        o.lease = LEASE;
        o.max_attempts = 10_000;
        o
    };
    let (oa, ob) = (opts("worker-a"), opts("worker-b"));
    let started = Instant::now();
    let (ja, jb) = tokio::join!(drain(&a.review, &oa), drain(&b.review, &ob));
    let label = r.app.name();
    let took_over = ja.iter().chain(&jb).filter(|j| j.taken_over).count();
    eprintln!(
        "{label}: {n} jobs, {} + {} job reports, {took_over} take-overs in {:?}",
        ja.len(),
        jb.len(),
        started.elapsed()
    );
    assert!(took_over > 0, "{label}: the workers raced");
    // A holder whose claim was taken over mid-apply reports `claim_lost` even when its
    // attempt was the one that wrote: the source and the ledger tell which did.
    assert!(
        ja.iter()
            .chain(&jb)
            .all(|j| j.outcome != JobOutcome::DeadLetter),
        "{label}: {ja:?} {jb:?}"
    );
    written_once(&r).await;
    assert!(drain(&a.review, &opts("worker-a")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_on_every_job_never_both_write() {
    forced_race(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_loops_taking_over_each_other_write_each_job_once() {
    racing_loops(Engine::Postgres, 60).await;
}

/// A wake-up that tells the test each time the worker goes to wait (a readiness signal).
struct Told {
    inner: Listen,
    idle: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Wake for Told {
    async fn wait(&mut self, pause: Duration) {
        let _ = self.idle.send(());
        self.inner.wait(pause).await;
    }
}

/// The worker polls only every 10 minutes; a proposal approved after it went idle is applied
/// within seconds, because the approval's transaction sent `NOTIFY sluicegate_work`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_is_woken_by_notify_for_work_approved_later() {
    woken(false).await;
}

/// The same after every ledger connection was cut while the worker was idle (as a restart
/// of the ledger's PostgreSQL does): its writer, readers and listener connect again, and the
/// approval still wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_whose_connections_were_cut_is_still_woken() {
    woken(true).await;
}

async fn woken(cut: bool) {
    let Some(app) = App::create(Engine::Sqlite, "pgworker_notify_app").await else {
        return;
    };
    let Some(db) = ledger_database("pgworker_notify").await else {
        return;
    };
    let doc = app.config_doc("tickets", None, &[]);
    let desk = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let worker = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let signal = worker
        .ledger
        .work_signal()
        .unwrap()
        .expect("a PostgreSQL ledger listens");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !signal.listening() {
        assert!(
            Instant::now() < deadline,
            "the LISTEN never came into force"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (idle_tx, mut idle) = tokio::sync::mpsc::unbounded_channel();
    let (jobs_tx, mut jobs) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut opts = WorkerOptions::new("worker-n".into());
    opts.idle.first = Duration::from_secs(600);
    opts.idle.max = Duration::from_secs(600);
    let mut wake = Told {
        inner: Listen(signal),
        idle: idle_tx,
    };
    let mut on_job = |j: &JobReport| {
        let _ = jobs_tx.send(j.clone());
    };
    let run = worker
        .review
        .run_worker(&opts, &mut wake, stop_rx, &mut on_job);
    let drive = async {
        // The first wait returns at once (the listener's look after its LISTEN); the second
        // is the worker idle on an empty queue.
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(20), idle.recv())
                .await
                .expect("the worker went idle")
                .unwrap();
        }
        if cut {
            let cut = db
                .query_text(
                    "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity \
                     WHERE application_name IN ('sluicegate-ledger', 'sluicegate-worker-listen') \
                     AND datname = current_database()",
                )
                .await;
            let n: usize = cut[0][0].as_deref().unwrap().parse().unwrap();
            // At least the worker's writer and its listening connection.
            assert!(n >= 2, "{n} connections cut");
        }
        let id = desk.approved("T-1", "woken").await;
        let approved_at = Instant::now();
        let job = tokio::time::timeout(Duration::from_secs(30), jobs.recv())
            .await
            .expect("the idle worker was woken long before its 10-minute poll")
            .unwrap();
        let waited = approved_at.elapsed();
        stop.send(true).unwrap();
        (id, job, waited)
    };
    let (summary, (id, job, waited)) =
        tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(run, drive) })
            .await
            .expect("the test finished");
    let summary = summary.unwrap();
    assert_eq!(job.proposal_id, id);
    assert_eq!(job.outcome, JobOutcome::Applied, "{job:?}");
    let (note, _) = app.row("tickets", "T-1").await;
    assert_eq!(note.as_deref(), Some("woken"));
    eprintln!("applied {waited:?} after the approval");
    assert_eq!(summary.jobs, 1);
}

/// The listening connection is cut (an administrator's `pg_terminate_backend`, as a restart
/// would): it connects and listens again by itself, looks once for work queued meanwhile,
/// and the next approval's `NOTIFY` reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_listening_connection_listens_again_and_is_notified() {
    let Some(app) = App::create(Engine::Sqlite, "pgworker_relisten_app").await else {
        return;
    };
    let Some(db) = ledger_database("pgworker_relisten").await else {
        return;
    };
    let doc = app.config_doc("tickets", None, &[]);
    let desk = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let signal = desk.ledger.work_signal().unwrap().unwrap();
    let within = |what: &'static str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        move || assert!(Instant::now() < deadline, "{what}")
    };
    let check = within("the LISTEN never came into force");
    while signal.listens() < 1 {
        check();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The look after the LISTEN.
    tokio::time::timeout(Duration::from_secs(5), signal.notified())
        .await
        .expect("a look once listening");
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'sluicegate-worker-listen' AND datname = current_database()",
    )
    .await;
    let check = within("the LISTEN was never made again");
    while signal.listens() < 2 {
        check();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(signal.listening());
    tokio::time::timeout(Duration::from_secs(5), signal.notified())
        .await
        .expect("a look after listening again");
    desk.approved("T-1", "after the cut").await;
    tokio::time::timeout(Duration::from_secs(20), signal.notified())
        .await
        .expect("the approval's NOTIFY reached the new connection");
}

/// The ledger's database refuses every connection for a while (as during a restart of its
/// PostgreSQL): a running worker waits it out, polling, instead of exiting, and applies what
/// is approved once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_waits_out_a_ledger_database_that_is_down() {
    let Some(app) = App::create(Engine::Sqlite, "pgworker_down_app").await else {
        return;
    };
    let Some(db) = ledger_database("pgworker_down").await else {
        return;
    };
    let doc = app.config_doc("tickets", None, &[]);
    let desk = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let worker = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let signal = worker.ledger.work_signal().unwrap().unwrap();
    let (idle_tx, mut idle) = tokio::sync::mpsc::unbounded_channel();
    let (jobs_tx, mut jobs) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut opts = WorkerOptions::new("worker-d".into());
    opts.idle.first = Duration::from_millis(100);
    opts.idle.max = Duration::from_millis(100);
    let mut wake = Told {
        inner: Listen(signal),
        idle: idle_tx,
    };
    let mut on_job = |j: &JobReport| {
        let _ = jobs_tx.send(j.clone());
    };
    let run = worker
        .review
        .run_worker(&opts, &mut wake, stop_rx, &mut on_job);
    let drive = async {
        tokio::time::timeout(Duration::from_secs(20), idle.recv())
            .await
            .expect("the worker went idle")
            .unwrap();
        allow_connections(&db, false).await;
        // Several looks at the queue while the database refuses connections.
        for _ in 0..5 {
            tokio::time::timeout(Duration::from_secs(20), idle.recv())
                .await
                .expect("the worker kept going while the database was down")
                .unwrap();
        }
        allow_connections(&db, true).await;
        let id = desk.approved("T-1", "after the outage").await;
        let job = tokio::time::timeout(Duration::from_secs(30), jobs.recv())
            .await
            .expect("the worker applied the job once the database was back")
            .unwrap();
        stop.send(true).unwrap();
        (id, job)
    };
    let (summary, (id, job)) =
        tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(run, drive) })
            .await
            .expect("the test finished");
    assert_eq!(summary.unwrap().jobs, 1);
    assert_eq!(job.proposal_id, id);
    assert_eq!(job.outcome, JobOutcome::Applied, "{job:?}");
}

/// The ledger's database goes away while a job is in hand (its write held up on the app's
/// database, then the ledger cut): the worker cannot record how the job ended, and it keeps
/// running instead of exiting. Once the database is back and the claim's lease has run out,
/// the job is claimed again and ends with one write and one `applied` receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_ledger_goes_away_mid_job_keeps_running_and_writes_once() {
    let Some(app) = App::create(Engine::Sqlite, "pgworker_midjob_app").await else {
        return;
    };
    let Some(db) = ledger_database("pgworker_midjob").await else {
        return;
    };
    let doc = app.config_doc("tickets", None, &[]);
    let desk = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let worker = Desk::with_ledger(open(&db, system_clock()), config(&doc), app.env(&[]));
    let signal = worker.ledger.work_signal().unwrap().unwrap();
    let (idle_tx, mut idle) = tokio::sync::mpsc::unbounded_channel();
    let (jobs_tx, mut jobs) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut opts = WorkerOptions::new("worker-m".into());
    opts.lease = Duration::from_secs(1);
    opts.idle.first = Duration::from_millis(100);
    opts.idle.max = Duration::from_millis(100);
    let mut wake = Told {
        inner: Listen(signal),
        idle: idle_tx,
    };
    let mut on_job = |j: &JobReport| {
        let _ = jobs_tx.send(j.clone());
    };
    let run = worker
        .review
        .run_worker(&opts, &mut wake, stop_rx, &mut on_job);
    let drive = async {
        // The app's database is locked for writing, so the job's write waits.
        let lock = rusqlite::Connection::open(app.path("app.db")).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();
        let id = desk.approved("T-1", "through the outage").await;
        // Polled with a deadline: the claim is a row in another connection's database.
        let claimed = Instant::now();
        while sluicegate_test_support::engines::query_text_on(
            EngineKind::Postgres,
            db.url(),
            &format!("SELECT status FROM work_queue WHERE proposal_id = '{id}'"),
        )
        .await
        .unwrap()
            != [[Some("claimed".to_string())]]
        {
            assert!(claimed.elapsed() < Duration::from_secs(20), "never claimed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        allow_connections(&db, false).await;
        lock.execute_batch("COMMIT").unwrap();
        // The job in hand ends without its end recorded; the worker keeps looking.
        while idle.try_recv().is_ok() {}
        for _ in 0..5 {
            tokio::time::timeout(Duration::from_secs(30), idle.recv())
                .await
                .expect("the worker kept going while the database was down")
                .unwrap();
        }
        allow_connections(&db, true).await;
        let job = tokio::time::timeout(Duration::from_secs(30), jobs.recv())
            .await
            .expect("the job was claimed again once the database was back")
            .unwrap();
        stop.send(true).unwrap();
        (id, job)
    };
    let (summary, (id, job)) =
        tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(run, drive) })
            .await
            .expect("the test finished");
    assert_eq!(summary.unwrap().jobs, 1, "{job:?}");
    assert_eq!(job.proposal_id, id);
    assert!(
        matches!(
            job.outcome,
            JobOutcome::Applied | JobOutcome::AlreadyApplied
        ),
        "{job:?}"
    );
    assert_eq!(job.attempt, 2, "claimed again after the lease: {job:?}");
    let (note, version) = app.row("tickets", "T-1").await;
    assert_eq!(
        (note.as_deref(), version.as_deref()),
        (Some("through the outage"), Some("2"))
    );
    let source = app.source_receipts(&id).await;
    assert_eq!(source.len(), 1, "{source:?}");
    let applied: Vec<String> = desk
        .ledger
        .receipts(&id)
        .unwrap()
        .into_iter()
        .filter(|r| r.status == "applied")
        .map(|r| r.writeback_job_id)
        .collect();
    assert_eq!(applied, [source[0].0.clone()]);
}
