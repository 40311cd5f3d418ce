//! What every writer shares: loading a proposal inside a transaction, its state projection
//! (changed only through `core::lifecycle::transition`, compare-and-set) and the event log,
//! where each event links into its proposal's hash chain (`core::chain`).

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sluicegate_core::chain;
use sluicegate_core::lifecycle::{State, Transition, transition};

use super::ExecCached;
use crate::links::seq_of;
use crate::views::StoredProposal;
use crate::{LedgerError, RefusalCode};

pub(crate) fn load_proposal_opt(
    tx: &Connection,
    id: &str,
) -> Result<Option<StoredProposal>, LedgerError> {
    static SELECT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM proposals WHERE proposal_id = ?1",
            StoredProposal::COLUMNS
        )
    });
    Ok(tx
        .prepare_cached(&SELECT)?
        .query_row([id], StoredProposal::from_row)
        .optional()?)
}

pub(super) fn load_proposal(tx: &Connection, id: &str) -> Result<StoredProposal, LedgerError> {
    load_proposal_opt(tx, id)?.ok_or_else(|| LedgerError::NotFound {
        what: "proposal",
        id: id.to_string(),
    })
}

/// Shadow and read-only proposals are evidence only: they can never reach a writer.
pub(crate) fn writeback_allowed(p: &StoredProposal, operation: &str) -> Result<(), LedgerError> {
    match p.change_set.get("mode").and_then(Value::as_str) {
        Some("shadow") => Err(LedgerError::refused(
            RefusalCode::ShadowWritebackDisabled,
            format!(
                "shadow proposal {} cannot be {operation}; shadow mode stores proposals, evidence, query audit, and replay only and never mutates the source database",
                p.proposal_id
            ),
        )),
        Some("read_only") => Err(LedgerError::refused(
            RefusalCode::ReadOnlyWritebackDisabled,
            format!(
                "read-only proposal {} cannot be {operation}; it never mutates the source database",
                p.proposal_id
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn check_identity(
    p: &StoredProposal,
    hash: &str,
    version: u32,
) -> Result<(), LedgerError> {
    if p.proposal_hash != hash {
        return Err(LedgerError::refused(
            RefusalCode::ProposalHashMismatch,
            format!("proposal {} hash mismatch", p.proposal_id),
        ));
    }
    if p.proposal_version != version {
        return Err(LedgerError::refused(
            RefusalCode::ProposalVersionMismatch,
            format!("proposal {} version mismatch", p.proposal_id),
        ));
    }
    Ok(())
}

pub(super) fn move_state(
    tx: &Connection,
    p: &StoredProposal,
    t: Transition,
    now: &str,
) -> Result<State, LedgerError> {
    let from = p.state()?;
    let to = transition(from, t).map_err(|e| {
        LedgerError::refused(
            RefusalCode::Transition(e.code),
            format!("proposal {} is {}", p.proposal_id, e.from.as_str()),
        )
    })?;
    // Compare-and-set on the state we read: a concurrent decision cannot be silently overwritten.
    let changed = tx.exec(
        "UPDATE proposals SET state = ?2, updated_at = ?3 WHERE proposal_id = ?1 AND state = ?4",
        params![p.proposal_id, to.as_str(), now, from.as_str()],
    )?;
    if changed != 1 {
        return Err(LedgerError::refused(
            RefusalCode::ProposalStateChanged,
            format!(
                "proposal {} changed while this decision was being recorded; reload it",
                p.proposal_id
            ),
        ));
    }
    Ok(to)
}

/// The chain hash of a proposal's last event.
const LAST_CHAIN_HASH: &str = concat!(
    "SELECT chain_hash FROM proposal_events WHERE proposal_seq = ",
    seq_of!("?1"),
    " ORDER BY event_id DESC LIMIT 1"
);

/// Append an event, linked to the last event of its proposal (or the chain's genesis).
pub(crate) fn append_event(
    tx: &Connection,
    proposal_id: &str,
    kind: &str,
    actor: &str,
    payload: &Value,
    now: &str,
) -> Result<(), LedgerError> {
    let prev: String = tx
        .prepare_cached(LAST_CHAIN_HASH)?
        .query_row([proposal_id], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| chain::genesis(proposal_id));
    append_event_after(tx, &prev, proposal_id, kind, actor, payload, now)?;
    Ok(())
}

/// Append an event linked to `prev`, the chain hash of its proposal's last event (or the
/// chain's genesis), when the caller knows it: a proposal being recorded has no event yet.
/// Returns the new event's chain hash.
pub(crate) fn append_event_after(
    tx: &Connection,
    prev: &str,
    proposal_id: &str,
    kind: &str,
    actor: &str,
    payload: &Value,
    now: &str,
) -> Result<String, LedgerError> {
    let hash = chain::link(prev, kind, actor, payload, now);
    tx.exec(
        concat!(
            "INSERT INTO proposal_events (proposal_id, kind, actor, payload_json, created_at, prev_hash, chain_hash, proposal_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ",
            seq_of!("?1"),
            ")"
        ),
        params![proposal_id, kind, actor, serde_json::to_string(payload)?, now, prev, hash],
    )?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rusqlite::StatementStatus;

    use super::*;
    use crate::Ledger;

    /// Every event appended looks up its proposal's last one. A statement SQLite plans anew
    /// at each use (see `keep_statements`) costs a parse and a plan on the writer thread each
    /// time; this fails when the ledger's connections lose the planner stability guarantee.
    #[test]
    fn a_cached_statement_is_planned_once_whatever_is_bound() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        let replanned = ledger
            .submit(|conn| {
                for id in ["p-1", "p-2", "p-3", "p-4"] {
                    let prev: Option<String> = conn
                        .prepare_cached(LAST_CHAIN_HASH)?
                        .query_row([id], |r| r.get(0))
                        .optional()?;
                    assert_eq!(prev, None);
                }
                Ok(conn
                    .prepare_cached(LAST_CHAIN_HASH)?
                    .get_status(StatementStatus::RePrepare))
            })
            .wait()
            .unwrap();
        assert_eq!(
            replanned, 0,
            "the statement was planned again after each use"
        );
    }
}
