//! Row counts for `store stats` at the same cost at a million calls as at ten (counting every
//! table, and summing every bundle's items, was O(n)), with nothing added to the write path.
//!
//! `ledger_counts` keeps, per table, how many rows it had up to a rowid mark. A count is that
//! plus the rows above the mark (a rowid range, so a short walk); the ledger writer moves the
//! marks forward in its lulls, with the evidence index (`evidence_keys`), so what lies above
//! them stays a backlog long. `store prune`, the only thing that deletes, recounts.
//! `evidence_items` sums the items of the bundles above the mark: an item appended to a bundle
//! already below it (a proposal linking a read recorded earlier) is counted at the next
//! recount. `replay_records` is counted directly (one row per replay recorded on request).

use std::collections::HashMap;

use crate::LedgerError;

/// The counted tables, and `evidence_items` (over `evidence_bundles`).
const COUNTED: &[(&str, &str)] = &[
    ("proposals", "proposals"),
    ("evidence_bundles", "evidence_bundles"),
    ("query_audit", "query_audit"),
    ("writeback_receipts", "writeback_receipts"),
    ("writeback_jobs", "writeback_jobs"),
    ("idempotency_receipts", "idempotency_receipts"),
    ("approvals", "approvals"),
    ("proposal_events", "proposal_events"),
    ("evidence_items", "evidence_bundles"),
];

/// What a count adds up over rows of its table.
fn measure(name: &str) -> &'static str {
    match name {
        "evidence_items" => "COALESCE(SUM(json_array_length(items_json)), 0)",
        _ => "COUNT(*)",
    }
}

/// Appended to `schema::MIGRATIONS`: counts every table once.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE ledger_counts (
  name TEXT PRIMARY KEY,
  n INTEGER NOT NULL,
  upto INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Count every table from scratch and set the marks to the last rows (the migration's
/// backfill, and `store prune` after it deleted).
pub(crate) fn recount(conn: &rusqlite::Connection) -> Result<(), LedgerError> {
    for (name, table) in COUNTED {
        conn.execute(
            &format!(
                "INSERT OR REPLACE INTO ledger_counts (name, n, upto) SELECT ?1, {}, COALESCE(MAX(rowid), 0) FROM {table}",
                measure(name)
            ),
            [name],
        )?;
    }
    Ok(())
}

/// Move every mark to its table's last row, adding what lay above it (the writer, in a lull).
pub(crate) fn advance(conn: &rusqlite::Connection) -> Result<(), LedgerError> {
    for (name, table) in COUNTED {
        conn.prepare_cached(&format!(
            "UPDATE ledger_counts SET n = n + (SELECT {} FROM {table} WHERE rowid > ledger_counts.upto), upto = MAX(upto, (SELECT COALESCE(MAX(rowid), 0) FROM {table})) WHERE name = ?1",
            measure(name)
        ))?
        .execute([name])?;
    }
    Ok(())
}

/// Every count, by name (a table, or `evidence_items`): the kept count plus what lies above
/// its mark.
pub(crate) fn counts(conn: &rusqlite::Connection) -> Result<HashMap<String, i64>, LedgerError> {
    let mut out = HashMap::new();
    for (name, table) in COUNTED {
        let n: i64 = conn
            .prepare_cached(&format!(
                "SELECT COALESCE((SELECT n FROM ledger_counts WHERE name = ?1), 0) + (SELECT {} FROM {table} WHERE rowid > COALESCE((SELECT upto FROM ledger_counts WHERE name = ?1), 0))",
                measure(name)
            ))?
            .query_row([name], |r| r.get(0))?;
        out.insert((*name).to_string(), n);
    }
    Ok(out)
}
