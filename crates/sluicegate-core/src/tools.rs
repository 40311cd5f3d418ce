//! The model-facing tool catalog derived from the config: exposed names (with the OpenAI alias
//! rules), MCP tool definitions, bridge metadata and sample arguments.
//!
//! Nothing here can describe SQL, approval, apply or credentials: tools exist only for
//! capabilities, and their schemas come only from declared business arguments.

pub mod boundary;
pub mod output;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::call::Args;
use crate::config::{ArgFormat, ArgSpec, ArgType, Capability, Config, Kind};
use crate::json::{number, sha256_hex};
use crate::typed::Typed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AliasMode {
    #[default]
    Canonical,
    Openai,
    Both,
}

impl AliasMode {
    /// The mode the serve flags ask for (`--alias-mode`, its synonym `--tool-name-style`,
    /// `--openai-tool-aliases`), or `default` when none was given; conflicting flags are an
    /// error naming them.
    pub fn from_flags(
        alias_mode: Option<&str>,
        tool_name_style: Option<&str>,
        openai_tool_aliases: bool,
        default: AliasMode,
    ) -> Result<AliasMode, String> {
        if let (Some(a), Some(t)) = (alias_mode, tool_name_style)
            && a != t
        {
            return Err(
                "--tool-name-style and --alias-mode must match when both are provided".into(),
            );
        }
        let mode = match alias_mode.or(tool_name_style) {
            Some(m) => AliasMode::parse(m)
                .ok_or("--alias-mode must be canonical, openai, or both".to_string())?,
            None if openai_tool_aliases => AliasMode::Openai,
            None => default,
        };
        if openai_tool_aliases && mode != AliasMode::Openai {
            return Err(format!(
                "--openai-tool-aliases cannot be combined with --alias-mode {}",
                mode.as_str()
            ));
        }
        Ok(mode)
    }

    pub fn parse(s: &str) -> Option<AliasMode> {
        Some(match s {
            "canonical" => AliasMode::Canonical,
            "openai" => AliasMode::Openai,
            "both" => AliasMode::Both,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AliasMode::Canonical => "canonical",
            AliasMode::Openai => "openai",
            AliasMode::Both => "both",
        }
    }
}

fn h8(canonical: &str) -> String {
    sha256_hex(canonical.as_bytes())[..8].to_string()
}

/// The OpenAI-compatible alias of a canonical name (mcp-surface.md §3.1), before collisions.
pub fn openai_alias(canonical: &str) -> String {
    // 1. Runs of characters outside [A-Za-z0-9_-] become `__`.
    let mut s = String::with_capacity(canonical.len() + 4);
    let mut in_run = false;
    for c in canonical.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            s.push(c);
            in_run = false;
        } else if !in_run {
            s.push_str("__");
            in_run = true;
        }
    }
    // 2. Runs of three or more underscores collapse to two.
    let mut collapsed = String::with_capacity(s.len());
    let mut underscores = 0;
    for c in s.chars() {
        if c == '_' {
            underscores += 1;
            continue;
        }
        collapsed.push_str(if underscores >= 3 {
            "__"
        } else {
            &"__"[..underscores.min(2)]
        });
        underscores = 0;
        collapsed.push(c);
    }
    collapsed.push_str(if underscores >= 3 {
        "__"
    } else {
        &"__"[..underscores.min(2)]
    });
    // 3. Strip leading and trailing underscores.
    let trimmed = collapsed.trim_matches('_');
    if trimmed.is_empty() {
        return format!("tool_{}", h8(canonical));
    }
    if trimmed.len() > 64 {
        return shorten(trimmed, canonical);
    }
    trimmed.to_string()
}

fn shorten(alias: &str, canonical: &str) -> String {
    let head: String = alias.chars().take(55).collect();
    format!("{}_{}", head.trim_end_matches('_'), h8(canonical))
}

/// One name a model sees, and the capability it routes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedTool {
    pub exposed: String,
    pub canonical: String,
    pub is_alias: bool,
}

/// Exposed names in order: config order, and within a capability canonical then alias.
pub fn exposed_tools(config: &Config, mode: AliasMode) -> Vec<ExposedTool> {
    let mut out = Vec::new();
    let mut taken: Vec<(String, String)> = Vec::new();
    for cap in config.exposed_capabilities() {
        if mode != AliasMode::Openai {
            out.push(ExposedTool {
                exposed: cap.name.clone(),
                canonical: cap.name.clone(),
                is_alias: false,
            });
        }
        if mode != AliasMode::Canonical {
            let mut alias = openai_alias(&cap.name);
            if taken.iter().any(|(a, c)| *a == alias && *c != cap.name) {
                alias = shorten(&alias, &cap.name);
            }
            taken.push((alias.clone(), cap.name.clone()));
            out.push(ExposedTool {
                exposed: alias,
                canonical: cap.name.clone(),
                is_alias: true,
            });
        }
    }
    out
}

/// The model-facing description (mcp-surface.md §4.1).
pub fn description(cap: &Capability, exposed: &str) -> String {
    let mut lines = Vec::new();
    if exposed != cap.name {
        lines.push(format!("Canonical Synapsor capability: {}.", cap.name));
    }
    lines.push(match &cap.description {
        Some(d) => d.clone(),
        None => match cap.kind {
            Kind::Read => format!(
                "Read {} through a reviewed Synapsor capability with trusted tenant context and evidence.",
                cap.target.qualified()
            ),
            Kind::Proposal => format!(
                "Create an evidence-backed Synapsor proposal for {}; the source database is not mutated by this tool.",
                cap.target.qualified()
            ),
        },
    });
    if let Some(hint) = &cap.returns_hint {
        lines.push(hint.clone());
    }
    lines.push(
        "Evidence handles are audit/replay handles; the model does not need to call them during this turn.".into(),
    );
    lines.join("\n")
}

/// JSON Schema of a capability's arguments as declared: business arguments only, no extras.
pub fn input_schema(cap: &Capability) -> Value {
    args_schema(&cap.args)
}

/// An integer bound as an exact JSON number.
fn integer_bound(n: i128) -> Value {
    if let Ok(i) = i64::try_from(n) {
        json!(i)
    } else if let Ok(u) = u64::try_from(n) {
        json!(u)
    } else {
        number(n as f64)
    }
}

/// The stricter of a declared bound and a column's range limit, as published. `tighter` says
/// whether the range limit is stricter than the declared one.
fn bound(
    declared: Option<f64>,
    range: Option<i128>,
    tighter: impl Fn(i128, f64) -> bool,
) -> Option<Value> {
    match (declared, range) {
        (Some(d), Some(r)) if tighter(r, d) => Some(integer_bound(r)),
        (Some(d), _) => Some(number(d)),
        (None, Some(r)) => Some(integer_bound(r)),
        (None, None) => None,
    }
}

/// JSON Schema of `args` (declared, or typed from their columns by `crate::typed`): the
/// business arguments only, no extras. States exactly what `core::call::check_args` accepts,
/// except that an `integer` argument is also accepted as a string of digits.
pub fn args_schema(args: &IndexMap<String, ArgSpec>) -> Value {
    use std::cmp::Ordering::{Greater, Less};
    let mut props = Map::new();
    let mut required = Vec::new();
    for (name, spec) in args {
        let mut p = Map::new();
        p.insert("type".into(), json!(spec.arg_type.as_str()));
        if let Some(f) = spec.format {
            p.insert("format".into(), json!(f.as_str()));
        }
        if let Some(n) = spec.max_length {
            p.insert("maxLength".into(), json!(n));
        }
        let cmp = |r: i128, d: f64| crate::json::cmp_int_f64(r, d);
        let range = spec.range;
        if let Some(v) = bound(spec.minimum, range.map(|r| r.0), |r, d| {
            cmp(r, d) == Some(Greater)
        }) {
            p.insert("minimum".into(), v);
        }
        if let Some(v) = bound(spec.maximum, range.map(|r| r.1), |r, d| {
            cmp(r, d) == Some(Less)
        }) {
            p.insert("maximum".into(), v);
        }
        if let Some(values) = &spec.enum_values {
            p.insert("enum".into(), Value::Array(values.clone()));
        }
        p.insert(
            "description".into(),
            json!(
                spec.description
                    .clone()
                    .unwrap_or_else(|| format!("{name} business argument"))
            ),
        );
        props.insert(name.clone(), Value::Object(p));
        if spec.required {
            required.push(json!(name));
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    schema.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    Value::Object(schema)
}

/// The MCP `tools/list` entry for one exposed name, typed from the config alone.
pub fn tool_definition(
    cap: &Capability,
    exposed: &str,
    mode: AliasMode,
    result_format: u8,
) -> Value {
    tool_definition_typed(cap, &Typed::declared(cap), exposed, mode, result_format)
}

/// The MCP `tools/list` entry for one exposed name, with arguments and results typed by
/// `typed` (the target table's columns).
pub fn tool_definition_typed(
    cap: &Capability,
    typed: &Typed,
    exposed: &str,
    mode: AliasMode,
    result_format: u8,
) -> Value {
    let read = cap.kind == Kind::Read;
    let mut tool = Map::new();
    tool.insert("name".into(), json!(exposed));
    tool.insert("title".into(), json!(cap.name));
    tool.insert("description".into(), json!(description(cap, exposed)));
    tool.insert("inputSchema".into(), args_schema(&typed.args));
    tool.insert(
        "outputSchema".into(),
        output::output_schema(cap, typed, result_format),
    );
    // Proposals never write the source and re-proposing the same change returns the same
    // proposal, so they are idempotent and not destructive.
    tool.insert(
        "annotations".into(),
        json!({"readOnlyHint": read, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}),
    );
    tool.insert(
        "_meta".into(),
        json!({
            "synapsor.kind": cap.kind.as_str(),
            "synapsor.source": cap.source,
            "synapsor.target": cap.target.qualified(),
            "synapsor.canonical_tool_name": cap.name,
            "synapsor.exposed_tool_name": exposed,
            "synapsor.tool_name_style": mode.as_str(),
            "synapsor.raw_sql_exposed": false,
            "synapsor.approval_tool": false,
        }),
    );
    Value::Object(tool)
}

/// The per-argument metadata map used by the JSON-RPC bridge's legacy view and the audit.
pub fn arg_metadata(cap: &Capability) -> Value {
    let mut out = Map::new();
    for (name, spec) in &cap.args {
        let mut m = Map::new();
        m.insert("type".into(), json!(spec.arg_type.as_str()));
        m.insert("required".into(), json!(spec.required));
        if let Some(d) = &spec.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(n) = spec.max_length {
            m.insert("max_length".into(), json!(n));
        }
        if let Some(n) = spec.minimum {
            m.insert("minimum".into(), number(n));
        }
        if let Some(n) = spec.maximum {
            m.insert("maximum".into(), number(n));
        }
        if let Some(values) = &spec.enum_values {
            m.insert("enum".into(), Value::Array(values.clone()));
        }
        out.insert(name.clone(), Value::Object(m));
    }
    Value::Object(out)
}

/// Runtime tool metadata (canonical names): what `audit <config>` inspects.
pub fn runtime_metadata(config: &Config) -> Vec<Value> {
    config
        .exposed_capabilities()
        .map(|cap| {
            json!({
                "name": cap.name,
                "title": cap.name,
                "description": description(cap, &cap.name),
                "kind": cap.kind.as_str(),
                "input_schema": arg_metadata(cap),
                "annotations": {
                    "readOnlyHint": cap.kind == Kind::Read,
                    "destructiveHint": false,
                    "idempotentHint": true,
                    "openWorldHint": false,
                    "raw_sql_exposed": false,
                    "approval_or_commit_tool": false,
                },
            })
        })
        .collect()
}

/// A plausible argument set for `--sample` (cli.md §8.1): one value per declared argument.
pub fn sample_args(cap: &Capability) -> Args {
    sample_args_typed(cap, &cap.args)
}

/// [`sample_args`] for arguments typed from their columns (`crate::typed`): an integer
/// argument gets a whole number, a date or timestamp argument a value of that form.
pub fn sample_args_typed(cap: &Capability, specs: &IndexMap<String, ArgSpec>) -> Args {
    let context = format!("{} {}", cap.name, cap.target.table).to_lowercase();
    let mut args = Args::new();
    for (name, spec) in specs {
        let lname = name.to_lowercase();
        let value = if *name == cap.lookup_arg {
            let text = format!("{context} {lname}");
            let id = if text.contains("invoice") || text.contains("billing") {
                "INV-3001"
            } else if lname.contains("account")
                || lname.contains("customer")
                || context.contains("accounts")
                || context.contains("customers")
            {
                "cust_acme_1"
            } else if text.contains("ticket") || text.contains("support") {
                "T-1042"
            } else if text.contains("order") {
                "O-1001"
            } else {
                "sample_1"
            };
            match spec.arg_type {
                ArgType::Number | ArgType::Integer => json!(1),
                _ => json!(id),
            }
        } else if lname.contains("reason") {
            json!(
                if context.contains("order") || context.contains("status_change") {
                    "payment cleared and ready for the next status"
                } else if context.contains("credit")
                    || context.contains("customer")
                    || context.contains("account")
                {
                    "support goodwill credit"
                } else if ["late_fee", "waiver", "billing", "invoice"]
                    .iter()
                    .any(|k| context.contains(k))
                {
                    "approved support waiver"
                } else {
                    "reviewed and approved by support"
                }
            )
        } else if let Some(format) = spec.format {
            json!(match format {
                ArgFormat::Date => "2026-06-20",
                ArgFormat::DateTime => "2026-06-20T14:31:08Z",
            })
        } else if lname.contains("resolution") {
            json!("Resolved after reviewing policy evidence.")
        } else if let Some(first) = spec.enum_values.as_ref().and_then(|e| e.first()) {
            first.clone()
        } else if lname.contains("status") {
            json!("pending_review")
        } else if ["amount", "cents", "fee", "credit", "balance"]
            .iter()
            .any(|k| lname.contains(k))
        {
            match (spec.maximum, spec.arg_type) {
                (Some(max), ArgType::Integer) => number(max.min(1000.0).floor()),
                (Some(max), _) => number(max.min(1000.0)),
                (None, _) => json!(0),
            }
        } else {
            match spec.arg_type {
                ArgType::Number => number(spec.minimum.unwrap_or(1.0)),
                ArgType::Integer => number(spec.minimum.unwrap_or(1.0).ceil()),
                ArgType::Boolean => json!(true),
                ArgType::String => json!(format!("sample_{name}")),
            }
        };
        args.insert(name.clone(), value);
    }
    args
}

/// An object id recorded at onboarding (`--smoke-id`, kept as text) as the lookup argument
/// `spec` takes it: a JSON integer for an integer key, so `--sample` sends what a model's
/// client sends. Anything else is sent as recorded.
pub fn recorded_id(spec: Option<&ArgSpec>, id: &Value) -> Value {
    match (spec.map(|s| s.arg_type), id.as_str().map(str::parse::<i64>)) {
        (Some(ArgType::Integer), Some(Ok(n))) => json!(n),
        _ => id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_flags_resolve_or_name_the_conflict() {
        let c = AliasMode::Canonical;
        let f = AliasMode::from_flags;
        assert_eq!(f(None, None, false, c), Ok(c));
        assert_eq!(f(Some("both"), None, false, c), Ok(AliasMode::Both));
        assert_eq!(f(None, Some("openai"), false, c), Ok(AliasMode::Openai));
        assert_eq!(
            f(Some("openai"), Some("openai"), true, c),
            Ok(AliasMode::Openai)
        );
        assert_eq!(f(None, None, true, c), Ok(AliasMode::Openai));
        assert!(
            f(Some("both"), Some("openai"), false, c)
                .unwrap_err()
                .contains("must match")
        );
        assert!(
            f(Some("loud"), None, false, c)
                .unwrap_err()
                .contains("canonical, openai")
        );
        assert!(
            f(Some("both"), None, true, c)
                .unwrap_err()
                .contains("cannot be combined")
        );
    }

    #[test]
    fn recorded_ids_take_the_type_of_the_key() {
        let spec = |arg_type| ArgSpec {
            name: "invoice_id".into(),
            arg_type,
            description: None,
            required: true,
            max_length: None,
            minimum: None,
            maximum: None,
            enum_values: None,
            format: None,
            range: None,
        };
        let integer = spec(ArgType::Integer);
        assert_eq!(recorded_id(Some(&integer), &json!("98")), json!(98));
        assert_eq!(recorded_id(Some(&integer), &json!(98)), json!(98));
        assert_eq!(recorded_id(Some(&integer), &json!("INV-1")), json!("INV-1"));
        assert_eq!(
            recorded_id(Some(&spec(ArgType::String)), &json!("98")),
            json!("98")
        );
        assert_eq!(recorded_id(None, &json!("98")), json!("98"));
    }

    #[test]
    fn alias_vectors() {
        assert_eq!(
            openai_alias("billing.inspect_invoice"),
            "billing__inspect_invoice"
        );
        assert_eq!(h8("billing.inspect_invoice"), "bbab90d3");
        assert_eq!(openai_alias("a_.b"), "a__b");
        assert_eq!(openai_alias("ns.x__y"), "ns__x__y");
        assert_eq!(shorten("ns__x__y", "ns__x.y"), "ns__x__y_0ea4d867");
        assert_eq!(
            openai_alias(
                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrst.uvwxyzabcdefghijklmnopqrstuvwxyz"
            ),
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrst__uvwxyza_0d84ee06"
        );
    }
}
