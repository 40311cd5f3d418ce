//! One argument validator: the published `inputSchema` of every tool and the runtime's
//! `validate_args` reach the same verdict on every argument object, and every refusal of
//! arguments reaches the model as an `isError: true` result, in both result formats.
//!
//! The schema is evaluated as the reference's clients read it: `maxLength` counts UTF-16 code
//! units (JavaScript's `length`), not code points, so the stock `maxLength` keyword is replaced
//! by one that counts the same unit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sluicegate_core::call::validate_args;
use sluicegate_core::config::{Config, validate};
use sluicegate_core::tools::{AliasMode, input_schema};
use sluicegate_ledger::{Ledger, MEMORY};
use sluicegate_mcp::Surface;
use sluicegate_runtime::{AgentApi, Env};

/// Capabilities whose args cover every rule: required and optional strings with a length
/// limit, numbers with integral, fractional and 2^53 bounds, string, number and mixed enums,
/// booleans. No source URL is set, so arguments that pass validation stop at the source with
/// `SOURCE_CREDENTIAL_MISSING`, a refusal that is not about arguments.
fn config(result_format: u8) -> Arc<Config> {
    let read = |name: &str, lookup: &str, args: Value| {
        json!({
            "name": name, "kind": "read", "source": "app",
            "target": {"schema": "main", "table": "things", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": args,
            "lookup": {"id_from_arg": lookup},
            "visible_columns": ["id"]
        })
    };
    let doc = json!({
        "version": 1,
        "mode": "review",
        "result_format": result_format,
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "agent_7"}},
        "capabilities": [
            read("t.strings", "code", json!({
                "code": {"type": "string", "max_length": 4},
                "note": {"type": "string", "required": false, "max_length": 6}
            })),
            read("t.numbers", "n", json!({
                "n": {"type": "number", "minimum": 0, "maximum": 100},
                "f": {"type": "number", "required": false, "minimum": -1.5, "maximum": 2.25},
                "big": {"type": "number", "required": false, "maximum": 9_007_199_254_740_992_u64}
            })),
            read("t.choices", "color", json!({
                "color": {"type": "string", "enum": ["red", "green", "🟥🟩"], "max_length": 4},
                "level": {"type": "number", "required": false, "enum": [1, 2.5, "3"]},
                "flag": {"type": "boolean", "required": false}
            })),
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

const NAMES: [&str; 3] = ["t.strings", "t.numbers", "t.choices"];

/// `maxLength` in UTF-16 code units.
struct MaxUtf16(u64);

impl<'i> Keyword<'i> for MaxUtf16 {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
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
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let max = value
        .as_u64()
        .ok_or_else(|| ValidationError::custom("maxLength must be a non-negative integer"))?;
    Ok(Box::new(MaxUtf16(max)))
}

/// The published schema of `name`, compiled with JavaScript's string length.
fn schema_validator(config: &Config, name: &str) -> jsonschema::Validator {
    let schema = input_schema(config.capability(name).unwrap());
    jsonschema::options()
        .with_keyword("maxLength", max_utf16)
        .build(&schema)
        .unwrap()
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    config: Arc<Config>,
    validators: Vec<jsonschema::Validator>,
    surfaces: Vec<(u8, Surface)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config_v1 = config(1);
        let validators = NAMES
            .iter()
            .map(|n| schema_validator(&config_v1, n))
            .collect();
        let surfaces = [1, 2]
            .into_iter()
            .map(|format| {
                let ledger = Ledger::open(Path::new(MEMORY)).unwrap();
                let env = Env::from_map(HashMap::new());
                let api = AgentApi::new(config(format), ledger, env, None);
                (format, Surface::new(api, AliasMode::Canonical).unwrap())
            })
            .collect();
        Fixture {
            rt,
            config: config_v1,
            validators,
            surfaces,
        }
    })
}

/// The argument refusal codes (mcp-surface.md §8) and their one v2 code.
const ARGUMENT_CODES: [&str; 9] = [
    "ARGUMENT_REQUIRED",
    "ARGUMENT_TYPE_INVALID",
    "ARGUMENT_TOO_LONG",
    "ARGUMENT_BELOW_MINIMUM",
    "ARGUMENT_ABOVE_MAXIMUM",
    "ARGUMENT_NOT_ALLOWED",
    "ARGUMENT_UNKNOWN",
    "MODEL_CANNOT_OVERRIDE_BINDING",
    "LOOKUP_ARG_MISSING",
];

/// Check one argument object against capability `index`: the schema and `validate_args` agree,
/// and the surface answers accordingly in both formats.
fn check(index: usize, args: &Map<String, Value>) -> Result<(), TestCaseError> {
    let fx = fixture();
    let name = NAMES[index];
    let cap = fx.config.capability(name).unwrap();
    let by_schema = fx.validators[index].is_valid(&Value::Object(args.clone()));
    let by_runtime = validate_args(cap, args);
    prop_assert_eq!(
        by_schema,
        by_runtime.is_ok(),
        "{} {:?}: schema {} runtime {:?}",
        name,
        args,
        by_schema,
        by_runtime
    );
    for (format, surface) in &fx.surfaces {
        let result = fx
            .rt
            .block_on(surface.call(name, Some(Value::Object(args.clone()))))
            .unwrap();
        let payload = &result.payload;
        let (code, invalid, reached_source) = if *format == 2 {
            let code = payload["error"]["code"].as_str().unwrap_or("");
            (
                code.to_string(),
                code == "INVALID_ARGUMENT",
                code == "TEMPORARILY_UNAVAILABLE",
            )
        } else {
            let code = payload["code"].as_str().unwrap_or("");
            (
                code.to_string(),
                ARGUMENT_CODES.contains(&code),
                code == "SOURCE_CREDENTIAL_MISSING",
            )
        };
        if by_schema {
            prop_assert!(
                reached_source,
                "v{} {} {:?}: valid arguments reach the source, got {}",
                format,
                name,
                args,
                payload
            );
        } else {
            prop_assert!(
                invalid && result.is_error,
                "v{} {} {:?}: an argument refusal with isError, got {} (isError {}, {})",
                format,
                name,
                args,
                payload,
                result.is_error,
                code
            );
        }
    }
    Ok(())
}

fn strings() -> impl Strategy<Value = String> {
    // Astral-plane characters count two UTF-16 units and one code point: the case the two
    // validators used to disagree on.
    let ch = prop_oneof![
        Just('a'),
        Just('é'),
        Just('中'),
        Just('😀'),
        Just('🟥'),
        Just('🟩'),
        Just('\u{10FFFF}'),
    ];
    prop_oneof![
        prop::collection::vec(ch, 0..9).prop_map(|cs| cs.into_iter().collect()),
        prop_oneof![
            Just("red"),
            Just("green"),
            Just("🟥🟩"),
            Just("3"),
            Just("")
        ]
        .prop_map(str::to_string),
    ]
}

fn numbers() -> impl Strategy<Value = Value> {
    prop_oneof![
        // At and around every bound.
        prop_oneof![
            Just(json!(0)),
            Just(json!(-0.0)),
            Just(json!(100)),
            Just(json!(100.0)),
            Just(json!(-1)),
            Just(json!(101)),
            Just(json!(100.000_000_000_001)),
            Just(json!(-0.000_000_000_1)),
            Just(json!(-1.5)),
            Just(json!(-1.500_000_000_000_1)),
            Just(json!(2.25)),
            Just(json!(2.250_000_000_000_1)),
            Just(json!(1)),
            Just(json!(1.0)),
            Just(json!(2.5)),
            Just(json!(9_007_199_254_740_992_u64)),
            Just(json!(9_007_199_254_740_993_u64)),
            Just(json!(9_007_199_254_740_992.0)),
            Just(json!(u64::MAX)),
            Just(json!(i64::MIN)),
            Just(json!(1e300)),
            Just(json!(-1e300)),
        ],
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        (-3.0..110.0_f64).prop_map(|f| json!(f)),
    ]
}

fn values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        numbers(),
        strings().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A value for a declared argument: mostly of its type and near its limits, sometimes any
/// JSON value (a wrong type, `null`, an array, an object).
fn value_for(arg_type: &str) -> BoxedStrategy<Value> {
    let typed = match arg_type {
        "string" => strings().prop_map(Value::String).boxed(),
        "number" => numbers().boxed(),
        _ => any::<bool>().prop_map(Value::Bool).boxed(),
    };
    prop_oneof![6 => typed, 1 => values()].boxed()
}

/// Argument objects for capability `index`: each declared argument present about four times
/// in five; now and then an undeclared key or a trusted-binding name as well.
fn arguments(index: usize) -> impl Strategy<Value = Map<String, Value>> {
    let declared: &[(&'static str, &str)] = match index {
        0 => &[("code", "string"), ("note", "string")],
        1 => &[("n", "number"), ("f", "number"), ("big", "number")],
        _ => &[
            ("color", "string"),
            ("level", "number"),
            ("flag", "boolean"),
        ],
    };
    let mut entries: Vec<BoxedStrategy<Option<(String, Value)>>> = declared
        .iter()
        .map(|&(key, arg_type)| {
            // Enum arguments mostly get values near their allowlist: equal as numbers but
            // written differently, allowed but too long, the right text with the wrong type.
            let value = match key {
                "color" => prop_oneof![
                    2 => prop_oneof![
                        Just(json!("red")),
                        Just(json!("green")),
                        Just(json!("🟥🟩")),
                        Just(json!("🟥")),
                        Just(json!("Red")),
                    ],
                    1 => value_for(arg_type),
                ]
                .boxed(),
                "level" => prop_oneof![
                    2 => prop_oneof![
                        Just(json!(1)),
                        Just(json!(1.0)),
                        Just(json!(2.5)),
                        Just(json!(3)),
                        Just(json!("3")),
                        Just(json!(1.000_000_000_000_001)),
                    ],
                    1 => value_for(arg_type),
                ]
                .boxed(),
                _ => value_for(arg_type),
            };
            (prop::bool::weighted(0.8), value)
                .prop_map(move |(on, v)| on.then(|| (key.to_string(), v)))
                .boxed()
        })
        .collect();
    for key in ["extra", "tenant_id", "principal", "limit"] {
        entries.push(
            (prop::bool::weighted(0.04), values())
                .prop_map(move |(on, v)| on.then(|| (key.to_string(), v)))
                .boxed(),
        );
    }
    entries.prop_map(|kvs| kvs.into_iter().flatten().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn strings_capability(args in arguments(0)) {
        check(0, &args)?;
    }

    #[test]
    fn numbers_capability(args in arguments(1)) {
        check(1, &args)?;
    }

    #[test]
    fn choices_capability(args in arguments(2)) {
        check(2, &args)?;
    }
}

/// The reviewed failure: three astral characters are three code points but six UTF-16 units.
/// The stock JSON Schema `maxLength` (code points) lets them through a limit of 4 while the
/// runtime refuses them; the published schema read in UTF-16 units, the runtime and the
/// surface all refuse, with `isError: true` in both formats.
#[test]
fn astral_strings_are_counted_in_utf16_units() {
    let fx = fixture();
    let args = json!({"code": "😀😀😀"}).as_object().unwrap().clone();
    let schema = input_schema(fx.config.capability("t.strings").unwrap());
    assert!(
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&Value::Object(args.clone()))
    );
    assert!(!fx.validators[0].is_valid(&Value::Object(args.clone())));
    check(0, &args).unwrap();
    let refused = validate_args(fx.config.capability("t.strings").unwrap(), &args).unwrap_err();
    assert_eq!(refused.code.as_str(), "ARGUMENT_TOO_LONG");
    // Two astral characters are four units: within the limit everywhere.
    let ok = json!({"code": "😀😀"}).as_object().unwrap().clone();
    assert!(fx.validators[0].is_valid(&Value::Object(ok.clone())));
    check(0, &ok).unwrap();
}

/// Arguments that are not an object are refused by the surface itself, as an error result.
#[test]
fn non_object_arguments_are_error_results() {
    let fx = fixture();
    for (format, surface) in &fx.surfaces {
        for args in [json!([1]), json!("x"), json!(3)] {
            let r = fx
                .rt
                .block_on(surface.call("t.strings", Some(args)))
                .unwrap();
            assert!(r.is_error, "v{format}: {}", r.payload);
        }
    }
}
