//! One argument validator: the published `inputSchema` of every tool and the runtime's
//! `check_args` reach the same verdict on every argument object, and every refusal of
//! arguments reaches the model as an `isError: true` result naming the argument, in both result
//! formats. The one difference is deliberate: an `integer` argument (typed from an integer
//! column) is also accepted as a string of digits, and then bound as that integer, which the
//! schema accepts.
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
use sluicegate_core::call::{check_args, validate_args};
use sluicegate_core::config::{Config, validate};
use sluicegate_core::tools::{AliasMode, args_schema, input_schema};
use sluicegate_core::typed::Typed;
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
    let with_types = |mut cap: Value, types: Value| {
        cap["column_types"] = types;
        cap
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
            // Integer keys, typed from declared column types: a string of at most four
            // characters, and a number over the whole bigint range.
            with_types(read("t.codes", "code", json!({
                "code": {"type": "string", "max_length": 4}
            })), json!({"id": {"type": "integer"}})),
            with_types(read("t.keys", "key", json!({
                "key": {"type": "number", "minimum": -5}
            })), json!({"id": {"type": "integer"}})),
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

const NAMES: [&str; 5] = ["t.strings", "t.numbers", "t.choices", "t.codes", "t.keys"];

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

/// The published schema of `name` (its arguments typed from its declared column types),
/// compiled with JavaScript's string length.
fn schema_validator(config: &Config, name: &str) -> jsonschema::Validator {
    let schema = args_schema(&Typed::declared(config.capability(name).unwrap()).args);
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
                (format, Surface::new(api, AliasMode::Canonical))
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

/// Check one argument object against capability `index`: the schema and `check_args` agree,
/// and the surface answers accordingly in both formats.
fn check(index: usize, args: &Map<String, Value>) -> Result<(), TestCaseError> {
    let fx = fixture();
    let name = NAMES[index];
    let cap = fx.config.capability(name).unwrap();
    let typed = Typed::declared(cap);
    let by_schema = fx.validators[index].is_valid(&Value::Object(args.clone()));
    let by_runtime = check_args(cap, &typed.args, args);
    // What the runtime binds is what the schema accepts; it differs from what was sent only
    // where an integer argument came as a string of digits.
    let bound_valid = by_runtime
        .as_ref()
        .is_ok_and(|b| fx.validators[index].is_valid(&Value::Object(b.clone())));
    prop_assert_eq!(
        by_runtime.is_ok(),
        bound_valid,
        "{} {:?}: runtime bound {:?}, which the schema refuses",
        name,
        args,
        by_runtime
    );
    if let Ok(bound) = &by_runtime
        && bound != args
    {
        for (k, v) in args {
            let integer = typed
                .args
                .get(k)
                .is_some_and(|s| s.arg_type.as_str() == "integer");
            prop_assert!(
                bound[k] == *v || (integer && (v.is_string() || v.as_f64() == bound[k].as_f64())),
                "{} {:?}: only digit strings and whole numbers of integer arguments are converted",
                name,
                args
            );
        }
    } else {
        prop_assert_eq!(
            by_schema,
            by_runtime.is_ok(),
            "{} {:?}: schema {} runtime {:?}",
            name,
            args,
            by_schema,
            by_runtime
        );
    }
    if let Err(refusal) = &by_runtime {
        prop_assert!(
            refusal
                .argument
                .as_deref()
                .is_some_and(|a| args.contains_key(a) || typed.args.contains_key(a)),
            "{} {:?}: the refusal names its argument: {:?}",
            name,
            args,
            refusal
        );
    }
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
        if by_runtime.is_ok() {
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
            let named = if *format == 2 {
                &payload["error"]["argument"]
            } else {
                &payload["argument"]
            };
            let want = by_runtime.as_ref().err().and_then(|r| r.argument.clone());
            prop_assert_eq!(
                named.as_str().map(str::to_string),
                want,
                "v{} {}",
                format,
                payload
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

/// Strings an integer argument may or may not accept: digits, signs, fractions, padding, text.
fn digit_strings() -> impl Strategy<Value = String> {
    prop_oneof![
        prop_oneof![
            Just("42"),
            Just("-7"),
            Just("0042"),
            Just("9999"),
            Just("10000"),
            Just("-999"),
            Just("-1000"),
            Just("-5"),
            Just("-6"),
            Just("9223372036854775807"),
            Just("9223372036854775808"),
            Just("-9223372036854775808"),
            Just("99999999999999999999999999999999999999999"),
            Just("4.2"),
            Just("4.0"),
            Just("1e3"),
            Just("+4"),
            Just(" 4"),
            Just("-"),
            Just(""),
            Just("abc"),
        ]
        .prop_map(str::to_string),
        "-?[0-9]{1,6}",
        any::<i64>().prop_map(|n| n.to_string()),
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
        "integer" => prop_oneof![numbers(), digit_strings().prop_map(Value::String)].boxed(),
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
        3 => &[("code", "integer")],
        4 => &[("key", "integer")],
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

    #[test]
    fn integer_code_capability(args in arguments(3)) {
        check(3, &args)?;
    }

    #[test]
    fn integer_key_capability(args in arguments(4)) {
        check(4, &args)?;
    }
}

/// The surface publishes the typed schema the runtime checks: an integer key whose declared
/// `max_length` of 4 became its range.
#[test]
fn the_published_schema_is_the_typed_one() {
    let fx = fixture();
    for (format, surface) in &fx.surfaces {
        let listed: Vec<&Value> = surface.tool_definitions().collect();
        for (i, name) in NAMES.iter().enumerate() {
            let cap = fx.config.capability(name).unwrap();
            assert_eq!(
                listed[i]["inputSchema"],
                args_schema(&Typed::declared(cap).args),
                "v{format} {name}"
            );
        }
        assert_eq!(
            listed[3]["inputSchema"]["properties"]["code"],
            json!({"type": "integer", "minimum": -999, "maximum": 9999, "description": "code business argument"})
        );
        assert_eq!(listed[4]["inputSchema"]["properties"]["key"]["minimum"], -5);
        assert_eq!(
            listed[4]["inputSchema"]["properties"]["key"]["maximum"],
            json!(i64::MAX)
        );
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
