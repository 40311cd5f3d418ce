//! Tests of column types and value normalisation: one table per type, the no-change rule and
//! the version-advance rule.

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::*;
use crate::config::{ConflictGuardSpec, MaintainedBy, load_str};

fn col(column_type: ColumnType) -> ColumnInfo {
    ColumnInfo::new("c", "t", column_type)
}

/// `Ok(normalised)` or `Err(code)` for each input.
fn check(info: &ColumnInfo, cases: &[(Value, Result<Value, &str>)]) {
    for (input, want) in cases {
        let got = normalise(input, info).map_err(|p| p.code.as_str());
        assert_eq!(&got, want, "{input} into {:?}", info.column_type);
    }
}

fn varchar(n: u64) -> ColumnType {
    ColumnType::Text {
        max_chars: Some(n),
        max_bytes: None,
        padding: Padding::None,
    }
}

#[test]
fn text_lengths_count_characters() {
    let info = col(varchar(10));
    check(
        &info,
        &[
            (json!("0123456789"), Ok(json!("0123456789"))),
            (json!("01234567890"), Err("PATCH_VALUE_TOO_LONG")),
            // Ten characters, twenty UTF-8 bytes, twenty UTF-16 units for the emoji: the
            // databases count characters.
            (json!("éééééééééé"), Ok(json!("éééééééééé"))),
            (
                json!("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂"),
                Ok(json!("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂")),
            ),
            (json!(42), Ok(json!("42"))),
            (json!(0.5), Ok(json!("0.5"))),
            (json!(true), Err("PATCH_VALUE_INVALID")),
            (json!("a\u{0}b"), Err("PATCH_VALUE_INVALID")),
            (Value::Null, Ok(Value::Null)),
        ],
    );
    let bytes = col(ColumnType::Text {
        max_chars: Some(100),
        max_bytes: Some(4),
        padding: Padding::None,
    });
    check(
        &bytes,
        &[
            (json!("abcd"), Ok(json!("abcd"))),
            (json!("ééé"), Err("PATCH_VALUE_TOO_LONG")),
        ],
    );
    let pg_char = col(ColumnType::Text {
        max_chars: Some(5),
        max_bytes: None,
        padding: Padding::PadRight,
    });
    check(
        &pg_char,
        &[
            (json!("ab"), Ok(json!("ab   "))),
            (json!("abcde  "), Ok(json!("abcde"))),
            (json!("abcdef"), Err("PATCH_VALUE_TOO_LONG")),
        ],
    );
    let my_char = col(ColumnType::Text {
        max_chars: Some(5),
        max_bytes: None,
        padding: Padding::TrimRight,
    });
    check(&my_char, &[(json!("ab  "), Ok(json!("ab")))]);
}

#[test]
fn integers_are_whole_and_in_range() {
    let int4 = col(ColumnType::Integer {
        min: -2_147_483_648,
        max: 2_147_483_647,
    });
    check(
        &int4,
        &[
            (json!(0), Ok(json!(0))),
            (json!(-2_147_483_648_i64), Ok(json!(-2_147_483_648_i64))),
            (json!(2_147_483_648_i64), Err("PATCH_VALUE_OUT_OF_RANGE")),
            (json!(3.0), Ok(json!(3))),
            (json!(3.5), Err("PATCH_VALUE_INVALID")),
            (json!("42"), Ok(json!(42))),
            (json!("-7"), Ok(json!(-7))),
            (json!("4 2"), Err("PATCH_VALUE_INVALID")),
            (json!("4.0"), Err("PATCH_VALUE_INVALID")),
            (json!(true), Err("PATCH_VALUE_INVALID")),
        ],
    );
    let int8 = col(ColumnType::Integer {
        min: i128::from(i64::MIN),
        max: i128::from(i64::MAX),
    });
    check(
        &int8,
        &[
            // Beyond 2^53 an integer is written as a string, as reads do.
            (
                json!("9223372036854775807"),
                Ok(json!("9223372036854775807")),
            ),
            (json!(9007199254740993_i64), Ok(json!("9007199254740993"))),
            (
                json!("9223372036854775808"),
                Err("PATCH_VALUE_OUT_OF_RANGE"),
            ),
        ],
    );
}

#[test]
fn decimals_are_exact_strings_at_the_column_scale() {
    let numeric = col(ColumnType::Decimal {
        precision: Some(10),
        scale: Some(2),
    });
    check(
        &numeric,
        &[
            // The finding: a JSON number for a decimal column becomes its exact string.
            (json!(3.99), Ok(json!("3.99"))),
            (json!("1.99"), Ok(json!("1.99"))),
            (json!(3.9), Ok(json!("3.90"))),
            (json!(4), Ok(json!("4.00"))),
            (json!("-0.5"), Ok(json!("-0.50"))),
            (json!("-0.00"), Ok(json!("0.00"))),
            (json!("007.10"), Ok(json!("7.10"))),
            (json!("1.999"), Err("PATCH_VALUE_INVALID")),
            (json!("1.990"), Ok(json!("1.99"))),
            (json!("12345678.9"), Ok(json!("12345678.90"))),
            (json!("123456789"), Err("PATCH_VALUE_OUT_OF_RANGE")),
            (json!(1e21), Err("PATCH_VALUE_OUT_OF_RANGE")),
            (json!("1e3"), Err("PATCH_VALUE_INVALID")),
            (json!("abc"), Err("PATCH_VALUE_INVALID")),
            (json!("1."), Err("PATCH_VALUE_INVALID")),
            (json!(".5"), Err("PATCH_VALUE_INVALID")),
            (json!(true), Err("PATCH_VALUE_INVALID")),
        ],
    );
    let unconstrained = col(ColumnType::Decimal {
        precision: None,
        scale: None,
    });
    check(
        &unconstrained,
        &[
            (json!("7.50"), Ok(json!("7.50"))),
            (json!(1e21), Ok(json!("1000000000000000000000"))),
            (json!(5e-7), Ok(json!("0.0000005"))),
        ],
    );
    // SQLite keeps NUMERIC values as numbers.
    let sqlite = ColumnInfo {
        dynamic: true,
        ..col(ColumnType::Decimal {
            precision: Some(10),
            scale: Some(2),
        })
    };
    check(
        &sqlite,
        &[
            (json!("3.99"), Ok(json!(3.99))),
            (json!(4), Ok(json!(4))),
            (json!("4.00"), Ok(json!(4))),
            (json!(1.999), Err("PATCH_VALUE_INVALID")),
        ],
    );
}

#[test]
fn floats_booleans_json_bytes_and_other() {
    check(
        &col(ColumnType::Float { single: false }),
        &[
            (json!(0.1), Ok(json!(0.1))),
            (json!("0.1"), Err("PATCH_VALUE_INVALID")),
        ],
    );
    check(
        &col(ColumnType::Float { single: true }),
        &[
            (json!(0.1), Ok(json!(0.1))),
            (json!(0.123456789), Ok(json!(0.12345679))),
            (json!(1e300), Err("PATCH_VALUE_OUT_OF_RANGE")),
        ],
    );
    check(
        &col(ColumnType::Boolean),
        &[
            (json!(true), Ok(json!(true))),
            (json!(1), Err("PATCH_VALUE_INVALID")),
            (json!("true"), Err("PATCH_VALUE_INVALID")),
        ],
    );
    check(
        &col(ColumnType::Json),
        &[(json!("x"), Ok(json!("x"))), (json!(1.5), Ok(json!(1.5)))],
    );
    check(
        &col(ColumnType::Bytes),
        &[
            (json!("\\xDEADbeef"), Ok(json!("\\xdeadbeef"))),
            (json!("\\xabc"), Err("PATCH_VALUE_INVALID")),
            (json!("deadbeef"), Err("PATCH_VALUE_INVALID")),
        ],
    );
    check(
        &col(ColumnType::Other),
        &[(json!("happy"), Ok(json!("happy")))],
    );
}

fn timestamptz(precision: Option<u32>) -> ColumnType {
    ColumnType::Timestamp {
        with_zone: true,
        precision,
        range: None,
    }
}

#[test]
fn dates_and_timestamps_need_iso_forms_and_a_zone() {
    check(
        &col(ColumnType::Date),
        &[
            (json!("2026-06-20"), Ok(json!("2026-06-20"))),
            (json!("2026-02-30"), Err("PATCH_VALUE_INVALID")),
            (json!("yesterday"), Err("PATCH_VALUE_INVALID")),
            (json!("2026-06-20T00:00:00Z"), Err("PATCH_VALUE_INVALID")),
            (json!("20260620"), Err("PATCH_VALUE_INVALID")),
        ],
    );
    check(
        &col(timestamptz(None)),
        &[
            (
                json!("2026-06-20T14:31:08Z"),
                Ok(json!("2026-06-20T14:31:08.000Z")),
            ),
            (
                json!("2026-06-20 16:31:08.5+02:00"),
                Ok(json!("2026-06-20T14:31:08.500Z")),
            ),
            (
                json!("2026-06-20t14:31:08.123456z"),
                Ok(json!("2026-06-20T14:31:08.123456Z")),
            ),
            (
                json!("2026-06-20T00:30:00-01:00"),
                Ok(json!("2026-06-20T01:30:00.000Z")),
            ),
            // The findings: relative words and zone-less values are refused.
            (json!("yesterday"), Err("PATCH_VALUE_INVALID")),
            (json!("now"), Err("PATCH_VALUE_INVALID")),
            (json!("2026-06-20T14:31:08"), Err("PATCH_VALUE_INVALID")),
            (json!("2026-06-20"), Err("PATCH_VALUE_INVALID")),
            (json!("2026-06-20T14:31:60Z"), Err("PATCH_VALUE_INVALID")),
            (json!("2026-06-20T24:00:00Z"), Err("PATCH_VALUE_INVALID")),
            (
                json!("2026-06-20T14:31:08+2:00"),
                Err("PATCH_VALUE_INVALID"),
            ),
            (
                json!("2026-06-20T14:31:08.1234567Z"),
                Err("PATCH_VALUE_INVALID"),
            ),
            (
                json!("2026-06-20T14:31:08.1234560Z"),
                Ok(json!("2026-06-20T14:31:08.123456Z")),
            ),
            (json!(1_750_000_000), Err("PATCH_VALUE_INVALID")),
            (json!("2026-06-2é 14:31:08Z"), Err("PATCH_VALUE_INVALID")),
        ],
    );
    check(
        &col(timestamptz(Some(0))),
        &[
            (
                json!("2026-06-20T14:31:08.000Z"),
                Ok(json!("2026-06-20T14:31:08.000Z")),
            ),
            (json!("2026-06-20T14:31:08.5Z"), Err("PATCH_VALUE_INVALID")),
        ],
    );
    // A zone declared in the config says how to read zone-less values.
    let declared = ColumnInfo {
        zone_offset: Some(7200),
        ..col(timestamptz(None))
    };
    check(
        &declared,
        &[(
            json!("2026-06-20T16:31:08"),
            Ok(json!("2026-06-20T14:31:08.000Z")),
        )],
    );
    // MySQL TIMESTAMP holds 1970 to 2038 only.
    let my_ts = col(ColumnType::Timestamp {
        with_zone: true,
        precision: Some(0),
        range: Some((1, 2_147_483_647)),
    });
    check(
        &my_ts,
        &[
            (
                json!("2038-01-19T03:14:07Z"),
                Ok(json!("2038-01-19T03:14:07.000Z")),
            ),
            (
                json!("2038-01-19T03:14:08Z"),
                Err("PATCH_VALUE_OUT_OF_RANGE"),
            ),
        ],
    );
}

#[test]
fn null_only_for_nullable_columns() {
    let not_null = ColumnInfo {
        nullable: false,
        ..col(varchar(5))
    };
    check(
        &not_null,
        &[(Value::Null, Err("PATCH_VALUE_NULL_NOT_ALLOWED"))],
    );
}

#[test]
fn version_columns_that_can_advance() {
    let int = col(ColumnType::Integer { min: 0, max: 10 });
    assert_eq!(
        version_advance(&int, &json!(3)),
        Ok(VersionAdvance::Increment)
    );
    let ts = col(timestamptz(Some(3)));
    assert_eq!(
        version_advance(&ts, &Value::Null),
        Ok(VersionAdvance::Clock)
    );
    let text = col(varchar(40));
    let err = version_advance(&text, &json!("v1")).expect_err("text cannot advance");
    assert!(err.contains("maintained_by"), "{err}");
    // SQLite: judged by the value held.
    let lite = ColumnInfo {
        dynamic: true,
        ..col(ColumnType::Text {
            max_chars: None,
            max_bytes: None,
            padding: Padding::None,
        })
    };
    assert_eq!(
        version_advance(&lite, &json!("2026-06-20T14:31:08.000Z")),
        Ok(VersionAdvance::Clock)
    );
    assert_eq!(
        version_advance(&lite, &json!("2026-06-20 14:31:08")),
        Ok(VersionAdvance::Clock)
    );
    assert_eq!(
        version_advance(&lite, &json!(7)),
        Ok(VersionAdvance::Increment)
    );
    assert!(version_advance(&lite, &Value::Null).is_err());
    assert!(version_advance(&lite, &json!("abc")).is_err());
}

fn capability(extra: Value) -> crate::config::Capability {
    let mut cap = json!({
        "name": "billing.propose", "kind": "proposal", "source": "app",
        "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
        "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string"}, "fee": {"type": "number"}},
        "lookup": {"id_from_arg": "invoice_id"},
        "visible_columns": ["id", "late_fee", "waiver_reason", "updated_at"],
        "patch": {"late_fee": {"from_arg": "fee"}, "waiver_reason": {"from_arg": "reason"}},
        "allowed_columns": ["late_fee", "waiver_reason"],
        "conflict_guard": {"column": "updated_at"}
    });
    if let (Some(c), Some(e)) = (cap.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": "postgres", "read_url_env": "R", "write_url_env": "W"}},
        "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "p"}},
        "capabilities": [cap]
    });
    let (v, config) = load_str(&doc.to_string());
    assert!(v.ok, "{:?}", v.errors);
    config.expect("valid").capabilities.remove(0)
}

fn row(v: Value) -> Row {
    v.as_object().cloned().unwrap_or_default()
}

fn invoices() -> TableColumns {
    TableColumns::new([
        ColumnInfo::new("id", "text", varchar(64)),
        ColumnInfo::new(
            "late_fee",
            "numeric(10,2)",
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2),
            },
        ),
        ColumnInfo::new("waiver_reason", "character varying(10)", varchar(10)),
        ColumnInfo::new("updated_at", "timestamp with time zone", timestamptz(None)),
    ])
}

#[test]
fn a_proposal_is_normalised_and_must_change_something() {
    let cap = capability(json!({}));
    let before = row(
        json!({"id": "INV-1", "late_fee": "1.99", "waiver_reason": null, "updated_at": "2026-06-20T14:31:08.000Z"}),
    );
    let patch = row(json!({"late_fee": 3.99, "waiver_reason": "ok"}));
    let out = check_proposal(&cap, &before, &patch, &invoices()).expect("valid");
    assert_eq!(
        Value::Object(out),
        json!({"late_fee": "3.99", "waiver_reason": "ok"})
    );

    let too_long = row(json!({"late_fee": 0, "waiver_reason": "far too long a reason"}));
    let refused = check_proposal(&cap, &before, &too_long, &invoices()).expect_err("too long");
    assert_eq!(refused.code, Code::PatchValueTooLong);
    assert!(
        refused
            .message
            .starts_with("argument reason (column waiver_reason): "),
        "the argument is named: {}",
        refused.message
    );

    // 1.99 -> 1.990 and null -> null change nothing.
    let same = row(json!({"late_fee": "1.990", "waiver_reason": null}));
    let refused = check_proposal(&cap, &before, &same, &invoices()).expect_err("no change");
    assert_eq!(refused.code, Code::PatchNoChange);
    let refused = check_proposal(
        &cap,
        &row(json!({"late_fee": 0, "waiver_reason": "x", "updated_at": null})),
        &row(json!({"late_fee": 0.0, "waiver_reason": "x"})),
        &invoices(),
    )
    .expect_err("0 -> 0");
    assert_eq!(refused.code, Code::PatchNoChange);

    // An unknown column is refused rather than passed unchecked.
    let refused =
        check_proposal(&cap, &before, &patch, &TableColumns::default()).expect_err("no catalog");
    assert_eq!(refused.code, Code::PatchColumnUnknown);
}

#[test]
fn declared_column_types_replace_the_catalog() {
    let cap = capability(json!({
        "column_types": {"waiver_reason": {"type": "text", "max_length": 3}}
    }));
    let before =
        row(json!({"id": "INV-1", "late_fee": "1.99", "updated_at": "2026-06-20T14:31:08.000Z"}));
    let patch = row(json!({"late_fee": 1, "waiver_reason": "abcd"}));
    let refused = check_proposal(&cap, &before, &patch, &invoices()).expect_err("declared 3");
    assert_eq!(refused.code, Code::PatchValueTooLong);
    // Declarations alone are enough when the catalog is unreadable.
    let cap = capability(json!({
        "column_types": {
            "late_fee": {"type": "decimal", "precision": 10, "scale": 2},
            "waiver_reason": {"type": "text"},
            "updated_at": {"type": "timestamptz"}
        }
    }));
    let out = check_proposal(&cap, &before, &patch, &TableColumns::default()).expect("declared");
    assert_eq!(
        Value::Object(out),
        json!({"late_fee": "1.00", "waiver_reason": "abcd"})
    );
}

#[test]
fn the_version_column_must_be_advanceable_unless_the_app_maintains_it() {
    let before = row(json!({"id": "INV-1", "late_fee": "1.99", "updated_at": "v7"}));
    let patch = row(json!({"late_fee": 1}));
    let mut text_version = invoices().iter().cloned().collect::<Vec<_>>();
    text_version[3] = ColumnInfo::new("updated_at", "character varying(10)", varchar(10));
    let columns = TableColumns::new(text_version);
    let cap = capability(json!({}));
    let refused = check_proposal(&cap, &before, &patch, &columns).expect_err("text version");
    assert_eq!(refused.code, Code::ConflictGuardNotAdvanceable);
    assert_eq!(refused.code.safe().code, "POLICY_VIOLATION");
    let cap =
        capability(json!({"conflict_guard": {"column": "updated_at", "maintained_by": "app"}}));
    assert!(matches!(
        cap.conflict_guard,
        Some(ConflictGuardSpec {
            maintained_by: MaintainedBy::App,
            ..
        })
    ));
    check_proposal(&cap, &before, &patch, &columns).expect("the app advances it");
}

#[test]
fn with_declared_keeps_catalog_order_and_sqlite_typing() {
    let catalog = TableColumns::new([ColumnInfo {
        dynamic: true,
        ..ColumnInfo::new("a", "TEXT", varchar(3))
    }]);
    let mut declared = IndexMap::new();
    declared.insert(
        "a".to_string(),
        ColumnInfo::new("a", "integer", ColumnType::Integer { min: 0, max: 9 }),
    );
    declared.insert(
        "b".to_string(),
        ColumnInfo::new("b", "date", ColumnType::Date),
    );
    let merged = catalog.with_declared(&declared);
    assert_eq!(merged.len(), 2);
    let a = merged.get("a").expect("a");
    assert!(a.dynamic);
    assert_eq!(a.column_type, ColumnType::Integer { min: 0, max: 9 });
    assert!(!merged.is_empty());
}
