//! Source database access: the only crate that talks to PostgreSQL, MySQL/MariaDB or SQLite
//! sources.
//!
//! It renders SQL for each dialect from validated identifiers only, binds every value as a
//! parameter, runs reads on read-only connections and performs the guarded single-row writeback.
//! It must not decide policy: what to read and what may be written comes from `sluicegate-core`.
//!
//! * [`Sources`] reads: one pool per source, created on first use, read-only at the engine
//!   (PostgreSQL startup options, a MySQL session setting, a read-only SQLite file handle).
//! * [`Sources::columns`] reads a table's column types from the catalog (once per source and
//!   table) for the proposal-time checks of `sluicegate_core::columns`.
//! * [`apply_guarded_update`] writes: one guarded UPDATE in one transaction, idempotent
//!   through the `sluicegate_writeback_receipts` table (which it never creates: an admin
//!   does), advancing a version column Sluicegate maintains and comparing a row-hash guard's
//!   columns in SQL. [`lookup_writer`] finds where the writer's statements go,
//!   [`check_writer`] probes what it may do (rolled back), and [`create_receipt_table`] is
//!   `doctor --fix` through an admin URL.
//! * [`privileges`] says what the writer and the reader of a source need; the grants printed
//!   for them and the doctor's statements come from [`grants`] and its single-statement
//!   helpers.
//! * Values come back faithful (spec README §3.7): JSON as JSON, exact decimals as strings,
//!   RFC 3339 UTC timestamps that keep their microseconds, unsafe integers as strings, and
//!   bytes as `\x`-prefixed hex on every engine.
//!
//! * TLS when the URL asks for it: PostgreSQL `sslmode=require` (or `verify-ca`/`verify-full`,
//!   optionally `sslrootcert=<path>`), MySQL `require_ssl=true` (optionally `ssl_ca=<path>`).
//!   Server certificates are always verified against the platform roots plus that file.
//!
//! The `test-hooks` cargo feature (off by default, enabled only by dev-dependencies) adds
//! hidden ways to run raw SQL on a read connection: tests prove that the engine refuses writes
//! there, and the runtime's read-path bench times the bare query on the connection reads use.

mod codes;
mod columns;
mod error;
pub mod inspect;
mod mysql;
mod postgres;
pub mod privileges;
mod render;
pub mod sample_app;
mod sources;
mod sqlite;
mod tls;
mod value;
mod writeback;

pub use error::{EngineCode, SourceError, SourceErrorKind};
pub use render::RECEIPT_TABLE;
pub use render::grants::{
    DEFAULT_READER, DEFAULT_WRITER, Grantee, GrantsRequest, Privilege, grants, receipt_grant,
    search_path_statement, table_grant, usage_grant,
};
pub use render::migration::{
    ScriptError, migration_body, migration_header, receipt_table_ddl, receipt_table_ddl_in_schema,
};
pub use sources::{EnvLookup, Sources};
pub use sqlite::sqlite_path;
pub use writeback::{
    ConflictCheck, GuardedUpdate, Lack, ReceiptFix, Trouble, WriteOutcome, WriteStatus,
    WriterCheck, WriterLookup, apply_guarded_update, check_writer, create_receipt_table,
    lookup_writer,
};
