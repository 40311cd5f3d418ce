//! Every filter of `proposals list`, `receipts list` and `evidence list` is served by an
//! index: the query plan SQLite chooses searches an index (or the primary key) instead of
//! scanning the table.

#![allow(clippy::unwrap_used)]

use crate::evidence_keys::evidence_queries;
use crate::inbox::{InboxCursor, InboxQuery, Phase, inbox_query};
use crate::query::{Filter, proposals_query, receipts_query};
use crate::{Ledger, query::Where};

fn plan(ledger: &Ledger, (sql, w): (String, Where)) -> Vec<String> {
    let conn = ledger.conn().unwrap();
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
            "fingerprint",
            Filter {
                query_fingerprint: one("9f2c"),
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
        if !receipts_only && name != "fingerprint" {
            failures.extend(inbox_failures(&ledger, name, &limited));
        }
        if !receipts_only && name != "fingerprint" && !searches_only(&proposals, "proposals") {
            failures.push(format!("proposals list --{name}: {proposals:?}"));
        }
        // Every evidence filter: the unindexed tail and the side index (`evidence_keys`)
        // are both searched, never scanned or sorted.
        for query in evidence_queries(&limited, 1_000) {
            let evidence = plan(&ledger, query);
            let scans = evidence
                .iter()
                .any(|l| !l.starts_with("SEARCH") && !l.contains("SUBQUERY"));
            if !receipts_only
                && name != "status"
                && (scans || !searches_only(&evidence, "evidence_"))
            {
                failures.push(format!("evidence list --{name}: {evidence:?}"));
            }
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

/// Every walk of the review inbox under filter `f`: each phase (every state, pending only,
/// decided only), from the start and past a cursor, with and without a text search.
fn inbox_failures(ledger: &Ledger, name: &str, f: &Filter) -> Vec<String> {
    let mut failures = Vec::new();
    let cursor = InboxCursor {
        created_at: "2026-01-01T00:00:00.000Z".into(),
        rowid: 7,
        decided: false,
    };
    for search in [None, Some("late fee".to_string())] {
        let q = InboxQuery {
            filter: f.clone(),
            search: search.clone(),
            pending_first: true,
        };
        // With a state filter there is one phase (pending first needs every state).
        let phases: &[Phase] = if f.status.is_some() {
            &[Phase::All]
        } else {
            &[Phase::All, Phase::Pending, Phase::Decided]
        };
        for &phase in phases {
            for after in [None, Some(&cursor)] {
                let inbox = plan(ledger, inbox_query(&q, phase, after, 20));
                let what = format!("inbox --{name} {phase:?} search {search:?} after {after:?}");
                if !searches_only(&inbox, "proposals") {
                    failures.push(format!("{what}: {inbox:?}"));
                }
                if search.is_some() {
                    // The full-text index drives the walk, in rowid order, from the cursor.
                    let driven = inbox.first().is_some_and(|l| l.contains("proposal_search"));
                    let sorted = inbox.iter().any(|l| l.contains("TEMP B-TREE"));
                    if !driven || sorted {
                        failures.push(format!(
                            "{what} is not a walk of the search index: {inbox:?}"
                        ));
                    }
                }
                // Past the cursor, each index range starts at it (no walk to it, even when
                // every proposal shares the cursor's millisecond).
                let ranged = inbox.iter().any(|l| l.contains("created_at=? AND rowid>?"))
                    && inbox.iter().any(|l| l.contains("created_at>?"));
                let timed = ["status", "tenant"].contains(&name);
                if search.is_none() && after.is_some() && timed && !ranged {
                    failures.push(format!("{what} walks to its cursor: {inbox:?}"));
                }
            }
        }
    }
    failures
}

/// Without any filter, the decided phase walks its partial index, not every proposal.
#[test]
fn pending_first_walks_the_decided_proposals_on_their_own_index() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let q = InboxQuery {
        pending_first: true,
        ..InboxQuery::default()
    };
    let decided = plan(&ledger, inbox_query(&q, Phase::Decided, None, 20));
    assert!(
        decided
            .iter()
            .all(|l| !l.contains("proposals") || l.contains("idx_proposals_decided_created")),
        "{decided:?}"
    );
    assert!(
        !decided.iter().any(|l| l.contains("TEMP B-TREE")),
        "{decided:?}"
    );
    // Past a cursor, both phases seek to it.
    let cursor = InboxCursor {
        created_at: "2026-01-01T00:00:00.000Z".into(),
        rowid: 7,
        decided: false,
    };
    for phase in [Phase::Pending, Phase::Decided] {
        let walk = plan(&ledger, inbox_query(&q, phase, Some(&cursor), 20));
        assert!(
            walk.iter().any(|l| l.contains("created_at=? AND rowid>?"))
                && walk.iter().any(|l| l.contains("created_at>?")),
            "{phase:?}: {walk:?}"
        );
    }
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

/// `store export` and `shadow list` search: proposals and bundles by their time index, audit
/// records by rowid range, shadow actions by proposal.
#[test]
fn export_and_shadow_queries_search_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let two = |sql: &str| {
        let conn = ledger.conn().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params!["2026", "2027"], |r| r.get::<_, String>(3))
            .unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap()
    };
    let one_param = |sql: &str| {
        let conn = ledger.conn().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(["x"], |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap()
    };
    let p = two(crate::export::EXPORT_PROPOSALS);
    assert!(searches_only(&p, "proposals"), "{p:?}");
    let e = two(crate::export::EXPORT_EVIDENCE);
    assert!(searches_only(&e, "evidence_bundles"), "{e:?}");
    let a = two(&crate::export::export_audit_sql());
    assert!(searches_only(&a, "query_audit"), "{a:?}");
    let at = one_param(crate::export::AUDIT_AT);
    assert!(searches_only(&at, "query_audit"), "{at:?}");
    let s = one_param(crate::write::SHADOW_ACTIONS);
    assert!(searches_only(&s, "shadow_human_actions"), "{s:?}");
    let list = one_param(&crate::write::SHADOW_PROPOSALS.replace("LIMIT ?1", "LIMIT length(?1)"));
    assert!(
        list.iter()
            .any(|l| l.contains("idx_proposals_shadow_created")),
        "{list:?}"
    );
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
        let conn = ledger.conn().unwrap();
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
        for rank in [None, Some(0u8), Some(1), Some(2), Some(3), Some(4), Some(5)] {
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
                // The first table named (a compound's parts are subqueries).
                let table = kq
                    .sql()
                    .split(" FROM ")
                    .skip(1)
                    .filter_map(|t| t.split_whitespace().next())
                    .find(|t| !t.starts_with('('))
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
                // A key filter's reads walk the side index newest first from the cursor, never
                // collecting every match of the key first (`rowid IN (…)` did: O(matches)).
                let keyed = [
                    "tenant",
                    "principal",
                    "object",
                    "capability",
                    "source",
                    "table",
                ]
                .contains(&name.as_str());
                let keys_collected = table == "evidence_bundles"
                    && keyed
                    && (plan.iter().any(|l| l.contains("LIST SUBQUERY"))
                        || !plan
                            .iter()
                            .any(|l| l.starts_with("SEARCH k USING PRIMARY KEY")));
                // A text search walks the full-text index newest first: no sort of its matches.
                let text_sorts = name == "text" && plan.iter().any(|l| l.contains("TEMP B-TREE"));
                // Past a page, the index walk starts below the cursor's rowid (FTS5's `<`).
                let text_walks = name == "text"
                    && rank == Some(4)
                    && !plan.iter().any(|l| {
                        l.contains("proposal_search VIRTUAL TABLE INDEX") && l.contains('<')
                    });
                if scans || bundle_scan || keys_collected || text_sorts || text_walks {
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

/// The worker's queue: due jobs and expired leases each walk their partial index in order
/// (no sort, no scan), and a proposal's worker dead letters search theirs.
#[test]
fn work_queue_queries_search_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let plan_of = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Vec<String> {
        let conn = ledger.conn().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    let now = "2026-01-01T00:00:00.000Z";
    for (sql, index) in [
        (crate::claims::DUE_SQL, "idx_work_queue_ready"),
        (crate::claims::EXPIRED_SQL, "idx_work_queue_leases"),
    ] {
        let plan = plan_of(sql, &[&now, &10]);
        assert!(
            plan.iter().any(|l| l.contains(index))
                && !plan.iter().any(|l| l.contains("TEMP B-TREE")),
            "{sql}: {plan:?}"
        );
    }
    let plan = plan_of(&crate::claims::proposal_dead_letters_sql(), &[&"wrp_1"]);
    assert!(
        searches_only(&plan, "worker_dead_letters")
            && !plan.iter().any(|l| l.contains("TEMP B-TREE")),
        "{plan:?}"
    );
}
