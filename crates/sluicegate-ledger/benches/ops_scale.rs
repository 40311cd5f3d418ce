//! The ledger operations at scale:
//! `SLUICEGATE_BENCH_SIZES=10000,100000,1000000 cargo bench -p sluicegate-ledger --bench ops_scale`
//! (default `10000,100000`).
//!
//! Grows one ledger through the real write path (reads and proposals recorded through the
//! writer thread with many callers in flight, as a server's are, so it commits in groups: four
//! reads to one proposal, 50 tenants, 200 principals, 5,000 objects), and at each size times
//! what an operator runs: `activity search` (first page, second page, a tenant, a rare word),
//! `proposals list`, the start of `events tail` (and of `--follow`), a rare event kind, and
//! `store stats`. Each figure is the median of 21 runs after one warm-up. Reports bytes per
//! call and, at the end, each figure's ratio between the smallest and largest size and the bytes
//! of each table and index. `SLUICEGATE_BENCH_KEEP=DIR` leaves the ledger in `DIR/ops.db`.
//! Figures go to docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use sluicegate_core::call::TrustedContext;
use sluicegate_core::config::Provider;
use sluicegate_core::decision::Verdict;
use sluicegate_core::evidence::record_read;
use sluicegate_ledger::{
    ActivityQuery, Durability, EventFilter, Filter, Ledger, Pending, ProposalRecorded,
};

fn ctx(tenant: &str, principal: &str) -> TrustedContext {
    TrustedContext {
        tenant_id: tenant.into(),
        principal: principal.into(),
        provenance: Provider::Environment,
    }
}

fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    f(); // warm the page cache
    let mut runs: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

fn stamp(i: usize) -> String {
    format!(
        "2026-06-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + (i / 86_400_000) % 28,
        (i / 3_600_000) % 24,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000
    )
}

fn activity(edit: impl FnOnce(&mut ActivityQuery)) -> ActivityQuery {
    let mut q = ActivityQuery {
        filter: Filter {
            limit: Some(20),
            ..Filter::default()
        },
        ..ActivityQuery::default()
    };
    edit(&mut q);
    q
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SLUICEGATE_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|n| n.trim().replace('_', "").parse().ok())
        .collect();
    // SLUICEGATE_BENCH_KEEP=DIR grows the ledger in DIR and leaves it there (to time the CLI
    // on it afterwards); by default it lives in a temporary directory.
    let dir = tempfile::tempdir().unwrap();
    let path = match std::env::var_os("SLUICEGATE_BENCH_KEEP") {
        Some(keep) => {
            std::fs::create_dir_all(&keep).unwrap();
            let path = std::path::Path::new(&keep).join("ops.db");
            assert!(!path.exists(), "{} exists already", path.display());
            path
        }
        None => dir.path().join("ops.db"),
    };
    // Relaxed while growing (the figures are about reading); the group sizes are the same.
    let ledger = Ledger::open_with(&path, Durability::Relaxed).unwrap();
    let cfg = common::config("review");
    let cap = &cfg.capabilities[0];

    // The rare records, first (the worst case for a newest-first walk): one proposal with a
    // word nothing else has, approved (the only `proposal_approved` event).
    let at = stamp(0);
    let (rare, _) = common::propose(
        &ledger,
        &cfg,
        &common::row("INV-RAREP", 100),
        "zanzibar",
        &at,
    )
    .unwrap();
    let hash = ledger.proposal(&rare.proposal_id).unwrap().proposal_hash;
    common::decide(
        &ledger,
        &rare.proposal_id,
        Verdict::Approve,
        "ann",
        Some("ok"),
        &hash,
        1,
    )
    .unwrap();

    let mut grown = 1usize;
    // (size, figures, bytes per call) at each size.
    type Row<'a> = (usize, Vec<(&'a str, Duration)>, i64);
    let mut rows: Vec<Row> = Vec::new();
    let started = Instant::now();
    for &size in &sizes {
        let mut reads: Vec<Pending<()>> = Vec::new();
        let mut proposals: Vec<Pending<ProposalRecorded>> = Vec::new();
        while grown < size {
            let i = grown;
            let at = stamp(i);
            let id = format!("INV-{}", i % 5000);
            let row = common::row(&id, 5500 + (i % 7) as i64);
            if i.is_multiple_of(5) {
                let (_, p) =
                    common::propose_pending(&ledger, &cfg, &row, &format!("reason {i}"), &at);
                proposals.push(p);
            } else {
                let c = ctx(&format!("tenant-{}", i % 50), &format!("agent-{}", i % 200));
                let read = record_read(cap, &c, &row, 1, &json!(id), &at);
                reads.push(ledger.record_read(read.bundle, read.audit));
            }
            grown += 1;
            if reads.len() + proposals.len() >= 64 {
                reads.drain(..).for_each(|p| p.wait().unwrap());
                proposals.drain(..).for_each(|p| {
                    p.wait().unwrap();
                });
            }
        }
        reads.drain(..).for_each(|p| p.wait().unwrap());
        proposals.drain(..).for_each(|p| {
            p.wait().unwrap();
        });
        // What a server's writer does in its first lull (its idle chores): index the evidence
        // recorded meanwhile and move the kept counts' marks. Timed, not hidden.
        let lull = Instant::now();
        ledger.index_evidence_now().wait().unwrap();
        println!(
            "  writer's catch-up after growth (evidence index, counts): {:.0} ms",
            lull.elapsed().as_secs_f64() * 1e3
        );
        let stats = ledger.stats().unwrap();
        println!(
            "{size} calls after {:.0} s ({:.0} calls/s overall); main file {:.1} MiB = {} bytes/call; WAL {:.1} MiB",
            started.elapsed().as_secs_f64(),
            grown as f64 / started.elapsed().as_secs_f64(),
            stats.approx_bytes as f64 / 1048576.0,
            stats.bytes_per_call,
            stats.wal_bytes as f64 / 1048576.0
        );

        // The first text search after growth brings the search index up to date (`search.rs`:
        // recording never does): its one-off cost, then the steady figures below.
        let catch_up = Instant::now();
        ledger
            .activity(&activity(|q| q.text = Some("zanzibar".into())))
            .unwrap();
        println!(
            "  first --text after growth (indexes what was recorded since the last search): {:.0} ms",
            catch_up.elapsed().as_secs_f64() * 1e3
        );
        let first = ledger.activity(&activity(|_| {})).unwrap();
        let cursor = first.next.clone();
        let figures: Vec<(&str, Duration)> = vec![
            (
                "activity search",
                time(|| ledger.activity(&activity(|_| {})).unwrap().items.len()),
            ),
            (
                "activity search, page 2",
                time(|| {
                    ledger
                        .activity(&activity(|q| q.after = cursor.clone()))
                        .unwrap()
                        .items
                        .len()
                }),
            ),
            (
                "activity search --tenant",
                time(|| {
                    ledger
                        .activity(&activity(|q| q.filter.tenant = Some("tenant-7".into())))
                        .unwrap()
                        .items
                        .len()
                }),
            ),
            (
                "activity search --text (rare)",
                time(|| {
                    ledger
                        .activity(&activity(|q| q.text = Some("zanzibar".into())))
                        .unwrap()
                        .items
                        .len()
                }),
            ),
            (
                "activity search --text (common)",
                time(|| {
                    ledger
                        .activity(&activity(|q| q.text = Some("reason".into())))
                        .unwrap()
                        .items
                        .len()
                }),
            ),
            (
                "proposals list",
                time(|| {
                    ledger
                        .list_proposals(&Filter {
                            limit: Some(20),
                            ..Filter::default()
                        })
                        .unwrap()
                        .len()
                }),
            ),
            (
                "events tail (start)",
                time(|| {
                    let last = ledger.last_event_id().unwrap();
                    let events = ledger
                        .tail_events(&EventFilter {
                            limit: Some(20),
                            ..EventFilter::default()
                        })
                        .unwrap();
                    (last, events.len())
                }),
            ),
            (
                "events tail --kind (rare)",
                time(|| {
                    ledger
                        .tail_events(&EventFilter {
                            kind: Some("proposal_approved".into()),
                            limit: Some(20),
                            ..EventFilter::default()
                        })
                        .unwrap()
                        .len()
                }),
            ),
            ("store stats", time(|| ledger.stats().unwrap().proposals)),
        ];
        for (name, d) in &figures {
            println!("  {name:<32} p50 {:>8.3} ms", d.as_secs_f64() * 1e3);
        }
        rows.push((size, figures, stats.bytes_per_call));
    }

    // Where the bytes are at the last size: each table and index, largest first.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let calls = ledger.stats().unwrap().evidence_bundles.max(1);
    let mut stmt = conn
        .prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC")
        .unwrap();
    let objects: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    println!(
        "
{:<40} {:>12} {:>10}",
        "table or index", "MiB", "bytes/call"
    );
    for (name, bytes) in objects.iter().filter(|(_, b)| *b > 0) {
        println!(
            "{name:<40} {:>12.1} {:>10}",
            *bytes as f64 / 1048576.0,
            bytes / calls
        );
    }

    if let (Some(small), Some(large)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        println!(
            "\n{:<32} {:>10} {:>10} {:>8}",
            "p50 (ms)", small.0, large.0, "ratio"
        );
        for ((name, a), (_, b)) in small.1.iter().zip(large.1.iter()) {
            println!(
                "{name:<32} {:>10.3} {:>10.3} {:>7.2}x",
                a.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
        println!("{:<32} {:>10} {:>10}", "bytes per call", small.2, large.2);
    }
}
