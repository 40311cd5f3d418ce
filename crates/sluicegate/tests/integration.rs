//! The crate's integration tests as one binary: each `tests/*.rs` file is a module here, and
//! `autotests = false` in Cargo.toml keeps cargo from building each as its own binary. Each
//! test binary links the whole stack (40-70 MB): 99 of them took 3.1 GB here, and a CI run's
//! linker crashed the way lld does on a full disk while linking them. A new test file must be
//! added below; xtask's hygiene rules check that it is.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sluicegate-runtime/tests/apply_support/app.rs"]
mod app;
mod apply_crash;
mod audit_cli;
mod audit_live_http;
mod chinook;
mod chinook_deployment;
mod cli;
mod desktop_clients;
mod doctor;
mod events_cli;
mod events_postgres;
mod fleet;
mod fleet_restart;
mod handler_cli;
mod handler_example;
mod handler_support;
mod handler_templates;
mod honest_screens;
mod ledger_contention;
mod ledger_crash;
mod ledger_durability;
mod ledger_ops;
mod ledger_postgres_serve;
mod mcp_clients;
mod mcp_refusals;
mod mcp_support;
mod mcp_transports;
mod onboarding;
mod review_ui;
mod review_ui_api;
mod review_ui_postgres;
mod scaling_doc;
mod serve_startup;
mod store_migrate;
mod worker_cli;
mod worker_takeover;
mod writer_grants;
