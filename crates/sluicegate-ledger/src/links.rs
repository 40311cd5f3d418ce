//! How a proposal's events, evidence bundle and query-audit records point at it.
//!
//! A proposal id is a content hash, so an index keyed by it puts each new entry on a random
//! leaf page. Up to schema 15 recording one proposal inserted into five such indexes: the
//! proposals' own id index, the bundle's id index, and the proposal links of its events, its
//! bundle and its audit record. Under load every one of those leaves is one more 4 KiB frame
//! in the WAL for each proposal of a commit group, and one more B-tree descent on the writer
//! thread, which every record waits behind. Dropping the three link indexes (an experiment
//! build, three pairs at 16 sessions) served 20–37 % more proposals per second and cut their
//! p99 by 0.7–5 ms (docs/performance.md, "Proposal links by recording order").
//!
//! Since schema 16 each proposal carries `seq`, a number given in recording order (one more
//! than the largest so far), and those three tables carry it as `proposal_seq` beside the
//! text id. Their link indexes are keyed by it, so new entries land on the last leaf, which a
//! commit group shares. `seq` is a column of its own, not the implicit rowid, which `VACUUM`
//! may renumber. The text `proposal_id` stays in every row: it is what exports, listings and
//! the hash chain name, and `store verify` checks that the two agree ([`MISLINKED`]).

/// A proposal's `seq` from its id bound to the SQL parameter `$param` (`"?1"`, `"?"`), as a
/// literal, for statements that write or look up a link (one spelling for all of them).
macro_rules! seq_of {
    ($param:literal) => {
        concat!(
            "(SELECT seq FROM proposals WHERE proposal_id = ",
            $param,
            ")"
        )
    };
}
pub(crate) use seq_of;

/// A proposal's `seq` from its id bound to `?1`.
pub(crate) const SEQ_OF: &str = seq_of!("?1");

/// The `seq` a new proposal gets: one more than the largest so far (an index seek).
pub(crate) const NEXT_SEQ: &str = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM proposals)";

/// Rows of the three linked tables whose `proposal_seq` does not name the proposal their
/// `proposal_id` names (an edit of the file that would move a record off its proposal's
/// screens and chain), as `(proposal_id, table, row)`, at most 20. A scan of each table:
/// `store verify` reads everything anyway.
pub(crate) const MISLINKED: &str = "SELECT CAST(pid AS BLOB), tbl, CAST(rid AS BLOB) FROM (\
 SELECT e.proposal_id AS pid, 'proposal_events' AS tbl, CAST(e.event_id AS TEXT) AS rid FROM proposal_events e WHERE e.proposal_seq IS NOT (SELECT seq FROM proposals p WHERE p.proposal_id = e.proposal_id) \
 UNION ALL SELECT b.proposal_id, 'evidence_bundles', b.evidence_bundle_id FROM evidence_bundles b WHERE b.proposal_id IS NOT NULL AND b.proposal_seq IS NOT (SELECT seq FROM proposals p WHERE p.proposal_id = b.proposal_id) \
 UNION ALL SELECT q.proposal_id, 'query_audit', CAST(q.audit_id AS TEXT) FROM query_audit q WHERE q.proposal_id IS NOT NULL AND q.proposal_seq IS NOT (SELECT seq FROM proposals p WHERE p.proposal_id = q.proposal_id)\
) LIMIT 20";

/// Appended to `schema::MIGRATIONS` (version 16). Existing proposals are numbered in rowid
/// order (their recording order); the event guard is lifted for the backfill and put back.
pub(crate) const MIGRATION: &str = r#"
ALTER TABLE proposals ADD COLUMN seq INTEGER;
UPDATE proposals SET seq = rowid;
CREATE UNIQUE INDEX idx_proposals_seq ON proposals(seq);
DROP TRIGGER IF EXISTS proposal_events_no_update;
ALTER TABLE proposal_events ADD COLUMN proposal_seq INTEGER;
UPDATE proposal_events SET proposal_seq =
  (SELECT seq FROM proposals p WHERE p.proposal_id = proposal_events.proposal_id);
CREATE TRIGGER proposal_events_no_update BEFORE UPDATE ON proposal_events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
ALTER TABLE evidence_bundles ADD COLUMN proposal_seq INTEGER;
UPDATE evidence_bundles SET proposal_seq =
  (SELECT seq FROM proposals p WHERE p.proposal_id = evidence_bundles.proposal_id)
  WHERE proposal_id IS NOT NULL;
ALTER TABLE query_audit ADD COLUMN proposal_seq INTEGER;
UPDATE query_audit SET proposal_seq =
  (SELECT seq FROM proposals p WHERE p.proposal_id = query_audit.proposal_id)
  WHERE proposal_id IS NOT NULL;
CREATE INDEX idx_proposal_events_proposal_seq ON proposal_events(proposal_seq, event_id);
CREATE INDEX idx_evidence_bundles_proposal_seq ON evidence_bundles(proposal_seq)
  WHERE proposal_seq IS NOT NULL;
CREATE INDEX idx_query_audit_proposal_seq ON query_audit(proposal_seq)
  WHERE proposal_seq IS NOT NULL;
DROP INDEX idx_proposal_events_proposal_id;
DROP INDEX idx_evidence_bundles_proposal_id;
DROP INDEX idx_query_audit_proposal_id;
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rusqlite::Connection;

    use crate::schema::tests::old_ledger;
    use crate::{EventFilter, Filter, Ledger};

    /// A ledger of schema 15 numbers its proposals in recording order, links every event,
    /// bundle and audit record to the proposal its text id names, and each lookup by
    /// proposal still finds exactly its own records, through the new indexes only.
    #[test]
    fn version_16_links_the_records_already_kept() {
        let dir = tempfile::tempdir().unwrap();
        let proposal = |id: &str| {
            format!(
                "INSERT INTO proposals (proposal_id, proposal_version, proposal_hash, action, state, tenant_id, business_object, object_id, source_kind, source_id, source_schema, source_table, change_set_json, created_at, updated_at) VALUES ('{id}', 1, 'h', 'billing.waive', 'pending_review', 'acme', 'invoices', 'INV-1', 'sql', 's', 'main', 'invoices', '{{}}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"
            )
        };
        let event = |id: &str, kind: &str| {
            format!(
                "INSERT INTO proposal_events (proposal_id, kind, actor, payload_json, created_at) VALUES ('{id}', '{kind}', 'a', '{{}}', '2026-01-01T00:00:00.000Z');"
            )
        };
        let seed = [
            proposal("wrp_b"),
            proposal("wrp_a"),
            event("wrp_a", "proposal_created"),
            event("wrp_b", "proposal_created"),
            event("wrp_a", "proposal_approved"),
            "INSERT INTO evidence_bundles (evidence_bundle_id, proposal_id, tenant_id, payload_json, created_at) VALUES ('ev_1', 'wrp_a', 'acme', '{}', '2026-01-01T00:00:00.000Z'), ('ev_2', NULL, 'acme', '{}', '2026-01-01T00:00:00.000Z');".into(),
            "INSERT INTO query_audit (audit_id, proposal_id, evidence_bundle_id, source_id, query_fingerprint, table_name, row_count, payload_json, created_at) VALUES (1, 'wrp_a', 'ev_1', 's', 'f', 't', 1, '{}', '2026-01-01T00:00:00.000Z'), (2, NULL, 'ev_2', 's', 'f', 't', 1, '{}', '2026-01-01T00:00:00.000Z'), (3, 'wrp_b', NULL, 's', 'f', 't', 1, '{}', '2026-01-01T00:00:00.000Z');".into(),
        ]
        .concat();
        let path = old_ledger(dir.path(), 15, &seed);
        let ledger = Ledger::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let seqs: Vec<(String, i64)> = conn
            .prepare("SELECT proposal_id, seq FROM proposals ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(seqs, [("wrp_b".into(), 1), ("wrp_a".into(), 2)]);
        let kinds = |id: &str| -> Vec<String> {
            ledger
                .events(id)
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect()
        };
        assert_eq!(kinds("wrp_a"), ["proposal_created", "proposal_approved"]);
        assert_eq!(kinds("wrp_b"), ["proposal_created"]);
        let listed = ledger
            .list_events(&EventFilter {
                proposal: Some("wrp_b".into()),
                ..EventFilter::default()
            })
            .unwrap();
        assert_eq!(listed.len(), 1);
        let bundles: Vec<String> = ledger
            .evidence_for_proposal("wrp_a")
            .unwrap()
            .into_iter()
            .map(|b| b.evidence_bundle_id)
            .collect();
        assert_eq!(bundles, ["ev_1"]);
        assert!(ledger.evidence_for_proposal("wrp_b").unwrap().is_empty());
        let audits = |id: &str| -> Vec<i64> {
            ledger
                .query_audit_for_proposal(id)
                .unwrap()
                .into_iter()
                .map(|a| a.audit_id)
                .collect()
        };
        assert_eq!(audits("wrp_a"), [1]);
        assert_eq!(audits("wrp_b"), [3]);
        let listed = ledger
            .list_query_audit(&Filter {
                proposal: Some("wrp_b".into()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(listed.len(), 1);
        // Nothing is mislinked, and the random-keyed link indexes are gone.
        let mislinked: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM ({})", super::MISLINKED),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(mislinked, 0);
        for gone in [
            "idx_proposal_events_proposal_id",
            "idx_evidence_bundles_proposal_id",
            "idx_query_audit_proposal_id",
        ] {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                    [gone],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0, "{gone}");
        }
        // Events stay append-only after the backfill lifted their guard.
        assert!(
            conn.execute("UPDATE proposal_events SET actor = 'x'", [])
                .is_err()
        );
    }

    /// A proposal's records are looked up by `seq` through its index: an index search, never
    /// a scan (each lookup is on the path of `proposals show`, replay and every decision).
    #[test]
    fn lookups_by_proposal_search_the_seq_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        drop(Ledger::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        for (table, index) in [
            ("proposal_events", "idx_proposal_events_proposal_seq"),
            ("evidence_bundles", "idx_evidence_bundles_proposal_seq"),
            ("query_audit", "idx_query_audit_proposal_seq"),
        ] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE proposal_seq = {} ORDER BY rowid",
                super::SEQ_OF
            );
            let plan: Vec<String> = conn
                .prepare(&sql)
                .unwrap()
                .query_map(["wrp_1"], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter()
                    .any(|l| l.starts_with("SEARCH") && l.contains(index)),
                "{table}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|l| l.starts_with("SCAN")),
                "{table}: {plan:?}"
            );
        }
    }
}
