//! Built-in audit examples (`audit --example <name>`). The `dangerous-db-mcp` manifest is six
//! deliberately unsafe database tools, the same content the reference ships as
//! `examples/dangerous-mcp-tools.json` (a test compares the two).

use serde_json::{Value, json};

/// Names accepted by `--example`.
pub const EXAMPLE_NAMES: [&str; 1] = ["dangerous-db-mcp"];

/// The manifest of a built-in example, or `None` for an unknown name.
pub fn example(name: &str) -> Option<Value> {
    match name {
        "dangerous-db-mcp" => Some(dangerous_db_mcp()),
        _ => None,
    }
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn string_array() -> Value {
    json!({ "type": "array", "items": string() })
}

fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": properties,
            "required": required,
        },
    })
}

fn dangerous_db_mcp() -> Value {
    json!({
        "tools": [
            tool(
                "execute_sql",
                "Execute arbitrary SQL against the application database.",
                json!({ "sql": string() }),
                &["sql"],
            ),
            tool(
                "run_query",
                "Run any query and return database rows.",
                json!({ "query": string(), "table": string(), "columns": string_array() }),
                &["query"],
            ),
            tool(
                "approve_refund",
                "Approve and issue a customer refund immediately.",
                json!({
                    "refund_id": string(),
                    "tenant_id": string(),
                    "amount_cents": { "type": "number" },
                }),
                &["refund_id", "tenant_id", "amount_cents"],
            ),
            tool(
                "update_customer",
                "Update a customer record directly.",
                json!({
                    "customer_id": string(),
                    "tenant_id": string(),
                    "column": string(),
                    "value": string(),
                }),
                &["customer_id", "tenant_id", "column", "value"],
            ),
            tool(
                "delete_order",
                "Delete an order from the database.",
                json!({ "order_id": string(), "tenant_id": string() }),
                &["order_id", "tenant_id"],
            ),
            tool(
                "query_database",
                "Query arbitrary tables and columns from the database.",
                json!({
                    "database": string(),
                    "schema": string(),
                    "table": string(),
                    "columns": string_array(),
                    "where": string(),
                }),
                &["table"],
            ),
        ]
    })
}
