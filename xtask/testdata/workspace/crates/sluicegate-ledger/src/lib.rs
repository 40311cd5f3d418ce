//! Fixture crate sluicegate-ledger for the xtask tidy tests (never built).
