//! The work queue of `sluicegate worker` on PostgreSQL: the SQLite queue's records and
//! semantics (`crate::claims`), with the row locks of PostgreSQL doing the coordinating.
//!
//! - *Enqueue*: a trigger on `proposals.state` adds the queue row when a proposal moves to
//!   `approved` (whichever server records the decision, in the decision's own transaction)
//!   and sends `NOTIFY sluicegate_work`, which PostgreSQL delivers when that transaction
//!   commits: a worker listening ([`PgLedger::work_signal`]) wakes at once, never before the
//!   row is visible. A released claim notifies too.
//! - `claim_work`: the expired claims, then the due ready rows, each selected
//!   `FOR UPDATE OF work_queue SKIP LOCKED`: concurrent workers take different rows and never
//!   wait on each other; no lock is global. Each row is claimed by a compare-and-set on its
//!   fence (or closed when its proposal needs no worker any more).
//! - `renew`, `release`, `finish`, `fail`: `UPDATE … WHERE proposal_id = $1 AND fence = $2 AND
//!   status = 'claimed'`; no row is `CLAIM_LOST`, exactly where SQLite says it.
//! - A dead letter: the queue row, the `worker_dead_letters` row and the chained
//!   `writeback_dead_lettered` event in one transaction (the event takes the proposal's row
//!   lock first, as every event append does here).
//!
//! Time is the ledger clock's, as on SQLite (the writer hands each job its `now`), stored as
//! RFC 3339 text with milliseconds, whose text order is time order: one clock for both engines,
//! and tests move it instead of sleeping. Servers and workers on several hosts should keep
//! their clocks in sync (NTP), as for every other timestamp of the ledger.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Row, Transaction};
use serde_json::json;

use super::PgLedger;
use super::write::{append_event, lock_proposal};
use super::writer::Fail;
use crate::claims::{Claim, Failed, WORKABLE, WorkItem, WorkerDeadLetter, later};
use crate::pg::stmts::Prepared;
use crate::{LedgerError, Pending, RefusalCode};

/// The work queue's migration (appended to `schema::MIGRATIONS`): its own tables, indexes,
/// triggers and the rows of proposals already waiting for a worker. Proposals are never
/// deleted on PostgreSQL, so no trigger has to follow them out.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE work_queue (
  proposal_id text PRIMARY KEY,
  status text NOT NULL,
  fence bigint NOT NULL DEFAULT 0,
  holder text,
  lease_until text,
  attempts integer NOT NULL DEFAULT 0,
  due_at text NOT NULL,
  last_error text,
  last_outcome text,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX work_queue_ready ON work_queue (due_at) WHERE status = 'ready';
CREATE INDEX work_queue_leases ON work_queue (lease_until) WHERE status = 'claimed';

CREATE TABLE worker_dead_letters (
  dead_letter_id bigserial PRIMARY KEY,
  proposal_id text NOT NULL,
  worker_id text NOT NULL,
  fence bigint NOT NULL,
  attempts integer NOT NULL,
  last_error text NOT NULL,
  created_at text NOT NULL
);
CREATE INDEX worker_dead_letters_created ON worker_dead_letters (created_at, dead_letter_id);
CREATE INDEX worker_dead_letters_proposal ON worker_dead_letters (proposal_id, created_at, dead_letter_id);
CREATE TRIGGER worker_dead_letters_append_only BEFORE UPDATE OR DELETE ON worker_dead_letters
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('dead letters are append-only');

CREATE FUNCTION sluicegate_enqueue_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO work_queue (proposal_id, status, due_at, created_at, updated_at)
    VALUES (NEW.proposal_id, 'ready', NEW.updated_at, NEW.updated_at, NEW.updated_at)
    ON CONFLICT (proposal_id) DO NOTHING;
  PERFORM pg_notify('sluicegate_work', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER work_queue_enqueue AFTER UPDATE OF state ON proposals
  FOR EACH ROW WHEN (NEW.state = 'approved' AND OLD.state <> 'approved')
  EXECUTE FUNCTION sluicegate_enqueue_work();

INSERT INTO work_queue (proposal_id, status, due_at, created_at, updated_at)
  SELECT proposal_id, 'ready', updated_at, updated_at, updated_at FROM proposals
  WHERE state IN ('approved', 'pending_worker');
"#;

/// The channel workers listen on.
const CHANNEL: &str = "sluicegate_work";

/// The claims whose lease ran out, then the ready rows that are due: rows another worker
/// has locked are skipped, not waited for.
pub(super) const EXPIRED_SQL: &str = "SELECT w.proposal_id, w.status, w.fence, w.attempts, p.state FROM work_queue w LEFT JOIN proposals p ON p.proposal_id = w.proposal_id WHERE w.status = 'claimed' AND w.lease_until <= $1 ORDER BY w.lease_until LIMIT $2 FOR UPDATE OF w SKIP LOCKED";
pub(super) const DUE_SQL: &str = "SELECT w.proposal_id, w.status, w.fence, w.attempts, p.state FROM work_queue w LEFT JOIN proposals p ON p.proposal_id = w.proposal_id WHERE w.status = 'ready' AND w.due_at <= $1 ORDER BY w.due_at LIMIT $2 FOR UPDATE OF w SKIP LOCKED";

const ITEM_SQL: &str = "SELECT proposal_id, status, fence, holder, lease_until, attempts, due_at, last_error, last_outcome FROM work_queue WHERE proposal_id = $1";

pub(super) const DEAD_LETTERS_SQL: &str = "SELECT dead_letter_id, proposal_id, worker_id, fence, attempts, last_error, created_at FROM worker_dead_letters WHERE proposal_id = $1 ORDER BY created_at, dead_letter_id";

fn attempts(r: &Row, i: usize) -> Result<u32, LedgerError> {
    let n: i32 = r.try_get(i)?;
    Ok(u32::try_from(n).unwrap_or(0))
}

fn item(r: &Row) -> Result<WorkItem, LedgerError> {
    Ok(WorkItem {
        proposal_id: r.try_get(0)?,
        status: r.try_get(1)?,
        fence: r.try_get(2)?,
        holder: r.try_get(3)?,
        lease_until: r.try_get(4)?,
        attempts: attempts(r, 5)?,
        due_at: r.try_get(6)?,
        last_error: r.try_get(7)?,
        last_outcome: r.try_get(8)?,
    })
}

pub(super) fn dead_letter(r: &Row) -> Result<WorkerDeadLetter, LedgerError> {
    Ok(WorkerDeadLetter {
        dead_letter_id: r.try_get(0)?,
        proposal_id: r.try_get(1)?,
        worker_id: r.try_get(2)?,
        fence: r.try_get(3)?,
        attempts: attempts(r, 4)?,
        last_error: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

/// `CLAIM_LOST`, saying what became of the row.
fn lost(tx: &mut Transaction<'_>, claim: &Claim) -> Fail {
    let now = tx
        .row_opt(
            "SELECT fence, status, holder FROM work_queue WHERE proposal_id = $1",
            &[&claim.proposal_id],
        )
        .ok()
        .flatten()
        .and_then(|r| {
            Some((
                r.try_get::<_, i64>(0).ok()?,
                r.try_get::<_, String>(1).ok()?,
                r.try_get::<_, Option<String>>(2).ok()?,
            ))
        });
    let state = match now {
        Some((fence, status, holder)) if fence != claim.fence => format!(
            "it was claimed again (fence {fence}, {status}{})",
            holder.map(|h| format!(" by {h}")).unwrap_or_default()
        ),
        Some((_, status, _)) => format!("it is {status}"),
        None => "it is no longer queued".into(),
    };
    Fail::Error(LedgerError::refused(
        RefusalCode::ClaimLost,
        format!(
            "worker {} no longer holds proposal {} (fence {}): {state}; nothing was recorded",
            claim.worker_id, claim.proposal_id, claim.fence
        ),
    ))
}

/// The compare-and-set of every step after the claim: `set` (with `$3`… for `extra`) applies
/// only while the claim still holds the row.
fn fenced(
    tx: &mut Transaction<'_>,
    claim: &Claim,
    set: &str,
    extra: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<(), Fail> {
    let sql = format!(
        "UPDATE work_queue SET {set} WHERE proposal_id = $1 AND fence = $2 AND status = 'claimed'"
    );
    let mut all: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&claim.proposal_id, &claim.fence];
    all.extend_from_slice(extra);
    if tx.exec(&sql, &all)? != 1 {
        return Err(lost(tx, claim));
    }
    Ok(())
}

impl PgLedger {
    pub(crate) fn claim_work(
        &self,
        worker_id: String,
        lease_for: Duration,
        limit: u32,
    ) -> Pending<Vec<Claim>> {
        self.writer.submit(move |tx, now| {
            let lease_until = later(now, lease_for)?;
            let mut claims = Vec::new();
            loop {
                let want = i64::from(limit) - claims.len() as i64;
                if want <= 0 {
                    break;
                }
                let mut found = tx.rows(EXPIRED_SQL, &[&now, &want])?;
                if found.is_empty() {
                    found = tx.rows(DUE_SQL, &[&now, &want])?;
                }
                if found.is_empty() {
                    break;
                }
                for r in found {
                    let id: String = r.try_get(0)?;
                    let status: String = r.try_get(1)?;
                    let fence: i64 = r.try_get(2)?;
                    let tries = attempts(&r, 3)?;
                    let state: Option<String> = r.try_get(4)?;
                    if !state.as_deref().is_some_and(|s| WORKABLE.contains(&s)) {
                        let why = match &state {
                            Some(s) => format!("closed: the proposal is {s}"),
                            None => "closed: the proposal is gone".to_string(),
                        };
                        tx.exec(
                            "UPDATE work_queue SET status = 'done', holder = NULL, lease_until = NULL, last_outcome = $2, updated_at = $3 WHERE proposal_id = $1",
                            &[&id, &why, &now],
                        )?;
                        continue;
                    }
                    // The row is locked by this transaction: the claim cannot be lost here.
                    tx.exec(
                        "UPDATE work_queue SET status = 'claimed', fence = fence + 1, holder = $2, lease_until = $3, attempts = attempts + 1, updated_at = $4 WHERE proposal_id = $1",
                        &[&id, &worker_id, &lease_until, &now],
                    )?;
                    claims.push(Claim {
                        proposal_id: id,
                        fence: fence + 1,
                        worker_id: worker_id.clone(),
                        lease_until: lease_until.clone(),
                        attempts: tries + 1,
                        taken_over: status == "claimed",
                    });
                }
            }
            Ok(claims)
        })
    }

    pub(crate) fn renew_claim(&self, claim: Claim, lease_for: Duration) -> Pending<Claim> {
        self.writer.submit(move |tx, now| {
            let until = later(now, lease_for)?;
            fenced(
                tx,
                &claim,
                "lease_until = $3, updated_at = $4",
                &[&until, &now],
            )?;
            Ok(Claim {
                lease_until: until,
                ..claim.clone()
            })
        })
    }

    pub(crate) fn release_claim(&self, claim: Claim) -> Pending<()> {
        self.writer.submit(move |tx, now| {
            fenced(
                tx,
                &claim,
                "status = 'ready', holder = NULL, lease_until = NULL, attempts = GREATEST(attempts - 1, 0), due_at = $3, updated_at = $3",
                &[&now],
            )?;
            tx.exec("SELECT pg_notify($1, '')", &[&CHANNEL])?;
            Ok(())
        })
    }

    pub(crate) fn finish_claim(&self, claim: Claim, outcome: String) -> Pending<()> {
        self.writer.submit(move |tx, now| {
            fenced(
                tx,
                &claim,
                "status = 'done', holder = NULL, lease_until = NULL, last_outcome = $3, updated_at = $4",
                &[&outcome, &now],
            )
        })
    }

    pub(crate) fn fail_claim(
        &self,
        claim: Claim,
        error: String,
        retry_after: Option<Duration>,
    ) -> Pending<Failed> {
        self.writer.submit(move |tx, now| match retry_after {
            Some(d) => {
                let due_at = later(now, d)?;
                fenced(
                    tx,
                    &claim,
                    "status = 'ready', holder = NULL, lease_until = NULL, last_error = $3, due_at = $4, updated_at = $5",
                    &[&error, &due_at, &now],
                )?;
                Ok(Failed::Retry { due_at })
            }
            None => {
                // The proposal's lock first, as every event append takes it.
                lock_proposal(tx, &claim.proposal_id)?;
                fenced(
                    tx,
                    &claim,
                    "status = 'dead', holder = NULL, lease_until = NULL, last_error = $3, updated_at = $4",
                    &[&error, &now],
                )?;
                let attempts = i32::try_from(claim.attempts).unwrap_or(i32::MAX);
                let dead_letter_id: i64 = tx
                    .row(
                        "INSERT INTO worker_dead_letters (proposal_id, worker_id, fence, attempts, last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING dead_letter_id",
                        &[&claim.proposal_id, &claim.worker_id, &claim.fence, &attempts, &error, &now],
                    )?
                    .try_get(0)?;
                append_event(
                    tx,
                    &claim.proposal_id,
                    "writeback_dead_lettered",
                    &claim.worker_id,
                    &json!({"dead_letter_id": dead_letter_id, "fence": claim.fence, "attempts": claim.attempts, "last_error": error}),
                    now,
                )?;
                Ok(Failed::DeadLetter { dead_letter_id })
            }
        })
    }

    pub(crate) fn work_item(&self, proposal_id: &str) -> Result<Option<WorkItem>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers
            .run(move |c| c.row_opt(ITEM_SQL, &[&id])?.as_ref().map(item).transpose())
    }

    pub(crate) fn worker_dead_letters(
        &self,
        proposal_id: &str,
    ) -> Result<Vec<WorkerDeadLetter>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            c.rows(DEAD_LETTERS_SQL, &[&id])?
                .iter()
                .map(dead_letter)
                .collect()
        })
    }

    /// Start listening for new work on a connection of its own (see [`WorkSignal`]).
    pub(crate) fn work_signal(&self) -> Result<WorkSignal, LedgerError> {
        WorkSignal::start(self.connector.clone())
    }
}

/// A wake-up for idle workers: a thread holding its own connection with
/// `LISTEN sluicegate_work`, which raises [`WorkSignal::notified`] at every notification (a
/// permit is kept when nobody waits, so work queued while the worker was busy is not missed).
/// It connects again after a lost connection; until then, and always, the worker's poll is
/// the fallback. Stops when dropped.
pub struct WorkSignal {
    notify: Arc<tokio::sync::Notify>,
    listening: Arc<AtomicBool>,
    /// How many times a `LISTEN` came into force (1 + reconnections).
    listens: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The `application_name` of a worker's listening connection.
const LISTEN_APPLICATION: &str = "sluicegate-worker-listen";

/// How often the listening thread looks up from its connection to see whether it should stop.
const LISTEN_TICK: Duration = Duration::from_millis(200);

impl WorkSignal {
    fn start(connector: Arc<super::session::Connector>) -> Result<WorkSignal, LedgerError> {
        let notify = Arc::new(tokio::sync::Notify::new());
        let listening = Arc::new(AtomicBool::new(false));
        let listens = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, l, c, s) = (
            notify.clone(),
            listening.clone(),
            listens.clone(),
            stop.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("ledger-pg-listen".into())
            .spawn(move || listen(&connector, &n, (&l, &c), &s))
            .map_err(|e| LedgerError::Io(format!("start the listening thread: {e}")))?;
        Ok(WorkSignal {
            notify,
            listening,
            listens,
            stop,
            thread: Some(thread),
        })
    }

    /// Resolves at the next notification (or at once, for one that came while nobody waited).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Whether the `LISTEN` is in force now (false while connecting or after a lost connection).
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// How many times the `LISTEN` came into force: 1, plus one per connection made again.
    pub fn listens(&self) -> u64 {
        self.listens.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for WorkSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkSignal")
            .field("listening", &self.listening())
            .finish()
    }
}

impl Drop for WorkSignal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listen(
    connector: &super::session::Connector,
    notify: &tokio::sync::Notify,
    (listening, listens): (&AtomicBool, &AtomicU64),
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        let mut client = match connector.connect() {
            Ok(c) => c,
            // The worker polls meanwhile.
            Err(_) => {
                pause(stop, Duration::from_secs(2));
                continue;
            }
        };
        // Named apart from the ledger's other connections (operators can see it for what it is).
        let listened = client.batch_execute(&format!(
            "SET application_name = '{LISTEN_APPLICATION}'; LISTEN {CHANNEL}"
        ));
        if listened.is_err() {
            pause(stop, Duration::from_secs(2));
            continue;
        }
        // Work may have been queued while no LISTEN was in force: look once (the permit is
        // in place before `listening` says so).
        notify.notify_one();
        listens.fetch_add(1, Ordering::SeqCst);
        listening.store(true, Ordering::SeqCst);
        while !stop.load(Ordering::SeqCst) {
            let mut got = false;
            let mut failed = false;
            {
                let mut notes = client.notifications();
                let mut iter = notes.timeout_iter(LISTEN_TICK);
                loop {
                    match postgres::fallible_iterator::FallibleIterator::next(&mut iter) {
                        Ok(Some(_)) => got = true,
                        Ok(None) => break,
                        // The connection is gone: connect again (polling meanwhile).
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                }
            }
            if got {
                notify.notify_one();
            }
            if failed || client.is_closed() {
                break;
            }
        }
        listening.store(false, Ordering::SeqCst);
    }
}

/// Sleep up to `d`, in ticks, returning early once asked to stop (a background thread's
/// retry pause, never a synchronisation).
fn pause(stop: &AtomicBool, d: Duration) {
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::SeqCst) {
        let step = left.min(LISTEN_TICK);
        std::thread::sleep(step);
        left -= step;
    }
}
