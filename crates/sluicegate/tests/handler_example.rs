//! The worked example `examples/postgres-billing-handler`, end to end on real PostgreSQL: the
//! example's own schema, seed, config and FastAPI handler, driven through the built binary.
//! The proposal comes first and changes nothing; after approval the handler books an
//! `account_credits` row and updates the invoice in one transaction; retries add nothing; the
//! replay shows the whole path; no secret is written or printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::handler_support;

use std::process::Command;

use handler_support::{HandlerProcess, Project, assert_no_secret, deps, free_port};
use serde_json::{Value, json};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

const TOKEN: &str = "canary-example-token-6d2c";
const SECRET: &str = "canary-example-secret-0e94";

async fn credits(db: &TestDatabase) -> Vec<Vec<Option<String>>> {
    db.query_text(
        "SELECT tenant_id, invoice_id, customer_id, amount_cents::text, reason, idempotency_key, approved_proposal_id, created_by FROM public.account_credits ORDER BY id",
    )
    .await
}

async fn invoice(db: &TestDatabase, id: &str) -> Vec<Option<String>> {
    db.query_text(&format!(
        "SELECT credit_requested_cents::text, credit_reason, credited_cents::text, updated_at::text FROM public.invoices WHERE id = '{id}'"
    ))
    .await
    .remove(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_credit_goes_through_the_app_handler_after_approval() {
    let Some(deps) = deps() else { return };
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "billing_example").await else {
        return;
    };
    let example =
        sluicegate_test_support::workspace_root().join("examples/postgres-billing-handler");
    db.execute(&std::fs::read_to_string(example.join("schema.sql")).unwrap())
        .await;
    db.execute(&std::fs::read_to_string(example.join("seed.sql")).unwrap())
        .await;

    // The billing app's handler, exactly as shipped in the example.
    let port = free_port();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(deps.join("venv/bin/python"));
    cmd.arg(example.join("handler/app.py"))
        .env("PORT", port.to_string())
        .env("SLUICEGATE_HANDLER_TOKEN", TOKEN)
        .env("SLUICEGATE_HANDLER_SIGNING_SECRET", SECRET)
        .env("APP_DATABASE_URL", db.url());
    let handler = HandlerProcess::start(cmd, port, work.path().join("handler.log"));

    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(example.join("sluicegate.json")).unwrap())
            .unwrap();
    let url = handler.url();
    let mut p = Project::new(
        &config,
        &[
            ("BILLING_READ_URL", db.url()),
            ("BILLING_TENANT_ID", "northwind"),
            ("BILLING_PRINCIPAL", "support_agent_7"),
            ("BILLING_HANDLER_URL", &url),
            ("BILLING_HANDLER_TOKEN", TOKEN),
            ("BILLING_HANDLER_SIGNING_SECRET", SECRET),
        ],
    );
    p.ok(&["config", "validate"]);
    let doctor = p.ok(&["doctor", "--check-handlers"]);
    assert!(doctor.contains("network path is reachable"), "{doctor}");

    // 1. The proposal comes first, and the source is unchanged.
    let before = invoice(&db, "INV-1001").await;
    let id = p.propose(
        "billing.propose_account_credit",
        &json!({"invoice_id": "INV-1001", "amount_cents": 2500, "reason": "shipping delay goodwill"}),
    );
    let shown = p.ok(&["proposals", "show", &id, "--json"]);
    assert!(shown.contains("pending_review"), "{shown}");
    assert_eq!(invoice(&db, "INV-1001").await, before);
    assert!(credits(&db).await.is_empty());

    // Another tenant's invoice cannot even be proposed against.
    let o = p.cli(&[
        "propose",
        "billing.propose_account_credit",
        "--args",
        &json!({"invoice_id": "INV-2001", "amount_cents": 100, "reason": "x"}).to_string(),
        "--json",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("NOT_FOUND_IN_TENANT"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // 2. Before approval: refused, still nothing written.
    let o = p.cli(&["apply", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(invoice(&db, "INV-1001").await, before);
    assert!(credits(&db).await.is_empty());

    // 3. Approved and applied: the handler inserted the credit and updated the invoice.
    p.approve(&id);
    let out = p.ok(&["apply", &id]);
    assert!(
        out.contains("App-owned writeback applied.")
            && out.contains("source database changed by handler: yes"),
        "{out}\nhandler log:\n{}",
        handler.log()
    );
    let key = format!("{id}:INV-1001");
    let booked = credits(&db).await;
    assert_eq!(
        booked,
        vec![vec![
            Some("northwind".into()),
            Some("INV-1001".into()),
            Some("cus_nw_1".into()),
            Some("2500".into()),
            Some("shipping delay goodwill".into()),
            Some(key.clone()),
            Some(id.clone()),
            Some("support_agent_7".into()),
        ]]
    );
    let after = invoice(&db, "INV-1001").await;
    assert_eq!(after[0].as_deref(), Some("2500"));
    assert_eq!(after[1].as_deref(), Some("shipping delay goodwill"));
    assert_eq!(after[2].as_deref(), Some("2500"));
    assert_ne!(after[3], before[3]);
    assert_eq!(
        invoice(&db, "INV-2001").await[2].as_deref(),
        Some("0"),
        "the other tenant is untouched"
    );

    // 4. Idempotent retries add nothing: answered from the ledger, then (forced) by the
    //    handler's own receipt table.
    let again = p.ok(&["apply", &id]);
    assert!(
        again.contains("App-owned writeback already applied."),
        "{again}"
    );
    let forced = p.ok(&["apply", &id, "--force-handler-retry"]);
    assert!(
        forced.contains("App-owned writeback already applied."),
        "{forced}"
    );
    assert_eq!(credits(&db).await, booked);
    assert_eq!(invoice(&db, "INV-1001").await, after);

    // 5. The replay shows the whole path.
    let replay: Value = serde_json::from_str(&p.ok(&["replay", "show", &id, "--json"])).unwrap();
    let kinds: Vec<&str> = replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let expected = [
        "proposal_created",
        "proposal_approved",
        "proposal_pending_worker",
        "handler_writeback_job_recorded",
        "writeback_applied",
        "handler_writeback_retry_recorded",
        "writeback_already_applied",
    ];
    let mut at = 0;
    for kind in expected {
        let found = kinds[at..].iter().position(|k| *k == kind);
        assert!(found.is_some(), "replay lacks {kind} in order: {kinds:?}");
        at += found.unwrap() + 1;
    }
    let receipts = replay["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0]["status"], json!("applied"));
    assert_eq!(
        receipts[0]["receipt"]["source_database_mutated"],
        json!(true)
    );
    assert_eq!(receipts[1]["status"], json!("already_applied"));
    assert!(
        !replay["evidence"].as_array().unwrap().is_empty(),
        "the evidence the agent saw is part of the story"
    );
    let human = p.ok(&["replay", "show", &id]);
    assert!(human.contains(&id), "{human}");

    // Nothing secret in the ledger, the logs or anything printed.
    assert_no_secret(&p.everything_written(), &[TOKEN, SECRET]);
}
