//! The model-facing MCP surface: reviewed capabilities as tools, plus three read-only ledger
//! resources, served over stdio, Streamable HTTP and the legacy JSON-RPC bridge.
//!
//! Every transport goes through one [`Surface`]: the same tool list, the same argument
//! validation (binding check, then the tool's JSON Schema), the same runtime call and the same
//! result wrapping, so a served tool answers identically whichever way it is reached.
//!
//! This crate must never be able to approve, apply, run SQL or read a credential: it is handed
//! an [`sluicegate_runtime::AgentApi`] and nothing else that can touch a database. The HTTP
//! transports are locked down by default (loopback bind, bearer token compared in constant
//! time, `Host` and `Origin` allow-lists).

mod bridge;
mod error;
mod guard;
mod http;
mod resources;
pub mod serve;
mod server;
mod stdio;
mod surface;

pub use bridge::answer as answer_bridge_message;
pub use error::ServeError;
pub use guard::{HttpSecurity, is_loopback_host};
pub use http::{HttpOptions, HttpServer, Protocol};
pub use resources::ResourceError;
pub use server::McpHandler;
pub use stdio::serve_stdio;
pub use surface::{CallError, INSTRUCTIONS, Surface, wrap_result};

/// Re-exported so callers can cancel servers without naming `tokio-util` themselves.
pub use tokio_util::sync::CancellationToken;
