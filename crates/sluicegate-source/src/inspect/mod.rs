//! Schema inspection for onboarding: catalog metadata only, never a business row.
//!
//! Everything is read from catalogs the recommended SELECT-only user can see, inside a
//! read-only transaction with a statement timeout. `information_schema.table_constraints`
//! hides the keys of tables such a user only reads (PostgreSQL shows a table's constraints
//! to its owner or a holder of a privilege other than SELECT; MariaDB filters likewise), so
//! keys come from elsewhere:
//!
//! * PostgreSQL ([`postgres`]): tables and columns from `information_schema`; primary,
//!   unique and foreign keys from `pg_constraint` (plus unique indexes from `pg_index`),
//!   update triggers from `pg_trigger` with their function's source.
//! * MySQL/MariaDB ([`mysql`]): keys from `information_schema.STATISTICS` and
//!   `KEY_COLUMN_USAGE`, update triggers from `TRIGGERS` as far as the user may see them
//!   (the TRIGGER privilege), `ON UPDATE CURRENT_TIMESTAMP` from `COLUMNS.EXTRA`.
//! * SQLite ([`sqlite`]): `sqlite_master` and the `pragma_*` table functions on a read-only
//!   file handle.
//!
//! The rows come back as a [`RawCatalog`]; grouping and the classification heuristics are
//! pure and live in `sluicegate_core::onboarding::inspection`.
//!
//! Errors are [`SourceError`]s whose [`SourceError::category`] is safe to print: messages
//! never carry the URL, host, user or password.

use sluicegate_core::config::Engine;
use sluicegate_core::onboarding::inspection::RawCatalog;
use sluicegate_core::secrets::Secret;

use crate::error::{SourceError, SourceErrorKind, unavailable};
use crate::sqlite::sqlite_path;

mod mysql;
mod postgres;
mod sqlite;

/// Statement timeout of every catalog query. Longer than a capability read's default: a
/// catalog with thousands of tables is a bigger question than one row.
const STATEMENT_TIMEOUT_MS: u64 = 10_000;

/// How far an inspection has got, for a progress indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectStep {
    Connected,
    /// Tables and views listed (their number).
    Objects(usize),
    /// Columns listed (their number).
    Columns(usize),
    Constraints,
    ForeignKeys,
    Indexes,
}

/// Number of steps an inspection reports, for a progress bar's length.
pub const INSPECT_STEPS: u64 = 6;

/// Read the catalog of the database at `url`. `schema` narrows it to one schema (the attached
/// database for SQLite); without it, PostgreSQL lists every non-system schema and MySQL the
/// URL's current database (or every database when the URL names none).
pub async fn inspect(
    url: &Secret,
    engine: Engine,
    schema: Option<&str>,
    progress: &(dyn Fn(InspectStep) + Send + Sync),
) -> Result<RawCatalog, SourceError> {
    if url.is_blank() {
        return Err(SourceError::credential_missing("the database URL env var"));
    }
    let url = url.expose();
    let raw = match engine {
        Engine::Postgres => postgres::inspect(url, schema, progress).await?,
        Engine::Mysql => mysql::inspect(url, schema, progress).await?,
        Engine::Sqlite => {
            let path = sqlite_path(url);
            let schema = schema.unwrap_or("main").to_string();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let task = tokio::task::spawn_blocking(move || {
                sqlite::inspect(&path, &schema, &|s| {
                    let _ = tx.send(s);
                })
            });
            // Relay progress from the blocking thread as it happens.
            let mut task = task;
            loop {
                tokio::select! {
                    Some(step) = rx.recv() => progress(step),
                    done = &mut task => {
                        while let Ok(step) = rx.try_recv() {
                            progress(step);
                        }
                        break done.map_err(|_| unavailable(SourceErrorKind::ConnectionFailed, "the inspection task failed"))??;
                    }
                }
            }
        }
    };
    if let Some(s) = schema
        && !raw.schemas.iter().any(|x| x == s)
    {
        // The catalog, not an error message, says the schema is missing.
        return Err(SourceError::new(
            SourceErrorKind::ObjectNotFound,
            None,
            format!("schema {s} does not exist or is not visible to this user"),
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use sluicegate_core::onboarding::inspection::RawConstraint;

    use super::*;

    #[tokio::test]
    async fn sqlite_catalog_without_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT);
             CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, account_id TEXT REFERENCES accounts(id), late_fee_cents INTEGER, api_token TEXT, updated_at TEXT, total REAL GENERATED ALWAYS AS (late_fee_cents * 1.0) VIRTUAL, UNIQUE (tenant_id, id));
             CREATE VIEW open_invoices AS SELECT id, tenant_id FROM invoices;
             INSERT INTO invoices (id, tenant_id) VALUES ('secret-row-value', 'acme');",
        )
        .expect("schema");
        drop(conn);
        let steps = std::sync::Mutex::new(Vec::new());
        let raw = inspect(
            &format!("sqlite://{}", path.display()).into(),
            Engine::Sqlite,
            None,
            &|s| steps.lock().expect("lock").push(s),
        )
        .await
        .expect("inspect");
        assert_eq!(raw.schemas, ["main"]);
        let names: Vec<&str> = raw.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["accounts", "invoices", "open_invoices"]);
        let pk: Vec<&RawConstraint> = raw
            .constraints
            .iter()
            .filter(|c| c.table == "invoices" && c.kind == "PRIMARY KEY")
            .collect();
        assert_eq!(pk.len(), 1);
        assert!(
            raw.constraints
                .iter()
                .any(|c| c.kind == "UNIQUE" && c.column == "tenant_id")
        );
        assert_eq!(raw.foreign_keys[0].referenced_table, "accounts");
        let total = raw
            .columns
            .iter()
            .find(|c| c.name == "total")
            .expect("generated column");
        assert_eq!(total.is_generated.as_deref(), Some("VIRTUAL"));
        assert!(!format!("{raw:?}").contains("secret-row-value"));
        assert_eq!(steps.lock().expect("lock").len() as u64, INSPECT_STEPS);

        let missing = inspect(
            &format!("sqlite://{}/nope.db", dir.path().display()).into(),
            Engine::Sqlite,
            None,
            &|_| {},
        )
        .await
        .expect_err("missing file");
        assert_eq!(missing.category(), "connection failed");
        assert!(!missing.to_string().contains("nope.db"), "{missing}");
        let err = inspect(
            &format!("sqlite://{}", path.display()).into(),
            Engine::Sqlite,
            Some("other"),
            &|_| {},
        )
        .await
        .expect_err("unknown schema");
        assert_eq!(err.category(), "configured object not found");
    }
}
