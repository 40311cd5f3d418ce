//! The pure front half of a tool call: argument checks, trusted context and the read plan.
//!
//! Order matters and follows capability-runtime.md §2: reserved arguments are refused before
//! the capability is even looked up, declared arguments are validated before the mode check,
//! and trusted context is resolved last, from the environment the caller passes in.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::config::{
    ArgSpec, ArgType, Capability, Config, ContextSpec, Engine, Kind, Mode, Provider,
};
use crate::json::{cmp_int_f64, cmp_number, format_f64, numbers_equal};
use crate::proposal::SINGLE_TENANT_VALUE;
use crate::refusal::{Code, Refusal};

/// Argument names that would hand trust-scope authority to the model.
pub const TRUSTED_BINDING_NAMES: &[&str] = &[
    "tenant_id",
    "tenantId",
    "principal",
    "principal_id",
    "principalId",
    "project_id",
    "projectId",
    "source_id",
    "sourceId",
    "allowed_columns",
    "allowedColumns",
    "row_version",
    "rowVersion",
    "current_version",
    "currentVersion",
    "expected_version",
    "expectedVersion",
    "approval_identity",
    "approvalIdentity",
];

/// Tool arguments: a JSON object in the order the caller sent it.
pub type Args = Map<String, Value>;

/// Refuse any argument that tries to set a trusted binding. Runs before the capability lookup,
/// so `cap` is `None` for unknown tools; when known, its tenant column is refused as well.
pub fn refuse_binding_overrides(args: &Args, cap: Option<&Capability>) -> Result<(), Refusal> {
    let tenant_key = cap.and_then(|c| c.target.tenant_key.as_deref());
    for key in args.keys() {
        if TRUSTED_BINDING_NAMES.contains(&key.as_str()) || Some(key.as_str()) == tenant_key {
            return Err(Refusal::new(
                Code::ModelCannotOverrideBinding,
                format!("{key} is trusted context and cannot be supplied as a model argument."),
            )
            .with_argument(key.as_str()));
        }
    }
    Ok(())
}

/// Find the capability a canonical name refers to.
pub fn find_capability<'a>(config: &'a Config, name: &str) -> Result<&'a Capability, Refusal> {
    config.capability(name).ok_or_else(|| {
        Refusal::new(
            Code::McpToolNotFound,
            format!("Unknown Synapsor tool: {name}"),
        )
    })
}

/// Validate arguments against the capability's declared args (config order, first failure
/// wins). Undeclared arguments are refused: every transport validates identically.
pub fn validate_args(cap: &Capability, args: &Args) -> Result<(), Refusal> {
    check_args(cap, &cap.args, args).map(|_| ())
}

/// Validate arguments against `specs` (the capability's args, typed from their columns by
/// `crate::typed`, or as declared) and return them as the runtime binds them: an integer
/// argument sent as a string of digits becomes that integer. Refused first: trusted-binding
/// names, then undeclared names, then each declared argument in order.
pub fn check_args(
    cap: &Capability,
    specs: &IndexMap<String, ArgSpec>,
    args: &Args,
) -> Result<Args, Refusal> {
    refuse_binding_overrides(args, Some(cap))?;
    if let Some(extra) = args.keys().find(|k| !specs.contains_key(k.as_str())) {
        return Err(Refusal::new(
            Code::ArgumentUnknown,
            format!("{extra} is not an argument of {}.", cap.name),
        )
        .with_argument(extra.as_str()));
    }
    let mut out = args.clone();
    for (name, spec) in specs {
        let Some(value) = args.get(name) else {
            if spec.required {
                return Err(
                    Refusal::new(Code::ArgumentRequired, format!("{name} is required."))
                        .with_argument(name.as_str()),
                );
            }
            continue;
        };
        let bound = coerce_arg(name, spec, value)?;
        if bound != *value {
            out.insert(name.clone(), bound);
        }
    }
    Ok(out)
}

/// Check one present argument value against its declared spec: type, length, bounds and
/// allowed values.
pub fn check_arg(name: &str, spec: &ArgSpec, value: &Value) -> Result<(), Refusal> {
    coerce_arg(name, spec, value).map(|_| ())
}

/// [`check_arg`], returning the value as it is bound: the same value, except that an
/// [`ArgType::Integer`] argument is always a JSON integer.
pub fn coerce_arg(name: &str, spec: &ArgSpec, value: &Value) -> Result<Value, Refusal> {
    let refuse = |code, message: String| Err(Refusal::new(code, message).with_argument(name));
    if spec.arg_type == ArgType::Integer {
        return integer_arg(name, spec, value);
    }
    let type_ok = match spec.arg_type {
        ArgType::String => value.is_string(),
        ArgType::Number => value.is_number(),
        ArgType::Boolean => value.is_boolean(),
        ArgType::Integer => false,
    };
    if !type_ok {
        return refuse(
            Code::ArgumentTypeInvalid,
            format!("{name} must be a {}.", spec.arg_type.as_str()),
        );
    }
    if let (Some(s), Some(max)) = (value.as_str(), spec.max_length) {
        // Lengths count UTF-16 code units, as JavaScript's `length` does (the reference
        // validates with it); the MCP surface publishes `maxLength` with the same meaning.
        if s.encode_utf16().count() as u64 > max {
            return refuse(
                Code::ArgumentTooLong,
                format!("{name} is longer than {max}."),
            );
        }
    }
    if let Value::Number(n) = value {
        // Exact comparison, as the published `inputSchema` states the bounds (an integer
        // beyond 2^53 is not rounded first), so the schema and this check agree.
        let below = |min: &f64| cmp_number(n, *min) == Some(std::cmp::Ordering::Less);
        let above = |max: &f64| cmp_number(n, *max) == Some(std::cmp::Ordering::Greater);
        if let Some(min) = spec.minimum.filter(below) {
            return refuse(
                Code::ArgumentBelowMinimum,
                format!("{name} must be at least {}.", format_f64(min)),
            );
        }
        if let Some(max) = spec.maximum.filter(above) {
            return refuse(
                Code::ArgumentAboveMaximum,
                format!("{name} must be at most {}.", format_f64(max)),
            );
        }
    }
    if let Some(allowed) = &spec.enum_values
        && !allowed.iter().any(|a| json_strict_eq(a, value))
    {
        return refuse(
            Code::ArgumentNotAllowed,
            format!("{name} is not an allowed value."),
        );
    }
    Ok(value.clone())
}

/// An integer argument: a JSON number without a fraction, or a string of ASCII digits with an
/// optional leading `-`, within the declared bounds and the column's range.
fn integer_arg(name: &str, spec: &ArgSpec, value: &Value) -> Result<Value, Refusal> {
    use std::cmp::Ordering::{Greater, Less};
    let refuse = |code, message: String| Err(Refusal::new(code, message).with_argument(name));
    let n = match value {
        Value::Number(n) => whole_number(n),
        Value::String(s) => digits(s),
        _ => None,
    };
    let Some(n) = n else {
        return refuse(
            Code::ArgumentTypeInvalid,
            format!(
                "{name} must be a whole number: a JSON integer such as 42, or a string of digits such as \"42\"."
            ),
        );
    };
    let (range_min, range_max) = spec
        .range
        .unwrap_or((i128::from(i64::MIN), i128::from(u64::MAX)));
    if let Some(min) = spec.minimum.filter(|m| cmp_int_f64(n, *m) == Some(Less)) {
        return refuse(
            Code::ArgumentBelowMinimum,
            format!("{name} must be at least {}.", format_f64(min)),
        );
    }
    if n < range_min {
        return refuse(
            Code::ArgumentBelowMinimum,
            format!("{name} must be at least {range_min}."),
        );
    }
    if let Some(max) = spec.maximum.filter(|m| cmp_int_f64(n, *m) == Some(Greater)) {
        return refuse(
            Code::ArgumentAboveMaximum,
            format!("{name} must be at most {}.", format_f64(max)),
        );
    }
    if n > range_max {
        return refuse(
            Code::ArgumentAboveMaximum,
            format!("{name} must be at most {range_max}."),
        );
    }
    let bound = integer_value(n);
    if let Some(allowed) = &spec.enum_values
        && !allowed.iter().any(|a| json_strict_eq(a, &bound))
    {
        return refuse(
            Code::ArgumentNotAllowed,
            format!("{name} is not an allowed value."),
        );
    }
    Ok(bound)
}

/// Integers far beyond any column's range are clamped here; the range check refuses them.
const CLAMP: i128 = 1 << 100;

/// A JSON number without a fractional part, as an integer (clamped to ±2^100).
fn whole_number(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    // Every whole double below 2^100 in magnitude converts exactly.
    Some(if f.abs() < CLAMP as f64 {
        f as i128
    } else {
        CLAMP * f.signum() as i128
    })
}

/// `-?[0-9]+` as an integer (clamped to ±2^100); anything else is not one.
fn digits(s: &str) -> Option<i128> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = body.trim_start_matches('0');
    let magnitude = if trimmed.len() > 30 {
        CLAMP
    } else {
        trimmed.parse::<i128>().unwrap_or(0).min(CLAMP)
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// An integer within `i64` or `u64` as a JSON number (every column range is).
fn integer_value(n: i128) -> Value {
    if let Ok(i) = i64::try_from(n) {
        Value::from(i)
    } else if let Ok(u) = u64::try_from(n) {
        Value::from(u)
    } else {
        Value::String(n.to_string())
    }
}

/// `===` on JSON scalars: numbers compare by value (`1` equals `1.0`), other types exactly.
pub fn json_strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        _ => a == b,
    }
}

/// Proposal capabilities are refused in `read_only` mode.
pub fn refuse_disabled_proposals(config: &Config, cap: &Capability) -> Result<(), Refusal> {
    if cap.kind == Kind::Proposal && config.mode == Mode::ReadOnly {
        return Err(Refusal::new(
            Code::ProposalsDisabled,
            "This runner is in read_only mode; proposal tools are disabled.",
        ));
    }
    Ok(())
}

/// Tenant and principal for one call, from trusted server-side context only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedContext {
    pub tenant_id: String,
    pub principal: String,
    pub provenance: Provider,
}

/// The tenant env var of an `environment` trusted context that names none.
pub const DEFAULT_TENANT_ENV: &str = "SYNAPSOR_TENANT_ID";
/// The principal env var of an `environment` trusted context that names none.
pub const DEFAULT_PRINCIPAL_ENV: &str = "SYNAPSOR_PRINCIPAL";

/// Resolve the trusted context of `cap` (config.md §6.2). `env` reads an environment variable;
/// empty values count as unset.
pub fn resolve_context(
    config: &Config,
    cap: &Capability,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TrustedContext, Refusal> {
    let spec: &ContextSpec = match (&cap.context, config.context_for(cap)) {
        (_, Some(spec)) => spec,
        (Some(name), None) => {
            return Err(Refusal::new(
                Code::TrustedContextMissing,
                format!(
                    "Capability {} references missing trusted context {name}.",
                    cap.name
                ),
            ));
        }
        (None, None) => {
            return Err(Refusal::new(
                Code::TrustedContextMissing,
                "No trusted_context is configured for this capability.",
            ));
        }
    };
    let env_value = |key: &str, default: &str| -> (String, Option<String>) {
        let name = spec
            .values
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string();
        let value = env(&name).filter(|v| !v.is_empty());
        (name, value)
    };
    // A single-tenant development target has no tenant column to scope by, so it needs no
    // tenant: the context's tenant when one is named and set, else the pseudo tenant.
    let single_tenant = cap.target.tenant_key.is_none() && cap.target.single_tenant_dev;
    let untenanted = |tenant: Option<String>| match tenant {
        None if single_tenant => Some(SINGLE_TENANT_VALUE.to_string()),
        other => other,
    };
    match spec.provider {
        Provider::Environment => {
            let (tenant_env, tenant) = env_value("tenant_id_env", DEFAULT_TENANT_ENV);
            let (principal_env, principal) = env_value("principal_env", DEFAULT_PRINCIPAL_ENV);
            match (untenanted(tenant), principal) {
                (Some(tenant_id), Some(principal)) => Ok(TrustedContext {
                    tenant_id,
                    principal,
                    provenance: Provider::Environment,
                }),
                _ if single_tenant => Err(Refusal::new(
                    Code::TrustedBindingMissing,
                    format!("{principal_env} must be set."),
                )),
                _ => Err(Refusal::new(
                    Code::TrustedBindingMissing,
                    format!("{tenant_env} and {principal_env} must be set."),
                )),
            }
        }
        Provider::StaticDev => {
            let pick = |env_key: &str, literal_key: &str| -> Option<String> {
                spec.values
                    .get(env_key)
                    .and_then(Value::as_str)
                    .and_then(env)
                    .filter(|v| !v.is_empty())
                    .or_else(|| {
                        spec.values
                            .get(literal_key)
                            .and_then(Value::as_str)
                            .filter(|v| !v.is_empty())
                            .map(str::to_string)
                    })
            };
            match (
                untenanted(pick("tenant_id_env", "tenant_id")),
                pick("principal_env", "principal"),
            ) {
                (Some(tenant_id), Some(principal)) => Ok(TrustedContext {
                    tenant_id,
                    principal,
                    provenance: Provider::StaticDev,
                }),
                _ => Err(Refusal::new(
                    Code::TrustedBindingMissing,
                    "static_dev trusted_context requires tenant_id/principal values or env bindings.",
                )),
            }
        }
        Provider::HttpClaims | Provider::CloudSession => Err(Refusal::new(
            Code::TrustedContextUnsupported,
            format!(
                "{} trusted context is not available in local stdio mode.",
                spec.provider.as_str()
            ),
        )),
    }
}

/// Everything the source layer needs to read one row. Identifiers come only from the
/// validated config; the two values are bound parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPlan {
    pub source: String,
    pub engine: Engine,
    pub schema: String,
    pub table: String,
    pub columns: Vec<String>,
    pub primary_key: String,
    pub tenant_column: Option<String>,
    pub lookup_value: Value,
    pub tenant_value: Option<String>,
    pub limit: u64,
}

/// Plan the exactly-one-row read of `cap` for the trusted tenant.
pub fn plan_read(
    config: &Config,
    cap: &Capability,
    args: &Args,
    ctx: &TrustedContext,
) -> Result<ReadPlan, Refusal> {
    let source = config.sources.get(&cap.source).ok_or_else(|| {
        Refusal::new(
            Code::SourceNotFound,
            format!("Unknown source: {}", cap.source),
        )
    })?;
    let lookup_value = args.get(&cap.lookup_arg).cloned().ok_or_else(|| {
        Refusal::new(
            Code::LookupArgMissing,
            format!("{} is required.", cap.lookup_arg),
        )
        .with_argument(cap.lookup_arg.as_str())
    })?;
    let tenant_column = cap.target.tenant_key.clone();
    Ok(ReadPlan {
        source: cap.source.clone(),
        engine: source.engine,
        schema: cap.target.schema.clone(),
        table: cap.target.table.clone(),
        columns: cap.read_columns().to_vec(),
        primary_key: cap.target.primary_key.clone(),
        tenant_value: tenant_column.as_ref().map(|_| ctx.tenant_id.clone()),
        tenant_column,
        lookup_value,
        limit: cap.limit(),
    })
}
