//! The PostgreSQL ledger's writer thread: the same contract as the SQLite writer
//! (`crate::writer`): callers get a [`Pending`], every queued job of a group runs in its own
//! savepoint of one transaction, one commit answers them all, and no caller hears back before
//! its records are committed.
//!
//! One difference: a job may ask to step out of its group ([`Fail::Again`]) when running it
//! there would put its proposal's events out of order in the feed (see `mod.rs`), or when it
//! would have to wait for another server's transaction. It is rolled back to its savepoint and,
//! after the group commits, runs again alone in a transaction of its own. A group waits for
//! another transaction's row lock only briefly ([`GROUP_LOCK_TIMEOUT`]): holding the locks of
//! its earlier jobs while it waits is how two servers writing to the same proposals in
//! different orders would deadlock (and PostgreSQL only notices after `deadlock_timeout`, a
//! second by default). A job alone holds no other job's locks, so it may wait longer.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use postgres::{Client, Transaction};
use tokio::sync::oneshot;

use super::session::{Connector, ensure};
use crate::{Clock, LedgerError, Pending};

/// At most this many jobs share one transaction.
const MAX_GROUP: usize = 64;

/// How long a group's job waits for a row another transaction holds before it steps out.
const GROUP_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '50ms'";

/// How long a job alone waits for a row before it tries again.
const ALONE_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '10s'";

/// How many times a job that keeps asking to run again alone is tried before it is refused.
const MAX_ALONE: usize = 5;

/// Why a job did not finish: a refusal or error for its caller, or a request to run again
/// alone (its savepoint is rolled back first).
#[derive(Debug)]
pub(crate) enum Fail {
    Error(LedgerError),
    Again,
}

impl From<LedgerError> for Fail {
    fn from(e: LedgerError) -> Self {
        Fail::Error(e)
    }
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        // 55P03: a row lock (or another transaction's insert of the same key) was not
        // released within the lock timeout; 40P01: this job was a deadlock's victim; or the
        // connection is gone (a restart, a failover), so nothing of the job stayed. Either
        // way, running it alone (holding nothing else, on a new connection if need be)
        // settles it.
        use postgres::error::SqlState;
        match e.code() {
            Some(code)
                if *code == SqlState::LOCK_NOT_AVAILABLE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                Fail::Again
            }
            _ if super::session::connection_lost(&e) => Fail::Again,
            _ => Fail::Error(LedgerError::Postgres(e)),
        }
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        Fail::Error(e.into())
    }
}

/// What a job reports after one run.
enum Ran {
    /// Keep its records (`true`) or roll them back, and answer with this once committed.
    Done(bool, Finish),
    Again,
}

type Finish = Box<dyn FnOnce(Result<(), &str>) + Send>;
/// Run with the group's savepoint, or told why no transaction could start.
type Job = Box<dyn FnMut(Result<&mut Transaction<'_>, &str>, &str) -> Ran + Send>;

pub(crate) struct PgWriter {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl PgWriter {
    pub(crate) fn start(connector: Arc<Connector>, clock: Clock) -> Result<PgWriter, LedgerError> {
        let (jobs, rx) = channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("ledger-pg-writer".into())
            .spawn(move || run(&connector, &clock, &rx))
            .map_err(|e| LedgerError::Io(format!("start the ledger writer thread: {e}")))?;
        Ok(PgWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queue `f`; its records stay when it returns `Ok`. It may run more than once (after
    /// [`Fail::Again`]), so it must not consume what it captured before it can no longer ask.
    pub(crate) fn submit<T, F>(&self, mut f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Transaction<'_>, &str) -> Result<T, Fail> + Send + 'static,
    {
        self.submit_keeping(move |tx, now| match f(tx, now) {
            Ok(answer) => Ok(Ok(answer)),
            Err(Fail::Error(e)) => Err(Fail::Error(e)),
            Err(Fail::Again) => Err(Fail::Again),
        })
    }

    /// Like [`PgWriter::submit`], for a job whose records stay when it answers with an inner
    /// `Err` (a proposal refused after its read).
    pub(crate) fn submit_keeping<T, F>(&self, mut f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Transaction<'_>, &str) -> Result<Result<T, LedgerError>, Fail>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let mut answer_to = Some(tx);
        let job: Job = Box::new(move |conn, now| {
            let (result, keep) = match conn.map(|conn| f(conn, now)) {
                Err(why) => (Err(LedgerError::Io(why.to_string())), false),
                Ok(Ok(answer)) => (answer, true),
                Ok(Err(Fail::Error(e))) => (Err(e), false),
                Ok(Err(Fail::Again)) => return Ran::Again,
            };
            let answer_to = answer_to.take();
            let finish: Finish = Box::new(move |committed| {
                let answer = match committed {
                    Ok(()) => result,
                    Err(_) if result.is_err() && !keep => result,
                    Err(why) => Err(LedgerError::Io(format!("commit failed: {why}"))),
                };
                if let Some(tx) = answer_to {
                    let _ = tx.send(answer);
                }
            });
            Ran::Done(keep, finish)
        });
        match self.jobs.as_ref().map(|jobs| jobs.send(job)) {
            Some(Ok(())) => Pending::waiting(rx),
            _ => Pending::ready(Err(LedgerError::WriterStopped)),
        }
    }
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(connector: &Connector, clock: &Clock, rx: &Receiver<Job>) {
    let mut client: Option<Client> = None;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let again = match ensure(connector, &mut client) {
            Ok(conn) => match commit_group(conn, clock, group) {
                Ok(again) => again,
                // The connection was gone before anything ran: every job runs again, alone,
                // on a new one.
                Err(group) => {
                    client = None;
                    group
                }
            },
            Err(e) => {
                refuse(group, &e.to_string());
                Vec::new()
            }
        };
        connector.after_use(&mut client);
        for job in again {
            match ensure(connector, &mut client) {
                Ok(conn) => run_alone(conn, clock, job),
                Err(e) => refuse(vec![job], &e.to_string()),
            }
            connector.after_use(&mut client);
        }
    }
}

/// Answer every job of a group that could not start with `why`.
fn refuse(group: Vec<Job>, why: &str) {
    for mut job in group {
        if let Ran::Done(_, finish) = job(Err(why), "") {
            finish(Ok(()));
        }
    }
}

/// Run a group in one transaction, a savepoint per job; returns the jobs that asked to run
/// again alone, or (`Err`) the whole group when the connection was found gone at the start.
fn commit_group(conn: &mut Client, clock: &Clock, group: Vec<Job>) -> Result<Vec<Job>, Vec<Job>> {
    let started = conn.transaction().and_then(|mut tx| {
        tx.batch_execute(GROUP_LOCK_TIMEOUT)?;
        Ok(tx)
    });
    let mut tx = match started {
        Ok(tx) => tx,
        Err(e) if super::session::connection_lost(&e) => return Err(group),
        Err(e) => {
            refuse(group, &e.to_string());
            return Ok(Vec::new());
        }
    };
    let mut finishes = Vec::with_capacity(group.len());
    let mut again = Vec::new();
    let mut kept_any = false;
    // Why a savepoint could not be set, released or rolled back, if one could not: the
    // connection is gone, or the transaction is aborted, and PostgreSQL answers the COMMIT of
    // an aborted transaction with a ROLLBACK that is no error. Either way nothing of the group
    // stays, so no job of it may be answered as recorded.
    let mut broken: Option<String> = None;
    for mut job in group {
        let mut savepoint = match tx.savepoint("job") {
            Ok(sp) => sp,
            Err(e) => {
                broken.get_or_insert(e.to_string());
                again.push(job);
                continue;
            }
        };
        match job(Ok(&mut savepoint), &clock()) {
            Ran::Done(true, finish) => match savepoint.commit() {
                Ok(()) => {
                    kept_any = true;
                    finishes.push(finish);
                }
                // Its records are not in the transaction (the connection went away after the
                // job ran, in a restart or a failover): it is answered with that now. Before,
                // it waited for the group's commit, and with nothing else kept in the group
                // there was none to fail: it was answered as recorded.
                Err(e) => {
                    let why = e.to_string();
                    finish(Err(&why));
                    broken.get_or_insert(why);
                }
            },
            Ran::Done(false, finish) => {
                if let Err(e) = savepoint.rollback() {
                    broken.get_or_insert(e.to_string());
                }
                finishes.push(finish);
            }
            Ran::Again => {
                if let Err(e) = savepoint.rollback() {
                    broken.get_or_insert(e.to_string());
                }
                again.push(job);
            }
        }
    }
    let committed = match broken {
        Some(why) => {
            let _ = tx.rollback();
            Err(why)
        }
        None if kept_any => tx.commit().map_err(|e| e.to_string()),
        None => {
            let _ = tx.rollback();
            Ok(())
        }
    };
    for finish in finishes {
        finish(committed.as_ref().map(|_| ()).map_err(String::as_str));
    }
    Ok(again)
}

/// Run one job in a transaction of its own (its first statement is its own, so a proposal
/// lock is what gives the transaction its id), retrying while it asks to.
fn run_alone(conn: &mut Client, clock: &Clock, mut job: Job) {
    for _ in 0..MAX_ALONE {
        let started = conn.transaction().and_then(|mut tx| {
            tx.batch_execute(ALONE_LOCK_TIMEOUT)?;
            Ok(tx)
        });
        let mut tx = match started {
            Ok(tx) => tx,
            Err(e) => return refuse(vec![job], &e.to_string()),
        };
        match job(Ok(&mut tx), &clock()) {
            Ran::Done(keep, finish) => {
                let committed = if keep {
                    tx.commit().map_err(|e| e.to_string())
                } else {
                    let _ = tx.rollback();
                    Ok(())
                };
                finish(committed.as_ref().map(|_| ()).map_err(String::as_str));
                return;
            }
            Ran::Again => {
                let _ = tx.rollback();
            }
        }
    }
    refuse(
        vec![job],
        "the write kept meeting concurrent writes to the same proposal; try again",
    );
}
