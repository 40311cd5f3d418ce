//! The worker's work queue on a real ledger, with a clock the test moves (no sleeps): an
//! approved proposal is claimable exactly once at a time; a lease that runs out is taken
//! over and the old holder's token no longer records anything; failures back off and end as
//! a dead letter that `activity search` and the event feed show; work that no longer needs a
//! worker is closed. The same story runs on SQLite and on PostgreSQL (`both!`; each
//! PostgreSQL test has a database of its own and fails without a server under CI=true).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sluicegate_core::decision::Verdict;
use sluicegate_ledger::{
    ActivityQuery, Claim, Clock, EventFilter, Failed, Filter, Ledger, LedgerError,
    WORKER_DEAD_LETTER,
};

use common::*;

/// A clock that stands still until the test moves it.
#[derive(Clone)]
struct Hands(Arc<Mutex<DateTime<Utc>>>);

impl Hands {
    fn new() -> Hands {
        Hands(Arc::new(Mutex::new(
            DateTime::parse_from_rfc3339("2026-06-20T15:00:00.000Z")
                .unwrap()
                .with_timezone(&Utc),
        )))
    }

    fn clock(&self) -> Clock {
        let t = self.0.clone();
        Arc::new(move || {
            t.lock()
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
    }

    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(secs);
    }
}

const LEASE: Duration = Duration::from_secs(30);

fn open(engine: Backend) -> Option<(Guard, Ledger, Hands)> {
    let hands = Hands::new();
    match engine {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let ledger =
                Ledger::open_with_clock(&dir.path().join("ledger.db"), hands.clock()).unwrap();
            Some((Guard::Dir(dir), ledger, hands))
        }
        Backend::Postgres => {
            let db = postgres_database()?;
            let ledger = Ledger::open_postgres_with_clock(
                db.url(),
                "$TEST_LEDGER_URL",
                sluicegate_ledger::Durability::Full,
                hands.clock(),
            )
            .unwrap();
            Some((Guard::Database(db), ledger, hands))
        }
    }
}

both!(
    an_approved_proposal_is_claimed_by_one_worker_at_a_time,
    an_expired_lease_is_taken_over_and_the_old_holder_can_record_nothing,
    a_released_claim_is_claimable_at_once_and_not_counted,
    failures_back_off_then_end_as_a_dead_letter_in_activity_and_events,
    queued_work_that_no_longer_needs_a_worker_is_closed,
    a_lease_of_zero_is_refused,
    claims_are_shared_out_between_workers,
    dead_letters_page_with_the_rest_of_the_activity,
    secret_material_in_an_error_or_a_worker_id_is_refused,
    concurrent_claims_never_hand_out_one_job_twice,
);

/// Record a proposal for invoice `id`; approve it when `approve`.
fn proposal(ledger: &Ledger, id: &str, approve: bool) -> String {
    let cfg = config("review");
    let (cs, _) = propose(
        ledger,
        &cfg,
        &row(id, 2500),
        "grace",
        "2026-06-20T14:00:00.000Z",
    )
    .unwrap();
    if approve {
        let p = ledger.proposal(&cs.proposal_id).unwrap();
        decide(
            ledger,
            &cs.proposal_id,
            Verdict::Approve,
            "ann",
            None,
            &p.proposal_hash,
            p.proposal_version,
        )
        .unwrap();
    }
    cs.proposal_id
}

fn claim(ledger: &Ledger, worker: &str) -> Vec<Claim> {
    ledger.claim_work(worker, LEASE, 10).wait().unwrap()
}

fn refused_code<T: std::fmt::Debug>(r: Result<T, LedgerError>) -> &'static str {
    r.expect_err("refused").code().unwrap()
}

fn an_approved_proposal_is_claimed_by_one_worker_at_a_time(engine: Backend) {
    let Some((_guard, ledger, hands)) = open(engine) else {
        return;
    };
    let waiting = proposal(&ledger, "INV-1", false);
    let approved = proposal(&ledger, "INV-2", true);

    let a = claim(&ledger, "worker-a");
    assert_eq!(a.len(), 1, "only the approved proposal: {a:?}");
    let c = &a[0];
    assert_eq!(
        (c.proposal_id.as_str(), c.fence, c.attempts, c.taken_over),
        (approved.as_str(), 1, 1, false)
    );
    assert_eq!(c.lease_until, "2026-06-20T15:00:30.000Z");
    assert!(claim(&ledger, "worker-b").is_empty(), "held by worker-a");

    hands.advance(10);
    let renewed = ledger.renew_claim(c, LEASE).wait().unwrap();
    assert_eq!(renewed.lease_until, "2026-06-20T15:00:40.000Z");
    ledger.finish_claim(&renewed, "applied").wait().unwrap();
    let item = ledger.work_item(&approved).unwrap().unwrap();
    assert_eq!(item.status, "done");
    assert_eq!(item.last_outcome.as_deref(), Some("applied"));
    assert!(claim(&ledger, "worker-b").is_empty(), "done is done");

    // Approving later makes it claimable then.
    let p = ledger.proposal(&waiting).unwrap();
    assert!(ledger.work_item(&waiting).unwrap().is_none());
    decide(
        &ledger,
        &waiting,
        Verdict::Approve,
        "ann",
        None,
        &p.proposal_hash,
        p.proposal_version,
    )
    .unwrap();
    let b = claim(&ledger, "worker-b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].proposal_id, waiting);
}

fn an_expired_lease_is_taken_over_and_the_old_holder_can_record_nothing(engine: Backend) {
    let Some((_guard, ledger, hands)) = open(engine) else {
        return;
    };
    let id = proposal(&ledger, "INV-1", true);
    let old = claim(&ledger, "worker-a").remove(0);

    hands.advance(29);
    assert!(
        claim(&ledger, "worker-b").is_empty(),
        "the lease still runs"
    );
    hands.advance(1);
    let new = claim(&ledger, "worker-b");
    assert_eq!(new.len(), 1, "taken over the moment the lease ran out");
    let new = &new[0];
    assert_eq!(
        (new.fence, new.attempts, new.taken_over),
        (old.fence + 1, 2, true)
    );

    // Every step of the old holder is refused, and changes nothing.
    let before = ledger.work_item(&id).unwrap();
    assert_eq!(
        refused_code(ledger.finish_claim(&old, "applied").wait()),
        "CLAIM_LOST"
    );
    assert_eq!(
        refused_code(ledger.fail_claim(&old, "boom", None).wait()),
        "CLAIM_LOST"
    );
    assert_eq!(
        refused_code(ledger.fail_claim(&old, "boom", Some(LEASE)).wait()),
        "CLAIM_LOST"
    );
    assert_eq!(
        refused_code(ledger.renew_claim(&old, LEASE).wait()),
        "CLAIM_LOST"
    );
    assert_eq!(
        refused_code(ledger.release_claim(&old).wait()),
        "CLAIM_LOST"
    );
    let message = ledger
        .finish_claim(&old, "applied")
        .wait()
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("fence 2") && message.contains("worker-b"),
        "{message}"
    );
    assert_eq!(ledger.work_item(&id).unwrap(), before);
    assert!(ledger.worker_dead_letters(&id).unwrap().is_empty());

    ledger.finish_claim(new, "applied").wait().unwrap();
    // Finished, the new holder's token is spent too.
    assert_eq!(
        refused_code(ledger.finish_claim(new, "applied").wait()),
        "CLAIM_LOST"
    );
}

fn a_released_claim_is_claimable_at_once_and_not_counted(engine: Backend) {
    let Some((_guard, ledger, _hands)) = open(engine) else {
        return;
    };
    let id = proposal(&ledger, "INV-1", true);
    let c = claim(&ledger, "worker-a").remove(0);
    ledger.release_claim(&c).wait().unwrap();
    let again = claim(&ledger, "worker-b").remove(0);
    assert_eq!(again.proposal_id, id);
    assert_eq!(
        (again.fence, again.attempts, again.taken_over),
        (2, 1, false)
    );
}

fn failures_back_off_then_end_as_a_dead_letter_in_activity_and_events(engine: Backend) {
    let Some((_guard, ledger, hands)) = open(engine) else {
        return;
    };
    let id = proposal(&ledger, "INV-1", true);
    let first = claim(&ledger, "worker-a").remove(0);
    let retry = ledger
        .fail_claim(
            &first,
            "DATABASE_UNAVAILABLE",
            Some(Duration::from_secs(10)),
        )
        .wait()
        .unwrap();
    assert_eq!(
        retry,
        Failed::Retry {
            due_at: "2026-06-20T15:00:10.000Z".into()
        }
    );
    assert!(claim(&ledger, "worker-a").is_empty(), "backing off");
    hands.advance(10);
    let second = claim(&ledger, "worker-a").remove(0);
    assert_eq!((second.fence, second.attempts), (2, 2));
    let item = ledger.work_item(&id).unwrap().unwrap();
    assert_eq!(item.last_error.as_deref(), Some("DATABASE_UNAVAILABLE"));

    let dead = ledger
        .fail_claim(&second, "DATABASE_UNAVAILABLE: still down", None)
        .wait()
        .unwrap();
    let Failed::DeadLetter { dead_letter_id } = dead else {
        panic!("{dead:?}")
    };
    assert_eq!(ledger.work_item(&id).unwrap().unwrap().status, "dead");
    hands.advance(3600);
    assert!(
        claim(&ledger, "worker-b").is_empty(),
        "a dead letter stays put"
    );

    let letters = ledger.worker_dead_letters(&id).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].dead_letter_id, dead_letter_id);
    assert_eq!(
        (letters[0].worker_id.as_str(), letters[0].attempts),
        ("worker-a", 2)
    );

    {
        // `activity search`: by default, by its status, and by its proposal.
        for q in [
            ActivityQuery::default(),
            ActivityQuery {
                filter: Filter {
                    status: Some(WORKER_DEAD_LETTER.into()),
                    ..Filter::default()
                },
                ..ActivityQuery::default()
            },
            ActivityQuery {
                filter: Filter {
                    proposal: Some(id.clone()),
                    ..Filter::default()
                },
                ..ActivityQuery::default()
            },
        ] {
            let page = ledger.activity(&q).unwrap();
            let item = page
                .items
                .iter()
                .find(|i| i.kind == "worker-dead-letter")
                .unwrap_or_else(|| panic!("{:?}", page.items));
            assert_eq!(item.proposal.as_deref(), Some(id.as_str()));
            assert_eq!(item.worker.as_deref(), Some("worker-a"));
            assert_eq!(item.attempts, Some(2));
            assert_eq!(
                item.error.as_deref(),
                Some("DATABASE_UNAVAILABLE: still down")
            );
            assert_eq!(item.status.as_deref(), Some(WORKER_DEAD_LETTER));
        }
        // A filter it cannot match leaves it out.
        let by_tenant = ledger
            .activity(&ActivityQuery {
                filter: Filter {
                    tenant: Some("acme".into()),
                    ..Filter::default()
                },
                ..ActivityQuery::default()
            })
            .unwrap();
        assert!(
            by_tenant
                .items
                .iter()
                .all(|i| i.kind != "worker-dead-letter")
        );
    }
    // A chained event on the proposal, and the chain still verifies. On PostgreSQL the feed
    // hands out an event once every transaction older than its own has ended on the server,
    // other tests' included: poll it, with a deadline.
    let dead_lettered = EventFilter {
        kind: Some("writeback_dead_lettered".into()),
        limit: Some(10),
        ..EventFilter::default()
    };
    let events = sluicegate_test_support::poll::until(
        std::time::Duration::from_secs(30),
        || ledger.tail_events(&dead_lettered).unwrap(),
        |events| !events.is_empty(),
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "worker-a");
    let verified = ledger.verify_proposal(&id, &[]).unwrap();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
}

fn queued_work_that_no_longer_needs_a_worker_is_closed(engine: Backend) {
    let Some((_guard, ledger, _hands)) = open(engine) else {
        return;
    };
    let id = proposal(&ledger, "INV-1", true);
    let p = ledger.proposal(&id).unwrap();
    decide(
        &ledger,
        &id,
        Verdict::Reject,
        "ann",
        Some("not now"),
        &p.proposal_hash,
        p.proposal_version,
    )
    .unwrap();
    assert!(claim(&ledger, "worker-a").is_empty());
    let item = ledger.work_item(&id).unwrap().unwrap();
    assert_eq!(item.status, "done");
    assert_eq!(
        item.last_outcome.as_deref(),
        Some("closed: the proposal is rejected")
    );
}

fn a_lease_of_zero_is_refused(engine: Backend) {
    let Some((_guard, ledger, _hands)) = open(engine) else {
        return;
    };
    proposal(&ledger, "INV-1", true);
    let r = ledger.claim_work("worker-a", Duration::ZERO, 1).wait();
    assert_eq!(refused_code(r), "CLAIM_LEASE_INVALID");
    let c = claim(&ledger, "worker-a").remove(0);
    assert_eq!(
        refused_code(ledger.renew_claim(&c, Duration::ZERO).wait()),
        "CLAIM_LEASE_INVALID"
    );
}

fn claims_are_shared_out_between_workers(engine: Backend) {
    let Some((_guard, ledger, _hands)) = open(engine) else {
        return;
    };
    let ids: Vec<String> = (0..6)
        .map(|i| proposal(&ledger, &format!("INV-{i}"), true))
        .collect();
    let a = ledger.claim_work("worker-a", LEASE, 4).wait().unwrap();
    let b = ledger.claim_work("worker-b", LEASE, 4).wait().unwrap();
    assert_eq!((a.len(), b.len()), (4, 2));
    let mut all: Vec<String> = a.iter().chain(&b).map(|c| c.proposal_id.clone()).collect();
    all.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(all, want, "every job once");
}

fn secret_material_in_an_error_or_a_worker_id_is_refused(engine: Backend) {
    let Some((_guard, ledger, _hands)) = open(engine) else {
        return;
    };
    let id = proposal(&ledger, "INV-1", true);
    let r = ledger
        .claim_work("postgres://app:hunter2@db/app", LEASE, 1)
        .wait();
    assert_eq!(refused_code(r), "SECRET_MATERIAL_REJECTED");
    let c = claim(&ledger, "worker-a").remove(0);
    let before = ledger.work_item(&id).unwrap();
    for retry in [None, Some(LEASE)] {
        let r = ledger
            .fail_claim(
                &c,
                "DATABASE_UNAVAILABLE: postgres://app:hunter2@db/app",
                retry,
            )
            .wait();
        assert_eq!(refused_code(r), "SECRET_MATERIAL_REJECTED");
    }
    assert_eq!(
        ledger.work_item(&id).unwrap(),
        before,
        "nothing was recorded"
    );
    assert!(ledger.worker_dead_letters(&id).unwrap().is_empty());
}

/// Worker dead letters page through `activity search` with the other kinds: small pages
/// walked by their cursors give exactly the one big page, dead letters sharing an instant
/// included.
fn dead_letters_page_with_the_rest_of_the_activity(engine: Backend) {
    let Some((_guard, ledger, hands)) = open(engine) else {
        return;
    };
    for i in 0..5 {
        proposal(&ledger, &format!("INV-{i}"), true);
    }
    for c in ledger.claim_work("worker-a", LEASE, 3).wait().unwrap() {
        ledger.fail_claim(&c, "BOOM", None).wait().unwrap();
    }
    hands.advance(1);
    for c in ledger.claim_work("worker-b", LEASE, 2).wait().unwrap() {
        ledger.fail_claim(&c, "BOOM", None).wait().unwrap();
    }
    let key = |i: &sluicegate_ledger::ActivityItem| format!("{} {:?}", i.kind, i.proposal);
    let all: Vec<String> = ledger
        .activity(&ActivityQuery {
            filter: Filter {
                limit: Some(200),
                ..Filter::default()
            },
            ..ActivityQuery::default()
        })
        .unwrap()
        .items
        .iter()
        .map(key)
        .collect();
    assert_eq!(
        all.iter()
            .filter(|k| k.starts_with("worker-dead-letter"))
            .count(),
        5,
        "{all:?}"
    );
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = ledger
            .activity(&ActivityQuery {
                filter: Filter {
                    limit: Some(2),
                    ..Filter::default()
                },
                after: after.clone(),
                ..ActivityQuery::default()
            })
            .unwrap();
        walked.extend(page.items.iter().map(key));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(walked, all);
}

/// `store prune` takes a final proposal with its queue row (no foreign key stops it, a trigger
/// removes the row); a dead letter stays, like a webhook's.
#[test]
fn a_pruned_proposal_takes_its_queue_row_with_it() {
    let (_dir, ledger, _hands) = open(Backend::Sqlite).unwrap();
    let id = proposal(&ledger, "INV-1", true);
    let c = claim(&ledger, "worker-a").remove(0);
    ledger.fail_claim(&c, "BOOM", None).wait().unwrap();
    let p = ledger.proposal(&id).unwrap();
    decide(
        &ledger,
        &id,
        Verdict::Reject,
        "ann",
        Some("given up"),
        &p.proposal_hash,
        p.proposal_version,
    )
    .unwrap();
    let report = ledger
        .prune(sluicegate_ledger::PruneRule {
            older_than: None,
            keep: Some(0),
            dry_run: false,
        })
        .wait()
        .unwrap();
    assert_eq!(report.deleted.get("proposals"), Some(&1), "{report:?}");
    assert!(ledger.work_item(&id).unwrap().is_none());
    assert_eq!(ledger.worker_dead_letters(&id).unwrap().len(), 1);
}

/// Claims made at once through separate handles (separate writer connections, as separate
/// worker processes have) never give one job to two workers, and every job is handed out.
fn concurrent_claims_never_hand_out_one_job_twice(engine: Backend) {
    const JOBS: usize = 40;
    let Some((guard, ledger, hands)) = open(engine) else {
        return;
    };
    let ids: Vec<String> = (0..JOBS)
        .map(|i| proposal(&ledger, &format!("INV-{i}"), true))
        .collect();
    let handles: Vec<Ledger> = (0..4)
        .map(|_| match engine {
            Backend::Sqlite => Ledger::open_with_clock(ledger.path(), hands.clock()).unwrap(),
            Backend::Postgres => Ledger::open_postgres_with_clock(
                guard.url(),
                "$TEST_LEDGER_URL",
                sluicegate_ledger::Durability::Full,
                hands.clock(),
            )
            .unwrap(),
        })
        .collect();
    let claimed: Vec<Vec<Claim>> = std::thread::scope(|s| {
        let threads: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(w, l)| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = l
                            .claim_work(&format!("worker-{w}"), LEASE, 3)
                            .wait()
                            .unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got);
                    }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut all: Vec<String> = claimed
        .iter()
        .flatten()
        .map(|c| c.proposal_id.clone())
        .collect();
    assert_eq!(all.len(), JOBS, "each job handed out once: {claimed:?}");
    all.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(all, want);
    assert!(claimed.iter().flatten().all(|c| c.fence == 1));
}
