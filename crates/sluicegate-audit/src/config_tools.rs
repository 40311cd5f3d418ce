//! Tool metadata derived straight from a runner config (`sluicegate.json` / `synapsor.runner.json`).
//!
//! Two shapes, both per `mcp-surface.md` §3–4: the runtime metadata the audit inspects (§4.3:
//! per-arg input map, not a JSON Schema) and the MCP `tools/list` the server serves (§4.1–4.2,
//! measured by `benchmark mcp-efficiency --config`).
//!
//! This module does not validate the config beyond what it needs to read; the binary is expected
//! to validate with `sluicegate-core` first (as the reference does before auditing a config) and
//! only then call these functions. `served_tools_list` is the single seam to swap for the real MCP
//! server's list once that exists.

use serde_json::{Map, Value, json};

const EVIDENCE_LINE: &str = "Evidence handles are audit/replay handles; the model does not need to call them during this turn.";

/// True when `value` looks like a runner config: an object with `version` 1 and a `capabilities`
/// array.
pub fn is_runner_config(value: &Value) -> bool {
    value.get("version").and_then(Value::as_f64) == Some(1.0)
        && value.get("capabilities").is_some_and(Value::is_array)
}

/// One capability, read just far enough to describe its tool.
struct Capability<'a> {
    name: &'a str,
    source: &'a str,
    is_read: bool,
    description: Option<&'a str>,
    returns_hint: Option<&'a str>,
    schema: &'a str,
    table: &'a str,
    args: Vec<(&'a str, &'a Map<String, Value>)>,
}

/// The capabilities listed to the model for the config's mode, in config order
/// (`read_only` hides proposals).
fn listed_capabilities(config: &Value) -> Result<Vec<Capability<'_>>, String> {
    let capabilities = config
        .get("capabilities")
        .and_then(Value::as_array)
        .ok_or("config has no capabilities array")?;
    let read_only = config.get("mode").and_then(Value::as_str) == Some("read_only");
    let mut listed = Vec::new();
    for (i, capability) in capabilities.iter().enumerate() {
        let at = format!("$.capabilities[{i}]");
        let object = capability
            .as_object()
            .ok_or_else(|| format!("{at} is not an object"))?;
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        let name = text("name").ok_or_else(|| format!("{at}.name is missing"))?;
        let is_read = match text("kind") {
            Some("read") => true,
            Some("proposal") => false,
            _ => return Err(format!("{at}.kind must be read or proposal")),
        };
        if read_only && !is_read {
            continue;
        }
        let target = object
            .get("target")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{at}.target is missing"))?;
        let target_part = |key: &str| {
            target
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}.target.{key} is missing"))
        };
        let args = object
            .get("args")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{at}.args is missing"))?
            .iter()
            .map(|(arg, spec)| {
                spec.as_object()
                    .map(|spec| (arg.as_str(), spec))
                    .ok_or_else(|| format!("{at}.args.{arg} is not an object"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        listed.push(Capability {
            name,
            source: object
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            is_read,
            description: text("description"),
            returns_hint: text("returns_hint"),
            schema: target_part("schema")?,
            table: target_part("table")?,
            args,
        });
    }
    Ok(listed)
}

impl Capability<'_> {
    /// Description lines: author text or the default, the returns hint, the evidence note.
    fn description(&self) -> String {
        let default = if self.is_read {
            format!(
                "Read {}.{} through a reviewed Synapsor capability with trusted tenant context and evidence.",
                self.schema, self.table
            )
        } else {
            format!(
                "Create an evidence-backed Synapsor proposal for {}.{}; the source database is not mutated by this tool.",
                self.schema, self.table
            )
        };
        let mut lines = vec![self.description.map_or(default, str::to_owned)];
        if let Some(hint) = self.returns_hint {
            lines.push(hint.to_owned());
        }
        lines.push(EVIDENCE_LINE.to_owned());
        lines.join("\n")
    }

    fn kind(&self) -> &'static str {
        if self.is_read { "read" } else { "proposal" }
    }
}

fn required(spec: &Map<String, Value>) -> bool {
    spec.get("required") != Some(&Value::Bool(false))
}

/// Runtime tool metadata for a config (`{name, title, description, kind, input_schema,
/// annotations}` per listed capability), the shape `audit <config>` inspects.
pub fn tools_from_config(config: &Value) -> Result<Vec<Value>, String> {
    let capabilities = listed_capabilities(config)?;
    Ok(capabilities
        .iter()
        .map(|cap| {
            let mut input = Map::new();
            for (arg, spec) in &cap.args {
                let mut entry = Map::new();
                if let Some(kind) = spec.get("type") {
                    entry.insert("type".into(), kind.clone());
                }
                entry.insert("required".into(), Value::Bool(required(spec)));
                for key in ["description", "max_length", "minimum", "maximum", "enum"] {
                    if let Some(value) = spec.get(key) {
                        entry.insert(key.into(), value.clone());
                    }
                }
                input.insert((*arg).to_owned(), Value::Object(entry));
            }
            json!({
                "name": cap.name,
                "title": cap.name,
                "description": cap.description(),
                "kind": cap.kind(),
                "input_schema": input,
                "annotations": {
                    "readOnlyHint": cap.is_read,
                    "destructiveHint": false,
                    "idempotentHint": cap.is_read,
                    "openWorldHint": false,
                    "raw_sql_exposed": false,
                    "approval_or_commit_tool": false,
                },
            })
        })
        .collect())
}

/// The MCP `tools/list` result (`{"tools": [...]}`) Sluicegate serves for a config over stdio and
/// Streamable HTTP, canonical names.
///
/// Derived from `mcp-surface.md` §4.1–4.2 with Sluicegate's documented difference (README §3.3:
/// enum constraints are shown). The SDK-only `execution` member is left out. Replace the body with
/// the MCP server's own list once `sluicegate-mcp` exists.
pub fn served_tools_list(config: &Value) -> Result<Value, String> {
    let capabilities = listed_capabilities(config)?;
    let tools: Vec<Value> = capabilities
        .iter()
        .map(|cap| {
            let mut properties = Map::new();
            let mut required_args = Vec::new();
            for (arg, spec) in &cap.args {
                let mut property = Map::new();
                if let Some(kind) = spec.get("type") {
                    property.insert("type".into(), kind.clone());
                }
                for (from, to) in [
                    ("max_length", "maxLength"),
                    ("minimum", "minimum"),
                    ("maximum", "maximum"),
                    ("enum", "enum"),
                ] {
                    if let Some(value) = spec.get(from) {
                        property.insert(to.into(), value.clone());
                    }
                }
                let description = spec
                    .get("description")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{arg} business argument"), str::to_owned);
                property.insert("description".into(), Value::String(description));
                properties.insert((*arg).to_owned(), Value::Object(property));
                if required(spec) {
                    required_args.push(*arg);
                }
            }
            let mut schema = Map::new();
            schema.insert("type".into(), json!("object"));
            schema.insert("properties".into(), Value::Object(properties));
            if !required_args.is_empty() {
                schema.insert("required".into(), json!(required_args));
            }
            schema.insert("additionalProperties".into(), json!(false));
            schema.insert(
                "$schema".into(),
                json!("http://json-schema.org/draft-07/schema#"),
            );
            let target = format!("{}.{}", cap.schema, cap.table);
            json!({
                "name": cap.name,
                "title": cap.name,
                "description": cap.description(),
                "inputSchema": schema,
                "annotations": {
                    "readOnlyHint": cap.is_read,
                    "destructiveHint": false,
                    "idempotentHint": cap.is_read,
                    "openWorldHint": false,
                },
                "_meta": {
                    "synapsor.kind": cap.kind(),
                    "synapsor.source": cap.source,
                    "synapsor.target": target,
                    "synapsor.canonical_tool_name": cap.name,
                    "synapsor.exposed_tool_name": cap.name,
                    "synapsor.tool_name_style": "canonical",
                    "synapsor.raw_sql_exposed": false,
                    "synapsor.approval_tool": false,
                },
            })
        })
        .collect();
    Ok(json!({ "tools": tools }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        json!({
            "version": 1,
            "mode": "review",
            "capabilities": [
                {
                    "name": "billing.inspect_invoice", "kind": "read", "source": "pg",
                    "description": "Inspect one invoice.",
                    "returns_hint": "Returns the invoice.",
                    "target": {"schema": "public", "table": "invoices"},
                    "args": {"invoice_id": {"type": "string", "max_length": 128, "description": "Invoice id."}}
                },
                {
                    "name": "orders.propose_status_change", "kind": "proposal", "source": "pg",
                    "target": {"schema": "shop", "table": "orders"},
                    "args": {
                        "status": {"type": "string", "enum": ["shipped"]},
                        "note": {"type": "string", "required": false},
                        "amount": {"type": "number", "minimum": 1, "maximum": 5}
                    }
                }
            ]
        })
    }

    #[test]
    fn detects_runner_configs() {
        assert!(is_runner_config(&config()));
        assert!(is_runner_config(
            &json!({"version": 1.0, "capabilities": []})
        ));
        assert!(!is_runner_config(
            &json!({"version": "1", "capabilities": []})
        ));
        assert!(!is_runner_config(
            &json!({"version": 1, "capabilities": {}})
        ));
        assert!(!is_runner_config(&json!({"tools": []})));
    }

    #[test]
    fn runtime_metadata_shape() {
        let tools = tools_from_config(&config()).unwrap();
        assert_eq!(
            tools[0],
            json!({
                "name": "billing.inspect_invoice",
                "title": "billing.inspect_invoice",
                "description": format!("Inspect one invoice.\nReturns the invoice.\n{EVIDENCE_LINE}"),
                "kind": "read",
                "input_schema": {"invoice_id": {"type": "string", "required": true, "description": "Invoice id.", "max_length": 128}},
                "annotations": {
                    "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true,
                    "openWorldHint": false, "raw_sql_exposed": false, "approval_or_commit_tool": false
                }
            })
        );
        assert_eq!(
            tools[1]["description"],
            json!(format!(
                "Create an evidence-backed Synapsor proposal for shop.orders; the source database is not mutated by this tool.\n{EVIDENCE_LINE}"
            ))
        );
        assert_eq!(tools[1]["input_schema"]["note"]["required"], json!(false));
    }

    #[test]
    fn read_only_mode_hides_proposals() {
        let mut config = config();
        config["mode"] = json!("read_only");
        let names: Vec<_> = tools_from_config(&config)
            .unwrap()
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("billing.inspect_invoice")]);
        assert_eq!(
            served_tools_list(&config).unwrap()["tools"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn served_list_is_json_schema_with_key_order() {
        let list = served_tools_list(&config()).unwrap();
        let schema = &list["tools"][1]["inputSchema"];
        assert_eq!(
            serde_json::to_string(schema).unwrap(),
            r#"{"type":"object","properties":{"status":{"type":"string","enum":["shipped"],"description":"status business argument"},"note":{"type":"string","description":"note business argument"},"amount":{"type":"number","minimum":1,"maximum":5,"description":"amount business argument"}},"required":["status","amount"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}"#
        );
        assert_eq!(
            list["tools"][0]["_meta"]["synapsor.target"],
            json!("public.invoices")
        );
        assert_eq!(list["tools"][0]["_meta"]["synapsor.source"], json!("pg"));
    }

    #[test]
    fn malformed_capabilities_are_errors() {
        let err = tools_from_config(
            &json!({"version": 1, "capabilities": [{"name": "a.b", "kind": "write"}]}),
        )
        .unwrap_err();
        assert!(err.contains("$.capabilities[0].kind"), "{err}");
    }
}
