//! "What is approved is exactly what gets written", end to end on the SQLite sample app:
//! two proposals made from one read are both approved and only the first applies; patch
//! values are refused at proposal time with a code the model can act on (naming the
//! argument); a proposal that changes nothing is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::call::Args;
use sluicegate_core::config::{Config, Engine, validate};
use sluicegate_core::envelope::Outcome;
use sluicegate_ledger::Ledger;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{AgentApi, ApplyOptions, Env, ReviewApi};
use sluicegate_source::sample_app;

fn config() -> Arc<Config> {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "result_format": 2,
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [{
            "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            // The sample app's TEXT column has no length; the reviewed config gives it one.
            "column_types": {"waiver_reason": {"type": "text", "max_length": 40}},
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

fn args(v: Value) -> Args {
    v.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proposals_from_one_read_never_both_apply() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    sample_app::create(&db).unwrap();
    let env = Env::from_map(HashMap::from([
        ("APP_URL".into(), format!("sqlite://{}", db.display())),
        ("TENANT".into(), "acme".into()),
        ("PRINCIPAL".into(), "agent_7".into()),
    ]));
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let config = config();
    let agent = AgentApi::new(config.clone(), ledger.clone(), env.clone(), None);
    let review = ReviewApi::new(Some(config), ledger, env);
    let propose = |reason: String| {
        let agent = agent.clone();
        async move {
            agent
                .call(
                    "billing.propose_late_fee_waiver",
                    &args(json!({"invoice_id": "INV-3001", "reason": reason})),
                )
                .await
        }
    };

    // Both proposals see the same row: nothing was written in between.
    let a = propose("goodwill".into()).await.payload;
    let b = propose("billing error".into()).await.payload;
    let id = |p: &Value| p["proposal"]["id"].as_str().unwrap().to_string();
    assert_eq!(a["ok"], json!(true), "{a}");
    assert_eq!(b["ok"], json!(true), "{b}");
    for p in [&a, &b] {
        common::approve(&review, review.ledger(), &id(p), "reviewer_1", None)
            .await
            .unwrap();
    }
    let first = review
        .apply(&id(&a), &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        first.result.status,
        ReceiptStatus::Applied,
        "{:?}",
        first.result
    );
    let second = review
        .apply(&id(&b), &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        second.result.status,
        ReceiptStatus::Conflict,
        "{:?}",
        second.result
    );
    assert_eq!(
        second.result.error_code.as_deref(),
        Some("VERSION_CONFLICT")
    );
    let row = sample_app::row(&db, "INV-3001").unwrap();
    assert_eq!(
        row["waiver_reason"],
        json!("goodwill"),
        "the first write stands"
    );
    assert_ne!(
        row["updated_at"],
        json!("2026-06-20T14:31:08.000Z"),
        "Sluicegate advanced the version"
    );

    // The same change again: nothing to change.
    let again = agent
        .invoke(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3001", "reason": "goodwill"})),
        )
        .await;
    match again {
        Outcome::Refused { refusal, .. } => {
            assert_eq!(
                refusal.code.as_str(),
                "PATCH_NO_CHANGE",
                "{}",
                refusal.message
            )
        }
        other => panic!("a no-op proposal was not refused: {other:?}"),
    }

    // Too long for the declared column: refused before anything is recorded as a proposal,
    // as an argument the model can fix.
    let long = propose("x".repeat(41)).await.payload;
    assert_eq!(long["ok"], json!(false), "{long}");
    assert_eq!(long["error"]["code"], json!("INVALID_ARGUMENT"), "{long}");
    let refused = agent
        .invoke(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3002", "reason": "y".repeat(41)})),
        )
        .await;
    match refused {
        Outcome::Refused { refusal, .. } => {
            assert_eq!(refusal.code.as_str(), "PATCH_VALUE_TOO_LONG");
            assert!(
                refusal
                    .message
                    .starts_with("argument reason (column waiver_reason)"),
                "{}",
                refusal.message
            );
        }
        other => panic!("a too-long value was not refused: {other:?}"),
    }
}

/// A row whose version column is NULL is still guarded: the change set records the NULL, the
/// job format calls that "no guard", but the UPDATE compares it NULL-safely and advances it,
/// so the second proposal made from the same read conflicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_version_is_guarded_and_advanced_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE tickets (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, status TEXT NOT NULL,
                note TEXT, updated_at DATETIME);
             INSERT INTO tickets VALUES ('T-1', 'acme', 'open', NULL, NULL);",
        )
        .unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&sluicegate_source::migration_body(Engine::Sqlite, None).unwrap())
        .unwrap();
    let doc = json!({
        "version": 1, "mode": "review", "result_format": 2,
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [{
            "name": "support.propose_note", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "tickets", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"ticket_id": {"type": "string"}, "note": {"type": "string"}},
            "lookup": {"id_from_arg": "ticket_id"},
            "visible_columns": ["id", "status", "note", "updated_at"],
            "patch": {"note": {"from_arg": "note"}},
            "allowed_columns": ["note"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let (v, config) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    let config = Arc::new(config.unwrap());
    let env = Env::from_map(HashMap::from([
        ("APP_URL".into(), format!("sqlite://{}", db.display())),
        ("TENANT".into(), "acme".into()),
        ("PRINCIPAL".into(), "agent_7".into()),
    ]));
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let agent = AgentApi::new(config.clone(), ledger.clone(), env.clone(), None);
    let review = ReviewApi::new(Some(config), ledger, env);
    let mut ids = Vec::new();
    for note in ["first", "second"] {
        let p = agent
            .call(
                "support.propose_note",
                &args(json!({"ticket_id": "T-1", "note": note})),
            )
            .await
            .payload;
        assert_eq!(p["ok"], json!(true), "{p}");
        let id = p["proposal"]["id"].as_str().unwrap().to_string();
        common::approve(&review, review.ledger(), &id, "reviewer_1", None)
            .await
            .unwrap();
        ids.push(id);
    }
    let first = review
        .apply(&ids[0], &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        first.result.status,
        ReceiptStatus::Applied,
        "{:?}",
        first.result
    );
    let second = review
        .apply(&ids[1], &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        second.result.status,
        ReceiptStatus::Conflict,
        "{:?}",
        second.result
    );
    let (note, version): (String, Option<String>) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT note, updated_at FROM tickets WHERE id = 'T-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(note, "first");
    assert!(
        version.is_some_and(|v| v.ends_with('Z')),
        "the NULL version was advanced"
    );
}
