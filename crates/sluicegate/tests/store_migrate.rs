//! `sluicegate store migrate` through the built binary, on both ledger engines: the one way a
//! shared PostgreSQL ledger gets its schema, and a report of the SQLite file's version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

fn migrate(dir: &Path, url: Option<&str>, json: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
    cmd.current_dir(dir)
        .args(["store", "migrate", "--config", "sluicegate.json"])
        .env_remove("SLUICEGATE_STORE")
        .env_remove("SLUICEGATE_CONFIG")
        .env_remove("SG_LEDGER_URL");
    if json {
        cmd.arg("--json");
    }
    if let Some(url) = url {
        cmd.env("SG_LEDGER_URL", url);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn report(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn project(storage: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"version": 1, "mode": "review", "storage": storage});
    std::fs::write(dir.path().join("sluicegate.json"), config.to_string()).unwrap();
    dir
}

#[test]
fn store_migrate_reports_a_sqlite_ledger_and_changes_nothing_twice() {
    let dir = project(json!({"sqlite_path": "./ledger/local.db"}));
    let first = report(&migrate(dir.path(), None, true));
    assert_eq!(first["engine"], "sqlite");
    assert_eq!(first["from"], 0);
    assert_eq!(first["to"], sluicegate_ledger::SCHEMA_VERSION);
    assert_eq!(first["migrated"], true);
    assert!(dir.path().join("ledger/local.db").exists());
    let again = report(&migrate(dir.path(), None, true));
    assert_eq!(again["from"], sluicegate_ledger::SCHEMA_VERSION);
    assert_eq!(again["migrated"], false);
    let out = migrate(dir.path(), None, false);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("is at schema") && text(&out).contains("nothing to do"),
        "{}",
        text(&out)
    );
}

#[test]
fn store_migrate_creates_and_reports_a_postgres_ledger() {
    let Some(db) = block_on(TestDatabase::create(EngineKind::Postgres, "store_migrate")) else {
        return;
    };
    let dir = project(json!({"engine": "postgres", "url_env": "SG_LEDGER_URL"}));

    let unset = migrate(dir.path(), None, false);
    assert_eq!(unset.status.code(), Some(1), "{}", text(&unset));
    assert!(
        text(&unset).contains("refused: LEDGER_URL_UNSET: ")
            && text(&unset).contains("SG_LEDGER_URL is not set"),
        "{}",
        text(&unset)
    );

    let out = migrate(dir.path(), Some(db.url()), false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        text(&out),
        format!(
            "Migrated the postgres ledger $SG_LEDGER_URL from schema 0 to {}.\n",
            sluicegate_ledger::POSTGRES_SCHEMA_VERSION
        )
    );
    let again = report(&migrate(dir.path(), Some(db.url()), true));
    assert_eq!(
        again,
        json!({
            "engine": "postgres",
            "ledger": "$SG_LEDGER_URL",
            "from": sluicegate_ledger::POSTGRES_SCHEMA_VERSION,
            "to": sluicegate_ledger::POSTGRES_SCHEMA_VERSION,
            "migrated": false
        })
    );
    sluicegate_ledger::Ledger::open_postgres(
        db.url(),
        "$SG_LEDGER_URL",
        sluicegate_ledger::Durability::Full,
    )
    .unwrap();

    // A newer build's schema is left alone.
    block_on(db.execute(&format!(
        "INSERT INTO sluicegate_schema (version) VALUES ({})",
        sluicegate_ledger::POSTGRES_SCHEMA_VERSION + 1
    )));
    let newer = migrate(dir.path(), Some(db.url()), false);
    assert_eq!(newer.status.code(), Some(1), "{}", text(&newer));
    assert!(
        text(&newer).contains("refused: LEDGER_SCHEMA_TOO_NEW: ")
            && text(&newer).contains("upgrade sluicegate"),
        "{}",
        text(&newer)
    );
    // The URL (and its password) is never printed.
    for o in [&out, &newer, &unset] {
        assert!(
            !text(o).contains(db.url()) && !text(o).contains("@127.0.0.1"),
            "{}",
            text(o)
        );
    }
}
