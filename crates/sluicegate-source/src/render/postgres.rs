//! PostgreSQL statements: session startup options, the receipt table and the writeback
//! transaction steps. Placeholders are `$n`; identifiers are `"quoted"`.

/// Startup options every connection gets: ISO dates and UTC, so the text form of a
/// `timestamptz` read for the version guard does not depend on server settings, and hex
/// `bytea` output.
const SESSION_OPTIONS: &str = "-c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex";

/// Startup options of pooled read connections: read-only at the engine and, when configured,
/// a statement timeout, all set in the startup packet so a read costs no extra round trip.
/// `user` options (from the URL) come first so ours win on a clash.
pub(crate) fn read_options(user: Option<&str>, statement_timeout_ms: Option<u64>) -> String {
    let mut out = String::new();
    if let Some(u) = user.filter(|u| !u.trim().is_empty()) {
        out.push_str(u.trim());
        out.push(' ');
    }
    out.push_str(SESSION_OPTIONS);
    out.push_str(" -c default_transaction_read_only=on");
    if let Some(ms) = statement_timeout_ms {
        out.push_str(&format!(" -c statement_timeout={ms}"));
    }
    out
}

/// Startup options of the writer connection.
pub(crate) fn write_options(user: Option<&str>) -> String {
    match user.filter(|u| !u.trim().is_empty()) {
        Some(u) => format!("{} {SESSION_OPTIONS}", u.trim()),
        None => SESSION_OPTIONS.to_string(),
    }
}

pub(crate) const RECEIPT_DDL: &str = "CREATE TABLE IF NOT EXISTS sluicegate_writeback_receipts (
  idempotency_key text PRIMARY KEY,
  job_id text UNIQUE NOT NULL,
  proposal_id text NOT NULL,
  status text NOT NULL,
  result_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
)";

pub(crate) const BEGIN: &str = "BEGIN";
pub(crate) const COMMIT: &str = "COMMIT";
pub(crate) const ROLLBACK: &str = "ROLLBACK";

/// Claim the idempotency key; returns a row only when this call inserted it.
/// Parameters: key, job id, proposal id. No conflict target, unlike the reference's `ON CONFLICT
/// (idempotency_key)`: two concurrent claims of one key also collide on the unique `job_id`,
/// and when that index is checked first, a targeted `ON CONFLICT` raises a unique violation
/// instead of reporting the existing receipt. With every unique index as arbiter the loser
/// always sees "already claimed", as MySQL's `INSERT IGNORE` and SQLite's `INSERT OR IGNORE` do.
pub(crate) const CLAIM_RECEIPT: &str = "INSERT INTO sluicegate_writeback_receipts (idempotency_key, job_id, proposal_id, status, result_hash) VALUES ($1, $2, $3, 'in_progress', NULL) ON CONFLICT DO NOTHING RETURNING status";

/// Lock and read a receipt that already existed. Parameter: key.
pub(crate) const EXISTING_RECEIPT: &str = "SELECT status, result_hash, job_id FROM sluicegate_writeback_receipts WHERE idempotency_key = $1 FOR UPDATE";

/// Record the outcome. Parameters: status, result hash, key.
pub(crate) const RECORD_RECEIPT: &str = "UPDATE sluicegate_writeback_receipts SET status = $1, result_hash = $2, completed_at = now() WHERE idempotency_key = $3";

/// The columns of one table from `pg_catalog`, which every user may read: name, the base
/// type's name (domains resolved), its spelling with length or precision
/// (`character varying(10)`, `numeric(10,2)`, `timestamp(3) with time zone`) and whether it
/// accepts NULL. Parameters: schema, table.
pub(crate) const COLUMNS: &str = "SELECT a.attname::text, bt.typname::text, format_type(bt.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END), NOT a.attnotnull AND NOT (t.typtype = 'd' AND t.typnotnull) \
FROM pg_catalog.pg_attribute a \
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
ORDER BY a.attnum";

/// The doctor's probe row, inserted only inside a transaction that is rolled back.
/// Parameter: the probe key (used as key and job id).
pub(crate) const PROBE_RECEIPT: &str = "INSERT INTO sluicegate_writeback_receipts (idempotency_key, job_id, proposal_id, status, result_hash, completed_at) VALUES ($1, $1, 'doctor', 'doctor', 'sha256:doctor', now())";

/// Who the writer is and where its unqualified names resolve: the current user and database,
/// the first schema of its search_path it may use, and the schema of the receipt table its
/// statements would find (NULL: none). Catalog lookups only: nothing is created or locked.
pub(crate) const WRITER_LOOKUP: &str = "SELECT current_user::text, current_database()::text, current_schema()::text, \
(SELECT n.nspname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
WHERE c.oid = to_regclass('sluicegate_writeback_receipts'))";

/// Every schema holding a receipt table, whether or not the writer may use it.
pub(crate) const RECEIPT_SCHEMAS: &str = "SELECT n.nspname::text FROM pg_catalog.pg_class c \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relname = 'sluicegate_writeback_receipts' AND c.relkind IN ('r', 'p') ORDER BY 1";

/// Whether the current user may use a schema (`true`/`false`). Parameter: the schema.
pub(crate) const SCHEMA_USAGE: &str = "SELECT has_schema_privilege($1::text, 'USAGE')::text";

/// The admin's database, compared with the writer's before `doctor --fix` creates anything.
pub(crate) const CURRENT_DATABASE: &str = "SELECT current_database()::text";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Dialect, Projection, Select, Tail, Update, select, update};

    #[test]
    fn read_select() {
        let sql = select(
            Dialect::Postgres,
            &Select {
                schema: "public",
                table: "invoices",
                projections: &[
                    Projection::Column("id"),
                    Projection::Column("status"),
                    Projection::Column("late_fee_cents"),
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
                r#"SELECT "id", "status", "late_fee_cents", "tenant_id", "updated_at" FROM "public"."invoices" WHERE "id" = $1 AND "tenant_id" = $2 LIMIT 1"#
            )
        );
    }

    #[test]
    fn casts_single_tenant_and_limit_floor() {
        let sql = select(
            Dialect::Postgres,
            &Select {
                schema: "public",
                table: "t",
                projections: &[
                    Projection::Column("id"),
                    Projection::Text("amount"),
                    Projection::Json("tags"),
                ],
                key: "id",
                tenant: None,
                tail: Tail::Limit(0),
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                r#"SELECT "id", "amount"::text AS "amount", to_jsonb("tags") AS "tags" FROM "public"."t" WHERE "id" = $1 LIMIT 1"#
            )
        );
    }

    #[test]
    fn lock_select() {
        let sql = select(
            Dialect::Postgres,
            &Select {
                schema: "public",
                table: "invoices",
                projections: &[
                    Projection::Column("updated_at"),
                    Projection::VersionText("updated_at"),
                ],
                key: "id",
                tenant: Some("tenant_id"),
                tail: Tail::ForUpdate,
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                r#"SELECT "updated_at", "updated_at"::text AS __sluicegate_version FROM "public"."invoices" WHERE "id" = $1 AND "tenant_id" = $2 FOR UPDATE"#
            )
        );
    }

    #[test]
    fn guarded_update() {
        let sql = update(
            Dialect::Postgres,
            &Update {
                schema: "public",
                table: "invoices",
                set: &["late_fee_cents", "waiver_reason"],
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
                r#"UPDATE "public"."invoices" SET "late_fee_cents" = $1, "waiver_reason" = $2 WHERE "id" = $3 AND "tenant_id" = $4 AND "updated_at" IS NOT DISTINCT FROM $5"#
            )
        );
        let sql = update(
            Dialect::Postgres,
            &Update {
                schema: "public",
                table: "invoices",
                set: &["status"],
                key: "id",
                tenant: "tenant_id",
                version: None,
                advance: None,
                compare: &[],
            },
        );
        assert_eq!(
            sql.as_deref(),
            Ok(
                r#"UPDATE "public"."invoices" SET "status" = $1 WHERE "id" = $2 AND "tenant_id" = $3"#
            )
        );
    }

    #[test]
    fn options() {
        assert_eq!(
            read_options(None, Some(1500)),
            "-c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex -c default_transaction_read_only=on -c statement_timeout=1500"
        );
        assert_eq!(
            read_options(Some("-c search_path=app"), None),
            "-c search_path=app -c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex -c default_transaction_read_only=on"
        );
        assert_eq!(
            write_options(Some(" -csearch_path=synapsor,public ")),
            "-csearch_path=synapsor,public -c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex"
        );
    }

    #[test]
    fn receipt_statements() {
        assert!(RECEIPT_DDL.starts_with(
            "CREATE TABLE IF NOT EXISTS sluicegate_writeback_receipts (\n  idempotency_key text PRIMARY KEY,"
        ));
        assert!(CLAIM_RECEIPT.ends_with("ON CONFLICT DO NOTHING RETURNING status"));
        assert!(EXISTING_RECEIPT.ends_with("FOR UPDATE"));
    }
}
