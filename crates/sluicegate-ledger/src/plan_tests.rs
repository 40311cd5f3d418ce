//! Every filter of `proposals list` and `receipts list`, and the tenant, principal, object,
//! proposal and time filters of `evidence list`, are served by an index: the query plan SQLite
//! chooses searches an index (or the primary key) instead of scanning the table.

#![allow(clippy::unwrap_used)]

use crate::query::{
    Filter, InboxCursor, evidence_query, inbox_query, proposals_query, receipts_query,
};
use crate::{Ledger, query::Where};

fn plan(ledger: &Ledger, (sql, w): (String, Where)) -> Vec<String> {
    let conn = ledger.conn();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt
        .query_map(w.params().as_slice(), |r| r.get::<_, String>(3))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn one(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// One filter at a time, as the CLI sets them (`--object` always sets a type and an id).
fn filters() -> Vec<(&'static str, Filter)> {
    let f = Filter::default;
    vec![
        (
            "proposal",
            Filter {
                proposal: one("prp_1"),
                ..f()
            },
        ),
        (
            "tenant",
            Filter {
                tenant: one("acme"),
                ..f()
            },
        ),
        (
            "principal",
            Filter {
                principal: one("agent"),
                ..f()
            },
        ),
        (
            "capability",
            Filter {
                capability: one("billing.waive"),
                ..f()
            },
        ),
        (
            "status",
            Filter {
                status: one("pending_review"),
                ..f()
            },
        ),
        (
            "source",
            Filter {
                source: one("app"),
                ..f()
            },
        ),
        (
            "table",
            Filter {
                table: one("invoices"),
                ..f()
            },
        ),
        (
            "schema.table",
            Filter {
                table: one("billing.invoices"),
                ..f()
            },
        ),
        (
            "object",
            Filter {
                object_type: one("invoice"),
                object_id: one("INV-1"),
                ..f()
            },
        ),
        (
            "from",
            Filter {
                from: one("2026-01-01"),
                ..f()
            },
        ),
        (
            "to",
            Filter {
                to: one("2026-01-01"),
                ..f()
            },
        ),
        (
            "writeback job",
            Filter {
                writeback_job: one("wbj_1"),
                ..f()
            },
        ),
        (
            "idempotency key",
            Filter {
                idempotency_key: one("idem"),
                ..f()
            },
        ),
    ]
}

/// Whether `plan` reads `table` only through index (or primary key) searches.
fn searches_only(plan: &[String], table: &str) -> bool {
    let touching: Vec<&String> = plan.iter().filter(|l| l.contains(table)).collect();
    !touching.is_empty()
        && touching
            .iter()
            .all(|l| l.starts_with("SEARCH") && l.contains("USING"))
}

#[test]
fn every_list_filter_searches_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let mut failures = Vec::new();
    for (name, f) in filters() {
        let limited = Filter {
            limit: Some(20),
            ..f
        };
        let proposals = plan(&ledger, proposals_query(&limited));
        let receipts = plan(&ledger, receipts_query(&limited));
        let (_, receipt_where) = receipts_query(&limited);
        // A filter receipts do not have leaves their list unfiltered (nothing to search).
        let receipt_filtered = !receipt_where.params.is_empty();
        let receipts_only = name.contains("job") || name.contains("idem");
        let cursor = InboxCursor {
            created_at: "2026-01-01T00:00:00.000Z".into(),
            rowid: 7,
        };
        for after in [None, Some(&cursor)] {
            let inbox = plan(&ledger, inbox_query(&limited, after));
            if !receipts_only && !searches_only(&inbox, "proposals") {
                failures.push(format!("inbox --{name} after {after:?}: {inbox:?}"));
            }
            // Past the first page, the index range starts at the cursor (no walk to it) when
            // the index orders by time after the filter's columns.
            let ranged = inbox.iter().any(|l| l.contains("created_at>"));
            if after.is_some() && (name == "status" || name == "tenant") && !ranged {
                failures.push(format!("inbox --{name} walks to its cursor: {inbox:?}"));
            }
        }
        if !receipts_only && !searches_only(&proposals, "proposals") {
            failures.push(format!("proposals list --{name}: {proposals:?}"));
        }
        let evidence_indexed =
            ["proposal", "tenant", "principal", "object", "from", "to"].contains(&name);
        let evidence = plan(&ledger, evidence_query(&limited));
        if evidence_indexed && !searches_only(&evidence, "evidence_bundles") {
            failures.push(format!("evidence list --{name}: {evidence:?}"));
        }
        if receipt_filtered && !searches_only(&receipts, "writeback_receipts") {
            failures.push(format!("receipts list --{name}: {receipts:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "filters that scan:\n{}",
        failures.join("\n")
    );
}

/// The check itself catches a scan: an unindexed column is reported.
#[test]
fn a_scan_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let mut w = Where::default();
    w.eq("change_set_json", &one("{}"));
    let sql = format!("SELECT proposal_id FROM proposals{}", w.sql());
    assert!(!searches_only(&plan(&ledger, (sql, w)), "proposals"));
}

/// `activity search` and the event feed: every kind's page query, first page and past a
/// cursor of each kind, searches an index for every filter (the stray query-audit records
/// are a partial index of their own, scanned in time order).
#[test]
fn activity_and_event_queries_search_an_index() {
    use crate::activity::{ActivityCursor, ActivityQuery, kind_queries};
    use crate::feed::{after_query, tail_query};
    use crate::query::EventFilter;

    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let conn_plan = |sql: &str, params: Vec<&dyn rusqlite::ToSql>| -> Vec<String> {
        let conn = ledger.conn();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params.as_slice(), |r| r.get::<_, String>(3))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    let mut failures = Vec::new();
    let mut cases: Vec<(String, ActivityQuery)> = filters()
        .into_iter()
        .filter(|(name, _)| !name.contains("job") && !name.contains("idem"))
        .map(|(name, f)| {
            (
                name.to_string(),
                ActivityQuery {
                    filter: Filter {
                        limit: Some(20),
                        ..f
                    },
                    ..ActivityQuery::default()
                },
            )
        })
        .collect();
    cases.push((
        "none".into(),
        ActivityQuery {
            filter: Filter {
                limit: Some(20),
                ..Filter::default()
            },
            ..ActivityQuery::default()
        },
    ));
    cases.push((
        "text".into(),
        ActivityQuery {
            text: one("waiver"),
            ..ActivityQuery::default()
        },
    ));
    for (name, q) in cases {
        for rank in [None, Some(0u8), Some(1), Some(2), Some(3), Some(4)] {
            let q = ActivityQuery {
                after: rank.map(|rank| ActivityCursor {
                    created_at: "2026-01-01T00:00:00.000Z".into(),
                    rank,
                    id: 7,
                }),
                ..q.clone()
            };
            let link = q.filter.proposal.clone().map(Some);
            for kq in kind_queries(&q, &link) {
                let plan = conn_plan(kq.sql(), kq.params());
                let table = kq
                    .sql()
                    .split(" FROM ")
                    .nth(1)
                    .and_then(|t| t.split_whitespace().next())
                    .unwrap()
                    .to_string();
                // A full scan reads the table itself; walking an index or the rowids backwards
                // from a bound, newest first, stops after one page.
                // (The full-text index is a virtual table searched by MATCH: `INDEX …:M…`.)
                let scans = plan.iter().any(|l| {
                    l.starts_with(&format!("SCAN {table}"))
                        && !l.contains("USING")
                        && !(l.contains("VIRTUAL TABLE INDEX") && l.contains(":M"))
                        && (name != "none" || q.after.is_some())
                        && table != "evidence_bundles"
                });
                let bundle_scan = table == "evidence_bundles"
                    && ["tenant", "principal", "object", "from", "to"].contains(&name.as_str())
                    && !searches_only(&plan, "evidence_bundles");
                // A text search walks the full-text index newest first: no sort of its matches.
                let text_sorts = name == "text" && plan.iter().any(|l| l.contains("TEMP B-TREE"));
                // Past a page, the index walk starts below the cursor's rowid (FTS5's `<`).
                let text_walks = name == "text"
                    && rank == Some(4)
                    && !plan.iter().any(|l| {
                        l.contains("activity_text VIRTUAL TABLE INDEX") && l.contains('<')
                    });
                if scans || bundle_scan || text_sorts || text_walks {
                    failures.push(format!(
                        "activity --{name} after {rank:?} ({table}): {plan:?}"
                    ));
                }
            }
        }
    }
    let event_filters = [
        (
            "proposal",
            EventFilter {
                proposal: one("prp_1"),
                ..EventFilter::default()
            },
        ),
        (
            "kind",
            EventFilter {
                kind: one("proposal_created"),
                ..EventFilter::default()
            },
        ),
        (
            "actor",
            EventFilter {
                actor: one("alice"),
                ..EventFilter::default()
            },
        ),
        (
            "from",
            EventFilter {
                from: one("2026-01-01"),
                ..EventFilter::default()
            },
        ),
        (
            "to",
            EventFilter {
                to: one("2026-01-01"),
                ..EventFilter::default()
            },
        ),
        (
            "after",
            EventFilter {
                after_event_id: Some(5),
                ..EventFilter::default()
            },
        ),
    ];
    for (name, f) in event_filters {
        let f = EventFilter {
            limit: Some(20),
            ..f
        };
        for (what, (sql, w)) in [("tail", tail_query(&f)), ("after", after_query(&f))] {
            let plan = conn_plan(&sql, w.params());
            if !searches_only(&plan, "proposal_events")
                || plan.iter().any(|l| l.contains("TEMP B-TREE"))
            {
                failures.push(format!("events {what} --{name}: {plan:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "queries that scan:\n{}",
        failures.join("\n")
    );
}
