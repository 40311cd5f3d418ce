//! Ledger schema and migrations.
//!
//! Migrations are keyed by `PRAGMA user_version` and run once: opening an up-to-date ledger
//! costs one pragma read, whatever its size (the reference re-scanned every row on every open).

use rusqlite::Connection;

/// Each entry moves the schema from version `i` to `i + 1`. Append only; never edit a shipped
/// migration.
///
/// Evidence and query-audit rows are written on every tool call, so each B-tree they touch is a
/// page written per call: rows are appended in rowid order (cheap, sequential pages), ids are
/// plain rowids (no `AUTOINCREMENT` bookkeeping row), and only the indexes their lists and
/// joins need exist (time, proposal, evidence link). Rarer filters scan the time index.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE proposals (
  proposal_id TEXT PRIMARY KEY,
  proposal_version INTEGER NOT NULL,
  proposal_hash TEXT NOT NULL,
  action TEXT NOT NULL,
  state TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  business_object TEXT NOT NULL,
  object_id TEXT NOT NULL,
  source_kind TEXT NOT NULL,
  source_id TEXT NOT NULL,
  source_schema TEXT NOT NULL,
  source_table TEXT NOT NULL,
  source_database_mutated INTEGER NOT NULL DEFAULT 0,
  change_set_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  principal TEXT,
  capability TEXT
);
CREATE TABLE proposal_events (
  event_id INTEGER PRIMARY KEY AUTOINCREMENT,
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  payload_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE approvals (
  approval_id INTEGER PRIMARY KEY AUTOINCREMENT,
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  proposal_version INTEGER NOT NULL,
  proposal_hash TEXT NOT NULL,
  approver TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE writeback_jobs (
  writeback_job_id TEXT PRIMARY KEY,
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  proposal_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  job_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE writeback_receipts (
  receipt_id INTEGER PRIMARY KEY AUTOINCREMENT,
  writeback_job_id TEXT NOT NULL,
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  runner_id TEXT NOT NULL,
  status TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  source_database_mutated INTEGER NOT NULL,
  receipt_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (writeback_job_id, idempotency_key)
);
CREATE TABLE idempotency_receipts (
  idempotency_key TEXT PRIMARY KEY,
  writeback_job_id TEXT NOT NULL REFERENCES writeback_jobs(writeback_job_id),
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  receipt_status TEXT NOT NULL,
  receipt_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE evidence_bundles (
  evidence_bundle_id TEXT PRIMARY KEY,
  proposal_id TEXT REFERENCES proposals(proposal_id),
  tenant_id TEXT NOT NULL,
  payload_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  principal TEXT,
  capability TEXT,
  source_id TEXT,
  source_table TEXT,
  business_object TEXT,
  object_id TEXT,
  query_fingerprint TEXT
);
CREATE TABLE evidence_items (
  evidence_item_id INTEGER PRIMARY KEY,
  evidence_bundle_id TEXT NOT NULL REFERENCES evidence_bundles(evidence_bundle_id),
  item_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE query_audit (
  audit_id INTEGER PRIMARY KEY,
  proposal_id TEXT REFERENCES proposals(proposal_id),
  evidence_bundle_id TEXT REFERENCES evidence_bundles(evidence_bundle_id),
  source_id TEXT NOT NULL,
  query_fingerprint TEXT NOT NULL,
  table_name TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  payload_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  tenant_id TEXT,
  principal TEXT,
  capability TEXT,
  business_object TEXT,
  object_id TEXT,
  primary_key_value TEXT
);
CREATE TABLE replay_records (
  replay_id TEXT PRIMARY KEY,
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  payload_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE runner_state (
  key TEXT PRIMARY KEY,
  value_json TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_proposal_events_proposal_id ON proposal_events(proposal_id, event_id);
CREATE INDEX idx_proposal_events_kind_created ON proposal_events(kind, created_at);
CREATE INDEX idx_approvals_proposal_id ON approvals(proposal_id);
CREATE INDEX idx_writeback_receipts_proposal_id ON writeback_receipts(proposal_id);
CREATE INDEX idx_writeback_receipts_status_created ON writeback_receipts(status, created_at);
CREATE INDEX idx_writeback_receipts_created ON writeback_receipts(created_at);
CREATE INDEX idx_writeback_jobs_proposal_id ON writeback_jobs(proposal_id);
CREATE INDEX idx_replay_records_proposal_id ON replay_records(proposal_id);
CREATE INDEX idx_proposals_created ON proposals(created_at);
CREATE INDEX idx_proposals_tenant_created ON proposals(tenant_id, created_at);
CREATE INDEX idx_proposals_action_created ON proposals(action, created_at);
CREATE INDEX idx_proposals_principal_created ON proposals(principal, created_at);
CREATE INDEX idx_proposals_object_created ON proposals(business_object, object_id, created_at);
CREATE INDEX idx_proposals_state_created ON proposals(state, created_at);
CREATE INDEX idx_proposals_source_table_created ON proposals(source_id, source_table, created_at);
CREATE INDEX idx_evidence_bundles_created ON evidence_bundles(created_at);
CREATE INDEX idx_evidence_items_bundle_id ON evidence_items(evidence_bundle_id, evidence_item_id);
CREATE INDEX idx_evidence_bundles_proposal_id ON evidence_bundles(proposal_id);
CREATE INDEX idx_query_audit_created ON query_audit(created_at);
CREATE INDEX idx_query_audit_proposal_id ON query_audit(proposal_id);
CREATE INDEX idx_query_audit_evidence_id ON query_audit(evidence_bundle_id);
"#];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the schema up to date. Refuses a ledger written by a newer build rather than guess.
pub fn migrate(conn: &mut Connection) -> Result<(), crate::LedgerError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(crate::LedgerError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
