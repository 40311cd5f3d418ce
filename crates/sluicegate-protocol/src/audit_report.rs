//! `synapsor.mcp-audit.v1`: the JSON document of the static MCP database risk review.
//!
//! Only the `schema_version` lives here; `sluicegate-audit` builds and renders the document.

pub const MCP_AUDIT_V1: &str = "synapsor.mcp-audit.v1";
