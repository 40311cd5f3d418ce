//! Store maintenance (store.md §9): `store vacuum` and `store prune`.
//!
//! Prune removes whole proposals, never a part of one: a proposal goes with every record its
//! hash chain covers (events, decisions, jobs, receipts, idempotency receipts, replays, shadow
//! actions) and its evidence and query audit, so every proposal that stays still verifies.
//! It only takes proposals in a final state (applied, rejected, canceled), and it holds back a
//! proposal whose evidence a kept proposal also names (two proposals from one read share the
//! bundle), rather than leave the kept one without its evidence.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::{Ledger, LedgerError, Pending, Stats};

/// The states after which nothing more happens to a proposal (conflict and failed may still be
/// retried by `apply`, so they stay).
pub const FINAL_STATES: [&str; 3] = ["applied", "rejected", "canceled"];

/// Which proposals a prune looks at.
#[derive(Debug, Clone, Default)]
pub struct PruneRule {
    /// Proposals (and reads without a proposal) created before this RFC 3339 time.
    pub older_than: Option<String>,
    /// Keep the newest `keep` proposals whatever their age.
    pub keep: Option<u32>,
    /// Count only; delete nothing.
    pub dry_run: bool,
}

/// What a prune removed (or would remove), and what it kept back and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PruneReport {
    pub cutoff: Option<String>,
    pub keep: Option<u32>,
    pub dry_run: bool,
    /// Rows per table, in deletion order.
    pub deleted: BTreeMap<&'static str, u64>,
    /// Old enough but not final: `(proposal_id, state)`.
    pub kept_not_final: Vec<(String, String)>,
    /// Old, final, but held back because a kept proposal names the same evidence:
    /// `(proposal_id, evidence_bundle_id, kept proposal)`.
    pub kept_for_chain: Vec<(String, String, String)>,
}

/// Tables in the order rows leave them (children before the rows they reference).
pub const PRUNE_TABLES: [&str; 10] = [
    "idempotency_receipts",
    "writeback_receipts",
    "writeback_jobs",
    "approvals",
    "proposal_events",
    "shadow_human_actions",
    "replay_records",
    "query_audit",
    "evidence_bundles",
    "proposals",
];

/// Fact tables whose triggers refuse deletes; a prune lifts them inside its own transaction
/// and puts them back before it commits.
const GUARDED: [&str; 6] = [
    "approvals",
    "proposal_events",
    "writeback_receipts",
    "proposals",
    "writeback_jobs",
    "shadow_human_actions",
];

/// What `store vacuum` did.
#[derive(Debug, Clone, Serialize)]
pub struct VacuumReport {
    pub before: Stats,
    pub after: Stats,
    /// The WAL's size before the checkpoint that folded it into the main file.
    pub wal_bytes_before: u64,
}

impl Ledger {
    /// Fold the WAL into the main file and truncate it, then rebuild the file without its
    /// free pages (`VACUUM`). Runs on a connection of its own: `VACUUM` cannot run inside the
    /// writer's transactions. SQLite's locks keep it correct beside other processes, but it
    /// holds the write lock for its whole run, so the front end refuses it while a server holds
    /// the store's lease.
    /// A PostgreSQL ledger refuses with [`LedgerError::VacuumByPostgres`], which says what
    /// to run instead.
    pub fn vacuum(&self) -> Result<VacuumReport, LedgerError> {
        if self.pg().is_some() {
            return Err(LedgerError::VacuumByPostgres);
        }
        let before = self.stats()?;
        if self.path.as_os_str() == crate::MEMORY {
            return Ok(VacuumReport {
                after: before.clone(),
                wal_bytes_before: 0,
                before,
            });
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        drop(conn);
        Ok(VacuumReport {
            wal_bytes_before: before.wal_bytes,
            after: self.stats()?,
            before,
        })
    }

    /// Prune what `rule` selects, in one writer transaction; with `dry_run`, count it on the
    /// read connection instead (its work tables are temporary, so a dry run never takes the
    /// write lock a serving process's calls wait on).
    pub fn prune(&self, rule: PruneRule) -> Pending<PruneReport> {
        if let Err(e) = self.sqlite("store prune") {
            return Pending::ready(Err(e));
        }
        if rule.older_than.is_none() && rule.keep.is_none() {
            return Pending::ready(Err(LedgerError::Io(
                "a prune needs an age (--older-than) or a count (--keep)".into(),
            )));
        }
        if rule.dry_run {
            let conn = match self.conn() {
                Ok(conn) => conn,
                Err(e) => return Pending::ready(Err(e)),
            };
            // One snapshot for every count; nothing in it writes the ledger itself.
            let counted = conn
                .execute_batch("BEGIN DEFERRED")
                .map_err(LedgerError::from)
                .and_then(|()| prune_in(&conn, &rule));
            let ended = conn.execute_batch("ROLLBACK").map_err(LedgerError::from);
            return Pending::ready(counted.and_then(|report| ended.map(|()| report)));
        }
        self.write(move |tx, _| prune_in(tx, &rule))
    }
}

fn prune_in(tx: &Connection, rule: &PruneRule) -> Result<PruneReport, LedgerError> {
    let cutoff = rule.older_than.clone();
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.prune_p; DROP TABLE IF EXISTS temp.prune_e;
         DROP TABLE IF EXISTS temp.prune_s;
         CREATE TEMP TABLE prune_p (id TEXT PRIMARY KEY) WITHOUT ROWID;
         CREATE TEMP TABLE prune_s (seq INTEGER PRIMARY KEY);
         CREATE TEMP TABLE prune_e (id TEXT PRIMARY KEY) WITHOUT ROWID;",
    )?;
    // Candidates: old enough (by age and/or outside the newest `keep`).
    let keep = rule.keep.map(i64::from).unwrap_or(-1);
    let candidates: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT proposal_id, state FROM proposals
             WHERE (?1 IS NULL OR created_at < ?1)
               AND (?2 < 0 OR proposal_id NOT IN (SELECT proposal_id FROM proposals ORDER BY created_at DESC, rowid DESC LIMIT ?2))
             ORDER BY created_at",
        )?;
        let rows = stmt.query_map(params![cutoff, keep], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut report = PruneReport {
        cutoff: cutoff.clone(),
        keep: rule.keep,
        dry_run: rule.dry_run,
        deleted: BTreeMap::new(),
        kept_not_final: Vec::new(),
        kept_for_chain: Vec::new(),
    };
    let mut prune: BTreeSet<String> = BTreeSet::new();
    for (id, state) in candidates {
        if FINAL_STATES.contains(&state.as_str()) {
            prune.insert(id);
        } else {
            report.kept_not_final.push((id, state));
        }
    }
    hold_back_shared_evidence(tx, &mut prune, &mut report)?;
    {
        let mut ins = tx.prepare("INSERT INTO temp.prune_p (id) VALUES (?1)")?;
        for id in &prune {
            ins.execute([id])?;
        }
    }
    // The same proposals by `seq`, which the link indexes of events, evidence and audit
    // records are keyed by (`links.rs`).
    tx.execute(
        "INSERT INTO temp.prune_s (seq) SELECT seq FROM proposals
         WHERE proposal_id IN (SELECT id FROM temp.prune_p) AND seq IS NOT NULL",
        [],
    )?;
    // Evidence of pruned proposals, and reads without a proposal older than the cutoff.
    tx.execute(
        "INSERT OR IGNORE INTO temp.prune_e (id)
         SELECT evidence_bundle_id FROM evidence_bundles
         WHERE proposal_seq IN (SELECT seq FROM temp.prune_s)
            OR (?1 IS NOT NULL AND proposal_id IS NULL AND created_at < ?1)",
        [&cutoff],
    )?;
    // An unlinked bundle a kept proposal names stays (its change set's evidence handle).
    tx.execute(
        "DELETE FROM temp.prune_e WHERE id IN (
           SELECT json_extract(change_set_json, '$.evidence.bundle_id') FROM proposals
           WHERE proposal_id NOT IN (SELECT id FROM temp.prune_p))
         OR id IN (SELECT evidence_bundle_id FROM query_audit
           WHERE proposal_id IS NOT NULL AND proposal_id NOT IN (SELECT id FROM temp.prune_p))",
        [],
    )?;
    let where_of = |table: &str| -> String {
        match table {
            "query_audit" => format!(
                "proposal_seq IN (SELECT seq FROM temp.prune_s) OR evidence_bundle_id IN (SELECT id FROM temp.prune_e) OR ({} AND proposal_id IS NULL AND evidence_bundle_id IS NULL AND created_at < ?1)",
                if cutoff.is_some() { "1" } else { "0" }
            ),
            "evidence_bundles" => "evidence_bundle_id IN (SELECT id FROM temp.prune_e)".into(),
            "proposal_events" => "proposal_seq IN (SELECT seq FROM temp.prune_s)".into(),
            _ => "proposal_id IN (SELECT id FROM temp.prune_p)".into(),
        }
    };
    for table in PRUNE_TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", where_of(table));
        let n: i64 = if table == "query_audit" {
            tx.query_row(&sql, [&cutoff], |r| r.get(0))?
        } else {
            tx.query_row(&sql, [], |r| r.get(0))?
        };
        report.deleted.insert(table, n as u64);
    }
    if !rule.dry_run && report.deleted.values().any(|n| *n > 0) {
        let triggers = lift_guards(tx)?;
        for table in PRUNE_TABLES {
            let sql = format!("DELETE FROM {table} WHERE {}", where_of(table));
            if table == "query_audit" {
                tx.execute(&sql, [&cutoff])?;
            } else {
                tx.execute(&sql, [])?;
            }
        }
        for sql in triggers {
            tx.execute_batch(&sql)?;
        }
        crate::evidence_keys::forget_deleted(tx)?;
        crate::counts::recount(tx)?;
        // The search index is contentless and keyed by proposal rowid, which SQLite may hand
        // out again once the newest proposal is gone: emptied, it is rebuilt by the next
        // search (`Ledger::index_for_search`), so no search meets a pruned proposal's words
        // under a new proposal's rowid.
        if report.deleted.get("proposals").is_some_and(|n| *n > 0) {
            crate::search::forget_all(tx)?;
        }
    }
    tx.execute_batch("DROP TABLE temp.prune_p; DROP TABLE temp.prune_e; DROP TABLE temp.prune_s;")?;
    Ok(report)
}

/// Take out of `prune` every proposal whose evidence a kept proposal also names, until none
/// is left (holding one back can make its own evidence's other users stay too).
fn hold_back_shared_evidence(
    tx: &Connection,
    prune: &mut BTreeSet<String>,
    report: &mut PruneReport,
) -> Result<(), LedgerError> {
    if prune.is_empty() {
        return Ok(());
    }
    // (proposal that owns the bundle, bundle, proposal naming it) for bundles named by a
    // proposal other than their owner, through its change set or its query audit.
    let shared: Vec<(String, String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT b.proposal_id, b.evidence_bundle_id, p.proposal_id FROM proposals p
               JOIN evidence_bundles b ON b.evidence_bundle_id = json_extract(p.change_set_json, '$.evidence.bundle_id')
              WHERE b.proposal_id IS NOT NULL AND b.proposal_id != p.proposal_id
             UNION
             SELECT b.proposal_id, b.evidence_bundle_id, q.proposal_id FROM query_audit q
               JOIN evidence_bundles b ON b.evidence_bundle_id = q.evidence_bundle_id
              WHERE q.proposal_id IS NOT NULL AND b.proposal_id IS NOT NULL AND b.proposal_id != q.proposal_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    loop {
        let mut changed = false;
        for (owner, bundle, user) in &shared {
            // The owner goes while a user stays, or the user goes while the owner stays:
            // either way one kept proposal would lose part of its records.
            let (gone, kept) = match (prune.contains(owner), prune.contains(user)) {
                (true, false) => (owner, user),
                (false, true) => (user, owner),
                _ => continue,
            };
            prune.remove(gone);
            report
                .kept_for_chain
                .push((gone.clone(), bundle.clone(), kept.clone()));
            changed = true;
        }
        if !changed {
            return Ok(());
        }
    }
}

/// Drop the delete guards of the fact tables, returning the statements that recreate them.
fn lift_guards(tx: &Connection) -> Result<Vec<String>, LedgerError> {
    let mut stmt = tx.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_no\\_delete' ESCAPE '\\'",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut recreate = Vec::new();
    for (name, sql) in rows {
        if GUARDED.iter().any(|t| name == format!("{t}_no_delete")) {
            tx.execute_batch(&format!("DROP TRIGGER {name}"))?;
            recreate.push(sql);
        }
    }
    Ok(recreate)
}
