//! The pure domain of Sluicegate.
//!
//! Config validation into a `Catalog`, planning of reads and proposals, evidence, change sets and
//! their hashes, guards, the proposal lifecycle and replay composition. This crate must not do
//! I/O, read the clock or the environment, or use randomness: time, ids and env values are
//! passed in, so every function is deterministic and testable without a database.

pub mod authority;
pub mod call;
pub mod chain;
pub mod client_config;
pub mod columns;
pub mod config;
pub mod decision;
pub mod display;
pub mod envelope;
pub mod evidence;
pub mod handler;
pub mod ident;
pub mod json;
pub mod lifecycle;
pub mod onboarding;
pub mod origin;
pub mod proposal;
pub mod refusal;
pub mod secrets;
pub mod serve_env;
pub mod tools;
pub mod typed;
pub mod writeback;
