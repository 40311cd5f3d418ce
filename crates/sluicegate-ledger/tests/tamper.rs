//! Someone with write access to the ledger file: what the schema stops by accident, and what
//! `store verify` finds after a deliberate edit (triggers dropped first, as an attacker would).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use rusqlite::Connection;
use serde_json::json;
use sluicegate_core::config::Reviewer;
use sluicegate_core::decision::{DecisionRecord, Verdict, public_key_text, signing_key};
use sluicegate_core::writeback::{ExecutorResult, receipt_for};
use sluicegate_ledger::{Filter, JobKind, JobRecord, Ledger, VerifyReport};
use sluicegate_protocol::ReceiptStatus;

/// A ledger with one applied proposal (approved, job, receipt) and one pending one.
fn history() -> (tempfile::TempDir, Ledger, String, String) {
    let (dir, ledger) = open_temp();
    let cfg = config("review");
    let (applied, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let (pending, _) = propose(
        &ledger,
        &cfg,
        &row("INV-2", 100),
        "courtesy",
        "2026-06-20T14:31:10.000Z",
    )
    .unwrap();
    let id = applied.proposal_id.clone();
    let hash = ledger.proposal(&id).unwrap().proposal_hash;
    decide(&ledger, &id, Verdict::Approve, "ann", None, &hash, 1).unwrap();
    ledger
        .queue_job(JobRecord {
            proposal_id: id.clone(),
            job_id: "wbj_1".into(),
            job: json!({"writeback_job_id": "wbj_1"}),
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
    let receipt = receipt_for(
        "wbj_1",
        &applied,
        "local_runner",
        &result,
        "2026-06-20T14:40:00.000Z",
    );
    ledger.record_receipt(receipt).wait().unwrap();
    (dir, ledger, id, pending.proposal_id)
}

/// A raw connection to the ledger file, as any process of the same user could open.
fn raw(ledger: &Ledger) -> Connection {
    Connection::open(ledger.path()).unwrap()
}

/// Drop every guard trigger, the first thing a deliberate edit does.
fn drop_triggers(conn: &Connection) {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(names.len() >= 10, "the fact tables are guarded: {names:?}");
    for n in names {
        conn.execute_batch(&format!("DROP TRIGGER {n}")).unwrap();
    }
}

fn found(report: &VerifyReport, id: &str, record: &str) -> String {
    let p = report
        .problems
        .iter()
        .find(|p| p.proposal_id == id)
        .unwrap_or_else(|| panic!("no problem found for {id}: {report:?}"));
    assert_eq!(p.record, record, "{p:?}");
    p.message.clone()
}

#[test]
fn an_untouched_history_verifies() {
    let (_d, ledger, _, _) = history();
    let report = ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.proposals, 2);
    assert_eq!(report.decisions, 1);
    assert!(report.events >= 8);
}

#[test]
fn the_schema_refuses_accidental_edits_of_facts() {
    let (_d, ledger, id, _) = history();
    let conn = raw(&ledger);
    for sql in [
        "UPDATE approvals SET status = 'rejected'",
        "DELETE FROM approvals",
        "UPDATE proposal_events SET actor = 'x'",
        "DELETE FROM proposal_events",
        "UPDATE writeback_receipts SET status = 'failed'",
        "DELETE FROM writeback_receipts",
        "UPDATE proposals SET change_set_json = '{}'",
        "UPDATE proposals SET proposal_hash = 'sha256:00'",
        "DELETE FROM proposals",
        "UPDATE writeback_jobs SET job_json = '{}'",
        "DELETE FROM writeback_jobs",
    ] {
        let err = conn.execute_batch(sql).unwrap_err().to_string();
        assert!(
            err.contains("append-only") || err.contains("never changes") || err.contains("kept"),
            "{sql}: {err}"
        );
    }
    // The projection moves (the writer moves it), and that is what verify checks.
    conn.execute(
        "UPDATE proposals SET state = 'pending_review' WHERE proposal_id = ?1",
        [&id],
    )
    .unwrap();
    let message = found(&ledger.verify(&[]).unwrap(), &id, "state");
    assert!(message.contains("records say applied"), "{message}");
}

#[test]
fn verify_finds_each_deliberate_edit() {
    type Edit = fn(&Connection, &str, &str);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "patch edited, hashes stale",
            |c, id, _| {
                c.execute(
                "UPDATE proposals SET change_set_json = json_set(change_set_json, '$.patch.waiver_reason', 'other') WHERE proposal_id = ?1",
                [id],
            ).unwrap();
            },
            "proposal",
        ),
        (
            "pending proposal marked approved",
            |c, _, pending| {
                c.execute(
                    "UPDATE proposals SET state = 'approved' WHERE proposal_id = ?1",
                    [pending],
                )
                .unwrap();
            },
            "state",
        ),
        (
            "approval forged without its event",
            |c, _, pending| {
                c.execute(
                "INSERT INTO approvals (proposal_id, proposal_version, proposal_hash, approver, status, created_at) SELECT proposal_id, 1, proposal_hash, 'mallory', 'approved', 't' FROM proposals WHERE proposal_id = ?1",
                [pending],
            ).unwrap();
            },
            "decision",
        ),
        (
            "decision flipped in place",
            |c, id, _| {
                c.execute(
                    "UPDATE approvals SET approver = 'mallory' WHERE proposal_id = ?1",
                    [id],
                )
                .unwrap();
            },
            "decision",
        ),
        (
            "event payload edited",
            |c, id, _| {
                c.execute(
                "UPDATE proposal_events SET payload_json = json_set(payload_json, '$.reason', 'x') WHERE proposal_id = ?1 AND kind = 'proposal_approved'",
                [id],
            ).unwrap();
            },
            "event",
        ),
        (
            "event removed from the middle",
            |c, id, _| {
                c.execute(
                "DELETE FROM proposal_events WHERE proposal_id = ?1 AND kind = 'proposal_pending_worker'",
                [id],
            ).unwrap();
            },
            "event",
        ),
        (
            "receipt edited",
            |c, id, _| {
                c.execute(
                "UPDATE writeback_receipts SET receipt_json = json_set(receipt_json, '$.rows_affected', 0) WHERE proposal_id = ?1",
                [id],
            ).unwrap();
            },
            "receipt",
        ),
        (
            // What listings, show and the review UI print, against the change set that is
            // hashed, signed and applied.
            "the row's tenant column edited",
            |c, _, pending| {
                c.execute(
                    "UPDATE proposals SET tenant_id = 'otherco' WHERE proposal_id = ?1",
                    [pending],
                )
                .unwrap();
            },
            "proposal",
        ),
        (
            "the row's target column edited",
            |c, _, pending| {
                c.execute(
                    "UPDATE proposals SET object_id = 'INV-1' WHERE proposal_id = ?1",
                    [pending],
                )
                .unwrap();
            },
            "proposal",
        ),
        (
            "the row's version edited",
            |c, _, pending| {
                c.execute(
                    "UPDATE proposals SET proposal_version = 2 WHERE proposal_id = ?1",
                    [pending],
                )
                .unwrap();
            },
            "proposal",
        ),
        (
            // A value the row type cannot hold: reported for its proposal, the run goes on.
            "the row's version out of range",
            |c, _, pending| {
                c.execute(
                    "UPDATE proposals SET proposal_version = 4294967297 WHERE proposal_id = ?1",
                    [pending],
                )
                .unwrap();
            },
            "proposal",
        ),
        (
            "the row's tenant not UTF-8",
            |c, _, pending| {
                c.execute(
                    "UPDATE proposals SET tenant_id = CAST(x'61ff' AS TEXT) WHERE proposal_id = ?1",
                    [pending],
                )
                .unwrap();
            },
            "proposal",
        ),
        (
            "job edited",
            |c, id, _| {
                c.execute(
                "UPDATE writeback_jobs SET job_json = '{\"writeback_job_id\":\"wbj_9\"}' WHERE proposal_id = ?1",
                [id],
            ).unwrap();
            },
            "job",
        ),
        (
            // Records link to their proposal by its `seq` (schema 16): an edited link would
            // take a record off its proposal's screens while its text id still names it.
            "an audit record's link edited",
            |c, id, _| {
                c.execute(
                    "UPDATE query_audit SET proposal_seq = NULL WHERE proposal_id = ?1",
                    [id],
                )
                .unwrap();
            },
            "link",
        ),
        (
            "an evidence bundle's link moved to the other proposal",
            |c, id, pending| {
                c.execute(
                    "UPDATE evidence_bundles SET proposal_seq = (SELECT seq FROM proposals WHERE proposal_id = ?2) WHERE proposal_id = ?1",
                    [id, pending],
                )
                .unwrap();
            },
            "link",
        ),
        (
            // Its events no longer reach it: its chain is missing, and every record is
            // mislinked.
            "the proposal's own seq edited",
            |c, id, _| {
                c.execute(
                    "UPDATE proposals SET seq = 1000 WHERE proposal_id = ?1",
                    [id],
                )
                .unwrap();
            },
            "event",
        ),
    ];
    for (what, edit, record) in cases {
        let (_d, ledger, id, pending) = history();
        let conn = raw(&ledger);
        drop_triggers(&conn);
        edit(&conn, &id, &pending);
        let report = ledger.verify(&[]).unwrap();
        assert!(!report.ok(), "{what}: nothing found");
        assert_eq!(report.proposals, 2, "{what}: every proposal was checked");
        // One edited row never takes a listing down: both proposals are still listed.
        let listed = ledger.list_proposals(&Filter::default()).unwrap();
        assert_eq!(listed.len(), 2, "{what}");
        let target = if report.problems.iter().any(|p| p.proposal_id == id) {
            &id
        } else {
            &pending
        };
        let p = report
            .problems
            .iter()
            .find(|p| p.proposal_id == *target)
            .unwrap();
        assert_eq!(p.record, record, "{what}: {p:?}");
    }
}

#[test]
fn a_content_edit_with_every_hash_recomputed_is_still_found() {
    let (_d, ledger, id, _) = history();
    let conn = raw(&ledger);
    drop_triggers(&conn);
    // Edit the patch, then recompute both stored copies of the content hash.
    let mut cs = ledger.proposal(&id).unwrap().change_set().unwrap();
    cs.patch.insert("waiver_reason".into(), json!("other"));
    cs.after.insert("waiver_reason".into(), json!("other"));
    let hash = sluicegate_core::proposal::content_hash(&cs);
    cs.integrity.as_mut().unwrap().proposal_hash = hash.clone();
    conn.execute(
        "UPDATE proposals SET change_set_json = ?2, proposal_hash = ?3 WHERE proposal_id = ?1",
        rusqlite::params![id, serde_json::to_string(&cs).unwrap(), hash],
    )
    .unwrap();
    let message = found(&ledger.verify(&[]).unwrap(), &id, "proposal");
    assert!(
        message.contains("not the one recorded at creation"),
        "{message}"
    );
}

#[test]
fn signatures_are_checked_against_the_configured_reviewers() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    let (cs, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let ann = signing_key(&[3; 32]);
    let mut d = DecisionRecord {
        proposal_id: cs.proposal_id.clone(),
        proposal_version: 1,
        content_hash: ledger.proposal(&cs.proposal_id).unwrap().proposal_hash,
        verdict: Verdict::Approve,
        reviewer: "ann".into(),
        reason: None,
        decided_at: "2026-06-20T14:35:00.000Z".into(),
        signature: None,
        reviewer_key: None,
    };
    d.sign(&ann);
    ledger.decide(d).wait().unwrap();
    let ann_cfg = Reviewer {
        name: "ann".into(),
        public_key: public_key_text(&ann.verifying_key()),
    };
    assert!(ledger.verify(std::slice::from_ref(&ann_cfg)).unwrap().ok());

    // Another key under ann's name in the config: the recorded key is not hers.
    let other = Reviewer {
        name: "ann".into(),
        public_key: public_key_text(&signing_key(&[4; 32]).verifying_key()),
    };
    let message = found(
        &ledger.verify(&[other]).unwrap(),
        &cs.proposal_id,
        "decision",
    );
    assert!(message.contains("not ann's configured key"), "{message}");

    // The reason edited in the decision record: it no longer matches its event (nor its
    // signature).
    let conn = raw(&ledger);
    drop_triggers(&conn);
    conn.execute("UPDATE approvals SET reason = 'edited'", [])
        .unwrap();
    let message = found(
        &ledger.verify(&[ann_cfg]).unwrap(),
        &cs.proposal_id,
        "decision",
    );
    assert!(!message.is_empty());
}

#[test]
fn an_exported_replay_carries_a_chain_anyone_can_check() {
    let (_d, ledger, id, _) = history();
    let replay = ledger.replay(&id).unwrap();
    let events = replay["events"].as_array().unwrap();
    let text = |e: &serde_json::Value, k: &str| e[k].as_str().unwrap().to_string();
    let owned: Vec<OwnedEvent> = events
        .iter()
        .map(|e| {
            (
                text(e, "kind"),
                text(e, "actor"),
                e["payload"].clone(),
                text(e, "created_at"),
                text(e, "prev_hash"),
                text(e, "chain_hash"),
            )
        })
        .collect();
    assert_eq!(sluicegate_core::chain::verify(&id, &links(&owned)), Ok(()));
    // The copy is only as good as its chain: an edited export no longer verifies.
    let mut edited = owned.clone();
    edited[2].2 = json!({"reason": "something else"});
    assert_eq!(
        sluicegate_core::chain::verify(&id, &links(&edited))
            .unwrap_err()
            .index,
        2
    );
}

type OwnedEvent = (String, String, serde_json::Value, String, String, String);

fn links(owned: &[OwnedEvent]) -> Vec<sluicegate_core::chain::Link<'_>> {
    owned
        .iter()
        .map(
            |(kind, actor, payload, at, prev, hash)| sluicegate_core::chain::Link {
                kind,
                actor,
                payload,
                created_at: at,
                prev_hash: prev,
                hash,
            },
        )
        .collect()
}
