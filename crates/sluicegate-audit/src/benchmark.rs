//! `benchmark mcp-efficiency` (spec Part B): a deterministic, offline comparison of a generic
//! database MCP and the semantic path on the late-fee-waiver fixture, plus an optional honest
//! measurement of the `tools/list` Sluicegate itself serves for a given config.
//!
//! The fixture texts, labels and measurement names are the reference's on purpose: the report must
//! equal `conformance/fixtures/benchmark/mcp-efficiency.{txt,json}`. Only the extra served-list
//! section is Sluicegate's own.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::config_tools::served_tools_list;

pub const TOKENIZER_NAME: &str = "synapsor-fixture-tokenizer-v1";
const TOKENIZER_METHOD: &str =
    "deterministic regex tokenization for fixture comparison; not a model billing tokenizer";
const NOTE: &str = "This benchmark compares the included fixture/reference workflow only. It is not a universal token-savings claim.";

static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]").expect("invariant: tokenizer regex is valid")
});

/// Tokens of `text` under the fixture tokenizer: runs of ASCII word characters count as one,
/// every other non-whitespace character as one. Deliberately not a model tokenizer.
pub fn count_tokens(text: &str) -> usize {
    TOKEN.find_iter(text).count()
}

/// Bytes and tokens of a JSON value in compact serialisation.
pub fn measure(value: &Value) -> (usize, usize) {
    let text = value.to_string();
    (text.len(), count_tokens(&text))
}

/// One scripted path of the fixture.
struct FixturePath {
    key: &'static str,
    title: &'static str,
    tools_list: Value,
    schema_context: Value,
    business_result: Value,
    plan: &'static [&'static str],
    exposes_raw_sql: bool,
    approval_separated: bool,
    stale_row_conflict_checked: bool,
}

fn object_schema(properties: Value, required: &[&str]) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), properties);
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    Value::Object(schema)
}

fn generic_path() -> FixturePath {
    let sql = json!({ "sql": { "type": "string" } });
    FixturePath {
        key: "generic_database_mcp_reference",
        title: "Generic database MCP reference",
        tools_list: json!({ "tools": [
            { "name": "list_tables", "description": "List available database tables.",
              "input_schema": object_schema(json!({}), &[]) },
            { "name": "describe_table",
              "description": "Describe columns and indexes for an arbitrary table.",
              "input_schema": object_schema(
                  json!({ "schema": { "type": "string" }, "table": { "type": "string" } }),
                  &["table"]) },
            { "name": "query_database", "description": "Run a read query against the database.",
              "input_schema": object_schema(sql.clone(), &["sql"]) },
            { "name": "execute_sql",
              "description": "Execute a SQL statement that may modify database state.",
              "input_schema": object_schema(sql, &["sql"]) },
        ]}),
        schema_context: json!({ "tables": { "invoices": {
            "columns": ["id", "tenant_id", "customer_id", "late_fee_cents", "waiver_reason", "status", "updated_at"],
            "primary_key": "id",
            "tenant_key": "tenant_id",
            "mutable_columns": "not enforced by tool schema",
        }}}),
        business_result: json!({
            "row": { "id": "INV-3001", "tenant_id": "acme", "late_fee_cents": 5500,
                     "status": "overdue", "updated_at": "2026-06-20T14:31:08Z" },
            "planned_sql": "UPDATE invoices SET late_fee_cents = 0 WHERE id = 'INV-3001';",
        }),
        plan: &[
            "list_tables",
            "describe_table invoices",
            "query_database SELECT invoice",
            "formulate raw UPDATE",
            "execute_sql UPDATE invoice",
        ],
        exposes_raw_sql: true,
        approval_separated: false,
        stale_row_conflict_checked: false,
    }
}

fn semantic_path() -> FixturePath {
    let invoice_id = json!({ "type": "string", "maxLength": 128 });
    FixturePath {
        key: "synapsor_runner_semantic_path",
        title: "Synapsor Runner semantic path",
        tools_list: json!({ "tools": [
            { "name": "billing.inspect_invoice",
              "description": "Inspect one invoice within trusted tenant scope and return reviewed evidence fields.",
              "input_schema": object_schema(json!({ "invoice_id": invoice_id.clone() }), &["invoice_id"]),
              "annotations": { "readOnlyHint": true } },
            { "name": "billing.propose_late_fee_waiver",
              "description": "Create a review-required proposal to waive one invoice late fee; source DB remains unchanged.",
              "input_schema": object_schema(
                  json!({ "invoice_id": invoice_id, "reason": { "type": "string", "maxLength": 500 } }),
                  &["invoice_id", "reason"]),
              "annotations": { "destructiveHint": false } },
        ]}),
        schema_context: json!({
            "capability": "billing.propose_late_fee_waiver",
            "target": "public.invoices",
            "trusted_scope": ["tenant_id from SYNAPSOR_TENANT_ID", "principal from SYNAPSOR_PRINCIPAL"],
            "visible_columns": ["id", "tenant_id", "late_fee_cents", "waiver_reason", "updated_at"],
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            "conflict_guard": "updated_at",
        }),
        business_result: json!({
            "status": "review_required",
            "proposal_id": "wrp_fixture",
            "source_database_changed": false,
            "diff": {
                "late_fee_cents": { "before": 5500, "proposed": 0 },
                "waiver_reason": { "before": null, "proposed": "customer requested review" },
            },
            "approval": { "status": "pending", "required_role": "billing_lead" },
        }),
        plan: &["billing.inspect_invoice", "billing.propose_late_fee_waiver"],
        exposes_raw_sql: false,
        approval_separated: true,
        stale_row_conflict_checked: true,
    }
}

/// The measurements of one path, in the report's key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMeasurement {
    pub exposed_tools: usize,
    pub tools_list_bytes: usize,
    pub tools_list_tokens: usize,
    pub schema_context_bytes: usize,
    pub schema_context_tokens: usize,
    pub business_result_bytes: usize,
    pub business_result_tokens: usize,
    pub scripted_tool_calls: usize,
    pub exposes_raw_sql: bool,
    pub exposes_write_credentials: bool,
    pub approval_separated: bool,
    pub stale_row_conflict_checked: bool,
}

impl FixturePath {
    fn measure(&self) -> PathMeasurement {
        let (tools_list_bytes, tools_list_tokens) = measure(&self.tools_list);
        let (schema_context_bytes, schema_context_tokens) = measure(&self.schema_context);
        let (business_result_bytes, business_result_tokens) = measure(&self.business_result);
        PathMeasurement {
            exposed_tools: tool_count(&self.tools_list),
            tools_list_bytes,
            tools_list_tokens,
            schema_context_bytes,
            schema_context_tokens,
            business_result_bytes,
            business_result_tokens,
            scripted_tool_calls: self.plan.len(),
            exposes_raw_sql: self.exposes_raw_sql,
            exposes_write_credentials: false,
            approval_separated: self.approval_separated,
            stale_row_conflict_checked: self.stale_row_conflict_checked,
        }
    }
}

fn tool_count(tools_list: &Value) -> usize {
    tools_list
        .get("tools")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Sluicegate's own served `tools/list` for a config, measured with the same tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedMeasurement {
    /// The config path as given (a label only).
    pub config: String,
    pub tool_names: Vec<String>,
    pub tools_list_bytes: usize,
    pub tools_list_tokens: usize,
}

/// Measures the `tools/list` result Sluicegate serves for `config` (canonical names).
pub fn measure_served(config_label: &str, config: &Value) -> Result<ServedMeasurement, String> {
    let list = served_tools_list(config)?;
    let (tools_list_bytes, tools_list_tokens) = measure(&list);
    let tool_names = list
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(ServedMeasurement {
        config: config_label.to_owned(),
        tool_names,
        tools_list_bytes,
        tools_list_tokens,
    })
}

fn paths() -> [FixturePath; 2] {
    [generic_path(), semantic_path()]
}

/// The JSON report. Without `served` it equals `mcp-efficiency.json`; with it, one extra
/// `sluicegate_served_tools_list` member follows `scripted_plans`.
pub fn report_json(served: Option<&ServedMeasurement>) -> Value {
    let mut measured = Map::new();
    let mut plans = Map::new();
    for path in paths() {
        let m = path.measure();
        measured.insert(
            path.key.into(),
            json!({
                "exposed_tools": m.exposed_tools,
                "serialized_tools_list_bytes": m.tools_list_bytes,
                "serialized_tools_list_tokens": m.tools_list_tokens,
                "schema_context_bytes": m.schema_context_bytes,
                "schema_context_tokens": m.schema_context_tokens,
                "business_result_bytes": m.business_result_bytes,
                "business_result_tokens": m.business_result_tokens,
                "scripted_tool_calls": m.scripted_tool_calls,
                "exposes_raw_sql": m.exposes_raw_sql,
                "exposes_write_credentials": m.exposes_write_credentials,
                "approval_separated": m.approval_separated,
                "stale_row_conflict_checked": m.stale_row_conflict_checked,
            }),
        );
        plans.insert(path.key.into(), json!(path.plan));
    }
    let mut report = Map::new();
    report.insert("benchmark".into(), json!("mcp-efficiency"));
    report.insert("fixture".into(), json!("late-fee-waiver"));
    report.insert(
        "tokenizer".into(),
        json!({ "name": TOKENIZER_NAME, "version": 1, "method": TOKENIZER_METHOD }),
    );
    report.insert("note".into(), json!(NOTE));
    report.insert("paths".into(), Value::Object(measured));
    report.insert("scripted_plans".into(), Value::Object(plans));
    if let Some(served) = served {
        report.insert(
            "sluicegate_served_tools_list".into(),
            json!({
                "config": served.config,
                "tool_name_style": "canonical",
                "measured_from": "tools/list result for this config (canonical names)",
                "exposed_tools": served.tool_names.len(),
                "serialized_tools_list_bytes": served.tools_list_bytes,
                "serialized_tools_list_tokens": served.tools_list_tokens,
                "tools": served.tool_names,
            }),
        );
    }
    Value::Object(report)
}

/// [`report_json`] serialised with 2-space indentation and a final newline.
pub fn render_json(served: Option<&ServedMeasurement>) -> String {
    let mut out = serde_json::to_string_pretty(&report_json(served))
        .expect("invariant: a JSON value always serialises");
    out.push('\n');
    out
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// The text report. Without `served` it equals `mcp-efficiency.txt` byte for byte.
pub fn render_text(served: Option<&ServedMeasurement>) -> String {
    let mut lines = vec![
        "MCP efficiency benchmark: late-fee-waiver fixture".to_owned(),
        format!(
            "Tokenizer: {TOKENIZER_NAME} (deterministic fixture tokenizer; not a model billing tokenizer)"
        ),
        "Scope: included fixture/reference workflow only; not a universal savings claim."
            .to_owned(),
    ];
    for path in paths() {
        let m = path.measure();
        lines.push(String::new());
        lines.push(format!("{}:", path.title));
        lines.push(format!("  exposed tools: {}", m.exposed_tools));
        lines.push(format!(
            "  tools/list: {} bytes, {} tokens",
            m.tools_list_bytes, m.tools_list_tokens
        ));
        lines.push(format!("  scripted tool calls: {}", m.scripted_tool_calls));
        lines.push(format!(
            "  schema/context: {} bytes, {} tokens",
            m.schema_context_bytes, m.schema_context_tokens
        ));
        lines.push(format!(
            "  business result: {} bytes, {} tokens",
            m.business_result_bytes, m.business_result_tokens
        ));
        lines.push(format!("  raw SQL exposed: {}", yes_no(m.exposes_raw_sql)));
        lines.push(format!(
            "  approval separated: {}",
            yes_no(m.approval_separated)
        ));
        lines.push(format!(
            "  stale-row conflict checked: {}",
            yes_no(m.stale_row_conflict_checked)
        ));
    }
    if let Some(served) = served {
        lines.push(String::new());
        lines.push(format!("Sluicegate served tools/list ({}):", served.config));
        lines.push(format!("  exposed tools: {}", served.tool_names.len()));
        lines.push(format!(
            "  tools/list: {} bytes, {} tokens",
            served.tools_list_bytes, served.tools_list_tokens
        ));
        lines.push(format!("  tools: {}", served.tool_names.join(", ")));
        lines.push(
            "  measured on: the tools/list result for this config (canonical names, full inputSchema, annotations and _meta), same tokenizer"
                .to_owned(),
        );
    }
    lines.push(String::new());
    lines.push(
        "Run with --json to inspect machine-readable measurements and scripted plans.".to_owned(),
    );
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_counts_word_runs_and_symbols() {
        assert_eq!(count_tokens(r#"{"a_b":12}"#), 7);
        assert_eq!(count_tokens("  hello   world "), 2);
        assert_eq!(count_tokens("é"), 1);
    }

    #[test]
    fn fixture_measurements_match_the_spec_table() {
        let generic = generic_path().measure();
        let semantic = semantic_path().measure();
        assert_eq!(
            (generic.tools_list_bytes, generic.tools_list_tokens),
            (822, 298)
        );
        assert_eq!(
            (generic.schema_context_bytes, generic.schema_context_tokens),
            (215, 75)
        );
        assert_eq!(
            (
                generic.business_result_bytes,
                generic.business_result_tokens
            ),
            (199, 77)
        );
        assert_eq!(
            (semantic.tools_list_bytes, semantic.tools_list_tokens),
            (728, 236)
        );
        assert_eq!(
            (
                semantic.schema_context_bytes,
                semantic.schema_context_tokens
            ),
            (331, 87)
        );
        assert_eq!(
            (
                semantic.business_result_bytes,
                semantic.business_result_tokens
            ),
            (277, 91)
        );
        assert_eq!((generic.exposed_tools, semantic.exposed_tools), (4, 2));
        assert_eq!(
            (generic.scripted_tool_calls, semantic.scripted_tool_calls),
            (5, 2)
        );
    }
}
