//! A server's start (`startup::start_agent_api`): the ledger opens while the column types are
//! read, the API it returns is typed from the table, and a ledger that cannot open is reported
//! without waiting for a source whose catalog does not answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluicegate_core::config::{ArgType, Config, validate};
use sluicegate_runtime::Env;
use sluicegate_runtime::ledger_store::{LedgerStore, LedgerStoreError};
use sluicegate_runtime::startup::start_agent_api;

fn config(engine: &str) -> Arc<Config> {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "sources": {"app": {"engine": engine, "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [{
            "name": "items.inspect", "kind": "read", "source": "app",
            "target": {"schema": "main", "table": "items", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"item_id": {"type": "string", "max_length": 64}},
            "lookup": {"id_from_arg": "item_id"},
            "visible_columns": ["id", "qty"]
        }]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

fn env(url: String) -> Env {
    Env::from_map(HashMap::from([
        ("APP_URL".to_string(), url),
        ("TENANT".to_string(), "acme".to_string()),
        ("PRINCIPAL".to_string(), "ops".to_string()),
    ]))
}

/// The API a start returns is typed from the table (the integer key is an integer argument,
/// not the config's string) and records through the ledger it opened.
#[tokio::test]
async fn a_start_hands_over_the_column_types_read_while_the_ledger_opened() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.db");
    rusqlite::Connection::open(&app)
        .unwrap()
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, qty INTEGER NOT NULL);
             INSERT INTO items VALUES (42, 'acme', 40);",
        )
        .unwrap();
    let store = LedgerStore::Sqlite(dir.path().join("ledger.db"));
    let config = config("sqlite");
    let env = env(format!("sqlite://{}", app.display()));
    let api = start_agent_api(config.clone(), &store, &env, None)
        .await
        .unwrap();
    let cap = config.capability("items.inspect").unwrap();
    assert_eq!(api.typed(cap).args["item_id"].arg_type, ArgType::Integer);
    let result = api
        .call("items.inspect", json!({"item_id": 42}).as_object().unwrap())
        .await;
    assert!(!result.is_error, "{}", result.payload);
    assert_eq!(
        result.payload["data"]["qty"],
        json!(40),
        "{}",
        result.payload
    );
    drop(api);
    let recorded: i64 = rusqlite::Connection::open(dir.path().join("ledger.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM evidence_bundles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded, 1);
}

/// A source that accepts connections and never answers holds the column read for the whole
/// catalog budget (5 s). A ledger that cannot open is still reported at once, not after it.
#[tokio::test]
async fn a_ledger_that_cannot_open_is_reported_without_waiting_for_a_silent_source() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // Accept and hold each connection, saying nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let store = LedgerStore::Sqlite(not_a_dir.join("ledger.db"));
    let env = env(format!("postgres://reader:pw@127.0.0.1:{port}/app"));
    let started = Instant::now();
    let err = start_agent_api(config("postgres"), &store, &env, None)
        .await
        .err()
        .expect("a ledger under a regular file cannot open");
    assert!(matches!(err, LedgerStoreError::Ledger(_)), "{err:?}");
    // Half the catalog budget: a start that waited for the silent source took all of it.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the ledger error waited {:?} for the source's catalog",
        started.elapsed()
    );
}
