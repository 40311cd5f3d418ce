//! SQLite statements: the receipt table and the writeback transaction steps. Placeholders are
//! `?`; identifiers are `"quoted"`; `target.schema` is the attached database (`main`).

pub(crate) const RECEIPT_DDL: &str = "CREATE TABLE IF NOT EXISTS sluicegate_writeback_receipts (
  idempotency_key TEXT PRIMARY KEY,
  job_id TEXT UNIQUE NOT NULL,
  proposal_id TEXT NOT NULL,
  status TEXT NOT NULL,
  result_hash TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  completed_at TEXT
)";

/// Takes the database write lock up front, so concurrent writers queue here (bounded by the
/// busy timeout) instead of failing half-way; SQLite has no row locks.
pub(crate) const BEGIN: &str = "BEGIN IMMEDIATE";
pub(crate) const COMMIT: &str = "COMMIT";
pub(crate) const ROLLBACK: &str = "ROLLBACK";

/// Claim the idempotency key; 1 change only when this call inserted it.
/// Parameters: key, job id, proposal id.
pub(crate) const CLAIM_RECEIPT: &str = "INSERT OR IGNORE INTO sluicegate_writeback_receipts (idempotency_key, job_id, proposal_id, status, result_hash) VALUES (?, ?, ?, 'in_progress', NULL)";

/// Read a receipt that already existed (the IMMEDIATE transaction already excludes writers).
/// Parameter: key.
pub(crate) const EXISTING_RECEIPT: &str = "SELECT status, result_hash, job_id FROM sluicegate_writeback_receipts WHERE idempotency_key = ?";

/// Record the outcome. Parameters: status, result hash, key.
pub(crate) const RECORD_RECEIPT: &str = "UPDATE sluicegate_writeback_receipts SET status = ?, result_hash = ?, completed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE idempotency_key = ?";

/// The columns of one table: name, declared type and the NOT NULL flag. Parameters: table,
/// schema (the attached database).
pub(crate) const COLUMNS: &str =
    "SELECT name, type, \"notnull\" FROM pragma_table_info(?, ?) ORDER BY cid";

/// The doctor's probe row, inserted only inside a transaction that is rolled back.
/// Parameters: the probe key twice (key and job id).
pub(crate) const PROBE_RECEIPT: &str = "INSERT INTO sluicegate_writeback_receipts (idempotency_key, job_id, proposal_id, status, result_hash, completed_at) VALUES (?, ?, 'doctor', 'doctor', 'sha256:doctor', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

/// The writer's view, shaped like the other engines' lookups: no user, database `main`, and
/// `main` again when it holds the receipt table.
pub(crate) const WRITER_LOOKUP: &str = "SELECT NULL, 'main', 'main', (SELECT 'main' FROM main.sqlite_master WHERE type = 'table' AND name = 'sluicegate_writeback_receipts')";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Dialect, Projection, Select, Tail, Update, select, update};

    #[test]
    fn read_select() {
        let sql = select(
            Dialect::Sqlite,
            &Select {
                schema: "main",
                table: "tickets",
                projections: &[Projection::Column("id"), Projection::Column("status")],
                key: "id",
                tenant: Some("tenant_id"),
                tail: Tail::Limit(2),
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                r#"SELECT "id", "status" FROM "main"."tickets" WHERE "id" = ? AND "tenant_id" = ? LIMIT 2"#
            )
        );
    }

    #[test]
    fn lock_select_has_no_for_update() {
        let sql = select(
            Dialect::Sqlite,
            &Select {
                schema: "main",
                table: "tickets",
                projections: &[Projection::Column("version")],
                key: "id",
                tenant: Some("tenant_id"),
                tail: Tail::ForUpdate,
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(r#"SELECT "version" FROM "main"."tickets" WHERE "id" = ? AND "tenant_id" = ?"#)
        );
    }

    #[test]
    fn guarded_update() {
        let sql = update(
            Dialect::Sqlite,
            &Update {
                schema: "main",
                table: "tickets",
                set: &["status", "note"],
                key: "id",
                tenant: "tenant_id",
                version: Some("version"),
                advance: None,
                compare: &[],
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                r#"UPDATE "main"."tickets" SET "status" = ?, "note" = ? WHERE "id" = ? AND "tenant_id" = ? AND "version" IS ?"#
            )
        );
    }

    #[test]
    fn receipt_statements() {
        assert!(RECEIPT_DDL.contains("idempotency_key TEXT PRIMARY KEY"));
        assert!(CLAIM_RECEIPT.starts_with("INSERT OR IGNORE INTO sluicegate_writeback_receipts"));
        assert_eq!(BEGIN, "BEGIN IMMEDIATE");
    }
}
