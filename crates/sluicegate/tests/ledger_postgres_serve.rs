//! Servers on a shared PostgreSQL ledger, with the built binary: a server refuses a ledger no
//! `store migrate` has prepared (naming the fix), and after it two Streamable HTTP servers
//! serve at once from one config (no store lease between them), each call recorded in the one
//! ledger with its chain intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp_support::*;
use serde_json::{Value, json};
use sluicegate_ledger::{Durability, Filter, Ledger};
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};
use sluicegate_test_support::poll;

fn serve(fx: &Fixture, url: &str) -> Command {
    fx.on_ledger(url, &["mcp", "serve-streamable-http", "--port", "0"])
}

#[test]
fn servers_share_a_migrated_postgres_ledger_without_a_lease() {
    let Some(db) = block_on(TestDatabase::create(EngineKind::Postgres, "serve_pg")) else {
        return;
    };
    let fx = Fixture::new(2);
    fx.use_postgres_ledger();

    // Not migrated yet: the server stops before it binds, saying what to run.
    let mut early = serve(&fx, db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = early.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            early.kill().unwrap();
            panic!("a server started on an unmigrated ledger");
        }
        // Polling the child's exit, with the deadline above.
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut early.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: LEDGER_SCHEMA_OUTDATED: ")
            && stderr.contains("run `sluicegate store migrate`"),
        "{stderr}"
    );
    assert!(!stderr.contains(db.url()), "{stderr}");

    let doctor = |fx: &Fixture| {
        let out = fx
            .cmd()
            .args(["doctor", "--json", "--config"])
            .arg(&fx.config)
            .env_remove("SLUICEGATE_STORE")
            .env("SG_LEDGER_URL", db.url())
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let find = |name: &str| {
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} check: {report}"))
        };
        assert!(!report.to_string().contains(db.url()), "{report}");
        (
            report["store_path"].clone(),
            find("store"),
            find("store-lease"),
        )
    };
    let (path, store, lease) = doctor(&fx);
    assert_eq!(path, "$SG_LEDGER_URL");
    assert_eq!(store["ok"], false, "{store}");
    assert!(
        store["message"]
            .as_str()
            .unwrap()
            .contains("run `sluicegate store migrate`"),
        "{store}"
    );
    assert_eq!(lease["ok"], true, "{lease}");

    Ledger::migrate_postgres(db.url()).unwrap();
    let (_, store, _) = doctor(&fx);
    assert_eq!(store["ok"], true, "{store}");
    assert!(
        store["message"].as_str().unwrap().starts_with(&format!(
            "PostgreSQL ledger $SG_LEDGER_URL opens at schema {}: 0 proposals",
            sluicegate_ledger::POSTGRES_SCHEMA_VERSION
        )),
        "{store}"
    );
    let servers = [
        ServerProc::start(serve(&fx, db.url())),
        ServerProc::start(serve(&fx, db.url())),
    ];
    for s in &servers {
        assert!(s.stderr.contains("Store: $SG_LEDGER_URL"), "{}", s.stderr);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ids: Vec<String> = rt.block_on(async {
        let mut ids = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let mut client = HttpMcp::connect(&server.url).await;
            let read = client.call(READ, json!({"invoice_id": "INV-3002"})).await;
            assert_eq!(read["result"]["structuredContent"]["ok"], json!(true), "{read}");
            let r = client
                .call(
                    PROPOSE,
                    json!({"invoice_id": "INV-3001", "reason": format!("goodwill from server {i}")}),
                )
                .await;
            let content = &r["result"]["structuredContent"];
            assert_eq!(content["ok"], json!(true), "{r}");
            ids.push(content["proposal"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_string());
        }
        ids
    });
    assert_ne!(ids[0], ids[1]);

    let ledger = Ledger::open_postgres(db.url(), "$SG_LEDGER_URL", Durability::Full).unwrap();
    let listed: Vec<String> = ledger
        .list_proposals(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|p| p.proposal_id)
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for id in &ids {
        assert!(listed.contains(id));
        let kinds: Vec<String> = ledger
            .events(id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["proposal_created", "evidence_recorded"]);
    }
    let stats = ledger.stats().unwrap();
    assert_eq!(
        stats.evidence_bundles, 4,
        "two reads and two proposal reads"
    );
    assert!(ledger.verify(&[]).unwrap().ok());

    // The operator's commands read the same ledger through the config.
    let cli = |args: &[&str]| fx.on_ledger(db.url(), args).output().unwrap();
    let stats = cli(&["store", "stats", "--json"]);
    assert_eq!(stats.status.code(), Some(0), "{stats:?}");
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["proposals"], 2);
    assert_eq!(stats["path"], "$SG_LEDGER_URL");
    let verify = cli(&["store", "verify", "--json"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(
        (report["proposals"].clone(), report["events"].clone()),
        (json!(2), json!(4))
    );
    // The feed waits for transactions still open anywhere on the server (other tests'),
    // so poll it with a deadline.
    let doc = poll::until(
        Duration::from_secs(30),
        || {
            let tail = cli(&["events", "tail", "--json"]);
            assert_eq!(tail.status.code(), Some(0), "{tail:?}");
            serde_json::from_slice::<Value>(&tail.stdout).unwrap()
        },
        |doc| doc["events"].as_array().map_or(0, Vec::len) == 4,
    );
    let shown = doc["events"].as_array().map_or(0, Vec::len);
    assert_eq!(shown, 4, "events tail shows {shown} events: {doc}");
    // A reviewer approves one proposal and applies it, from another host as far as the
    // ledger can tell.
    let approve = cli(&["proposals", "approve", &ids[0], "--yes", "--actor", "ana"]);
    assert_eq!(approve.status.code(), Some(0), "{approve:?}");
    let again = cli(&["proposals", "approve", &ids[0], "--yes", "--actor", "bo"]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("PROPOSAL_NOT_PENDING_REVIEW"),
        "{again:?}"
    );
    let apply = cli(&["apply", &ids[0], "--json"]);
    assert_eq!(apply.status.code(), Some(0), "{apply:?}");
    let applied: Value = serde_json::from_slice(&apply.stdout).unwrap();
    assert_eq!(applied["status"], "applied", "{applied}");
    let p = ledger.proposal(&ids[0]).unwrap();
    assert_eq!(p.state, "applied");
    assert_eq!(ledger.receipts(&ids[0]).unwrap().len(), 1);
    let listed = cli(&["proposals", "list", "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{listed:?}");
    let replay = cli(&["replay", "show", &ids[0], "--json"]);
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    let replay: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(
        replay["receipts"].as_array().map(Vec::len),
        Some(1),
        "{replay}"
    );
    let verify = cli(&["store", "verify", "--json"]);
    assert_eq!(verify.status.code(), Some(0), "{verify:?}");

    // `activity search` reads the shared ledger too: the applied proposal's receipt first,
    // and a text search finds a proposal by the reason its server was given.
    let activity = cli(&["activity", "search", "--json"]);
    assert_eq!(activity.status.code(), Some(0), "{activity:?}");
    let doc: Value = serde_json::from_slice(&activity.stdout).unwrap();
    let text = doc.to_string();
    assert!(
        text.contains(&format!("\"proposal\":\"{}\"", ids[0])),
        "{doc}"
    );
    assert!(text.contains("\"kind\":\"receipt\""), "{doc}");
    let found = cli(&["activity", "search", "--text", "server 1", "--json"]);
    assert_eq!(found.status.code(), Some(0), "{found:?}");
    let found = String::from_utf8_lossy(&found.stdout).to_string();
    assert!(
        found.contains(&ids[1]) && !found.contains(&ids[0]),
        "{found}"
    );
    // `store export` writes the shared ledger's records, and the export verifies on its own.
    let file = fx.dir.path().join("exports/ledger.jsonl");
    let export = cli(&["store", "export", "--output", file.to_str().unwrap()]);
    assert_eq!(export.status.code(), Some(0), "{export:?}");
    assert!(
        String::from_utf8_lossy(&export.stderr)
            .contains("exported 2 proposal(s), 4 evidence bundle(s)")
            || String::from_utf8_lossy(&export.stdout)
                .contains("exported 2 proposal(s), 4 evidence bundle(s)"),
        "{export:?}"
    );
    let verified = fx
        .cmd()
        .args(["store", "verify-export"])
        .arg(&file)
        .arg("--config")
        .arg(&fx.config)
        .output()
        .unwrap();
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
    // `store vacuum` says PostgreSQL does it, before any SQLite lease file is made.
    let vacuum = cli(&["store", "vacuum"]);
    let text = String::from_utf8_lossy(&vacuum.stderr);
    assert_eq!(vacuum.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("error: LEDGER_VACUUM_BY_POSTGRES: ") && text.contains("autovacuum"),
        "{text}"
    );
    // No SQLite ledger (nor its lease) was made beside the config.
    assert!(!fx.store.exists());
    assert!(!fx.store.parent().unwrap().exists(), "{:?}", fx.store);
}
