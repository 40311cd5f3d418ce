//! Store maintenance: prune removes whole final proposals and keeps every chain a kept record
//! needs; exports carry what re-checks every chain; shadow-mode human actions are chained facts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use rusqlite::Connection;
use serde_json::{Value, json};
use sluicegate_core::decision::Verdict;
use sluicegate_ledger::{Ledger, PruneRule, verify_export};

fn reject(ledger: &Ledger, id: &str) {
    let hash = ledger.proposal(id).unwrap().proposal_hash;
    decide(ledger, id, Verdict::Reject, "ann", Some("no"), &hash, 1).unwrap();
}

fn prune(
    ledger: &Ledger,
    older_than: Option<&str>,
    keep: Option<u32>,
    dry_run: bool,
) -> sluicegate_ledger::PruneReport {
    ledger
        .prune(PruneRule {
            older_than: older_than.map(str::to_string),
            keep,
            dry_run,
        })
        .wait()
        .unwrap()
}

/// Old final proposals go with everything they own; an old one still pending stays and is
/// named; afterwards `store verify` passes, and the dry run before it deleted nothing.
#[test]
fn prune_by_age_removes_whole_final_proposals_and_keeps_pending_ones() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    let (old, _) = propose(
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
    reject(&ledger, &old.proposal_id);
    let (newer, _) = propose(
        &ledger,
        &cfg,
        &row("INV-3", 100),
        "late",
        "2026-06-20T14:31:11.000Z",
    )
    .unwrap();
    reject(&ledger, &newer.proposal_id);
    let cutoff = ledger.proposal(&newer.proposal_id).unwrap().created_at;
    let before = ledger.stats().unwrap();

    let dry = prune(&ledger, Some(&cutoff), None, true);
    assert!(dry.dry_run);
    assert_eq!(dry.deleted["proposals"], 1);
    assert_eq!(dry.deleted["approvals"], 1);
    assert_eq!(dry.deleted["evidence_bundles"], 1);
    assert_eq!(
        dry.deleted["query_audit"], 2,
        "the read's and the proposal's audit records"
    );
    assert!(dry.deleted["proposal_events"] >= 2);
    assert_eq!(
        dry.kept_not_final,
        vec![(pending.proposal_id.clone(), "pending_review".to_string())]
    );
    assert_eq!(
        ledger.stats().unwrap().proposals,
        before.proposals,
        "a dry run deletes nothing"
    );

    let done = prune(&ledger, Some(&cutoff), None, false);
    assert_eq!(done.deleted, dry.deleted);
    let after = ledger.stats().unwrap();
    assert_eq!(after.proposals, 2);
    assert_eq!(after.approvals, 1);
    assert!(ledger.proposal(&old.proposal_id).is_err());
    assert!(ledger.proposal(&pending.proposal_id).is_ok());
    let report = ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.proposals, 2);

    // The delete guards are back: a hand-run delete is still refused.
    let conn = Connection::open(ledger.path()).unwrap();
    let err = conn
        .execute(
            "DELETE FROM proposal_events WHERE proposal_id = ?1",
            [&pending.proposal_id],
        )
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

/// `--keep N` keeps the newest N proposals whatever their state and age.
/// A dry run only reads: it answers while another process holds the write lock (counted
/// through the writer, it waited out the busy timeout and failed with `database is locked`).
#[test]
fn a_dry_run_answers_while_another_process_holds_the_write_lock() {
    let (dir, ledger) = open_temp();
    let cfg = config("review");
    let (p, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    reject(&ledger, &p.proposal_id);
    let other = Connection::open(dir.path().join("nested/dir/ledger.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let dry = prune(&ledger, None, Some(0), true);
    assert_eq!(dry.deleted["proposals"], 1);
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(ledger.stats().unwrap().proposals, 1, "nothing deleted");
}

#[test]
fn prune_by_count_keeps_the_newest() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    let mut ids = Vec::new();
    for (i, inv) in ["INV-1", "INV-2", "INV-3"].iter().enumerate() {
        let (cs, _) = propose(
            &ledger,
            &cfg,
            &row(inv, 100 + i as i64),
            "r",
            &format!("2026-06-20T14:31:1{i}.000Z"),
        )
        .unwrap();
        reject(&ledger, &cs.proposal_id);
        ids.push(cs.proposal_id);
    }
    let report = prune(&ledger, None, Some(1), false);
    assert_eq!(report.deleted["proposals"], 2);
    assert!(ledger.proposal(&ids[2]).is_ok());
    assert!(ledger.proposal(&ids[0]).is_err() && ledger.proposal(&ids[1]).is_err());
    assert_eq!(ledger.stats().unwrap().evidence_bundles, 1);
    assert!(ledger.verify(&[]).unwrap().ok());
}

/// After the newest proposal is pruned, SQLite may give its rowid to the next one: searches
/// still find the new proposal by its own words and never by the pruned one's.
#[test]
fn searches_after_a_prune_find_what_is_kept_only() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    let search = |words: &str| -> Vec<String> {
        let q = sluicegate_ledger::InboxQuery {
            search: Some(words.into()),
            ..Default::default()
        };
        let (page, _) = ledger.inbox_page(&q, None).unwrap();
        page.into_iter().map(|p| p.proposal_id).collect()
    };
    let (old, _) = propose(
        &ledger,
        &cfg,
        &row("INV-1", 100),
        "zebra",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    reject(&ledger, &old.proposal_id);
    assert_eq!(search("zebra"), std::slice::from_ref(&old.proposal_id));
    let report = prune(&ledger, None, Some(0), false);
    assert_eq!(report.deleted["proposals"], 1);
    let (new, _) = propose(
        &ledger,
        &cfg,
        &row("INV-2", 100),
        "walrus",
        "2026-06-20T14:31:10.000Z",
    )
    .unwrap();
    assert!(
        search("zebra").is_empty(),
        "the pruned proposal's words are gone"
    );
    assert_eq!(search("walrus"), [new.proposal_id]);
}

/// Two proposals from one read share its evidence bundle. Pruning the old final one would
/// take the bundle the kept one names (the reference deleted it): the prune holds it back and
/// says why, and the kept proposal keeps its evidence.
#[test]
fn a_prune_that_would_break_a_kept_chain_holds_the_proposal_back() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    let at = "2026-06-20T14:31:09.000Z";
    let (first, _) = propose(&ledger, &cfg, &row("INV-1", 5500), "goodwill", at).unwrap();
    let (second, _) = propose(&ledger, &cfg, &row("INV-1", 5500), "courtesy", at).unwrap();
    assert_eq!(
        first.evidence.bundle_id, second.evidence.bundle_id,
        "one read, one bundle"
    );
    reject(&ledger, &first.proposal_id);
    let cutoff = "2100-01-01T00:00:00.000Z";

    let report = prune(&ledger, Some(cutoff), None, false);
    assert_eq!(
        report.kept_for_chain,
        vec![(
            first.proposal_id.clone(),
            first.evidence.bundle_id.clone(),
            second.proposal_id.clone()
        )]
    );
    assert_eq!(report.kept_not_final.len(), 1);
    assert_eq!(report.deleted["proposals"], 0);
    assert_eq!(report.deleted["evidence_bundles"], 0);
    assert!(ledger.evidence(&second.evidence.bundle_id).is_ok());
    assert!(ledger.verify(&[]).unwrap().ok());
}

/// A prune needs an age or a count.
#[test]
fn a_prune_without_a_rule_is_refused() {
    let (_d, ledger) = open_temp();
    let err = ledger.prune(PruneRule::default()).wait().unwrap_err();
    assert!(err.to_string().contains("--older-than"), "{err}");
}

fn export_lines(ledger: &Ledger, from: Option<&str>, to: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    ledger
        .export(from, to, "2026-06-21T00:00:00.000Z", &mut |v| {
            lines.push(v.to_string());
            Ok(())
        })
        .unwrap();
    lines
}

both!(
    an_export_verifies_and_a_tampered_line_fails,
    an_export_range_selects_by_time,
);

/// One proposal decided, and a read of its own.
fn export_story(ledger: &Ledger) {
    let cfg = config("review");
    let (a, _) = propose(
        ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let hash = ledger.proposal(&a.proposal_id).unwrap().proposal_hash;
    decide(
        ledger,
        &a.proposal_id,
        Verdict::Approve,
        "ann",
        None,
        &hash,
        1,
    )
    .unwrap();
    ledger
        .record_read(
            sluicegate_core::evidence::record_read(
                &cfg.capabilities[0],
                &ctx(),
                &row("INV-9", 1),
                1,
                &json!("INV-9"),
                "2026-06-20T14:40:00.000Z",
            )
            .bundle,
            sluicegate_core::evidence::record_read(
                &cfg.capabilities[0],
                &ctx(),
                &row("INV-9", 1),
                1,
                &json!("INV-9"),
                "2026-06-20T14:40:00.000Z",
            )
            .audit,
        )
        .wait()
        .unwrap();
}

/// An export carries what re-checks every chain; any edit of a proposal line is found.
fn an_export_verifies_and_a_tampered_line_fails(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    export_story(&ledger);
    let lines = export_lines(&ledger, None, None);
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "export",
            "proposal",
            "evidence_bundle",
            "evidence_bundle",
            "query_audit",
            "query_audit",
            "query_audit"
        ]
    );
    let check = verify_export(lines.iter().map(String::as_str), &[]);
    assert!(check.ok(), "{check:?}");
    assert_eq!(check.report.proposals, 1);
    assert_eq!(check.report.decisions, 1);

    // A changed value inside the change set.
    let mut edited: Value = serde_json::from_str(&lines[1]).unwrap();
    let cs = edited["change_set_json"]
        .as_str()
        .unwrap()
        .replace("\"goodwill\"", "\"generous\"");
    edited["change_set_json"] = Value::String(cs);
    let mut tampered = lines.clone();
    tampered[1] = edited.to_string();
    let check = verify_export(tampered.iter().map(String::as_str), &[]);
    assert!(!check.ok());
    assert_eq!(check.report.problems[0].record, "proposal");

    // A changed decision actor in an event.
    let mut edited: Value = serde_json::from_str(&lines[1]).unwrap();
    edited["events"][1]["actor"] = json!("mallory");
    tampered[1] = edited.to_string();
    let check = verify_export(tampered.iter().map(String::as_str), &[]);
    assert_eq!(check.report.problems[0].record, "event");

    // Not an export at all, and a line that is not JSON.
    let check = verify_export(["{}", "nope"].into_iter(), &[]);
    assert!(!check.header_ok);
    assert_eq!(check.unreadable.len(), 2);
}

/// `--from`/`--to` select by creation time, and an empty range exports only the header.
fn an_export_range_selects_by_time(engine: Backend) {
    let Some((_d, ledger)) = open(engine) else {
        return;
    };
    let cfg = config("review");
    propose(
        &ledger,
        &cfg,
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let (b, _) = propose(
        &ledger,
        &cfg,
        &row("INV-2", 5500),
        "goodwill",
        "2026-06-20T14:31:10.000Z",
    )
    .unwrap();
    let at = ledger.proposal(&b.proposal_id).unwrap().created_at;
    let lines = export_lines(&ledger, Some(&at), None);
    let proposals: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["record"] == "proposal")
        .collect();
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0]["proposal_id"], json!(b.proposal_id));
    assert_eq!(export_lines(&ledger, Some("2030"), None).len(), 1);
    assert_eq!(export_lines(&ledger, None, Some("2020")).len(), 1);
    // `--to` takes a prefix: the whole of that day, second or millisecond.
    assert_eq!(
        export_lines(&ledger, None, Some("2026-06-20")).len(),
        export_lines(&ledger, None, None).len()
    );
    let first_only = export_lines(&ledger, None, Some("2026-06-20T14:31:09"));
    assert_eq!(
        first_only
            .iter()
            .filter(|l| l.contains("\"record\":\"proposal\""))
            .count(),
        1
    );
}

/// The same story exports the same lines from either engine (the header names each
/// engine's own schema version).
#[test]
fn an_export_is_the_same_from_either_engine() {
    let Some((_pg, postgres)) = open(Backend::Postgres) else {
        return;
    };
    let (_d, sqlite) = open_temp();
    let mut exports = Vec::new();
    for ledger in [&sqlite, &postgres] {
        export_story(ledger);
        let mut lines = export_lines(ledger, None, None);
        let mut header: Value = serde_json::from_str(&lines[0]).unwrap();
        header["ledger_schema_version"] = json!(null);
        lines[0] = header.to_string();
        exports.push(lines);
    }
    assert_eq!(exports[0].len(), 7);
    for (s, p) in exports[0].iter().zip(&exports[1]) {
        assert_eq!(s, p);
    }
}

/// A person's own action on a shadow proposal is recorded as a chained fact; the refusals
/// keep their codes; an edited action is found by `store verify`.
#[test]
fn shadow_human_actions_are_chained_and_refused_elsewhere() {
    let (_d, ledger) = open_temp();
    let (shadow, _) = propose(
        &ledger,
        &config("shadow"),
        &row("INV-1", 5500),
        "goodwill",
        "2026-06-20T14:31:09.000Z",
    )
    .unwrap();
    let (review, _) = propose(
        &ledger,
        &config("review"),
        &row("INV-2", 5500),
        "goodwill",
        "2026-06-20T14:31:10.000Z",
    )
    .unwrap();
    let patch = json!({"late_fee_cents": 0, "waiver_reason": "goodwill"})
        .as_object()
        .unwrap()
        .clone();
    let action = ledger
        .record_shadow_action(
            &shadow.proposal_id,
            "ann",
            patch.clone(),
            Some("did it by hand".into()),
        )
        .wait()
        .unwrap();
    assert_eq!(action.proposal_id, shadow.proposal_id);
    let events = ledger.events(&shadow.proposal_id).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, "shadow_human_action_recorded");
    assert_eq!(
        last.payload["patch_columns"],
        json!(["late_fee_cents", "waiver_reason"])
    );
    assert_eq!(
        ledger.shadow_actions(&shadow.proposal_id).unwrap(),
        vec![action]
    );
    assert_eq!(ledger.stats().unwrap().shadow_human_actions, 1);
    assert!(ledger.verify(&[]).unwrap().ok());

    let err = ledger
        .record_shadow_action(&review.proposal_id, "ann", patch.clone(), None)
        .wait()
        .unwrap_err();
    assert_eq!(err.code(), Some("NOT_SHADOW_PROPOSAL"));
    let err = ledger
        .record_shadow_action("wrp_nope", "ann", patch.clone(), None)
        .wait()
        .unwrap_err();
    assert_eq!(err.code(), Some("NOT_FOUND"));
    let secret = json!({"waiver_reason": "postgres://u:p@h/db"})
        .as_object()
        .unwrap()
        .clone();
    let err = ledger
        .record_shadow_action(&shadow.proposal_id, "ann", secret, None)
        .wait()
        .unwrap_err();
    assert_eq!(err.code(), Some("SECRET_MATERIAL_REJECTED"));
    let err = ledger
        .record_shadow_action(
            &shadow.proposal_id,
            "ann",
            patch.clone(),
            Some("used mysql://root:pw@db/app".into()),
        )
        .wait()
        .unwrap_err();
    assert_eq!(err.code(), Some("SECRET_MATERIAL_REJECTED"));
    assert_eq!(
        ledger.shadow_actions(&shadow.proposal_id).unwrap().len(),
        1,
        "nothing recorded"
    );

    // Edited by hand (guards dropped first, as an attacker would): verify names it.
    let conn = Connection::open(ledger.path()).unwrap();
    conn.execute_batch("DROP TRIGGER shadow_human_actions_no_update; UPDATE shadow_human_actions SET patch_json = '{\"late_fee_cents\":1}';").unwrap();
    let report = ledger.verify(&[]).unwrap();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].record, "shadow_action");
}
