//! Durability of a SQLite ledger: what is in force, and where the WAL that gets fsynced is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use serde_json::json;
use sluicegate_core::evidence::record_read;
use sluicegate_ledger::Ledger;

use common::*;

/// The durability asked for is the one in force: durable (an fsync of the WAL per commit
/// group, by the sync thread or the writer) unless a config opts out. The order commit →
/// fsync → answer is held in the writer's tests and observed from outside, with strace, in
/// the binary's `ledger_durability` test.
#[test]
fn durability_is_full_unless_relaxed_is_asked_for() {
    use sluicegate_ledger::Durability;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let full = Ledger::open(&path).unwrap();
    assert_eq!(full.durability_in_force().wait().unwrap(), Durability::Full);
    drop(full);
    let relaxed = Ledger::open_with(&path, Durability::Relaxed).unwrap();
    assert_eq!(
        relaxed.durability_in_force().wait().unwrap(),
        Durability::Relaxed
    );
}

/// A ledger opened through a symlink: SQLite keeps the WAL beside the file the link points to,
/// and that is the WAL the sync thread must fsync, or no call would ever be answered as
/// recorded.
#[cfg(unix)]
#[test]
fn a_durable_ledger_opened_through_a_symlink_records() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real").join("ledger.db");
    let link = dir.path().join("ledger.db");
    // The file must exist for the link to resolve; an empty file is a new database.
    std::fs::write(&target, b"").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let ledger = Ledger::open(&link).unwrap();
    assert_eq!(ledger.index_evidence_now().wait().unwrap(), 0);
    let cfg = config("review");
    let at = "2026-06-20T14:31:09.000Z";
    let read = record_read(
        &cfg.capabilities[0],
        &ctx(),
        &row("INV-1", 5500),
        1,
        &json!("INV-1"),
        at,
    );
    ledger.record_read(read.bundle, read.audit).wait().unwrap();
    assert!(dir.path().join("real").join("ledger.db-wal").exists());
}
