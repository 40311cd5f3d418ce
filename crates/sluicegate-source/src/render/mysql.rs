//! MySQL / MariaDB statements: session setup of read connections, the receipt table and the
//! writeback transaction steps. Placeholders are `?`; identifiers are `` `quoted` ``.

/// Read connections refuse writes at the engine, not by keyword filtering.
pub(crate) const SESSION_READ_ONLY: &str = "SET SESSION TRANSACTION READ ONLY";

/// `TIMESTAMP` values are converted to the session time zone; UTC makes them comparable
/// with `DATETIME` values, which are read as UTC.
pub(crate) const SESSION_UTC: &str = "SET SESSION time_zone = '+00:00'";

/// MySQL's statement timeout (milliseconds, SELECT only). MariaDB does not know it.
pub(crate) fn max_execution_time(ms: u64) -> String {
    format!("SET SESSION max_execution_time = {ms}")
}

/// MariaDB's statement timeout (seconds, fractions allowed). MySQL does not know it.
pub(crate) fn max_statement_time(ms: u64) -> String {
    format!(
        "SET SESSION max_statement_time = {}.{:03}",
        ms / 1000,
        ms % 1000
    )
}

/// MariaDB stores `JSON` as `LONGTEXT` guarded by `CHECK (json_valid(col))`; these clauses
/// tell which text columns hold JSON. MySQL has a native JSON type (and no `TABLE_NAME` in
/// this view, so the query fails there and is not needed). Parameters: schema, table.
pub(crate) const JSON_CHECKS: &str = "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?";

/// The column a `json_valid(`col`)` check clause guards, if that is all the clause says.
pub(crate) fn json_check_column(clause: &str) -> Option<&str> {
    let inner = clause
        .trim()
        .strip_prefix("json_valid(")?
        .strip_suffix(')')?;
    let col = inner.strip_prefix('`')?.strip_suffix('`')?;
    (!col.contains('`')).then_some(col)
}

pub(crate) const RECEIPT_DDL: &str = "CREATE TABLE IF NOT EXISTS sluicegate_writeback_receipts (
  idempotency_key varchar(255) PRIMARY KEY,
  job_id varchar(255) UNIQUE NOT NULL,
  proposal_id varchar(512) NOT NULL,
  status varchar(64) NOT NULL,
  result_hash varchar(128),
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  completed_at timestamp NULL
)";

pub(crate) const BEGIN: &str = "START TRANSACTION";
pub(crate) const COMMIT: &str = "COMMIT";
pub(crate) const ROLLBACK: &str = "ROLLBACK";

/// Claim the idempotency key; 1 affected row only when this call inserted it.
/// Parameters: key, job id, proposal id.
pub(crate) const CLAIM_RECEIPT: &str = "INSERT IGNORE INTO sluicegate_writeback_receipts (idempotency_key, job_id, proposal_id, status, result_hash) VALUES (?, ?, ?, 'in_progress', NULL)";

/// Lock and read a receipt that already existed. Parameter: key.
pub(crate) const EXISTING_RECEIPT: &str = "SELECT status, result_hash, job_id FROM sluicegate_writeback_receipts WHERE idempotency_key = ? FOR UPDATE";

/// Record the outcome. Parameters: status, result hash, key.
pub(crate) const RECORD_RECEIPT: &str = "UPDATE sluicegate_writeback_receipts SET status = ?, result_hash = ?, completed_at = CURRENT_TIMESTAMP WHERE idempotency_key = ?";

/// The columns of one table from `information_schema.COLUMNS` (a user sees the columns it
/// holds a privilege on). Parameters: schema (the database), table.
pub(crate) const COLUMNS: &str = "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

/// The doctor's probe row, inserted only inside a transaction that is rolled back.
/// Parameters: the probe key twice (key and job id).
pub(crate) const PROBE_RECEIPT: &str = "INSERT INTO sluicegate_writeback_receipts (idempotency_key, job_id, proposal_id, status, result_hash, completed_at) VALUES (?, ?, 'doctor', 'doctor', 'sha256:doctor', CURRENT_TIMESTAMP)";

/// Who the writer is and where its unqualified names resolve: the account, its default
/// database (twice: the database and the "schema" of its unqualified names), and that
/// database again when it holds a receipt table the writer can see (NULL: none, or the writer
/// holds no privilege on it).
pub(crate) const WRITER_LOOKUP: &str = "SELECT CURRENT_USER(), DATABASE(), DATABASE(), \
(SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sluicegate_writeback_receipts')";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Dialect, Projection, Select, Tail, Update, select, update};

    #[test]
    fn read_select() {
        let sql = select(
            Dialect::Mysql,
            &Select {
                schema: "shop",
                table: "orders",
                projections: &[
                    Projection::Column("id"),
                    Projection::Column("status"),
                    Projection::Column("tenant_id"),
                    Projection::Column("updated_at"),
                ],
                key: "id",
                tenant: Some("tenant_id"),
                tail: Tail::Limit(1),
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                "SELECT `id`, `status`, `tenant_id`, `updated_at` FROM `shop`.`orders` WHERE `id` = ? AND `tenant_id` = ? LIMIT 1"
            )
        );
    }

    #[test]
    fn postgres_casts_do_not_apply() {
        let sql = select(
            Dialect::Mysql,
            &Select {
                schema: "shop",
                table: "orders",
                projections: &[Projection::Text("amount"), Projection::VersionText("v")],
                key: "id",
                tenant: None,
                tail: Tail::Limit(3),
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok("SELECT `amount`, `v` FROM `shop`.`orders` WHERE `id` = ? LIMIT 3")
        );
    }

    #[test]
    fn lock_select_and_update() {
        let sql = select(
            Dialect::Mysql,
            &Select {
                schema: "appdb",
                table: "orders",
                projections: &[Projection::Column("updated_at")],
                key: "id",
                tenant: Some("tenant_id"),
                tail: Tail::ForUpdate,
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                "SELECT `updated_at` FROM `appdb`.`orders` WHERE `id` = ? AND `tenant_id` = ? FOR UPDATE"
            )
        );
        let sql = update(
            Dialect::Mysql,
            &Update {
                schema: "appdb",
                table: "orders",
                set: &["status"],
                key: "id",
                tenant: "tenant_id",
                version: Some("updated_at"),
                advance: None,
                compare: &[],
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                "UPDATE `appdb`.`orders` SET `status` = ? WHERE `id` = ? AND `tenant_id` = ? AND `updated_at` <=> ?"
            )
        );
    }

    #[test]
    fn session_statements() {
        assert_eq!(
            max_execution_time(1500),
            "SET SESSION max_execution_time = 1500"
        );
        assert_eq!(
            max_statement_time(1500),
            "SET SESSION max_statement_time = 1.500"
        );
        assert_eq!(
            max_statement_time(20),
            "SET SESSION max_statement_time = 0.020"
        );
        assert_eq!(json_check_column("json_valid(`payload`)"), Some("payload"));
        assert_eq!(json_check_column("json_valid(`a`) and `b` > 0"), None);
        assert_eq!(json_check_column("`n` > 0"), None);
    }

    #[test]
    fn receipt_statements() {
        assert!(RECEIPT_DDL.contains("idempotency_key varchar(255) PRIMARY KEY"));
        assert!(CLAIM_RECEIPT.starts_with("INSERT IGNORE INTO sluicegate_writeback_receipts"));
        assert!(RECORD_RECEIPT.contains("completed_at = CURRENT_TIMESTAMP"));
    }
}
