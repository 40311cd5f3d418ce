//! The review inbox and `activity search` on PostgreSQL are served by indexes: every walk of
//! every filter, with and without a cursor and a text search, is planned with sequential scans
//! disabled and must not scan a table (`plan_tests` for the method). Needs the test server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use postgres::Client;

use super::plan_tests::{database, plan, some};
use super::query::Where;
use crate::activity::{ActivityCursor, ActivityQuery, Kind};
use crate::inbox::{InboxCursor, InboxQuery, Phase};
use crate::query::Filter;

/// A text search may walk its list order and check each row (what the planner picks when it
/// expects many matches, stopping after one page) or search the GIN index: the second must be
/// possible too: with plain index scans ruled out, the plan must still search indexes, and
/// `proposals_search` when `gin` (no other filter and no cursor: with one, the planner may as
/// well start from that condition's b-tree index).
fn assert_searchable(client: &mut Client, what: &str, sql: &str, w: &Where, gin: bool) {
    client
        .batch_execute("SET enable_indexscan = off; SET enable_sort = on")
        .unwrap();
    let plan: Vec<String> = client
        .query(&format!("EXPLAIN {sql}"), &w.params())
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    client
        .batch_execute("SET enable_indexscan = on; SET enable_sort = off")
        .unwrap();
    let plan = plan.join("\n");
    assert!(
        !gin || plan.contains("proposals_search"),
        "{what}:\n{sql}\n{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "{what}:\n{sql}\n{plan}");
}

fn filters() -> Vec<(&'static str, Filter)> {
    let f = Filter::default;
    vec![
        ("no filter", f()),
        (
            "tenant",
            Filter {
                tenant: some("acme"),
                ..f()
            },
        ),
        (
            "principal",
            Filter {
                principal: some("agent_1"),
                ..f()
            },
        ),
        (
            "capability",
            Filter {
                capability: some("billing.propose_waiver"),
                ..f()
            },
        ),
        (
            "status",
            Filter {
                status: some("approved"),
                ..f()
            },
        ),
        (
            "source",
            Filter {
                source: some("app"),
                ..f()
            },
        ),
        (
            "table",
            Filter {
                table: some("invoices"),
                ..f()
            },
        ),
        (
            "object type",
            Filter {
                object_type: some("invoice"),
                ..f()
            },
        ),
        (
            "object id",
            Filter {
                object_id: some("INV-1"),
                ..f()
            },
        ),
        (
            "time range",
            Filter {
                from: some("2026-06-20T00:00:00.000Z"),
                to: some("2026-06-21T00:00:00.000Z"),
                ..f()
            },
        ),
        (
            "evidence",
            Filter {
                evidence: some("evb_1"),
                ..f()
            },
        ),
        (
            "fingerprint",
            Filter {
                query_fingerprint: some("qf_1"),
                ..f()
            },
        ),
        (
            "proposal",
            Filter {
                proposal: some("wrp_1"),
                ..f()
            },
        ),
    ]
}

#[test]
fn every_inbox_walk_searches_an_index() {
    let Some((_db, client)) = database() else {
        return;
    };
    std::thread::spawn(move || {
        let mut client = client;
        let cursor = InboxCursor {
            created_at: "2026-06-20T14:31:00.000Z".into(),
            rowid: 7,
            decided: false,
        };
        for (name, filter) in filters() {
            for search in [None, some("late fee")] {
                let q = InboxQuery {
                    filter: filter.clone(),
                    search: search.clone(),
                    pending_first: true,
                };
                for phase in [Phase::All, Phase::Pending, Phase::Decided] {
                    for after in [None, Some(&cursor)] {
                        let what = format!(
                            "inbox {name} search {search:?} {phase:?} after {:?}",
                            after.is_some()
                        );
                        let (sql, w) = super::inbox::inbox_sql(&q, phase, after, 20);
                        if search.is_some() {
                            let gin = name == "no filter" && phase == Phase::All && after.is_none();
                            assert_searchable(&mut client, &what, &sql, &w, gin);
                        }
                        let p = plan(&mut client, &what, (sql, w));
                        if search.is_none() && name == "no filter" && phase == Phase::Decided {
                            assert!(p.contains("proposals_decided_created"), "{what}:\n{p}");
                        }
                    }
                }
            }
        }
    })
    .join()
    .unwrap();
}

#[test]
fn every_activity_kind_searches_an_index() {
    let Some((_db, client)) = database() else {
        return;
    };
    std::thread::spawn(move || {
        let mut client = client;
        let cursors = [
            None,
            Some(ActivityCursor {
                created_at: "2026-06-20T14:31:00.000Z".into(),
                rank: Kind::Evidence as u8,
                id: 9,
            }),
            Some(ActivityCursor {
                created_at: "2026-06-20T14:31:00.000Z".into(),
                rank: Kind::Receipt as u8,
                id: 9,
            }),
        ];
        let mut kinds_seen = std::collections::BTreeSet::new();
        for (name, filter) in filters() {
            for text in [None, some("INV-7 goodwill")] {
                for after in &cursors {
                    let q = ActivityQuery {
                        filter: filter.clone(),
                        text: text.clone(),
                        after: after.clone(),
                        ..ActivityQuery::default()
                    };
                    let link = filter.proposal.clone().map(Some);
                    for k in super::activity::kind_sql(&q, &link) {
                        let what = format!("activity {name} text {text:?} after {after:?}");
                        if text.is_some() {
                            let gin = name == "no filter" && after.is_none();
                            assert_searchable(&mut client, &what, &k.sql, &k.w, gin);
                        }
                        plan(&mut client, &what, (k.sql.clone(), k.w));
                        kinds_seen.insert(
                            k.sql.split(" FROM ").nth(1).map(|t| {
                                t.split_whitespace().next().unwrap_or_default().to_string()
                            }),
                        );
                    }
                }
            }
        }
        assert_eq!(
            kinds_seen.len(),
            6,
            "every kind was planned: {kinds_seen:?}"
        );
    })
    .join()
    .unwrap();
}
