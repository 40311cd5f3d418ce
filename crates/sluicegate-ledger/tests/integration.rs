//! The crate's integration tests as one binary: each `tests/*.rs` file is a module here, and
//! `autotests = false` in Cargo.toml keeps cargo from building each as its own binary. One
//! binary links once: separate ones cost a link and ~50 MB of disk each (65 of them filled
//! 3 GB), and a CI run's linker crashed the way lld does on a full disk while linking them.
//! A new test file must be added below; xtask's hygiene rules check that it is.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
mod activity;
mod claims;
mod evidence_search;
mod inbox;
mod ledger;
mod ledger_postgres;
mod maintenance;
mod tamper;
