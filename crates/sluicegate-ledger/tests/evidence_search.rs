//! `evidence list` through the side index (`evidence_keys`, filled in batches by the writer)
//! answers exactly what a scan of every bundle would, whatever part is indexed yet.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::{config, open_temp, row};
use serde_json::json;
use sluicegate_core::call::TrustedContext;
use sluicegate_core::config::Provider;
use sluicegate_core::evidence::record_read;
use sluicegate_ledger::{ActivityQuery, Filter, Ledger, StoredEvidence};

fn record(ledger: &Ledger, i: usize) {
    let cfg = config("review");
    let cap = &cfg.capabilities[0];
    let ctx = TrustedContext {
        tenant_id: format!("tenant-{}", i % 3),
        principal: format!("agent-{}", i % 7),
        provenance: Provider::Environment,
    };
    let id = format!("INV-{}", i % 11);
    let at = format!("2026-06-20T14:31:{:02}.{:03}Z", i / 1000, i % 1000);
    let read = record_read(cap, &ctx, &row(&id, 1), 1, &json!(id), &at);
    ledger.record_read(read.bundle, read.audit).wait().unwrap();
}

/// The in-memory version of a filter.
type Keep<'a> = Box<dyn Fn(&StoredEvidence) -> bool + 'a>;

fn ids(list: &[StoredEvidence]) -> Vec<String> {
    list.iter().map(|b| b.evidence_bundle_id.clone()).collect()
}

/// Each filter's answer against the same filter applied to the whole list in memory, and the
/// kept counts of `store stats` against the rows.
fn agree(ledger: &Ledger) {
    let all = ledger.list_evidence(&Filter::default()).unwrap();
    let stats = ledger.stats().unwrap();
    assert_eq!(stats.evidence_bundles, all.len() as i64);
    assert_eq!(
        stats.query_audit,
        all.len() as i64,
        "one audit record per read"
    );
    assert_eq!(stats.evidence_items, all.len() as i64, "one item per read");
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let times: Vec<&str> = all.iter().rev().map(|b| b.created_at.as_str()).collect();
    let (t1, t2) = (times[times.len() / 4], times[times.len() * 3 / 4]);
    let fp = all[0].query_fingerprint.clone();
    let cases: Vec<(Filter, Keep)> = vec![
        (
            Filter {
                tenant: Some("tenant-1".into()),
                ..Filter::default()
            },
            Box::new(|b| b.tenant_id == "tenant-1"),
        ),
        (
            Filter {
                principal: Some("agent-3".into()),
                ..Filter::default()
            },
            Box::new(|b| b.principal.as_deref() == Some("agent-3")),
        ),
        (
            Filter {
                object_type: Some("invoice".into()),
                object_id: Some("INV-4".into()),
                ..Filter::default()
            },
            Box::new(|b| b.object_id.as_deref() == Some("INV-4")),
        ),
        (
            Filter {
                capability: Some("billing.propose_waiver".into()),
                tenant: Some("tenant-2".into()),
                ..Filter::default()
            },
            Box::new(|b| b.tenant_id == "tenant-2"),
        ),
        (
            Filter {
                table: Some("main.invoices".into()),
                principal: Some("agent-0".into()),
                ..Filter::default()
            },
            Box::new(|b| b.principal.as_deref() == Some("agent-0")),
        ),
        (
            // A bare name matches itself or `public.<name>`, not another schema's table.
            Filter {
                table: Some("invoices".into()),
                ..Filter::default()
            },
            Box::new(|_| false),
        ),
        (
            Filter {
                source: Some("app".into()),
                ..Filter::default()
            },
            Box::new(|_| true),
        ),
        (
            Filter {
                query_fingerprint: fp.clone(),
                tenant: Some("tenant-0".into()),
                ..Filter::default()
            },
            Box::new(move |b| b.query_fingerprint == fp && b.tenant_id == "tenant-0"),
        ),
        (
            Filter {
                from: Some(t1.into()),
                to: Some(t2.into()),
                ..Filter::default()
            },
            Box::new(move |b| b.created_at.as_str() >= t1 && b.created_at.as_str() <= t2),
        ),
        (
            Filter {
                tenant: Some("tenant-0".into()),
                from: Some(t1.into()),
                ..Filter::default()
            },
            Box::new(move |b| b.tenant_id == "tenant-0" && b.created_at.as_str() >= t1),
        ),
        (
            Filter {
                principal: Some("nobody".into()),
                ..Filter::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (filter, keep) in cases {
        let expected: Vec<StoredEvidence> = all.iter().filter(|b| keep(b)).cloned().collect();
        let found = ledger.list_evidence(&filter).unwrap();
        assert_eq!(ids(&found), ids(&expected), "{filter:?}");
        let limited = ledger
            .list_evidence(&Filter {
                limit: Some(5),
                ..filter.clone()
            })
            .unwrap();
        assert_eq!(
            ids(&limited),
            ids(&expected[..expected.len().min(5)]),
            "{filter:?} limit 5"
        );
        // `activity search` lists the same reads (none has a proposal here), a page of 5 and
        // the page after it through the cursor.
        let page = |after| {
            ledger
                .activity(&ActivityQuery {
                    filter: Filter {
                        limit: Some(5),
                        ..filter.clone()
                    },
                    after,
                    ..ActivityQuery::default()
                })
                .unwrap()
        };
        let first = page(None);
        let mut listed: Vec<String> = first
            .items
            .iter()
            .filter_map(|i| i.evidence.clone())
            .collect();
        if let Some(next) = first.next {
            listed.extend(
                page(Some(next))
                    .items
                    .iter()
                    .filter_map(|i| i.evidence.clone()),
            );
        }
        assert_eq!(
            listed,
            ids(&expected[..expected.len().min(10)]),
            "activity {filter:?}"
        );
    }
}

#[test]
fn every_filter_agrees_with_a_scan_while_the_index_catches_up() {
    let (_dir, ledger) = open_temp();
    for i in 0..30 {
        record(&ledger, i);
    }
    agree(&ledger);
    // Indexed up to here; the bundles after it are searched in the unindexed tail.
    let indexed = ledger.index_evidence_now().wait().unwrap();
    assert!(indexed > 0 && indexed <= 30, "{indexed}");
    assert_eq!(ledger.index_evidence_now().wait().unwrap(), 0);
    agree(&ledger);
    for i in 30..300 {
        record(&ledger, i);
    }
    agree(&ledger);
    ledger.index_evidence_now().wait().unwrap();
    agree(&ledger);
}

/// The writer indexes on its own in a lull: after a burst, the unindexed tail shrinks below
/// the idle threshold without anyone asking.
#[test]
fn the_writer_works_off_the_backlog_when_idle() {
    let (dir, ledger) = open_temp();
    for i in 0..900 {
        record(&ledger, i);
    }
    let conn = rusqlite::Connection::open(dir.path().join("nested/dir/ledger.db")).unwrap();
    let mark = || -> i64 {
        conn.query_row(
            "SELECT COALESCE((SELECT CAST(value_json AS INTEGER) FROM runner_state WHERE key = 'evidence_keys_upto'), 0)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while mark() < 900 - 255 {
        assert!(
            std::time::Instant::now() < deadline,
            "mark stayed at {}",
            mark()
        );
        std::thread::yield_now();
    }
    agree(&ledger);
}

/// Time keys are sparse (the first bundle of each minute): time ranges that start and end
/// inside, at and between minutes agree with a scan, before and after indexing and after a
/// prune removed the first bundles of a minute (its key then moves to the first one left).
#[test]
fn time_ranges_agree_with_a_scan_with_one_time_key_per_minute() {
    // The ledger stamps records with its clock: this one reads the time the test sets.
    let now = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stamp = now.clone();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open_with_clock(
        &dir.path().join("ledger.db"),
        std::sync::Arc::new(move || stamp.lock().unwrap().clone()),
    )
    .unwrap();
    let cfg = config("review");
    let cap = &cfg.capabilities[0];
    let ctx = TrustedContext {
        tenant_id: "acme".into(),
        principal: "agent".into(),
        provenance: Provider::Environment,
    };
    // 7 reads a minute, 8 s apart, over 6 minutes.
    let at = |i: usize| format!("2026-06-20T14:{:02}:{:02}.000Z", 10 + i / 7, (i % 7) * 8);
    for i in 0..42 {
        *now.lock().unwrap() = at(i);
        let read = record_read(cap, &ctx, &row("INV-1", 1), 1, &json!(i), &at(i));
        ledger.record_read(read.bundle, read.audit).wait().unwrap();
    }
    let check = |ledger: &Ledger| {
        let all = ledger.list_evidence(&Filter::default()).unwrap();
        let bounds = [
            None,
            Some("2026-06-20T14:11:00.000Z"),
            Some("2026-06-20T14:11:20.000Z"),
            Some("2026-06-20T14:12:48.000Z"),
            Some("2026-06-20T14:13:59.999Z"),
            Some("2026-06-20T15:00:00.000Z"),
        ];
        for from in bounds {
            for to in bounds {
                let keep = |b: &&StoredEvidence| {
                    from.is_none_or(|f| b.created_at.as_str() >= f)
                        && to.is_none_or(|t| b.created_at.as_str() <= t)
                };
                let expected: Vec<StoredEvidence> = all.iter().filter(keep).cloned().collect();
                let f = Filter {
                    from: from.map(str::to_string),
                    to: to.map(str::to_string),
                    ..Filter::default()
                };
                assert_eq!(
                    ids(&ledger.list_evidence(&f).unwrap()),
                    ids(&expected),
                    "{f:?}"
                );
            }
        }
    };
    check(&ledger);
    ledger.index_evidence_now().wait().unwrap();
    check(&ledger);
    // Prune the reads before 14:12:20: minute 14:12 loses its first three.
    ledger
        .prune(sluicegate_ledger::PruneRule {
            older_than: Some("2026-06-20T14:12:20.000Z".into()),
            keep: None,
            dry_run: false,
        })
        .wait()
        .unwrap();
    assert_eq!(
        ledger.list_evidence(&Filter::default()).unwrap().len(),
        42 - 17
    );
    check(&ledger);
}
