//! Tool metadata of a runner config (`sluicegate.json` / `synapsor.runner.json`), as Sluicegate
//! itself derives and serves it.
//!
//! Two shapes (mcp-surface.md §4): the runtime metadata the audit inspects (per-arg input map,
//! not a JSON Schema) and the MCP `tools/list` the server serves, measured by
//! `benchmark mcp-efficiency --config`. Both come from `sluicegate-core`'s tool catalog, the same
//! code the MCP server uses, so what is audited is what is served.

use serde_json::{Value, json};
use sluicegate_core::config::{Config, validate};
use sluicegate_core::tools::{AliasMode, exposed_tools, runtime_metadata, tool_definition};

/// True when `value` looks like a runner config: an object with `version` 1 and a `capabilities`
/// array.
pub fn is_runner_config(value: &Value) -> bool {
    value.get("version").and_then(Value::as_f64) == Some(1.0)
        && value.get("capabilities").is_some_and(Value::is_array)
}

/// Validate `config`; an invalid one is an error listing `path code: message` lines.
fn load(config: &Value) -> Result<Config, String> {
    match validate(config) {
        (_, Some(c)) => Ok(c),
        (v, None) => Err(format!("invalid config:\n{}", v.error_lines().join("\n"))),
    }
}

/// The runtime tool metadata of the capabilities listed to the model (canonical names; `read_only`
/// mode hides proposals).
pub fn tools_from_config(config: &Value) -> Result<Vec<Value>, String> {
    Ok(runtime_metadata(&load(config)?))
}

/// The MCP `tools/list` result Sluicegate serves for `config` (canonical names).
pub fn served_tools_list(config: &Value) -> Result<Value, String> {
    let config = load(config)?;
    let mode = AliasMode::Canonical;
    let tools: Vec<Value> = exposed_tools(&config, mode)
        .iter()
        .filter_map(|t| {
            config
                .capability(&t.canonical)
                .map(|cap| tool_definition(cap, &t.exposed, mode, config.result_format()))
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
            "sources": {"pg": {"engine": "postgres", "read_url_env": "PG_URL", "write_url_env": "PG_WRITE"}},
            "trusted_context": {"provider": "environment"},
            "capabilities": [
                {
                    "name": "billing.inspect_invoice", "kind": "read", "source": "pg",
                    "description": "Inspect one invoice.",
                    "returns_hint": "Returns the invoice.",
                    "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                    "args": {"invoice_id": {"type": "string", "max_length": 128, "description": "Invoice id."}},
                    "lookup": {"id_from_arg": "invoice_id"},
                    "visible_columns": ["id", "status"]
                },
                {
                    "name": "orders.propose_status_change", "kind": "proposal", "source": "pg",
                    "target": {"schema": "shop", "table": "orders", "primary_key": "id", "tenant_key": "tenant_id"},
                    "args": {
                        "order_id": {"type": "string"},
                        "status": {"type": "string", "enum": ["shipped"]},
                        "note": {"type": "string", "required": false},
                        "amount": {"type": "number", "minimum": 1, "maximum": 5}
                    },
                    "lookup": {"id_from_arg": "order_id"},
                    "visible_columns": ["id", "status", "note", "amount", "updated_at"],
                    "patch": {"status": {"from_arg": "status"}, "note": {"from_arg": "note"}},
                    "allowed_columns": ["status", "note"],
                    "conflict_guard": {"column": "updated_at"}
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
        assert_eq!(tools[0]["name"], json!("billing.inspect_invoice"));
        assert_eq!(
            tools[0]["input_schema"],
            json!({"invoice_id": {"type": "string", "required": true, "description": "Invoice id.", "max_length": 128}})
        );
        assert_eq!(tools[0]["annotations"]["readOnlyHint"], json!(true));
        assert_eq!(tools[1]["annotations"]["readOnlyHint"], json!(false));
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
        let schema = &list["tools"][1]["inputSchema"]["properties"];
        assert_eq!(
            serde_json::to_string(&schema["amount"]).unwrap(),
            r#"{"type":"number","minimum":1,"maximum":5,"description":"amount business argument"}"#
        );
        assert_eq!(
            serde_json::to_string(&schema["status"]).unwrap(),
            r#"{"type":"string","enum":["shipped"],"description":"status business argument"}"#
        );
        assert_eq!(
            list["tools"][0]["_meta"]["synapsor.target"],
            json!("public.invoices")
        );
    }

    #[test]
    fn invalid_configs_are_errors() {
        let err = tools_from_config(
            &json!({"version": 1, "capabilities": [{"name": "a.b", "kind": "write"}]}),
        )
        .unwrap_err();
        assert!(
            err.contains("$.capabilities[0].kind INVALID_CAPABILITY_KIND"),
            "{err}"
        );
    }
}
