//! Ledger schema and migrations.
//!
//! Migrations are keyed by `PRAGMA user_version` and run once: opening an up-to-date ledger
//! costs one pragma read, whatever its size (the reference re-scanned every row on every open).

use rusqlite::Connection;
use sluicegate_core::chain;

/// Each entry moves the schema from version `i` to `i + 1`. Append only; never edit a shipped
/// migration.
///
/// Evidence and query-audit rows are written on every tool call, and each B-tree a call touches
/// is one more WAL frame (two `pwrite`s) on the call path. So since version 3 a read touches
/// three: the bundle row (appended in rowid order) with its id index, and the audit row (rowid).
/// A bundle carries its evidence items (`items_json`, an array of `{created_at, item}`; the
/// reference kept them in a table of their own) and the ids of the audit records that name it
/// (`query_audit_ids`, instead of an index on `query_audit.evidence_bundle_id`). Lists walk
/// rowid order instead of a `created_at` index (rows are appended in recording order), and the
/// proposal links are partial indexes that reads, which have no proposal, never touch.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
DROP INDEX idx_evidence_bundles_created;
DROP INDEX idx_query_audit_created;
DROP INDEX idx_evidence_bundles_proposal_id;
DROP INDEX idx_query_audit_proposal_id;
CREATE INDEX idx_evidence_bundles_proposal_id ON evidence_bundles(proposal_id) WHERE proposal_id IS NOT NULL;
CREATE INDEX idx_query_audit_proposal_id ON query_audit(proposal_id) WHERE proposal_id IS NOT NULL;
ALTER TABLE evidence_bundles ADD COLUMN items_json TEXT NOT NULL DEFAULT '[]';
UPDATE evidence_bundles SET items_json = (
  SELECT json_group_array(json_object('created_at', i.created_at, 'item', json(i.item_json)))
  FROM (SELECT created_at, item_json FROM evidence_items
        WHERE evidence_bundle_id = evidence_bundles.evidence_bundle_id
        ORDER BY evidence_item_id) AS i
);
DROP TABLE evidence_items;
"#,
    // Version 3: a bundle lists the query-audit records that name it, so recording a read no
    // longer inserts into an index keyed by a random evidence id (one B-tree page, so one WAL
    // frame, less per read). The index serves the backfill and goes last.
    r#"
ALTER TABLE evidence_bundles ADD COLUMN query_audit_ids TEXT NOT NULL DEFAULT '[]';
UPDATE evidence_bundles SET query_audit_ids = (
  SELECT json_group_array(a.audit_id)
  FROM (SELECT audit_id FROM query_audit
        WHERE evidence_bundle_id = evidence_bundles.evidence_bundle_id
        ORDER BY audit_id) AS a
);
DROP INDEX idx_query_audit_evidence_id;
"#,
    // Version 4: decisions carry their signature, every event links into its proposal's hash
    // chain (backfilled by `backfill_chains`), and fact tables refuse updates and deletes.
    r#"
ALTER TABLE approvals ADD COLUMN signature TEXT;
ALTER TABLE approvals ADD COLUMN reviewer_key TEXT;
ALTER TABLE proposal_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE proposal_events ADD COLUMN chain_hash TEXT NOT NULL DEFAULT '';
"#,
    // Version 5: every filter of `proposals list` and `receipts list` has an index to search
    // (`plan_tests` asserts the query plans). `--object type:id` and `--table` used to scan
    // every proposal: the type matches a business object or a table name (an OR no index
    // serves), and the object index led with the type.
    r#"
CREATE INDEX idx_proposals_object_id_created ON proposals(object_id, created_at);
CREATE INDEX idx_proposals_table_created ON proposals(source_table, created_at);
CREATE INDEX idx_writeback_receipts_idempotency ON writeback_receipts(idempotency_key);
"#,
    // Version 6: a query's statement template is kept once per fingerprint instead of in every
    // audit record (`compact.rs`); older records keep their full payloads and read as before.
    r#"
CREATE TABLE query_shapes (
  query_fingerprint TEXT PRIMARY KEY,
  statement_template TEXT NOT NULL
) WITHOUT ROWID;
"#,
    // Version 7: `proposals list --source` searches (source_id, created_at) instead of sorting
    // every proposal of the source; `evidence list` by tenant, principal, object and time
    // searches an index (a newest-first walk found a rare value only after reading every
    // bundle: 34–71 ms at 100,000 calls). Each index is one more B-tree page per new bundle,
    // so the rarer filters (capability, source, table, fingerprint) still walk newest first;
    // docs/performance.md has the measured trade-off.
    r#"
CREATE INDEX idx_proposals_source_created ON proposals(source_id, created_at);
CREATE INDEX idx_evidence_bundles_tenant ON evidence_bundles(tenant_id);
CREATE INDEX idx_evidence_bundles_principal ON evidence_bundles(principal);
CREATE INDEX idx_evidence_bundles_object_id ON evidence_bundles(object_id);
CREATE INDEX idx_evidence_bundles_created ON evidence_bundles(created_at);
"#,
    // Version 8: every `evidence list` filter is searched through one side table,
    // `evidence_keys`, which the writer fills in batches off the call path
    // (`evidence_keys.rs`). Version 7's four indexes cost each recorded read four more
    // B-tree pages (about 30 µs for a lone caller); they go, and the rarer filters
    // (capability, source, table, fingerprint) are indexed too. The backfill indexes every
    // bundle already recorded.
    r#"
DROP INDEX idx_evidence_bundles_tenant;
DROP INDEX idx_evidence_bundles_principal;
DROP INDEX idx_evidence_bundles_object_id;
DROP INDEX idx_evidence_bundles_created;
CREATE TABLE evidence_keys (
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  bundle_rowid INTEGER NOT NULL,
  PRIMARY KEY (kind, value, bundle_rowid)
) WITHOUT ROWID;
"#,
    // Version 9, shadow mode (store.md §3.8): what a person did by hand about a shadow proposal. Each
    // action is a fact (append-only, like decisions) and its event carries its digest.
    r#"
CREATE TABLE shadow_human_actions (
  action_id INTEGER PRIMARY KEY AUTOINCREMENT,
  proposal_id TEXT NOT NULL REFERENCES proposals(proposal_id),
  actor TEXT NOT NULL,
  patch_json TEXT NOT NULL,
  notes TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_shadow_human_actions_proposal_id ON shadow_human_actions(proposal_id, action_id);
CREATE INDEX idx_proposals_shadow_created ON proposals(created_at)
  WHERE json_extract(change_set_json, '$.mode') = 'shadow';
CREATE TRIGGER shadow_human_actions_no_update BEFORE UPDATE ON shadow_human_actions
  BEGIN SELECT RAISE(ABORT, 'human actions are append-only'); END;
CREATE TRIGGER shadow_human_actions_no_delete BEFORE DELETE ON shadow_human_actions
  BEGIN SELECT RAISE(ABORT, 'human actions are append-only'); END;
"#,
    // Version 10, the review inbox (`inbox.rs`): "pending first" walks the decided proposals on a partial
    // index of their own (no skipping over pending ones), and the text search walks a
    // contentless full-text index of what a reviewer searches by. The search index is filled
    // by the searches themselves (`Ledger::index_for_search`, proposals past its largest
    // rowid), never on the write path, and not here: this migration is O(1).
    r#"
CREATE INDEX idx_proposals_decided_created ON proposals(created_at) WHERE state <> 'pending_review';
CREATE VIRTUAL TABLE proposal_search USING fts5(body, content='', tokenize='unicode61');
"#,
    // Version 11 (`feed.rs`, `activity.rs`): the event feed is read by `event_id` (tail,
    // follow, webhooks) under a kind, actor or time filter, so each has an index ending in
    // the event id; a webhook's durable cursor and its dead letters; the query-audit records
    // that belong to neither a bundle nor a proposal (shown by `activity search` on their own)
    // in a partial index reads never touch; and the free-text index of proposals (capability,
    // target, principal, reasons), kept by triggers so no write path changes.
    crate::feed::MIGRATION,
    // Version 12 (`counts.rs`): row counts up to a mark the writer moves in its lulls, so
    // `store stats` does not count every row (and recording pays nothing for it).
    crate::counts::MIGRATION,
    // Version 13 (`search.rs`): one full-text index of proposals for the inbox and `activity
    // search --text`, filled by the searches themselves instead of schema 11's triggers.
    crate::search::MIGRATION,
    // Version 14, bytes per call (issue: ≤ 2 KB): indexes another one already serves. Events
    // by kind walk `(kind)` in event-id order (the order every listing uses); proposals by
    // source and table walk `(source_table, created_at)`, by object `(object_id,
    // created_at)`, each checking the other column on the row (`plan_tests` still asserts an
    // index search for every filter). Time keys of evidence become sparse (`evidence_keys`).
    r#"
DROP INDEX idx_proposal_events_kind_created;
DROP INDEX idx_proposals_source_table_created;
DROP INDEX idx_proposals_object_created;
"#,
    // Version 15 (`claims.rs`): the work queue of `sluicegate worker` (claims with a lease and a fencing
    // token, retries, dead letters).
    crate::claims::MIGRATION,
    // Version 16 (`links.rs`): a proposal's events, bundle and audit records link to it by its
    // recording-order `seq`, so their link indexes are appended to, not written at random.
    crate::links::MIGRATION,
];

/// Run after the migration to `version` has applied its SQL, in the same transaction.
fn after(version: usize, tx: &rusqlite::Transaction<'_>) -> Result<(), crate::LedgerError> {
    if version == 4 {
        backfill_chains(tx)?;
        tx.execute_batch(FACT_TABLE_GUARDS)?;
    }
    if version == 8 {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        while crate::evidence_keys::index_batch(tx, &now, crate::evidence_keys::FULL_BATCH)? > 0 {}
    }
    if version == 12 {
        crate::counts::recount(tx)?;
    }
    Ok(())
}

/// Facts are appended, never changed. These triggers stop an accidental `UPDATE` or `DELETE`
/// (a hand-run statement, a buggy tool); they are no defence against someone who can rewrite
/// the file, which is what the hash chain and decision signatures are for. Only a proposal's
/// projection (`state`, `updated_at`, `source_database_mutated`) and a job's status move.
const FACT_TABLE_GUARDS: &str = r#"
CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
  BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
  BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER proposal_events_no_update BEFORE UPDATE ON proposal_events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER proposal_events_no_delete BEFORE DELETE ON proposal_events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER writeback_receipts_no_update BEFORE UPDATE ON writeback_receipts
  BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER writeback_receipts_no_delete BEFORE DELETE ON writeback_receipts
  BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER proposals_no_delete BEFORE DELETE ON proposals
  BEGIN SELECT RAISE(ABORT, 'proposals are kept'); END;
CREATE TRIGGER proposals_content_fixed BEFORE UPDATE OF proposal_id, proposal_version,
  proposal_hash, action, tenant_id, business_object, object_id, source_kind, source_id,
  source_schema, source_table, change_set_json, created_at, principal, capability ON proposals
  BEGIN SELECT RAISE(ABORT, 'a recorded proposal never changes'); END;
CREATE TRIGGER writeback_jobs_no_delete BEFORE DELETE ON writeback_jobs
  BEGIN SELECT RAISE(ABORT, 'writeback jobs are kept'); END;
CREATE TRIGGER writeback_jobs_content_fixed BEFORE UPDATE OF writeback_job_id, proposal_id,
  proposal_hash, job_json, created_at ON writeback_jobs
  BEGIN SELECT RAISE(ABORT, 'a recorded writeback job never changes'); END;
"#;

/// Link every existing event into its proposal's chain, in recording order.
fn backfill_chains(tx: &rusqlite::Transaction<'_>) -> Result<(), crate::LedgerError> {
    let mut rows = Vec::new();
    {
        let mut stmt = tx.prepare(
            "SELECT event_id, proposal_id, kind, actor, payload_json, created_at FROM proposal_events ORDER BY proposal_id, event_id",
        )?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            rows.push((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ));
        }
    }
    let mut prev = (String::new(), String::new());
    for (event_id, proposal_id, kind, actor, payload, created_at) in rows {
        if prev.0 != proposal_id {
            prev = (proposal_id.clone(), chain::genesis(&proposal_id));
        }
        let payload: serde_json::Value = serde_json::from_str(&payload)?;
        let hash = chain::link(&prev.1, &kind, &actor, &payload, &created_at);
        tx.execute(
            "UPDATE proposal_events SET prev_hash = ?2, chain_hash = ?3 WHERE event_id = ?1",
            rusqlite::params![event_id, prev.1, hash],
        )?;
        prev.1 = hash;
    }
    Ok(())
}

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
        after(i + 1, &tx)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A ledger written by version 1 keeps every evidence item, in order, when its items move
    /// into their bundles.
    #[test]
    fn version_2_moves_evidence_items_into_their_bundles() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_ledger(
            dir.path(),
            1,
            r#"INSERT INTO evidence_bundles (evidence_bundle_id, tenant_id, payload_json, created_at)
                     VALUES ('ev_a', 'acme', '{}', '2026-01-01T00:00:00.000Z'),
                            ('ev_b', 'acme', '{}', '2026-01-01T00:00:01.000Z');
                   INSERT INTO evidence_items (evidence_bundle_id, item_json, created_at)
                     VALUES ('ev_a', '{"kind":"external_row","n":12345678901234567890}', '2026-01-01T00:00:00.000Z'),
                            ('ev_a', '{"kind":"proposal_evidence"}', '2026-01-01T00:00:02.000Z');"#,
        );
        let ledger = crate::Ledger::open(&path).unwrap();
        let a = ledger.evidence("ev_a").unwrap();
        let kinds: Vec<_> = a.items.iter().map(|i| i.item["kind"].clone()).collect();
        assert_eq!(kinds, ["external_row", "proposal_evidence"]);
        assert_eq!(
            a.items
                .iter()
                .map(|i| i.evidence_item_id)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(a.items[1].created_at, "2026-01-01T00:00:02.000Z");
        assert_eq!(
            a.items[0].item["n"].to_string(),
            "12345678901234567890",
            "numbers keep their digits"
        );
        assert!(ledger.evidence("ev_b").unwrap().items.is_empty());
        assert_eq!(ledger.stats().unwrap().evidence_items, 2);
        assert!(!has_object(&path, "evidence_items"));
    }

    /// A ledger file in `dir` as schema `version` left it (its migrations and nothing later),
    /// with `seed` applied.
    pub(crate) fn old_ledger(
        dir: &std::path::Path,
        version: usize,
        seed: &str,
    ) -> std::path::PathBuf {
        let path = dir.join(format!("v{version}.db"));
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn.execute_batch(seed).unwrap();
        path
    }

    /// Whether the schema of the ledger at `path` still has a table or index called `name`.
    fn has_object(path: &std::path::Path, name: &str) -> bool {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            > 0
    }

    /// The proposals a ledger kept before the search index existed are found by the first
    /// search (a change set that does not parse is indexed without its values).
    /// Version 8 indexes every bundle already recorded, so the searches through the side
    /// index find the old bundles too.
    #[test]
    fn version_8_indexes_the_bundles_already_kept() {
        let dir = tempfile::tempdir().unwrap();
        let seed: String = (0..40)
            .map(|i| {
                format!(
                    "INSERT INTO evidence_bundles (evidence_bundle_id, tenant_id, payload_json, created_at, principal, capability, source_id, source_table, object_id, query_fingerprint) VALUES ('evb_{i}', 'tenant-{}', '{{}}', '2026-01-01T00:00:{i:02}.000Z', 'agent', 'billing.inspect', 'app', 'public.invoices', 'INV-{i}', 'fp');",
                    i % 4
                )
            })
            .collect();
        let path = old_ledger(dir.path(), 7, &seed);
        let ledger = crate::Ledger::open(&path).unwrap();
        let keyed: i64 = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT COUNT(DISTINCT bundle_rowid) FROM evidence_keys",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(keyed, 40);
        let list = |f: crate::Filter| ledger.list_evidence(&f).unwrap().len();
        let tenant = crate::Filter {
            tenant: Some("tenant-1".into()),
            ..Default::default()
        };
        assert_eq!(list(tenant), 10);
        let table = crate::Filter {
            table: Some("invoices".into()),
            from: Some("2026-01-01T00:00:30".into()),
            ..Default::default()
        };
        assert_eq!(list(table), 10);
    }

    #[test]
    fn the_search_index_takes_in_the_proposals_already_kept() {
        let dir = tempfile::tempdir().unwrap();
        let before = MIGRATIONS
            .iter()
            .position(|m| m.contains("CREATE VIRTUAL TABLE proposal_search"))
            .unwrap();
        let row = |id: &str, json: &str| {
            format!(
                "INSERT INTO proposals (proposal_id, proposal_version, proposal_hash, action, state, tenant_id, business_object, object_id, source_kind, source_id, source_schema, source_table, change_set_json, created_at, updated_at) VALUES ('{id}', 1, 'h', 'billing.waive', 'pending_review', 'acme', 'invoices', 'INV-{id}', 'sql', 's', 'main', 'invoices', '{json}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"
            )
        };
        let seed = format!(
            "{}{}",
            row("wrp_1", r#"{"patch": {"waiver_reason": "grace period"}}"#),
            // Not a change-set object (text that is not JSON at all cannot be stored since the
            // shadow index of version 9 reads every change set).
            row("wrp_2", "[1]")
        );
        let path = old_ledger(dir.path(), before, &seed);
        let ledger = crate::Ledger::open(&path).unwrap();
        let found = |text: &str| -> Vec<String> {
            let q = crate::InboxQuery {
                search: Some(text.into()),
                ..Default::default()
            };
            let (page, _) = ledger.inbox_page(&q, None).unwrap();
            page.into_iter().map(|p| p.proposal_id).collect()
        };
        assert_eq!(found("grace"), ["wrp_1"]);
        assert_eq!(found("billing waive"), ["wrp_1", "wrp_2"]);
        assert_eq!(found("INV-wrp_2"), ["wrp_2"]);
    }

    /// Proposals approved (or handed to a worker) before the work queue existed are queued by
    /// its migration; the others are not.
    #[test]
    fn the_work_queue_takes_in_the_proposals_already_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let before = MIGRATIONS
            .iter()
            .position(|m| m.contains("CREATE TABLE work_queue"))
            .unwrap();
        let row = |id: &str, state: &str| {
            format!(
                "INSERT INTO proposals (proposal_id, proposal_version, proposal_hash, action, state, tenant_id, business_object, object_id, source_kind, source_id, source_schema, source_table, change_set_json, created_at, updated_at) VALUES ('{id}', 1, 'h', 'billing.waive', '{state}', 'acme', 'invoices', 'INV-{id}', 'sql', 's', 'main', 'invoices', '{{}}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"
            )
        };
        let seed: String = [
            ("wrp_a", "approved"),
            ("wrp_b", "pending_worker"),
            ("wrp_c", "pending_review"),
            ("wrp_d", "applied"),
            ("wrp_e", "rejected"),
        ]
        .iter()
        .map(|(id, state)| row(id, state))
        .collect();
        let path = old_ledger(dir.path(), before, &seed);
        let ledger = crate::Ledger::open(&path).unwrap();
        let queued: Vec<&str> = ["wrp_a", "wrp_b", "wrp_c", "wrp_d", "wrp_e"]
            .into_iter()
            .filter(|id| ledger.work_item(id).unwrap().is_some())
            .collect();
        assert_eq!(queued, ["wrp_a", "wrp_b"]);
        let item = ledger.work_item("wrp_a").unwrap().unwrap();
        assert_eq!(
            (item.status.as_str(), item.fence, item.attempts),
            ("ready", 0, 0)
        );
    }

    /// A ledger written by version 2 keeps every audit-to-evidence link when the links move
    /// into the bundles, and the per-evidence lookups still find them.
    #[test]
    fn version_3_moves_audit_links_into_their_bundles() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_ledger(
            dir.path(),
            2,
            r#"INSERT INTO evidence_bundles (evidence_bundle_id, tenant_id, payload_json, created_at)
                     VALUES ('ev_a', 'acme', '{}', '2026-01-01T00:00:00.000Z'),
                            ('ev_b', 'acme', '{}', '2026-01-01T00:00:01.000Z'),
                            ('ev_c', 'acme', '{}', '2026-01-01T00:00:02.000Z');
                   INSERT INTO proposals (proposal_id, proposal_version, proposal_hash, action, state, tenant_id, business_object, object_id, source_kind, source_id, source_schema, source_table, change_set_json, created_at, updated_at)
                     VALUES ('wrp_1', 1, 'h', 'a', 'pending_review', 'acme', 'invoices', 'INV-1', 'sql', 's', 'main', 'invoices', '{}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
                   INSERT INTO query_audit (audit_id, proposal_id, evidence_bundle_id, source_id, query_fingerprint, table_name, row_count, payload_json, created_at)
                     VALUES (1, NULL, 'ev_a', 's', 'f', 't', 1, '{}', '2026-01-01T00:00:00.000Z'),
                            (2, NULL, 'ev_b', 's', 'f', 't', 1, '{}', '2026-01-01T00:00:01.000Z'),
                            (3, 'wrp_1', 'ev_a', 's', 'f', 't', 1, '{}', '2026-01-01T00:00:02.000Z'),
                            (4, NULL, NULL, 's', 'f', 't', 1, '{}', '2026-01-01T00:00:03.000Z');"#,
        );
        let ledger = crate::Ledger::open(&path).unwrap();
        let ids = |ev: &str| -> Vec<i64> {
            ledger
                .evidence(ev)
                .unwrap()
                .query_audit
                .iter()
                .map(|a| a.audit_id)
                .collect()
        };
        assert_eq!(ids("ev_a"), [1, 3]);
        assert_eq!(ids("ev_b"), [2]);
        assert!(ids("ev_c").is_empty());
        assert_eq!(
            ledger.proposal_for_evidence("ev_a").unwrap().as_deref(),
            Some("wrp_1")
        );
        assert_eq!(ledger.proposal_for_evidence("ev_b").unwrap(), None);
        let listed: Vec<i64> = ledger
            .list_query_audit(&crate::Filter {
                evidence: Some("ev_a".into()),
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|a| a.audit_id)
            .collect();
        assert_eq!(listed, [3, 1], "newest first");
        assert!(!has_object(&path, "idx_query_audit_evidence_id"));
    }
}
