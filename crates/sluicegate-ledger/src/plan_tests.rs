//! Every filter of `proposals list` and `receipts list`, and the tenant, principal, object,
//! proposal and time filters of `evidence list`, are served by an index: the query plan SQLite
//! chooses searches an index (or the primary key) instead of scanning the table.

#![allow(clippy::unwrap_used)]

use crate::inbox::{InboxCursor, InboxQuery, Phase, inbox_query};
use crate::query::{Filter, evidence_query, proposals_query, receipts_query};
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
        if !receipts_only {
            failures.extend(inbox_failures(&ledger, name, &limited));
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
