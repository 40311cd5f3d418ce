//! Source database access: the only crate that talks to PostgreSQL, MySQL/MariaDB or SQLite
//! sources.
//!
//! It renders SQL for each dialect from validated identifiers only, binds every value as a
//! parameter, runs reads on read-only connections and performs the guarded single-row writeback.
//! It must not decide policy: what to read and what may be written comes from `sluicegate-core`.
