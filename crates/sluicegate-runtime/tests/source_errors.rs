//! Database errors reach the model under the code their kind decides: a lookup value the
//! column cannot take (a PostgreSQL data exception) is an argument refusal the model can
//! correct, a missing table is an internal failure; both are `isError: true`, in both result
//! formats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::config::{Config, validate};
use sluicegate_ledger::{Ledger, MEMORY};
use sluicegate_runtime::{AgentApi, Env};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

const FIXTURE: &str = "
CREATE TABLE counters (id integer PRIMARY KEY, tenant_id text NOT NULL, n integer NOT NULL);
CREATE TABLE days (day date PRIMARY KEY, tenant_id text NOT NULL, note text);
INSERT INTO counters VALUES (1, 'acme', 10);
INSERT INTO days VALUES ('2026-06-20', 'acme', 'launch');
";

fn read(name: &str, table: &str, key: &str, arg: &str, columns: &[&str]) -> Value {
    json!({
        "name": name, "kind": "read", "source": "app",
        "target": {"schema": "public", "table": table, "primary_key": key, "tenant_key": "tenant_id"},
        "args": {arg: {"type": "string", "max_length": 64}},
        "lookup": {"id_from_arg": arg},
        "visible_columns": columns
    })
}

fn config(result_format: u8) -> Arc<Config> {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "result_format": result_format,
        "sources": {"app": {"engine": "postgres", "read_url_env": "APP_READ_URL", "statement_timeout_ms": 5000}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [
            read("counters.inspect", "counters", "id", "counter_id", &["id", "n"]),
            read("days.inspect", "days", "day", "day", &["day", "note"]),
            read("ghosts.inspect", "ghosts", "id", "ghost_id", &["id"]),
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

fn agent(url: &str, result_format: u8) -> AgentApi {
    let env = Env::from_map(HashMap::from([
        ("APP_READ_URL".into(), url.to_string()),
        ("TENANT".into(), "acme".into()),
        ("PRINCIPAL".into(), "agent_7".into()),
    ]));
    let ledger = Ledger::open(Path::new(MEMORY)).unwrap();
    AgentApi::new(config(result_format), ledger, env, None)
}

/// The model-facing code of a result: v2 `error.code`, v1 `code`.
fn code(payload: &Value) -> &str {
    payload["error"]["code"]
        .as_str()
        .or_else(|| payload["code"].as_str())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_data_exceptions_are_argument_refusals() {
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "srcerr").await else {
        return;
    };
    db.execute(FIXTURE).await;
    for format in [1, 2] {
        let agent = agent(db.url(), format);
        let call = |name: &'static str, arg: &'static str, value: Value| {
            let agent = agent.clone();
            async move {
                let args = json!({ arg: value }).as_object().unwrap().clone();
                agent.call(name, &args).await
            }
        };
        let ok = call("counters.inspect", "counter_id", json!("1")).await;
        assert!(!ok.is_error, "{}", ok.payload);

        // The integer key is typed from its column, so the runtime refuses a non-number and
        // an out-of-range id itself; 22008 / 22007 (an impossible date) come from the database.
        for (name, arg, value, v1) in [
            (
                "counters.inspect",
                "counter_id",
                json!("abc"),
                "ARGUMENT_TYPE_INVALID",
            ),
            (
                "counters.inspect",
                "counter_id",
                json!("99999999999"),
                "ARGUMENT_ABOVE_MAXIMUM",
            ),
            (
                "days.inspect",
                "day",
                json!("2026-13-45"),
                "ARGUMENT_TYPE_INVALID",
            ),
            (
                "days.inspect",
                "day",
                json!("yesterday-ish"),
                "ARGUMENT_TYPE_INVALID",
            ),
        ] {
            let r = call(name, arg, value.clone()).await;
            assert!(r.is_error, "format {format} {name} {value}: {}", r.payload);
            let want = if format == 2 { "INVALID_ARGUMENT" } else { v1 };
            assert_eq!(code(&r.payload), want, "format {format} {name} {value}");
            let text = r.payload.to_string();
            assert!(
                !text.contains(value.as_str().unwrap()),
                "the refused value is not echoed: {text}"
            );
        }

        // A configured table that does not exist is not the model's to fix.
        let r = call("ghosts.inspect", "ghost_id", json!("1")).await;
        let want = if format == 2 {
            "INTERNAL"
        } else {
            "MCP_TOOL_FAILED"
        };
        assert_eq!(code(&r.payload), want, "{}", r.payload);
        assert!(
            r.is_error,
            "every refusal is an error result: {}",
            r.payload
        );
    }
    db.drop_database().await;
}
