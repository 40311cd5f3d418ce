//! Config validation against the conformance examples and the negative cases of config.md §17.2.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The purity rules of crates/sluicegate-core/clippy.toml are for `src`: this test reads the
// conformance fixtures from disk, which is what an integration test is for.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests read fixture files; core's purity rule covers src"
)]

use serde_json::{Value, json};
use sluicegate_core::config::{Validation, validate};
use sluicegate_test_support::{conformance_dir, read_json};

fn codes(v: &Validation) -> (Vec<String>, Vec<String>) {
    (
        v.errors
            .iter()
            .map(|i| format!("{} {}", i.path, i.code))
            .collect(),
        v.warnings
            .iter()
            .map(|i| format!("{} {}", i.path, i.code))
            .collect(),
    )
}

#[test]
fn every_conformance_example_validates_without_errors_or_warnings() {
    let dir = conformance_dir();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("examples")).unwrap() {
        let path = entry.unwrap().path().join("synapsor.runner.json");
        if !path.exists() {
            continue;
        }
        let (validation, config) = validate(&read_json(&path));
        assert!(validation.ok, "{}: {:?}", path.display(), validation.errors);
        assert!(
            validation.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            validation.warnings
        );
        assert!(config.is_some());
        seen += 1;
    }
    assert_eq!(seen, 6, "expected six example configs");
}

fn base() -> Value {
    read_json(&conformance_dir().join("examples/mcp-postgres-billing/synapsor.runner.json"))
}

/// Apply `mutate` to the base config and compare error and warning `path code` lists.
fn case(mutate: impl FnOnce(&mut Value), errors: &[&str], warnings: &[&str]) {
    let mut doc = base();
    mutate(&mut doc);
    let (validation, config) = validate(&doc);
    let (got_errors, got_warnings) = codes(&validation);
    assert_eq!(got_errors, errors, "errors");
    assert_eq!(got_warnings, warnings, "warnings");
    assert_eq!(validation.ok, errors.is_empty());
    assert_eq!(config.is_some(), errors.is_empty());
}

fn cap(doc: &mut Value, i: usize) -> &mut Value {
    &mut doc["capabilities"][i]
}

#[test]
fn root_not_object() {
    let (v, _) = validate(&json!([]));
    assert_eq!(codes(&v).0, ["$ CONFIG_NOT_OBJECT"]);
}

#[test]
fn version_result_format_and_unknown_fields() {
    case(
        |d| d["version"] = json!(2),
        &["$.version UNSUPPORTED_CONFIG_VERSION"],
        &[],
    );
    case(
        |d| d["result_format"] = json!(3),
        &["$.result_format INVALID_RESULT_FORMAT"],
        &[],
    );
    case(|d| d["extra"] = json!(1), &["$.extra UNKNOWN_FIELD"], &[]);
    case(
        |d| {
            d["extra"] = json!(1);
            d["strict"] = json!(false);
        },
        &[],
        &[],
    );
}

#[test]
fn source_rules() {
    case(
        |d| {
            let src = d["sources"]
                .as_object_mut()
                .unwrap()
                .remove("app_postgres")
                .unwrap();
            d["sources"]["app-pg"] = src;
        },
        &[
            "$.sources.app-pg UNSAFE_SOURCE_NAME",
            "$.capabilities[0].source UNKNOWN_SOURCE",
            "$.capabilities[1].source UNKNOWN_SOURCE",
        ],
        &[],
    );
    case(
        |d| d["sources"]["app_postgres"]["read_url_env"] = json!("database_url"),
        &["$.sources.app_postgres.read_url_env READ_URL_ENV_REQUIRED"],
        &[],
    );
    case(
        |d| d["sources"]["app_postgres"]["url"] = json!("postgres://x"),
        &[
            "$.sources.app_postgres.url UNKNOWN_FIELD",
            "$.sources.app_postgres.url INLINE_DATABASE_URL_FORBIDDEN",
        ],
        &[],
    );
    case(
        |d| {
            d["sources"]["app_postgres"]
                .as_object_mut()
                .unwrap()
                .remove("write_url_env");
        },
        &[],
        &["$.sources.app_postgres.write_url_env WRITEBACK_DISABLED"],
    );
    case(
        |d| d["sources"]["app_postgres"]["read_only"] = json!(true),
        &["$.capabilities[1].executor READ_ONLY_SOURCE_DIRECT_WRITEBACK"],
        &[],
    );
    case(
        |d| d["sources"]["app_postgres"]["statement_timeout_ms"] = json!(1.5),
        &["$.sources.app_postgres.statement_timeout_ms INVALID_TIMEOUT"],
        &[],
    );
}

#[test]
fn modes() {
    case(|d| d["mode"] = json!("read_only"), &[], &[]);
    case(
        |d| {
            d["mode"] = json!("shadow");
            d["sources"]["app_postgres"]
                .as_object_mut()
                .unwrap()
                .remove("write_url_env");
        },
        &[],
        &[],
    );
    case(
        |d| d["cloud"] = json!({}),
        &["$.cloud CLOUD_CONFIG_ONLY_FOR_CLOUD_MODE"],
        &[],
    );
}

#[test]
fn trusted_context_rules() {
    case(
        |d| {
            d.as_object_mut().unwrap().remove("trusted_context");
        },
        &["$.trusted_context TRUSTED_CONTEXT_REQUIRED"],
        &[],
    );
    case(
        |d| {
            d["trusted_context"] =
                json!({"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "p"}})
        },
        &[],
        &["$.trusted_context.provider STATIC_DEV_CONTEXT"],
    );
    case(
        |d| d["trusted_context"]["provider"] = json!("jwt"),
        &["$.trusted_context.provider INVALID_CONTEXT_PROVIDER"],
        &[],
    );
    case(
        |d| {
            let tc = d
                .as_object_mut()
                .unwrap()
                .remove("trusted_context")
                .unwrap();
            d["contexts"] = json!({ "ops.local-1": tc });
            cap(d, 0)["context"] = json!("ops.local-1");
            cap(d, 1)["context"] = json!("ops.local-1");
        },
        &[],
        &[],
    );
}

#[test]
fn capability_shape_rules() {
    case(
        |d| cap(d, 0)["name"] = json!("a.b.c"),
        &["$.capabilities[0].name INVALID_CAPABILITY_NAME"],
        &[],
    );
    case(
        |d| {
            cap(d, 0)["args"]["tenant_id"] = json!({"type": "string"});
            cap(d, 0)["args"]["sql"] = json!({"type": "string"});
        },
        &[
            "$.capabilities[0].args.tenant_id MODEL_CONTROLLED_RESERVED_ARG",
            "$.capabilities[0].args.sql ARBITRARY_SQL_FORBIDDEN",
        ],
        &[],
    );
    case(
        |d| cap(d, 0)["args"]["invoice_id"]["type"] = json!("array"),
        &["$.capabilities[0].args.invoice_id.type INVALID_ARG_TYPE"],
        &[],
    );
    case(
        |d| cap(d, 0)["args"]["invoice_id"]["minimum"] = json!(1),
        &["$.capabilities[0].args.invoice_id NUMERIC_BOUNDS_REQUIRE_NUMBER"],
        &[],
    );
    case(
        |d| {
            cap(d, 0)["visible_columns"]
                .as_array_mut()
                .unwrap()
                .push(json!("bad-col"))
        },
        &["$.capabilities[0].visible_columns[7] INVALID_VISIBLE_COLUMN"],
        &[],
    );
    case(
        |d| cap(d, 0)["target"]["table"] = json!("public.invoices"),
        &["$.capabilities[0].target.table INVALID_TARGET_IDENTIFIER"],
        &[],
    );
    case(
        |d| {
            cap(d, 0)["target"]
                .as_object_mut()
                .unwrap()
                .remove("tenant_key");
        },
        &["$.capabilities[0].target.tenant_key TENANT_GUARD_REQUIRED"],
        &[],
    );
    case(
        |d| {
            let t = cap(d, 0)["target"].as_object_mut().unwrap();
            t.remove("tenant_key");
            t.insert("single_tenant_dev".into(), json!(true));
        },
        &[],
        &["$.capabilities[0].target.single_tenant_dev SINGLE_TENANT_DEV_EXCEPTION"],
    );
    case(
        |d| cap(d, 0)["max_rows"] = json!(0),
        &["$.capabilities[0].max_rows INVALID_MAX_ROWS"],
        &[],
    );
    case(
        |d| cap(d, 0)["args"] = json!({}),
        &["$.capabilities[0].args ARGS_REQUIRED"],
        &[],
    );
}

#[test]
fn proposal_rules() {
    for binding in [json!({"fixed": 0, "from_arg": "reason"}), json!({})] {
        case(
            |d| cap(d, 1)["patch"]["late_fee_cents"] = binding,
            &["$.capabilities[1].patch.late_fee_cents INVALID_PATCH_BINDING"],
            &[],
        );
    }
    case(
        |d| {
            cap(d, 1).as_object_mut().unwrap().remove("allowed_columns");
            cap(d, 1).as_object_mut().unwrap().remove("conflict_guard");
        },
        &[
            "$.capabilities[1].allowed_columns ALLOWED_COLUMNS_REQUIRED",
            "$.capabilities[1].conflict_guard CONFLICT_GUARD_REQUIRED",
        ],
        &[],
    );
    case(
        |d| cap(d, 1)["conflict_guard"] = json!({"weak_guard_ack": true}),
        &[],
        &[],
    );
    case(
        |d| cap(d, 1)["conflict_guard"] = json!({}),
        &["$.capabilities[1].conflict_guard.column CONFLICT_GUARD_COLUMN_REQUIRED"],
        &[],
    );
    case(
        |d| cap(d, 1)["numeric_bounds"] = json!({"late_fee_cents": {}}),
        &["$.capabilities[1].numeric_bounds.late_fee_cents NUMERIC_BOUND_EMPTY"],
        &[],
    );
    case(
        |d| {
            cap(d, 1)["transition_guards"] =
                json!({"late_fee_cents": {"from_column": "zzz", "allowed": {"a": ["b"]}}})
        },
        &[
            "$.capabilities[1].transition_guards.late_fee_cents.from_column TRANSITION_FROM_COLUMN_NOT_VISIBLE",
        ],
        &[],
    );
    case(
        |d| cap(d, 1)["transition_guards"] = json!({"late_fee_cents": {"allowed": {}}}),
        &["$.capabilities[1].transition_guards.late_fee_cents.allowed TRANSITION_ALLOWED_REQUIRED"],
        &[],
    );
    case(
        |d| cap(d, 1)["patch"]["url"] = json!({"fixed": "x"}),
        &[
            "$.capabilities[1].patch.url PATCH_COLUMN_NOT_ALLOWED",
            "$.capabilities[1].patch.url INLINE_DATABASE_URL_FORBIDDEN",
        ],
        &[],
    );
    case(
        |d| cap(d, 1)["approval"]["quorum"] = json!(2),
        &["$.capabilities[1].approval.quorum UNKNOWN_FIELD"],
        &[],
    );
}

#[test]
fn executor_rules() {
    case(
        |d| cap(d, 1)["executor"] = json!("nope"),
        &["$.capabilities[1].executor UNKNOWN_EXECUTOR"],
        &[],
    );
    case(|d| cap(d, 1)["executor"] = json!("sql_update"), &[], &[]);
    case(
        |d| d["executors"] = json!({"h": {"type": "http_handler"}}),
        &["$.executors.h.url_env HANDLER_URL_ENV_REQUIRED"],
        &[],
    );
    case(
        |d| {
            d["executors"] = json!({"h": {"type": "http_handler", "url_env": "H_URL", "auth": {"type": "basic"}}})
        },
        &[
            "$.executors.h.auth.type INVALID_EXECUTOR_AUTH",
            "$.executors.h.auth.token_env EXECUTOR_TOKEN_ENV_REQUIRED",
        ],
        &[],
    );
    case(
        |d| {
            d["mode"] = json!("read_only");
            d["executors"] = json!({"h": {"type": "command_handler", "command_env": "H_CMD"}});
        },
        &["$.executors.h EXECUTOR_INVALID_IN_READ_ONLY"],
        &[],
    );
    case(
        |d| d["executors"] = json!({}),
        &["$.executors EXECUTORS_NOT_OBJECT"],
        &[],
    );
}

/// Spec README §3.1: failures the reference only found at run time are validation errors here.
#[test]
fn completeness_fixes_are_validation_errors() {
    case(
        |d| {
            let first = d["capabilities"][0].clone();
            d["capabilities"].as_array_mut().unwrap().push(first);
        },
        &["$.capabilities[2].name DUPLICATE_CAPABILITY_NAME"],
        &[],
    );
    case(
        |d| {
            cap(d, 1)["allowed_columns"]
                .as_array_mut()
                .unwrap()
                .push(json!("id"))
        },
        &["$.capabilities[1].allowed_columns[2] PRIMARY_KEY_ALLOWLISTED"],
        &[],
    );
    case(
        |d| {
            cap(d, 1)["allowed_columns"]
                .as_array_mut()
                .unwrap()
                .push(json!("tenant_id"))
        },
        &["$.capabilities[1].allowed_columns[2] TENANT_KEY_ALLOWLISTED"],
        &[],
    );
    case(
        |d| cap(d, 1)["allowed_columns"] = json!(["late_fee_cents"]),
        &["$.capabilities[1].patch.waiver_reason PATCH_COLUMN_NOT_ALLOWED"],
        &[],
    );
    case(
        |d| cap(d, 1)["patch"]["waiver_reason"] = json!({"from_arg": "nope"}),
        &["$.capabilities[1].patch.waiver_reason.from_arg UNKNOWN_PATCH_ARG"],
        &[],
    );
    case(
        |d| cap(d, 0)["lookup"]["id_from_arg"] = json!("nope"),
        &["$.capabilities[0].lookup.id_from_arg UNKNOWN_LOOKUP_ARG"],
        &[],
    );
    case(
        |d| cap(d, 0)["args"]["tenant_id"] = json!({"type": "string"}),
        &["$.capabilities[0].args.tenant_id MODEL_CONTROLLED_RESERVED_ARG"],
        &[],
    );
}

#[test]
fn sqlite_sources_default_to_the_main_schema() {
    let mut doc = base();
    doc["sources"]["app_postgres"]["engine"] = json!("sqlite");
    for i in 0..2 {
        cap(&mut doc, i)["target"]
            .as_object_mut()
            .unwrap()
            .remove("schema");
    }
    let (v, config) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    assert_eq!(config.unwrap().capabilities[0].target.schema, "main");
}

#[test]
fn every_error_is_reported_at_once() {
    case(
        |d| {
            d["version"] = json!(3);
            d["mode"] = json!("yolo");
            cap(d, 0)["max_rows"] = json!(-1);
        },
        &[
            "$.version UNSUPPORTED_CONFIG_VERSION",
            "$.mode INVALID_MODE",
            "$.capabilities[0].max_rows INVALID_MAX_ROWS",
        ],
        &[],
    );
}

/// `storage.durability` (a Sluicegate extension): full by default, relaxed on request, and
/// nothing else.
#[test]
fn storage_durability() {
    use sluicegate_core::config::Durability;
    let durability = |storage: Value| {
        let mut doc = base();
        doc["storage"] = storage;
        validate(&doc).1.map(|c| c.durability)
    };
    assert_eq!(durability(json!({})), Some(Durability::Full));
    assert_eq!(
        durability(json!({"durability": "full"})),
        Some(Durability::Full)
    );
    assert_eq!(
        durability(json!({"durability": "relaxed"})),
        Some(Durability::Relaxed)
    );
    for bad in [json!("normal"), json!(true), json!(null), json!("FULL")] {
        case(
            |d| d["storage"] = json!({"durability": bad}),
            &["$.storage.durability INVALID_DURABILITY"],
            &[],
        );
    }
}

/// `storage.engine`: sqlite by default (with its optional file path), postgres with the name of
/// the env var holding the ledger's URL; each misfit setting refused at its own path.
#[test]
fn storage_engine() {
    use sluicegate_core::config::{Durability, LedgerStorage};
    let ledger = |storage: Value| {
        let mut doc = base();
        doc["storage"] = storage;
        validate(&doc).1.map(|c| (c.ledger, c.durability))
    };
    assert_eq!(
        ledger(json!({})),
        Some((LedgerStorage::Sqlite { path: None }, Durability::Full))
    );
    assert_eq!(
        ledger(json!({"engine": "sqlite", "sqlite_path": "x.db"})),
        Some((
            LedgerStorage::Sqlite {
                path: Some("x.db".into())
            },
            Durability::Full
        ))
    );
    assert_eq!(
        ledger(
            json!({"engine": "postgres", "url_env": "SLUICEGATE_LEDGER_URL", "durability": "relaxed"})
        ),
        Some((
            LedgerStorage::Postgres {
                url_env: "SLUICEGATE_LEDGER_URL".into()
            },
            Durability::Relaxed
        ))
    );
    assert_eq!(
        LedgerStorage::Postgres {
            url_env: "X".into()
        }
        .engine(),
        "postgres"
    );
    let refused: &[(Value, &str)] = &[
        (
            json!({"engine": "mysql"}),
            "$.storage.engine INVALID_STORAGE_ENGINE",
        ),
        (
            json!({"engine": 1}),
            "$.storage.engine INVALID_STORAGE_ENGINE",
        ),
        (
            json!({"engine": "postgres"}),
            "$.storage.url_env STORAGE_URL_ENV_REQUIRED",
        ),
        (
            json!({"engine": "postgres", "url_env": "postgres://u:p@h/db"}),
            "$.storage.url_env INVALID_STORAGE_URL_ENV",
        ),
        (
            json!({"engine": "postgres", "url_env": "ledger_url"}),
            "$.storage.url_env INVALID_STORAGE_URL_ENV",
        ),
        (
            json!({"engine": "postgres", "url_env": "L", "sqlite_path": "x.db"}),
            "$.storage.sqlite_path SQLITE_PATH_NOT_FOR_POSTGRES",
        ),
        (
            json!({"url_env": "L"}),
            "$.storage.url_env URL_ENV_NOT_FOR_SQLITE",
        ),
        (
            json!({"engine": "sqlite", "url_env": "L"}),
            "$.storage.url_env URL_ENV_NOT_FOR_SQLITE",
        ),
    ];
    for (storage, error) in refused {
        let storage = storage.clone();
        case(|d| d["storage"] = storage, &[error], &[]);
    }
}
