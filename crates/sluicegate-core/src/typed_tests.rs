//! Tests of arguments and results typed from columns: the typing rules, the coercion of an
//! integer argument, the published input schema and the output schema a real result must
//! satisfy.

use serde_json::{Value, json};

use super::*;
use crate::call::{TrustedContext, check_args};
use crate::columns::Padding;
use crate::config::{Config, Provider, validate};
use crate::envelope::{Outcome, render};
use crate::refusal::{Code, Refusal};
use crate::tools::{args_schema, output::output_schema, sample_args_typed};

fn config(column_types: Value) -> Config {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "sources": {"app": {"engine": "postgres", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "agent_7"}},
        "capabilities": [
            {
                "name": "orders.inspect", "kind": "read", "source": "app",
                "target": {"schema": "public", "table": "orders", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"order_id": {"type": "string", "max_length": 64}},
                "lookup": {"id_from_arg": "order_id"},
                "visible_columns": ["id", "status", "total", "placed_on", "note"],
                "column_types": column_types
            },
            {
                "name": "orders.reschedule", "kind": "proposal", "source": "app",
                "target": {"schema": "public", "table": "orders", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {
                    "order_id": {"type": "number", "minimum": 1},
                    "ship_on": {"type": "string"},
                    "note": {"type": "string", "max_length": 500, "required": false},
                    "priority": {"type": "string", "enum": ["1", "2"], "required": false},
                    "quantity": {"type": "string", "max_length": 3, "required": false}
                },
                "lookup": {"id_from_arg": "order_id"},
                "visible_columns": ["id", "status"],
                "patch": {
                    "ship_on": {"from_arg": "ship_on"},
                    "note": {"from_arg": "note"},
                    "priority": {"from_arg": "priority"},
                    "quantity": {"from_arg": "quantity"}
                },
                "allowed_columns": ["ship_on", "note", "priority", "quantity"],
                "conflict_guard": {"column": "updated_at"}
            }
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    c.unwrap()
}

fn int4() -> ColumnType {
    ColumnType::Integer {
        min: -2_147_483_648,
        max: 2_147_483_647,
    }
}

fn catalog() -> TableColumns {
    let not_null = |name: &str, decl: &str, t: ColumnType| ColumnInfo {
        nullable: false,
        ..ColumnInfo::new(name, decl, t)
    };
    TableColumns::new([
        not_null("id", "integer", int4()),
        not_null(
            "tenant_id",
            "text",
            ColumnType::Text {
                max_chars: None,
                max_bytes: None,
                padding: Padding::None,
            },
        ),
        not_null(
            "status",
            "character varying(20)",
            ColumnType::Text {
                max_chars: Some(20),
                max_bytes: None,
                padding: Padding::None,
            },
        ),
        ColumnInfo::new(
            "total",
            "numeric(10,2)",
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2),
            },
        ),
        ColumnInfo::new("placed_on", "date", ColumnType::Date),
        ColumnInfo::new(
            "ship_on",
            "timestamp with time zone",
            ColumnType::Timestamp {
                with_zone: true,
                precision: None,
                range: None,
            },
        ),
        ColumnInfo::new(
            "note",
            "character varying(200)",
            ColumnType::Text {
                max_chars: Some(200),
                max_bytes: None,
                padding: Padding::None,
            },
        ),
        ColumnInfo::new(
            "priority",
            "smallint",
            ColumnType::Integer {
                min: -32768,
                max: 32767,
            },
        ),
        ColumnInfo::new("quantity", "integer", int4()),
    ])
}

#[test]
fn arguments_are_typed_from_their_columns() {
    let c = config(json!({}));
    let read = Typed::new(c.capability("orders.inspect").unwrap(), &catalog());
    let id = &read.args["order_id"];
    assert_eq!(id.arg_type, ArgType::Integer);
    assert_eq!(id.range, Some((-2_147_483_648, 2_147_483_647)));
    assert_eq!(id.max_length, None, "64 characters is wider than any int4");

    let cap = c.capability("orders.reschedule").unwrap();
    let p = Typed::new(cap, &catalog());
    assert_eq!(p.args["order_id"].arg_type, ArgType::Integer);
    assert_eq!(
        p.args["order_id"].minimum,
        Some(1.0),
        "declared bounds stay"
    );
    assert_eq!(p.args["ship_on"].format, Some(ArgFormat::DateTime));
    assert_eq!(p.args["ship_on"].arg_type, ArgType::String);
    assert_eq!(
        p.args["note"].max_length,
        Some(200),
        "the column is stricter"
    );
    // The allowlist is stricter than the column: kept as declared.
    assert_eq!(p.args["priority"].arg_type, ArgType::String);
    // A declared length still holds for the digits.
    assert_eq!(p.args["quantity"].arg_type, ArgType::Integer);
    assert_eq!(p.args["quantity"].range, Some((-99, 999)));

    // Without a catalog or declarations, exactly as declared.
    let declared = Typed::declared(cap);
    assert_eq!(declared.args["order_id"].arg_type, ArgType::Number);
    assert_eq!(declared.args["ship_on"].format, None);
    assert_eq!(declared.args["note"].max_length, Some(500));
    assert_eq!(arg_column(cap, "order_id"), Some("id"));
    assert_eq!(arg_column(cap, "note"), Some("note"));
    assert_eq!(arg_column(cap, "nope"), None);
}

#[test]
fn declared_column_types_type_arguments_without_a_catalog() {
    let c = config(
        json!({"id": {"type": "integer", "nullable": false}, "placed_on": {"type": "date"}}),
    );
    let t = Typed::declared(c.capability("orders.inspect").unwrap());
    assert_eq!(t.args["order_id"].arg_type, ArgType::Integer);
    assert_eq!(
        t.args["order_id"].range,
        Some((i128::from(i64::MIN), i128::from(i64::MAX)))
    );
    assert_eq!(
        value_schema(t.columns.get("placed_on")),
        json!({"type": ["string", "null"], "format": "date", "description": "date"})
    );
}

#[test]
fn declarations_that_do_not_fit_the_column_win() {
    let spec = |arg_type| ArgSpec {
        name: "a".into(),
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
    let int = ColumnInfo::new("c", "integer", int4());
    assert_eq!(
        typed_arg(&spec(ArgType::Boolean), Some(&int)).arg_type,
        ArgType::Boolean
    );
    let date = ColumnInfo::new("c", "date", ColumnType::Date);
    assert_eq!(typed_arg(&spec(ArgType::Number), Some(&date)).format, None);
    // SQLite holds whatever text was stored, and does not enforce lengths.
    let lite_date = ColumnInfo {
        dynamic: true,
        ..date.clone()
    };
    assert_eq!(
        typed_arg(&spec(ArgType::String), Some(&lite_date)).format,
        None
    );
    let lite_text = ColumnInfo {
        dynamic: true,
        ..ColumnInfo::new(
            "c",
            "VARCHAR(10)",
            ColumnType::Text {
                max_chars: Some(10),
                max_bytes: None,
                padding: Padding::None,
            },
        )
    };
    assert_eq!(
        typed_arg(&spec(ArgType::String), Some(&lite_text)).max_length,
        None
    );
    // …but SQLite integer keys are integers.
    let lite_int = ColumnInfo {
        dynamic: true,
        ..ColumnInfo::new("c", "INTEGER", int4())
    };
    assert_eq!(
        typed_arg(&spec(ArgType::String), Some(&lite_int)).arg_type,
        ArgType::Integer
    );
}

fn args(v: Value) -> crate::call::Args {
    v.as_object().unwrap().clone()
}

/// A JSON integer or a string of digits is bound as the integer; anything else is refused
/// with `ARGUMENT_TYPE_INVALID` naming the argument, never passed on to the database.
#[test]
fn integer_arguments_accept_numbers_and_digit_strings() {
    let c = config(json!({}));
    let cap = c.capability("orders.inspect").unwrap();
    let t = Typed::new(cap, &catalog());
    let bound = |v: Value| check_args(cap, &t.args, &args(json!({"order_id": v})));
    for (input, want) in [
        (json!(42), json!(42)),
        (json!("42"), json!(42)),
        (json!("-7"), json!(-7)),
        (json!("0042"), json!(42)),
        (json!(42.0), json!(42)),
        (json!(-2_147_483_648_i64), json!(-2_147_483_648_i64)),
    ] {
        assert_eq!(
            bound(input.clone()).map(|a| a["order_id"].clone()),
            Ok(want),
            "{input}"
        );
    }
    for input in [
        json!("abc"),
        json!(4.2),
        json!("4.2"),
        json!("42abc"),
        json!(""),
        json!("-"),
        json!(" 42"),
        json!("+42"),
        json!("1e3"),
        json!(true),
        json!(null),
        json!([42]),
        // As sent on the wire: read with correct rounding, this is 99999.999999999985...,
        // not 100000 (serde_json's fast float parser rounded it up to a whole number).
        serde_json::from_str("99999.99999999999").unwrap(),
    ] {
        let refused = bound(input.clone()).unwrap_err();
        assert_eq!(refused.code, Code::ArgumentTypeInvalid, "{input}");
        assert_eq!(refused.argument.as_deref(), Some("order_id"), "{input}");
        assert!(
            refused
                .message
                .starts_with("order_id must be a whole number")
        );
        assert!(!refused.message.contains("abc"), "the value is not echoed");
    }
    for (input, code) in [
        (json!(2_147_483_648_i64), Code::ArgumentAboveMaximum),
        (
            json!("99999999999999999999999999999999999999999"),
            Code::ArgumentAboveMaximum,
        ),
        (json!(1e300), Code::ArgumentAboveMaximum),
        (json!(u64::MAX), Code::ArgumentAboveMaximum),
        (json!("-2147483649"), Code::ArgumentBelowMinimum),
        (json!(-1e300), Code::ArgumentBelowMinimum),
    ] {
        let refused = bound(input.clone()).unwrap_err();
        assert_eq!(refused.code, code, "{input}");
        assert_eq!(refused.argument.as_deref(), Some("order_id"));
    }
    // Declared bounds and a declared length hold too.
    let cap = c.capability("orders.reschedule").unwrap();
    let t = Typed::new(cap, &catalog());
    let base =
        json!({"order_id": 1, "ship_on": "2026-07-01T00:00:00Z", "note": "n", "priority": "1"});
    let with = |k: &str, v: Value| {
        let mut a = args(base.clone());
        a.insert(k.into(), v);
        check_args(cap, &t.args, &a)
    };
    assert_eq!(
        with("order_id", json!("0")).unwrap_err().code,
        Code::ArgumentBelowMinimum
    );
    assert_eq!(
        with("quantity", json!("999")).unwrap()["quantity"],
        json!(999)
    );
    assert_eq!(
        with("quantity", json!(1000)).unwrap_err().message,
        "quantity must be at most 999."
    );
    // Other arguments pass through unchanged, in the order sent.
    let bound = with("quantity", json!("12")).unwrap();
    assert_eq!(
        bound.keys().collect::<Vec<_>>(),
        ["order_id", "ship_on", "note", "priority", "quantity"]
    );
    assert_eq!(bound["ship_on"], "2026-07-01T00:00:00Z");
}

/// Every argument refusal names the argument it is about.
#[test]
fn argument_refusals_name_their_argument() {
    let c = config(json!({}));
    let cap = c.capability("orders.reschedule").unwrap();
    let t = Typed::new(cap, &catalog());
    let refuse = |v: Value| check_args(cap, &t.args, &args(v)).unwrap_err();
    let cases: [(Value, Code, &str); 6] = [
        (
            json!({"order_id": 1, "tenant_id": "x"}),
            Code::ModelCannotOverrideBinding,
            "tenant_id",
        ),
        (
            json!({"order_id": 1, "sql": "x"}),
            Code::ArgumentUnknown,
            "sql",
        ),
        (json!({"ship_on": "x"}), Code::ArgumentRequired, "order_id"),
        (
            json!({"order_id": 1, "ship_on": 5}),
            Code::ArgumentTypeInvalid,
            "ship_on",
        ),
        (
            json!({"order_id": 1, "ship_on": "x", "note": "n".repeat(201)}),
            Code::ArgumentTooLong,
            "note",
        ),
        (
            json!({"order_id": 1, "ship_on": "x", "priority": "3"}),
            Code::ArgumentNotAllowed,
            "priority",
        ),
    ];
    for (input, code, arg) in cases {
        let r: Refusal = refuse(input.clone());
        assert_eq!(
            (r.code, r.argument.as_deref()),
            (code, Some(arg)),
            "{input}"
        );
    }
}

#[test]
fn input_schema_states_the_typed_rules() {
    let c = config(json!({}));
    let cap = c.capability("orders.reschedule").unwrap();
    let schema = args_schema(&Typed::new(cap, &catalog()).args);
    let p = &schema["properties"];
    assert_eq!(
        p["order_id"],
        json!({"type": "integer", "minimum": 1, "maximum": 2_147_483_647, "description": "order_id business argument"})
    );
    assert_eq!(p["ship_on"]["format"], "date-time");
    assert_eq!(p["note"]["maxLength"], 200);
    assert_eq!(p["quantity"]["minimum"], -99);
    assert_eq!(p["quantity"]["maximum"], 999);
    assert_eq!(
        p["priority"],
        json!({"type": "string", "enum": ["1", "2"], "description": "priority business argument"})
    );
    // The schema is valid JSON Schema, and agrees with the runtime on what it lists.
    let v = jsonschema::validator_for(&schema).unwrap();
    let t = Typed::new(cap, &catalog());
    for input in [
        json!({"order_id": 5, "ship_on": "2026-07-01T00:00:00Z"}),
        json!({"order_id": 0, "ship_on": "2026-07-01T00:00:00Z"}),
        json!({"order_id": 5.5, "ship_on": "2026-07-01T00:00:00Z"}),
        json!({"order_id": 5, "ship_on": "2026-07-01T00:00:00Z", "quantity": 1000}),
        json!({"order_id": 3_000_000_000_u64, "ship_on": "2026-07-01T00:00:00Z"}),
    ] {
        assert_eq!(
            v.is_valid(&input),
            check_args(cap, &t.args, &args(input.clone())).is_ok(),
            "{input}"
        );
    }
    let sample = sample_args_typed(cap, &t.args);
    assert_eq!(sample["order_id"], json!(1));
    assert_eq!(sample["ship_on"], json!("2026-06-20T14:31:08Z"));
    assert!(check_args(cap, &t.args, &sample).is_ok(), "{sample:?}");
}

#[test]
fn values_are_described_by_what_reads_return() {
    let s = |info: ColumnInfo| value_schema(Some(&info));
    let not_null = |info: ColumnInfo| ColumnInfo {
        nullable: false,
        ..info
    };
    assert_eq!(
        s(not_null(ColumnInfo::new("c", "integer", int4()))),
        json!({"type": "integer", "description": "integer"})
    );
    let bigint = ColumnType::Integer {
        min: i128::from(i64::MIN),
        max: i128::from(i64::MAX),
    };
    assert_eq!(
        s(ColumnInfo::new("c", "bigint", bigint.clone()))["type"],
        json!(["integer", "string", "null"])
    );
    assert_eq!(
        s(not_null(ColumnInfo::new(
            "c",
            "numeric(10,2)",
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        )))["type"],
        "string"
    );
    assert_eq!(
        s(not_null(ColumnInfo::new(
            "c",
            "tinyint(1)",
            ColumnType::Boolean
        )))["type"],
        json!(["boolean", "integer"])
    );
    assert_eq!(
        s(not_null(ColumnInfo::new(
            "c",
            "boolean",
            ColumnType::Boolean
        )))["type"],
        "boolean"
    );
    let ts = s(not_null(ColumnInfo::new(
        "c",
        "timestamp",
        ColumnType::Timestamp {
            with_zone: false,
            precision: None,
            range: None,
        },
    )));
    assert_eq!(
        (&ts["type"], &ts["format"]),
        (&json!("string"), &json!("date-time"))
    );
    assert!(
        s(ColumnInfo::new("c", "jsonb", ColumnType::Json))
            .get("type")
            .is_none()
    );
    assert!(
        s(ColumnInfo::new("c", "uuid", ColumnType::Other))
            .get("type")
            .is_none()
    );
    // SQLite: what the affinity can hold, no formats.
    let lite = |decl: &str, t: ColumnType| ColumnInfo {
        dynamic: true,
        nullable: false,
        ..ColumnInfo::new("c", decl, t)
    };
    assert_eq!(
        s(lite("INTEGER", bigint))["type"],
        json!(["number", "string"])
    );
    assert_eq!(
        s(lite(
            "DATETIME",
            ColumnType::Timestamp {
                with_zone: false,
                precision: None,
                range: None
            }
        )),
        json!({"type": ["string", "number"], "description": "DATETIME"})
    );
    assert_eq!(value_schema(None), json!({}));
    assert_eq!(
        or_null(json!({"type": "integer"})),
        json!({"type": ["integer", "null"]})
    );
    assert_eq!(or_null(json!({})), json!({}));
}

fn ctx() -> TrustedContext {
    TrustedContext {
        tenant_id: "acme".into(),
        principal: "agent_7".into(),
        provenance: Provider::StaticDev,
    }
}

/// A read result and a refusal satisfy the tool's `outputSchema` in both formats, which
/// names each visible column with its type; a row of the wrong shape does not.
#[test]
fn output_schema_describes_the_read_row() {
    let c = config(json!({}));
    let cap = c.capability("orders.inspect").unwrap();
    let t = Typed::new(cap, &catalog());
    let row = json!({"id": 42, "status": "paid", "total": "12.50", "placed_on": "2026-06-20", "note": null, "tenant_id": "acme"});
    let read = Outcome::Read {
        capability: cap.name.clone(),
        mode: "review",
        business_type: "orders".into(),
        object_id: "42".into(),
        data: row.as_object().unwrap().clone(),
        ctx: ctx(),
        evidence_id: "ev_1".into(),
    };
    let refusal = Outcome::Refused {
        capability: cap.name.clone(),
        kind: cap.kind,
        refusal: Refusal::new(
            Code::ArgumentTypeInvalid,
            "order_id must be a whole number.",
        )
        .with_argument("order_id"),
        correlation_id: None,
    };
    for format in [1, 2] {
        let schema = output_schema(cap, &t, format);
        assert_eq!(schema["type"], "object");
        let v = jsonschema::validator_for(&schema).unwrap();
        for outcome in [&read, &refusal] {
            let payload = render(outcome, format).payload;
            let errors: Vec<String> = v.iter_errors(&payload).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "v{format}: {errors:?}\n{payload}");
        }
        let mut wrong = render(&read, format).payload;
        wrong["data"]["id"] = json!("forty-two");
        assert!(
            !v.is_valid(&wrong),
            "v{format}: a string id is not an integer"
        );
        let mut missing = render(&read, format).payload;
        missing["data"].as_object_mut().unwrap().remove("status");
        assert!(!v.is_valid(&missing), "v{format}: every column is present");
    }
    let data = &output_schema(cap, &t, 2)["properties"]["data"];
    assert_eq!(data["type"], json!(["object", "null"]));
    assert_eq!(data["properties"]["id"]["type"], "integer");
    assert_eq!(data["properties"]["placed_on"]["format"], "date");
    assert_eq!(
        data["required"],
        json!(["id", "status", "total", "placed_on", "note", "tenant_id"])
    );
    // A proposal's diff names its patch columns.
    let p = c.capability("orders.reschedule").unwrap();
    let pt = Typed::new(p, &catalog());
    let diff = &output_schema(p, &pt, 2)["properties"]["proposal"]["properties"]["diff"];
    assert_eq!(
        diff["required"],
        json!(["ship_on", "note", "priority", "quantity"])
    );
    assert_eq!(
        diff["properties"]["quantity"]["properties"]["before"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(
        output_schema(p, &pt, 1)["anyOf"][0]["properties"]["diff"],
        *diff
    );
}
