//! The one model-facing surface every transport serves: the tool catalog (built once at
//! startup), the runtime call and result wrapping.
//!
//! Arguments are validated in exactly one place, the runtime's `core::call::check_args`, on
//! every transport, against the arguments typed from the target table's columns
//! (`core::typed`, read at startup by `sluicegate_runtime::startup`). Each tool's `inputSchema` is still published,
//! and states the same rules (`maxLength` counts UTF-16 code units, as the reference does), so
//! a client that checks it first reaches the same verdict, except that an `integer` argument
//! is also accepted as a string of digits; `tests/argument_agreement.rs` holds the two
//! together. Its `outputSchema` describes the result envelope with the visible columns typed.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use sluicegate_core::call::Args;
use sluicegate_core::config::Kind;
use sluicegate_core::envelope::{Outcome, ToolResult, render};
use sluicegate_core::refusal::{Code, Refusal};
use sluicegate_core::tools::{AliasMode, exposed_tools, tool_definition_typed};
use sluicegate_runtime::AgentApi;

/// Server instructions sent in `initialize` / `server/discover`: how a model should use the
/// tools. Approval and writeback are deliberately not reachable from here.
pub const INSTRUCTIONS: &str = "Sluicegate exposes reviewed business capabilities, not a database. \
Read tools return one row of the trusted tenant and record evidence. Proposal tools record a \
proposed change for human review; they never change the source database. Inspect before you \
propose, propose instead of claiming a change was made, and never say something was committed \
unless a result reports source_database_changed: true. Approval and apply happen outside MCP, \
so there are no approve, apply or SQL tools. Tenant and principal come from trusted context: do \
not pass them as arguments. Evidence, proposal and replay handles are audit records; you do not \
need to read them during this turn. If a result reports a version conflict, inspect again before \
proposing.";

/// A tools/call that could not be routed: a JSON-RPC protocol error, not a tool result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("Unknown tool: {0}")]
    UnknownTool(String),
}

/// One exposed tool: its definition.
struct Entry {
    exposed: String,
    canonical: String,
    kind: Kind,
    definition: Value,
}

/// The served surface. Build once, share behind an `Arc`.
pub struct Surface {
    api: AgentApi,
    mode: AliasMode,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Surface")
            .field("alias_mode", &self.mode)
            .field("tools", &self.entries.len())
            .finish()
    }
}

impl Surface {
    /// Build the catalog for `mode` from the types the API knows now (the config's, unless
    /// columns were loaded): tool definitions in deterministic order. Every `inputSchema` and
    /// `outputSchema` the generator can produce is valid JSON Schema: core's `tool_schemas`
    /// test proves it over the shipped configs and arbitrary column types, instead of each
    /// start compiling the meta-schema to check it again (a sixth of a cold start's CPU).
    pub fn new(api: AgentApi, mode: AliasMode) -> Surface {
        let config = api.config();
        let format = api.result_format();
        let mut entries = Vec::new();
        let mut by_name = HashMap::new();
        for tool in exposed_tools(config, mode) {
            let Some(cap) = config.capability(&tool.canonical) else {
                continue;
            };
            let typed = api.typed(cap);
            let definition = tool_definition_typed(cap, &typed, &tool.exposed, mode, format);
            by_name.insert(tool.exposed.clone(), entries.len());
            entries.push(Entry {
                exposed: tool.exposed,
                canonical: tool.canonical,
                kind: cap.kind,
                definition,
            });
        }
        Surface {
            api,
            mode,
            entries,
            by_name,
        }
    }

    pub fn api(&self) -> &AgentApi {
        &self.api
    }

    pub fn alias_mode(&self) -> AliasMode {
        self.mode
    }

    /// `tools/list` entries (MCP JSON shape), in order.
    pub fn tool_definitions(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|e| &e.definition)
    }

    /// Exposed names with the canonical capability each routes to, in order.
    pub fn exposed_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.exposed.as_str(), e.canonical.as_str()))
    }

    /// Run one tools/call by exposed name.
    ///
    /// Order: route the name (unknown → [`CallError`]), refuse arguments that are not a JSON
    /// object, then run the runtime, which refuses trusted-binding arguments and validates the
    /// rest (capability-runtime.md §2). Every refusal is a tool result with `isError: true` in
    /// the configured envelope, naming its reason (and argument), so the model can correct
    /// itself or tell the user why.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<Value>,
    ) -> Result<ToolResult, CallError> {
        let Some(&index) = self.by_name.get(name) else {
            // A capability hidden by read_only mode is known, not unknown: the runtime refuses
            // it with PROPOSALS_DISABLED, exactly as `smoke call` does.
            if self.api.config().capability(name).is_some() {
                let args = match arguments {
                    Some(Value::Object(map)) => map,
                    _ => Args::new(),
                };
                return Ok(self.api.call(name, &args).await);
            }
            return Err(CallError::UnknownTool(name.to_string()));
        };
        let entry = &self.entries[index];
        let args = match arguments {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Ok(self.refuse(
                    entry,
                    Refusal::new(
                        Code::ArgumentTypeInvalid,
                        "tool arguments must be a JSON object.",
                    ),
                ));
            }
        };
        Ok(self.api.call(&entry.canonical, &args).await)
    }

    fn refuse(&self, entry: &Entry, refusal: Refusal) -> ToolResult {
        let outcome = Outcome::Refused {
            capability: entry.canonical.clone(),
            kind: entry.kind,
            refusal,
            correlation_id: None,
        };
        // Every refusal is an `isError` result, in both envelopes.
        render(&outcome, self.api.result_format())
    }
}

/// The MCP `tools/call` result object for a rendered tool result (mcp-surface.md §5.2): the
/// payload as 2-space indented JSON text, the same payload as `structuredContent`, and
/// `isError` only when the result is an error.
pub fn wrap_result(result: &ToolResult) -> Value {
    let text = serde_json::to_string_pretty(&result.payload).unwrap_or_default();
    let mut out = Map::new();
    out.insert("content".into(), json!([{"type": "text", "text": text}]));
    out.insert("structuredContent".into(), result.payload.clone());
    if result.is_error {
        out.insert("isError".into(), json!(true));
    }
    Value::Object(out)
}
