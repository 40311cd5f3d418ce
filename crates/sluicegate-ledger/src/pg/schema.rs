//! The PostgreSQL ledger's schema: versioned migrations recorded in `sluicegate_schema`, run
//! only by `sluicegate store migrate` ([`migrate`]), never by a server opening the ledger
//! ([`check`] refuses any version but this build's).
//!
//! The tables hold the same records as the SQLite ledger's, text for text (JSON is kept as
//! the text that was written, so digests and key order survive), with a `seq` column standing
//! in for SQLite's rowid where listings break ties in recording order. Facts are append-only
//! (triggers refuse `UPDATE` and `DELETE`), idempotency keys and job ids are unique keys, and
//! every listing has an index that serves its order.

use postgres::Client;

use crate::LedgerError;

/// Each entry moves the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE proposals (
  seq bigserial NOT NULL UNIQUE,
  proposal_id text PRIMARY KEY,
  proposal_version bigint NOT NULL,
  proposal_hash text NOT NULL,
  action text NOT NULL,
  state text NOT NULL,
  tenant_id text NOT NULL,
  business_object text NOT NULL,
  object_id text NOT NULL,
  source_kind text NOT NULL,
  source_id text NOT NULL,
  source_schema text NOT NULL,
  source_table text NOT NULL,
  source_database_mutated boolean NOT NULL DEFAULT false,
  change_set_json text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL,
  principal text,
  capability text
);
CREATE INDEX proposals_created ON proposals (created_at, seq);
CREATE INDEX proposals_tenant_created ON proposals (tenant_id, created_at, seq);
CREATE INDEX proposals_action_created ON proposals (action, created_at, seq);
CREATE INDEX proposals_principal_created ON proposals (principal, created_at, seq);
CREATE INDEX proposals_state_created ON proposals (state, created_at, seq);
CREATE INDEX proposals_source_created ON proposals (source_id, created_at, seq);
CREATE INDEX proposals_table_created ON proposals (source_table, created_at, seq);
CREATE INDEX proposals_object_type_created ON proposals (business_object, created_at, seq);
CREATE INDEX proposals_object_id_created ON proposals (object_id, created_at, seq);

CREATE TABLE proposal_events (
  event_id bigserial PRIMARY KEY,
  -- The writing transaction: the feed's order and its horizon (pg/mod.rs).
  tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  proposal_id text NOT NULL REFERENCES proposals (proposal_id),
  kind text NOT NULL,
  actor text NOT NULL,
  payload_json text NOT NULL,
  created_at text NOT NULL,
  prev_hash text NOT NULL,
  chain_hash text NOT NULL
);
CREATE INDEX proposal_events_proposal ON proposal_events (proposal_id, event_id);
CREATE INDEX proposal_events_feed ON proposal_events (tx_id, event_id);
CREATE INDEX proposal_events_kind_feed ON proposal_events (kind, tx_id, event_id);
CREATE INDEX proposal_events_actor_feed ON proposal_events (actor, tx_id, event_id);
CREATE INDEX proposal_events_proposal_feed ON proposal_events (proposal_id, tx_id, event_id);
CREATE INDEX proposal_events_created ON proposal_events (created_at);

CREATE TABLE approvals (
  approval_id bigserial PRIMARY KEY,
  proposal_id text NOT NULL REFERENCES proposals (proposal_id),
  proposal_version bigint NOT NULL,
  proposal_hash text NOT NULL,
  approver text NOT NULL,
  status text NOT NULL,
  reason text,
  created_at text NOT NULL,
  signature text,
  reviewer_key text
);
CREATE INDEX approvals_proposal ON approvals (proposal_id, approval_id);

CREATE TABLE writeback_jobs (
  seq bigserial NOT NULL UNIQUE,
  writeback_job_id text PRIMARY KEY,
  proposal_id text NOT NULL REFERENCES proposals (proposal_id),
  proposal_hash text NOT NULL,
  status text NOT NULL,
  job_json text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX writeback_jobs_proposal ON writeback_jobs (proposal_id, created_at, seq);

-- One receipt per attempt: the job id is the receipt's idempotency key in this table.
CREATE TABLE writeback_receipts (
  receipt_id bigserial PRIMARY KEY,
  writeback_job_id text NOT NULL UNIQUE,
  proposal_id text NOT NULL REFERENCES proposals (proposal_id),
  runner_id text NOT NULL,
  status text NOT NULL,
  idempotency_key text NOT NULL,
  source_database_mutated boolean NOT NULL,
  receipt_json text NOT NULL,
  created_at text NOT NULL
);
CREATE INDEX writeback_receipts_proposal ON writeback_receipts (proposal_id, receipt_id);
CREATE INDEX writeback_receipts_created ON writeback_receipts (created_at, receipt_id);
CREATE INDEX writeback_receipts_status_created ON writeback_receipts (status, created_at, receipt_id);
CREATE INDEX writeback_receipts_idempotency ON writeback_receipts (idempotency_key, created_at, receipt_id);

CREATE TABLE idempotency_receipts (
  idempotency_key text PRIMARY KEY,
  writeback_job_id text NOT NULL REFERENCES writeback_jobs (writeback_job_id),
  proposal_id text NOT NULL REFERENCES proposals (proposal_id),
  receipt_status text NOT NULL,
  receipt_json text NOT NULL,
  created_at text NOT NULL
);

CREATE TABLE evidence_bundles (
  seq bigserial NOT NULL UNIQUE,
  evidence_bundle_id text PRIMARY KEY,
  proposal_id text REFERENCES proposals (proposal_id),
  tenant_id text NOT NULL,
  payload_json text NOT NULL,
  created_at text NOT NULL,
  principal text,
  capability text,
  source_id text,
  source_table text,
  business_object text,
  object_id text,
  query_fingerprint text,
  -- `[{"created_at"?, "item"}]`, as the SQLite ledger's uncompacted items.
  items_json text NOT NULL
);
CREATE INDEX evidence_bundles_proposal ON evidence_bundles (proposal_id, seq) WHERE proposal_id IS NOT NULL;
CREATE INDEX evidence_bundles_created ON evidence_bundles (created_at, seq);
CREATE INDEX evidence_bundles_tenant ON evidence_bundles (tenant_id, seq);
CREATE INDEX evidence_bundles_principal ON evidence_bundles (principal, seq);
CREATE INDEX evidence_bundles_capability ON evidence_bundles (capability, seq);
CREATE INDEX evidence_bundles_object_id ON evidence_bundles (object_id, seq);

CREATE TABLE query_audit (
  audit_id bigserial PRIMARY KEY,
  proposal_id text REFERENCES proposals (proposal_id),
  evidence_bundle_id text REFERENCES evidence_bundles (evidence_bundle_id),
  source_id text NOT NULL,
  query_fingerprint text NOT NULL,
  table_name text NOT NULL,
  row_count bigint NOT NULL,
  payload_json text NOT NULL,
  created_at text NOT NULL,
  tenant_id text,
  principal text,
  capability text,
  business_object text,
  object_id text,
  primary_key_value text
);
CREATE INDEX query_audit_proposal ON query_audit (proposal_id, audit_id) WHERE proposal_id IS NOT NULL;
CREATE INDEX query_audit_bundle ON query_audit (evidence_bundle_id, audit_id) WHERE evidence_bundle_id IS NOT NULL;
CREATE INDEX query_audit_tenant ON query_audit (tenant_id, audit_id);
CREATE INDEX query_audit_created ON query_audit (created_at);

CREATE TABLE replay_records (
  replay_id text PRIMARY KEY,
  proposal_id text NOT NULL REFERENCES proposals (proposal_id),
  payload_json text NOT NULL,
  created_at text NOT NULL
);

CREATE FUNCTION sluicegate_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE ON approvals
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('decisions are append-only');
CREATE TRIGGER proposal_events_append_only BEFORE UPDATE OR DELETE ON proposal_events
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('events are append-only');
CREATE TRIGGER writeback_receipts_append_only BEFORE UPDATE OR DELETE ON writeback_receipts
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('receipts are append-only');
CREATE TRIGGER proposals_kept BEFORE DELETE ON proposals
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('proposals are kept');
CREATE TRIGGER proposals_content_fixed BEFORE UPDATE OF proposal_id, proposal_version,
  proposal_hash, action, tenant_id, business_object, object_id, source_kind, source_id,
  source_schema, source_table, change_set_json, created_at, principal, capability ON proposals
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('a recorded proposal never changes');
CREATE TRIGGER writeback_jobs_kept BEFORE DELETE ON writeback_jobs
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('writeback jobs are kept');
CREATE TRIGGER writeback_jobs_content_fixed BEFORE UPDATE OF writeback_job_id, proposal_id,
  proposal_hash, job_json, created_at ON writeback_jobs
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('a recorded writeback job never changes');
"#,
    super::claims::MIGRATION,
    super::search::MIGRATION,
    super::webhook::MIGRATION,
];

/// The schema version this build reads and writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The ledger's schema version: 0 for a database no migration has touched.
fn version(client: &mut Client) -> Result<i64, LedgerError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('sluicegate_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM sluicegate_schema",
            &[],
        )?
        .get(0))
}

/// Refuse a ledger whose schema is not this build's: an older one waits for `store migrate`
/// (servers never migrate a ledger others share), a newer one for a newer sluicegate.
pub(crate) fn check(client: &mut Client) -> Result<(), LedgerError> {
    let found = version(client)?;
    if found < SCHEMA_VERSION {
        return Err(LedgerError::SchemaOutdated {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Apply every migration the ledger lacks, each in its own transaction with its version row;
/// returns the versions before and after. Two operators migrating at once take turns on a
/// transaction-level advisory lock (only here: no ledger operation takes it).
pub(crate) fn migrate(client: &mut Client) -> Result<(i64, i64), LedgerError> {
    migrate_to(client, SCHEMA_VERSION)
}

/// [`migrate`], stopping at version `target` (tests build older ledgers with it).
pub(crate) fn migrate_to(client: &mut Client, target: i64) -> Result<(i64, i64), LedgerError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS sluicegate_schema (
           version bigint PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )?;
    let before = version(client)?;
    if before > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            found: before,
            supported: SCHEMA_VERSION,
        });
    }
    loop {
        let mut tx = client.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('sluicegate_schema'))",
            &[],
        )?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM sluicegate_schema",
                &[],
            )?
            .get(0);
        let Some(sql) = usize::try_from(current)
            .ok()
            .filter(|_| current < target)
            .and_then(|i| MIGRATIONS.get(i))
        else {
            tx.rollback()?;
            return Ok((before, current));
        };
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO sluicegate_schema (version) VALUES ($1)",
            &[&(current + 1)],
        )?;
        tx.commit()?;
    }
}
