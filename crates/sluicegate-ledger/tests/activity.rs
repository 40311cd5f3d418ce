//! `activity search` and the event feed on a real ledger: what each kind shows, filters,
//! free text, keyset pages without gaps or repeats, the tail and follow queries, and the
//! webhook cursor and dead letters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use sluicegate_core::call::TrustedContext;
use sluicegate_core::config::Provider;
use sluicegate_core::decision::Verdict;
use sluicegate_core::evidence::record_read;
use sluicegate_core::writeback::{ExecutorResult, receipt_for};
use sluicegate_ledger::{
    ActivityCursor, ActivityQuery, DeadLetterRecord, EventFilter, Filter, JobKind, JobRecord,
    Ledger,
};
use sluicegate_protocol::ReceiptStatus;

use common::*;

both!(
    activity_lists_each_interaction_once_newest_first,
    activity_filters_compose_and_leave_out_kinds_they_cannot_match,
    free_text_finds_proposals_by_capability_target_principal_and_reason,
    a_reason_given_after_a_search_is_found_by_the_next_search,
    pages_follow_their_cursor_without_gaps_or_repeats,
    a_webhook_cursor_only_moves_forward_and_dead_letters_are_listed,
);

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

fn query(edit: impl FnOnce(&mut ActivityQuery)) -> ActivityQuery {
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

fn kinds(ledger: &Ledger, q: &ActivityQuery) -> Vec<String> {
    ledger
        .activity(q)
        .unwrap()
        .items
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i.kind,
                i.proposal
                    .clone()
                    .or(i.evidence.clone())
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// One clock for the ledger and the proposals' own `created_at`: every stamp is one
/// millisecond after the last, so the recording order is the time order.
struct Stamps(Arc<AtomicU64>);

impl Stamps {
    fn next(&self) -> String {
        let i = self.0.fetch_add(1, Ordering::SeqCst);
        format!(
            "2026-06-20T14:{:02}:{:02}.{:03}Z",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        )
    }
}

fn open_stamped() -> (tempfile::TempDir, Ledger, Stamps) {
    let dir = tempfile::tempdir().unwrap();
    let n = Arc::new(AtomicU64::new(0));
    let stamps = Stamps(n.clone());
    let clock_stamps = Stamps(n);
    let ledger = Ledger::open_with_clock(
        &dir.path().join("ledger.db"),
        Arc::new(move || clock_stamps.next()),
    )
    .unwrap();
    (dir, ledger, stamps)
}

/// [`open_stamped`] on `engine`; `None` only for PostgreSQL without a test server outside CI.
fn open_stamped_on(engine: Backend) -> Option<(Guard, Ledger, Stamps)> {
    if engine == Backend::Sqlite {
        let (dir, ledger, stamps) = open_stamped();
        return Some((Guard::Dir(dir), ledger, stamps));
    }
    let db = postgres_database()?;
    let n = Arc::new(AtomicU64::new(0));
    let stamps = Stamps(n.clone());
    let clock_stamps = Stamps(n);
    let ledger = Ledger::open_postgres_with_clock(
        db.url(),
        "$TEST_LEDGER_URL",
        sluicegate_ledger::Durability::Full,
        Arc::new(move || clock_stamps.next()),
    )
    .unwrap();
    Some((Guard::Database(db), ledger, stamps))
}

/// A read by `principal` of tenant `tenant`, recorded on its own (no proposal).
fn read(ledger: &Ledger, tenant: &str, principal: &str, id: &str) -> String {
    let cfg = config("review");
    let ctx = TrustedContext {
        tenant_id: tenant.into(),
        principal: principal.into(),
        provenance: Provider::Environment,
    };
    let r = record_read(
        &cfg.capabilities[0],
        &ctx,
        &row(id, 100),
        1,
        &json!(id),
        "2026-06-20T14:00:00.000Z",
    );
    let id = r.bundle.evidence_bundle_id.clone();
    ledger.record_read(r.bundle, r.audit).wait().unwrap();
    id
}

/// Two reads, two proposals (one approved with a reason and applied), newest last.
fn seeded() -> (tempfile::TempDir, Ledger, Vec<String>) {
    let (dir, ledger, t) = open_stamped();
    let ids = seed(&ledger, &t);
    (dir, ledger, ids)
}

/// [`seeded`] on `engine`.
fn seeded_on(engine: Backend) -> Option<(Guard, Ledger, Vec<String>)> {
    let (guard, ledger, t) = open_stamped_on(engine)?;
    let ids = seed(&ledger, &t);
    Some((guard, ledger, ids))
}

fn seed(ledger: &Ledger, t: &Stamps) -> Vec<String> {
    let ledger = ledger.clone();
    let cfg = config("review");
    let r1 = read(&ledger, "acme", "agent_1", "INV-1");
    let (p1, _) = propose(&ledger, &cfg, &row("INV-2", 5500), "goodwill", &t.next()).unwrap();
    let r2 = read(&ledger, "globex", "agent_2", "INV-3");
    let (p2, _) = propose(
        &ledger,
        &cfg,
        &row("INV-4", 7000),
        "duplicate fee",
        &t.next(),
    )
    .unwrap();
    let hash = ledger.proposal(&p2.proposal_id).unwrap().proposal_hash;
    decide(
        &ledger,
        &p2.proposal_id,
        Verdict::Approve,
        "ann",
        Some("customer escalated"),
        &hash,
        1,
    )
    .unwrap();
    ledger
        .queue_job(JobRecord {
            proposal_id: p2.proposal_id.clone(),
            job_id: "wbj_1".into(),
            job: json!({"job": 1}),
            kind: JobKind::Sql {
                source_id: "app".into(),
            },
            actor: "runner".into(),
        })
        .wait()
        .unwrap();
    let result = ExecutorResult {
        status: ReceiptStatus::Applied,
        affected_rows: 1,
        result_hash: None,
        error_code: None,
        new_version: None,
    };
    let receipt = receipt_for("wbj_1", &p2, "local_runner", &result, &t.next());
    ledger.record_receipt(receipt).wait().unwrap();
    vec![r1, p1.proposal_id, r2, p2.proposal_id]
}

fn activity_lists_each_interaction_once_newest_first(engine: Backend) {
    let Some((_d, ledger, ids)) = seeded_on(engine) else {
        return;
    };
    let [r1, p1, r2, p2] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    assert_eq!(
        kinds(&ledger, &query(|_| {})),
        [
            format!("receipt {p2}"),
            format!("proposal {p2}"),
            format!("evidence {r2}"),
            format!("proposal {p1}"),
            format!("evidence {r1}"),
        ],
        "a proposal's own read and evidence are shown through the proposal"
    );
    let page = ledger.activity(&query(|_| {})).unwrap();
    let p = &page.items[1];
    assert_eq!(p.status.as_deref(), Some("applied"));
    assert_eq!(p.capability.as_deref(), Some("billing.propose_waiver"));
    assert_eq!(p.replay, Some(format!("replay_{p2}")));
    assert_eq!(p.table.as_deref(), Some("main.invoices"));
    assert!(p.evidence.is_some());
    assert!(page.next.is_none());
}

fn activity_filters_compose_and_leave_out_kinds_they_cannot_match(engine: Backend) {
    let Some((_d, ledger, ids)) = seeded_on(engine) else {
        return;
    };
    let [r1, p1, r2, p2] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    let by = |edit: &dyn Fn(&mut ActivityQuery)| kinds(&ledger, &query(|q| edit(q)));
    assert_eq!(
        by(&|q| q.filter.tenant = some("globex")),
        [format!("evidence {r2}")]
    );
    assert_eq!(
        by(&|q| q.filter.principal = some("agent_1")),
        [
            format!("proposal {p2}"),
            format!("proposal {p1}"),
            format!("evidence {r1}")
        ]
    );
    assert_eq!(
        by(&|q| q.filter.status = some("applied")),
        [format!("receipt {p2}"), format!("proposal {p2}")]
    );
    assert_eq!(
        by(&|q| q.filter.status = some("evidence_recorded")),
        [format!("evidence {r2}"), format!("evidence {r1}")]
    );
    assert_eq!(
        by(&|q| q.filter.proposal = some(p1)),
        [format!("proposal {p1}")]
    );
    assert_eq!(
        by(&|q| q.replay_proposal = some(p2)),
        [format!("receipt {p2}"), format!("proposal {p2}")]
    );
    assert_eq!(
        by(&|q| q.receipt = Some(1)),
        [format!("receipt {p2}"), format!("proposal {p2}")]
    );
    assert!(
        by(&|q| q.receipt = Some(99)).is_empty(),
        "an unknown receipt matches nothing"
    );
    assert_eq!(
        by(&|q| q.filter.evidence = some(r1)),
        [format!("evidence {r1}")],
        "a read's evidence is its own item"
    );
    let p2_bundle = ledger.evidence_for_proposal(p2).unwrap()[0]
        .evidence_bundle_id
        .clone();
    assert_eq!(
        by(&|q| q.filter.evidence = Some(p2_bundle.clone())),
        [format!("receipt {p2}"), format!("proposal {p2}")],
        "a proposal's evidence finds the proposal"
    );
    assert_eq!(
        by(&|q| {
            q.filter.object_type = some("invoice");
            q.filter.object_id = some("INV-3");
        }),
        [format!("evidence {r2}")]
    );
    assert!(by(&|q| q.filter.tenant = some("nobody")).is_empty());
}

fn free_text_finds_proposals_by_capability_target_principal_and_reason(engine: Backend) {
    let Some((_d, ledger, ids)) = seeded_on(engine) else {
        return;
    };
    let [_, p1, _, p2] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    let text = |t: &str| kinds(&ledger, &query(|q| q.text = some(t)));
    assert_eq!(
        text("goodwill"),
        [format!("proposal {p1}")],
        "the model's reason"
    );
    assert_eq!(
        text("escalated"),
        [format!("proposal {p2}")],
        "the reviewer's reason"
    );
    assert_eq!(
        text("INV-4"),
        [format!("proposal {p2}")],
        "the target's row"
    );
    assert_eq!(text("agent_1").len(), 2, "the principal");
    assert_eq!(text("billing.propose_waiver").len(), 2, "the capability");
    assert!(
        text("customer goodwill").is_empty(),
        "every word must match"
    );
    assert!(
        text("\"unbalanced OR").is_empty(),
        "quotes and operators are plain words"
    );
}

/// The index is filled by searches: a reason a reviewer gives after one search is found by
/// the next (its proposal's entry is rewritten), and only on that proposal.
fn a_reason_given_after_a_search_is_found_by_the_next_search(engine: Backend) {
    let Some((_d, ledger, ids)) = seeded_on(engine) else {
        return;
    };
    let p1 = &ids[1];
    let text = |t: &str| kinds(&ledger, &query(|q| q.text = some(t)));
    assert!(text("latecomer").is_empty(), "indexes everything so far");
    let hash = ledger.proposal(p1).unwrap().proposal_hash;
    decide(
        &ledger,
        p1,
        Verdict::Reject,
        "ann",
        Some("latecomer reason"),
        &hash,
        1,
    )
    .unwrap();
    assert_eq!(text("latecomer"), [format!("proposal {p1}")]);
    assert_eq!(text("goodwill latecomer"), [format!("proposal {p1}")]);
    assert_eq!(text("escalated").len(), 1, "the other entry is untouched");
    assert_eq!(ledger.index_for_search().wait().unwrap(), 0, "up to date");
}

fn pages_follow_their_cursor_without_gaps_or_repeats(engine: Backend) {
    let Some((_d, ledger, t)) = open_stamped_on(engine) else {
        return;
    };
    let cfg = config("review");
    let mut expected = Vec::new();
    for i in 0..23 {
        if i % 3 == 0 {
            let (cs, _) = propose(
                &ledger,
                &cfg,
                &row(&format!("INV-{i}"), 5500),
                "r",
                &t.next(),
            )
            .unwrap();
            expected.push(cs.proposal_id);
        } else {
            expected.push(read(&ledger, "acme", "agent_1", &format!("INV-{i}")));
        }
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut after: Option<ActivityCursor> = None;
    let mut pages = 0;
    loop {
        let page = ledger
            .activity(&query(|q| {
                q.filter.limit = Some(5);
                q.after = after.clone();
            }))
            .unwrap();
        pages += 1;
        seen.extend(
            page.items
                .iter()
                .map(|i| i.proposal.clone().or(i.evidence.clone()).unwrap()),
        );
        match page.next {
            Some(c) => {
                let text = c.encode();
                assert_eq!(ActivityCursor::parse(&text), Some(c.clone()));
                after = Some(c);
            }
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 5);
}

#[test]
fn cursors_that_were_not_printed_are_refused() {
    for bad in [
        "",
        "a1.",
        "a1.zz.1.2",
        "a1.61.9.2",
        "a1.61.1.-2",
        "b1.61.1.2",
        "a1.61.1.2.3",
    ] {
        assert_eq!(ActivityCursor::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn the_feed_tails_follows_and_filters_by_event_id() {
    let (_d, ledger, ids) = seeded();
    let p2 = &ids[3];
    let all = ledger
        .tail_events(&EventFilter {
            limit: Some(200),
            ..EventFilter::default()
        })
        .unwrap();
    assert!(
        all.windows(2).all(|w| w[0].event_id < w[1].event_id),
        "oldest first"
    );
    let newest3 = ledger
        .tail_events(&EventFilter {
            limit: Some(3),
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(newest3.len(), 3);
    assert_eq!(newest3[2].event_id, all.last().unwrap().event_id);
    let approved = ledger
        .tail_events(&EventFilter {
            kind: some("proposal_approved"),
            limit: Some(20),
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(approved.len(), 1);
    assert_eq!(&approved[0].proposal_id, p2);
    assert_eq!(approved[0].actor, "ann");
    let by_ann = ledger
        .tail_events(&EventFilter {
            actor: some("ann"),
            limit: Some(20),
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(by_ann.len(), 1);
    let after = ledger
        .events_after(&EventFilter {
            after_event_id: Some(all[1].event_id),
            limit: Some(2),
            ..EventFilter::default()
        })
        .unwrap();
    let after: Vec<i64> = after.iter().map(|e| e.event_id).collect();
    assert_eq!(after, [all[2].event_id, all[3].event_id]);
}

fn a_webhook_cursor_only_moves_forward_and_dead_letters_are_listed(engine: Backend) {
    let Some((_d, ledger, ids)) = seeded_on(engine) else {
        return;
    };
    let p2 = &ids[3];
    assert_eq!(ledger.webhook_cursor("hook").unwrap(), 0);
    ledger.advance_webhook_cursor("hook", 4).wait().unwrap();
    ledger.advance_webhook_cursor("hook", 2).wait().unwrap();
    assert_eq!(ledger.webhook_cursor("hook").unwrap(), 4);
    assert_eq!(ledger.webhook_cursor("other").unwrap(), 0);
    ledger
        .record_dead_letter(DeadLetterRecord {
            cursor_name: "hook".into(),
            event_id: 6,
            proposal_id: p2.clone(),
            kind: "proposal_approved".into(),
            attempts: 3,
            last_error: "webhook returned HTTP 500".into(),
        })
        .wait()
        .unwrap();
    assert_eq!(
        ledger.webhook_cursor("hook").unwrap(),
        6,
        "moved past the dead letter"
    );
    assert_eq!(ledger.dead_letters("hook").unwrap().len(), 1);
    let page = ledger
        .activity(&query(|q| q.filter.status = some("webhook_dead_letter")))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let d = &page.items[0];
    assert_eq!(d.kind, "webhook-dead-letter");
    assert_eq!(d.proposal.as_deref(), Some(p2.as_str()));
    assert_eq!(d.event_id, Some(6));
    assert_eq!(d.attempts, Some(3));
    assert_eq!(d.webhook.as_deref(), Some("hook"));
    let by_proposal = kinds(&ledger, &query(|q| q.filter.proposal = Some(p2.clone())));
    assert_eq!(by_proposal[0], format!("webhook-dead-letter {p2}"));
    assert!(
        kinds(&ledger, &query(|q| q.filter.tenant = some("acme")))
            .iter()
            .all(|k| !k.starts_with("webhook")),
        "a tenant filter leaves dead letters out"
    );
}

/// `store stats` reads counts kept by triggers; they agree with counting every table, items
/// added to a bundle after it was recorded included.
#[test]
fn kept_counts_match_the_tables() {
    let (dir, ledger, _) = seeded();
    read(&ledger, "acme", "agent_1", "INV-1");
    let s = ledger.stats().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("ledger.db")).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(s.proposals, count("SELECT COUNT(*) FROM proposals"));
    assert_eq!(
        s.evidence_bundles,
        count("SELECT COUNT(*) FROM evidence_bundles")
    );
    assert_eq!(
        s.evidence_items,
        count("SELECT SUM(json_array_length(items_json)) FROM evidence_bundles")
    );
    assert_eq!(s.query_audit, count("SELECT COUNT(*) FROM query_audit"));
    assert_eq!(
        s.proposal_events,
        count("SELECT COUNT(*) FROM proposal_events")
    );
    assert_eq!(s.approvals, 1);
    assert_eq!(s.writeback_receipts, 1);
    assert_eq!(s.writeback_jobs, 1);
    assert!(
        s.evidence_items > s.evidence_bundles,
        "proposals add items to their bundles"
    );
}

/// A word every proposal has pages through all of them, newest first, each once.
#[test]
fn text_search_pages_through_a_common_word() {
    let (_d, ledger, t) = open_stamped();
    let cfg = config("review");
    let mut expected = Vec::new();
    for i in 0..12 {
        let (cs, _) = propose(
            &ledger,
            &cfg,
            &row(&format!("INV-{i}"), 5500),
            "common",
            &t.next(),
        )
        .unwrap();
        expected.push(cs.proposal_id);
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = ledger
            .activity(&query(|q| {
                q.text = some("common");
                q.filter.limit = Some(5);
                q.after = after.clone();
            }))
            .unwrap();
        seen.extend(page.items.iter().map(|i| i.proposal.clone().unwrap()));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}
