//! `sluicegate store migrate` on a SQLite ledger: opening one migrates it (its migrations are
//! O(1) once applied), so this reports the versions before and after.

use std::path::Path;

use crate::{Ledger, LedgerError, SCHEMA_VERSION, SchemaMigration};

impl Ledger {
    /// Open (creating when missing) and migrate the SQLite ledger at `path`; the versions
    /// before (0: a new file) and after.
    pub fn migrate_sqlite(path: &Path) -> Result<SchemaMigration, LedgerError> {
        let from = if path.exists() {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            conn.pragma_query_value(None, "user_version", |r| r.get(0))?
        } else {
            0
        };
        drop(Ledger::open(path)?);
        Ok(SchemaMigration {
            engine: "sqlite",
            from,
            to: SCHEMA_VERSION,
        })
    }
}
