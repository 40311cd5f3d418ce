//! Arguments typed from the target table's columns, on PostgreSQL, MariaDB and SQLite: a
//! table with an integer primary key accepts `42` and `"42"` and refuses `"abc"` and `4.2`
//! with `ARGUMENT_TYPE_INVALID` naming the argument (never `INTERNAL`), in both result formats;
//! a string argument patching an integer column is proposed as the integer; and every result
//! fits the tool's `outputSchema`, whose visible columns carry the types the engine returns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::config::{ArgType, Config, validate};
use sluicegate_core::tools::{AliasMode, tool_definition_typed};
use sluicegate_ledger::{Ledger, MEMORY};
use sluicegate_runtime::{AgentApi, Env};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

const INSPECT: &str = "items.inspect";
const PROPOSE: &str = "items.propose_count";

fn config(engine: &str, schema: &str, result_format: u8) -> Arc<Config> {
    let target =
        json!({"schema": schema, "table": "items", "primary_key": "id", "tenant_key": "tenant_id"});
    let doc = json!({
        "version": 1,
        "mode": "review",
        "result_format": result_format,
        "sources": {"app": {"engine": engine, "read_url_env": "APP_URL", "statement_timeout_ms": 5000}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [
            {
                "name": INSPECT, "kind": "read", "source": "app", "target": target,
                "args": {"item_id": {"type": "string", "max_length": 64}},
                "lookup": {"id_from_arg": "item_id"},
                "visible_columns": ["id", "name", "qty", "price", "placed_on", "flags", "active", "updated_at"]
            },
            {
                "name": PROPOSE, "kind": "proposal", "source": "app", "target": target,
                "args": {"item_id": {"type": "string"}, "count": {"type": "string", "max_length": 4}},
                "lookup": {"id_from_arg": "item_id"},
                "visible_columns": ["id", "qty", "updated_at"],
                "patch": {"qty": {"from_arg": "count"}},
                "allowed_columns": ["qty"],
                "conflict_guard": {"column": "updated_at"}
            }
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

const POSTGRES: &str = "
CREATE TABLE items (id integer PRIMARY KEY, tenant_id text NOT NULL, name varchar(40) NOT NULL,
  qty integer NOT NULL, price numeric(10,2), placed_on date, flags jsonb,
  active boolean NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO items VALUES
  (42, 'acme', 'bolts', 40, 12.50, '2026-06-20', '{\"a\": [1]}', true, '2026-06-20T14:31:08Z'),
  (43, 'acme', 'nuts', 3, NULL, NULL, NULL, false, '2026-06-20T14:31:08Z'),
  (7, 'otherco', 'gears', 1, 1.00, NULL, NULL, false, '2026-06-20T14:31:08Z');
";

const MYSQL: &str = "
CREATE TABLE items (id int PRIMARY KEY, tenant_id varchar(64) NOT NULL, name varchar(40) NOT NULL,
  qty int NOT NULL, price decimal(10,2), placed_on date, flags json,
  active boolean NOT NULL, updated_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3));
INSERT INTO items VALUES
  (42, 'acme', 'bolts', 40, 12.50, '2026-06-20', '{\"a\": [1]}', 1, '2026-06-20 14:31:08.000'),
  (43, 'acme', 'nuts', 3, NULL, NULL, NULL, 0, '2026-06-20 14:31:08.000'),
  (7, 'otherco', 'gears', 1, 1.00, NULL, NULL, 0, '2026-06-20 14:31:08.000');
";

const SQLITE: &str = "
CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name VARCHAR(40) NOT NULL,
  qty INTEGER NOT NULL, price NUMERIC(10,2), placed_on DATE, flags JSON,
  active BOOLEAN NOT NULL, updated_at DATETIME NOT NULL);
INSERT INTO items VALUES
  (42, 'acme', 'bolts', 40, 12.50, '2026-06-20', '{\"a\": [1]}', 1, '2026-06-20T14:31:08.000Z'),
  (43, 'acme', 'nuts', 3, NULL, NULL, NULL, 0, '2026-06-20T14:31:08.000Z'),
  (7, 'otherco', 'gears', 1, 1.00, NULL, NULL, 0, '2026-06-20T14:31:08.000Z');
";

fn agent(config: Arc<Config>, url: &str) -> AgentApi {
    let env = Env::from_map(HashMap::from([
        ("APP_URL".into(), url.to_string()),
        ("TENANT".into(), "acme".into()),
        ("PRINCIPAL".into(), "agent_7".into()),
    ]));
    AgentApi::new(config, Ledger::open(Path::new(MEMORY)).unwrap(), env, None)
}

/// The runtime reason and argument of a refusal, in either envelope.
fn refusal(payload: &Value) -> (Option<&str>, Option<&str>) {
    match payload.get("error").filter(|e| e.is_object()) {
        Some(e) => (e["reason"].as_str(), e["argument"].as_str()),
        None => (payload["code"].as_str(), payload["argument"].as_str()),
    }
}

/// Everything this file checks, on one engine.
async fn typed_keys(engine: &str, schema: &str, url: &str) {
    for format in [1u8, 2] {
        let config = config(engine, schema, format);
        let agent = agent(config.clone(), url);
        agent.load_columns().await;
        let call = |name: &'static str, args: Value| {
            let agent = agent.clone();
            async move { agent.call(name, args.as_object().unwrap()).await }
        };
        let schema_of = |name: &str| {
            let cap = config.capability(name).unwrap();
            let def =
                tool_definition_typed(cap, &agent.typed(cap), name, AliasMode::Canonical, format);
            jsonschema::validator_for(&def["outputSchema"]).unwrap()
        };
        let fits = |name: &str, payload: &Value| {
            let errors: Vec<String> = schema_of(name)
                .iter_errors(payload)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{engine} v{format} {name}: {errors:?}\n{payload}"
            );
        };
        let inspect = config.capability(INSPECT).unwrap();
        assert_eq!(
            agent.typed(inspect).args["item_id"].arg_type,
            ArgType::Integer,
            "{engine}: the key is typed from its column"
        );

        for id in [json!(42), json!("42"), json!(42.0)] {
            let r = call(INSPECT, json!({"item_id": id})).await;
            assert!(!r.is_error, "{engine} v{format} {id}: {}", r.payload);
            assert_eq!(r.payload["data"]["id"], json!(42), "{engine} v{format}");
            fits(INSPECT, &r.payload);
        }
        // A row with NULLs fits too.
        let r = call(INSPECT, json!({"item_id": 43})).await;
        assert!(!r.is_error, "{engine} v{format}: {}", r.payload);
        fits(INSPECT, &r.payload);

        for id in [
            json!("abc"),
            json!(4.2),
            json!("4.2"),
            json!("42abc"),
            json!(true),
        ] {
            let r = call(INSPECT, json!({"item_id": id})).await;
            assert!(r.is_error, "{engine} v{format} {id}: {}", r.payload);
            assert_eq!(
                refusal(&r.payload),
                (Some("ARGUMENT_TYPE_INVALID"), Some("item_id")),
                "{engine} v{format} {id}: {}",
                r.payload
            );
            fits(INSPECT, &r.payload);
        }
        let r = call(INSPECT, json!({"item_id": 7})).await;
        assert_eq!(
            refusal(&r.payload).0,
            Some("ROW_NOT_FOUND"),
            "{}",
            r.payload
        );
        assert!(r.is_error);

        // A string argument patching an integer column: proposed as the integer.
        let r = call(PROPOSE, json!({"item_id": "42", "count": "12"})).await;
        assert!(!r.is_error, "{engine} v{format}: {}", r.payload);
        let diff = if format == 2 {
            &r.payload["proposal"]["diff"]
        } else {
            &r.payload["diff"]
        };
        assert_eq!(
            diff["qty"],
            json!({"before": 40, "proposed": 12}),
            "{engine} v{format}"
        );
        fits(PROPOSE, &r.payload);
        let r = call(PROPOSE, json!({"item_id": 42, "count": "a lot"})).await;
        assert_eq!(
            refusal(&r.payload),
            (Some("ARGUMENT_TYPE_INVALID"), Some("count")),
            "{engine} v{format}: {}",
            r.payload
        );
        let r = call(PROPOSE, json!({"item_id": 42, "count": 10000})).await;
        assert_eq!(
            refusal(&r.payload),
            (Some("ARGUMENT_ABOVE_MAXIMUM"), Some("count")),
            "{engine} v{format}: four characters at most: {}",
            r.payload
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_integer_keys_are_typed_arguments() {
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "typedkeys").await else {
        return;
    };
    db.execute(POSTGRES).await;
    typed_keys("postgres", "public", db.url()).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_integer_keys_are_typed_arguments() {
    let Some(db) = TestDatabase::create(EngineKind::Mysql, "typedkeys").await else {
        return;
    };
    db.execute(MYSQL).await;
    let name = db.name().to_string();
    typed_keys("mysql", &name, db.url()).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_integer_keys_are_typed_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(SQLITE)
        .unwrap();
    typed_keys("sqlite", "main", &format!("sqlite://{}", path.display())).await;
}
