//! Onboarding inspection as the SELECT-only user the README recommends, on every engine: the
//! test creates a schema as the admin, then a user who may only read it, and inspects as that
//! user. Composite primary keys, unique keys and foreign keys are found (PostgreSQL and
//! MariaDB hide them in `information_schema.table_constraints` from such a user), and so are
//! the columns the database moves forward on every update (a trigger, `ON UPDATE
//! CURRENT_TIMESTAMP`), which onboarding then suggests as version columns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sluicegate_core::config::Engine;
use sluicegate_core::onboarding::inspection::{Inspection, TableInfo, normalize};
use sluicegate_core::secrets::Secret;
use sluicegate_source::inspect::inspect;
use sluicegate_test_support::engines::{
    EngineKind, TestDatabase, unique_name, url_with_credentials,
};

async fn inspect_as(url: &str, engine: Engine, schema: Option<&str>) -> Inspection {
    let raw = inspect(&Secret::new(url), engine, schema, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("inspection as the read-only user: {e}"));
    normalize(raw, "2026-01-01T00:00:00.000Z")
}

fn table<'a>(i: &'a Inspection, name: &str) -> &'a TableInfo {
    i.find(name, None)
        .unwrap_or_else(|| panic!("{name} not in {:?}", i.object_names()))
}

/// What every engine must find in the shop schema below.
fn assert_shop(i: &Inspection) {
    let store = table(i, "store");
    assert_eq!(store.primary_key, ["store_id"]);
    assert!(store.suggestions.tenant_columns.is_empty(), "{store:?}");

    let customer = table(i, "customer");
    assert_eq!(customer.primary_key, ["customer_id"]);
    assert_eq!(customer.foreign_keys.len(), 1, "{customer:?}");
    assert_eq!(customer.foreign_keys[0].columns, ["store_id"]);
    assert_eq!(customer.foreign_keys[0].referenced_table, "store");
    assert_eq!(customer.foreign_keys[0].referenced_columns, ["store_id"]);
    assert_eq!(customer.suggestions.tenant_columns, ["store_id"]);
    let email: Vec<&Vec<String>> = customer
        .unique_constraints
        .iter()
        .map(|u| &u.columns)
        .collect();
    assert_eq!(email, [&vec!["email".to_string()]], "{customer:?}");

    let rental = table(i, "film_store");
    assert_eq!(rental.primary_key, ["store_id", "film_id"], "{rental:?}");
    assert!(
        rental
            .unique_constraints
            .iter()
            .any(|u| u.columns == ["film_id", "code"]),
        "{rental:?}"
    );
    // A composite key is never taken for the row key; its first column is the tenant.
    assert_eq!(rental.primary_key_choice("film_store"), None);
    assert_eq!(rental.suggestions.tenant_columns, ["store_id"]);
    assert_eq!(rental.suggestions.conflict_columns, ["last_update"]);
}

/// A store-scoped schema: `store` owns customers and stock; `film_store` has a composite
/// primary key and a composite unique key.
fn shop_ddl(text: &str, ts: &str) -> String {
    format!(
        "CREATE TABLE store (store_id integer PRIMARY KEY, name {text});
         CREATE TABLE customer (customer_id integer PRIMARY KEY, store_id integer NOT NULL REFERENCES store (store_id), email varchar(100) UNIQUE, last_update {ts});
         CREATE TABLE film_store (store_id integer NOT NULL REFERENCES store (store_id), film_id integer NOT NULL, code varchar(20) NOT NULL, last_update {ts}, PRIMARY KEY (store_id, film_id), UNIQUE (film_id, code))"
    )
}

#[tokio::test]
async fn postgres_keys_and_triggers_as_a_select_only_role() {
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "inspect_ro").await else {
        return;
    };
    db.execute(&shop_ddl("text", "timestamptz NOT NULL DEFAULT now()"))
        .await;
    db.execute(
        "CREATE FUNCTION touch_last_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.last_update = now(); RETURN NEW; END $$;
         CREATE TRIGGER customer_touch BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION touch_last_update();
         CREATE TRIGGER film_store_touch BEFORE UPDATE ON film_store FOR EACH ROW EXECUTE FUNCTION touch_last_update();",
    )
    .await;
    let role = unique_name("reader");
    db.execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'reader-pw-1'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
    ))
    .await;
    let url = url_with_credentials(db.url(), &role, "reader-pw-1");
    // What the finding was about: this view shows the reader no key at all.
    let hidden = sluicegate_test_support::engines::query_text_on(
        EngineKind::Postgres,
        &url,
        "SELECT count(*)::text FROM information_schema.table_constraints WHERE table_schema = 'public'",
    )
    .await
    .unwrap();
    assert_eq!(hidden, [[Some("0".to_string())]]);

    let i = inspect_as(&url, Engine::Postgres, Some("public")).await;
    assert_eq!(i.current_user, role);
    assert_shop(&i);
    let customer = table(&i, "customer");
    assert_eq!(customer.suggestions.maintained_columns.len(), 1);
    assert_eq!(
        customer.suggestions.maintained_columns[0].reason,
        "set by trigger customer_touch"
    );
    db.execute(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}; DROP ROLE {role};"
    ))
    .await;
    db.drop_database().await;
}

#[tokio::test]
async fn mariadb_keys_and_on_update_columns_as_a_select_only_user() {
    let Some(db) = TestDatabase::create(EngineKind::Mysql, "inspect_ro").await else {
        return;
    };
    db.execute(&shop_ddl(
        "text",
        "timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
    ))
    .await;
    // A trigger the read-only user cannot see (TRIGGER privilege): the admin can.
    db.execute(
        "ALTER TABLE store ADD COLUMN changed_at datetime NULL;
         CREATE TRIGGER store_touch BEFORE UPDATE ON store FOR EACH ROW SET NEW.changed_at = NOW();",
    )
    .await;
    let user = unique_name("reader").chars().take(32).collect::<String>();
    db.execute(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'reader-pw-1'; GRANT SELECT ON `{}`.* TO '{user}'@'%';",
        db.name()
    ))
    .await;
    let url = url_with_credentials(db.url(), &user, "reader-pw-1");
    let hidden = sluicegate_test_support::engines::query_text_on(
        EngineKind::Mysql,
        &url,
        &format!(
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.table_constraints WHERE table_schema = '{}'",
            db.name()
        ),
    )
    .await
    .unwrap();
    assert_eq!(hidden, [[Some("0".to_string())]]);

    let i = inspect_as(&url, Engine::Mysql, None).await;
    assert_shop(&i);
    let rental = table(&i, "film_store");
    assert_eq!(
        rental.suggestions.maintained_columns[0].reason,
        "ON UPDATE CURRENT_TIMESTAMP"
    );
    // The admin sees the trigger too.
    let admin = inspect_as(db.url(), Engine::Mysql, None).await;
    assert_eq!(
        table(&admin, "store").suggestions.conflict_columns,
        ["changed_at"]
    );
    assert!(
        table(&i, "store").suggestions.conflict_columns.is_empty(),
        "the reader cannot see the trigger"
    );
    db.execute(&format!("DROP USER '{user}'@'%';")).await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_keys_and_triggers_on_a_read_only_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "{};
         CREATE TRIGGER customer_au AFTER UPDATE ON customer FOR EACH ROW BEGIN UPDATE customer SET last_update = DATETIME('now') WHERE rowid = new.rowid; END;
         CREATE TRIGGER film_store_au AFTER UPDATE ON film_store BEGIN UPDATE film_store SET last_update = DATETIME('now') WHERE rowid = new.rowid; END;
         CREATE TRIGGER store_ai AFTER INSERT ON store BEGIN UPDATE store SET name = upper(name) WHERE rowid = new.rowid; END;",
        shop_ddl("TEXT", "TIMESTAMP")
    ))
    .unwrap();
    drop(conn);
    // The reader's file handle is read-only anyway; the file is read-only too.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let i = inspect_as(
        &format!("sqlite://{}", path.display()),
        Engine::Sqlite,
        None,
    )
    .await;
    assert_shop(&i);
    assert_eq!(
        table(&i, "customer").suggestions.maintained_columns[0].reason,
        "set by trigger customer_au"
    );
    // An INSERT trigger does not maintain anything on update.
    assert!(table(&i, "store").suggestions.maintained_columns.is_empty());
}
