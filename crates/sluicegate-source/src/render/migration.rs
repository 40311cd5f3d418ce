//! The receipt table's DDL as an operator runs it before direct writeback (`writeback
//! migration`, and `doctor --fix` through an admin connection): apply itself never creates it,
//! so the writer needs no DDL right.

use sluicegate_core::config::Engine;
use sluicegate_core::ident::is_safe_identifier;

use super::{Dialect, RECEIPT_TABLE};
use crate::error::SourceError;

/// Why a script could not be written. Names no flag: the caller says which input was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The schema (PostgreSQL) or database (MySQL) is not a plain identifier.
    #[error("the schema must be a plain identifier (letters, digits, underscores)")]
    UnsafeSchema,
    /// SQLite has no schema to put the receipt table in.
    #[error("a schema is not used for SQLite: the receipt table lives in the writer's file")]
    SqliteSchema,
    /// A PostgreSQL role that is not a plain identifier.
    #[error("the role must be a plain identifier")]
    UnsafeRole,
    /// A MySQL account that is not `user`, `user@host` or `'user'@'host'` with plain parts.
    #[error("the account must be such as 'writer'@'%'")]
    UnsafeAccount,
}

/// The receipt table DDL of `engine`, unqualified.
pub fn receipt_table_ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => super::postgres::RECEIPT_DDL,
        Engine::Mysql => super::mysql::RECEIPT_DDL,
        Engine::Sqlite => super::sqlite::RECEIPT_DDL,
    }
}

/// The receipt table DDL with the table qualified by `schema` (`"S".sluicegate_…` or
/// `` `S`.sluicegate_… ``).
pub fn receipt_table_ddl_in_schema(engine: Engine, schema: &str) -> Result<String, SourceError> {
    let qualified = format!("{}.{RECEIPT_TABLE}", Dialect::of(engine).ident(schema)?);
    Ok(receipt_table_ddl(engine).replacen(RECEIPT_TABLE, &qualified, 1))
}

/// `schema` when it is a plain identifier (or absent).
pub(super) fn checked_schema(schema: Option<&str>) -> Result<Option<&str>, ScriptError> {
    match schema {
        Some(s) if !is_safe_identifier(s) => Err(ScriptError::UnsafeSchema),
        other => Ok(other),
    }
}

/// The two comment lines that open the migration. They name no input, so they can be shown
/// before the inputs are checked.
pub fn migration_header(engine: Engine) -> String {
    format!(
        "-- Sluicegate writeback receipts ({}).\n-- One row per applied proposal: it makes a retried apply idempotent. Run as a schema owner.\n",
        engine.as_str()
    )
}

/// The statements of the migration (after [`migration_header`]), each line ending in `\n`.
/// PostgreSQL's `public` needs no `CREATE SCHEMA` and is already on every search_path.
pub fn migration_body(engine: Engine, schema: Option<&str>) -> Result<String, ScriptError> {
    let ddl = |schema: &str| {
        receipt_table_ddl_in_schema(engine, schema).map_err(|_| ScriptError::UnsafeSchema)
    };
    Ok(match (engine, checked_schema(schema)?) {
        (Engine::Postgres, Some("public")) => format!("{};\n", ddl("public")?),
        (Engine::Postgres, Some(s)) => format!(
            "CREATE SCHEMA IF NOT EXISTS \"{s}\";\n{};\n-- The writer finds the table through its search_path (`writeback grants --schema {s}` sets it), or with this URL option:\n--   ?options=-csearch_path%3D{s}%2Cpublic\n",
            ddl(s)?
        ),
        (Engine::Mysql, Some(s)) => format!("USE `{s}`;\n{};\n", receipt_table_ddl(engine)),
        (Engine::Sqlite, Some(_)) => return Err(ScriptError::SqliteSchema),
        (_, None) => format!("{};\n", receipt_table_ddl(engine)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_ddl_qualified_by_schema() {
        assert!(receipt_table_ddl(Engine::Mysql).contains("varchar(255) PRIMARY KEY"));
        let ddl = receipt_table_ddl_in_schema(Engine::Postgres, "synapsor").expect("safe");
        assert!(ddl.starts_with(
            r#"CREATE TABLE IF NOT EXISTS "synapsor".sluicegate_writeback_receipts ("#
        ));
        let ddl = receipt_table_ddl_in_schema(Engine::Mysql, "appdb").expect("safe");
        assert!(
            ddl.starts_with("CREATE TABLE IF NOT EXISTS `appdb`.sluicegate_writeback_receipts (")
        );
        assert!(receipt_table_ddl_in_schema(Engine::Postgres, "a;b").is_err());
    }

    #[test]
    fn migration_header_names_the_engine() {
        assert_eq!(
            migration_header(Engine::Sqlite),
            "-- Sluicegate writeback receipts (sqlite).\n-- One row per applied proposal: it makes a retried apply idempotent. Run as a schema owner.\n"
        );
    }

    #[test]
    fn postgres_migration() {
        assert_eq!(
            migration_body(Engine::Postgres, None).as_deref(),
            Ok(format!("{};\n", super::super::postgres::RECEIPT_DDL).as_str())
        );
        let body = migration_body(Engine::Postgres, Some("app_s")).expect("safe");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], r#"CREATE SCHEMA IF NOT EXISTS "app_s";"#);
        assert_eq!(
            lines[1],
            r#"CREATE TABLE IF NOT EXISTS "app_s".sluicegate_writeback_receipts ("#
        );
        assert_eq!(
            lines[lines.len() - 3..],
            [
                ");",
                "-- The writer finds the table through its search_path (`writeback grants --schema app_s` sets it), or with this URL option:",
                "--   ?options=-csearch_path%3Dapp_s%2Cpublic",
            ]
        );
        // `public` exists and is on every search_path: no CREATE SCHEMA, no search_path note.
        let public = migration_body(Engine::Postgres, Some("public")).expect("safe");
        assert!(public.starts_with(
            "CREATE TABLE IF NOT EXISTS \"public\".sluicegate_writeback_receipts (\n"
        ));
        assert!(
            public.ends_with(")\n;\n") || public.ends_with(");\n"),
            "{public}"
        );
        assert!(!public.contains("SCHEMA") && !public.contains("search_path"));
        assert_eq!(
            migration_body(Engine::Postgres, Some("a.b")),
            Err(ScriptError::UnsafeSchema)
        );
    }

    #[test]
    fn mysql_migration() {
        let body = migration_body(Engine::Mysql, Some("appdb")).expect("safe");
        assert_eq!(
            body,
            format!("USE `appdb`;\n{};\n", super::super::mysql::RECEIPT_DDL)
        );
        assert_eq!(
            migration_body(Engine::Mysql, Some("x`y")),
            Err(ScriptError::UnsafeSchema)
        );
    }

    #[test]
    fn sqlite_migration() {
        assert_eq!(
            migration_body(Engine::Sqlite, None),
            Ok(format!("{};\n", super::super::sqlite::RECEIPT_DDL))
        );
        assert_eq!(
            migration_body(Engine::Sqlite, Some("main")),
            Err(ScriptError::SqliteSchema)
        );
    }
}
