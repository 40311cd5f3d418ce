//! The views on records built here: exact text where the layout is the contract, key lines
//! elsewhere.

use serde_json::{Value, json};
use sluicegate_core::writeback::ExecutorResult;
use sluicegate_ledger::{
    StoredEvent, StoredEvidence, StoredEvidenceItem, StoredProposal, StoredQueryAudit,
    StoredReceipt,
};
use sluicegate_protocol::ReceiptStatus;
use sluicegate_test_support::markdown_as_rendered;

use super::*;
use crate::ApplyReport;
use crate::handler::HandlerReport;

fn proposal(state: &str) -> StoredProposal {
    StoredProposal {
        proposal_id: "wrp_1".into(),
        proposal_version: 1,
        proposal_hash: "sha256:abc".into(),
        action: "billing.propose_late_fee_waiver".into(),
        state: state.into(),
        tenant_id: "acme".into(),
        principal: Some("agent".into()),
        capability: Some("billing.propose_late_fee_waiver".into()),
        business_object: "invoices".into(),
        object_id: "INV-1".into(),
        source_kind: "external_sqlite".into(),
        source_id: "app".into(),
        source_schema: "main".into(),
        source_table: "invoices".into(),
        source_database_mutated: false,
        change_set: json!({
            "patch": {"late_fee_cents": 0, "waiver_reason": "grace"},
            "before": {"late_fee_cents": 5500, "waiver_reason": null},
            "after": {"late_fee_cents": 0, "waiver_reason": "grace"},
            "principal": {"id": "agent", "source": "environment"},
            "source": {"primary_key": {"column": "id", "value": "INV-1"}},
            "approval": {"required_role": "billing_lead"},
            "guards": {"allowed_columns": ["late_fee_cents", "waiver_reason"], "expected_version": {"column": "updated_at", "value": "2026-01-01"}},
            "evidence": {"bundle_id": "ev_1", "query_fingerprint": "sha256:fp"},
            "writeback": {"mode": "guarded_update", "executor": "sql_update"}
        }),
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn receipt(status: &str, mutated: bool) -> StoredReceipt {
    StoredReceipt {
        receipt_id: 7,
        writeback_job_id: "wbj_1".into(),
        proposal_id: "wrp_1".into(),
        runner_id: "local_runner".into(),
        status: status.into(),
        idempotency_key: "wrp_1:INV-1".into(),
        source_database_mutated: mutated,
        receipt: json!({"rows_affected": u8::from(mutated)}),
        created_at: "2026-01-02T00:00:00.000Z".into(),
    }
}

fn audit() -> StoredQueryAudit {
    StoredQueryAudit {
        audit_id: 3,
        proposal_id: None,
        evidence_bundle_id: Some("ev_1".into()),
        tenant_id: Some("acme".into()),
        principal: None,
        capability: None,
        business_object: None,
        object_id: None,
        primary_key_value: None,
        source_id: "app".into(),
        query_fingerprint: "sha256:fp".into(),
        table_name: "invoices".into(),
        row_count: 1,
        payload: json!({"statement_template": "SELECT id FROM main.invoices WHERE id = ?"}),
        created_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn evidence() -> StoredEvidence {
    let item = |n: i64, item: Value| StoredEvidenceItem {
        evidence_item_id: n,
        evidence_bundle_id: "ev_1".into(),
        item,
        created_at: "2026-01-01T00:00:00.000Z".into(),
    };
    StoredEvidence {
        evidence_bundle_id: "ev_1".into(),
        proposal_id: Some("wrp_1".into()),
        tenant_id: "acme".into(),
        principal: Some("agent".into()),
        capability: Some("billing.inspect_invoice".into()),
        business_object: Some("invoices".into()),
        object_id: Some("INV-1".into()),
        source_id: Some("app".into()),
        source_table: Some("invoices".into()),
        query_fingerprint: Some("sha256:fp".into()),
        items: vec![
            item(
                1,
                json!({"kind": "row", "primary_key": {"value": "INV-1"}, "visible_row": {"id": "INV-1", "late_fee_cents": 5500, "meta": {"a": 1}}}),
            ),
            item(2, json!({"kind": "note"})),
        ],
        payload: json!({}),
        query_audit: vec![audit()],
        created_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

#[test]
fn proposal_listing_and_diff() {
    let p = proposal("pending_review");
    assert_eq!(
        diff_lines(&p),
        [
            "late_fee_cents: 5500 -> 0",
            "waiver_reason: null -> \"grace\""
        ]
    );
    assert_eq!(
        proposal_list_entry(&p),
        "2026-01-01T00:00:00.000Z  wrp_1  pending_review  billing.propose_late_fee_waiver\n  object: invoices:INV-1\n  target: external_sqlite:app/main.invoices/INV-1\n  tenant: acme  source changed: no\n"
    );
}

#[test]
fn first_look_names_the_next_step_for_the_state() {
    let pending = proposal_first_look(&proposal("pending_review"), 2, "latest", " --store x.db");
    assert!(pending.starts_with("Proposal wrp_1\nStatus: "));
    assert!(pending.contains("Evidence:\nev_1 (2 items)\n"));
    assert!(pending.contains("sluicegate proposals approve wrp_1 --yes --store x.db\n"));
    assert!(pending.contains("sluicegate replay show latest --store x.db\n"));
    let approved = proposal_first_look(&proposal("approved"), 0, "wrp_1", "");
    assert!(approved.contains("Evidence:\nev_1\n"));
    assert!(approved.contains("sluicegate apply wrp_1\n"));
    assert!(approved.ends_with("More detail:\nsluicegate proposals show wrp_1 --details"));
}

#[test]
fn details_list_guards_and_events() {
    let p = proposal("pending_review");
    let none = proposal_details(&p, None);
    assert!(none.contains("approval: "));
    assert!(none.contains(" required role billing_lead\n"));
    assert!(none.contains("conflict guard: updated_at=\"2026-01-01\"\n"));
    assert!(none.contains("primary key: id=\"INV-1\"\n"));
    assert!(none.contains("allowed columns: late_fee_cents, waiver_reason\n"));
    assert!(!none.contains("Events:"));
    assert!(proposal_details(&p, Some(&[])).ends_with("Events:\n  none"));
    let event = StoredEvent {
        event_id: 1,
        proposal_id: "wrp_1".into(),
        kind: "proposal_created".into(),
        actor: "agent".into(),
        payload: json!({}),
        created_at: "t0".into(),
        prev_hash: String::new(),
        chain_hash: String::new(),
    };
    assert!(
        proposal_details(&p, Some(&[event]))
            .ends_with("  event 1: proposal_created by agent at t0")
    );
    let mut unguarded = p.clone();
    unguarded.change_set["guards"]["expected_version"] = Value::Null;
    assert!(proposal_details(&unguarded, None).contains("conflict guard: none\n"));
}

#[test]
fn replay_story_counts_and_receipts() {
    let p = proposal("applied");
    let replay = json!({
        "events": [{"kind": "proposal_approved", "actor": "lead", "created_at": "t1"}],
        "receipts": [{"receipt_id": 7, "status": "applied", "receipt": {"rows_affected": 1}, "source_database_mutated": true, "idempotency_key": "k"}],
        "query_audit": [{"audit_id": 3, "source_id": "app", "table_name": "invoices", "row_count": 1, "query_fingerprint": "fp"}],
        "evidence": [{"evidence_bundle_id": "ev_1", "items": [{}, {}], "query_audit": [{"audit_id": 3, "source_id": "app", "table_name": "invoices", "row_count": 1}]}]
    });
    let story = replay_story(&p, &replay, "");
    assert!(story.starts_with(
        "Replay replay_wrp_1\n\nWhat happened:\n1. Agent called billing.propose_late_fee_waiver\n"
    ));
    assert!(story.contains("Evidence:\n1 query audit record\n2 evidence items\n"));
    assert!(story.contains(
        "receipt 7: applied (rows affected 1, source changed yes)\nsource DB changed after writeback: yes\n"
    ));
    assert!(!story.contains("proposals approve"));
    let details = replay_details(&p, &replay);
    // The audit listed both inline and in the bundle is counted once.
    assert!(details.contains("query audit records: 1\n  audit 3: app/invoices rows 1"));
    let md = replay_markdown(&p, &replay);
    assert!(md.starts_with("# Sluicegate Replay\n\nProposal: wrp_1\n"));
    assert!(md.contains("- late_fee_cents: 5500 -> 0\n- waiver_reason: null -> \"grace\"\n"));
    assert!(md.contains("- proposal_approved by lead at t1\n"));
    assert!(md.contains("  - source database mutated: yes\n"));
}

#[test]
fn a_pending_replay_without_receipts() {
    let story = replay_story(&proposal("pending_review"), &json!({}), " --store s.db");
    assert!(story.contains("5. Approval is still pending\n"));
    assert!(story.contains("sluicegate proposals approve wrp_1 --yes --store s.db\n"));
    let md = replay_markdown(&proposal("pending_review"), &json!({}));
    assert!(md.contains("- evidence: ev_1\n  - rows captured: 0\n"));
    assert!(md.contains("- no writeback receipt recorded yet\n"));
}

#[test]
fn evidence_views() {
    let b = evidence();
    let view = evidence_view(&b, "");
    assert!(
        view.starts_with("Evidence ev_1\n\nUsed for:\nbilling.inspect_invoice\ninvoices INV-1\n\n")
    );
    assert!(view.contains("Captured:\n2 evidence items\n1 query audit record\n"));
    assert!(view.contains("* row INV-1\n  id: \"INV-1\"\n  late_fee_cents: 5500\n  meta.a: 1\n"));
    assert!(view.contains("* note 2\n  (no scalar preview fields)\n"));
    assert!(view.ends_with("  sluicegate replay show wrp_1"));
    let md = evidence_markdown(&b);
    assert!(md.starts_with("# Evidence ev_1\n\n- Tenant: acme\n- Proposal: wrp_1\n"));
    assert!(md.contains("## Captured Items\n\n```json\n"));
    assert_eq!(
        evidence_list_entry(&b),
        "2026-01-01T00:00:00.000Z  ev_1\n  tenant: acme  capability: billing.inspect_invoice  proposal: wrp_1\n  source: app/invoices  object: invoices:INV-1\n"
    );
}

#[test]
fn query_audit_views() {
    let a = audit();
    assert_eq!(
        query_audit_list_entry(&a, false),
        "2026-01-01T00:00:00.000Z  audit 3\n  source: app/invoices  rows: 1\n  proposal: none  evidence: ev_1\n"
    );
    assert!(query_audit_list_entry(&a, true).ends_with(
        "  query fingerprint: sha256:fp\n  statement: SELECT id FROM main.invoices WHERE id = ?\n"
    ));
    assert_eq!(
        query_audit_view(&a),
        "Query audit 3\n\nRead:\napp/invoices\n\nRows returned:\n1\n\nStatement (parameters redacted):\nSELECT id FROM main.invoices WHERE id = ?\n\nQuery fingerprint:\nsha256:fp\n\nLinked records:\nproposal: none\nevidence: ev_1"
    );
}

#[test]
fn receipt_views() {
    let applied = receipt_view(&receipt("applied", true), "");
    assert!(applied.starts_with("Receipt rct_000007\nStatus: applied\n"));
    assert!(applied.contains("conflict guard passed\n"));
    assert!(applied.contains("Source DB changed:\nyes\n"));
    let conflict = receipt_view(&receipt("conflict", false), " --store s.db");
    assert!(conflict.contains("conflict guard blocked stale write\n"));
    assert!(conflict.ends_with("sluicegate replay show wrp_1 --store s.db"));
    assert!(
        receipt_view(&receipt("failed", false), "").contains("guarded writeback did not apply\n")
    );
    assert_eq!(
        receipt_list_entry(&receipt("already_applied", false)),
        "2026-01-02T00:00:00.000Z  receipt 7  already_applied\n  proposal: wrp_1  job: wbj_1\n  idempotency: wrp_1:INV-1  source changed: no\n"
    );
}

fn report(
    status: ReceiptStatus,
    code: Option<&str>,
    handler: Option<HandlerReport>,
) -> ApplyReport {
    ApplyReport {
        proposal: proposal("approved"),
        executor: "hook".into(),
        writeback_job_id: "wbj_1".into(),
        idempotency_key: "wrp_1:INV-1".into(),
        job: None,
        result: ExecutorResult {
            status,
            affected_rows: u64::from(status == ReceiptStatus::Applied),
            result_hash: None,
            error_code: code.map(str::to_string),
            new_version: None,
        },
        receipt: None,
        dry_run: false,
        completed_at: "t".into(),
        handler,
        approved_by: "ann".into(),
        signed: false,
    }
}

#[test]
fn apply_summaries() {
    let applied = apply_summary(&report(ReceiptStatus::Applied, None, None), "");
    assert!(
        applied.starts_with("Guarded writeback applied.\n\nChecks:\n* proposal approved: yes\n")
    );
    assert!(applied.contains("* affected rows: 1\n* idempotency key: wrp_1:INV-1\n"));
    assert!(
        applied.contains("Receipt:\n(none: dry runs change nothing and record only an event)\n")
    );
    let conflict = apply_summary(
        &report(ReceiptStatus::Conflict, Some("VERSION_CONFLICT"), None),
        "",
    );
    assert!(conflict.contains("* conflict guard passed: no\n"));
    assert!(conflict.contains("The row changed after the agent saw it.\nResult:\nconflict\n"));
    let missing = apply_summary(
        &report(ReceiptStatus::Conflict, Some("ROW_NOT_FOUND"), None),
        "",
    );
    assert!(missing.contains("* primary key matched: no\n"));
    let handler = HandlerReport {
        executor_type: "http_handler",
        called: false,
        recorded: false,
        attempt: 1,
        forced: false,
        previous_status: Some(ReceiptStatus::Failed),
        elapsed_ms: 0,
    };
    let failed = handler_apply_summary(
        &report(
            ReceiptStatus::Failed,
            Some("HANDLER_HTTP_500"),
            Some(handler),
        ),
        " --store s.db",
    );
    assert!(failed.starts_with("App-owned writeback failed.\n"));
    assert!(failed.contains("* handler called: no (answered from the recorded receipt)\n"));
    assert!(failed.contains("sluicegate apply wrp_1 --force-handler-retry --store s.db"));
    // Without handler details the guarded summary is shown.
    assert_eq!(
        handler_apply_summary(&report(ReceiptStatus::Applied, None, None), ""),
        applied
    );
}

/// Model-written text that tries to redraw the screen: a carriage return and cursor moves that
/// overwrite the diff line, a newline that forges one, an OSC-8 link, C1, BEL, DEL and bidi.
const FORGED: &str = "courtesy\r\u{1b}[1A\u{1b}[2K  late_fee_cents: 5500 -> 5500\n  late_fee_cents: 5500 -> 5500\u{7}";
const LINK: &str =
    "\u{1b}]8;;https://evil.example\u{1b}\\ok\u{1b}]8;;\u{1b}\\ \u{9b}2K\u{7f}\u{202e}0055\u{2066}";

/// Every view of records holding hostile text: only the view's own line breaks stay raw, the
/// forged line never starts a line, and the escapes are visible.
#[test]
fn hostile_text_never_reaches_the_screen_raw() {
    let mut p = proposal("applied");
    p.object_id = format!("INV-1{LINK}");
    p.tenant_id = format!("acme{FORGED}");
    p.change_set["after"]["waiver_reason"] = json!(FORGED);
    p.change_set["patch"]["waiver_reason"] = json!(FORGED);
    p.change_set["before"]["waiver_reason"] = json!(LINK);
    p.change_set["principal"]["id"] = json!(LINK);
    p.change_set["guards"]["expected_version"]["value"] = json!(FORGED);
    let replay = json!({
        "events": [{"kind": "proposal_approved", "actor": FORGED, "created_at": LINK}],
        "receipts": [{"receipt_id": 7, "status": FORGED, "receipt": {"rows_affected": 1, "safe_error_code": LINK}, "idempotency_key": FORGED}],
        "query_audit": [{"audit_id": 3, "source_id": "app", "table_name": LINK, "row_count": 1, "query_fingerprint": FORGED}],
        "evidence": [{"evidence_bundle_id": LINK, "items": [{}], "query_audit": []}],
        "shadow_human_actions": [{"action_id": 1, "actor": FORGED, "created_at": LINK, "patch": {LINK: FORGED}, "notes": FORGED}]
    });
    let mut b = evidence();
    b.object_id = Some(FORGED.into());
    b.principal = Some(LINK.into());
    b.items[0].item["visible_row"]["status"] = json!(FORGED);
    b.items[0].item["visible_row"][LINK] = json!({"nested": LINK});
    let mut r = receipt("conflict", false);
    r.idempotency_key = FORGED.into();
    r.receipt["safe_error_code"] = json!(LINK);
    let mut a = audit();
    a.table_name = FORGED.into();
    let mut applied = report(ReceiptStatus::Failed, Some(FORGED), None);
    applied.proposal = p.clone();
    applied.idempotency_key = LINK.into();
    let handler = HandlerReport {
        executor_type: "http_handler",
        called: true,
        recorded: true,
        attempt: 1,
        forced: false,
        previous_status: None,
        elapsed_ms: 3,
    };
    let mut handled = report(ReceiptStatus::Conflict, Some(LINK), Some(handler));
    handled.proposal = p.clone();
    handled.executor = FORGED.into();
    let views = [
        diff_lines(&p).join("\n"),
        proposal_list_entry(&p),
        proposal_first_look(&p, 1, "latest", ""),
        proposal_details(&p, None),
        replay_story(&p, &replay, ""),
        replay_details(&p, &replay),
        replay_markdown(&p, &replay),
        evidence_view(&b, ""),
        evidence_markdown(&b),
        evidence_list_entry(&b),
        query_audit_list_entry(&a, true),
        query_audit_view(&a),
        receipt_view(&r, ""),
        receipt_list_entry(&r),
        apply_summary(&applied, ""),
        handler_apply_summary(&handled, ""),
    ];
    for view in &views {
        let raw: Vec<char> = view
            .chars()
            .filter(|c| sluicegate_core::display::is_control(*c) && *c != '\n')
            .collect();
        assert!(raw.is_empty(), "raw controls {raw:?} in:\n{view}");
        assert!(
            !view.contains("\n  late_fee_cents: 5500 -> 5500"),
            "a forged line in:\n{view}"
        );
    }
    let diff = &views[0];
    assert!(
        diff.contains(r#"waiver_reason: "\x1b]8;;https://evil.example\x1b\\ok"#),
        "{diff}"
    );
    assert!(
        diff.contains(r#"-> "courtesy\r\x1b[1A\x1b[2K  late_fee_cents: 5500 -> 5500\n  late_fee_cents: 5500 -> 5500\x07""#),
        "{diff}"
    );
    assert!(
        views[7].contains(r#"  status: "courtesy\r\x1b[1A"#),
        "{}",
        views[7]
    );
    assert!(views[3].contains(r#"principal: \x1b]8;;https://evil.example\x1b\ok\x1b]8;;\x1b\ \u{9b}2K\x7f\u{202e}0055\u{2066} ("#), "{}", views[3]);
}

#[test]
fn markdown_renders_model_text_as_the_characters_it_is() {
    for (value, escaped) in [
        (
            "[Approved by CFO](https://evil.example/p) ![](https://evil.example/px.png)",
            "\\[Approved by CFO\\](https://evil.example/p) !\\[\\](https://evil.example/px.png)",
        ),
        (
            "<img src=x onerror=alert(1)> **APPROVED** ~~fee~~ `code`",
            "\\<img src=x onerror=alert(1)\\> \\*\\*APPROVED\\*\\* \\~\\~fee\\~\\~ \\`code\\`",
        ),
        ("_all_ snake_case_name", "\\_all\\_ snake_case_name"),
        ("a\\x1b b\\", "a\\\\x1b b\\\\"),
        ("INV-3001 plain", "INV-3001 plain"),
    ] {
        let md = super::markdown(value);
        assert_eq!(md, escaped, "{value}");
        assert_eq!(markdown_as_rendered(&md), value, "{value}");
    }
}
