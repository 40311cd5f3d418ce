//! Bad input never panics: arbitrary JSON through the config validator, and arbitrary
//! arguments through the call pipeline of a valid capability.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sluicegate_core::call::{refuse_binding_overrides, validate_args};
use sluicegate_core::config::validate;
use sluicegate_core::json::canonical;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_.$ -]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("version"),
            Just("mode"),
            Just("sources"),
            Just("capabilities"),
            Just("review"),
            Just("postgres"),
            Just("sqlite"),
            Just("read"),
            Just("proposal"),
            Just("X_ENV"),
            Just("a.b")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-z_]{1,10}",
                        Just("version".to_string()),
                        Just("mode".to_string()),
                        Just("sources".to_string()),
                        Just("capabilities".to_string()),
                        Just("target".to_string()),
                        Just("args".to_string()),
                        Just("patch".to_string()),
                        Just("engine".to_string()),
                        Just("read_url_env".to_string()),
                        Just("trusted_context".to_string()),
                        Just("provider".to_string()),
                        Just("kind".to_string()),
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn base_config() -> Value {
    serde_json::from_str(include_str!("fixtures/billing.json")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn validator_never_panics_on_arbitrary_json(doc in arb_json()) {
        let (v, c) = validate(&doc);
        prop_assert_eq!(v.ok, c.is_some());
        let _ = canonical(&doc);
    }

    #[test]
    fn validator_never_panics_when_a_valid_config_is_perturbed(
        path in prop::collection::vec(0usize..12, 1..4),
        replacement in arb_json(),
    ) {
        let mut doc = base_config();
        // Walk to some node (as a JSON pointer) and replace it.
        let mut pointer = String::new();
        for step in path {
            let next = match doc.pointer(&pointer) {
                Some(Value::Object(m)) if !m.is_empty() => m.keys().nth(step % m.len()).cloned(),
                Some(Value::Array(a)) if !a.is_empty() => Some((step % a.len()).to_string()),
                _ => None,
            };
            match next {
                Some(k) => pointer = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                None => break,
            }
        }
        let node = doc.pointer_mut(&pointer).unwrap();
        *node = replacement;
        let (v, c) = validate(&doc);
        prop_assert_eq!(v.ok, c.is_some());
    }

    #[test]
    fn argument_checks_never_panic(args in prop::collection::vec(("[a-z_A-Z]{1,12}", arb_json()), 0..6)) {
        let (_, config) = validate(&base_config());
        let config = config.unwrap();
        let args: Map<String, Value> = args.into_iter().collect();
        for cap in &config.capabilities {
            let _ = refuse_binding_overrides(&args, Some(cap));
            let _ = validate_args(cap, &args);
        }
    }
}
