//! The ledger at scale: `cargo bench -p sluicegate-ledger --bench scale [-- --calls N]`.
//!
//! Grows a ledger to N recorded tool calls (default 100,000; four reads to one proposal,
//! across 50 tenants, 200 principals and 5,000 objects) through the real write path, many
//! callers at a time so the writer commits in groups, then times every filter of
//! `proposals list` and `evidence list` (newest 20), each with a common value and with a value
//! recorded once, at the very start (the worst case for a newest-first walk). Reports the
//! main file's bytes per call and the WAL's size. Figures go to docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use sluicegate_core::call::TrustedContext;
use sluicegate_core::config::Provider;
use sluicegate_core::evidence::record_read;
use sluicegate_ledger::{Durability, Filter, Ledger, Pending};

fn ctx(tenant: &str, principal: &str) -> TrustedContext {
    TrustedContext {
        tenant_id: tenant.into(),
        principal: principal.into(),
        provenance: Provider::Environment,
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    f(); // warm the page cache
    median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let calls: usize = std::env::args()
        .skip_while(|a| a != "--calls")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scale.db");
    // Relaxed while growing (the figures are about reading); the group sizes are the same.
    let ledger = Ledger::open_with(&path, Durability::Relaxed).unwrap();
    let cfg = common::config("review");
    let cap = &cfg.capabilities[0];

    let started = Instant::now();
    let mut pending: Vec<Pending<()>> = Vec::new();
    // The rare values: one call each, the very first.
    let first = ctx("tenant-rare", "principal-rare");
    let row = common::row("INV-RARE", 100);
    let at = "2026-01-01T00:00:00.000Z";
    let read = record_read(cap, &first, &row, 1, &json!("INV-RARE"), at);
    ledger.record_read(read.bundle, read.audit).wait().unwrap();
    common::propose(&ledger, &cfg, &common::row("INV-RAREP", 100), "rare", at).unwrap();
    for i in 1..calls {
        let at = format!(
            "2026-06-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + (i / 86_400_000) % 28,
            (i / 3_600_000) % 24,
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        );
        let id = format!("INV-{}", i % 5000);
        let row = common::row(&id, 5500 + (i % 7) as i64);
        if i % 5 == 0 {
            common::propose(&ledger, &cfg, &row, &format!("reason {i}"), &at).unwrap();
        } else {
            let c = ctx(&format!("tenant-{}", i % 50), &format!("agent-{}", i % 200));
            let read = record_read(cap, &c, &row, 1, &json!(id), &at);
            pending.push(ledger.record_read(read.bundle, read.audit));
        }
        if pending.len() >= 64 {
            for p in pending.drain(..) {
                p.wait().unwrap();
            }
        }
    }
    for p in pending.drain(..) {
        p.wait().unwrap();
    }
    let grown = started.elapsed();
    let stats = ledger.stats().unwrap();
    println!(
        "{calls} calls recorded in {:.1} s ({:.0} calls/s); main file {:.1} MiB = {} bytes/call; WAL {:.1} MiB",
        grown.as_secs_f64(),
        calls as f64 / grown.as_secs_f64(),
        stats.approx_bytes as f64 / 1048576.0,
        stats.bytes_per_call,
        stats.wal_bytes as f64 / 1048576.0
    );

    let f = |edit: &dyn Fn(&mut Filter)| {
        let mut f = Filter {
            limit: Some(20),
            ..Filter::default()
        };
        edit(&mut f);
        f
    };
    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }
    type Case<'a> = (&'a str, Box<dyn Fn(&mut Filter)>);
    let cases: Vec<Case> = vec![
        ("none", Box::new(|_| {})),
        ("--tenant common", Box::new(|f| f.tenant = s("tenant-7"))),
        ("--tenant rare", Box::new(|f| f.tenant = s("tenant-rare"))),
        (
            "--principal rare",
            Box::new(|f| f.principal = s("principal-rare")),
        ),
        (
            "--capability",
            Box::new(|f| f.capability = s("billing.propose_waiver")),
        ),
        ("--status", Box::new(|f| f.status = s("pending_review"))),
        ("--source", Box::new(|f| f.source = s("app"))),
        ("--table", Box::new(|f| f.table = s("invoices"))),
        (
            "--object rare",
            Box::new(|f| {
                f.object_type = s("invoice");
                f.object_id = s("INV-RAREP");
            }),
        ),
        (
            "--object common",
            Box::new(|f| {
                f.object_type = s("invoice");
                f.object_id = s("INV-10");
            }),
        ),
        (
            "--from/--to (first day)",
            Box::new(|f| {
                f.from = s("2026-01-01");
                f.to = s("2026-01-02");
            }),
        ),
    ];
    println!(
        "\n{:<26} {:>16} {:>16}",
        "filter (newest 20)", "proposals list", "evidence list"
    );
    for (name, edit) in &cases {
        let filter = f(edit.as_ref());
        let p = time(|| ledger.list_proposals(&filter).unwrap().len());
        let e = time(|| ledger.list_evidence(&filter).unwrap().len());
        println!(
            "{name:<26} {:>13.2} ms {:>13.2} ms",
            p.as_secs_f64() * 1e3,
            e.as_secs_f64() * 1e3
        );
    }
}
