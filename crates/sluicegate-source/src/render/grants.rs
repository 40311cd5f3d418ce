//! The SQL an operator runs by hand before direct writeback: the receipt table's DDL (optionally
//! in a named schema or database) and the grants the writer needs on it, per dialect. The
//! `writeback migration` and `writeback grants` commands print exactly these texts.
//!
//! Every statement for one dialect is built in one function here, so a change to what the writer
//! is granted (for example the business table's columns) is made in one place.

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
    /// A PostgreSQL writer role that is not a plain identifier.
    #[error("the writer role must be a plain identifier")]
    UnsafeRole,
    /// A MySQL writer account that could end the statement.
    #[error("the writer must be an account such as 'writer'@'%'")]
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
fn checked_schema(schema: Option<&str>) -> Result<Option<&str>, ScriptError> {
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
pub fn migration_body(engine: Engine, schema: Option<&str>) -> Result<String, ScriptError> {
    let ddl = |schema: &str| {
        receipt_table_ddl_in_schema(engine, schema).map_err(|_| ScriptError::UnsafeSchema)
    };
    Ok(match (engine, checked_schema(schema)?) {
        (Engine::Postgres, Some(s)) => format!(
            "CREATE SCHEMA IF NOT EXISTS \"{s}\";\n{};\n-- The writer finds the table through its search_path, e.g. with this URL option:\n--   ?options=-csearch_path%3D{s}%2Cpublic\n",
            ddl(s)?
        ),
        (Engine::Mysql, Some(s)) => format!("USE `{s}`;\n{};\n", receipt_table_ddl(engine)),
        (Engine::Sqlite, Some(_)) => return Err(ScriptError::SqliteSchema),
        (_, None) => format!("{};\n", receipt_table_ddl(engine)),
    })
}

/// The grants the writer needs on the receipt table, each line ending in `\n`. `schema` is the
/// PostgreSQL schema or MySQL database holding it; `writer` the PostgreSQL role or MySQL account
/// (a placeholder when absent). SQLite has no grants: the text says what it needs instead.
pub fn grants(
    engine: Engine,
    schema: Option<&str>,
    writer: Option<&str>,
) -> Result<String, ScriptError> {
    let schema = checked_schema(schema)?;
    match engine {
        Engine::Postgres => {
            let role = match writer {
                Some(r) if is_safe_identifier(r) => format!("\"{r}\""),
                Some(_) => return Err(ScriptError::UnsafeRole),
                None => "<writer_role>".into(),
            };
            Ok(postgres_grants(schema.unwrap_or("public"), &role))
        }
        Engine::Mysql => {
            let account = writer.unwrap_or("'<writer_user>'@'%'");
            if account.contains(';') {
                return Err(ScriptError::UnsafeAccount);
            }
            Ok(mysql_grants(schema.unwrap_or("<database_name>"), account))
        }
        Engine::Sqlite => Ok(
            "-- SQLite has no grants: the writer needs write access to the database file (and its directory, for the journal).\n"
                .into(),
        ),
    }
}

/// `schema` is a checked identifier, `role` a quoted one or the placeholder.
fn postgres_grants(schema: &str, role: &str) -> String {
    format!(
        "-- Grants for the Sluicegate writer on the receipt table.\n\
         GRANT USAGE ON SCHEMA \"{schema}\" TO {role};\n\
         GRANT SELECT, INSERT, UPDATE ON TABLE \"{schema}\".{RECEIPT_TABLE} TO {role};\n\
         -- Only if the writer should create the table itself:\n\
         -- GRANT CREATE ON SCHEMA \"{schema}\" TO {role};\n\
         -- ALTER ROLE {role} SET search_path = {};\n",
        search_path(schema)
    )
}

/// The writer's search_path: the receipt schema, then `public`. (With no schema given this
/// repeats `public`, as the command always has.)
fn search_path(schema: &str) -> String {
    format!("{schema}, public")
}

/// `db` is a checked identifier or the placeholder; `account` holds no `;`.
fn mysql_grants(db: &str, account: &str) -> String {
    format!(
        "-- Grants for the Sluicegate writer on the receipt table.\n\
         GRANT SELECT, INSERT, UPDATE ON `{db}`.{RECEIPT_TABLE} TO {account};\n\
         -- Only if the writer should create the table itself:\n\
         -- GRANT CREATE ON `{db}`.* TO {account};\n"
    )
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
                "-- The writer finds the table through its search_path, e.g. with this URL option:",
                "--   ?options=-csearch_path%3Dapp_s%2Cpublic",
            ]
        );
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

    #[test]
    fn postgres_grants_exact_text() {
        assert_eq!(
            grants(Engine::Postgres, Some("app_s"), Some("writer_r")).as_deref(),
            Ok(r#"-- Grants for the Sluicegate writer on the receipt table.
GRANT USAGE ON SCHEMA "app_s" TO "writer_r";
GRANT SELECT, INSERT, UPDATE ON TABLE "app_s".sluicegate_writeback_receipts TO "writer_r";
-- Only if the writer should create the table itself:
-- GRANT CREATE ON SCHEMA "app_s" TO "writer_r";
-- ALTER ROLE "writer_r" SET search_path = app_s, public;
"#)
        );
        assert_eq!(
            grants(Engine::Postgres, None, None).as_deref(),
            Ok(r#"-- Grants for the Sluicegate writer on the receipt table.
GRANT USAGE ON SCHEMA "public" TO <writer_role>;
GRANT SELECT, INSERT, UPDATE ON TABLE "public".sluicegate_writeback_receipts TO <writer_role>;
-- Only if the writer should create the table itself:
-- GRANT CREATE ON SCHEMA "public" TO <writer_role>;
-- ALTER ROLE <writer_role> SET search_path = public, public;
"#)
        );
        assert_eq!(
            grants(Engine::Postgres, None, Some("a-b")),
            Err(ScriptError::UnsafeRole)
        );
        assert_eq!(
            grants(Engine::Postgres, Some("a;b"), None),
            Err(ScriptError::UnsafeSchema)
        );
    }

    #[test]
    fn mysql_grants_exact_text() {
        assert_eq!(
            grants(Engine::Mysql, None, None).as_deref(),
            Ok("-- Grants for the Sluicegate writer on the receipt table.
GRANT SELECT, INSERT, UPDATE ON `<database_name>`.sluicegate_writeback_receipts TO '<writer_user>'@'%';
-- Only if the writer should create the table itself:
-- GRANT CREATE ON `<database_name>`.* TO '<writer_user>'@'%';
")
        );
        assert_eq!(
            grants(Engine::Mysql, Some("appdb"), Some("'w'@'10.%'")).as_deref(),
            Ok("-- Grants for the Sluicegate writer on the receipt table.
GRANT SELECT, INSERT, UPDATE ON `appdb`.sluicegate_writeback_receipts TO 'w'@'10.%';
-- Only if the writer should create the table itself:
-- GRANT CREATE ON `appdb`.* TO 'w'@'10.%';
")
        );
        assert_eq!(
            grants(Engine::Mysql, None, Some("'a'@'%';drop")),
            Err(ScriptError::UnsafeAccount)
        );
    }

    #[test]
    fn sqlite_has_no_grants() {
        assert_eq!(
            grants(Engine::Sqlite, Some("ignored"), Some("ignored")).as_deref(),
            Ok(
                "-- SQLite has no grants: the writer needs write access to the database file (and its directory, for the journal).\n"
            )
        );
    }
}
