//! Selection specs: parsing, checks, names and the generated config.
use super::*;

pub(crate) fn invoice_selection() -> Selection {
    serde_json::from_value(json!({
        "engine": "postgres", "mode": "review", "read_url_env": "DATABASE_URL",
        "schema": "public", "table": "invoices", "primary_key": "id",
        "tenant_key": "tenant_id", "conflict_column": "updated_at",
        "visible_columns": ["id", "tenant_id", "late_fee_cents", "waiver_reason", "updated_at"],
        "namespace": "billing", "object_name": "invoice", "lookup_arg": "invoice_id",
        "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
        "numeric_bounds": {"late_fee_cents": {"minimum": 0, "maximum": 5500}}
    }))
    .unwrap()
}

#[test]
fn generates_the_documented_shape() {
    let doc = generate(&invoice_selection()).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "version",
            "mode",
            "result_format",
            "storage",
            "sources",
            "trusted_context",
            "contexts",
            "capabilities"
        ]
    );
    assert_eq!(
        doc["sources"]["local_postgres"],
        json!({"engine": "postgres", "read_url_env": "DATABASE_URL", "write_url_env": DEFAULT_WRITE_URL_ENV, "statement_timeout_ms": 3000})
    );
    let caps = doc["capabilities"].as_array().unwrap();
    assert_eq!(caps[0]["name"], "billing.inspect_invoice");
    assert_eq!(
        caps[0]["visible_columns"],
        json!([
            "id",
            "tenant_id",
            "updated_at",
            "late_fee_cents",
            "waiver_reason"
        ])
    );
    assert_eq!(caps[1]["name"], "billing.propose_invoice_update");
    let keys: Vec<&String> = caps[1].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "kind",
            "description",
            "returns_hint",
            "source",
            "context",
            "target",
            "args",
            "lookup",
            "visible_columns",
            "evidence",
            "max_rows",
            "patch",
            "allowed_columns",
            "numeric_bounds",
            "conflict_guard",
            "approval"
        ]
    );
    assert_eq!(
        caps[1]["args"]["reason"],
        json!({"type": "string", "required": true, "max_length": 500})
    );
    assert_eq!(
        caps[1]["numeric_bounds"],
        json!({"late_fee_cents": {"minimum": 0, "maximum": 5500}})
    );
    assert_eq!(caps[1]["conflict_guard"], json!({"column": "updated_at"}));
}

#[test]
fn handlers_read_only_and_defaults() {
    let mut sel = invoice_selection();
    sel.writeback = Some(WritebackSpec {
        executor: Some("http_handler".into()),
        handler_url_env: Some("APP_WRITEBACK_URL".into()),
        handler_signing_secret_env: Some("APP_SIGNING".into()),
        ..Default::default()
    });
    sel.write_url_env = Some("IGNORED_FOR_HANDLERS".into());
    let doc = generate(&sel).unwrap();
    assert_eq!(doc["sources"]["local_postgres"]["read_only"], json!(true));
    assert!(
        doc["sources"]["local_postgres"]
            .get("write_url_env")
            .is_none()
    );
    assert_eq!(
        doc["executors"]["billing_http_handler"],
        json!({"type": "http_handler", "url_env": "APP_WRITEBACK_URL", "method": "POST", "signing_secret_env": "APP_SIGNING", "timeout_ms": 5000})
    );
    assert_eq!(doc["capabilities"][1]["executor"], "billing_http_handler");

    let mut sel = invoice_selection();
    sel.mode = Some("read_only".into());
    let doc = generate(&sel).unwrap();
    assert_eq!(doc["capabilities"].as_array().unwrap().len(), 1);

    let sel: Selection = serde_json::from_value(json!({
        "engine": "sqlite", "schema": "main", "table": "support_tickets", "primary_key": "id",
        "single_tenant_dev": true, "visible_columns": ["subject"],
        "patch": {"status": {"from_arg": "next_status"}},
        "transition_guards": {"status": {"allowed": {"open": ["closed", "pending"], "pending": ["closed"]}}}
    }))
    .unwrap();
    let problems = sel.problems();
    assert!(
        problems.iter().any(|p| p.contains("from_column status")),
        "{problems:?}"
    );
    let mut sel = sel;
    sel.visible_columns.push("status".into());
    let doc = generate(&sel).unwrap();
    assert_eq!(doc["mode"], "shadow");
    assert_eq!(
        doc["capabilities"][0]["name"],
        "support.inspect_support_ticket"
    );
    assert_eq!(
        doc["capabilities"][1]["args"]["next_status"]["enum"],
        json!(["closed", "pending"])
    );
    assert_eq!(
        doc["capabilities"][1]["conflict_guard"],
        json!({"weak_guard_ack": true})
    );
    assert_eq!(
        doc["capabilities"][0]["target"]["single_tenant_dev"],
        json!(true)
    );
}

#[test]
fn every_problem_is_reported() {
    let sel: Selection = serde_json::from_value(json!({
        "engine": "oracle", "mode": "review", "visible_columns": [],
        "patch": {"bad-col": {"fixed": 1}}, "read_url_env": "lower"
    }))
    .unwrap();
    let p = sel.problems();
    for needle in [
        "engine",
        "schema is required",
        "table is required",
        "primary_key is required",
        "tenant_key",
        "visible_columns",
        "unsafe identifier in selection: bad-col",
        "invalid environment variable name: lower",
    ] {
        assert!(p.iter().any(|x| x.contains(needle)), "{needle}: {p:?}");
    }
    assert!(serde_json::from_value::<Selection>(json!({"tabel": "x"})).is_err());
}
