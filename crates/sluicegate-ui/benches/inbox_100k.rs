//! Render time of the review UI with 100,000 proposals in the ledger (issue 14's target: the
//! inbox and a proposal page under 50 ms server time).
//!
//! Run: `cargo bench -p sluicegate-ui --bench inbox_100k` (`-- 20000` for another count).
//! It records the proposals the way the runtime does (read, change set, evidence, one
//! `record_proposal` each, group-committed by the ledger's writer thread), starts the UI
//! in-process on a loopback port, logs in, and times whole requests from a loopback client
//! (an upper bound of server time): the inbox's first page, pages deep in the keyset walk, a
//! tenant filter, a time range, text searches, and a proposal page. It prints each page's
//! first request on its own, then the median and the worst of the next 30. Every proposal is
//! recorded in the same millisecond (one `now`), the worst case for a keyset cursor on
//! `(created_at, rowid)`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use serde_json::json;
use sluicegate_core::call::{Args, TrustedContext};
use sluicegate_core::config::{Engine, Provider, validate};
use sluicegate_core::evidence::{link_to_proposal, record_read};
use sluicegate_core::proposal::{ProposalInput, build_change_set};
use sluicegate_ledger::{Filter, Ledger, ProposalCall};
use sluicegate_runtime::Env;
use sluicegate_ui::{UiArgs, UiOptions, UiServer};
use tokio_util::sync::CancellationToken;

fn seed(ledger: &Ledger, count: usize) {
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment"},
        "capabilities": [{
            "name": "billing.propose_waiver", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "late_fee_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let config = validate(&doc).1.unwrap();
    let cap = &config.capabilities[0];
    let mut pending = Vec::new();
    for i in 0..count {
        // Ten tenants, so a tenant filter selects a tenth of the ledger.
        let ctx = TrustedContext {
            tenant_id: format!("tenant-{}", i % 10),
            principal: "agent".into(),
            provenance: Provider::Environment,
        };
        let id = format!("INV-{i:06}");
        let row = json!({"id": id, "late_fee_cents": 100 + i, "waiver_reason": null,
            "updated_at": "2026-06-20T14:31:08.000Z", "tenant_id": ctx.tenant_id});
        let row = row.as_object().unwrap().clone();
        let args: Args = json!({"invoice_id": id, "reason": "bench"})
            .as_object()
            .unwrap()
            .clone();
        let read = record_read(cap, &ctx, &row, 1, &row["id"], "2026-06-20T14:31:09.000Z");
        let built = build_change_set(&ProposalInput {
            mode: config.mode,
            engine: Engine::Sqlite,
            cap,
            args: &args,
            ctx: &ctx,
            before: &row,
            read: &read,
            now: "2026-06-20T14:31:09.000Z",
            columns: None,
        })
        .unwrap();
        let (linked, audit) = link_to_proposal(
            &read,
            cap,
            &built.change_set.proposal_id,
            &row,
            &built.patch,
            &built.after,
        );
        pending.push(ledger.record_proposal(ProposalCall {
            read_bundle: read.bundle,
            read_audit: read.audit,
            change_set: built.change_set,
            proposal_item: linked.items.last().unwrap().clone(),
            proposal_audit: audit,
        }));
        if pending.len() == 1000 {
            for p in pending.drain(..) {
                p.wait().unwrap();
            }
        }
    }
    for p in pending {
        p.wait().unwrap();
    }
}

/// The first request of a page (cold: statements prepared, pages read) and the median and
/// worst of the rest.
fn summary(name: &str, mut times: Vec<Duration>) {
    let first = times.remove(0);
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} first {:>7.2} ms   then median {:>7.2} ms   worst {:>7.2} ms   ({} requests)",
        ms(first),
        ms(times[times.len() / 2]),
        ms(*times.last().unwrap()),
        times.len()
    );
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("ledger.db");
    let ledger = Ledger::open(&store).unwrap();
    let started = Instant::now();
    seed(&ledger, count);
    println!(
        "seeded {count} proposals in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The search index is filled by searches, not by recording: the first search after these
    // proposals indexes them all (timed here on its own, in the writer's chunks).
    let started = Instant::now();
    let mut indexed = 0;
    loop {
        let n = ledger.index_for_search().wait().unwrap();
        indexed += n;
        if n == 0 {
            break;
        }
    }
    println!(
        "indexed {indexed} proposals for search in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // A proposal near the end of the oldest-first walk, and a cursor deep into it.
    let all = Filter {
        limit: Some(1),
        ..Filter::default()
    };
    let last = ledger.list_proposals(&all).unwrap().remove(0).proposal_id;
    let deep = Filter {
        limit: Some(u32::try_from(count - 60).unwrap()),
        ..Filter::default()
    };
    let (_, cursor) = ledger.inbox(&deep, None).unwrap();
    let cursor = cursor.unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let args = UiArgs {
            config: None,
            store: None,
            host: "127.0.0.1".into(),
            port: 0,
            allow_remote_bind: false,
            open: false,
            actor: None,
            key: None,
            session_idle_minutes: 60,
        };
        let server = UiServer::bind(UiOptions {
            args,
            config: None,
            store_path: store.clone(),
            ledger: ledger.clone(),
            env: Env::from_map(Default::default()),
            reviewer: "bench".into(),
            key: None,
        })
        .await
        .unwrap();
        let login = server.login_url().to_string();
        let base = login.split("/login").next().unwrap().to_string();
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(server.run(shutdown.clone()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = client.get(&login).send().await.unwrap().headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let pages = [
            ("inbox, first page", "/".to_string()),
            (
                "inbox, page near the end",
                format!(
                    "/?state=pending_review&after_at={}&after_id={}",
                    cursor.created_at, cursor.rowid
                ),
            ),
            (
                "inbox, all states, deep page",
                format!(
                    "/?state=any&after_at={}&after_id={}",
                    cursor.created_at, cursor.rowid
                ),
            ),
            ("inbox, tenant filter", "/?tenant=tenant-7".to_string()),
            (
                "inbox, time range",
                "/?state=any&from=2026-06-20&to=2026-06-20".to_string(),
            ),
            (
                "inbox, search (every row)",
                "/?state=any&q=bench".to_string(),
            ),
            (
                "inbox, search (one row)",
                format!("/?state=any&q={}", &last),
            ),
            (
                "inbox, search (one target)",
                format!("/?state=any&q=INV-{:06}", count - 3),
            ),
            ("proposal page", format!("/proposals/{last}")),
        ];
        for (name, path) in pages {
            let mut times = Vec::new();
            for _ in 0..31 {
                let t = Instant::now();
                let resp = client
                    .get(format!("{base}{path}"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{name}");
                let body = resp.text().await.unwrap();
                times.push(t.elapsed());
                assert!(body.contains("<table"), "{name}");
            }
            summary(name, times);
        }
        shutdown.cancel();
        serving.await.unwrap().unwrap();
    });
}
