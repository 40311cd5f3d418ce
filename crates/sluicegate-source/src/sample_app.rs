//! The embedded sample application behind `sluicegate demo`: a tiny billing database with
//! invoices of two tenants, in a SQLite file.
//!
//! It plays the part of the customer's own app, which owns its database: it creates the data,
//! and it can edit a row behind the agent's back (to show the stale-write guard). Sluicegate
//! itself never writes here except through the guarded writeback path.

use std::path::Path;

use rusqlite::Connection;
use serde_json::{Map, Value};

const SCHEMA: &str = "
CREATE TABLE invoices (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  customer_name TEXT NOT NULL,
  status TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  late_fee_cents INTEGER NOT NULL,
  waiver_reason TEXT,
  internal_risk_note TEXT,
  updated_at TEXT NOT NULL
);
INSERT INTO invoices VALUES
  ('INV-3001', 'acme', 'Acme Robotics', 'overdue', 25000, 5500, NULL, 'watchlist: disputed charge in 2025', '2026-06-20T14:31:08.000Z'),
  ('INV-3002', 'acme', 'Acme Robotics', 'overdue', 12000, 2500, NULL, NULL, '2026-06-21T09:12:40.000Z'),
  ('INV-9001', 'otherco', 'OtherCo Labs', 'overdue', 99000, 7500, NULL, 'enterprise contract, do not discuss', '2026-06-20T14:31:08.000Z');
";

/// Create (or recreate) the sample app database at `path`, with Sluicegate's receipt table
/// as `sluicegate writeback migration` prints it (the app's owner ran it, as a real
/// deployment's admin does: apply never creates it).
pub fn create(path: &Path) -> rusqlite::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let conn = Connection::open(path)?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(crate::render::sqlite::RECEIPT_DDL)
}

/// Every column of one invoice, as the app sees it.
pub fn row(path: &Path, id: &str) -> rusqlite::Result<Map<String, Value>> {
    let conn = Connection::open(path)?;
    let mut stmt = conn.prepare("SELECT * FROM invoices WHERE id = ?1")?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    stmt.query_row([id], |r| {
        let mut out = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                rusqlite::types::ValueRef::Real(f) => Value::from(f),
                rusqlite::types::ValueRef::Text(t) => {
                    Value::String(String::from_utf8_lossy(t).into_owned())
                }
                rusqlite::types::ValueRef::Blob(_) => Value::String("<blob>".into()),
            };
            out.insert(name.clone(), v);
        }
        Ok(out)
    })
}

/// All invoices, keyed by id, for before/after comparisons.
pub fn snapshot(path: &Path) -> rusqlite::Result<Vec<(String, Map<String, Value>)>> {
    let ids: Vec<String> = {
        let conn = Connection::open(path)?;
        let mut stmt = conn.prepare("SELECT id FROM invoices ORDER BY id")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    ids.into_iter()
        .map(|id| row(path, &id).map(|r| (id, r)))
        .collect()
}

/// Ids of rows that differ between two snapshots.
pub fn changed_rows(
    before: &[(String, Map<String, Value>)],
    after: &[(String, Map<String, Value>)],
) -> Vec<String> {
    after
        .iter()
        .filter(|(id, row)| {
            before
                .iter()
                .find(|(b, _)| b == id)
                .is_none_or(|(_, b)| b != row)
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// The app itself edits an invoice (a payment arrives), bumping its version column.
pub fn app_edit(path: &Path, id: &str) -> rusqlite::Result<()> {
    Connection::open(path)?.execute(
        "UPDATE invoices SET status = 'paid', updated_at = '2026-06-22T08:00:00.000Z' WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Columns of `invoices` that a capability reading `read_columns` never selects.
pub fn hidden_columns(path: &Path, read_columns: &[String]) -> rusqlite::Result<Vec<String>> {
    let conn = Connection::open(path)?;
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('invoices') ORDER BY cid")?;
    let all: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(all
        .into_iter()
        .filter(|c| !read_columns.contains(c))
        .collect())
}

/// Set an invoice's version column (tests use it to give a row sub-millisecond precision).
pub fn set_updated_at(path: &Path, id: &str, updated_at: &str) -> rusqlite::Result<()> {
    Connection::open(path)?.execute(
        "UPDATE invoices SET updated_at = ?2 WHERE id = ?1",
        [id, updated_at],
    )?;
    Ok(())
}
