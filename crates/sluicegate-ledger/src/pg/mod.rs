//! The ledger on PostgreSQL: one database many servers share, behind the same [`Ledger`]
//! handle and with the same records, ids and hash chains as the SQLite ledger.
//!
//! **Client.** The blocking `postgres` crate (a thin layer over the workspace's
//! tokio-postgres). Each of its clients runs a private tokio runtime and blocks on it, which
//! panics on a thread that already drives a tokio runtime. So no caller's thread ever touches a
//! client: every client is owned by a thread this module starts (the writer, `writer.rs`, and a
//! few readers, `session.rs`), and callers hand those threads closures over std channels and
//! wait on the answer (`Pending` for writes, as on SQLite). A caller on an async runtime's
//! blocking pool, the CLI's main thread or a test thread all just wait on a channel. Driving
//! tokio-postgres ourselves would need the same threads plus a runtime per thread to feed them.
//!
//! **Concurrency.** There is no lock around the ledger: each write that touches an existing
//! proposal locks that proposal's row (`SELECT … FOR UPDATE`) first, so two servers recording on
//! one proposal take turns and each sees the other's committed events and state; state moves
//! are compare-and-set `UPDATE … WHERE state = $expected` as on SQLite. Writes to different
//! proposals never wait on each other.
//!
//! **Event order.** `bigserial` ids are drawn when a row is inserted but become visible when
//! their transaction commits, so a feed reading "after id N" could pass over an id another
//! server's transaction has drawn and not yet committed. The feed (`feed.rs`) therefore orders
//! events by `(tx_id, event_id)`, where `tx_id` is the writing transaction's
//! `pg_current_xact_id()`, and hands out only events whose `tx_id` is below
//! `pg_snapshot_xmin(pg_current_snapshot())`: every transaction with a smaller id has ended, and
//! every later one gets a larger id, so that prefix of the order never grows in the middle. An
//! event id stays the cursor: "after N" means after event N's place in that order. One
//! proposal's events must keep their chain order in the feed too, so a job that finds its
//! proposal's last event written by a transaction with a larger id than its own (possible when
//! its group's transaction began before the other one) steps out of the group and runs again
//! alone, in a transaction that starts with the proposal's lock (`writer.rs`). The price: a
//! transaction that stays open anywhere on the PostgreSQL server holds the feed back until it
//! ends (never loses or reorders anything).

mod activity;
mod claims;
mod export;
mod feed;
mod inbox;
mod open;
#[cfg(test)]
mod plan_tests;
mod query;
mod read;
mod rows;
mod schema;
mod search;
#[cfg(test)]
mod search_plans;
mod session;
mod stmts;
#[cfg(test)]
mod upgrade_tests;
mod webhook;
mod write;
mod writer;
#[cfg(test)]
mod writer_tests;

use std::sync::Arc;

use sluicegate_core::config::Durability;

use crate::{Clock, LedgerError, Pending};

pub use claims::WorkSignal;
pub(crate) use export::range_end;
pub use open::{POSTGRES_SCHEMA_VERSION, SchemaMigration};

/// A PostgreSQL ledger: its writer thread and its reader threads.
pub(crate) struct PgLedger {
    writer: writer::PgWriter,
    readers: session::Readers,
    /// For connections of their own (a worker's `LISTEN`).
    connector: Arc<session::Connector>,
}

impl PgLedger {
    /// Connect, refuse a schema other than this build's, and start the threads.
    pub(crate) fn open(
        url: &str,
        durability: Durability,
        clock: Clock,
    ) -> Result<PgLedger, LedgerError> {
        let connector = Arc::new(session::Connector::new(url, durability)?);
        let readers = session::Readers::start(connector.clone())?;
        readers.run(schema::check)?;
        let writer = writer::PgWriter::start(connector.clone(), clock)?;
        Ok(PgLedger {
            writer,
            readers,
            connector,
        })
    }

    /// A PostgreSQL ledger cannot be deleted or replaced under a server the way a file can:
    /// always true. A database that is down refuses each record with its error (a call is
    /// never served unrecorded), and the next record connects again.
    pub(crate) fn is_available(&self) -> bool {
        true
    }

    /// What the writer's session runs with: `synchronous_commit` read back from the server.
    pub(crate) fn durability_in_force(&self) -> Pending<Durability> {
        self.writer.submit(|tx, _| {
            let level: String = tx.query_one("SHOW synchronous_commit", &[])?.get(0);
            Ok(if level == "off" {
                Durability::Relaxed
            } else {
                Durability::Full
            })
        })
    }
}
