//! Ledger behaviour: one-transaction records, deduplication, refusals, the lifecycle projection,
//! listings, replay, and consistency after a crash mid-write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;

use serde_json::json;
use sluicegate_core::config::Mode;
use sluicegate_core::decision::Verdict;
use sluicegate_core::evidence::record_read;
use sluicegate_core::writeback::{ExecutorResult, receipt_for};
use sluicegate_ledger::{AttemptRequest, Filter, JobKind, JobRecord, Ledger};
use sluicegate_protocol::ReceiptStatus;

use common::*;

both!(
    a_proposal_call_records_read_proposal_link_and_events_together,
    identical_reads_share_a_bundle_that_lists_both_audits,
    an_identical_proposal_is_deduplicated_not_an_error,
    secret_material_is_refused_and_nothing_is_written,
    another_change_under_a_recorded_id_is_refused_and_its_read_stays,
    decisions_follow_the_lifecycle_and_bind_to_the_hash,
    receipts_for_unapproved_proposals_are_refused,
    shadow_proposals_can_never_be_approved,
    listings_filter_and_limit_in_sql_and_latest_resolves,
    replay_is_derived_from_the_ledger_and_only_recorded_on_request,
    evidence_time_ranges_are_exact,
);

fn a_proposal_call_records_read_proposal_link_and_events_together(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    let (cs, pending) = propose_pending(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    );
    let recorded = pending.wait().unwrap();
    assert!(!recorded.deduplicated);
    let p = ledger.proposal(&cs.proposal_id).unwrap();
    assert_eq!(p.state, "pending_review");
    // The caller is answered with the proposal exactly as stored (each ledger's writer
    // builds the answer from what it inserted rather than reading the row back).
    assert_eq!(
        serde_json::to_value(&recorded.proposal).unwrap(),
        serde_json::to_value(&p).unwrap()
    );
    // Both events link into the proposal's hash chain (the writer knows a new proposal's
    // chain starts at the genesis and links the second event to the first without a lookup).
    let report = ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    let kinds: Vec<String> = ledger
        .events(&cs.proposal_id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["proposal_created", "evidence_recorded"]);
    let bundle = ledger.evidence(&cs.evidence.bundle_id).unwrap();
    assert_eq!(bundle.proposal_id.as_deref(), Some(cs.proposal_id.as_str()));
    let item_kinds: Vec<&str> = bundle
        .items
        .iter()
        .map(|i| i.item["kind"].as_str().unwrap())
        .collect();
    assert_eq!(item_kinds, ["external_row", "proposal_evidence"]);
    assert_eq!(bundle.query_audit.len(), 2, "read audit and proposal audit");
    assert_eq!(
        ledger
            .query_audit_for_proposal(&cs.proposal_id)
            .unwrap()
            .len(),
        1
    );
    // The stored change set is byte-for-byte what was built.
    assert_eq!(p.change_set, serde_json::to_value(&cs).unwrap());
}

/// Two identical reads in the same instant share one bundle (its first record stands), and
/// the bundle lists both audit records, in order.
fn identical_reads_share_a_bundle_that_lists_both_audits(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    let cap = &cfg.capabilities[0];
    let at = "2026-06-20T14:31:09.000Z";
    let first = record_read(cap, &ctx(), &row("INV-1", 5500), 1, &json!("INV-1"), at);
    let again = record_read(cap, &ctx(), &row("INV-1", 5500), 1, &json!("INV-1"), at);
    assert_eq!(
        first.bundle.evidence_bundle_id,
        again.bundle.evidence_bundle_id
    );
    ledger
        .record_read(first.bundle.clone(), first.audit.clone())
        .wait()
        .unwrap();
    ledger
        .record_read(again.bundle, again.audit)
        .wait()
        .unwrap();
    let other = record_read(cap, &ctx(), &row("INV-2", 100), 1, &json!("INV-2"), at);
    ledger
        .record_read(other.bundle.clone(), other.audit.clone())
        .wait()
        .unwrap();

    let bundle = ledger.evidence(&first.bundle.evidence_bundle_id).unwrap();
    assert_eq!(bundle.items.len(), 1, "the first record stands");
    let ids: Vec<i64> = bundle.query_audit.iter().map(|a| a.audit_id).collect();
    assert_eq!(ids, [1, 2]);
    let listed = ledger
        .list_query_audit(&Filter {
            evidence: Some(other.bundle.evidence_bundle_id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].audit_id, 3);
}

fn an_identical_proposal_is_deduplicated_not_an_error(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    let (first, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let (second, dedup) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T15:00:00.000Z",
    )
    .unwrap();
    assert!(dedup);
    assert_eq!(first.proposal_id, second.proposal_id);
    assert_eq!(ledger.list_proposals(&Filter::default()).unwrap().len(), 1);
    // Both reads are on record.
    assert_eq!(ledger.list_evidence(&Filter::default()).unwrap().len(), 2);
}

fn secret_material_is_refused_and_nothing_is_written(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    let mut r = row("INV-1", 5500);
    r.insert("api_token".into(), json!("x"));
    let err = propose(&ledger, &cfg, &r, "goodwill", "2026-06-20T14:31:09.000Z").unwrap_err();
    assert_eq!(err.code(), Some("SECRET_MATERIAL_REJECTED"));
    let stats = ledger.stats().unwrap();
    assert_eq!(
        (stats.proposals, stats.evidence_bundles, stats.query_audit),
        (0, 0, 0)
    );

    // A secret in a free-text argument: the read stays recorded, the proposal does not.
    let err = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "see postgres://u:pw@db/x",
        "2026-06-20T14:31:10.000Z",
    )
    .unwrap_err();
    assert_eq!(err.code(), Some("SECRET_MATERIAL_REJECTED"));
    let stats = ledger.stats().unwrap();
    assert_eq!(
        (stats.proposals, stats.evidence_bundles, stats.query_audit),
        (0, 1, 1)
    );
    if engine == Backend::Sqlite {
        let text = std::fs::read(ledger.path()).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains("u:pw@db"));
    }
}

/// A proposal id already on record with another version is refused before anything of the
/// proposal is written; the read behind it stays on record (it happened).
fn another_change_under_a_recorded_id_is_refused_and_its_read_stays(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    let (first, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let (_, pending) = propose_edited(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:10.000Z",
        |cs| {
            cs.proposal_version = 2;
            let hash = sluicegate_core::proposal::content_hash(cs);
            cs.integrity.as_mut().unwrap().proposal_hash = hash;
        },
    );
    let err = pending.wait().unwrap_err();
    assert_eq!(err.code(), Some("PROPOSAL_IMMUTABILITY_VIOLATION"), "{err}");
    let stats = ledger.stats().unwrap();
    assert_eq!((stats.proposals, stats.evidence_bundles), (1, 2));
    assert_eq!(ledger.events(&first.proposal_id).unwrap().len(), 2);
    assert!(ledger.verify(&[]).unwrap().ok());
}

fn decisions_follow_the_lifecycle_and_bind_to_the_hash(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
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
    let id = &cs.proposal_id;
    let hash = ledger.proposal(id).unwrap().proposal_hash;

    let err = decide(
        &ledger,
        id,
        Verdict::Approve,
        "ann",
        None,
        "sha256:other",
        1,
    )
    .unwrap_err();
    assert_eq!(err.code(), Some("PROPOSAL_HASH_MISMATCH"));
    let err = decide(&ledger, id, Verdict::Approve, "ann", None, &hash, 2).unwrap_err();
    assert_eq!(err.code(), Some("PROPOSAL_VERSION_MISMATCH"));

    let p = decide(&ledger, id, Verdict::Approve, "ann", Some("ok"), &hash, 1).unwrap();
    assert_eq!(p.state, "approved");
    let err = decide(&ledger, id, Verdict::Approve, "ann", None, &hash, 1).unwrap_err();
    assert_eq!(err.code(), Some("PROPOSAL_NOT_PENDING_REVIEW"));

    let p = ledger
        .queue_job(JobRecord {
            proposal_id: id.clone(),
            job_id: "wbj_1".into(),
            job: json!({"job": 1}),
            kind: JobKind::Sql {
                source_id: "app".into(),
            },
            actor: "runner".into(),
        })
        .wait()
        .unwrap();
    assert_eq!(p.state, "pending_worker");
    let err = decide(&ledger, id, Verdict::Reject, "ann", Some("no"), &hash, 1).unwrap_err();
    assert_eq!(err.code(), Some("PROPOSAL_NOT_REJECTABLE"));

    let result = ExecutorResult {
        status: ReceiptStatus::Applied,
        affected_rows: 1,
        result_hash: None,
        error_code: None,
        new_version: None,
    };
    let receipt = receipt_for(
        "wbj_1",
        &cs,
        "local_runner",
        &result,
        "2026-06-20T14:40:00.000Z",
    );
    let p = ledger.record_receipt(receipt.clone()).wait().unwrap();
    assert_eq!(p.state, "applied");
    assert!(p.source_database_mutated);

    // A receipt is recorded once per attempt: a second one for the same attempt is refused.
    let err = ledger.record_receipt(receipt).wait().unwrap_err();
    assert_eq!(err.code(), Some("RECEIPT_EXISTS"));

    // A later attempt has its own id; its no-op receipt is kept beside the first and the
    // mutation flag stays.
    let queued = ledger
        .queue_attempt(
            AttemptRequest {
                proposal_id: id.clone(),
                base_job_id: "wbj_1".into(),
                kind: JobKind::Sql {
                    source_id: "app".into(),
                },
                actor: "runner".into(),
            },
            |job_id| Ok(json!({"writeback_job_id": job_id})),
        )
        .wait()
        .unwrap();
    assert_eq!(queued.job_id, "wbj_1-a2");
    assert_eq!(queued.job["writeback_job_id"], "wbj_1-a2");
    assert_eq!(queued.proposal.state, "applied", "applied stays applied");
    let again = receipt_for(
        "wbj_1-a2",
        &cs,
        "local_runner",
        &ExecutorResult {
            affected_rows: 0,
            ..result
        },
        "2026-06-20T14:41:00.000Z",
    );
    assert_eq!(again.status, ReceiptStatus::AlreadyApplied);
    let p = ledger.record_receipt(again).wait().unwrap();
    assert!(p.source_database_mutated);
    assert_eq!(p.state, "applied");
    let receipts: Vec<String> = ledger
        .receipts(id)
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.writeback_job_id, r.status))
        .collect();
    assert_eq!(receipts, ["wbj_1 applied", "wbj_1-a2 already_applied"]);
    let kinds: Vec<String> = ledger
        .events(id)
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
            "proposal_pending_worker",
            "writeback_job_recorded",
            "writeback_applied",
            "writeback_job_recorded",
            "writeback_already_applied"
        ]
    );
    let report = ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

fn receipts_for_unapproved_proposals_are_refused(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
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
    let result = ExecutorResult {
        status: ReceiptStatus::Applied,
        affected_rows: 1,
        result_hash: None,
        error_code: None,
        new_version: None,
    };
    let receipt = receipt_for(
        "wbj_1",
        &cs,
        "local_runner",
        &result,
        "2026-06-20T14:40:00.000Z",
    );
    let err = ledger.record_receipt(receipt.clone()).wait().unwrap_err();
    assert_eq!(err.code(), Some("PROPOSAL_NOT_APPROVED"));
    assert_eq!(
        ledger.proposal(&cs.proposal_id).unwrap().state,
        "pending_review"
    );
}

fn shadow_proposals_can_never_be_approved(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("shadow");
    assert_eq!(cfg.mode, Mode::Shadow);
    let (cs, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let hash = ledger.proposal(&cs.proposal_id).unwrap().proposal_hash;
    let err = decide(
        &ledger,
        &cs.proposal_id,
        Verdict::Approve,
        "ann",
        None,
        &hash,
        1,
    )
    .unwrap_err();
    assert_eq!(err.code(), Some("SHADOW_WRITEBACK_DISABLED"));
    // Rejecting a shadow proposal is allowed.
    decide(
        &ledger,
        &cs.proposal_id,
        Verdict::Reject,
        "ann",
        Some("no"),
        &hash,
        1,
    )
    .unwrap();
}

fn listings_filter_and_limit_in_sql_and_latest_resolves(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    for i in 0..5 {
        propose(
            &ledger,
            &cfg,
            &row(&format!("INV-{i}"), 100 + i),
            "r",
            &format!("2026-06-20T14:31:0{i}.000Z"),
        )
        .unwrap();
    }
    let all = ledger.list_proposals(&Filter::default()).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].object_id, "INV-4", "newest first");
    assert_eq!(ledger.latest_proposal_id().unwrap(), all[0].proposal_id);
    let two = ledger
        .list_proposals(&Filter {
            limit: Some(2),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(two.len(), 2);
    let one = ledger
        .list_proposals(&Filter {
            object_type: Some("invoice".into()),
            object_id: Some("INV-2".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(one.len(), 1);
    assert!(
        ledger
            .list_proposals(&Filter {
                tenant: Some("otherco".into()),
                ..Filter::default()
            })
            .unwrap()
            .is_empty()
    );
}

fn replay_is_derived_from_the_ledger_and_only_recorded_on_request(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
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
    let replay = ledger.replay(&cs.proposal_id).unwrap();
    assert_eq!(
        ledger.stats().unwrap().replay_records,
        0,
        "reading a replay writes nothing"
    );
    assert_eq!(
        replay["replay_id"],
        json!(format!("replay_{}", cs.proposal_id))
    );
    assert_eq!(replay["events"].as_array().unwrap().len(), 2);
    assert_eq!(replay["evidence"][0]["items"].as_array().unwrap().len(), 2);
    assert_eq!(replay["query_audit"].as_array().unwrap().len(), 1);
    let recorded = ledger.record_replay(&cs.proposal_id).wait().unwrap();
    assert_eq!(recorded["events"], replay["events"]);
    assert_eq!(ledger.stats().unwrap().replay_records, 1);
}

#[test]
fn missing_ledgers_are_not_created_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    assert!(matches!(
        Ledger::open_existing(&path),
        Err(sluicegate_ledger::LedgerError::Missing(_))
    ));
    assert!(!path.exists());
}

#[test]
fn reopening_runs_no_migration() {
    let (dir, ledger) = open_temp();
    let path = ledger.path().to_path_buf();
    drop(ledger);
    let conn = rusqlite_version(&path);
    assert_eq!(conn, sluicegate_ledger::SCHEMA_VERSION);
    Ledger::open(&path).unwrap();
    drop(dir);
}

fn rusqlite_version(path: &Path) -> i64 {
    // The schema version lives in the SQLite header (`PRAGMA user_version`, bytes 60..64).
    let bytes = std::fs::read(path).unwrap();
    i64::from(u32::from_be_bytes([
        bytes[60], bytes[61], bytes[62], bytes[63],
    ]))
}

/// The line a crash child prints after each proposal it recorded.
const CRASH_CHILD_WROTE: &str = "crash-child wrote proposal ";

/// A writer killed at an arbitrary point leaves a ledger whose every proposal has its creation
/// event and evidence link: each tool call is one transaction.
#[test]
fn a_killed_writer_leaves_a_consistent_ledger() {
    if let Ok(path) = std::env::var("SLUICEGATE_LEDGER_CRASH_CHILD") {
        // Child: write proposals as fast as possible until killed.
        let ledger = Ledger::open(Path::new(&path)).unwrap();
        let cfg = config("review");
        let pid = std::process::id();
        for i in 0.. {
            let _ = propose(
                &ledger,
                &cfg,
                &row(&format!("INV-{pid}-{i}"), i),
                "r",
                "2026-06-20T14:31:09.000Z",
            );
            // The parent kills on a count of these lines, never on a timer.
            println!("{CRASH_CHILD_WROTE}{i}");
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    Ledger::open(&path).unwrap();
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "ledger::a_killed_writer_leaves_a_consistent_ledger",
                "--nocapture",
            ])
            .env("SLUICEGATE_LEDGER_CRASH_CHILD", &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill after a different number of recorded proposals each round: the child is then
        // somewhere inside the next one, at a point no timer would choose better.
        let wanted = 5 + 7 * round;
        let lines = std::io::BufReader::new(child.stdout.take().unwrap());
        let written = std::io::BufRead::lines(lines)
            .map_while(Result::ok)
            .filter(|l| l.starts_with(CRASH_CHILD_WROTE))
            .take(wanted)
            .count();
        assert_eq!(written, wanted, "the child stopped writing on its own");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let ledger = Ledger::open(&path).unwrap();
    let proposals = ledger.list_proposals(&Filter::default()).unwrap();
    assert!(
        !proposals.is_empty(),
        "the child wrote nothing before being killed"
    );
    for p in &proposals {
        let kinds: Vec<String> = ledger
            .events(&p.proposal_id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            ["proposal_created", "evidence_recorded"],
            "{}",
            p.proposal_id
        );
        let bundle = ledger
            .evidence(p.change_set["evidence"]["bundle_id"].as_str().unwrap())
            .unwrap();
        assert_eq!(bundle.items.len(), 2);
    }
    let stats = ledger.stats().unwrap();
    // Every bundle has exactly one read audit; linked bundles one more.
    assert_eq!(stats.query_audit, stats.evidence_bundles + stats.proposals);
}

/// The review inbox walks every proposal once, oldest first, page by page, and says when there
/// is no next page.
#[test]
fn the_inbox_pages_oldest_first_without_gaps_or_repeats() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    for i in 0..7 {
        propose(
            &ledger,
            &cfg,
            &row(&format!("INV-{i}"), 100 + i),
            "r",
            "2026-06-20T14:31:00.000Z",
        )
        .unwrap();
    }
    let f = Filter {
        status: Some("pending_review".into()),
        limit: Some(3),
        ..Filter::default()
    };
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let (page, next) = ledger.inbox(&f, after.as_ref()).unwrap();
        pages += 1;
        seen.extend(page.into_iter().map(|p| p.object_id));
        match next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("INV-{i}")).collect();
    assert_eq!(seen, expected, "oldest first, each once");
    assert_eq!(pages, 3);
    let other = Filter {
        tenant: Some("otherco".into()),
        ..f
    };
    let (none, next) = ledger.inbox(&other, None).unwrap();
    assert!(none.is_empty() && next.is_none());
}

/// What a read records is stored without the fields its row's columns already hold, and read
/// back exactly as the core wrote it.
#[test]
fn per_call_records_are_stored_compact_and_read_back_whole() {
    let (dir, ledger) = open_temp();
    let cfg = config("review");
    let cap = &cfg.capabilities[0];
    let read = record_read(
        cap,
        &ctx(),
        &row("INV-1", 5500),
        1,
        &json!("INV-1"),
        "2026-06-20T14:31:09.000Z",
    );
    ledger
        .record_read(read.bundle.clone(), read.audit.clone())
        .wait()
        .unwrap();
    let bundle = ledger.evidence(&read.bundle.evidence_bundle_id).unwrap();
    let text = |v: &serde_json::Value| serde_json::to_string(v).unwrap();
    assert_eq!(text(&bundle.payload), text(&read.bundle.payload));
    assert_eq!(
        text(&bundle.query_audit[0].payload),
        text(&read.audit.payload)
    );

    let raw = rusqlite::Connection::open(dir.path().join("nested/dir/ledger.db")).unwrap();
    let (bundle_json, audit_json): (String, String) = raw
        .query_row(
            "SELECT b.payload_json, a.payload_json FROM evidence_bundles b, query_audit a",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        bundle_json.starts_with("{\"~\":1") && !bundle_json.contains("tenant_id"),
        "{bundle_json}"
    );
    assert!(
        audit_json.starts_with("{\"~\":1") && !audit_json.contains("SELECT"),
        "{audit_json}"
    );
}

/// `stats` reports the main file's bytes per recorded call and the WAL's size.
#[test]
fn stats_report_bytes_per_call_and_the_wal() {
    let (_dir, ledger) = open_temp();
    let cfg = config("review");
    let cap = &cfg.capabilities[0];
    for i in 0..20 {
        let at = format!("2026-06-20T14:31:{i:02}.000Z");
        let read = record_read(cap, &ctx(), &row("INV-1", 5500), 1, &json!("INV-1"), &at);
        ledger.record_read(read.bundle, read.audit).wait().unwrap();
    }
    let s = ledger.stats().unwrap();
    assert_eq!(s.evidence_bundles, 20);
    assert_eq!(s.bytes_per_call, s.approx_bytes / 20);
    assert!(s.bytes_per_call > 0 && s.wal_bytes > 0, "{s:?}");
}

/// `evidence list --from/--to` (a rowid range found through the time index) returns exactly
/// the bundles recorded in the range, and nothing when the range holds none.
fn evidence_time_ranges_are_exact(engine: Backend) {
    let Some((_dir, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    let cap = &cfg.capabilities[0];
    for i in 0..10 {
        let id = format!("INV-{i}");
        let read = record_read(
            cap,
            &ctx(),
            &row(&id, 1),
            1,
            &json!(id),
            "2026-06-20T14:31:09.000Z",
        );
        ledger.record_read(read.bundle, read.audit).wait().unwrap();
    }
    let all = ledger.list_evidence(&Filter::default()).unwrap();
    let times: Vec<String> = all.iter().rev().map(|b| b.created_at.clone()).collect();
    let count = |from: Option<&str>, to: Option<&str>| {
        ledger
            .list_evidence(&Filter {
                from: from.map(str::to_string),
                to: to.map(str::to_string),
                ..Filter::default()
            })
            .unwrap()
            .len()
    };
    assert_eq!(count(Some(&times[3]), Some(&times[6])), 4);
    assert_eq!(count(Some(&times[3]), None), 7);
    assert_eq!(count(None, Some(&times[0])), 1);
    assert_eq!(count(Some("2099-01-01"), None), 0);
    assert_eq!(count(None, Some("2000-01-01")), 0);
    assert_eq!(count(Some(&times[6]), Some(&times[3])), 0);
}
