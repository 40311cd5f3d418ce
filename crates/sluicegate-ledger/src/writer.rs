//! The ledger's writer thread: every write runs there, never on the caller's thread.
//!
//! A write may have to wait for SQLite's write lock while another process holds it (a CLI
//! `apply`, a maintenance command) for up to the busy timeout. Done on an async runtime's
//! thread, that wait would freeze every other request the thread serves; done inline on the
//! stdio server's only thread, it would freeze the server. So callers hand a job over a
//! channel and wait for its answer, a [`Pending`], which async code awaits and synchronous
//! code (the CLI) blocks on.
//!
//! Group commit: when the thread wakes it takes every job already queued, runs them in one
//! transaction, takes in jobs that arrive while the group runs (for up to [`JOIN_WINDOW`]),
//! commits once, and only then answers each caller. A job that may refuse after writing runs
//! in a savepoint of its own, so when it fails it leaves its neighbours' records alone; a tool
//! call's records, which fail only when storage does, run without one ([`Isolation`]), and
//! their failure rolls back the whole transaction. A failed commit fails every job of the
//! group. No caller is ever answered before its records are committed, and on a durable ledger
//! not before they are fsynced (`durable`: on a sync thread while the writer runs the next
//! group, or on this thread when nobody waits behind the group).
//!
//! Handing a job to another thread costs two wake-ups (the writer's, then the caller's), and
//! waking a thread whose CPU has gone idle is slow on a virtual machine (tens of µs each). A
//! lone caller's read would pay that on every call. So both sides spin briefly before they
//! sleep: the writer polls its queue for a moment after each group, and a caller that found
//! the writer idle polls its answer for a moment before parking. Under load neither spins
//! for long: the writer always has work, and callers that queue behind others park at once.
//! A caller that knows other calls of its process are in progress says so
//! ([`Pending::among_others`]) and parks at once too: its poll would only take the CPU, and on
//! an async runtime's thread every task queued behind it, from calls doing work. On a
//! multi-threaded runtime no caller polls at all ([`polling_pays_here`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::LedgerError;
use crate::durable::{Answers, Syncer};

/// At most this many jobs share one transaction, so one caller never waits behind an
/// unbounded group.
const MAX_GROUP: usize = 64;

/// How long after a group starts a job that arrives while it runs still joins it instead of
/// waiting for the next group and its own commit. Under load a group takes a few ms, so the
/// next calls arrive while it runs; taking them in saves each one a whole commit and fsync.
/// At 16 sessions over HTTP, three rounds alternating with no joining: proposals' p99 11.5 /
/// 12.2 / 12.3 ms against 12.2 / 13.6 / 12.6 ms (docs/performance.md). Short, because the
/// group's first callers wait for what joins it.
const JOIN_WINDOW: Duration = Duration::from_millis(1);

/// How long the writer polls for the next job after a group before it sleeps.
const WRITER_SPIN: Duration = Duration::from_micros(50);

/// How long a caller that found the writer idle polls for its answer before it parks: about
/// one relaxed commit plus the fsync of a durable one on this project's kind of disk.
const CALLER_SPIN: Duration = Duration::from_micros(250);

/// What a job hands back after running: called with the outcome of the group's commit.
type Finish = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// What a job does: it runs on the writer connection inside the group's transaction (or is
/// told why the transaction could not start) and returns whether its own records should stay.
type Run = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Finish) + Send>;

/// A job, and how it is kept apart from the rest of its group.
struct Job {
    run: Run,
    isolation: Isolation,
}

/// How a job in a group is kept apart from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// In a savepoint of its own: when it fails, its records are rolled back and its
    /// neighbours' stay. For jobs that refuse after writing (a decision on a proposal whose
    /// state moved).
    Savepoint,
    /// Without a savepoint, for jobs that decide every refusal before they write, so they
    /// fail only when storage does (an I/O error, a full disk). When one fails the whole
    /// transaction is rolled back and every job in it so far is answered with an error, never
    /// as recorded; the rest of the queue goes on in a new transaction. A savepoint costs a
    /// copy of every page the job touches that an earlier job of the group already changed
    /// (the hot last leaves every record goes to): about a tenth of the writer's time at 16
    /// sessions (docs/performance.md). Tool calls' records (reads, proposals) run this way.
    Group,
}

/// Upkeep the writer does for the ledger between callers' jobs, told how the writer is
/// doing. It decides cheaply whether anything is due and, when it is, does one bounded step
/// of it: when `Idle`, in a transaction of its own ([`in_transaction`]); when `Busy`, inside
/// the group's transaction, under a savepoint the writer rolls back if the step fails (so
/// the step costs no commit and no fsync of its own, and the callers of the group wait for
/// one small step rather than for a transaction of upkeep). It returns whether more is
/// still due.
pub(crate) type Chores = Box<dyn FnMut(&Connection, Pace) -> Result<bool, LedgerError> + Send>;

/// Work the writer does right after a group is committed and its answers are sent or handed to
/// the sync thread (the WAL's restart checkpoint, `checkpoint::WalRestart`), so that none of
/// its callers waits for it.
pub(crate) type AfterGroup = Box<dyn FnMut(&Connection) + Send>;

/// When chores run: `Idle`, the queue is empty and the writer is about to sleep; `Busy`, a
/// long stretch of groups without a lull (chores then ride along in a group's transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    Idle,
    Busy,
}

/// Under sustained load, chores get a turn in every this many groups.
const GROUPS_BETWEEN_BUSY_CHORES: u32 = 4;

/// The answer to one write: await it from async code, or [`Pending::wait`] from synchronous
/// code. Resolves only after the write is committed (or has failed).
#[must_use = "a write is only known to be recorded once its Pending resolves"]
pub struct Pending<T> {
    rx: oneshot::Receiver<Result<T, LedgerError>>,
    /// Poll for the answer before parking on the first poll: set when this job found the
    /// writer idle, so its answer comes within one commit.
    spin: bool,
}

impl<T> Pending<T> {
    /// A write answered at once, without reaching the writer thread.
    pub(crate) fn ready(result: Result<T, LedgerError>) -> Pending<T> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(result);
        Pending { rx, spin: false }
    }

    /// A write answered on `rx` by another writer thread (the PostgreSQL ledger's).
    pub(crate) fn waiting(rx: oneshot::Receiver<Result<T, LedgerError>>) -> Pending<T> {
        Pending { rx, spin: false }
    }

    /// Tell the waiting whether other calls of this process are in progress. When they are,
    /// it parks at once instead of polling first: the writer was idle when this job came, but
    /// the poll would spend a CPU the others need (at 16 sessions over HTTP, polls on the
    /// runtime's threads cost about 5 % of proposals' and more of reads' throughput).
    pub fn among_others(mut self, others: bool) -> Pending<T> {
        if others {
            self.spin = false;
        }
        self
    }

    /// Block the calling thread until the write is committed.
    ///
    /// For synchronous callers only (the CLI, tests). Calling it on an async runtime's thread
    /// panics (tokio refuses to block a runtime thread); async code awaits the `Pending`.
    pub fn wait(self) -> Result<T, LedgerError> {
        self.rx
            .blocking_recv()
            .unwrap_or(Err(LedgerError::WriterStopped))
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, LedgerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if std::mem::take(&mut self.spin) && polling_pays_here() {
            let start = Instant::now();
            while start.elapsed() < CALLER_SPIN {
                match self.rx.try_recv() {
                    Ok(answer) => return Poll::Ready(answer),
                    Err(oneshot::error::TryRecvError::Closed) => {
                        return Poll::Ready(Err(LedgerError::WriterStopped));
                    }
                    Err(oneshot::error::TryRecvError::Empty) => std::hint::spin_loop(),
                }
            }
        }
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(LedgerError::WriterStopped)))
    }
}

/// Whether an awaiting caller should poll for its answer on this thread before parking: not
/// on a multi-threaded runtime (the HTTP server's). There, the poll holds one of a few worker
/// threads on a machine whose other cores the writer thread and the clients need: at four
/// HTTP sessions on 2 cores, durable, the server served 0.64 of run E's calls per second with
/// the poll and 0.80 without, each measured alternating with run E's build, at 355 and 289 µs
/// of CPU per call (docs/performance.md, "Like for like with run E"). On a current-thread
/// runtime (the stdio server's) nothing else could run on the thread meanwhile, and the poll
/// spares it a wake-up.
fn polling_pays_here() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|rt| rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread)
}

/// The writer thread and the channel that feeds it. Dropping it lets the thread finish the
/// jobs already queued, then joins it, so nothing accepted is lost at shutdown.
pub(crate) struct Writer {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Jobs submitted and not yet answered: zero means a new job runs at once.
    in_flight: Arc<AtomicUsize>,
    /// Whether committed groups are fsynced by a sync thread before they are answered.
    syncs: bool,
}

impl Writer {
    /// Start the thread that owns `conn` from now on, doing `chores` between jobs and
    /// `after_group` after each group is committed. With `syncer`, a committed group's
    /// callers are answered by it once the group is fsynced (`durable`); without, at once.
    pub(crate) fn start(
        conn: Connection,
        chores: Chores,
        after_group: Option<AfterGroup>,
        syncer: Option<Syncer>,
    ) -> Result<Writer, LedgerError> {
        Writer::start_joining(conn, chores, after_group, syncer, JOIN_WINDOW)
    }

    /// [`Writer::start`] with another [`JOIN_WINDOW`] (tests).
    fn start_joining(
        conn: Connection,
        chores: Chores,
        after_group: Option<AfterGroup>,
        syncer: Option<Syncer>,
        window: Duration,
    ) -> Result<Writer, LedgerError> {
        let (jobs, rx) = channel::<Job>();
        let syncs = syncer.is_some();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counted = in_flight.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(conn, rx, chores, after_group, syncer, counted, window))
            .map_err(|e| LedgerError::Io(format!("start the ledger writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            in_flight,
            syncs,
        })
    }

    /// Whether committed groups are fsynced before their callers are answered.
    pub(crate) fn syncs(&self) -> bool {
        self.syncs
    }

    /// Queue `f` to run on the writer connection inside a transaction. Its records stay when
    /// it returns `Ok`, and are rolled back when it returns `Err`.
    pub(crate) fn submit<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        self.submit_isolated(Isolation::Savepoint, move |conn| {
            let result = f(conn);
            let keep = result.is_ok();
            (result, keep)
        })
    }

    /// Like [`Writer::submit`], but `f` says itself whether its records stay (a refusal that
    /// follows records which must stand anyway, such as a refused proposal's read), isolated
    /// from the rest of its group as `isolation` says.
    pub(crate) fn submit_isolated<T, F>(&self, isolation: Isolation, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> (Result<T, LedgerError>, bool) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let in_flight = self.in_flight.clone();
        let alone = in_flight.fetch_add(1, Ordering::AcqRel) == 0;
        let run: Run = Box::new(move |conn: Result<&Connection, &str>| {
            let (result, keep) = match conn {
                Ok(conn) => f(conn),
                Err(why) => (Err(LedgerError::Io(why.to_string())), false),
            };
            let finish: Finish = Box::new(move |committed| {
                let answer = match committed {
                    Ok(()) => result,
                    // A refusal whose records were rolled back says more than a commit
                    // failure that did not concern it.
                    Err(_) if result.is_err() && !keep => result,
                    Err(why) => Err(LedgerError::Io(format!("commit failed: {why}"))),
                };
                in_flight.fetch_sub(1, Ordering::AcqRel);
                // The caller may have stopped waiting (a cancelled request); the record
                // stands either way.
                let _ = tx.send(answer);
            });
            (keep, finish)
        });
        let job = Job { run, isolation };
        match self.jobs.as_ref().map(|jobs| jobs.send(job)) {
            Some(Ok(())) => Pending { rx, spin: alone },
            _ => {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                Pending::ready(Err(LedgerError::WriterStopped))
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer loop: one group of queued jobs per transaction until every sender is gone;
/// chores when the queue runs dry, and every so often under sustained load. The syncer is
/// dropped when the loop ends, after its last group is answered.
fn run(
    conn: Connection,
    rx: Receiver<Job>,
    mut chores: Chores,
    mut after_group: Option<AfterGroup>,
    mut syncer: Option<Syncer>,
    in_flight: Arc<AtomicUsize>,
    window: Duration,
) {
    let mut groups_since_chores = 0u32;
    loop {
        let first = match poll_for_job(&rx) {
            Polled::Job(job) => job,
            Polled::Gone => return,
            Polled::Empty => {
                groups_since_chores = 0;
                match after_chores(&conn, &rx, &mut chores) {
                    Some(job) => job,
                    None => return,
                }
            }
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        groups_since_chores += 1;
        let busy_chores = groups_since_chores >= GROUPS_BETWEEN_BUSY_CHORES;
        if busy_chores {
            groups_since_chores = 0;
        }
        let joining = Joining { rx: &rx, window };
        let chores = busy_chores.then_some(&mut chores);
        let syncing = syncer.as_mut().map(|syncer| Syncing {
            syncer,
            in_flight: &in_flight,
        });
        commit_group(&conn, group, joining, chores, syncing);
        // Once an fsync has failed nothing more is written, not even a checkpoint.
        let broken = syncer.as_ref().is_some_and(|s| s.broken().is_some());
        if let Some(after_group) = after_group.as_mut().filter(|_| !broken) {
            after_group(&conn);
        }
    }
}

/// Chores while nothing waits (each run says whether more is due, so a backlog left by a burst
/// is worked off in the lull, a batch at a time), then the next job; `None` once every sender
/// is gone.
fn after_chores(conn: &Connection, rx: &Receiver<Job>, chores: &mut Chores) -> Option<Job> {
    while chores(conn, Pace::Idle).unwrap_or(false) {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
    }
    rx.recv().ok()
}

/// Run `f` in a write transaction of its own, committed when it returns `Ok`. For upkeep: a
/// failure (another process holding the write lock past the busy timeout) leaves the work for
/// next time. Returns whether it committed.
pub(crate) fn in_transaction(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<(), LedgerError>,
) -> bool {
    if exec(conn, "BEGIN IMMEDIATE").is_err() {
        return false;
    }
    let done = f(conn).is_ok() && exec(conn, "COMMIT").is_ok();
    if !done {
        let _ = exec(conn, "ROLLBACK");
    }
    done
}

enum Polled {
    Job(Job),
    Empty,
    Gone,
}

/// The next job if one arrives within [`WRITER_SPIN`].
fn poll_for_job(rx: &Receiver<Job>) -> Polled {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Polled::Job(job),
            Err(TryRecvError::Disconnected) => return Polled::Gone,
            Err(TryRecvError::Empty) if start.elapsed() >= WRITER_SPIN => return Polled::Empty,
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
}

/// Where jobs that arrive while a group runs come from, and for how long they may join it.
struct Joining<'a> {
    rx: &'a Receiver<Job>,
    window: Duration,
}

impl Joining<'_> {
    /// A job that arrived while the group ran, if the group may still take one: within the
    /// window from its start, below [`MAX_GROUP`], and not after a lone job (run without a
    /// savepoint) asked for its records to be dropped, which only a rollback of the whole
    /// transaction can do.
    fn next(&self, started: Instant, taken: usize, spoiled: bool) -> Option<Job> {
        if spoiled || taken >= MAX_GROUP || started.elapsed() >= self.window {
            return None;
        }
        self.rx.try_recv().ok()
    }
}

/// Run `group` in one transaction, with the jobs that join it while it runs, and answer their
/// callers once it is committed (and, with `syncer`, once the commit is fsynced); `chores`,
/// when given, get a busy step in the same transaction after the jobs.
fn commit_group(
    conn: &Connection,
    group: Vec<Job>,
    joining: Joining<'_>,
    chores: Option<&mut Chores>,
    syncing: Option<Syncing<'_>>,
) {
    let started = Instant::now();
    if let Some(why) = syncing.as_ref().and_then(|s| s.syncer.broken()) {
        return refuse_all(group, why);
    }
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        return refuse_all(group, &e.to_string());
    }
    // A lone job needs no savepoint: its outcome decides the whole transaction. Neither does
    // one isolated by the group (`Isolation::Group`).
    let mut alone = group.len() == 1;
    let mut finishes = Vec::with_capacity(group.len());
    let mut kept_any = false;
    let mut queued = group.into_iter();
    loop {
        let job = match queued.next() {
            Some(job) => job,
            None => match joining.next(started, finishes.len(), alone && !kept_any) {
                // From now on every job needs its savepoint.
                Some(job) => {
                    alone = false;
                    job
                }
                None => break,
            },
        };
        let own_savepoint = !alone && job.isolation == Isolation::Savepoint;
        if own_savepoint && exec(conn, "SAVEPOINT job").is_err() {
            let (_, finish) = (job.run)(Err("could not open a savepoint"));
            finishes.push((false, finish));
            continue;
        }
        let (keep, finish) = (job.run)(Ok(conn));
        if own_savepoint {
            if !keep {
                let _ = exec(conn, "ROLLBACK TO job");
            }
            let _ = exec(conn, "RELEASE job");
        } else if !keep && !alone {
            // What it wrote can only go with the whole transaction: nobody in it is answered
            // as recorded, and the jobs not run yet start again in a new one.
            let _ = exec(conn, "ROLLBACK");
            finish(Err(SPOILED));
            for (_, finish) in finishes {
                finish(Err(SPOILED));
            }
            let rest: Vec<Job> = queued.collect();
            if !rest.is_empty() {
                commit_group(conn, rest, joining, chores, syncing);
            }
            return;
        }
        kept_any |= keep;
        finishes.push((keep, finish));
    }
    if let Some(chores) = chores {
        // Upkeep never costs a caller its record: a step that fails is rolled back alone.
        if exec(conn, "SAVEPOINT chore").is_ok() {
            if chores(conn, Pace::Busy).is_err() {
                let _ = exec(conn, "ROLLBACK TO chore");
            }
            let _ = exec(conn, "RELEASE chore");
        }
    }
    let committed = if kept_any {
        exec(conn, "COMMIT").map(|_| ()).map_err(|e| {
            let _ = exec(conn, "ROLLBACK");
            e.to_string()
        })
    } else {
        let _ = exec(conn, "ROLLBACK");
        Ok(())
    };
    let answers: Answers = finishes.into_iter().map(|(_, f)| f).collect();
    match (committed, syncing) {
        (Ok(()), Some(syncing)) if kept_any => {
            // Every job submitted and not yet answered is in this group: nobody waits behind
            // it for the writer.
            let alone = syncing.in_flight.load(Ordering::Acquire) == answers.len();
            syncing.syncer.committed(answers, alone);
        }
        (committed, Some(syncing)) => {
            // Nothing committed; the answers (refusals, a failed commit) wait for the earlier
            // commits they may rest on.
            let answers = answers
                .into_iter()
                .map(|finish| {
                    let committed = committed.clone();
                    let answer: Finish = Box::new(move |synced| match &committed {
                        Err(why) => finish(Err(why)),
                        Ok(()) => finish(synced),
                    });
                    answer
                })
                .collect();
            syncing.syncer.nothing_committed(answers);
        }
        (committed, None) => {
            for finish in answers {
                finish(committed.as_ref().map(|_| ()).map_err(String::as_str));
            }
        }
    }
}

/// Answer every job of `group` with `why`, without running any on the connection.
fn refuse_all(group: Vec<Job>, why: &str) {
    for job in group {
        let (_, finish) = (job.run)(Err(why));
        finish(Err(why));
    }
}

/// The sync thread of a durable ledger, and the count of jobs not yet answered that tells
/// whether anyone waits behind a group.
struct Syncing<'a> {
    syncer: &'a mut Syncer,
    in_flight: &'a AtomicUsize,
}

/// Why the jobs of a transaction rolled back for a failed `Isolation::Group` job were not
/// recorded.
const SPOILED: &str =
    "another record of the same commit failed, so the whole commit was rolled back; retry";

/// Fixed statements are prepared once per connection and reused.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
