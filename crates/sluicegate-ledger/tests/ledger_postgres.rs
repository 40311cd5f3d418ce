//! What only a PostgreSQL ledger has: schema versions an operator migrates, the refusal of
//! commands not built for it yet, and many servers sharing one ledger. Each test uses a
//! database of its own (`common::postgres_database`); without a server they fail under CI=true.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sluicegate_core::decision::Verdict;
use sluicegate_ledger::{
    Durability, EventFilter, Filter, Ledger, LedgerError, POSTGRES_SCHEMA_VERSION, PruneRule,
    StoredEvent,
};

use common::*;

fn query(db: &sluicegate_test_support::engines::TestDatabase, sql: &str) {
    sluicegate_test_support::app_db::block_on(db.execute(sql));
}

/// A fresh database without the ledger's schema.
fn empty_database() -> Option<sluicegate_test_support::engines::TestDatabase> {
    sluicegate_test_support::app_db::block_on(
        sluicegate_test_support::engines::TestDatabase::create(
            sluicegate_test_support::engines::EngineKind::Postgres,
            "ledger_schema",
        ),
    )
}

#[test]
fn a_ledger_opens_only_after_store_migrate_and_migrating_twice_changes_nothing() {
    let Some(db) = empty_database() else {
        return;
    };
    let err = Ledger::open_postgres(db.url(), "$L", Durability::Full).unwrap_err();
    assert_eq!(err.code(), Some("LEDGER_SCHEMA_OUTDATED"));
    assert!(
        err.to_string().contains(&format!(
            "older than this build's ({POSTGRES_SCHEMA_VERSION}); run `sluicegate store migrate`"
        )),
        "{err}"
    );
    assert!(matches!(
        err,
        LedgerError::SchemaOutdated { found: 0, supported } if supported == POSTGRES_SCHEMA_VERSION
    ));

    let first = Ledger::migrate_postgres(db.url()).unwrap();
    assert_eq!((first.from, first.to), (0, POSTGRES_SCHEMA_VERSION));
    assert!(first.changed());
    let again = Ledger::migrate_postgres(db.url()).unwrap();
    assert_eq!(
        (again.from, again.to),
        (POSTGRES_SCHEMA_VERSION, POSTGRES_SCHEMA_VERSION)
    );
    assert!(!again.changed());
    let ledger = Ledger::open_postgres(db.url(), "$L", Durability::Full).unwrap();
    assert_eq!(ledger.engine(), "postgres");
    assert_eq!(ledger.path().display().to_string(), "$L");
    assert!(ledger.is_available());
    assert_eq!(ledger.stats().unwrap().proposals, 0);
}

/// A ledger a newer build migrated is refused, by servers and by `store migrate` alike.
#[test]
fn a_newer_schema_is_refused() {
    let Some(db) = postgres_database() else {
        return;
    };
    query(
        &db,
        &format!(
            "INSERT INTO sluicegate_schema (version) VALUES ({})",
            POSTGRES_SCHEMA_VERSION + 1
        ),
    );
    let err = Ledger::open_postgres(db.url(), "$L", Durability::Full).unwrap_err();
    assert!(matches!(err, LedgerError::TooNew { .. }), "{err:?}");
    assert!(err.to_string().contains("upgrade sluicegate"), "{err}");
    let err = Ledger::migrate_postgres(db.url()).unwrap_err();
    assert!(matches!(err, LedgerError::TooNew { .. }), "{err:?}");
}

/// A URL that cannot be reached or parsed is refused without the URL or its password in
/// the message.
#[test]
fn a_bad_url_is_refused_without_showing_it() {
    let port = sluicegate_test_support::engines::unused_local_port();
    for url in [
        format!("postgres://ledger:hunter2secret@127.0.0.1:{port}/ledger"),
        "postgres://ledger:hunter2secret@127.0.0.1:notaport/ledger".to_string(),
    ] {
        let err = Ledger::open_postgres(&url, "$L", Durability::Full).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2secret"), "{text}");
        let err = Ledger::migrate_postgres(&url).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2secret"), "{text}");
    }
}

#[test]
fn durability_follows_the_config() {
    let Some(db) = postgres_database() else {
        return;
    };
    for durability in [Durability::Full, Durability::Relaxed] {
        let ledger = Ledger::open_postgres(db.url(), "$L", durability).unwrap();
        assert_eq!(ledger.durability_in_force().wait().unwrap(), durability);
    }
}

/// Commands not built for PostgreSQL yet refuse with one typed code naming the command.
#[test]
fn commands_not_built_for_postgres_refuse_with_a_typed_error() {
    let Some((_db, ledger)) = open(Backend::Postgres) else {
        return;
    };
    let check = |what: &str, err: LedgerError| {
        assert_eq!(
            err.code(),
            Some("LEDGER_FEATURE_UNAVAILABLE"),
            "{what}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(what) && text.contains("on a PostgreSQL ledger"),
            "{text}"
        );
    };
    // `store vacuum` is PostgreSQL's own work: its code, and what to run instead.
    let vacuum = ledger.vacuum().unwrap_err();
    assert_eq!(vacuum.code(), Some("LEDGER_VACUUM_BY_POSTGRES"), "{vacuum}");
    assert!(
        vacuum.to_string().contains("autovacuum")
            && vacuum.to_string().contains("VACUUM (ANALYZE);"),
        "{vacuum}"
    );
    let rule = PruneRule {
        older_than: None,
        keep: Some(1),
        dry_run: true,
    };
    check("store prune", ledger.prune(rule).wait().unwrap_err());
    check(
        "shadow actions",
        ledger
            .record_shadow_action("wrp_x", "ann", serde_json::Map::new(), None)
            .wait()
            .unwrap_err(),
    );
    check(
        "shadow proposals",
        ledger.shadow_proposal_ids(5).unwrap_err(),
    );
}

/// Two servers on one ledger, both recording the same calls and deciding the same proposals
/// at once, while a third follows the event feed: every proposal recorded once (the other
/// call deduplicated), one decision each (the other refused as SQLite refuses a second
/// decision), every note kept, every chain intact, and the follower sees every event exactly
/// once, each proposal's events in chain order.
#[test]
fn two_servers_share_one_ledger_without_lost_or_duplicate_records() {
    const N: usize = 30;
    let Some(db) = postgres_database() else {
        return;
    };
    let open = || Ledger::open_postgres(db.url(), "$L", Durability::Relaxed).unwrap();
    let servers = [open(), open()];
    let follower = open();
    let writing = Arc::new(AtomicBool::new(true));
    let expected = Arc::new(AtomicUsize::new(usize::MAX));

    let feed = {
        let (writing, expected) = (writing.clone(), expected.clone());
        std::thread::spawn(move || {
            let mut seen: Vec<StoredEvent> = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let page = follower
                    .events_after(&EventFilter {
                        after_event_id: Some(seen.last().map_or(0, |e| e.event_id)),
                        limit: Some(7),
                        ..EventFilter::default()
                    })
                    .unwrap();
                let empty = page.is_empty();
                seen.extend(page);
                if !writing.load(Ordering::SeqCst) && seen.len() >= expected.load(Ordering::SeqCst)
                {
                    return seen;
                }
                assert!(
                    Instant::now() < deadline,
                    "the feed stalled at {}",
                    seen.len()
                );
                if empty {
                    // Polling a feed that has nothing new yet (with the deadline above).
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        })
    };

    let cfg = config("review");
    let outcomes: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = servers
            .iter()
            .enumerate()
            .map(|(server, ledger)| {
                let cfg = &cfg;
                s.spawn(move || {
                    let (mut deduplicated, mut decided, mut refusals) = (0, 0, Vec::new());
                    for k in 0..N {
                        // Both servers get the same call at the same instant.
                        let at = format!("2026-06-20T14:31:{:02}.000Z", k % 60);
                        let (cs, dedup) =
                            propose(ledger, cfg, &row(&format!("INV-{k}"), 100), "r", &at).unwrap();
                        deduplicated += usize::from(dedup);
                        let p = ledger.proposal(&cs.proposal_id).unwrap();
                        let verdict = decide(
                            ledger,
                            &cs.proposal_id,
                            Verdict::Approve,
                            &format!("reviewer-{server}"),
                            None,
                            &p.proposal_hash,
                            1,
                        );
                        match verdict {
                            Ok(_) => decided += 1,
                            Err(e) => refusals.push(e.code().unwrap_or("?").to_string()),
                        }
                        ledger
                            .record_note(
                                &cs.proposal_id,
                                "note_recorded",
                                &format!("server-{server}"),
                                serde_json::json!({"k": k}),
                            )
                            .wait()
                            .unwrap();
                    }
                    // Then as a busy server: many notes queued at once (so the writer
                    // commits them in groups), on the proposals the other server is
                    // writing to, in the opposite order.
                    let mut order: Vec<usize> = (0..N).collect();
                    if server == 1 {
                        order.reverse();
                    }
                    let ids: Vec<String> = ledger
                        .list_proposals(&Filter::default())
                        .unwrap()
                        .into_iter()
                        .map(|p| p.proposal_id)
                        .collect();
                    let pending: Vec<_> = order
                        .iter()
                        .map(|&k| {
                            ledger.record_note(
                                &ids[k % ids.len()],
                                "note_recorded",
                                &format!("busy-server-{server}"),
                                serde_json::json!({"k": k}),
                            )
                        })
                        .collect();
                    for p in pending {
                        p.wait().unwrap();
                    }
                    (deduplicated, decided, refusals)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ledger = &servers[0];
    let total_events = usize::try_from(ledger.stats().unwrap().proposal_events).unwrap();
    expected.store(total_events, Ordering::SeqCst);
    writing.store(false, Ordering::SeqCst);
    let seen = feed.join().unwrap();

    let deduplicated: usize = outcomes.iter().map(|o| o.0).sum();
    let decided: usize = outcomes.iter().map(|o| o.1).sum();
    let refusals: Vec<&String> = outcomes.iter().flat_map(|o| &o.2).collect();
    assert_eq!(
        deduplicated, N,
        "one of the two identical calls deduplicated"
    );
    assert_eq!(decided, N, "one decision per proposal");
    assert_eq!(refusals.len(), N);
    assert!(
        refusals.iter().all(|c| *c == "PROPOSAL_NOT_PENDING_REVIEW"),
        "{refusals:?}"
    );
    let proposals = ledger.list_proposals(&Filter::default()).unwrap();
    assert_eq!(proposals.len(), N);
    let stats = ledger.stats().unwrap();
    assert_eq!(
        (stats.approvals, stats.evidence_bundles),
        (N as i64, N as i64)
    );
    assert_eq!(
        stats.query_audit,
        3 * N as i64,
        "two reads, one proposal audit"
    );
    for p in &proposals {
        assert_eq!(p.state, "approved");
        let kinds: Vec<String> = ledger
            .events(&p.proposal_id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "proposal_created",
                "evidence_recorded",
                "proposal_approved",
                "note_recorded",
                "note_recorded",
                "note_recorded",
                "note_recorded"
            ]
        );
        assert_eq!(ledger.decisions(&p.proposal_id).unwrap().len(), 1);
    }
    assert_eq!(total_events, 7 * N);
    let report = ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.events, total_events as u64);

    // Exactly once.
    let ids: Vec<i64> = seen.iter().map(|e| e.event_id).collect();
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no event twice");
    assert_eq!(ids.len(), total_events, "no event missed");
    // Each proposal's events in chain order: each links to the one the feed gave before it.
    let mut last: HashMap<&str, &str> = HashMap::new();
    for e in &seen {
        if let Some(prev) = last.get(e.proposal_id.as_str()) {
            assert_eq!(
                *prev, e.prev_hash,
                "event {} out of chain order",
                e.event_id
            );
        } else {
            assert_eq!(e.kind, "proposal_created");
        }
        last.insert(&e.proposal_id, &e.chain_hash);
    }
    // The tail agrees with the follower about the order.
    let tail = ledger
        .tail_events(&EventFilter {
            limit: Some(total_events as u32),
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(
        tail.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        ids,
        "tail and follow give one order"
    );
    assert_eq!(
        ledger.last_event_id().unwrap(),
        *ids.last().unwrap(),
        "the last event id is the feed's last"
    );
}

/// Someone with write access to the ledger's database: the schema refuses accidental edits of
/// facts, and `store verify` finds a deliberate one (triggers disabled first).
#[test]
fn the_schema_refuses_edits_of_facts_and_verify_finds_a_deliberate_one() {
    let Some((guard, ledger)) = open(Backend::Postgres) else {
        return;
    };
    let cfg = config("review");
    let (cs, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let id = cs.proposal_id.clone();
    let hash = ledger.proposal(&id).unwrap().proposal_hash;
    decide(&ledger, &id, Verdict::Approve, "ann", Some("ok"), &hash, 1).unwrap();
    let url = guard.url().to_string();
    let run = |sql: &str| {
        sluicegate_test_support::app_db::block_on(sluicegate_test_support::engines::execute_on(
            sluicegate_test_support::engines::EngineKind::Postgres,
            &url,
            sql,
        ))
    };
    for sql in [
        "UPDATE approvals SET status = 'rejected'",
        "DELETE FROM approvals",
        "UPDATE proposal_events SET actor = 'x'",
        "DELETE FROM proposal_events",
        "UPDATE proposals SET change_set_json = '{}'",
        "UPDATE proposals SET proposal_hash = 'sha256:00'",
        "DELETE FROM proposals",
    ] {
        let err = run(sql).unwrap_err();
        assert!(
            err.contains("append-only") || err.contains("never changes") || err.contains("kept"),
            "{sql}: {err}"
        );
    }
    assert!(ledger.verify(&[]).unwrap().ok());
    // The projection moves (the writer moves it), and verify checks it against the records.
    run(&format!(
        "UPDATE proposals SET state = 'pending_review' WHERE proposal_id = '{id}'"
    ))
    .unwrap();
    let report = ledger.verify(&[]).unwrap();
    let p = report
        .problems
        .iter()
        .find(|p| p.proposal_id == id)
        .unwrap();
    assert_eq!(p.record, "state", "{p:?}");
    // A decision flipped in place, its guard disabled first.
    run(&format!(
        "UPDATE proposals SET state = 'approved' WHERE proposal_id = '{id}';
         ALTER TABLE approvals DISABLE TRIGGER USER;
         UPDATE approvals SET approver = 'mallory' WHERE proposal_id = '{id}'"
    ))
    .unwrap();
    let report = ledger.verify(&[]).unwrap();
    let p = report
        .problems
        .iter()
        .find(|p| p.proposal_id == id)
        .unwrap();
    assert_eq!(p.record, "decision", "{p:?}");
}

/// The ledger's connections cut by the server (a restart, a failover) between calls: the next
/// write and every read connect again and go through, each recorded once.
#[test]
fn dropped_connections_are_made_again() {
    let Some((guard, ledger)) = open(Backend::Postgres) else {
        return;
    };
    let cfg = config("review");
    let at = |i: usize| format!("2026-06-20T14:31:{i:02}.000Z");
    propose(&ledger, &cfg, &row("INV-0", 1), "r", &at(0)).unwrap();
    let database = guard.url().rsplit('/').next().unwrap().to_string();
    let cut = || {
        sluicegate_test_support::app_db::block_on(
            sluicegate_test_support::engines::execute_on(
                sluicegate_test_support::engines::EngineKind::Postgres,
                guard.url(),
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
                ),
            ),
        )
        .unwrap();
    };
    let mut recorded = 1;
    for round in 1..=3 {
        cut();
        // The writer meets the cut when it starts its next transaction, connects again and
        // records the call: nothing was written on the old connection, so nothing is lost
        // or doubled.
        propose(
            &ledger,
            &cfg,
            &row(&format!("INV-{round}a"), 1),
            "r",
            &at(round),
        )
        .unwrap();
        propose(
            &ledger,
            &cfg,
            &row(&format!("INV-{round}b"), 1),
            "r",
            &at(round),
        )
        .unwrap();
        recorded += 2;
    }
    // Reads run again on a new connection when theirs was cut: none of them fails.
    cut();
    let listed = ledger.list_proposals(&Filter::default()).unwrap();
    assert_eq!(listed.len(), recorded);
    for p in &listed {
        ledger.proposal(&p.proposal_id).unwrap();
    }
    assert!(ledger.verify(&[]).unwrap().ok());
}

/// A webhook cursor moves forward in the feed's order, not by event id: an event committed by
/// a transaction that began earlier comes first in the feed though its id is larger, and a
/// cursor on it still moves on to the smaller id that follows it.
#[test]
fn a_webhook_cursor_moves_forward_in_feed_order() {
    let Some((guard, ledger)) = open(Backend::Postgres) else {
        return;
    };
    let (cs, _) = propose(
        &ledger,
        &config("review"),
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let url = guard.url().to_string();
    let id = cs.proposal_id.clone();
    // Two raw sessions: the first takes its transaction id, the second inserts and commits an
    // event (drawing the smaller event id), then the first inserts and commits its own.
    let (early, late) = std::thread::spawn(move || {
        let connect = || postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let (mut a, mut b) = (connect(), connect());
        let insert = "INSERT INTO proposal_events (proposal_id, kind, actor, payload_json, created_at, prev_hash, chain_hash) VALUES ($1, 'note', 'test', '{}', '2026-06-20T14:32:00.000Z', 'x', 'y') RETURNING event_id";
        let mut ta = a.transaction().unwrap();
        ta.query_one("SELECT pg_current_xact_id()", &[]).unwrap();
        let mut tb = b.transaction().unwrap();
        let smaller: i64 = tb.query_one(insert, &[&id]).unwrap().get(0);
        tb.commit().unwrap();
        let larger: i64 = ta.query_one(insert, &[&id]).unwrap().get(0);
        ta.commit().unwrap();
        (larger, smaller)
    })
    .join()
    .unwrap();
    assert!(early > late, "ids {early} and {late}");
    // The feed hands both out once every transaction older than theirs on the server has
    // ended (other tests' too): poll it, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    let feed: Vec<i64> = loop {
        let feed: Vec<i64> = ledger
            .events_after(&EventFilter {
                after_event_id: Some(0),
                ..EventFilter::default()
            })
            .unwrap()
            .iter()
            .map(|e| e.event_id)
            .collect();
        if feed.contains(&early) && feed.contains(&late) {
            break feed;
        }
        assert!(Instant::now() < deadline, "the feed holds {feed:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let at = |id| feed.iter().position(|e| *e == id).unwrap();
    assert!(at(early) < at(late), "feed order {feed:?}");
    ledger.advance_webhook_cursor("hook", early).wait().unwrap();
    ledger.advance_webhook_cursor("hook", late).wait().unwrap();
    assert_eq!(ledger.webhook_cursor("hook").unwrap(), late, "moved on");
    ledger.advance_webhook_cursor("hook", early).wait().unwrap();
    assert_eq!(ledger.webhook_cursor("hook").unwrap(), late, "never back");
    let rest = ledger
        .events_after(&EventFilter {
            after_event_id: Some(late),
            ..EventFilter::default()
        })
        .unwrap();
    assert!(rest.is_empty(), "nothing after the cursor: {rest:?}");
}
