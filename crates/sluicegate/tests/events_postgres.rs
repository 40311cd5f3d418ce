//! `events webhook` on a shared PostgreSQL ledger, with the built binary: the events a
//! Streamable HTTP server recorded are delivered once each from the cursor kept in the ledger
//! (a second run sends nothing), the envelope names the ledger by its `$ENV` label (never the
//! URL), and a delivery given up on is a dead letter `activity search` lists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::process::Output;
use std::time::Duration;

use mcp_support::*;
use serde_json::{Value, json};
use sluicegate_ledger::{Durability, EventFilter, Ledger};
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};
use sluicegate_test_support::{HttpStub, Reply, poll};

fn run(fx: &Fixture, url: &str, args: &[&str]) -> Output {
    fx.on_ledger(url, args).output().unwrap()
}

#[test]
fn events_webhook_delivers_from_the_shared_ledger_once_and_dead_letters_show_in_activity() {
    let Some(db) = block_on(TestDatabase::create(EngineKind::Postgres, "events_pg")) else {
        return;
    };
    Ledger::migrate_postgres(db.url()).unwrap();
    let fx = Fixture::new(2);
    fx.use_postgres_ledger();
    let server =
        ServerProc::start(fx.on_ledger(db.url(), &["mcp", "serve-streamable-http", "--port", "0"]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = HttpMcp::connect(&server.url).await;
        for (invoice, reason) in [("INV-3001", "goodwill"), ("INV-3002", "duplicate charge")] {
            let r = client
                .call(PROPOSE, json!({"invoice_id": invoice, "reason": reason}))
                .await;
            assert_eq!(r["result"]["structuredContent"]["ok"], json!(true), "{r}");
        }
    });
    let ledger = Ledger::open_postgres(db.url(), "$SG_LEDGER_URL", Durability::Full).unwrap();
    // The feed hands out an event once every transaction older than its own has ended on the
    // server, other tests' included (their databases share it): poll it, with a deadline. The
    // webhook below reads the same feed, so it sees all four once this has.
    let all = EventFilter {
        limit: Some(100),
        ..EventFilter::default()
    };
    let recorded: Vec<i64> = poll::until(
        Duration::from_secs(30),
        || {
            let events = ledger.tail_events(&all).unwrap();
            events.iter().map(|e| e.event_id).collect::<Vec<i64>>()
        },
        |ids| ids.len() >= 4,
    );
    assert_eq!(recorded.len(), 4, "{recorded:?}");

    let stub = HttpStub::start(|_, _| Reply::status(204));
    let hook = stub.url("/h");
    let o = run(
        &fx,
        db.url(),
        &["events", "webhook", "--url", &hook, "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["delivered"], 4, "{doc}");
    let sent: Vec<i64> = stub
        .wait_for(4, Duration::from_secs(10))
        .iter()
        .map(|r| {
            let v = r.json().unwrap();
            assert_eq!(v["source"]["store_path"], "$SG_LEDGER_URL", "{v}");
            assert!(!String::from_utf8_lossy(&r.body).contains(db.url()));
            v["event"]["event_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(sent, recorded, "every event once, in the feed's order");
    // The cursor is in the ledger: a second run (from anywhere) sends nothing.
    let o = run(&fx, db.url(), &["events", "webhook", "--url", &hook]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "No local events matched.\n",
        "{o:?}"
    );
    assert_eq!(stub.count(), 4);

    // A receiver that keeps failing: one attempt, a dead letter, the cursor past it.
    let failing = HttpStub::start(|_, _| Reply::status(500));
    let bad = failing.url("/down");
    let o = run(
        &fx,
        db.url(),
        &[
            "events",
            "webhook",
            "--url",
            &bad,
            "--max-attempts",
            "1",
            "--limit",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("dead letter"),
        "{o:?}"
    );
    let o = run(
        &fx,
        db.url(),
        &[
            "activity",
            "search",
            "--status",
            "webhook_dead_letter",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let found = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        found.contains("\"kind\": \"webhook-dead-letter\"")
            || found.contains("\"kind\":\"webhook-dead-letter\""),
        "{found}"
    );
    assert!(
        found.contains(&format!("\"event_id\": {}", recorded[0]))
            || found.contains(&format!("\"event_id\":{}", recorded[0])),
        "{found}"
    );
}
