//! Everything that writes to the ledger. Each public method is one writer job: either all of
//! its records land, or none do (see `crate::writer`).
//!
//! This file records what the agent side produces (reads and proposals); `review` records
//! what humans and writeback produce; `facts` holds what both share: the proposal projection
//! and the chained event log.

mod facts;
mod review;
mod shadow;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};
use sluicegate_core::chain;
use sluicegate_core::evidence::{EvidenceBundle, QueryAudit};
use sluicegate_core::lifecycle::State;
use sluicegate_core::proposal::{change_hash, content_hash_of, proposal_hash, validate_change_set};
use sluicegate_core::secrets;
use sluicegate_protocol::ChangeSet;

use crate::links::seq_of;
use crate::views::StoredProposal;
use crate::{Ledger, LedgerError, Pending, RefusalCode, compact};
pub(crate) use facts::{append_event, append_event_after, load_proposal_opt};
pub(crate) use facts::{check_identity, writeback_allowed};
pub use review::{AttemptRequest, JobKind, JobRecord, QueuedJob};
pub(crate) use review::{receipt_event, receipt_outcome, receipt_time, validate_receipt};
pub use shadow::ShadowAction;
pub(crate) use shadow::action_digest;
#[cfg(test)]
pub(crate) use shadow::{SHADOW_ACTIONS, SHADOW_PROPOSALS};

/// The result of recording a proposal call.
#[derive(Debug, Clone)]
pub struct ProposalRecorded {
    pub proposal: StoredProposal,
    /// True when an identical proposal already existed and was returned instead.
    pub deduplicated: bool,
}

/// Statements are prepared once per connection and reused: parsing SQL costs more than the
/// insert itself on the hot path of every tool call.
trait ExecCached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl ExecCached for rusqlite::Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

pub(crate) fn to_refusal(r: sluicegate_core::refusal::Refusal) -> LedgerError {
    LedgerError::refused(RefusalCode::SecretMaterialRejected, r.message)
}

impl Ledger {
    /// Record one read: its evidence bundle and query-audit record.
    pub fn record_read(&self, bundle: EvidenceBundle, audit: QueryAudit) -> Pending<()> {
        if let Some(pg) = self.pg() {
            return pg.record_read(bundle, audit);
        }
        let stored =
            match scan_read(&bundle, &audit).and_then(|()| StoredRead::new(&bundle, &audit)) {
                Ok(stored) => stored,
                Err(e) => return Pending::ready(Err(e)),
            };
        self.record(move |tx, now| insert_read(tx, &bundle, &audit, &stored, now).map(Ok))
    }

    /// Record a proposal call in one transaction: the read (always, even when the proposal is
    /// refused), then the proposal, its evidence link, the second audit record and the events.
    ///
    /// An identical proposal (same id, version and hash) returns the stored one, marked as
    /// deduplicated; a different proposal under the same id is refused.
    pub fn record_proposal(&self, call: ProposalCall) -> Pending<ProposalRecorded> {
        if let Some(pg) = self.pg() {
            return pg.record_proposal(call);
        }
        // Checks, hashes and serialisation run here, on the caller's thread, so concurrent
        // callers do them in parallel; the writer thread, which every record waits behind,
        // only writes.
        let read = match scan_read(&call.read_bundle, &call.read_audit)
            .and_then(|()| StoredRead::new(&call.read_bundle, &call.read_audit))
        {
            Ok(read) => read,
            Err(e) => return Pending::ready(Err(e)),
        };
        let prepared = prepare_proposal(&call.change_set, &call.proposal_audit);
        let proposal_audit = StoredAudit::new(&call.proposal_audit);
        self.record(move |tx, now| {
            insert_read(tx, &call.read_bundle, &call.read_audit, &read, now)?;
            // The read happened and stays on record even when the proposal is refused: every
            // refusal is decided before the proposal writes anything, and travels inside the
            // `Ok`, so the read's records are kept.
            let (prepared, stored_audit) = match (prepared, proposal_audit) {
                (Ok(p), Ok(a)) => (p, a),
                (Err(refused), _) | (_, Err(refused)) => return Ok(Err(refused)),
            };
            if let Some(answer) = existing_proposal(tx, &call.change_set, &prepared.hash)? {
                return Ok(answer);
            }
            insert_proposal(
                tx,
                &call.change_set,
                prepared,
                &call.proposal_item,
                &call.proposal_audit,
                &stored_audit,
                now,
            )
            .map(Ok)
        })
    }
}

/// The inputs of [`Ledger::record_proposal`]: the read behind the proposal and the proposal.
#[derive(Debug, Clone)]
pub struct ProposalCall {
    pub read_bundle: EvidenceBundle,
    pub read_audit: QueryAudit,
    pub change_set: ChangeSet,
    pub proposal_item: Value,
    pub proposal_audit: QueryAudit,
}

pub(crate) fn scan_read(bundle: &EvidenceBundle, audit: &QueryAudit) -> Result<(), LedgerError> {
    secrets::scan(&bundle.payload, "evidence_bundle.payload").map_err(to_refusal)?;
    secrets::scan_list(&bundle.items, "evidence_bundle.items").map_err(to_refusal)?;
    secrets::scan(&audit.payload, "query_audit").map_err(to_refusal)
}

/// Insert a read's bundle and audit record. The audit's id is known before it is inserted
/// (the transaction holds the write lock and ids are `max + 1`), so the bundle lists it in its
/// own insert rather than being updated afterwards.
fn insert_read(
    tx: &Connection,
    bundle: &EvidenceBundle,
    audit: &QueryAudit,
    stored: &StoredRead,
    now: &str,
) -> Result<(), LedgerError> {
    if audit.evidence_bundle_id.as_deref() != Some(bundle.evidence_bundle_id.as_str()) {
        insert_bundle(tx, bundle, stored, now, None)?;
        return insert_audit(tx, audit, &stored.audit, now);
    }
    let audit_id: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(audit_id), 0) + 1 FROM query_audit")?
        .query_row([], |r| r.get(0))?;
    insert_bundle(tx, bundle, stored, now, Some(audit_id))?;
    insert_audit_row(tx, audit, &stored.audit, now, Some(audit_id))?;
    Ok(())
}

/// A read's records in their stored form, written on the caller's thread so that the writer
/// thread, which every record waits behind, does not serialise them.
pub(crate) struct StoredRead {
    /// The bundle's payload without what its columns hold (`compact::store_bundle`).
    payload_json: String,
    /// The bundle's items: a compacted item bare, any other wrapped as `{"item": …}` like an
    /// item appended later with its own time.
    items_json: String,
    audit: StoredAudit,
}

impl StoredRead {
    fn new(bundle: &EvidenceBundle, audit: &QueryAudit) -> Result<StoredRead, LedgerError> {
        let m = &bundle.meta;
        let item_columns = compact::ItemColumns {
            source_id: m.source_id.as_deref(),
            table: m.source_table.as_deref(),
            object_id: m.object_id.as_deref(),
            tenant_id: &bundle.tenant_id,
        };
        let items: Vec<Value> = bundle
            .items
            .iter()
            .map(|item| {
                let stored = compact::store_item(item, &item_columns);
                if compact::is_marked(&stored) {
                    stored
                } else {
                    json!({ "item": stored })
                }
            })
            .collect();
        let payload = compact::store_bundle(
            &bundle.payload,
            [
                m.capability.as_deref(),
                m.source_id.as_deref(),
                m.source_table.as_deref(),
                m.principal.as_deref(),
                Some(bundle.tenant_id.as_str()),
            ],
        );
        Ok(StoredRead {
            payload_json: serde_json::to_string(&payload)?,
            items_json: serde_json::to_string(&items)?,
            audit: StoredAudit::new(audit)?,
        })
    }
}

/// An audit payload compacted against its statement template (`compact::store_audit`) and
/// serialised on the caller's thread. The writer stores the compact form when the template
/// kept in `query_shapes` for the fingerprint is this one, else the payload as it came.
pub(crate) struct StoredAudit {
    compact_json: String,
    template: Option<String>,
}

impl StoredAudit {
    fn new(audit: &QueryAudit) -> Result<StoredAudit, LedgerError> {
        let (compact, template) =
            compact::store_audit(&audit.payload, audit.meta.capability.as_deref());
        Ok(StoredAudit {
            compact_json: serde_json::to_string(&compact)?,
            template,
        })
    }
}

/// Insert a bundle, listing `audit_id` among its audit records when given.
fn insert_bundle(
    tx: &Connection,
    bundle: &EvidenceBundle,
    stored: &StoredRead,
    now: &str,
    audit_id: Option<i64>,
) -> Result<(), LedgerError> {
    let m = &bundle.meta;
    // Two identical reads in the same millisecond share an id; the first record stands and
    // only gains the second audit record.
    tx.exec(
        concat!(
            "INSERT INTO evidence_bundles (evidence_bundle_id, proposal_id, tenant_id, payload_json, created_at, principal, capability, source_id, source_table, business_object, object_id, query_fingerprint, items_json, query_audit_ids, proposal_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, CASE WHEN ?14 IS NULL THEN '[]' ELSE json_array(?14) END, ",
            seq_of!("?2"),
            ") ON CONFLICT (evidence_bundle_id) DO UPDATE SET query_audit_ids = json_insert(query_audit_ids, '$[#]', ?14) WHERE ?14 IS NOT NULL"
        ),
        params![
            bundle.evidence_bundle_id,
            bundle.proposal_id,
            bundle.tenant_id,
            stored.payload_json,
            now,
            m.principal,
            m.capability,
            m.source_id,
            m.source_table,
            m.business_object,
            m.object_id,
            m.query_fingerprint,
            stored.items_json,
            audit_id
        ],
    )?;
    Ok(())
}

/// An evidence item appended to a bundle after it was recorded (a proposal's), with its own
/// time, as kept in `evidence_bundles.items_json`. Items recorded with the bundle have no
/// time of their own (they read as the bundle's `created_at`).
#[derive(Serialize)]
pub(crate) struct StoredItem<'a> {
    pub(crate) created_at: Option<&'a str>,
    pub(crate) item: &'a Value,
}

/// Link an unlinked bundle to the proposal it supports and append the proposal's item.
/// Returns whether the bundle was linked (a bundle already linked to a proposal stays as is).
/// SQLite appends the item in place: no read, parse and rewrite of the items on this thread.
fn link_bundle(
    tx: &Connection,
    bundle_id: &str,
    proposal_id: &str,
    item: &Value,
    now: &str,
) -> Result<bool, LedgerError> {
    let item = serde_json::to_string(&StoredItem {
        created_at: Some(now),
        item,
    })?;
    let linked = tx.exec(
        concat!(
            "UPDATE evidence_bundles SET proposal_id = ?2, proposal_seq = ",
            seq_of!("?2"),
            ", items_json = json_insert(items_json, '$[#]', json(?3)) WHERE evidence_bundle_id = ?1 AND proposal_id IS NULL"
        ),
        params![bundle_id, proposal_id, item],
    )?;
    Ok(linked == 1)
}

/// Insert an audit record and add it to the list of the bundle it names, if any.
fn insert_audit(
    tx: &Connection,
    audit: &QueryAudit,
    stored: &StoredAudit,
    now: &str,
) -> Result<(), LedgerError> {
    let audit_id = insert_audit_row(tx, audit, stored, now, None)?;
    if let Some(bundle_id) = &audit.evidence_bundle_id {
        tx.exec(
            "UPDATE evidence_bundles SET query_audit_ids = json_insert(query_audit_ids, '$[#]', ?2) WHERE evidence_bundle_id = ?1",
            params![bundle_id, audit_id],
        )?;
    }
    Ok(())
}

/// An audit payload's stored JSON: the compact form when the template kept for its
/// fingerprint in `query_shapes` is this one (it is kept there the first time), else the
/// payload as it came. The template is looked up first: once a fingerprint is known, that is
/// the only statement this costs.
fn audit_payload_to_store(
    tx: &Connection,
    audit: &QueryAudit,
    stored: &StoredAudit,
) -> Result<String, LedgerError> {
    let Some(template) = &stored.template else {
        return Ok(stored.compact_json.clone());
    };
    let kept: Option<String> = tx
        .prepare_cached("SELECT statement_template FROM query_shapes WHERE query_fingerprint = ?1")?
        .query_row([&audit.query_fingerprint], |r| r.get(0))
        .optional()?;
    let ours = match kept {
        Some(kept) => kept == *template,
        // This transaction holds the write lock: nobody else can keep another one meanwhile.
        None => {
            tx.exec(
                "INSERT INTO query_shapes (query_fingerprint, statement_template) VALUES (?1, ?2)",
                params![audit.query_fingerprint, template],
            )?;
            true
        }
    };
    Ok(if ours {
        stored.compact_json.clone()
    } else {
        serde_json::to_string(&audit.payload)?
    })
}

/// Insert the audit row itself (with `audit_id` when the caller chose it); returns its id.
fn insert_audit_row(
    tx: &Connection,
    audit: &QueryAudit,
    stored: &StoredAudit,
    now: &str,
    audit_id: Option<i64>,
) -> Result<i64, LedgerError> {
    let payload = audit_payload_to_store(tx, audit, stored)?;
    let m = &audit.meta;
    tx.exec(
        concat!(
            "INSERT INTO query_audit (audit_id, proposal_id, evidence_bundle_id, source_id, query_fingerprint, table_name, row_count, payload_json, created_at, tenant_id, principal, capability, business_object, object_id, primary_key_value, proposal_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ",
            seq_of!("?2"),
            ")"
        ),
        params![
            audit_id,
            audit.proposal_id,
            audit.evidence_bundle_id,
            audit.source_id,
            audit.query_fingerprint,
            audit.table_name,
            audit.row_count as i64,
            payload,
            now,
            m.tenant_id,
            m.principal,
            m.capability,
            m.business_object,
            m.object_id,
            m.object_id
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// What recording a proposal needs that does not touch the ledger: the change set checked,
/// scanned for secrets and hashed, and its stored JSON.
pub(crate) struct PreparedProposal {
    pub(crate) hash: String,
    pub(crate) cs_json: String,
    /// The change set as the JSON value `cs_json` was written from.
    pub(crate) cs_value: Value,
}

pub(crate) fn prepare_proposal(
    cs: &ChangeSet,
    proposal_audit: &QueryAudit,
) -> Result<PreparedProposal, LedgerError> {
    validate_change_set(cs).map_err(|m| LedgerError::refused(RefusalCode::ChangeSetInvalid, m))?;
    let cs_value = serde_json::to_value(cs)?;
    secrets::scan(&cs_value, "change_set").map_err(to_refusal)?;
    secrets::scan(&proposal_audit.payload, "query_audit").map_err(to_refusal)?;
    let hash = proposal_hash(cs);
    if content_hash_of(&cs_value) != hash {
        return Err(LedgerError::refused(
            RefusalCode::ChangeSetInvalid,
            "integrity.proposal_hash is not the hash of the change set's content",
        ));
    }
    Ok(PreparedProposal {
        hash: hash.to_string(),
        cs_json: serde_json::to_string(&cs_value)?,
        cs_value,
    })
}

/// The answer for a proposal whose id is already on record, if it is: the same change
/// proposed again, by the same principal (same hash) or another one (same change hash), is the
/// existing proposal, marked deduplicated; anything else under that id is refused. Nothing is
/// written either way.
fn existing_proposal(
    tx: &Connection,
    cs: &ChangeSet,
    hash: &str,
) -> Result<Option<Result<ProposalRecorded, LedgerError>>, LedgerError> {
    let Some(existing) = load_proposal_opt(tx, &cs.proposal_id)? else {
        return Ok(None);
    };
    let same_change = existing.proposal_hash == hash
        || existing
            .change_set()
            .is_ok_and(|e| change_hash(&e) == change_hash(cs));
    if same_change && existing.proposal_version == cs.proposal_version {
        return Ok(Some(Ok(ProposalRecorded {
            proposal: existing,
            deduplicated: true,
        })));
    }
    Ok(Some(Err(LedgerError::refused(
        RefusalCode::ProposalImmutabilityViolation,
        format!(
            "proposal {} already exists with a different version or hash",
            cs.proposal_id
        ),
    ))))
}

/// Insert a new proposal (its id is not on record: [`existing_proposal`]) with its events,
/// its evidence link and its audit record.
fn insert_proposal(
    tx: &Connection,
    cs: &ChangeSet,
    prepared: PreparedProposal,
    proposal_item: &Value,
    proposal_audit: &QueryAudit,
    stored_audit: &StoredAudit,
    now: &str,
) -> Result<ProposalRecorded, LedgerError> {
    let PreparedProposal {
        hash,
        cs_json,
        cs_value,
    } = prepared;
    let (state, created) = initial_state(cs, now);
    tx.exec(
        &format!(
            "INSERT INTO proposals ({}, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, {})",
            StoredProposal::COLUMNS,
            crate::links::NEXT_SEQ
        ),
        params![
            cs.proposal_id,
            cs.proposal_version,
            hash,
            cs.action,
            state.as_str(),
            cs.scope.tenant_id,
            cs.principal.id,
            cs.action,
            cs.scope.business_object,
            cs.scope.object_id,
            cs.source.kind,
            cs.source.source_id,
            cs.source.schema,
            cs.source.table,
            cs.source_database_mutated as i64,
            cs_json,
            created,
            created
        ],
    )?;
    // The proposal is new, so its chain starts at the genesis: no lookup of a last event.
    let created_event = append_event_after(
        tx,
        &chain::genesis(&cs.proposal_id),
        &cs.proposal_id,
        "proposal_created",
        &cs.principal.id,
        &proposal_created_payload(cs, &hash, &cs_json),
        now,
    )?;
    // Link the read's evidence bundle to the proposal it supports.
    if link_bundle(
        tx,
        &cs.evidence.bundle_id,
        &cs.proposal_id,
        proposal_item,
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
    insert_audit(tx, proposal_audit, stored_audit, now)?;
    // The row as inserted above, built from what was inserted instead of read back and its
    // change set parsed again on the writer thread
    // (`a_proposal_call_records_read_proposal_link_and_events_together` compares the two).
    let proposal = stored_as_inserted(cs, hash, state, created, cs_value);
    Ok(ProposalRecorded {
        proposal,
        deduplicated: false,
    })
}

/// A new proposal's row as `insert_proposal` writes it (both ledgers): what its caller is
/// answered with, without reading the row back. No trigger changes a new proposal's columns.
pub(crate) fn stored_as_inserted(
    cs: &ChangeSet,
    hash: String,
    state: State,
    created: &str,
    change_set: Value,
) -> StoredProposal {
    StoredProposal {
        proposal_id: cs.proposal_id.clone(),
        proposal_version: cs.proposal_version,
        proposal_hash: hash,
        action: cs.action.clone(),
        state: state.as_str().to_string(),
        tenant_id: cs.scope.tenant_id.clone(),
        principal: Some(cs.principal.id.clone()),
        capability: Some(cs.action.clone()),
        business_object: cs.scope.business_object.clone(),
        object_id: cs.scope.object_id.clone(),
        source_kind: cs.source.kind.clone(),
        source_id: cs.source.source_id.clone(),
        source_schema: cs.source.schema.clone(),
        source_table: cs.source.table.clone(),
        source_database_mutated: cs.source_database_mutated,
        change_set,
        created_at: created.to_string(),
        updated_at: created.to_string(),
    }
}

/// The payload of a new proposal's `proposal_created` event (both ledgers: the event's chain
/// hash covers it, and `store verify` checks `change_set_sha256` against the stored JSON).
pub(crate) fn proposal_created_payload(cs: &ChangeSet, hash: &str, cs_json: &str) -> Value {
    json!({
        "proposal_hash": hash,
        "proposal_version": cs.proposal_version,
        "source_database_mutated": cs.source_database_mutated,
        "change_set_sha256": chain::digest(cs_json),
    })
}

/// The payload of the `evidence_recorded` event when a proposal's read bundle is linked to it
/// (both ledgers).
pub(crate) fn evidence_linked_payload(cs: &ChangeSet) -> Value {
    json!({"evidence_bundle_id": cs.evidence.bundle_id, "item_count": 1})
}

/// The state a recorded change set starts in (its approval status) and its creation time (its
/// own, else `now`): both ledgers.
pub(crate) fn initial_state<'a>(cs: &'a ChangeSet, now: &'a str) -> (State, &'a str) {
    let state = match cs.approval.status.as_str() {
        "approved" => State::Approved,
        "rejected" => State::Rejected,
        "canceled" => State::Canceled,
        _ => State::PendingReview,
    };
    let created = if cs.created_at.is_empty() {
        now
    } else {
        cs.created_at.as_str()
    };
    (state, created)
}
