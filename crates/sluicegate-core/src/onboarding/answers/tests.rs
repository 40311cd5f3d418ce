//! Resolving decisions: gaps filled from the inspection, every missing one reported at once.

use super::*;
use crate::onboarding::inspection::{RawCatalog, RawColumn, RawConstraint, RawObject, normalize};
use crate::onboarding::selection::generate;
use serde_json::json;

pub(crate) fn inspection() -> Inspection {
    let col = |name: &str, pos: u32| RawColumn {
        schema: "public".into(),
        table: "invoices".into(),
        name: name.into(),
        data_type: Some("text".into()),
        udt_name: Some("text".into()),
        is_nullable: "NO".into(),
        default: None,
        is_generated: None,
        ordinal_position: pos,
    };
    normalize(
        RawCatalog {
            engine: Engine::Postgres,
            server_version: "PostgreSQL 15".into(),
            current_user: "reader".into(),
            schemas: vec!["public".into()],
            objects: vec![RawObject {
                schema: "public".into(),
                name: "invoices".into(),
                raw_type: "BASE TABLE".into(),
            }],
            columns: vec![
                col("id", 1),
                col("tenant_id", 2),
                col("late_fee_cents", 3),
                col("waiver_reason", 4),
                col("updated_at", 5),
                col("api_token", 6),
            ],
            constraints: vec![RawConstraint {
                schema: "public".into(),
                table: "invoices".into(),
                name: "pk".into(),
                kind: "PRIMARY KEY".into(),
                column: "id".into(),
                ordinal: 1,
            }],
            foreign_keys: vec![],
            indexes: vec![],
            triggers: vec![],
        },
        "t",
    )
}

#[test]
fn flags_fill_gaps_from_the_inspection() {
    let a = Answers {
        table: Some("invoices".into()),
        patch: vec!["late_fee_cents=fixed:0,waiver_reason=arg:reason".into()],
        read_url_env: Some("DATABASE_URL".into()),
        ..Default::default()
    };
    let r = resolve(&a, Some(&inspection()), None, "shadow").unwrap();
    let s = &r.selection;
    assert_eq!(s.primary_key.as_deref(), Some("id"));
    assert_eq!(s.tenant_key.as_deref(), Some("tenant_id"));
    assert_eq!(s.conflict_column.as_deref(), Some("updated_at"));
    assert_eq!(
        s.visible_columns,
        [
            "id",
            "tenant_id",
            "late_fee_cents",
            "waiver_reason",
            "updated_at"
        ]
    );
    assert_eq!(s.namespace.as_deref(), Some("invoice"));
    let doc = generate(s).unwrap();
    assert_eq!(
        doc["capabilities"][1]["name"],
        "invoice.propose_invoice_update"
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn every_missing_decision_at_once() {
    let Err(OnboardingError::Missing(m)) = resolve(&Answers::default(), None, None, "shadow")
    else {
        panic!("expected missing decisions");
    };
    assert!(m.iter().any(|x| x.contains("--engine")), "{m:?}");
    assert!(m.iter().any(|x| x.contains("--table")), "{m:?}");

    let a = Answers {
        engine: Some("postgres".into()),
        table: Some("things".into()),
        ..Default::default()
    };
    let Err(OnboardingError::Missing(m)) = resolve(&a, None, None, "review") else {
        panic!("expected missing decisions");
    };
    for needle in [
        "--primary-key",
        "--tenant-column",
        "--visible-columns",
        "--patch",
    ] {
        assert!(m.iter().any(|x| x.contains(needle)), "{needle}: {m:?}");
    }

    let a = Answers {
        table: Some("invoices".into()),
        visible_columns: vec!["id,nope".into()],
        patch: vec!["bogus".into()],
        ..Default::default()
    };
    let Err(OnboardingError::Missing(m)) = resolve(&a, Some(&inspection()), None, "shadow") else {
        panic!("expected missing decisions");
    };
    assert!(
        m.iter().any(|x| x.contains("nope do(es) not exist")),
        "{m:?}"
    );
    assert!(m.iter().any(|x| x.contains("bogus")), "{m:?}");
}

#[test]
fn answers_file_shapes() {
    let a = Answers::from_json(
        &json!({
            "engine": "postgres", "schema": "public", "table": "invoices", "primary_key": "id",
            "tenant_column": "tenant_id", "visible_columns": "id, tenant_id",
            "patch": ["waiver_reason=arg:reason"], "patch_bounds": [], "result_format": 2,
            "id_arg": "invoice_id", "smoke_id": 7
        })
        .to_string(),
    )
    .unwrap();
    assert_eq!(a.tenant_key.as_deref(), Some("tenant_id"));
    assert_eq!(a.result_format.as_deref(), Some("2"));
    assert_eq!(a.smoke_id.as_deref(), Some("7"));
    let r = resolve(&a, None, None, "review").unwrap();
    assert_eq!(r.selection.visible_columns, ["id", "tenant_id"]);
    assert_eq!(r.selection.lookup_arg.as_deref(), Some("invoice_id"));
    assert!(Answers::from_json("[]").is_err());
    assert!(Answers::from_json(r#"{"tabel": "x"}"#).is_err());
}

/// `app_`-prefixed tables, a trigger-maintained `last_update`, a composite key.
fn prefixed() -> Inspection {
    use crate::onboarding::inspection::{RawForeignKey, RawTrigger};
    let col = |table: &str, name: &str, pos: u32| RawColumn {
        schema: "main".into(),
        table: table.into(),
        name: name.into(),
        data_type: Some("TEXT".into()),
        udt_name: None,
        is_nullable: "NO".into(),
        default: None,
        is_generated: None,
        ordinal_position: pos,
    };
    let fk = |table: &str, column: &str, referenced: &str| RawForeignKey {
        schema: "main".into(),
        table: table.into(),
        name: format!("{table}_{column}_fk"),
        column: column.into(),
        referenced_schema: "main".into(),
        referenced_table: referenced.into(),
        referenced_column: "id".into(),
        ordinal: 1,
    };
    let pk = |table: &str, column: &str, ordinal: u32| RawConstraint {
        schema: "main".into(),
        table: table.into(),
        name: format!("{table}_pk"),
        kind: "PRIMARY KEY".into(),
        column: column.into(),
        ordinal,
    };
    normalize(
        RawCatalog {
            engine: Engine::Sqlite,
            server_version: "SQLite 3".into(),
            current_user: String::new(),
            schemas: vec!["main".into()],
            objects: ["app_account", "app_invoice", "app_invoice_line"]
                .into_iter()
                .map(|n| RawObject {
                    schema: "main".into(),
                    name: n.into(),
                    raw_type: "table".into(),
                })
                .collect(),
            columns: vec![
                col("app_account", "id", 1),
                col("app_invoice", "id", 1),
                col("app_invoice", "account_id", 2),
                col("app_invoice", "status", 3),
                col("app_invoice", "last_update", 4),
                col("app_invoice_line", "invoice_id", 1),
                col("app_invoice_line", "line_no", 2),
                col("app_invoice_line", "note", 3),
            ],
            constraints: vec![
                pk("app_account", "id", 1),
                pk("app_invoice", "id", 1),
                pk("app_invoice_line", "invoice_id", 1),
                pk("app_invoice_line", "line_no", 2),
            ],
            foreign_keys: vec![
                fk("app_invoice", "account_id", "app_account"),
                fk("app_invoice_line", "invoice_id", "app_invoice"),
            ],
            indexes: vec![],
            triggers: vec![RawTrigger {
                schema: "main".into(),
                table: "app_invoice".into(),
                name: "app_invoice_au".into(),
                body: "UPDATE app_invoice SET last_update = datetime('now') WHERE rowid = new.rowid; END".into(),
            }],
        },
        "t",
    )
}

#[test]
fn prefixed_tables_get_plain_names_and_trigger_kept_versions() {
    let a = Answers {
        table: Some("app_invoice".into()),
        patch: vec!["status=arg:status".into()],
        ..Default::default()
    };
    let r = resolve(&a, Some(&prefixed()), None, "review").unwrap();
    let s = &r.selection;
    assert_eq!(s.object_name.as_deref(), Some("invoice"));
    assert_eq!(s.namespace.as_deref(), Some("app"));
    assert_eq!(s.tenant_key.as_deref(), Some("account_id"));
    assert_eq!(s.conflict_column.as_deref(), Some("last_update"));
    assert_eq!(s.conflict_maintained_by.as_deref(), Some("app"));
    assert!(
        r.warnings.iter().any(|w| w.contains("app_invoice_au")),
        "{:?}",
        r.warnings
    );
    let doc = generate(s).unwrap();
    let caps = doc["capabilities"].as_array().unwrap();
    assert_eq!(caps[0]["name"], "app.inspect_invoice");
    assert_eq!(caps[0]["lookup"]["id_from_arg"], "invoice_id");
    assert_eq!(caps[1]["name"], "app.propose_invoice_update");
    assert_eq!(
        caps[1]["conflict_guard"],
        json!({"column": "last_update", "maintained_by": "app"})
    );

    // The prefix is configurable: kept whole, or named.
    let keep = Answers {
        table_prefix: Some("none".into()),
        ..a.clone()
    };
    let r = resolve(&keep, Some(&prefixed()), None, "review").unwrap();
    assert_eq!(r.selection.object_name.as_deref(), Some("app_invoice"));
    let named = Answers {
        table: Some("app_account".into()),
        table_prefix: Some("app_".into()),
        mode: Some("read_only".into()),
        single_tenant_dev: Some(true),
        existing_namespace: Some("billing".into()),
        ..Default::default()
    };
    let r = resolve(&named, None, None, "read_only").unwrap_err();
    assert!(r.to_string().contains("--engine"), "{r}");
    let named = Answers {
        engine: Some("sqlite".into()),
        ..named
    };
    let r = resolve(&named, Some(&prefixed()), None, "read_only").unwrap();
    assert_eq!(r.selection.object_name.as_deref(), Some("account"));
    // `--add` keeps the existing config's namespace.
    assert_eq!(r.selection.namespace.as_deref(), Some("billing"));
}

#[test]
fn a_composite_key_is_a_decision_not_a_guess() {
    let a = Answers {
        table: Some("app_invoice_line".into()),
        mode: Some("read_only".into()),
        ..Default::default()
    };
    let Err(OnboardingError::Missing(m)) = resolve(&a, Some(&prefixed()), None, "read_only") else {
        panic!("expected missing decisions");
    };
    assert!(
        m.iter()
            .any(|x| x.contains("composite (invoice_id, line_no)")),
        "{m:?}"
    );
    // No tenant candidate: the references are named, where a scope usually is.
    assert!(
        m.iter().any(
            |x| x.starts_with("--tenant-column <column> for main.app_invoice_line")
                && x.contains("(none detected; the table references: invoice_id -> app_invoice)")
        ),
        "{m:?}"
    );
}

#[test]
fn a_single_tenant_source_names_no_tenant_env() {
    let a = Answers {
        engine: Some("sqlite".into()),
        table: Some("notes".into()),
        primary_key: Some("id".into()),
        visible_columns: vec!["id,body".into()],
        single_tenant_dev: Some(true),
        patch: vec!["body=arg:body".into()],
        ..Default::default()
    };
    let resolved = resolve(&a, None, None, "review").unwrap();
    // No version column: the warning says what the weak guard does and does not see.
    assert!(
        resolved.warnings.iter().any(|w| w.contains(
            "proposals use the weak guard (weak_guard_ack), so apply compares the columns the agent read and misses a change to any other"
        )),
        "{:?}",
        resolved.warnings
    );
    let doc = generate(&resolved.selection).unwrap();
    assert_eq!(
        doc["trusted_context"]["values"],
        json!({"principal_env": "SLUICEGATE_PRINCIPAL"})
    );
    assert_eq!(doc["capabilities"][1]["target"]["single_tenant_dev"], true);
}
