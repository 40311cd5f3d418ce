//! Fuzz target: config loading (`sluicegate_core::config::load_str` and `validate`).
//!
//! Input that starts like JSON is config text; any other input drives either a config built
//! from the validator's own vocabulary or a sequence of edits to one of the committed example
//! configs, so both shallow garbage and nearly-valid configs deep in the validator are reached.
//!
//! Properties, for every input:
//! - loading never panics;
//! - `ok` is exactly "no errors", and a config is returned exactly when `ok`;
//! - every error and warning has a JSON path (`$`, `$.…` or `$[…`), a stable
//!   SCREAMING_SNAKE_CASE code and a message;
//! - validation is deterministic (run twice, same report), and `load_str` on text reports what
//!   `validate` reports on the parsed document;
//! - an accepted config can be served: every capability's `inputSchema` is valid JSON Schema
//!   (the server refuses to start otherwise), and in every alias mode the exposed tool names
//!   are distinct and each routes to a capability of the config.

#![no_main]

use std::collections::HashSet;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sluicegate_core::config::{Config, Validation, load_str, validate};
use sluicegate_core::tools::{AliasMode, exposed_tools, tool_definition};
use sluicegate_fuzz::{Gen, is_screaming_snake, looks_like_json};

/// The example configs the repository ships, as edit starting points.
const EXAMPLES: &[&str] = &[
    include_str!(
        "../../crates/sluicegate-test-support/conformance/examples/mcp-postgres-billing/synapsor.runner.json"
    ),
    include_str!(
        "../../crates/sluicegate-test-support/conformance/examples/mcp-mysql-orders/synapsor.runner.json"
    ),
    include_str!(
        "../../crates/sluicegate-test-support/conformance/examples/mcp-postgres-billing-app-handler/synapsor.runner.json"
    ),
    include_str!(
        "../../crates/sluicegate-test-support/conformance/examples/mcp-postgres-support/synapsor.runner.json"
    ),
    include_str!(
        "../../crates/sluicegate-test-support/conformance/examples/reference-support-billing-app/synapsor.runner.json"
    ),
    include_str!(
        "../../crates/sluicegate-test-support/conformance/examples/support-billing-agent/synapsor.runner.json"
    ),
];

/// Keys of every config section (config.md), plus look-alikes the validator refuses.
const KEYS: &[&str] = &[
    "version",
    "mode",
    "result_format",
    "strict",
    "storage",
    "sqlite_path",
    "sources",
    "trusted_context",
    "contexts",
    "executors",
    "capabilities",
    "cloud",
    "reviewers",
    "engine",
    "read_url_env",
    "write_url_env",
    "read_only",
    "statement_timeout_ms",
    "ssl",
    "type",
    "url_env",
    "method",
    "auth",
    "token_env",
    "bearer_env",
    "signing_secret_env",
    "timeout_ms",
    "command_env",
    "name",
    "kind",
    "description",
    "returns_hint",
    "source",
    "context",
    "executor",
    "target",
    "schema",
    "table",
    "primary_key",
    "tenant_key",
    "args",
    "required",
    "max_length",
    "minimum",
    "maximum",
    "enum",
    "lookup",
    "id_from_arg",
    "visible_columns",
    "evidence",
    "max_rows",
    "patch",
    "fixed",
    "from_arg",
    "from_column",
    "allowed_columns",
    "numeric_bounds",
    "transition_guards",
    "column",
    "allowed",
    "conflict_guard",
    "maintained_by",
    "weak_guard_ack",
    "column_types",
    "nullable",
    "precision",
    "scale",
    "zone",
    "approval",
    "required_role",
    "single_tenant_dev_ack",
    "provider",
    "values",
    "tenant_id",
    "principal",
    "tenant_id_env",
    "principal_env",
    "public_key",
    "base_url_env",
    "runner_token_env",
    "adapter_id",
    "source_id",
    "runner_id",
    "runner_version",
    "project_id",
    "engines",
    "session",
    "app",
    "billing_app",
    "invoice_id",
    "reason",
    "status",
    "late_fee_cents",
    "updated_at",
    "url",
    "database_url",
    "sql",
    "raw_sql",
    "table_name",
    "tenantId",
];

/// String values the validator recognises, and some it must refuse.
const STRINGS: &[&str] = &[
    "postgres",
    "mysql",
    "mariadb",
    "sqlite",
    "oracle",
    "read",
    "proposal",
    "review",
    "read_only",
    "shadow",
    "cloud",
    "static_dev",
    "environment",
    "header",
    "string",
    "number",
    "boolean",
    "integer",
    "text",
    "decimal",
    "timestamp",
    "timestamptz",
    "date",
    "json",
    "bytes",
    "float",
    "varchar",
    "sql_update",
    "http_handler",
    "command_handler",
    "POST",
    "PUT",
    "PATCH",
    "GET",
    "human",
    "required",
    "UTC",
    "trigger",
    "sluicegate",
    "app",
    "billing_app",
    "public",
    "main",
    "invoices",
    "id",
    "tenant_id",
    "updated_at",
    "status",
    "late_fee_cents",
    "waiver_reason",
    "invoice_id",
    "reason",
    "acme",
    "APP_DATABASE_URL",
    "APP_WRITE_URL",
    "lower_env",
    "billing.inspect_invoice",
    "billing.propose_late_fee_waiver",
    "a.b",
    "a_.b",
    "a._b",
    "billing",
    "x",
    "",
    "postgres://u:p@h/db",
    "SELECT 1",
    "../etc/passwd",
    "\u{1F7E5}",
];

fn gen_config() -> Gen<'static> {
    Gen {
        keys: KEYS,
        strings: STRINGS,
        max_depth: 5,
    }
}

/// One step from a JSON pointer to a child.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node of `doc` as a path of steps, root first, depth-first.
fn nodes(doc: &Value) -> Vec<Vec<Step>> {
    fn walk(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(here.clone());
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    here.push(Step::Key(k.clone()));
                    walk(child, here, out);
                    here.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    here.push(Step::Index(i));
                    walk(child, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'v>(doc: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(doc, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Apply up to eight edits to an example config: remove, replace, add a key, rename a key,
/// copy one node over another, tweak a number or a string.
fn edited_example(u: &mut Unstructured<'_>) -> Result<Value> {
    let g = gen_config();
    let text = *u.choose(EXAMPLES)?;
    let mut doc: Value = serde_json::from_str(text).expect("invariant: examples are JSON");
    for _ in 0..u.int_in_range(1..=8)? {
        let all = nodes(&doc);
        let path = u.choose(&all)?.clone();
        let op = u.int_in_range(0..=7)?;
        if op == 0 {
            // Remove the node from its parent.
            if let Some((last, parent)) = path.split_last()
                && let Some(parent) = node_mut(&mut doc, parent)
            {
                match (parent, last) {
                    (Value::Object(m), Step::Key(k)) => {
                        m.shift_remove(k.as_str());
                    }
                    (Value::Array(a), Step::Index(i)) if *i < a.len() => {
                        a.remove(*i);
                    }
                    _ => {}
                }
            }
            continue;
        }
        if op == 1 {
            // Copy another node's value here (an args object into a patch, a name into a
            // number, a capability over another one...).
            let from = u.choose(&all)?.clone();
            let value = node_mut(&mut doc, &from).map(|v| v.clone());
            if let (Some(value), Some(node)) = (value, node_mut(&mut doc, &path)) {
                *node = value;
            }
            continue;
        }
        let Some(current) = node_mut(&mut doc, &path).map(|v| v.clone()) else {
            continue;
        };
        let new = match (op, current) {
            (3, _) => Value::String(g.vocab_string(u)?),
            (4, Value::Object(mut m)) => {
                m.insert(g.key(u)?, g.value(u)?);
                Value::Object(m)
            }
            (4, Value::Array(mut a)) => {
                let copy = match a.first() {
                    Some(first) => first.clone(),
                    None => g.value(u)?,
                };
                a.push(copy);
                Value::Array(a)
            }
            (5, Value::Object(mut m)) if !m.is_empty() => {
                // Rename one key, keeping its value.
                let i = u.choose_index(m.len())?;
                let old = m.keys().nth(i).cloned().unwrap_or_default();
                if let Some(v) = m.shift_remove(&old) {
                    let new = if u.arbitrary()? {
                        g.key(u)?
                    } else {
                        format!("{old}_")
                    };
                    m.insert(new, v);
                }
                Value::Object(m)
            }
            (6, Value::Number(n)) => {
                let f = n.as_f64().unwrap_or(0.0);
                match u.int_in_range(0..=5)? {
                    0 => json!(f + 1.0),
                    1 => json!(-f),
                    2 => json!(f * 1e6),
                    3 => json!(f.to_string()),
                    4 => json!(f + 0.5),
                    _ => json!(u64::MAX),
                }
            }
            (6 | 7, Value::String(s)) => match u.int_in_range(0..=4)? {
                0 => json!(""),
                1 => json!(format!("{s}{}", g.string(u)?)),
                2 => json!(s.to_uppercase()),
                3 => s.parse::<f64>().map_or(Value::Null, |f| json!(f)),
                _ => json!([s]),
            },
            _ => g.value(u)?,
        };
        if let Some(node) = node_mut(&mut doc, &path) {
            *node = new;
        }
    }
    Ok(doc)
}

/// The document to validate: built from the vocabulary, or an edited example.
fn structured(data: &[u8]) -> Option<Value> {
    let mut u = Unstructured::new(data);
    let built = if u.arbitrary::<bool>().ok()? {
        edited_example(&mut u)
    } else {
        let g = gen_config();
        g.object(&mut u).map(Value::Object)
    };
    built.ok()
}

/// The report as comparable JSON.
fn report(v: &Validation) -> Value {
    serde_json::to_value(v).expect("invariant: a validation report serialises")
}

fn check_report(v: &Validation, config: Option<&Config>) {
    assert_eq!(v.ok, v.errors.is_empty(), "ok must mean no errors: {v:?}");
    assert_eq!(
        config.is_some(),
        v.ok,
        "a config is returned exactly when ok: {v:?}"
    );
    for issue in v.errors.iter().chain(&v.warnings) {
        let p = issue.path.as_str();
        assert!(
            p == "$" || p.starts_with("$.") || p.starts_with("$["),
            "issue path must be a JSON path from `$`: {issue:?}"
        );
        assert!(
            is_screaming_snake(&issue.code),
            "issue code must be SCREAMING_SNAKE_CASE: {issue:?}"
        );
        assert!(
            !issue.message.trim().is_empty(),
            "issue needs a message: {issue:?}"
        );
    }
}

/// An accepted config can be served: valid input and output schemas (the server publishes
/// them unchecked), distinct exposed names that route.
fn check_servable(config: &Config) {
    for mode in [AliasMode::Canonical, AliasMode::Openai, AliasMode::Both] {
        let mut seen = HashSet::new();
        for tool in exposed_tools(config, mode) {
            assert!(
                seen.insert(tool.exposed.clone()),
                "{mode:?}: exposed name {} is listed twice",
                tool.exposed
            );
            let cap = config
                .capability(&tool.canonical)
                .unwrap_or_else(|| panic!("{mode:?}: {} routes nowhere", tool.exposed));
            for format in [1, 2] {
                let def = tool_definition(cap, &tool.exposed, mode, format);
                assert_eq!(def["name"], json!(tool.exposed));
                for key in ["inputSchema", "outputSchema"] {
                    if let Err(e) = jsonschema::meta::validate(&def[key]) {
                        panic!(
                            "{}: {key} is not valid JSON Schema: {e}\n{}",
                            tool.exposed, def[key]
                        );
                    }
                }
            }
        }
    }
}

fn check_document(doc: &Value) -> Validation {
    let (first, config) = validate(doc);
    check_report(&first, config.as_ref());
    let (again, _) = validate(doc);
    assert_eq!(
        report(&first),
        report(&again),
        "validation must be deterministic"
    );
    if let Some(config) = &config {
        check_servable(config);
    }
    first
}

fuzz_target!(|data: &[u8]| {
    if looks_like_json(data) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (loaded, config) = load_str(text);
        check_report(&loaded, config.as_ref());
        match serde_json::from_str::<Value>(text) {
            Ok(doc) => {
                let validated = check_document(&doc);
                assert_eq!(
                    report(&loaded),
                    report(&validated),
                    "load_str must report what validate reports"
                );
            }
            Err(_) => {
                assert_eq!(loaded.errors.len(), 1, "{loaded:?}");
                assert_eq!(loaded.errors[0].code, "CONFIG_PARSE_ERROR");
                assert_eq!(loaded.errors[0].path, "$");
            }
        }
    } else if let Some(doc) = structured(data) {
        check_document(&doc);
    }
});
