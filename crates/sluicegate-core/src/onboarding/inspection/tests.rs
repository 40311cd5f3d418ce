//! Normalisation and heuristics of inspections, tested without a database.

use super::*;

fn col(table: &str, name: &str, ty: &str, pos: u32) -> RawColumn {
    RawColumn {
        schema: "public".into(),
        table: table.into(),
        name: name.into(),
        data_type: Some(ty.into()),
        udt_name: Some(ty.into()),
        is_nullable: "NO".into(),
        default: None,
        is_generated: Some("NEVER".into()),
        ordinal_position: pos,
    }
}

fn catalog() -> RawCatalog {
    RawCatalog {
        engine: Engine::Postgres,
        server_version: "PostgreSQL 15".into(),
        current_user: "reader".into(),
        schemas: vec!["public".into()],
        objects: vec![
            RawObject {
                schema: "public".into(),
                name: "invoices".into(),
                raw_type: "BASE TABLE".into(),
            },
            RawObject {
                schema: "public".into(),
                name: "open_invoices".into(),
                raw_type: "VIEW".into(),
            },
        ],
        // Out of order on purpose: normalisation sorts by ordinal position.
        columns: vec![
            col("invoices", "updated_at", "timestamp with time zone", 5),
            col("invoices", "id", "text", 1),
            col("invoices", "tenant_id", "text", 2),
            col("invoices", "password_hash", "text", 3),
            col("invoices", "attachment", "bytea", 4),
            col("invoices", "meta", "jsonb", 6),
            col("open_invoices", "invoice_id", "text", 1),
            col("open_invoices", "account_id", "text", 2),
            col("open_invoices", "row_version", "integer", 3),
        ],
        constraints: vec![RawConstraint {
            schema: "public".into(),
            table: "invoices".into(),
            name: "invoices_pkey".into(),
            kind: "PRIMARY KEY".into(),
            column: "id".into(),
            ordinal: 1,
        }],
        foreign_keys: vec![],
        indexes: vec![],
        triggers: vec![],
    }
}

#[test]
fn heuristics_classify_columns() {
    let i = normalize(catalog(), "2026-01-01T00:00:00.000Z");
    let t = &i.tables[0];
    assert_eq!(t.kind, "table");
    assert!(t.writable);
    assert_eq!(t.primary_key, vec!["id"]);
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "tenant_id",
            "password_hash",
            "attachment",
            "updated_at",
            "meta"
        ]
    );
    assert_eq!(t.suggestions.tenant_columns, ["tenant_id"]);
    assert_eq!(t.suggestions.conflict_columns, ["updated_at"]);
    assert_eq!(t.suggestions.sensitive_columns, ["password_hash"]);
    assert_eq!(
        t.suggestions.default_visible_columns,
        ["id", "tenant_id", "updated_at"]
    );
    assert!(t.columns[0].suggestions.immutable);
    assert!(t.columns[3].suggestions.large_or_binary);
    let v = &i.tables[1];
    assert_eq!(v.kind, "view");
    assert!(!v.writable);
    assert!(v.primary_key.is_empty());
    assert_eq!(v.primary_key_choice("open_invoice"), None);
    assert_eq!(
        v.primary_key_choice("open_invoice")
            .or(v.primary_key_candidate("invoice")),
        Some("invoice_id".into())
    );
    assert_eq!(v.suggestions.tenant_columns, ["account_id"]);
    assert_eq!(v.suggestions.conflict_columns, ["row_version"]);
    assert_eq!(i.warnings, [METADATA_NOTICE]);
    assert!(i.find("public.invoices", None).is_some());
    assert!(i.find("invoices", Some("other")).is_some());
    assert!(i.find("missing", None).is_none());
}

#[test]
fn sensitive_names() {
    for s in [
        "password",
        "API_KEY",
        "refresh_token",
        "session_id",
        "ssn",
        "credit_card_number",
        "oauth_subject",
    ] {
        assert!(is_sensitive_name(s), "{s}");
    }
    for s in ["late_fee_cents", "status", "user_ssn_last4_ok_is_word"] {
        // `\bssn\b` needs a word boundary; underscores are word characters.
        assert!(!is_sensitive_name(s), "{s}");
    }
}

#[test]
fn round_trips_as_json() {
    let i = normalize(catalog(), "t");
    let text = serde_json::to_string(&i).unwrap();
    let back: Inspection = serde_json::from_str(&text).unwrap();
    assert_eq!(back, i);
    assert!(text.contains(r#""type":"view""#));
}

/// A rental-shop schema in the shape of the public sample schemas: stores own customers,
/// staff and inventory; payments belong to customers; `film_actor` has a composite key; a
/// shared trigger function keeps `last_update` current.
fn shop() -> RawCatalog {
    let table = |name: &str| RawObject {
        schema: "public".into(),
        name: name.into(),
        raw_type: "BASE TABLE".into(),
    };
    let key = |t: &str, kind: &str, name: &str, column: &str, ordinal: u32| RawConstraint {
        schema: "public".into(),
        table: t.into(),
        name: name.into(),
        kind: kind.into(),
        column: column.into(),
        ordinal,
    };
    let fk = |t: &str, column: &str, to: &str, to_column: &str| RawForeignKey {
        schema: "public".into(),
        table: t.into(),
        name: format!("{t}_{column}_fkey"),
        column: column.into(),
        referenced_schema: "public".into(),
        referenced_table: to.into(),
        referenced_column: to_column.into(),
        ordinal: 1,
    };
    let trigger = |t: &str| RawTrigger {
        schema: "public".into(),
        table: t.into(),
        name: "last_updated".into(),
        body: " BEGIN NEW.last_update = CURRENT_TIMESTAMP; RETURN NEW; END ".into(),
    };
    let mut columns = Vec::new();
    for (t, cols) in [
        (
            "store",
            &["store_id", "manager_staff_id", "last_update"][..],
        ),
        (
            "customer",
            &[
                "customer_id",
                "store_id",
                "email",
                "referred_by",
                "last_update",
            ][..],
        ),
        (
            "staff",
            &["staff_id", "store_id", "password", "last_update"][..],
        ),
        (
            "inventory",
            &["inventory_id", "film_id", "store_id", "last_update"][..],
        ),
        (
            "payment",
            &["payment_id", "customer_id", "staff_id", "amount"][..],
        ),
        ("film_actor", &["actor_id", "film_id", "last_update"][..]),
        ("film", &["film_id", "title", "last_update"][..]),
    ] {
        for (i, c) in cols.iter().enumerate() {
            columns.push(col(t, c, "integer", i as u32 + 1));
        }
    }
    RawCatalog {
        engine: Engine::Postgres,
        server_version: "PostgreSQL 15".into(),
        current_user: "reader".into(),
        schemas: vec!["public".into()],
        objects: [
            "store",
            "customer",
            "staff",
            "inventory",
            "payment",
            "film_actor",
            "film",
        ]
        .into_iter()
        .map(table)
        .collect(),
        columns,
        constraints: vec![
            key("store", "PRIMARY KEY", "store_pkey", "store_id", 1),
            key("customer", "PRIMARY KEY", "customer_pkey", "customer_id", 1),
            key("staff", "PRIMARY KEY", "staff_pkey", "staff_id", 1),
            key(
                "inventory",
                "PRIMARY KEY",
                "inventory_pkey",
                "inventory_id",
                1,
            ),
            key("payment", "PRIMARY KEY", "payment_pkey", "payment_id", 1),
            key("film", "PRIMARY KEY", "film_pkey", "film_id", 1),
            key("film_actor", "PRIMARY KEY", "film_actor_pkey", "film_id", 2),
            key(
                "film_actor",
                "PRIMARY KEY",
                "film_actor_pkey",
                "actor_id",
                1,
            ),
        ],
        foreign_keys: vec![
            fk("customer", "store_id", "store", "store_id"),
            fk("customer", "referred_by", "customer", "customer_id"),
            fk("staff", "store_id", "store", "store_id"),
            fk("inventory", "store_id", "store", "store_id"),
            fk("inventory", "film_id", "film", "film_id"),
            fk("payment", "customer_id", "customer", "customer_id"),
            fk("payment", "staff_id", "staff", "staff_id"),
            fk("store", "manager_staff_id", "staff", "staff_id"),
            fk("film_actor", "film_id", "film", "film_id"),
        ],
        indexes: vec![],
        triggers: [
            "store",
            "customer",
            "staff",
            "inventory",
            "film_actor",
            "film",
        ]
        .into_iter()
        .map(trigger)
        .collect(),
    }
}

#[test]
fn tenants_are_ranked_through_foreign_keys_never_a_tables_own_key() {
    let i = normalize(shop(), "t");
    let t = |name: &str| i.find(name, None).expect(name);
    // A column referencing the scoping table many tables share ranks first.
    assert_eq!(t("customer").suggestions.tenant_columns, ["store_id"]);
    assert_eq!(
        t("customer").suggestions.tenant_candidates[0].reason,
        "references store (shared by 3 tables); named like a tenant column"
    );
    assert_eq!(t("inventory").suggestions.tenant_columns, ["store_id"]);
    assert_eq!(t("payment").suggestions.tenant_columns, ["customer_id"]);
    // Never the table's own primary key, and no self-reference.
    assert!(t("store").suggestions.tenant_columns.is_empty());
    assert!(
        !t("customer")
            .suggestions
            .tenant_columns
            .contains(&"customer_id".to_string())
    );
    assert!(t("film").suggestions.tenant_columns.is_empty());
    // The first column of a composite key alone is not a tenant.
    assert!(t("film_actor").suggestions.tenant_columns.is_empty());
    let store_id = t("customer").columns.iter().find(|c| c.name == "store_id");
    assert!(store_id.is_some_and(|c| c.suggestions.tenant && c.suggestions.immutable));
}

#[test]
fn trigger_maintained_columns_are_version_columns() {
    let i = normalize(shop(), "t");
    let film = i.find("film", None).expect("film");
    assert_eq!(film.suggestions.conflict_columns, ["last_update"]);
    assert_eq!(
        film.suggestions.maintained_columns,
        [Candidate {
            column: "last_update".into(),
            reason: "set by trigger last_updated".into()
        }]
    );
    assert!(film.columns[2].suggestions.maintained);
    // No trigger on payment: nothing maintained, and no version-like name either.
    let payment = i.find("payment", None).expect("payment");
    assert!(payment.suggestions.maintained_columns.is_empty());
    assert!(payment.suggestions.conflict_columns.is_empty());
    // Composite keys are kept whole, and no part of one is taken for the row key.
    let fa = i.find("film_actor", None).expect("film_actor");
    assert_eq!(fa.primary_key, ["actor_id", "film_id"]);
    assert_eq!(fa.primary_key_choice("film_actor"), None);
}

#[test]
fn what_triggers_set() {
    let pl = "BEGIN\n  IF NEW.status = OLD.status THEN RETURN NEW; END IF;\n  NEW.\"updated_at\" := now();\n  RETURN NEW;\nEND";
    assert_eq!(columns_set_by_trigger("t", pl), ["updated_at"]);
    assert_eq!(
        columns_set_by_trigger("t", "SET NEW.modified = NOW(), NEW.rev = OLD.rev + 1"),
        ["modified", "rev"]
    );
    let lite = sqlite_update_trigger_body(
        "CREATE TRIGGER actor_au AFTER UPDATE ON actor FOR EACH ROW BEGIN UPDATE actor SET last_update = DATETIME('NOW'), \"rev\" = rev + 1 WHERE rowid = new.rowid; END",
    )
    .expect("an update trigger");
    assert_eq!(
        columns_set_by_trigger("actor", &lite),
        ["last_update", "rev"]
    );
    assert!(columns_set_by_trigger("other", &lite).is_empty());
    assert_eq!(
        sqlite_update_trigger_body(
            "CREATE TRIGGER actor_ai AFTER INSERT ON actor BEGIN UPDATE actor SET last_update = 1; END"
        ),
        None
    );
    assert!(is_on_update_extra("on update current_timestamp()"));
    assert!(is_on_update_extra(
        "DEFAULT_GENERATED on update CURRENT_TIMESTAMP"
    ));
    assert!(!is_on_update_extra("auto_increment"));
}

#[test]
fn shared_prefixes() {
    let names = [
        "app_invoice",
        "app_customer",
        "auth_user",
        "orders",
        "order_items",
    ];
    assert_eq!(
        shared_prefix("app_invoice", names),
        Some("app_".to_string())
    );
    // One table is no prefix; a table named like the segment makes it a word, not a prefix.
    assert_eq!(shared_prefix("auth_user", names), None);
    assert_eq!(
        shared_prefix("order_items", ["orders", "order_items", "order_notes"]),
        None
    );
    assert_eq!(prefix_namespace("app_").as_deref(), Some("app"));
    assert_eq!(prefix_namespace("tbl_"), None);
    assert!(is_scope_table("stores") && is_scope_table("app_account"));
    assert!(!is_scope_table("films"));
}
