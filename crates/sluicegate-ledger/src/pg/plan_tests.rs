//! Every PostgreSQL listing is served by an index: each statement is planned with sequential
//! scans (and sorts) disabled, and a plan that still scans a table means no index can serve
//! it; the feed's plain walk must come out of its index in order. (Some rarer filters are
//! checked while walking an index in list order rather than searched, as on SQLite's query
//! audit; docs/operations.md says which.) Needs the
//! test server (`SLUICEGATE_TEST_POSTGRES_URL`; with CI=true a missing one fails).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use postgres::{Client, NoTls};

use super::query::{self, Where};
use crate::query::{EventFilter, Filter};

pub(super) fn database() -> Option<(sluicegate_test_support::engines::TestDatabase, Client)> {
    let db = sluicegate_test_support::app_db::block_on(
        sluicegate_test_support::engines::TestDatabase::create(
            sluicegate_test_support::engines::EngineKind::Postgres,
            "ledger_plans",
        ),
    )?;
    crate::Ledger::migrate_postgres(db.url()).unwrap();
    let url = db.url().to_string();
    // The blocking client runs its own runtime: on a thread of its own, like the ledger's.
    let client = std::thread::spawn(move || {
        let mut client = postgres::Config::from_str_url(&url).connect(NoTls).unwrap();
        // Sorting is only penalised too: a plan that still sorts has no index in that order.
        client
            .batch_execute("SET enable_seqscan = off; SET enable_sort = off")
            .unwrap();
        client
    })
    .join()
    .unwrap();
    Some((db, client))
}

trait FromStrUrl {
    fn from_str_url(url: &str) -> postgres::Config;
}

impl FromStrUrl for postgres::Config {
    fn from_str_url(url: &str) -> postgres::Config {
        url.parse().unwrap()
    }
}

/// The plan of `sql`, asserting it reads no table sequentially.
pub(super) fn plan(client: &mut Client, what: &str, (sql, w): (String, Where)) -> String {
    let plan: Vec<String> = client
        .query(&format!("EXPLAIN {sql}"), &w.params())
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let plan = plan.join("\n");
    assert!(
        !plan.contains("Seq Scan"),
        "{what} scans a table:\n{sql}\n{plan}"
    );
    plan
}

pub(super) fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn every_listing_filter_searches_an_index() {
    let Some((_db, client)) = database() else {
        return;
    };
    std::thread::spawn(move || {
        let mut client = client;
        let filters: Vec<(&str, Filter)> = vec![
            ("no filter", Filter::default()),
            (
                "--proposal",
                Filter {
                    proposal: some("wrp_1"),
                    ..Default::default()
                },
            ),
            (
                "--tenant",
                Filter {
                    tenant: some("acme"),
                    ..Default::default()
                },
            ),
            (
                "--principal",
                Filter {
                    principal: some("agent"),
                    ..Default::default()
                },
            ),
            (
                "--capability",
                Filter {
                    capability: some("billing.waive"),
                    ..Default::default()
                },
            ),
            (
                "--status",
                Filter {
                    status: some("applied"),
                    ..Default::default()
                },
            ),
            (
                "--source",
                Filter {
                    source: some("app"),
                    ..Default::default()
                },
            ),
            (
                "--table",
                Filter {
                    table: some("invoices"),
                    ..Default::default()
                },
            ),
            (
                "--object type",
                Filter {
                    object_type: some("invoice"),
                    ..Default::default()
                },
            ),
            (
                "--object id",
                Filter {
                    object_id: some("INV-1"),
                    ..Default::default()
                },
            ),
            (
                "--evidence",
                Filter {
                    evidence: some("ev_1"),
                    ..Default::default()
                },
            ),
            (
                "--fingerprint",
                Filter {
                    query_fingerprint: some("fp"),
                    ..Default::default()
                },
            ),
            (
                "--job",
                Filter {
                    writeback_job: some("wbj_1"),
                    ..Default::default()
                },
            ),
            (
                "--key",
                Filter {
                    idempotency_key: some("k"),
                    ..Default::default()
                },
            ),
            (
                "--from/--to",
                Filter {
                    from: some("2026-01-01"),
                    to: some("2026-02-01"),
                    ..Default::default()
                },
            ),
        ];
        for (name, f) in &filters {
            let f = Filter {
                limit: Some(20),
                ..f.clone()
            };
            plan(
                &mut client,
                &format!("proposals list {name}"),
                query::proposals_sql(&f),
            );
            plan(
                &mut client,
                &format!("receipts list {name}"),
                query::receipts_sql(&f),
            );
            plan(
                &mut client,
                &format!("evidence list {name}"),
                query::evidence_sql(&f),
            );
            plan(
                &mut client,
                &format!("query-audit list {name}"),
                query::audits_sql(&f),
            );
        }
        let events: Vec<(&str, EventFilter)> = vec![
            ("no filter", EventFilter::default()),
            (
                "--proposal",
                EventFilter {
                    proposal: some("wrp_1"),
                    ..Default::default()
                },
            ),
            (
                "--kind",
                EventFilter {
                    kind: some("proposal_created"),
                    ..Default::default()
                },
            ),
            (
                "--actor",
                EventFilter {
                    actor: some("ann"),
                    ..Default::default()
                },
            ),
            (
                "--from/--to",
                EventFilter {
                    from: some("2026-01-01"),
                    to: some("2026-02-01"),
                    ..Default::default()
                },
            ),
        ];
        for (name, f) in &events {
            let f = EventFilter {
                limit: Some(20),
                ..f.clone()
            };
            for after in [None, Some(("100".to_string(), 7))] {
                for newest_first in [false, true] {
                    let what = format!("events {name} after {after:?} newest first {newest_first}");
                    let p = plan(
                        &mut client,
                        &what,
                        query::feed_sql(&f, after.clone(), newest_first),
                    );
                    // The unfiltered feed walks its index in order: no sort of every event.
                    if *name == "no filter" {
                        assert!(!p.contains("Sort"), "{what}:\n{p}");
                    }
                }
            }
        }
    })
    .join()
    .unwrap();
}

/// The worker's claims (due ready rows, expired leases) and a proposal's dead letters come
/// out of their partial and composite indexes, in order, without a sort.
#[test]
fn the_work_queue_is_searched_by_its_indexes() {
    let Some((_db, client)) = database() else {
        return;
    };
    std::thread::spawn(move || {
        let mut client = client;
        let now = "2026-06-20T15:00:00.000Z";
        for (what, sql) in [
            ("expired claims", super::claims::EXPIRED_SQL),
            ("due work", super::claims::DUE_SQL),
        ] {
            let plan: Vec<String> = client
                .query(&format!("EXPLAIN {sql}"), &[&now, &10i64])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect();
            let plan = plan.join("\n");
            assert!(
                plan.contains("work_queue_leases") || plan.contains("work_queue_ready"),
                "{what}:\n{plan}"
            );
            assert!(!plan.contains("Seq Scan on work_queue"), "{what}:\n{plan}");
            assert!(!plan.contains("Sort"), "{what}:\n{plan}");
        }
        let plan: Vec<String> = client
            .query(
                &format!("EXPLAIN {}", super::claims::DEAD_LETTERS_SQL),
                &[&"wrp_1"],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("worker_dead_letters_proposal"), "{plan}");
        assert!(!plan.contains("Sort"), "{plan}");
    })
    .join()
    .unwrap();
}
