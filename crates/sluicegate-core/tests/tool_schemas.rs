//! Every tool definition the server can publish carries an `inputSchema` and an
//! `outputSchema` that are valid JSON Schema (checked against the 2020-12 meta-schema).
//!
//! The schemas are generated from the config and the target table's columns, so this is a
//! property of the generator, proved here over every example config and over arbitrary
//! column types, instead of being re-checked at every server start (compiling the meta-schema
//! took about a sixth of a cold start's CPU; docs/performance.md).

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests read fixture files; core's purity rule covers src"
)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::json;
use sluicegate_core::columns::{ColumnInfo, ColumnType, Padding, TableColumns};
use sluicegate_core::config::{Config, validate};
use sluicegate_core::tools::{AliasMode, exposed_tools, tool_definition_typed};
use sluicegate_core::typed::Typed;
use sluicegate_test_support::{conformance_dir, read_json};

/// Check both schemas of every tool `config` exposes, in every alias mode and result format,
/// typed by `columns` (declared types only when `None`). Returns how many tools were checked.
fn check_all(config: &Config, columns: Option<&TableColumns>) -> Result<usize, String> {
    let mut checked = 0;
    for mode in [AliasMode::Canonical, AliasMode::Openai, AliasMode::Both] {
        for tool in exposed_tools(config, mode) {
            let cap = config
                .capability(&tool.canonical)
                .ok_or_else(|| format!("{} is exposed but not configured", tool.canonical))?;
            let typed = match columns {
                Some(columns) => Typed::new(cap, columns),
                None => Typed::declared(cap),
            };
            for format in [1, 2] {
                let definition = tool_definition_typed(cap, &typed, &tool.exposed, mode, format);
                for key in ["inputSchema", "outputSchema"] {
                    let schema = &definition[key];
                    if !schema.is_object() {
                        return Err(format!("{}: no {key}", tool.exposed));
                    }
                    jsonschema::meta::validate(schema).map_err(|e| {
                        format!(
                            "{} {key} (result format {format}): {e}\n{schema}",
                            tool.exposed
                        )
                    })?;
                }
                checked += 1;
            }
        }
    }
    Ok(checked)
}

/// The configs this repository ships or tests against: the conformance examples, the
/// example app's config and the core fixture.
fn shipped_configs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(conformance_dir().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("synapsor.runner.json"))
        .filter(|p| p.exists())
        .collect();
    paths.push(root.join("examples/postgres-billing-handler/sluicegate.json"));
    paths.push(root.join("crates/sluicegate-core/tests/fixtures/billing.json"));
    paths.sort();
    paths
}

#[test]
fn every_shipped_config_publishes_valid_schemas() {
    let paths = shipped_configs();
    assert_eq!(paths.len(), 8, "six examples, the example app, the fixture");
    for path in paths {
        let (validation, config) = validate(&read_json(&path));
        let config = config.unwrap_or_else(|| panic!("{}: {:?}", path.display(), validation));
        let checked =
            check_all(&config, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(checked > 0, "{}: no tool checked", path.display());
    }
}

/// The check can fail: a schema that is not JSON Schema is refused.
#[test]
fn the_meta_schema_check_refuses_an_invalid_schema() {
    assert!(jsonschema::meta::validate(&json!({"type": "integer", "minimum": "1"})).is_err());
    assert!(jsonschema::meta::validate(&json!({"type": "whole number"})).is_err());
    assert!(jsonschema::meta::validate(&json!({"type": "object", "required": "id"})).is_err());
}

/// A read and a proposal on one table, whose arguments and visible columns cover every kind
/// of column below, with declared bounds that the column types may widen or narrow.
fn config() -> Config {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "sources": {"app": {"engine": "postgres", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "agent_7"}},
        "capabilities": [
            {
                "name": "things.inspect", "kind": "read", "source": "app",
                "target": {"schema": "public", "table": "things", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"thing_id": {"type": "string", "max_length": 64}},
                "lookup": {"id_from_arg": "thing_id"},
                "visible_columns": ["id", "a", "b", "c", "d", "e"]
            },
            {
                "name": "things.change", "kind": "proposal", "source": "app",
                "target": {"schema": "public", "table": "things", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {
                    "thing_id": {"type": "number", "minimum": 1},
                    "a": {"type": "string"},
                    "b": {"type": "number", "minimum": -5, "maximum": 1e300, "required": false},
                    "c": {"type": "string", "max_length": 3, "required": false},
                    "d": {"type": "string", "enum": ["1", "x"], "required": false},
                    "e": {"type": "boolean", "required": false}
                },
                "lookup": {"id_from_arg": "thing_id"},
                "visible_columns": ["id", "a"],
                "patch": {
                    "a": {"from_arg": "a"}, "b": {"from_arg": "b"}, "c": {"from_arg": "c"},
                    "d": {"from_arg": "d"}, "e": {"from_arg": "e"}
                },
                "allowed_columns": ["a", "b", "c", "d", "e"],
                "conflict_guard": {"column": "updated_at"}
            }
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    c.unwrap()
}

fn bound() -> impl Strategy<Value = i128> {
    prop_oneof![
        Just(i128::MIN),
        Just(i128::MAX),
        Just(i128::from(i64::MIN)),
        Just(i128::from(u64::MAX)),
        Just(0),
        any::<i64>().prop_map(i128::from),
    ]
}

fn column_type() -> impl Strategy<Value = ColumnType> {
    let padding = prop_oneof![
        Just(Padding::None),
        Just(Padding::PadRight),
        Just(Padding::TrimRight)
    ];
    prop_oneof![
        (
            proptest::option::of(0u64..100_000),
            proptest::option::of(0u64..100_000),
            padding
        )
            .prop_map(|(max_chars, max_bytes, padding)| ColumnType::Text {
                max_chars,
                max_bytes,
                padding
            }),
        (bound(), bound()).prop_map(|(a, b)| ColumnType::Integer {
            min: a.min(b),
            max: a.max(b)
        }),
        (
            proptest::option::of(0u32..2_000),
            proptest::option::of(0u32..2_000)
        )
            .prop_map(|(precision, scale)| ColumnType::Decimal { precision, scale }),
        any::<bool>().prop_map(|single| ColumnType::Float { single }),
        Just(ColumnType::Boolean),
        Just(ColumnType::Date),
        (
            any::<bool>(),
            proptest::option::of(0u32..12),
            proptest::option::of(
                (any::<i64>(), any::<i64>()).prop_map(|(a, b)| (a.min(b), a.max(b)))
            )
        )
            .prop_map(|(with_zone, precision, range)| ColumnType::Timestamp {
                with_zone,
                precision,
                range
            }),
        Just(ColumnType::Json),
        Just(ColumnType::Bytes),
        Just(ColumnType::Other),
    ]
}

/// The table's columns, in this order, each with any type and flags, or missing from the
/// catalog (a column the config names but the table does not have).
const COLUMNS: [&str; 8] = ["id", "a", "b", "c", "d", "e", "tenant_id", "updated_at"];

fn catalog() -> impl Strategy<Value = TableColumns> {
    let column = (
        column_type(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(-50_400i32..=50_400),
    );
    proptest::collection::vec(proptest::option::weighted(0.9, column), COLUMNS.len()).prop_map(
        |columns| {
            TableColumns::new(COLUMNS.iter().zip(columns).filter_map(|(name, column)| {
                let (t, nullable, dynamic, zone_offset) = column?;
                Some(ColumnInfo {
                    nullable,
                    dynamic,
                    zone_offset,
                    ..ColumnInfo::new(name, "declared", t)
                })
            }))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever types the table's columns have, the published schemas stay valid.
    #[test]
    fn schemas_typed_from_any_columns_are_valid(catalog in catalog()) {
        let checked = check_all(&config(), Some(&catalog)).map_err(TestCaseError::fail)?;
        // Two tools in each single mode, four with both, in two result formats.
        prop_assert_eq!(checked, (2 + 2 + 4) * 2);
    }
}
