//! The ledger: Sluicegate's local SQLite record of evidence, query audit, proposals, decisions,
//! writeback jobs, receipts and events.
//!
//! Facts are append-only; a proposal's state is a projection of its recorded transitions,
//! updated in the same transaction that appends the event. It must never touch a source
//! database and never persist secret material.
