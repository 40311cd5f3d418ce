//! Static MCP database risk review (`sluicegate audit`) and the `mcp-efficiency` fixture benchmark.
//!
//! The audit engine (`discover` → `signals` → `rules` → `report`) is pure: it reads tool metadata
//! as JSON values and returns findings as values; it never calls a business tool, never touches a
//! database and never prints. The I/O edges are `target` (files), `live` (spawning stdio servers
//! and Streamable HTTP requests, always bounded by a timeout) and the binary, which renders and
//! chooses the exit code.
//!
//! This crate must not depend on the runtime crates: the audit is useful before anyone adopts
//! Sluicegate, so it only reads configs as JSON (see `config_tools`).

pub mod benchmark;
pub mod client_config;
pub mod command_line;
pub mod config_tools;
pub mod discover;
pub mod error;
pub mod example;
pub mod live;
pub mod report;
pub mod rules;
pub mod signals;
pub mod target;

pub use config_tools::{is_runner_config, served_tools_list, tools_from_config};
pub use error::{AuditError, LiveError, LiveErrorKind};
pub use example::{EXAMPLE_NAMES, example};
pub use report::{Format, Report, ServerOutcome, ServerStatus};
pub use rules::{Audit, Code, Finding, Risk, Severity, Summary, audit};
pub use target::{ConfigValidator, Options, Target, audit_target};
