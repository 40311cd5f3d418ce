//! Recording on PostgreSQL, agent side (reads and proposals) and what every record shares:
//! the proposal lock, the compare-and-set state projection and the chained event log. The
//! checks, hashes and ids are the SQLite ledger's own functions (`crate::write`), so both
//! engines record the same thing for the same call.

use postgres::Transaction;
use serde_json::{Value, json};
use sluicegate_core::chain;
use sluicegate_core::evidence::{EvidenceBundle, QueryAudit};
use sluicegate_core::lifecycle::{State, Transition, transition};
use sluicegate_core::proposal::change_hash;
use sluicegate_protocol::ChangeSet;

use super::PgLedger;
use super::rows;
use super::writer::Fail;
use crate::pg::stmts::Prepared;
use crate::views::StoredProposal;
use crate::write::{
    PreparedProposal, StoredItem, evidence_linked_payload, prepare_proposal,
    proposal_created_payload, scan_read,
};
use crate::{LedgerError, Pending, ProposalCall, ProposalRecorded, RefusalCode};

mod review;

impl PgLedger {
    pub(crate) fn record_read(&self, bundle: EvidenceBundle, audit: QueryAudit) -> Pending<()> {
        if let Err(e) = scan_read(&bundle, &audit) {
            return Pending::ready(Err(e));
        }
        self.writer
            .submit(move |tx, now| insert_read(tx, &bundle, &audit, now))
    }

    pub(crate) fn record_proposal(&self, call: ProposalCall) -> Pending<ProposalRecorded> {
        if let Err(e) = scan_read(&call.read_bundle, &call.read_audit) {
            return Pending::ready(Err(e));
        }
        let prepared = prepare_proposal(&call.change_set, &call.proposal_audit);
        self.writer.submit_keeping(move |tx, now| {
            insert_read(tx, &call.read_bundle, &call.read_audit, now)?;
            // The read stays on record even when the proposal is refused.
            let prepared = match &prepared {
                Ok(p) => p,
                Err(refused) => return Ok(Err(copy_refusal(refused))),
            };
            let mut part = tx.savepoint("part")?;
            match insert_proposal(&mut part, &call, prepared, now) {
                Ok(recorded) => {
                    part.commit()?;
                    Ok(Ok(recorded))
                }
                Err(Fail::Error(refused)) => {
                    part.rollback()?;
                    Ok(Err(refused))
                }
                Err(Fail::Again) => Err(Fail::Again),
            }
        })
    }
}

/// A refusal computed once before the job, handed out by a job that may run more than once.
fn copy_refusal(e: &LedgerError) -> LedgerError {
    match e {
        LedgerError::Refused { code, message } => LedgerError::refused(*code, message.clone()),
        other => LedgerError::Io(other.to_string()),
    }
}

fn insert_read(
    tx: &mut Transaction<'_>,
    bundle: &EvidenceBundle,
    audit: &QueryAudit,
    now: &str,
) -> Result<(), Fail> {
    let m = &bundle.meta;
    let items: Vec<Value> = bundle
        .items
        .iter()
        .map(|item| json!({ "item": item }))
        .collect();
    // Two identical reads in the same millisecond share an id: the first record stands (the
    // second audit record names the bundle all the same).
    tx.exec(
        "INSERT INTO evidence_bundles (evidence_bundle_id, proposal_id, tenant_id, payload_json, created_at, principal, capability, source_id, source_table, business_object, object_id, query_fingerprint, items_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (evidence_bundle_id) DO NOTHING",
        &[
            &bundle.evidence_bundle_id,
            &bundle.proposal_id,
            &bundle.tenant_id,
            &serde_json::to_string(&bundle.payload)?,
            &now,
            &m.principal,
            &m.capability,
            &m.source_id,
            &m.source_table,
            &m.business_object,
            &m.object_id,
            &m.query_fingerprint,
            &serde_json::to_string(&items)?,
        ],
    )?;
    insert_audit(tx, audit, now)
}

fn insert_audit(tx: &mut Transaction<'_>, audit: &QueryAudit, now: &str) -> Result<(), Fail> {
    let m = &audit.meta;
    tx.exec(
        "INSERT INTO query_audit (proposal_id, evidence_bundle_id, source_id, query_fingerprint, table_name, row_count, payload_json, created_at, tenant_id, principal, capability, business_object, object_id, primary_key_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        &[
            &audit.proposal_id,
            &audit.evidence_bundle_id,
            &audit.source_id,
            &audit.query_fingerprint,
            &audit.table_name,
            &(audit.row_count as i64),
            &serde_json::to_string(&audit.payload)?,
            &now,
            &m.tenant_id,
            &m.principal,
            &m.capability,
            &m.business_object,
            &m.object_id,
        ],
    )?;
    Ok(())
}

/// Link an unlinked bundle to its proposal and append the proposal's item (the stored text
/// of the earlier items is kept byte for byte). Returns whether it linked.
fn link_bundle(
    tx: &mut Transaction<'_>,
    bundle_id: &str,
    proposal_id: &str,
    item: &Value,
    now: &str,
) -> Result<bool, Fail> {
    let Some(row) = tx.row_opt(
        "SELECT items_json FROM evidence_bundles WHERE evidence_bundle_id = $1 AND proposal_id IS NULL FOR UPDATE",
        &[&bundle_id],
    )?
    else {
        return Ok(false);
    };
    let items: String = row.try_get(0)?;
    let added = serde_json::to_string(&StoredItem {
        created_at: Some(now),
        item,
    })?;
    let body = items.trim_end().trim_end_matches(']').trim_end();
    let items = if body.ends_with('[') {
        format!("{body}{added}]")
    } else {
        format!("{body},{added}]")
    };
    tx.exec(
        "UPDATE evidence_bundles SET proposal_id = $2, items_json = $3 WHERE evidence_bundle_id = $1",
        &[&bundle_id, &proposal_id, &items],
    )?;
    Ok(true)
}

fn insert_proposal(
    tx: &mut Transaction<'_>,
    call: &ProposalCall,
    prepared: &PreparedProposal,
    now: &str,
) -> Result<ProposalRecorded, Fail> {
    let cs = &call.change_set;
    let PreparedProposal {
        hash,
        cs_json,
        cs_value,
    } = prepared;
    if let Some(existing) = load_proposal_opt(tx, &cs.proposal_id)? {
        return deduplicate(existing, cs, hash);
    }
    let (state, created) = crate::write::initial_state(cs, now);
    let inserted = tx.exec(
        &format!(
            "INSERT INTO proposals ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (proposal_id) DO NOTHING",
            rows::PROPOSAL
        ),
        &[
            &cs.proposal_id,
            &i64::from(cs.proposal_version),
            hash,
            &cs.action,
            &state.as_str(),
            &cs.scope.tenant_id,
            &cs.principal.id,
            &cs.action,
            &cs.scope.business_object,
            &cs.scope.object_id,
            &cs.source.kind,
            &cs.source.source_id,
            &cs.source.schema,
            &cs.source.table,
            &cs.source_database_mutated,
            cs_json,
            &created,
            &created,
        ],
    )?;
    if inserted != 1 {
        // Another server recorded the same id a moment ago (the insert waited for it).
        let existing = load_proposal(tx, &cs.proposal_id)?;
        return deduplicate(existing, cs, hash);
    }
    // The proposal is new (and events must name an existing proposal), so its chain starts
    // at the genesis: no round trip to look up a last event, nor to read the row back.
    let created_event = append_event_after(
        tx,
        &chain::genesis(&cs.proposal_id),
        &cs.proposal_id,
        "proposal_created",
        &cs.principal.id,
        &proposal_created_payload(cs, hash, cs_json),
        now,
    )?;
    if link_bundle(
        tx,
        &cs.evidence.bundle_id,
        &cs.proposal_id,
        &call.proposal_item,
        now,
    )? {
        append_event_after(
            tx,
            &created_event,
            &cs.proposal_id,
            "evidence_recorded",
            "runner",
            &evidence_linked_payload(cs),
            now,
        )?;
    }
    insert_audit(tx, &call.proposal_audit, now)?;
    Ok(ProposalRecorded {
        proposal: crate::write::stored_as_inserted(
            cs,
            hash.clone(),
            state,
            created,
            cs_value.clone(),
        ),
        deduplicated: false,
    })
}

/// The same change proposed again (same hash, or same change hash) returns the stored
/// proposal, marked deduplicated; anything else under the id is refused.
fn deduplicate(
    existing: StoredProposal,
    cs: &ChangeSet,
    hash: &str,
) -> Result<ProposalRecorded, Fail> {
    let same_change = existing.proposal_hash == hash
        || existing
            .change_set()
            .is_ok_and(|e| change_hash(&e) == change_hash(cs));
    if same_change && existing.proposal_version == cs.proposal_version {
        return Ok(ProposalRecorded {
            proposal: existing,
            deduplicated: true,
        });
    }
    Err(Fail::Error(LedgerError::refused(
        RefusalCode::ProposalImmutabilityViolation,
        format!(
            "proposal {} already exists with a different version or hash",
            cs.proposal_id
        ),
    )))
}

pub(super) fn load_proposal_opt(
    tx: &mut Transaction<'_>,
    id: &str,
) -> Result<Option<StoredProposal>, Fail> {
    let row = tx.row_opt(
        &format!(
            "SELECT {} FROM proposals WHERE proposal_id = $1",
            rows::PROPOSAL
        ),
        &[&id],
    )?;
    Ok(row.as_ref().map(rows::proposal).transpose()?)
}

pub(super) fn load_proposal(tx: &mut Transaction<'_>, id: &str) -> Result<StoredProposal, Fail> {
    load_proposal_opt(tx, id)?.ok_or_else(|| {
        Fail::Error(LedgerError::NotFound {
            what: "proposal",
            id: id.to_string(),
        })
    })
}

/// Lock a proposal's row for the rest of the transaction and load it: every write that adds
/// to a recorded proposal starts here, so writers on one proposal take turns and each sees
/// the last one's events and state. When the proposal's last event was written by a
/// transaction newer than this one (this group's transaction began before it), the job asks
/// to run alone ([`Fail::Again`]), so the feed keeps the proposal's events in chain order.
pub(super) fn lock_proposal(tx: &mut Transaction<'_>, id: &str) -> Result<StoredProposal, Fail> {
    let row = tx
        .row_opt(
            &format!(
                "SELECT {} FROM proposals WHERE proposal_id = $1 FOR UPDATE",
                rows::PROPOSAL
            ),
            &[&id],
        )?
        .ok_or_else(|| {
            Fail::Error(LedgerError::NotFound {
                what: "proposal",
                id: id.to_string(),
            })
        })?;
    let proposal = rows::proposal(&row)?;
    let newer: Option<bool> = tx
        .row_opt(
            "SELECT tx_id > pg_current_xact_id() FROM proposal_events WHERE proposal_id = $1 ORDER BY event_id DESC LIMIT 1",
            &[&id],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    if newer == Some(true) {
        return Err(Fail::Again);
    }
    Ok(proposal)
}

/// Move a proposal's state through the lifecycle, compare-and-set on the state it was read in.
pub(super) fn move_state(
    tx: &mut Transaction<'_>,
    p: &StoredProposal,
    t: Transition,
    now: &str,
) -> Result<State, Fail> {
    let from = p.state()?;
    let to = transition(from, t).map_err(|e| {
        LedgerError::refused(
            RefusalCode::Transition(e.code),
            format!("proposal {} is {}", p.proposal_id, e.from.as_str()),
        )
    })?;
    let changed = tx.exec(
        "UPDATE proposals SET state = $2, updated_at = $3 WHERE proposal_id = $1 AND state = $4",
        &[&p.proposal_id, &to.as_str(), &now, &from.as_str()],
    )?;
    if changed != 1 {
        return Err(Fail::Error(LedgerError::refused(
            RefusalCode::ProposalStateChanged,
            format!(
                "proposal {} changed while this decision was being recorded; reload it",
                p.proposal_id
            ),
        )));
    }
    Ok(to)
}

/// Append an event linked to its proposal's last one (or the chain's genesis).
pub(super) fn append_event(
    tx: &mut Transaction<'_>,
    proposal_id: &str,
    kind: &str,
    actor: &str,
    payload: &Value,
    now: &str,
) -> Result<(), Fail> {
    let prev: String = match tx.row_opt(
        "SELECT chain_hash FROM proposal_events WHERE proposal_id = $1 ORDER BY event_id DESC LIMIT 1",
        &[&proposal_id],
    )? {
        Some(row) => row.try_get(0)?,
        None => chain::genesis(proposal_id),
    };
    append_event_after(tx, &prev, proposal_id, kind, actor, payload, now)?;
    Ok(())
}

/// Append an event linked to `prev` (its proposal's last chain hash, known to the caller);
/// returns the new event's chain hash.
fn append_event_after(
    tx: &mut Transaction<'_>,
    prev: &str,
    proposal_id: &str,
    kind: &str,
    actor: &str,
    payload: &Value,
    now: &str,
) -> Result<String, Fail> {
    let hash = chain::link(prev, kind, actor, payload, now);
    tx.exec(
        "INSERT INTO proposal_events (proposal_id, kind, actor, payload_json, created_at, prev_hash, chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &proposal_id,
            &kind,
            &actor,
            &serde_json::to_string(payload)?,
            &now,
            &prev,
            &hash,
        ],
    )?;
    Ok(hash)
}
