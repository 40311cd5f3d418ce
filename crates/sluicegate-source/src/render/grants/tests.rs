//! Exact text of `writeback grants` per engine, on a config shaped like a real app: integer
//! keys, a store (tenant) column, one table whose `last_update` a trigger maintains and one
//! whose version Sluicegate advances.

use serde_json::json;
use sluicegate_core::config::{Config, Engine, validate};

use super::*;

fn config(engine: &str, schema: &str) -> Config {
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": engine, "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "STORE", "principal_env": "PRINCIPAL"}},
        "capabilities": [
            {"name": "films.show", "kind": "read", "source": "app",
             "target": {"schema": schema, "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
             "args": {"film_id": {"type": "number"}}, "lookup": {"id_from_arg": "film_id"},
             "visible_columns": ["film_id", "title", "rental_rate"]},
            {"name": "films.propose_rate", "kind": "proposal", "source": "app",
             "target": {"schema": schema, "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
             "args": {"film_id": {"type": "number"}, "rate": {"type": "number"}},
             "lookup": {"id_from_arg": "film_id"},
             "visible_columns": ["film_id", "title", "rental_rate", "last_update"],
             "patch": {"rental_rate": {"from_arg": "rate"}},
             "allowed_columns": ["rental_rate"],
             "conflict_guard": {"column": "last_update", "maintained_by": "app"}},
            {"name": "payments.propose_amount", "kind": "proposal", "source": "app",
             "target": {"schema": schema, "table": "payment", "primary_key": "payment_id", "tenant_key": "store_id"},
             "args": {"payment_id": {"type": "number"}, "amount": {"type": "number"}},
             "lookup": {"id_from_arg": "payment_id"},
             "visible_columns": ["payment_id", "amount", "last_update"],
             "patch": {"amount": {"from_arg": "amount"}},
             "allowed_columns": ["amount"],
             "conflict_guard": {"column": "last_update"}}
        ]
    });
    let (v, c) = validate(&doc);
    c.unwrap_or_else(|| panic!("{:?}", v.errors))
}

fn request<'a>(
    schema: Option<&'a str>,
    writer: Option<&'a str>,
    reader: Option<&'a str>,
) -> GrantsRequest<'a> {
    GrantsRequest {
        schema,
        writer,
        reader,
    }
}

#[test]
fn postgres_grants_exact_text() {
    let c = config("postgres", "public");
    assert_eq!(
        grants(Engine::Postgres, Some(&c), &request(None, None, None)).as_deref(),
        Ok(
            r#"-- Sluicegate grants (postgres): run as an admin after the receipt table's migration.
-- Source app.
-- Writer (`sluicegate apply`): the receipt table, and the columns it locks, reads and writes.
GRANT USAGE ON SCHEMA "public" TO "sluicegate_writer";
GRANT SELECT, INSERT, UPDATE ON TABLE "public".sluicegate_writeback_receipts TO "sluicegate_writer";
GRANT SELECT ("film_id", "store_id", "last_update"), UPDATE ("rental_rate") ON TABLE "public"."film" TO "sluicegate_writer";
GRANT SELECT ("payment_id", "store_id", "last_update"), UPDATE ("amount", "last_update") ON TABLE "public"."payment" TO "sluicegate_writer";
-- Reader (agent reads and proposals): the columns they select.
GRANT USAGE ON SCHEMA "public" TO "sluicegate_reader";
GRANT SELECT ("film_id", "title", "rental_rate", "store_id", "last_update") ON TABLE "public"."film" TO "sluicegate_reader";
GRANT SELECT ("payment_id", "amount", "last_update", "store_id") ON TABLE "public"."payment" TO "sluicegate_reader";
"#
        )
    );
    // The receipt table in its own schema: USAGE on it, and the writer's search_path.
    let c = config("postgres", "app");
    let text = grants(
        Engine::Postgres,
        Some(&c),
        &request(Some("ops"), Some("apply_bot"), Some("agent_ro")),
    )
    .expect("safe");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[3..7],
        [
            r#"GRANT USAGE ON SCHEMA "ops" TO "apply_bot";"#,
            r#"GRANT USAGE ON SCHEMA "app" TO "apply_bot";"#,
            r#"GRANT SELECT, INSERT, UPDATE ON TABLE "ops".sluicegate_writeback_receipts TO "apply_bot";"#,
            r#"ALTER ROLE "apply_bot" SET search_path = "ops", public;"#,
        ]
    );
    assert!(text.contains(r#"GRANT USAGE ON SCHEMA "app" TO "agent_ro";"#));
    assert!(!text.contains("public, public"));
    assert_eq!(
        grants(
            Engine::Postgres,
            Some(&c),
            &request(None, Some("a-b"), None)
        ),
        Err(ScriptError::UnsafeRole)
    );
    assert_eq!(
        grants(Engine::Postgres, None, &request(Some("a;b"), None, None)),
        Err(ScriptError::UnsafeSchema)
    );
}

#[test]
fn mysql_grants_exact_text() {
    let c = config("mysql", "appdb");
    assert_eq!(
        grants(Engine::Mysql, Some(&c), &request(None, None, None)).as_deref(),
        Ok("-- Sluicegate grants (mysql): run as an admin after the receipt table's migration.
-- Source app.
-- Writer (`sluicegate apply`): the receipt table, and the columns it locks, reads and writes.
GRANT SELECT, INSERT, UPDATE ON `appdb`.sluicegate_writeback_receipts TO 'sluicegate_writer'@'%';
GRANT SELECT (`film_id`, `store_id`, `last_update`), UPDATE (`rental_rate`) ON `appdb`.`film` TO 'sluicegate_writer'@'%';
GRANT SELECT (`payment_id`, `store_id`, `last_update`), UPDATE (`amount`, `last_update`) ON `appdb`.`payment` TO 'sluicegate_writer'@'%';
-- Reader (agent reads and proposals): the columns they select.
-- (MySQL lists a column's type only to a user holding a privilege on it; proposals need the types of the columns they patch.)
GRANT SELECT (`film_id`, `title`, `rental_rate`, `store_id`, `last_update`) ON `appdb`.`film` TO 'sluicegate_reader'@'%';
GRANT SELECT (`payment_id`, `amount`, `last_update`, `store_id`) ON `appdb`.`payment` TO 'sluicegate_reader'@'%';
")
    );
    // Accounts as `user`, `user@host` or `'user'@'host'`; anything that could end the
    // statement is refused.
    let text = grants(
        Engine::Mysql,
        Some(&c),
        &request(Some("ops"), Some("'w'@'10.%'"), Some("ro@localhost")),
    )
    .expect("safe");
    assert!(text.contains(
        "GRANT SELECT, INSERT, UPDATE ON `ops`.sluicegate_writeback_receipts TO 'w'@'10.%';\n"
    ));
    assert!(text.contains("TO 'ro'@'localhost';\n"));
    for bad in ["'a'@'%';drop", "a'b", "a b", "x@"] {
        assert_eq!(
            grants(Engine::Mysql, None, &request(None, Some(bad), None)),
            Err(ScriptError::UnsafeAccount),
            "{bad}"
        );
    }
}

#[test]
fn sqlite_grants_are_file_permissions() {
    let c = config("sqlite", "main");
    let text = grants(Engine::Sqlite, Some(&c), &request(None, None, None)).expect("text");
    assert_eq!(
        text,
        "-- SQLite has no GRANT: access is the database file's permissions.
-- The writer (the OS user running `sluicegate apply`) needs read and write permission on the
-- file and write permission on its directory, where SQLite creates its journal.
-- The reader needs read permission on the file (and on its -wal and -shm files in WAL mode);
-- Sluicegate opens it read-only.
"
    );
    assert!(text.lines().all(|l| l.starts_with("-- ")));
    assert_eq!(
        grants(Engine::Sqlite, None, &request(Some("main"), None, None)),
        Err(ScriptError::SqliteSchema)
    );
}

#[test]
fn without_a_matching_config_only_the_receipt_table() {
    assert_eq!(
        grants(
            Engine::Postgres,
            None,
            &request(None, Some("sg_writer"), None)
        )
        .as_deref(),
        Ok(
            r#"-- Sluicegate grants (postgres): run as an admin after the receipt table's migration.
-- No config was read: only the receipt table's grants are listed; pass --config for the tables your capabilities read and write.
-- Writer (`sluicegate apply`): the receipt table, and the columns it locks, reads and writes.
GRANT USAGE ON SCHEMA "public" TO "sg_writer";
GRANT SELECT, INSERT, UPDATE ON TABLE "public".sluicegate_writeback_receipts TO "sg_writer";
"#
        )
    );
    let sqlite_config = config("sqlite", "main");
    let text = grants(
        Engine::Mysql,
        Some(&sqlite_config),
        &request(Some("app"), None, None),
    )
    .expect("safe");
    assert!(text.contains("-- The config has no source of this engine"));
    assert!(text.ends_with(
        "GRANT SELECT, INSERT, UPDATE ON `app`.sluicegate_writeback_receipts TO 'sluicegate_writer'@'%';\n"
    ));
}

#[test]
fn single_statements_match_the_script() {
    let w = Grantee::parse(Engine::Postgres, "w").expect("safe");
    let need = TableNeed {
        schema: "public".into(),
        table: "film".into(),
        select: vec![],
        update: vec!["rental_rate".into()],
    };
    assert_eq!(
        table_grant(Engine::Postgres, &need, &w).as_deref(),
        Some(r#"GRANT UPDATE ("rental_rate") ON TABLE "public"."film" TO "w";"#)
    );
    let empty = TableNeed {
        update: vec![],
        ..need.clone()
    };
    assert_eq!(table_grant(Engine::Postgres, &empty, &w), None);
    let unsafe_need = TableNeed {
        table: "film; drop".into(),
        ..need
    };
    assert_eq!(table_grant(Engine::Postgres, &unsafe_need, &w), None);
    assert_eq!(
        receipt_grant(Engine::Postgres, "public", &[Privilege::Insert], &w),
        r#"GRANT INSERT ON TABLE "public".sluicegate_writeback_receipts TO "w";"#
    );
    assert_eq!(
        usage_grant("ops", &w),
        r#"GRANT USAGE ON SCHEMA "ops" TO "w";"#
    );
    assert_eq!(
        Grantee::parse(Engine::Mysql, "w@%").map(|g| g.as_str().to_string()),
        Ok("'w'@'%'".to_string())
    );
}
