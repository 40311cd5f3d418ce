//! The work queue of `sluicegate worker`: approved proposals waiting to be applied, the
//! claims workers hold on them, retries with backoff, and the dead letters of jobs that kept
//! failing.
//!
//! An approved proposal becomes claimable by itself: a trigger on the proposal's state adds
//! its queue row when it moves to `approved` (and the migration adds the ones already
//! approved or handed to a worker), so no write path had to change. Shadow and read-only
//! proposals are never approved, so they never get here.
//!
//! A claim carries a lease (`lease_until`) and a **fencing token** (`fence`), which every
//! claim of the row increases. Every later step (`renew_claim`, `release_claim`,
//! `finish_claim`, `fail_claim`) is a compare-and-set on `(proposal_id, fence, 'claimed')`:
//! once a lease has expired and another worker has claimed the row, the old holder's token is
//! stale and whatever it tries to record is refused (`CLAIM_LOST`). The token guards the
//! queue's own records; the write itself is arbitrated where it happens, by the source's
//! receipt table inside the `UPDATE`'s transaction (`ReviewApi::apply`), so even a holder that
//! lost its claim mid-apply cannot write twice, and its attempt's receipt is reconciled.
//!
//! Claims are coordination state, not facts: the queue row is updated in place. What a worker
//! did is recorded by `apply` as ever (a job per attempt, a receipt, chained events); only
//! giving up is a fact here: a `worker_dead_letters` row (append-only) and a chained
//! `writeback_dead_lettered` event on the proposal, in the transaction that marks the row dead.
//!
//! Time is the ledger clock's (`Ledger::open_with_clock` in tests), so lease expiry and
//! backoff are tested by moving a clock, never by sleeping. Timestamps are RFC 3339 UTC with
//! milliseconds, whose text order is time order.
//!
//! # The PostgreSQL version behind the same methods
//!
//! The methods keep their signatures and dispatch to `pg/claims.rs` (its module doc has the
//! SQL): the queue row comes from a trigger that also sends `NOTIFY sluicegate_work` (a
//! listening worker wakes when the approval commits: [`Ledger::work_signal`]); `claim_work`
//! selects rows `FOR UPDATE OF work_queue SKIP LOCKED`, so concurrent workers take different
//! rows without waiting on each other; every later step is the same compare-and-set on
//! `(proposal_id, fence, 'claimed')`, and a dead letter is its row and its chained event in one
//! transaction. Time stays the ledger clock's on both engines.
//!
//! On SQLite every write already runs on the ledger's one writer thread, in one transaction,
//! so the select-then-update below cannot interleave with another worker's (other processes
//! wait on SQLite's write lock).

use std::collections::HashSet;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::write::{append_event, load_proposal_opt};
use crate::{Ledger, LedgerError, Pending, RefusalCode};

/// The work queue's schema (appended to `schema::MIGRATIONS`). Self-contained: its own
/// tables, indexes and triggers, and the rows of proposals already waiting for a worker.
/// No foreign keys, so `store prune` (which deletes whole final proposals) is not stopped by
/// them; a pruned proposal's queue row goes with it (trigger), its dead letters stay.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE work_queue (
  proposal_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  fence INTEGER NOT NULL DEFAULT 0,
  holder TEXT,
  lease_until TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at TEXT NOT NULL,
  last_error TEXT,
  last_outcome TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_work_queue_ready ON work_queue(due_at) WHERE status = 'ready';
CREATE INDEX idx_work_queue_leases ON work_queue(lease_until) WHERE status = 'claimed';
CREATE TABLE worker_dead_letters (
  dead_letter_id INTEGER PRIMARY KEY AUTOINCREMENT,
  proposal_id TEXT NOT NULL,
  worker_id TEXT NOT NULL,
  fence INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_worker_dead_letters_created ON worker_dead_letters(created_at, dead_letter_id);
CREATE INDEX idx_worker_dead_letters_proposal ON worker_dead_letters(proposal_id, created_at, dead_letter_id);
CREATE TRIGGER worker_dead_letters_no_update BEFORE UPDATE ON worker_dead_letters
  BEGIN SELECT RAISE(ABORT, 'dead letters are append-only'); END;
CREATE TRIGGER work_queue_enqueue AFTER UPDATE OF state ON proposals
  WHEN NEW.state = 'approved' AND OLD.state <> 'approved' BEGIN
  INSERT OR IGNORE INTO work_queue (proposal_id, status, due_at, created_at, updated_at)
    VALUES (NEW.proposal_id, 'ready', NEW.updated_at, NEW.updated_at, NEW.updated_at);
END;
CREATE TRIGGER work_queue_forget AFTER DELETE ON proposals BEGIN
  DELETE FROM work_queue WHERE proposal_id = OLD.proposal_id;
END;
INSERT INTO work_queue (proposal_id, status, due_at, created_at, updated_at)
  SELECT proposal_id, 'ready', updated_at, updated_at, updated_at FROM proposals
  WHERE state IN ('approved', 'pending_worker');
"#;

/// Proposal states a worker still has something to do for. Any other state (applied,
/// conflict, rejected, canceled) closes the queue row when a worker comes across it.
pub(crate) const WORKABLE: [&str; 3] = ["approved", "pending_worker", "failed"];

/// A worker's claim on one approved proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub proposal_id: String,
    /// The fencing token: larger than every earlier claim's on this proposal.
    pub fence: i64,
    pub worker_id: String,
    pub lease_until: String,
    /// How many claims this proposal has had, this one included (a claim whose holder died
    /// counts: a job that kills its workers ends as a dead letter too).
    pub attempts: u32,
    /// The previous holder's lease expired without a result: this claim took it over.
    pub taken_over: bool,
}

/// A queue row as it stands (`work_item`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    pub proposal_id: String,
    /// `ready`, `claimed`, `done` or `dead`.
    pub status: String,
    pub fence: i64,
    pub holder: Option<String>,
    pub lease_until: Option<String>,
    pub attempts: u32,
    pub due_at: String,
    pub last_error: Option<String>,
    /// What the last finished claim reported (`applied`, `conflict`, …).
    pub last_outcome: Option<String>,
}

/// What `fail_claim` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Failed {
    /// Claimable again from `due_at`.
    Retry { due_at: String },
    /// Given up on: the dead letter's id.
    DeadLetter { dead_letter_id: i64 },
}

/// A job a worker gave up on (visible in `activity search`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerDeadLetter {
    pub dead_letter_id: i64,
    pub proposal_id: String,
    pub worker_id: String,
    pub fence: i64,
    pub attempts: u32,
    pub last_error: String,
    pub created_at: String,
}

pub(crate) const WORKER_DEAD_LETTER_COLUMNS: &str =
    "dead_letter_id, proposal_id, worker_id, fence, attempts, last_error, created_at";

pub(crate) fn worker_dead_letter_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<WorkerDeadLetter> {
    Ok(WorkerDeadLetter {
        dead_letter_id: r.get(0)?,
        proposal_id: r.get(1)?,
        worker_id: r.get(2)?,
        fence: r.get(3)?,
        attempts: r.get(4)?,
        last_error: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// A proposal's worker dead letters, oldest first (`idx_worker_dead_letters_proposal`).
pub(crate) fn proposal_dead_letters_sql() -> String {
    format!(
        "SELECT {WORKER_DEAD_LETTER_COLUMNS} FROM worker_dead_letters WHERE proposal_id = ?1 ORDER BY created_at, dead_letter_id"
    )
}

/// `now + d` in the ledger's timestamp format.
pub(crate) fn later(now: &str, d: Duration) -> Result<String, LedgerError> {
    let at = chrono::DateTime::parse_from_rfc3339(now)
        .map_err(|e| LedgerError::Corrupt(format!("ledger clock gave {now:?}: {e}")))?;
    let d = chrono::Duration::from_std(d)
        .map_err(|e| LedgerError::Corrupt(format!("duration out of range: {e}")))?;
    Ok((at.with_timezone(&chrono::Utc) + d).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The ready rows due at `now`, oldest due first (the partial index `idx_work_queue_ready`).
pub(crate) const DUE_SQL: &str = "SELECT proposal_id FROM work_queue WHERE status = 'ready' AND due_at <= ?1 ORDER BY due_at LIMIT ?2";
/// The claims whose lease has run out (the partial index `idx_work_queue_leases`).
pub(crate) const EXPIRED_SQL: &str = "SELECT proposal_id FROM work_queue WHERE status = 'claimed' AND lease_until <= ?1 ORDER BY lease_until LIMIT ?2";

fn candidates(
    conn: &Connection,
    now: &str,
    limit: u32,
    seen: &HashSet<String>,
) -> Result<Vec<String>, LedgerError> {
    let mut out = Vec::new();
    // Taken-over claims first: their work has waited longest.
    for sql in [EXPIRED_SQL, DUE_SQL] {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![now, limit + seen.len() as u32], |r| {
            r.get::<_, String>(0)
        })?;
        for id in rows {
            let id = id?;
            if !seen.contains(&id) && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

fn lost(conn: &Connection, claim: &Claim) -> LedgerError {
    let now: Option<(i64, String, Option<String>)> = conn
        .query_row(
            "SELECT fence, status, holder FROM work_queue WHERE proposal_id = ?1",
            [&claim.proposal_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .ok()
        .flatten();
    let state = match now {
        Some((fence, status, holder)) if fence != claim.fence => format!(
            "it was claimed again (fence {fence}, {status}{})",
            holder.map(|h| format!(" by {h}")).unwrap_or_default()
        ),
        Some((_, status, _)) => format!("it is {status}"),
        None => "it is no longer queued".into(),
    };
    LedgerError::refused(
        RefusalCode::ClaimLost,
        format!(
            "worker {} no longer holds proposal {} (fence {}): {state}; nothing was recorded",
            claim.worker_id, claim.proposal_id, claim.fence
        ),
    )
}

/// The compare-and-set every step after the claim makes: `set` applies only while the claim
/// still holds the row (same fence, still claimed).
fn fenced(
    conn: &Connection,
    claim: &Claim,
    set: &str,
    extra: &[&dyn rusqlite::ToSql],
) -> Result<(), LedgerError> {
    let sql = format!(
        "UPDATE work_queue SET {set} WHERE proposal_id = ?1 AND fence = ?2 AND status = 'claimed'"
    );
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&claim.proposal_id, &claim.fence];
    all.extend_from_slice(extra);
    if conn.execute(&sql, all.as_slice())? != 1 {
        return Err(lost(conn, claim));
    }
    Ok(())
}

/// What a worker hands the ledger to keep (its id, an error text) is scanned for secret
/// material like every other record.
fn scan(fields: serde_json::Value) -> Result<(), LedgerError> {
    sluicegate_core::secrets::scan(&fields, "worker")
        .map_err(|r| LedgerError::refused(RefusalCode::SecretMaterialRejected, r.message))
}

fn positive(lease_for: Duration) -> Result<(), LedgerError> {
    if lease_for.is_zero() {
        return Err(LedgerError::refused(
            RefusalCode::ClaimLeaseInvalid,
            "a claim's lease must be longer than zero",
        ));
    }
    Ok(())
}

impl Ledger {
    /// Claim up to `limit` jobs for `worker_id`, each leased until now + `lease_for`: ready
    /// jobs that are due, and claims whose lease ran out (taken over). A queued proposal that
    /// no longer needs a worker (applied, conflict, rejected, canceled) is closed on the way.
    pub fn claim_work(
        &self,
        worker_id: &str,
        lease_for: Duration,
        limit: u32,
    ) -> Pending<Vec<Claim>> {
        if let Err(e) = positive(lease_for).and_then(|()| scan(json!({ "worker_id": worker_id }))) {
            return Pending::ready(Err(e));
        }
        let worker_id = worker_id.to_string();
        if let Some(pg) = self.pg() {
            return pg.claim_work(worker_id, lease_for, limit);
        }
        self.write(move |tx, now| {
            let lease_until = later(now, lease_for)?;
            let mut claims = Vec::new();
            let mut seen = HashSet::new();
            while (claims.len() as u32) < limit {
                let batch = candidates(tx, now, limit - claims.len() as u32, &seen)?;
                if batch.is_empty() {
                    break;
                }
                for id in batch {
                    seen.insert(id.clone());
                    if (claims.len() as u32) >= limit {
                        break;
                    }
                    if let Some(claim) = claim_one(tx, &id, &worker_id, &lease_until, now)? {
                        claims.push(claim);
                    }
                }
            }
            Ok(claims)
        })
    }

    /// Extend a held claim's lease to now + `lease_for` (refused with `CLAIM_LOST` once
    /// another worker has taken it over).
    pub fn renew_claim(&self, claim: &Claim, lease_for: Duration) -> Pending<Claim> {
        if let Err(e) = positive(lease_for) {
            return Pending::ready(Err(e));
        }
        let claim = claim.clone();
        if let Some(pg) = self.pg() {
            return pg.renew_claim(claim, lease_for);
        }
        self.write(move |tx, now| {
            let until = later(now, lease_for)?;
            fenced(
                tx,
                &claim,
                "lease_until = ?3, updated_at = ?4",
                &[&until, &now],
            )?;
            Ok(Claim {
                lease_until: until,
                ..claim
            })
        })
    }

    /// Give a claim back untried (a worker stopping before it started the job): claimable
    /// again at once, and this claim does not count as an attempt.
    pub fn release_claim(&self, claim: &Claim) -> Pending<()> {
        let claim = claim.clone();
        if let Some(pg) = self.pg() {
            return pg.release_claim(claim);
        }
        self.write(move |tx, now| {
            fenced(
                tx,
                &claim,
                "status = 'ready', holder = NULL, lease_until = NULL, attempts = MAX(attempts - 1, 0), due_at = ?3, updated_at = ?3",
                &[&now],
            )
        })
    }

    /// The job is done (applied, already applied, or ended in a conflict no retry can fix):
    /// `outcome` is kept on the row.
    pub fn finish_claim(&self, claim: &Claim, outcome: &str) -> Pending<()> {
        let (claim, outcome) = (claim.clone(), outcome.to_string());
        if let Some(pg) = self.pg() {
            return pg.finish_claim(claim, outcome);
        }
        self.write(move |tx, now| {
            fenced(
                tx,
                &claim,
                "status = 'done', holder = NULL, lease_until = NULL, last_outcome = ?3, updated_at = ?4",
                &[&outcome, &now],
            )
        })
    }

    /// The job failed with `error`. With `retry_after`, it is claimable again that much later
    /// (backoff is the caller's policy); without, it is given up on: a dead letter and a
    /// `writeback_dead_lettered` event on the proposal, in one transaction.
    pub fn fail_claim(
        &self,
        claim: &Claim,
        error: &str,
        retry_after: Option<Duration>,
    ) -> Pending<Failed> {
        if let Err(e) = scan(json!({ "last_error": error })) {
            return Pending::ready(Err(e));
        }
        let (claim, error) = (claim.clone(), error.to_string());
        if let Some(pg) = self.pg() {
            return pg.fail_claim(claim, error, retry_after);
        }
        self.write(move |tx, now| match retry_after {
            Some(d) => {
                let due_at = later(now, d)?;
                fenced(
                    tx,
                    &claim,
                    "status = 'ready', holder = NULL, lease_until = NULL, last_error = ?3, due_at = ?4, updated_at = ?5",
                    &[&error, &due_at, &now],
                )?;
                Ok(Failed::Retry { due_at })
            }
            None => {
                fenced(
                    tx,
                    &claim,
                    "status = 'dead', holder = NULL, lease_until = NULL, last_error = ?3, updated_at = ?4",
                    &[&error, &now],
                )?;
                tx.execute(
                    "INSERT INTO worker_dead_letters (proposal_id, worker_id, fence, attempts, last_error, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![claim.proposal_id, claim.worker_id, claim.fence, claim.attempts, error, now],
                )?;
                let dead_letter_id = tx.last_insert_rowid();
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

    /// The queue row of a proposal, if it was ever queued.
    pub fn work_item(&self, proposal_id: &str) -> Result<Option<WorkItem>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.work_item(proposal_id);
        }
        Ok(self
            .conn()?
            .query_row(
                "SELECT proposal_id, status, fence, holder, lease_until, attempts, due_at, last_error, last_outcome FROM work_queue WHERE proposal_id = ?1",
                [proposal_id],
                |r| {
                    Ok(WorkItem {
                        proposal_id: r.get(0)?,
                        status: r.get(1)?,
                        fence: r.get(2)?,
                        holder: r.get(3)?,
                        lease_until: r.get(4)?,
                        attempts: r.get(5)?,
                        due_at: r.get(6)?,
                        last_error: r.get(7)?,
                        last_outcome: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// A wake-up for an idle worker: on PostgreSQL, a connection of its own listening for the
    /// notification sent when work is queued (`None` on SQLite, where workers poll).
    pub fn work_signal(&self) -> Result<Option<crate::WorkSignal>, LedgerError> {
        self.pg().map(|pg| pg.work_signal()).transpose()
    }

    /// A proposal's worker dead letters, oldest first.
    pub fn worker_dead_letters(
        &self,
        proposal_id: &str,
    ) -> Result<Vec<WorkerDeadLetter>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.worker_dead_letters(proposal_id);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&proposal_dead_letters_sql())?;
        let rows = stmt.query_map([proposal_id], worker_dead_letter_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Claim one candidate row, or close it when its proposal needs no worker any more.
fn claim_one(
    tx: &Connection,
    id: &str,
    worker_id: &str,
    lease_until: &str,
    now: &str,
) -> Result<Option<Claim>, LedgerError> {
    let Some((status, fence, attempts)) = tx
        .query_row(
            "SELECT status, fence, attempts FROM work_queue WHERE proposal_id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    let state = load_proposal_opt(tx, id)?.map(|p| p.state);
    let workable = state.as_deref().is_some_and(|s| WORKABLE.contains(&s));
    if !workable {
        let why = match &state {
            Some(s) => format!("closed: the proposal is {s}"),
            None => "closed: the proposal is gone".to_string(),
        };
        tx.execute(
            "UPDATE work_queue SET status = 'done', holder = NULL, lease_until = NULL, last_outcome = ?2, updated_at = ?3 WHERE proposal_id = ?1 AND fence = ?4",
            params![id, why, now, fence],
        )?;
        return Ok(None);
    }
    let changed = tx.execute(
        "UPDATE work_queue SET status = 'claimed', fence = fence + 1, holder = ?2, lease_until = ?3, attempts = attempts + 1, updated_at = ?4 WHERE proposal_id = ?1 AND fence = ?5",
        params![id, worker_id, lease_until, now, fence],
    )?;
    Ok((changed == 1).then(|| Claim {
        proposal_id: id.to_string(),
        fence: fence + 1,
        worker_id: worker_id.to_string(),
        lease_until: lease_until.to_string(),
        attempts: attempts + 1,
        taken_over: status == "claimed",
    }))
}
