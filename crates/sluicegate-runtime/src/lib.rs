//! Services shared by every front end (MCP transports, CLI, review UI).
//!
//! [`AgentApi`] runs model-facing reads and proposals; [`ReviewApi`] records human decisions and
//! runs writeback. A front end that faces a model is handed only an `AgentApi`: nothing reachable
//! from it can approve, apply, run SQL or read a credential.

mod agent;
pub mod client_files;
pub mod demo;
pub mod doctor;
mod env;
pub mod failpoint;
pub mod first_read;
pub mod handler;
pub mod handler_templates;
pub mod integrity;
pub mod ledger_store;
pub mod onboarding;
pub mod paths;
mod records;
mod review;
pub mod reviewer;
pub mod serve_env;
pub mod startup;
pub mod view;
pub mod webhook;
pub mod worker;

pub use agent::AgentApi;
pub use env::{Env, Secret};
pub use records::{RecordError, RecordKind};
pub use review::{
    ApplyOptions, ApplyReport, DecisionRequest, JobFileOptions, ReviewApi, ReviewError, ValidJob,
    shown_for_decision,
};

/// The current time as the ledger and protocol documents write it.
pub fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
