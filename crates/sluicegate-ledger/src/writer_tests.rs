//! The ledger writer's tests: group commit, joining, isolation, polling and upkeep.

#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn callers_poll_only_on_a_current_thread_runtime() {
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(current.block_on(async { polling_pays_here() }));
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    assert!(!multi.block_on(async { polling_pays_here() }));
    assert!(!polling_pays_here(), "no runtime, nothing to poll for");
}

fn writer() -> (Writer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER UNIQUE);")
        .unwrap();
    (
        Writer::start(conn, Box::new(|_, _| Ok(false)), None, None).unwrap(),
        dir,
    )
}

fn count(dir: &tempfile::TempDir) -> i64 {
    Connection::open(dir.path().join("w.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_caller_polls_only_when_it_found_the_writer_idle_and_no_other_call_is_in_progress() {
    let (w, _dir) = writer();
    // The writer is idle: the first job's caller may poll, unless others are in progress.
    let first = w.submit(|_| Ok(1));
    assert!(first.spin);
    let first = first.among_others(false);
    assert!(first.spin);
    assert_eq!(first.wait().unwrap(), 1);
    let parked = w.submit(|_| Ok(2));
    assert!(parked.spin, "the writer is idle again");
    let parked = parked.among_others(true);
    assert!(!parked.spin);
    // Parking changes how the answer is awaited, not the answer.
    assert_eq!(parked.wait().unwrap(), 2);
    // A job queued behind another never polls.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let blocker = w.submit(move |_| {
        let _ = wait.recv();
        Ok(0)
    });
    let behind = w.submit(|_| Ok(3));
    assert!(!behind.spin);
    go.send(()).unwrap();
    assert_eq!(blocker.wait().unwrap(), 0);
    assert_eq!(behind.wait().unwrap(), 3);
}

/// A writer on a fresh table that joins jobs for `window`, and a count of its commits.
fn joining_writer(window: Duration) -> (Writer, Arc<AtomicUsize>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER UNIQUE);")
        .unwrap();
    let commits = Arc::new(AtomicUsize::new(0));
    let seen = commits.clone();
    conn.commit_hook(Some(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        false
    }))
    .unwrap();
    let chores: Chores = Box::new(|_, _| Ok(false));
    let w = Writer::start_joining(conn, chores, None, None, window).unwrap();
    (w, commits, dir)
}

/// Submit a job that inserts `first` and holds its group until a second job, inserting
/// `second`, is queued; the first job fails after writing when `fail_first`.
fn second_job_queued_while_the_first_runs(
    w: &Writer,
    first: i64,
    second: i64,
    fail_first: bool,
) -> (Pending<i64>, Pending<i64>) {
    let (started, running) = std::sync::mpsc::channel::<()>();
    let (queued, go) = std::sync::mpsc::channel::<()>();
    let a = w.submit(move |c| {
        c.execute("INSERT INTO t (v) VALUES (?1)", [first])?;
        started.send(()).unwrap();
        go.recv().unwrap();
        if fail_first {
            return Err(LedgerError::refused(
                crate::RefusalCode::ReceiptInvalid,
                "refused after writing",
            ));
        }
        Ok(first)
    });
    running.recv().unwrap();
    let b = w.submit(move |c| {
        c.execute("INSERT INTO t (v) VALUES (?1)", [second])?;
        Ok(second)
    });
    queued.send(()).unwrap();
    (a, b)
}

/// Within the window a job queued while a group runs shares its commit; past it, the job
/// waits for a commit of its own.
#[test]
fn a_job_that_arrives_while_a_group_runs_joins_its_commit_within_the_window() {
    for (window, expected_commits) in [(Duration::from_secs(60), 1), (Duration::ZERO, 2)] {
        let (w, commits, dir) = joining_writer(window);
        let (a, b) = second_job_queued_while_the_first_runs(&w, 1, 2, false);
        assert_eq!(a.wait().unwrap(), 1);
        assert_eq!(b.wait().unwrap(), 2);
        assert_eq!(
            commits.load(Ordering::SeqCst),
            expected_commits,
            "window {window:?}"
        );
        assert_eq!(count(&dir), 2);
    }
}

/// A lone job runs without a savepoint, so when it fails after writing only a rollback of
/// the whole transaction removes what it wrote: nothing may join it and be committed with
/// its leftovers.
#[test]
fn nothing_joins_a_lone_job_that_failed_after_writing() {
    let (w, commits, dir) = joining_writer(Duration::from_secs(60));
    let (a, b) = second_job_queued_while_the_first_runs(&w, 1, 2, true);
    assert!(a.wait().is_err());
    assert_eq!(b.wait().unwrap(), 2);
    assert_eq!(
        commits.load(Ordering::SeqCst),
        1,
        "only the second job's commit"
    );
    let only: i64 = Connection::open(dir.path().join("w.db"))
        .unwrap()
        .query_row("SELECT v FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!((count(&dir), only), (1, 2), "the failed job's row is gone");
}

#[test]
fn a_failed_job_leaves_its_neighbours_committed() {
    let (w, dir) = writer();
    let insert = |v: i64| {
        w.submit(move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
            Ok(v)
        })
    };
    let a = insert(1);
    let dup = insert(1);
    let b = insert(2);
    assert_eq!(a.wait().unwrap(), 1);
    assert!(dup.wait().is_err(), "the duplicate is refused");
    assert_eq!(b.wait().unwrap(), 2);
    assert_eq!(count(&dir), 2);
}

/// A job running on the writer, in a group of its own, until released: the jobs queued
/// meanwhile make up the next group.
struct Held {
    pending: Pending<i64>,
    go: std::sync::mpsc::Sender<()>,
}

impl Held {
    fn release(self) -> Pending<i64> {
        self.go.send(()).unwrap();
        self.pending
    }
}

fn hold_the_writer(w: &Writer) -> Held {
    let (started, running) = std::sync::mpsc::channel::<()>();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let pending = w.submit(move |_| {
        started.send(()).unwrap();
        wait.recv().unwrap();
        Ok(0)
    });
    running.recv().unwrap();
    Held { pending, go }
}

/// A job isolated by its group (`Isolation::Group`) has no savepoint, so when it fails
/// after writing, the whole transaction goes: nobody in it is answered as recorded, not
/// even a neighbour with a savepoint of its own, and the jobs after it are recorded in a
/// new transaction.
#[test]
fn a_failed_group_job_takes_its_whole_commit_and_the_rest_go_on() {
    let (w, _commits, dir) = joining_writer(Duration::ZERO);
    let gate = hold_the_writer(&w);
    let job = |isolation, v: i64, fail: bool| {
        w.submit_isolated(isolation, move |c| {
            if let Err(e) = c.execute("INSERT INTO t (v) VALUES (?1)", [v]) {
                return (Err(e.into()), false);
            }
            if fail {
                return (Err(LedgerError::Io("the disk is full".into())), false);
            }
            (Ok(v), true)
        })
    };
    let before_group = job(Isolation::Group, 1, false);
    let before_savepoint = job(Isolation::Savepoint, 5, false);
    let failing = job(Isolation::Group, 2, true);
    let after_savepoint = job(Isolation::Savepoint, 3, false);
    let after_group = job(Isolation::Group, 4, false);
    let gate = gate.release();
    assert_eq!(gate.wait().unwrap(), 0);
    for spoiled in [before_group, before_savepoint] {
        let e = spoiled.wait().unwrap_err().to_string();
        assert!(e.contains("whole commit was rolled back"), "{e}");
    }
    let e = failing.wait().unwrap_err().to_string();
    assert!(e.contains("the disk is full"), "its own error: {e}");
    assert_eq!(after_savepoint.wait().unwrap(), 3);
    assert_eq!(after_group.wait().unwrap(), 4);
    let kept: Vec<i64> = Connection::open(dir.path().join("w.db"))
        .unwrap()
        .prepare("SELECT v FROM t ORDER BY v")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, [3, 4]);
}

/// A group job that refuses keeps its records (a proposal refused after its read), and
/// its neighbours keep theirs.
#[test]
fn a_group_job_that_refuses_keeps_its_records_and_its_neighbours() {
    let (w, _commits, dir) = joining_writer(Duration::ZERO);
    let gate = hold_the_writer(&w);
    let refusing = w.submit_isolated(Isolation::Group, |c| {
        if let Err(e) = c.execute("INSERT INTO t (v) VALUES (1)", []) {
            return (Err(e.into()), false);
        }
        let refused: Result<i64, _> = Err(LedgerError::refused(
            crate::RefusalCode::ProposalImmutabilityViolation,
            "refused, the read stays",
        ));
        (refused, true)
    });
    let neighbour = w.submit_isolated(Isolation::Group, |c| {
        if let Err(e) = c.execute("INSERT INTO t (v) VALUES (2)", []) {
            return (Err(e.into()), false);
        }
        (Ok(2), true)
    });
    gate.release().wait().unwrap();
    assert!(refusing.wait().is_err());
    assert_eq!(neighbour.wait().unwrap(), 2);
    assert_eq!(count(&dir), 2);
}

#[test]
fn a_job_that_fails_after_writing_leaves_nothing() {
    let (w, dir) = writer();
    let r = w
        .submit(|c| {
            c.execute("INSERT INTO t (v) VALUES (7)", [])?;
            Err::<(), _>(LedgerError::refused(
                crate::RefusalCode::ReceiptInvalid,
                "refused after writing",
            ))
        })
        .wait();
    assert_eq!(r.unwrap_err().code(), Some("RECEIPT_INVALID"));
    assert_eq!(count(&dir), 0);
}

#[test]
fn queued_jobs_finish_before_the_thread_stops() {
    let (w, dir) = writer();
    let pending: Vec<_> = (0..200)
        .map(|v| {
            w.submit(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                Ok(())
            })
        })
        .collect();
    drop(w);
    for p in pending {
        p.wait().unwrap();
    }
    assert_eq!(count(&dir), 200);
}

/// Queue `n` inserts behind a job that holds the writer until all are queued, so they run
/// as several full groups in a row (a busy stretch), with `chores` doing upkeep.
fn busy_stretch(chores: Chores, n: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("w.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER UNIQUE); CREATE TABLE chore (v INTEGER);",
    )
    .unwrap();
    let w = Writer::start(conn, chores, None, None).unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let gate = w.submit(move |_| {
        wait.recv().unwrap();
        Ok(())
    });
    let pending: Vec<_> = (0..n)
        .map(|v| {
            w.submit(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                Ok(())
            })
        })
        .collect();
    go.send(()).unwrap();
    gate.wait().unwrap();
    for p in pending {
        p.wait().unwrap();
    }
    drop(w);
    dir
}

fn chore_rows(dir: &tempfile::TempDir) -> i64 {
    Connection::open(dir.path().join("w.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM chore", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn busy_upkeep_rides_in_a_group_and_a_failed_step_is_rolled_back_alone() {
    let n = MAX_GROUP as i64 * (GROUPS_BETWEEN_BUSY_CHORES as i64 + 1);
    // Upkeep that writes and then fails: its write goes, every caller's record stays.
    let failing: Chores = Box::new(|c, pace| {
        if pace == Pace::Busy {
            c.execute("INSERT INTO chore (v) VALUES (1)", [])?;
            return Err(LedgerError::Io("upkeep failed".into()));
        }
        Ok(false)
    });
    let dir = busy_stretch(failing, n);
    assert_eq!(count(&dir), n);
    assert_eq!(chore_rows(&dir), 0, "a failed busy step leaves nothing");
    // Upkeep that succeeds is committed with the group it rode in.
    let steps = Arc::new(AtomicUsize::new(0));
    let seen = steps.clone();
    let working: Chores = Box::new(move |c, pace| {
        if pace == Pace::Busy {
            seen.fetch_add(1, Ordering::SeqCst);
            c.execute("INSERT INTO chore (v) VALUES (1)", [])?;
        }
        Ok(false)
    });
    let dir = busy_stretch(working, n);
    assert_eq!(count(&dir), n);
    let steps = steps.load(Ordering::SeqCst) as i64;
    assert!(steps >= 1, "a busy stretch of full groups gets upkeep");
    assert_eq!(chore_rows(&dir), steps);
}

#[tokio::test]
async fn async_callers_await_the_commit() {
    let (w, dir) = writer();
    w.submit(|c| {
        c.execute("INSERT INTO t (v) VALUES (9)", [])?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        count(&dir),
        1,
        "visible to another connection once answered"
    );
}

/// A writer on a fresh WAL table whose groups are made durable by a sync thread, and what
/// is reported at each fsync: how many rows were committed by then. While `hold` is set,
/// each fsync then waits for the test's go-ahead before its answers are sent.
///
/// Fields drop in order: the go-ahead first, so that a failing test's writer can stop (its
/// sync thread no longer waits for the go-ahead) instead of hanging.
struct DurableWriter {
    go: std::sync::mpsc::Sender<()>,
    hold: Arc<std::sync::atomic::AtomicBool>,
    synced: std::sync::mpsc::Receiver<i64>,
    w: Writer,
    _dir: tempfile::TempDir,
}

impl DurableWriter {
    fn rows(&self) -> i64 {
        Connection::open(self._dir.path().join("w.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// The rows committed at the next fsync. The bound only turns a missing fsync into a
    /// failure instead of a hang; it never orders anything.
    fn next_sync(&self) -> i64 {
        self.synced
            .recv_timeout(Duration::from_secs(60))
            .expect("no fsync followed the commit")
    }
}

fn durable_writer(wal: Option<std::path::PathBuf>) -> DurableWriter {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t (v INTEGER UNIQUE);",
    )
    .unwrap();
    let (report, synced) = std::sync::mpsc::channel();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let hold = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let holding = hold.clone();
    let counted = path.clone();
    let observer: crate::durable::Observer = Box::new(move || {
        // -1 when the ledger cannot be read (a test that broke its WAL on purpose).
        let rows: i64 = Connection::open(&counted)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)))
            .unwrap_or(-1);
        let _ = report.send(rows);
        if holding.load(Ordering::SeqCst) {
            let _ = wait.lock().unwrap().recv();
        }
    });
    let mut wal_path = path.as_os_str().to_owned();
    wal_path.push("-wal");
    let wal = wal.unwrap_or_else(|| wal_path.into());
    let syncer = Syncer::start_for(wal, Some(observer)).unwrap();
    let chores: Chores = Box::new(|_, _| Ok(false));
    let w = Writer::start_joining(conn, chores, None, Some(syncer), Duration::ZERO).unwrap();
    DurableWriter {
        go,
        hold,
        synced,
        w,
        _dir: dir,
    }
}

fn insert(w: &Writer, v: i64) -> Pending<i64> {
    w.submit(move |c| {
        c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        Ok(v)
    })
}

/// An insert of `v` that, once it has written, holds its group open until the returned
/// sender releases it; returns when it is running, so jobs submitted next queue behind it.
fn held_insert(w: &Writer, v: i64) -> (Pending<i64>, std::sync::mpsc::Sender<()>) {
    let (started, running) = std::sync::mpsc::channel::<()>();
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let pending = w.submit(move |c| {
        c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        started.send(()).unwrap();
        hold.recv().unwrap();
        Ok(v)
    });
    running.recv().unwrap();
    (pending, release)
}

/// Whether no answer has reached `pending` yet.
fn unanswered<T>(pending: &mut Pending<T>) -> bool {
    matches!(
        pending.rx.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    )
}

/// Commit, then fsync, then answer: when the fsync happens the group's rows are committed,
/// and until it is done the caller has no answer. Both ways a group is synced: on the
/// writer thread for a lone caller, on the sync thread when others wait behind the group.
#[test]
fn a_durable_group_is_answered_only_after_the_fsync_that_follows_its_commit() {
    let d = durable_writer(None);
    // Lone: nobody else in flight, so the writer syncs it itself.
    let mut lone = insert(&d.w, 1);
    assert_eq!(d.next_sync(), 1, "fsynced before it was committed");
    assert!(unanswered(&mut lone), "answered before its fsync finished");
    d.go.send(()).unwrap();
    assert_eq!(lone.wait().unwrap(), 1);

    // Others queue while a group runs: the group goes to the sync thread, and the writer
    // runs the next group meanwhile.
    let (mut first, release) = held_insert(&d.w, 2);
    let behind = insert(&d.w, 3);
    release.send(()).unwrap();
    // The first group's fsync (on the sync thread) and the second group's commit race, and
    // the second group may share the first's fsync or have its own: the first fsync saw at
    // least the first group's row either way.
    let rows_at_first_sync = d.next_sync();
    assert!(rows_at_first_sync >= 2, "{rows_at_first_sync}");
    assert!(unanswered(&mut first), "answered before its fsync finished");
    d.hold.store(false, Ordering::SeqCst);
    d.go.send(()).unwrap();
    assert_eq!(first.wait().unwrap(), 2);
    assert_eq!(behind.wait().unwrap(), 3);
}

/// An fsync that fails refuses its group's callers, and every later job is refused without
/// running: nobody is told a record is durable after the disk has failed once, and nothing
/// more is committed that nobody was told of.
#[test]
fn after_a_failed_fsync_no_caller_is_answered_as_recorded() {
    let d = durable_writer(Some("/nonexistent-sluicegate-dir/w.db-wal".into()));
    let first = insert(&d.w, 1);
    d.next_sync();
    d.go.send(()).unwrap();
    let refused = first.wait().unwrap_err().to_string();
    assert!(
        refused.contains("could not make its WAL durable") && refused.contains("restarted"),
        "{refused}"
    );
    // Should a later job reach an fsync, it is not held.
    d.hold.store(false, Ordering::SeqCst);
    let later = insert(&d.w, 2).wait().unwrap_err().to_string();
    assert!(later.contains("could not make its WAL durable"), "{later}");
    assert_eq!(d.rows(), 1, "a job ran after the failed fsync");
}

/// A group that commits nothing (a refusal) may rest on an earlier group's row that is not on
/// disk yet: it is answered only after the fsync that covers that row.
#[test]
fn a_refusal_waits_for_the_fsync_of_the_commit_it_rests_on() {
    let d = durable_writer(None);
    let (first, release) = held_insert(&d.w, 1);
    // Queued while the first runs, so the first group goes to the sync thread, whose fsync
    // the observer then holds.
    let (ran, refusal_ran) = std::sync::mpsc::channel::<()>();
    let mut refused = d.w.submit(move |c| {
        let exists: i64 = c.query_row("SELECT COUNT(*) FROM t WHERE v = 1", [], |r| r.get(0))?;
        ran.send(()).unwrap();
        assert_eq!(exists, 1);
        Err::<i64, _>(LedgerError::refused(
            crate::RefusalCode::ReceiptInvalid,
            "already recorded",
        ))
    });
    release.send(()).unwrap();
    assert_eq!(d.next_sync(), 1);
    refusal_ran.recv().unwrap();
    // A job after the refusal's group: once it runs, that group has been answered or handed
    // on, whichever the writer does.
    let (marked, marker_ran) = std::sync::mpsc::channel::<()>();
    let marker = d.w.submit(move |_| {
        marked.send(()).unwrap();
        Ok(0)
    });
    marker_ran.recv().unwrap();
    assert!(
        unanswered(&mut refused),
        "a refusal resting on a commit was answered before that commit's fsync"
    );
    d.hold.store(false, Ordering::SeqCst);
    d.go.send(()).unwrap();
    assert_eq!(first.wait().unwrap(), 1);
    assert!(
        refused
            .wait()
            .unwrap_err()
            .to_string()
            .contains("already recorded")
    );
    assert_eq!(marker.wait().unwrap(), 0);
}

/// A WAL replaced at its path while the ledger is open is not the file SQLite writes: the
/// next fsync refuses instead of syncing the newcomer.
#[test]
fn a_wal_replaced_under_the_ledger_is_refused_not_synced() {
    let d = durable_writer(None);
    d.hold.store(false, Ordering::SeqCst);
    assert_eq!(insert(&d.w, 1).wait().unwrap(), 1);
    let wal = d._dir.path().join("w.db-wal");
    std::fs::remove_file(&wal).unwrap();
    std::fs::write(&wal, b"").unwrap();
    let refused = insert(&d.w, 2).wait().unwrap_err().to_string();
    assert!(refused.contains("removed or replaced"), "{refused}");
}
