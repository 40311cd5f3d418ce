//! Row counts kept as rows are written, so `store stats` costs the same at a million calls as
//! at ten (it counted every table, and summed every bundle's items, on each run: O(n)).
//!
//! Triggers add or remove one per inserted or deleted row (`INSERT OR IGNORE` and upserts that
//! update fire no insert trigger, so they are not counted twice). `replay_records` is written
//! with `INSERT OR REPLACE`, whose implicit delete fires no trigger, so it is still counted
//! directly; it holds one row per replay recorded on request.

use std::collections::HashMap;

use crate::LedgerError;

/// Appended to `schema::MIGRATIONS`; the backfill counts once, at migration.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE ledger_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO ledger_counts VALUES ('proposals', (SELECT COUNT(*) FROM proposals));
CREATE TRIGGER count_proposals_insert AFTER INSERT ON proposals BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'proposals'; END;
CREATE TRIGGER count_proposals_delete AFTER DELETE ON proposals BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'proposals'; END;
INSERT INTO ledger_counts VALUES ('evidence_bundles', (SELECT COUNT(*) FROM evidence_bundles));
CREATE TRIGGER count_evidence_bundles_insert AFTER INSERT ON evidence_bundles BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'evidence_bundles'; END;
CREATE TRIGGER count_evidence_bundles_delete AFTER DELETE ON evidence_bundles BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'evidence_bundles'; END;
INSERT INTO ledger_counts VALUES ('query_audit', (SELECT COUNT(*) FROM query_audit));
CREATE TRIGGER count_query_audit_insert AFTER INSERT ON query_audit BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'query_audit'; END;
CREATE TRIGGER count_query_audit_delete AFTER DELETE ON query_audit BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'query_audit'; END;
INSERT INTO ledger_counts VALUES ('writeback_receipts', (SELECT COUNT(*) FROM writeback_receipts));
CREATE TRIGGER count_writeback_receipts_insert AFTER INSERT ON writeback_receipts BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'writeback_receipts'; END;
CREATE TRIGGER count_writeback_receipts_delete AFTER DELETE ON writeback_receipts BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'writeback_receipts'; END;
INSERT INTO ledger_counts VALUES ('writeback_jobs', (SELECT COUNT(*) FROM writeback_jobs));
CREATE TRIGGER count_writeback_jobs_insert AFTER INSERT ON writeback_jobs BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'writeback_jobs'; END;
CREATE TRIGGER count_writeback_jobs_delete AFTER DELETE ON writeback_jobs BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'writeback_jobs'; END;
INSERT INTO ledger_counts VALUES ('idempotency_receipts', (SELECT COUNT(*) FROM idempotency_receipts));
CREATE TRIGGER count_idempotency_receipts_insert AFTER INSERT ON idempotency_receipts BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'idempotency_receipts'; END;
CREATE TRIGGER count_idempotency_receipts_delete AFTER DELETE ON idempotency_receipts BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'idempotency_receipts'; END;
INSERT INTO ledger_counts VALUES ('approvals', (SELECT COUNT(*) FROM approvals));
CREATE TRIGGER count_approvals_insert AFTER INSERT ON approvals BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'approvals'; END;
CREATE TRIGGER count_approvals_delete AFTER DELETE ON approvals BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'approvals'; END;
INSERT INTO ledger_counts VALUES ('proposal_events', (SELECT COUNT(*) FROM proposal_events));
CREATE TRIGGER count_proposal_events_insert AFTER INSERT ON proposal_events BEGIN UPDATE ledger_counts SET n = n + 1 WHERE name = 'proposal_events'; END;
CREATE TRIGGER count_proposal_events_delete AFTER DELETE ON proposal_events BEGIN UPDATE ledger_counts SET n = n - 1 WHERE name = 'proposal_events'; END;
INSERT INTO ledger_counts VALUES ('evidence_items', (SELECT COALESCE(SUM(json_array_length(items_json)), 0) FROM evidence_bundles));
CREATE TRIGGER count_evidence_items_insert AFTER INSERT ON evidence_bundles BEGIN UPDATE ledger_counts SET n = n + json_array_length(NEW.items_json) WHERE name = 'evidence_items'; END;
CREATE TRIGGER count_evidence_items_update AFTER UPDATE OF items_json ON evidence_bundles BEGIN UPDATE ledger_counts SET n = n + json_array_length(NEW.items_json) - json_array_length(OLD.items_json) WHERE name = 'evidence_items'; END;
CREATE TRIGGER count_evidence_items_delete AFTER DELETE ON evidence_bundles BEGIN UPDATE ledger_counts SET n = n - json_array_length(OLD.items_json) WHERE name = 'evidence_items'; END;
"#;

/// Every kept count, by name (a table, or `evidence_items`).
pub(crate) fn counts(conn: &rusqlite::Connection) -> Result<HashMap<String, i64>, LedgerError> {
    let mut stmt = conn.prepare_cached("SELECT name, n FROM ledger_counts")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
