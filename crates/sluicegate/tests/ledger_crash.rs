//! kill -9 under load loses nothing a client was told: 20 times, an HTTP server takes
//! proposals and reads from 4 concurrent clients and is killed with SIGKILL after a different
//! number of answers each time (mid-group, with calls in flight). Every proposal and evidence
//! bundle a client saw answered as recorded is in the ledger when it is opened again, and the
//! ledger's hash chains verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use mcp_support::{Fixture, PROPOSE, READ, TOKEN};
use serde_json::{Value, json};
use sluicegate_ledger::Ledger;
use sluicegate_test_support::process::{Signal, signal};
use tokio::sync::Notify;

const TRIALS: usize = 20;
const CLIENTS: usize = 4;

/// What the clients were told was recorded.
#[derive(Default)]
struct Answered {
    proposals: BTreeSet<String>,
    evidence: BTreeSet<String>,
    count: usize,
}

/// One call through the bridge; `None` once the server is gone (the call may or may not have
/// been recorded, and nobody was told it was).
async fn call(
    http: &reqwest::Client,
    url: &str,
    id: u64,
    tool: &str,
    args: Value,
) -> Option<Value> {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}});
    let r = http
        .post(url)
        .bearer_auth(TOKEN)
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    let v: Value = serde_json::from_str(&r.text().await.ok()?).ok()?;
    Some(v["result"]["structuredContent"].clone())
}

async fn client(
    n: usize,
    trial: usize,
    url: String,
    answered: Arc<Mutex<Answered>>,
    kill_at: usize,
    reached: Arc<Notify>,
) {
    let http = reqwest::Client::new();
    for i in 0u64.. {
        let (tool, args) = if i % 2 == 0 {
            let reason = format!("trial {trial} client {n} call {i}");
            (PROPOSE, json!({"invoice_id": "INV-3001", "reason": reason}))
        } else {
            (READ, json!({"invoice_id": "INV-3002"}))
        };
        let Some(content) = call(&http, &url, i, tool, args).await else {
            return;
        };
        assert_ne!(content["code"], json!("LEDGER_UNAVAILABLE"), "{content}");
        let mut a = answered.lock().unwrap();
        if let Some(p) = content["proposal_id"].as_str() {
            a.proposals.insert(p.to_string());
        }
        if let Some(e) = content["evidence_bundle_id"].as_str() {
            a.evidence.insert(e.to_string());
        }
        a.count += 1;
        if a.count == kill_at {
            reached.notify_one();
        }
    }
}

#[test]
fn kill_9_under_load_keeps_every_answered_call() {
    let fx = Fixture::new(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut total = 0;
    for trial in 0..TRIALS {
        let mut server = fx.spawn_http("serve-http", &[]);
        let url = server.url.clone();
        let answered = Arc::new(Mutex::new(Answered::default()));
        // A different point in the stream each trial.
        let kill_at = 15 + trial * 7;
        let reached = Arc::new(Notify::new());
        rt.block_on(async {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|n| {
                    tokio::spawn(client(
                        n,
                        trial,
                        url.clone(),
                        answered.clone(),
                        kill_at,
                        reached.clone(),
                    ))
                })
                .collect();
            reached.notified().await;
            signal(server.child.id(), Signal::KILL);
            for c in clients {
                c.await.unwrap();
            }
        });
        server.child.wait().unwrap();

        let ledger = Ledger::open(&fx.store).unwrap();
        let a = answered.lock().unwrap();
        for p in &a.proposals {
            ledger
                .proposal(p)
                .unwrap_or_else(|e| panic!("trial {trial}: answered proposal {p} lost: {e}"));
        }
        for e in &a.evidence {
            ledger
                .evidence(e)
                .unwrap_or_else(|err| panic!("trial {trial}: answered evidence {e} lost: {err}"));
        }
        let report = ledger.verify(&[]).unwrap();
        assert!(report.ok(), "trial {trial}: {report:?}");
        assert!(a.count >= kill_at, "trial {trial}");
        total += a.count;
    }
    assert!(total >= TRIALS * 15);
}
