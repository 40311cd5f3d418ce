//! The crate's integration tests as one binary: each `tests/*.rs` file is a module here, and
//! `autotests = false` in Cargo.toml keeps cargo from building each as its own binary. Each
//! test binary links the whole stack (40-70 MB): 99 of them took 3.1 GB here, and a CI run's
//! linker crashed the way lld does on a full disk while linking them. A new test file must be
//! added below; xtask's hygiene rules check that it is.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
mod activity;
mod claims;
mod durability;
mod evidence_search;
mod inbox;
mod ledger;
mod ledger_postgres;
mod maintenance;
mod tamper;
