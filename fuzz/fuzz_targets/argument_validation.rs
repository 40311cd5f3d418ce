//! Fuzz target: tool argument validation (`sluicegate_core::call::validate_args`) against the
//! published JSON Schema of the same tool.
//!
//! Capabilities come from two places: three fixed ones whose arguments cover every rule
//! (strings with UTF-16 length limits, astral-plane enum values, integral, fractional and 2^53
//! bounds, mixed-type enums, booleans), and one built per input from fuzzed argument specs,
//! kept only when the config validator accepts it. Argument objects come from JSON text (tried
//! against every fixed capability) or are built near the declared names, enum values and
//! bounds, with huge numbers, astral strings and nested values mixed in.
//!
//! Properties, for every argument object:
//! - `validate_args` never panics;
//! - it accepts exactly what the tool's `inputSchema` accepts, evaluated as the reference's
//!   clients read it (`maxLength` in UTF-16 code units), as
//!   `crates/sluicegate-mcp/tests/argument_agreement.rs` does;
//! - a refusal is an argument refusal (a code the model can correct, so an `isError` result)
//!   with a message.

#![no_main]

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use sluicegate_core::call::{Args, TRUSTED_BINDING_NAMES, validate_args};
use sluicegate_core::config::{Capability, Config, validate};
use sluicegate_core::refusal::Code;
use sluicegate_core::tools::input_schema;
use sluicegate_fuzz::{Gen, edge_numbers, looks_like_json};

/// The argument refusal codes: each is invalid input the model can correct.
const ARGUMENT_CODES: &[Code] = &[
    Code::ModelCannotOverrideBinding,
    Code::ArgumentRequired,
    Code::ArgumentTypeInvalid,
    Code::ArgumentTooLong,
    Code::ArgumentBelowMinimum,
    Code::ArgumentAboveMaximum,
    Code::ArgumentNotAllowed,
    Code::ArgumentUnknown,
];

/// A config with one read capability per `(name, args)`.
fn config_doc(caps: &[(&str, Value)]) -> Value {
    let caps: Vec<Value> = caps
        .iter()
        .map(|(name, args)| {
            let lookup = args
                .as_object()
                .and_then(|a| a.keys().next().cloned())
                .unwrap_or_default();
            json!({
                "name": name, "kind": "read", "source": "app",
                "target": {"schema": "main", "table": "things", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": args,
                "lookup": {"id_from_arg": lookup},
                "visible_columns": ["id"]
            })
        })
        .collect();
    json!({
        "version": 1,
        "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "agent_7"}},
        "capabilities": caps
    })
}

/// The fixed capabilities: every argument rule, at awkward values.
fn fixed_doc() -> Value {
    config_doc(&[
        (
            "t.strings",
            json!({
                "code": {"type": "string", "max_length": 4},
                "note": {"type": "string", "required": false, "max_length": 6},
                "one": {"type": "string", "required": false, "max_length": 1},
                "free": {"type": "string", "required": false}
            }),
        ),
        (
            "t.numbers",
            json!({
                "n": {"type": "number", "minimum": 0, "maximum": 100},
                "f": {"type": "number", "required": false, "minimum": -1.5, "maximum": 2.25},
                "big": {"type": "number", "required": false, "maximum": 9_007_199_254_740_992_u64},
                "low": {"type": "number", "required": false, "minimum": -9_007_199_254_740_993_i64},
                "tiny": {"type": "number", "required": false, "minimum": 1e-300, "maximum": 1e-299},
                "any": {"type": "number", "required": false}
            }),
        ),
        (
            "t.choices",
            json!({
                "color": {"type": "string", "enum": ["red", "green", "🟥🟩", ""], "max_length": 4},
                "level": {"type": "number", "required": false, "enum": [1, 2.5, "3", -0.0, 18_446_744_073_709_551_615_u64]},
                "flag": {"type": "boolean", "required": false},
                "only_true": {"type": "boolean", "required": false, "enum": [true]}
            }),
        ),
    ])
}

/// `maxLength` in UTF-16 code units (JavaScript's `length`), as the reference's clients and
/// `validate_args` count.
struct MaxUtf16(u64);

impl<'i> Keyword<'i> for MaxUtf16 {
    fn validate(&self, instance: &'i Value) -> std::result::Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(
                "longer than maxLength UTF-16 code units",
            ))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        instance
            .as_str()
            .is_none_or(|s| s.encode_utf16().count() as u64 <= self.0)
    }
}

fn max_utf16<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _path: Location,
) -> std::result::Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let max = value
        .as_u64()
        .ok_or_else(|| ValidationError::custom("maxLength must be a non-negative integer"))?;
    Ok(Box::new(MaxUtf16(max)))
}

/// The published schema of `cap`, compiled with the UTF-16 `maxLength`.
fn schema_validator(cap: &Capability) -> jsonschema::Validator {
    let schema = input_schema(cap);
    match jsonschema::options()
        .with_keyword("maxLength", max_utf16)
        .build(&schema)
    {
        Ok(v) => v,
        Err(e) => panic!(
            "{}: published inputSchema does not compile: {e}\n{schema}",
            cap.name
        ),
    }
}

struct Fixed {
    config: Config,
    validators: Vec<jsonschema::Validator>,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let (v, config) = validate(&fixed_doc());
        let config = config.unwrap_or_else(|| panic!("fixed config is invalid: {v:?}"));
        let validators = config.capabilities.iter().map(schema_validator).collect();
        Fixed { config, validators }
    })
}

/// The property: the runtime and the published schema agree, and refusals are argument
/// refusals.
fn check(cap: &Capability, schema: &jsonschema::Validator, args: &Args) {
    let by_runtime = validate_args(cap, args);
    let by_schema = schema.is_valid(&Value::Object(args.clone()));
    assert_eq!(
        by_runtime.is_ok(),
        by_schema,
        "{}: validate_args {by_runtime:?} but inputSchema says valid={by_schema} for {}\nschema: {}",
        cap.name,
        Value::Object(args.clone()),
        input_schema(cap)
    );
    if let Err(refusal) = by_runtime {
        assert!(
            ARGUMENT_CODES.contains(&refusal.code) && refusal.code.is_invalid_input(),
            "{}: not an argument refusal: {refusal:?}",
            cap.name
        );
        assert!(!refusal.message.trim().is_empty(), "{refusal:?}");
    }
}

const STRINGS: &[&str] = &[
    "red",
    "green",
    "Red",
    "🟥🟩",
    "🟥",
    "🟩🟥",
    "",
    "3",
    "1",
    "2.5",
    "abcd",
    "abcde",
    "😀😀",
    "😀😀😀",
    "true",
];

fn values() -> Gen<'static> {
    Gen {
        keys: &["a", "b", "id", "x"],
        strings: STRINGS,
        max_depth: 3,
    }
}

/// A number next to `x`: equal but written differently, one ulp off, or an edge value.
fn near(u: &mut Unstructured<'_>, x: f64) -> Result<Value> {
    let next = |f: f64, up: bool| {
        if f == 0.0 {
            if up { 5e-324 } else { -5e-324 }
        } else if (f > 0.0) == up {
            f64::from_bits(f.to_bits() + 1)
        } else {
            f64::from_bits(f.to_bits() - 1)
        }
    };
    Ok(match u.int_in_range(0..=5)? {
        0 => json!(x),
        1 if x.fract() == 0.0 && x.abs() < 1.8e19 => {
            if x < 0.0 {
                json!(x as i64)
            } else {
                json!(x as u64)
            }
        }
        2 => json!(next(x, true)),
        3 => json!(next(x, false)),
        4 => json!(x + u.int_in_range(-2i32..=2)? as f64),
        _ => Value::Number(u.choose(&edge_numbers())?.clone()),
    })
}

/// An argument object for `cap`: each declared argument present about four times in five,
/// with a value near its rules, and now and then an undeclared or trusted-binding key.
fn arguments(u: &mut Unstructured<'_>, cap: &Capability) -> Result<Args> {
    let g = values();
    let mut args = Args::new();
    for (name, spec) in &cap.args {
        if !u.ratio(4, 5)? {
            continue;
        }
        let value = match u.int_in_range(0..=9)? {
            0 | 1 => g.value(u)?,
            2 | 3 if spec.enum_values.as_ref().is_some_and(|e| !e.is_empty()) => {
                let allowed = spec.enum_values.as_deref().unwrap_or_default();
                let v = u.choose(allowed)?.clone();
                match v.as_f64() {
                    Some(x) if u.arbitrary()? => near(u, x)?,
                    _ => v,
                }
            }
            4 | 5 => {
                let bound = [spec.minimum, spec.maximum]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<f64>>();
                if bound.is_empty() {
                    Value::Number(g.number(u)?)
                } else {
                    let x = *u.choose(&bound)?;
                    near(u, x)?
                }
            }
            6 if spec.max_length.is_some() => {
                // A string around the limit, in astral or plain characters.
                let max = spec.max_length.unwrap_or(0).min(600) as usize;
                let c = *u.choose(&['a', 'é', '😀', '\u{10FFFF}'])?;
                let n = max.saturating_add_signed(u.int_in_range(-2isize..=2)?);
                json!(std::iter::repeat_n(c, n).collect::<String>())
            }
            7 => Value::String(g.vocab_string(u)?),
            8 => Value::Bool(u.arbitrary()?),
            _ => Value::Number(g.number(u)?),
        };
        args.insert(name.clone(), value);
    }
    // Bounded: an exhausted `Unstructured` answers every ratio with "yes".
    for _ in 0..3 {
        if u.is_empty() || !u.ratio(1, 12)? {
            break;
        }
        let key = match u.int_in_range(0..=2)? {
            0 => u.choose(TRUSTED_BINDING_NAMES)?.to_string(),
            1 => g.string(u)?,
            _ => "extra".to_string(),
        };
        args.insert(key, g.value(u)?);
    }
    Ok(args)
}

const ARG_NAMES: &[&str] = &["a", "b", "invoice_id", "limit", "x1"];
const ARG_TYPES: &[&str] = &["string", "number", "boolean", "integer", "String"];

/// One fuzzed argument spec, as config JSON.
fn arg_spec(u: &mut Unstructured<'_>) -> Result<Value> {
    let g = values();
    let mut spec = Map::new();
    spec.insert("type".into(), json!(*u.choose(ARG_TYPES)?));
    if u.ratio(1, 3)? {
        spec.insert("required".into(), json!(u.arbitrary::<bool>()?));
    }
    if u.ratio(1, 3)? {
        let n = match u.int_in_range(0..=3)? {
            0 => json!(u.int_in_range(0u64..=12)?),
            1 => Value::Number(g.number(u)?),
            2 => json!(u.arbitrary::<u64>()?),
            _ => g.value(u)?,
        };
        spec.insert("max_length".into(), n);
    }
    for bound in ["minimum", "maximum"] {
        if u.ratio(1, 3)? {
            let n = match u.int_in_range(0..=2)? {
                0 => json!(u.int_in_range(-5i64..=105)?),
                1 => Value::Number(g.number(u)?),
                _ => near(u, 0.0)?,
            };
            spec.insert(bound.into(), n);
        }
    }
    if u.ratio(1, 3)? {
        let mut items = Vec::new();
        for _ in 0..u.int_in_range(0..=4)? {
            items.push(match u.int_in_range(0..=3)? {
                0 => Value::String(g.vocab_string(u)?),
                1 => Value::Number(g.number(u)?),
                2 => json!(u.int_in_range(-2i64..=3)?),
                _ => g.value(u)?,
            });
        }
        spec.insert("enum".into(), Value::Array(items));
    }
    Ok(Value::Object(spec))
}

/// A capability built from fuzzed argument specs, when the validator accepts it.
fn fuzzed_capability(u: &mut Unstructured<'_>) -> Result<Option<Config>> {
    let mut args = Map::new();
    for _ in 0..u.int_in_range(1..=3)? {
        args.insert((*u.choose(ARG_NAMES)?).to_string(), arg_spec(u)?);
    }
    let (_, config) = validate(&config_doc(&[("t.fuzzed", Value::Object(args))]));
    Ok(config)
}

fn structured(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    if u.ratio(1, 3)? {
        let Some(config) = fuzzed_capability(&mut u)? else {
            return Ok(());
        };
        let cap = &config.capabilities[0];
        let schema = schema_validator(cap);
        for _ in 0..u.int_in_range(1..=4)? {
            check(cap, &schema, &arguments(&mut u, cap)?);
        }
    } else {
        let fx = fixed();
        let i = u.choose_index(fx.config.capabilities.len())?;
        let cap = &fx.config.capabilities[i];
        check(cap, &fx.validators[i], &arguments(&mut u, cap)?);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    if looks_like_json(data) {
        if let Ok(Value::Object(args)) = serde_json::from_slice::<Value>(data) {
            let fx = fixed();
            for (cap, schema) in fx.config.capabilities.iter().zip(&fx.validators) {
                check(cap, schema, &args);
            }
        }
    } else {
        let _ = structured(data);
    }
});
