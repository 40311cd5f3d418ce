//! The review inbox: keyset pages without gaps or repeats when proposals share a timestamp,
//! pending proposals first across every state, the time range and the text search.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use sluicegate_core::decision::Verdict;
use sluicegate_ledger::{Filter, InboxCursor, InboxQuery, Ledger};

use common::*;

both!(
    pages_sharing_one_millisecond_have_no_gaps_or_repeats,
    every_state_lists_the_pending_proposals_first,
    the_time_range_and_the_search_narrow_the_inbox,
    a_reviewers_reason_is_found_by_the_next_search,
    a_reason_with_control_characters_is_recorded_and_searched,
);

/// Every page of `q`, walked with the cursor each page returns: the object ids in order.
fn walk(ledger: &Ledger, q: &InboxQuery) -> (Vec<String>, usize) {
    let (mut seen, mut after, mut pages): (Vec<String>, Option<InboxCursor>, usize) =
        (Vec::new(), None, 0);
    loop {
        let (page, next) = ledger.inbox_page(q, after.as_ref()).unwrap();
        pages += 1;
        seen.extend(page.into_iter().map(|p| p.object_id));
        match next {
            Some(c) => after = Some(c),
            None => return (seen, pages),
        }
        assert!(pages < 100, "the walk ends");
    }
}

fn ids(range: impl IntoIterator<Item = usize>) -> Vec<String> {
    range.into_iter().map(|i| format!("INV-{i}")).collect()
}

/// Ten proposals: 0–5 share one millisecond, 6–9 come a minute later each; reasons differ.
/// 1 and 7 are approved, 3 rejected.
fn ledger() -> (tempfile::TempDir, Ledger) {
    let (d, ledger) = open_temp();
    seed(&ledger);
    (d, ledger)
}

/// [`ledger`] on `engine`.
fn ledger_on(engine: Backend) -> Option<(Guard, Ledger)> {
    let (guard, ledger) = open(engine)?;
    seed(&ledger);
    Some((guard, ledger))
}

fn seed(ledger: &Ledger) {
    let ledger = ledger.clone();
    let cfg = config("review");
    for i in 0..10 {
        let at = if i < 6 {
            "2026-06-20T14:31:00.000Z".to_string()
        } else {
            format!("2026-06-20T14:3{}:00.000Z", i - 4)
        };
        let reason = if i % 2 == 0 {
            "customer paid within the grace period"
        } else {
            "duplicate charge"
        };
        propose(
            &ledger,
            &cfg,
            &row(&format!("INV-{i}"), 100 + i as i64),
            reason,
            &at,
        )
        .unwrap();
    }
    for (i, verdict) in [
        (1, Verdict::Approve),
        (7, Verdict::Approve),
        (3, Verdict::Reject),
    ] {
        let id = ledger
            .list_proposals(&Filter {
                object_id: Some(format!("INV-{i}")),
                ..Filter::default()
            })
            .unwrap()
            .remove(0);
        decide(
            &ledger,
            &id.proposal_id,
            verdict,
            "ann",
            Some("checked"),
            &id.proposal_hash,
            1,
        )
        .unwrap();
    }
}

fn query(limit: u32) -> InboxQuery {
    InboxQuery {
        filter: Filter {
            limit: Some(limit),
            ..Filter::default()
        },
        ..InboxQuery::default()
    }
}

fn pages_sharing_one_millisecond_have_no_gaps_or_repeats(engine: Backend) {
    let Some((_d, ledger)) = ledger_on(engine) else {
        return;
    };
    for limit in [1, 2, 4, 50] {
        let (seen, _) = walk(&ledger, &query(limit));
        assert_eq!(seen, ids(0..10), "page size {limit}");
    }
    let mut pending = query(2);
    pending.filter.status = Some("pending_review".into());
    let (seen, pages) = walk(&ledger, &pending);
    assert_eq!(seen, ids([0, 2, 4, 5, 6, 8, 9]));
    assert_eq!(pages, 4);
}

fn every_state_lists_the_pending_proposals_first(engine: Backend) {
    let Some((_d, ledger)) = ledger_on(engine) else {
        return;
    };
    for limit in [1, 3, 7, 50] {
        let q = InboxQuery {
            pending_first: true,
            ..query(limit)
        };
        let (seen, _) = walk(&ledger, &q);
        assert_eq!(
            seen,
            ids([0, 2, 4, 5, 6, 8, 9, 1, 3, 7]),
            "page size {limit}"
        );
    }
    // With a state filter there is nothing to put first.
    let mut approved = InboxQuery {
        pending_first: true,
        ..query(1)
    };
    approved.filter.status = Some("approved".into());
    assert_eq!(walk(&ledger, &approved).0, ids([1, 7]));
}

fn the_time_range_and_the_search_narrow_the_inbox(engine: Backend) {
    let Some((_d, ledger)) = ledger_on(engine) else {
        return;
    };
    let mut timed = query(2);
    timed.filter.from = Some("2026-06-20T14:33:00.000Z".into());
    timed.filter.to = Some("2026-06-20T14:34:00.000Z".into());
    assert_eq!(walk(&ledger, &timed).0, ids([7, 8]));

    let search = |text: &str, limit: u32, pending_first: bool| {
        let q = InboxQuery {
            search: Some(text.into()),
            pending_first,
            ..query(limit)
        };
        walk(&ledger, &q).0
    };
    // The agent's reason, in any case; the last word may be the start of one.
    assert_eq!(search("DUPLIC", 2, false), ids([1, 3, 5, 7, 9]));
    assert_eq!(search("grace period", 50, false), ids([0, 2, 4, 6, 8]));
    assert_eq!(search("grace peri", 50, false), ids([0, 2, 4, 6, 8]));
    assert!(
        search("gra period", 50, false).is_empty(),
        "only the last word is a prefix"
    );
    assert_eq!(search("duplicate grace", 50, false), Vec::<String>::new());
    // The target row, the capability, the principal and the tenant.
    assert_eq!(search("INV-7", 50, false), ids([7]));
    let id = ledger
        .list_proposals(&Filter {
            object_id: Some("INV-4".into()),
            ..Filter::default()
        })
        .unwrap()
        .remove(0)
        .proposal_id;
    assert_eq!(search(&id, 50, false), ids([4]));
    assert_eq!(search("propose_waiver", 3, false), ids(0..10));
    assert_eq!(search("agent_1 acme", 4, false), ids(0..10));
    // Pending first applies to a search too; operators are words, not syntax.
    assert_eq!(search("duplicate", 1, true), ids([5, 9, 1, 3, 7]));
    assert!(search("NEAR( \" OR *", 50, false).is_empty());
    assert_eq!(search(" -- ", 50, false), ids(0..10), "no words: no search");
}

/// Recording never touches the search index; a search first indexes what was recorded since
/// the last one, each proposal once.
#[test]
fn a_search_indexes_what_was_recorded_since_the_last_one() {
    let (_d, ledger) = ledger();
    assert_eq!(ledger.index_for_search().wait().unwrap(), 10);
    assert_eq!(ledger.index_for_search().wait().unwrap(), 0, "nothing new");
    let cfg = config("review");
    propose(
        &ledger,
        &cfg,
        &row("INV-10", 110),
        "late arrival",
        "2026-06-20T14:40:00.000Z",
    )
    .unwrap();
    let q = InboxQuery {
        search: Some("arrival".into()),
        ..query(50)
    };
    assert_eq!(walk(&ledger, &q).0, ids([10]), "found by the next search");
    assert_eq!(ledger.index_for_search().wait().unwrap(), 0, "indexed once");
}

/// A reviewer's reason is searched with the proposal it was given on, from the next search
/// on (PostgreSQL: in the decision's own transaction; SQLite: by the search's catch-up).
fn a_reviewers_reason_is_found_by_the_next_search(engine: Backend) {
    let Some((_d, ledger)) = ledger_on(engine) else {
        return;
    };
    let q = |text: &str| InboxQuery {
        search: Some(text.into()),
        ..query(50)
    };
    assert!(walk(&ledger, &q("escalated")).0.is_empty());
    let p = ledger
        .list_proposals(&Filter {
            object_id: Some("INV-2".into()),
            ..Filter::default()
        })
        .unwrap()
        .remove(0);
    decide(
        &ledger,
        &p.proposal_id,
        Verdict::Reject,
        "bo",
        Some("customer escalated"),
        &p.proposal_hash,
        1,
    )
    .unwrap();
    assert_eq!(walk(&ledger, &q("escalated")).0, ids([2]));
    assert_eq!(walk(&ledger, &q("grace escalat")).0, ids([2]), "both texts");
    assert_eq!(walk(&ledger, &q("checked")).0, ids([1, 3, 7]));
}

/// A proposed value holding a NUL or another control character (JSON `\u0000`, which
/// PostgreSQL's `jsonb` refuses) is recorded, and its words are searched.
fn a_reason_with_control_characters_is_recorded_and_searched(engine: Backend) {
    let Some((_d, ledger)) = ledger_on(engine) else {
        return;
    };
    propose(
        &ledger,
        &config("review"),
        &row("INV-10", 110),
        "odd\u{0}bytes\u{1b}[31m here",
        "2026-06-20T14:40:00.000Z",
    )
    .unwrap();
    let q = InboxQuery {
        search: Some("odd bytes".into()),
        ..query(50)
    };
    assert_eq!(walk(&ledger, &q).0, ids([10]));
}
