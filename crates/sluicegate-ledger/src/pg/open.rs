//! Opening and migrating a PostgreSQL ledger.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use sluicegate_core::config::Durability;

use super::{PgLedger, session};
use crate::{Backend, Clock, Ledger, LedgerError, system_clock};

/// What `sluicegate store migrate` did to a ledger's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SchemaMigration {
    pub engine: &'static str,
    /// The version found before migrating (0: a database no migration had touched).
    pub from: i64,
    /// The version now (this build's).
    pub to: i64,
}

impl SchemaMigration {
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

/// The schema version this build's PostgreSQL ledger has (its own count, apart from
/// SQLite's [`crate::SCHEMA_VERSION`]).
pub const POSTGRES_SCHEMA_VERSION: i64 = super::schema::SCHEMA_VERSION;

impl Ledger {
    /// Open the PostgreSQL ledger at `url` (a secret: never shown, never in an error). `label`
    /// names it where a SQLite ledger shows its path (e.g. `$SLUICEGATE_LEDGER_URL`). Refuses a
    /// schema older than this build's ([`LedgerError::SchemaOutdated`]: `store migrate` first)
    /// or newer ([`LedgerError::TooNew`]).
    pub fn open_postgres(
        url: &str,
        label: &str,
        durability: Durability,
    ) -> Result<Ledger, LedgerError> {
        Self::open_postgres_with_clock(url, label, durability, system_clock())
    }

    pub fn open_postgres_with_clock(
        url: &str,
        label: &str,
        durability: Durability,
        clock: Clock,
    ) -> Result<Ledger, LedgerError> {
        let pg = PgLedger::open(url, durability, clock.clone())?;
        Ok(Ledger {
            backend: Backend::Postgres(Arc::new(pg)),
            path: PathBuf::from(label),
            clock,
        })
    }

    /// Bring the PostgreSQL ledger at `url` to this build's schema (`sluicegate store
    /// migrate`), creating it in an empty database. Runs on a thread of its own (the blocking
    /// client must not run on an async runtime's thread).
    pub fn migrate_postgres(url: &str) -> Result<SchemaMigration, LedgerError> {
        let connector = session::Connector::new(url, Durability::Full)?;
        let (from, to) = std::thread::Builder::new()
            .name("ledger-pg-migrate".into())
            .spawn(move || {
                let mut client = connector.connect()?;
                super::schema::migrate(&mut client)
            })
            .map_err(|e| LedgerError::Io(format!("start the migration thread: {e}")))?
            .join()
            .map_err(|_| LedgerError::Io("the migration thread stopped".into()))??;
        Ok(SchemaMigration {
            engine: "postgres",
            from,
            to,
        })
    }
}
