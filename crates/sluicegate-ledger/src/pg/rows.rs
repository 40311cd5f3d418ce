//! PostgreSQL rows as the ledger's views (the same structs the SQLite rows become).

use postgres::Row;
use sluicegate_core::decision::{DecisionRecord, Verdict};

use crate::LedgerError;
use crate::views::{
    StoredEvent, StoredEvidence, StoredJob, StoredProposal, StoredQueryAudit, StoredReceipt, parse,
};

pub(crate) const PROPOSAL: &str = "proposal_id, proposal_version, proposal_hash, action, state, tenant_id, principal, capability, business_object, object_id, source_kind, source_id, source_schema, source_table, source_database_mutated, change_set_json, created_at, updated_at";

pub(crate) fn proposal(row: &Row) -> Result<StoredProposal, LedgerError> {
    let version: i64 = row.try_get(1)?;
    Ok(StoredProposal {
        proposal_id: row.try_get(0)?,
        proposal_version: u32::try_from(version)
            .map_err(|_| LedgerError::Corrupt(format!("proposal version {version}")))?,
        proposal_hash: row.try_get(2)?,
        action: row.try_get(3)?,
        state: row.try_get(4)?,
        tenant_id: row.try_get(5)?,
        principal: row.try_get(6)?,
        capability: row.try_get(7)?,
        business_object: row.try_get(8)?,
        object_id: row.try_get(9)?,
        source_kind: row.try_get(10)?,
        source_id: row.try_get(11)?,
        source_schema: row.try_get(12)?,
        source_table: row.try_get(13)?,
        source_database_mutated: row.try_get(14)?,
        change_set: serde_json::from_str(row.try_get(15)?).unwrap_or(serde_json::Value::Null),
        created_at: row.try_get(16)?,
        updated_at: row.try_get(17)?,
    })
}

pub(crate) const EVENT: &str =
    "event_id, proposal_id, kind, actor, payload_json, created_at, prev_hash, chain_hash";

pub(crate) fn event(row: &Row) -> Result<StoredEvent, LedgerError> {
    Ok(StoredEvent {
        event_id: row.try_get(0)?,
        proposal_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        actor: row.try_get(3)?,
        payload: parse(row.try_get(4)?),
        created_at: row.try_get(5)?,
        prev_hash: row.try_get(6)?,
        chain_hash: row.try_get(7)?,
    })
}

pub(crate) const JOB: &str =
    "writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at";

pub(crate) fn job(row: &Row) -> Result<StoredJob, LedgerError> {
    Ok(StoredJob {
        writeback_job_id: row.try_get(0)?,
        proposal_id: row.try_get(1)?,
        proposal_hash: row.try_get(2)?,
        status: row.try_get(3)?,
        job: parse(row.try_get(4)?),
        created_at: row.try_get(5)?,
        updated_at: row.try_get(6)?,
    })
}

pub(crate) const RECEIPT: &str = "receipt_id, writeback_job_id, proposal_id, runner_id, status, idempotency_key, source_database_mutated, receipt_json, created_at";

pub(crate) fn receipt(row: &Row) -> Result<StoredReceipt, LedgerError> {
    Ok(StoredReceipt {
        receipt_id: row.try_get(0)?,
        writeback_job_id: row.try_get(1)?,
        proposal_id: row.try_get(2)?,
        runner_id: row.try_get(3)?,
        status: row.try_get(4)?,
        idempotency_key: row.try_get(5)?,
        source_database_mutated: row.try_get(6)?,
        receipt: parse(row.try_get(7)?),
        created_at: row.try_get(8)?,
    })
}

pub(crate) const AUDIT: &str = "audit_id, proposal_id, evidence_bundle_id, tenant_id, principal, capability, business_object, object_id, primary_key_value, source_id, query_fingerprint, table_name, row_count, payload_json, created_at";

/// A query-audit row (payloads are kept whole on PostgreSQL: nothing to restore).
pub(crate) fn audit(row: &Row) -> Result<StoredQueryAudit, LedgerError> {
    Ok(StoredQueryAudit {
        audit_id: row.try_get(0)?,
        proposal_id: row.try_get(1)?,
        evidence_bundle_id: row.try_get(2)?,
        tenant_id: row.try_get(3)?,
        principal: row.try_get(4)?,
        capability: row.try_get(5)?,
        business_object: row.try_get(6)?,
        object_id: row.try_get(7)?,
        primary_key_value: row.try_get(8)?,
        source_id: row.try_get(9)?,
        query_fingerprint: row.try_get(10)?,
        table_name: row.try_get(11)?,
        row_count: row.try_get(12)?,
        payload: parse(row.try_get(13)?),
        created_at: row.try_get(14)?,
    })
}

pub(crate) const EVIDENCE: &str = "evidence_bundle_id, proposal_id, tenant_id, principal, capability, source_id, source_table, business_object, object_id, query_fingerprint, payload_json, created_at, items_json";

/// A bundle row (`EVIDENCE`); its items only when `with_items`.
pub(crate) fn evidence(row: &Row, with_items: bool) -> Result<StoredEvidence, LedgerError> {
    let mut bundle = StoredEvidence {
        evidence_bundle_id: row.try_get(0)?,
        proposal_id: row.try_get(1)?,
        tenant_id: row.try_get(2)?,
        principal: row.try_get(3)?,
        capability: row.try_get(4)?,
        source_id: row.try_get(5)?,
        source_table: row.try_get(6)?,
        business_object: row.try_get(7)?,
        object_id: row.try_get(8)?,
        query_fingerprint: row.try_get(9)?,
        payload: parse(row.try_get(10)?),
        items: Vec::new(),
        query_audit: Vec::new(),
        created_at: row.try_get(11)?,
    };
    if with_items {
        bundle.items = bundle.items_from(parse(row.try_get(12)?));
    }
    Ok(bundle)
}

pub(crate) const DECISION: &str = "proposal_id, proposal_version, proposal_hash, status, approver, reason, created_at, signature, reviewer_key";

pub(crate) fn decision(row: &Row) -> Result<DecisionRecord, LedgerError> {
    let status: String = row.try_get(3)?;
    let Some(verdict) = Verdict::from_status(&status) else {
        return Err(LedgerError::Corrupt(format!(
            "decision status {status:?} is neither approved nor rejected"
        )));
    };
    let version: i64 = row.try_get(1)?;
    Ok(DecisionRecord {
        proposal_id: row.try_get(0)?,
        proposal_version: u32::try_from(version)
            .map_err(|_| LedgerError::Corrupt(format!("decision version {version}")))?,
        content_hash: row.try_get(2)?,
        verdict,
        reviewer: row.try_get(4)?,
        reason: row.try_get(5)?,
        decided_at: row.try_get(6)?,
        signature: row.try_get(7)?,
        reviewer_key: row.try_get(8)?,
    })
}

/// Every row of a query, converted.
pub(crate) fn all<T>(
    rows: Vec<Row>,
    convert: impl Fn(&Row) -> Result<T, LedgerError>,
) -> Result<Vec<T>, LedgerError> {
    rows.iter().map(convert).collect()
}
