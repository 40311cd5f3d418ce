//! Ledger operations for a team (`activity`, `events`, evidence/query-audit/receipt records,
//! store maintenance, job files, shadow records): the commands that list, search, stream,
//! export and maintain what the ledger keeps.
//!
//! Each module owns its clap arguments and its `run`, like `sluicegate-ui`; the binary only
//! resolves nothing, dispatches, and prints through a [`Printer`]. Nothing here faces a model:
//! these are human and operator tools beside the CLI. None of them approves; only `worker`
//! applies, and only through `ReviewApi::apply`, the CLI `apply`'s own path.

use std::process::ExitCode;

pub mod activity;
pub mod events;
mod filters;

/// Where a command's output goes. The binary's printer makes control characters visible and
/// stops quietly when the reader leaves, so every byte a command prints passes through it.
pub trait Printer {
    /// One chunk for stdout (include the newline).
    fn out(&mut self, text: &str);
    /// One chunk for stderr (include the newline).
    fn err(&mut self, text: &str);
    /// Whether stdout's reader has left: a command that follows the ledger stops then.
    fn closed(&self) -> bool {
        false
    }
}

/// What a command returns: its exit status (0 done, 1 ran and the answer is "no"), or an
/// error the binary prints before exiting 2 (could not run), like every other command.
pub type Outcome = anyhow::Result<ExitCode>;

mod common;
pub use common::{Paths, json_line, json_text};
pub mod jobs;
pub mod migrate;
pub mod records;
pub mod shadow;
pub mod store;
pub mod worker;

#[cfg(test)]
mod tests;
