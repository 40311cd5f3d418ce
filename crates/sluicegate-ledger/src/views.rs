//! The JSON views of ledger records, in the field order `--json` output and replay use.

use rusqlite::Row;
use rusqlite::types::ValueRef;
use serde::Serialize;
use serde_json::Value;
use sluicegate_core::lifecycle::State;
use sluicegate_protocol::ChangeSet;

use crate::LedgerError;
use crate::compact;

#[derive(Debug, Clone, Serialize)]
pub struct StoredProposal {
    pub proposal_id: String,
    pub proposal_version: u32,
    pub proposal_hash: String,
    pub action: String,
    pub state: String,
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    pub business_object: String,
    pub object_id: String,
    pub source_kind: String,
    pub source_id: String,
    pub source_schema: String,
    pub source_table: String,
    pub source_database_mutated: bool,
    pub change_set: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl StoredProposal {
    pub(crate) const COLUMNS: &'static str = "proposal_id, proposal_version, proposal_hash, action, state, tenant_id, principal, capability, business_object, object_id, source_kind, source_id, source_schema, source_table, source_database_mutated, change_set_json, created_at, updated_at";

    /// A row as stored, whatever an edit of the file left in it: text that is not UTF-8 is
    /// read with replacement characters, a version out of range as `u32::MAX`, a change set
    /// that does not parse as `null`. So one edited row never takes a listing, the inbox or
    /// `store verify` down, and `store verify` (which compares every column with the change
    /// set, and the change set with its hash) reports it.
    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<StoredProposal> {
        let text = |i: usize| lossy_text(row, i).map(Option::unwrap_or_default);
        Ok(StoredProposal {
            proposal_id: text(0)?,
            proposal_version: match row.get_ref(1)? {
                ValueRef::Integer(v) => u32::try_from(v).unwrap_or(u32::MAX),
                _ => u32::MAX,
            },
            proposal_hash: text(2)?,
            action: text(3)?,
            state: text(4)?,
            tenant_id: text(5)?,
            principal: lossy_text(row, 6)?,
            capability: lossy_text(row, 7)?,
            business_object: text(8)?,
            object_id: text(9)?,
            source_kind: text(10)?,
            source_id: text(11)?,
            source_schema: text(12)?,
            source_table: text(13)?,
            source_database_mutated: !matches!(row.get_ref(14)?, ValueRef::Integer(0)),
            change_set: serde_json::from_str(&text(15)?).unwrap_or(Value::Null),
            created_at: text(16)?,
            updated_at: text(17)?,
        })
    }

    /// The typed change set exactly as approved.
    pub fn change_set(&self) -> Result<ChangeSet, LedgerError> {
        Ok(serde_json::from_value(self.change_set.clone())?)
    }

    pub fn state(&self) -> Result<State, LedgerError> {
        State::parse(&self.state)
            .ok_or_else(|| LedgerError::Corrupt(format!("unknown proposal state {}", self.state)))
    }
}

/// Column `i` as text (`None` for NULL), read lossily when it is not UTF-8 or not text.
fn lossy_text(row: &Row, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Integer(v) => Some(v.to_string()),
        ValueRef::Real(v) => Some(v.to_string()),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub event_id: i64,
    pub proposal_id: String,
    pub kind: String,
    pub actor: String,
    pub payload: Value,
    pub created_at: String,
    /// The hash chain (`core::chain`): the previous event's hash (or the proposal's genesis)
    /// and this event's, so an exported replay can be verified by anyone.
    pub prev_hash: String,
    pub chain_hash: String,
}

impl StoredEvent {
    pub(crate) const COLUMNS: &'static str =
        "event_id, proposal_id, kind, actor, payload_json, created_at, prev_hash, chain_hash";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<StoredEvent> {
        Ok(StoredEvent {
            event_id: row.get(0)?,
            proposal_id: row.get(1)?,
            kind: row.get(2)?,
            actor: row.get(3)?,
            payload: parse(row.get::<_, String>(4)?),
            created_at: row.get(5)?,
            prev_hash: row.get(6)?,
            chain_hash: row.get(7)?,
        })
    }
}

/// A recorded writeback job (direct SQL or app-owned handler).
#[derive(Debug, Clone, Serialize)]
pub struct StoredJob {
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub proposal_hash: String,
    /// `pending_worker` until a receipt for this job is recorded, then the receipt's status.
    pub status: String,
    pub job: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl StoredJob {
    pub(crate) const COLUMNS: &'static str =
        "writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<StoredJob> {
        Ok(StoredJob {
            writeback_job_id: row.get(0)?,
            proposal_id: row.get(1)?,
            proposal_hash: row.get(2)?,
            status: row.get(3)?,
            job: parse(row.get::<_, String>(4)?),
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredReceipt {
    pub receipt_id: i64,
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub runner_id: String,
    pub status: String,
    pub idempotency_key: String,
    pub source_database_mutated: bool,
    pub receipt: Value,
    pub created_at: String,
}

impl StoredReceipt {
    pub(crate) const COLUMNS: &'static str = "receipt_id, writeback_job_id, proposal_id, runner_id, status, idempotency_key, source_database_mutated, receipt_json, created_at";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<StoredReceipt> {
        Ok(StoredReceipt {
            receipt_id: row.get(0)?,
            writeback_job_id: row.get(1)?,
            proposal_id: row.get(2)?,
            runner_id: row.get(3)?,
            status: row.get(4)?,
            idempotency_key: row.get(5)?,
            source_database_mutated: row.get::<_, i64>(6)? != 0,
            receipt: parse(row.get::<_, String>(7)?),
            created_at: row.get(8)?,
        })
    }

    /// Display id: `rct_000001`.
    pub fn display_id(&self) -> String {
        format!("rct_{:06}", self.receipt_id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredQueryAudit {
    pub audit_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_bundle_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_key_value: Option<String>,
    pub source_id: String,
    pub query_fingerprint: String,
    pub table_name: String,
    pub row_count: i64,
    pub payload: Value,
    pub created_at: String,
}

impl StoredQueryAudit {
    /// The last column is the statement template kept for a compacted payload (`compact.rs`).
    pub(crate) const COLUMNS: &'static str = "audit_id, proposal_id, evidence_bundle_id, tenant_id, principal, capability, business_object, object_id, primary_key_value, source_id, query_fingerprint, table_name, row_count, payload_json, created_at, CASE WHEN substr(payload_json, 1, 5) = '{\"~\":' THEN (SELECT statement_template FROM query_shapes WHERE query_shapes.query_fingerprint = query_audit.query_fingerprint) END";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<StoredQueryAudit> {
        let capability: Option<String> = row.get(5)?;
        let template: Option<String> = row.get(15)?;
        let payload = compact::restore_audit(
            parse(row.get::<_, String>(13)?),
            capability.as_deref(),
            template.as_deref(),
        );
        Ok(StoredQueryAudit {
            audit_id: row.get(0)?,
            proposal_id: row.get(1)?,
            evidence_bundle_id: row.get(2)?,
            tenant_id: row.get(3)?,
            principal: row.get(4)?,
            capability,
            business_object: row.get(6)?,
            object_id: row.get(7)?,
            primary_key_value: row.get(8)?,
            source_id: row.get(9)?,
            query_fingerprint: row.get(10)?,
            table_name: row.get(11)?,
            row_count: row.get(12)?,
            payload,
            created_at: row.get(14)?,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredEvidenceItem {
    pub evidence_item_id: i64,
    pub evidence_bundle_id: String,
    pub item: Value,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredEvidence {
    pub evidence_bundle_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_fingerprint: Option<String>,
    pub payload: Value,
    pub items: Vec<StoredEvidenceItem>,
    pub query_audit: Vec<StoredQueryAudit>,
    pub created_at: String,
}

impl StoredEvidence {
    pub(crate) const COLUMNS: &'static str = "evidence_bundle_id, proposal_id, tenant_id, principal, capability, source_id, source_table, business_object, object_id, query_fingerprint, payload_json, created_at";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<StoredEvidence> {
        let tenant_id: String = row.get(2)?;
        let (principal, capability, source_id, source_table): (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = (row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?);
        let payload = compact::restore_bundle(
            parse(row.get::<_, String>(10)?),
            [
                capability.as_deref(),
                source_id.as_deref(),
                source_table.as_deref(),
                principal.as_deref(),
                Some(tenant_id.as_str()),
            ],
        );
        Ok(StoredEvidence {
            evidence_bundle_id: row.get(0)?,
            proposal_id: row.get(1)?,
            tenant_id,
            principal,
            capability,
            source_id,
            source_table,
            business_object: row.get(7)?,
            object_id: row.get(8)?,
            query_fingerprint: row.get(9)?,
            payload,
            items: Vec::new(),
            query_audit: Vec::new(),
            created_at: row.get(11)?,
        })
    }

    /// [`StoredEvidence::from_row`] for `COLUMNS, items_json`: the bundle with its items.
    pub(crate) fn from_row_with_items(row: &Row) -> rusqlite::Result<StoredEvidence> {
        let mut bundle = StoredEvidence::from_row(row)?;
        bundle.items = bundle.items_from(parse(row.get::<_, String>(12)?));
        Ok(bundle)
    }

    /// This bundle's items from their stored form (`items_json`, shared by both engines).
    pub(crate) fn items_from(&self, stored: Value) -> Vec<StoredEvidenceItem> {
        let bundle = self;
        let stored = match stored {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let columns = compact::ItemColumns {
            source_id: bundle.source_id.as_deref(),
            table: bundle.source_table.as_deref(),
            object_id: bundle.object_id.as_deref(),
            tenant_id: &bundle.tenant_id,
        };
        // Items are numbered from 1 within their bundle, in the order they were recorded.
        stored
            .into_iter()
            .zip(1..)
            .map(|(mut stored, n)| {
                // A bare compacted item (recorded with the bundle, so at its time), or
                // `{"created_at"?, "item"}`.
                let (item, created_at) = if compact::is_marked(&stored) {
                    (
                        compact::restore_item(stored, &columns),
                        bundle.created_at.clone(),
                    )
                } else {
                    let at = stored
                        .get("created_at")
                        .and_then(Value::as_str)
                        .unwrap_or(&bundle.created_at)
                        .to_string();
                    (
                        stored.get_mut("item").map(Value::take).unwrap_or_default(),
                        at,
                    )
                };
                StoredEvidenceItem {
                    evidence_item_id: n,
                    evidence_bundle_id: bundle.evidence_bundle_id.clone(),
                    // A wrapped item is kept exactly as it came.
                    item,
                    created_at,
                }
            })
            .collect()
    }
}

/// Counts and size, for `store stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub path: String,
    pub proposals: i64,
    pub evidence_bundles: i64,
    pub evidence_items: i64,
    pub query_audit: i64,
    pub writeback_receipts: i64,
    pub writeback_jobs: i64,
    pub idempotency_receipts: i64,
    pub replay_records: i64,
    pub approvals: i64,
    pub proposal_events: i64,
    pub shadow_human_actions: i64,
    pub page_count: i64,
    pub page_size: i64,
    pub approx_bytes: i64,
    /// The WAL file's size now (commits not yet folded back into the main file).
    pub wal_bytes: u64,
    /// Main-file bytes per recorded tool call (one evidence bundle per call); 0 when empty.
    pub bytes_per_call: i64,
}

pub(crate) fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}
