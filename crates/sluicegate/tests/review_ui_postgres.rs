//! The review UI on a shared PostgreSQL ledger, with the built binary: `sluicegate ui` opens
//! the config's ledger, its live stream says `changed` when a proposal recorded by another
//! process (a Streamable HTTP MCP server) arrives, and its inbox (filters, text search, pending
//! first), a proposal's page and the JSON decisions work as on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use mcp_support::*;
use serde_json::{Value, json};
use sluicegate_ledger::{Durability, Filter, Ledger};
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};
use sluicegate_test_support::process::{self, Signal};

/// A running `sluicegate ui`, stopped with SIGTERM when dropped.
struct Ui(Child);

impl Drop for Ui {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            process::signal(self.0.id(), Signal::TERM);
            let _ = process::wait_within(&mut self.0, Duration::from_secs(10));
        }
    }
}

/// The object ids of the inbox page's rows, in order.
fn rows(page: &str) -> Vec<String> {
    page.split("<td>invoices ")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_ui_serves_a_fleet_ledger_and_sees_other_servers_proposals_live() {
    let Some(db) = block_on(TestDatabase::create(EngineKind::Postgres, "ui_pg")) else {
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
    let propose = |invoice: &str, reason: &str| -> String {
        rt.block_on(async {
            let mut client = HttpMcp::connect(&server.url).await;
            let r = client
                .call(PROPOSE, json!({"invoice_id": invoice, "reason": reason}))
                .await;
            let content = &r["result"]["structuredContent"];
            assert_eq!(content["ok"], json!(true), "{r}");
            content["proposal"]["id"].as_str().unwrap().to_string()
        })
    };
    let first = propose("INV-3001", "customer paid within the grace period");

    let mut child = fx
        .on_ledger(db.url(), &["ui", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut login = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut login)
        .unwrap();
    let _ui = Ui(child);
    let login = login.trim().to_string();
    assert!(login.contains("/login"), "the UI started: {login:?}");
    let base = login.split("/login").next().unwrap().to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = rt.block_on(async {
        let resp = http.get(&login).send().await.unwrap();
        let c = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        c.split(';').next().unwrap().to_string()
    });
    let get = |path: &str| -> (u16, String) {
        rt.block_on(async {
            let resp = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    let inbox = |path: &str| -> Vec<String> {
        let (status, body) = get(path);
        assert_eq!(status, 200, "{path}: {body}");
        rows(&body)
    };
    assert_eq!(inbox("/"), ["INV-3001"]);

    // The live stream, then a proposal recorded by the MCP server process: the UI process
    // says `changed` (it looks at the shared ledger's newest event once a second).
    let mut stream = rt.block_on(async {
        let resp = http
            .get(format!("{base}/events"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp
    });
    let mut said = String::new();
    let mut wait_for = |event: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !said.contains(&format!("event: {event}")) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no `{event}` from the UI: {said:?}");
            let chunk = rt
                .block_on(async { tokio::time::timeout(left, stream.chunk()).await })
                .ok()
                .and_then(|c| c.unwrap());
            if let Some(bytes) = chunk {
                said.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    };
    // The stream has read where the ledger stands; a proposal after that is announced.
    wait_for("ready");
    let second = propose("INV-3002", "duplicate charge");
    wait_for("changed");
    drop(stream);
    assert_eq!(inbox("/"), ["INV-3001", "INV-3002"], "oldest first");
    assert_eq!(inbox("/?state=any&q=DUPLIC"), ["INV-3002"]);
    assert_eq!(inbox("/?state=any&q=grace+period"), ["INV-3001"]);
    assert_eq!(inbox("/?state=any&q=support_agent_17+3002"), ["INV-3002"]);
    assert!(inbox("/?state=any&q=nothing-like-this").is_empty());
    assert!(inbox("/?state=any&from=2999-01-01").is_empty());

    let (status, page) = get(&format!("/proposals/{first}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&first), "{page}");

    // The summary names the ledger by its engine and env var, never by its URL.
    let (status, summary) = get("/api/summary");
    assert_eq!(status, 200, "{summary}");
    assert!(!summary.contains(db.url()), "{summary}");
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        summary["setup"]["storage"],
        json!({"engine": "postgres", "url_env": "SG_LEDGER_URL"}),
        "{summary}"
    );

    // Decisions through the JSON API, recorded in the shared ledger.
    let session: Value = serde_json::from_str(&get("/api/session").1).unwrap();
    let csrf = session["csrf"].as_str().unwrap().to_string();
    let post = |path: &str, body: Value| -> (u16, Value) {
        rt.block_on(async {
            let resp = http
                .post(format!("{base}{path}"))
                .header("cookie", &cookie)
                .header("x-sluicegate-csrf", &csrf)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    };
    let (status, approved) = post(
        &format!("/api/proposals/{first}/approve"),
        json!({"confirm": "approve", "reason": "checked"}),
    );
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["proposal"]["state"], "approved");
    let (status, rejected) = post(
        &format!("/api/proposals/{second}/reject"),
        json!({"confirm": "reject", "reason": "customer escalated"}),
    );
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["proposal"]["state"], "rejected");
    let (status, again) = post(
        &format!("/api/proposals/{first}/approve"),
        json!({"confirm": "approve"}),
    );
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["code"], "PROPOSAL_NOT_PENDING_REVIEW");

    // The inbox: pending only by default, each state, and the reviewer's reason searched.
    assert!(inbox("/").is_empty());
    assert_eq!(inbox("/?state=approved"), ["INV-3001"]);
    assert_eq!(inbox("/?state=any&q=escalated"), ["INV-3002"]);

    let ledger = Ledger::open_postgres(db.url(), "$SG_LEDGER_URL", Durability::Full).unwrap();
    let states: Vec<(String, String)> = ledger
        .list_proposals(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|p| (p.object_id, p.state))
        .collect();
    assert_eq!(
        states,
        [
            ("INV-3002".to_string(), "rejected".to_string()),
            ("INV-3001".to_string(), "approved".to_string())
        ]
    );
    assert!(ledger.verify(&[]).unwrap().ok());
    // No SQLite ledger was made beside the config.
    assert!(!fx.store.exists());
}
