//! Writeback views: `receipts show`, the `receipts list` entry, and the summaries `apply`
//! prints for the guarded UPDATE and for app-owned handlers.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_ledger::StoredReceipt;
use sluicegate_protocol::ReceiptStatus;

use super::{field, text, yes_no};
use crate::ApplyReport;

/// `receipts show` default view.
pub fn receipt_view(r: &StoredReceipt, hint: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Receipt {}\nStatus: {}\n",
        r.display_id(),
        text(&r.status).replace('_', " ")
    );
    let pid = text(&r.proposal_id);
    let _ = writeln!(out, "Proposal:\n{pid}\n");
    let _ = writeln!(out, "Writeback:\nguarded single-row update\n");
    let _ = writeln!(out, "Checks:");
    match r.status.as_str() {
        "applied" | "already_applied" => {
            let _ = writeln!(
                out,
                "primary key matched\ntenant guard matched\nallowed columns only\nconflict guard passed"
            );
        }
        "conflict" => {
            let _ = writeln!(
                out,
                "primary key matched\ntenant guard matched\nconflict guard blocked stale write"
            );
        }
        _ => {
            let _ = writeln!(out, "guarded writeback did not apply");
        }
    }
    let _ = writeln!(
        out,
        "affected rows: {}\n",
        field(r.receipt.get("rows_affected"))
    );
    if let Some(code) = r.receipt.get("safe_error_code").and_then(Value::as_str) {
        let _ = writeln!(out, "Safe error:\n{}\n", text(code));
    }
    let _ = writeln!(
        out,
        "Source DB changed:\n{}\n",
        yes_no(r.source_database_mutated)
    );
    let _ = write!(out, "Next:\nsluicegate replay show {pid}{hint}");
    out
}

/// One entry of `receipts list` (it ends in a blank line's newline).
pub fn receipt_list_entry(r: &StoredReceipt) -> String {
    format!(
        "{}  receipt {}  {}\n  proposal: {}  job: {}\n  idempotency: {}  source changed: {}\n",
        text(&r.created_at),
        r.receipt_id,
        text(&r.status),
        text(&r.proposal_id),
        text(&r.writeback_job_id),
        text(&r.idempotency_key),
        yes_no(r.source_database_mutated)
    )
}

/// The apply summary (writeback.md §A.10).
pub fn apply_summary(r: &ApplyReport, hint: &str) -> String {
    let res = &r.result;
    let code = res.error_code.as_deref();
    let shown_code = code.map(text);
    let title = match res.status {
        _ if r.dry_run => "Guarded writeback dry run passed.",
        ReceiptStatus::Conflict => "Guarded writeback returned conflict.",
        ReceiptStatus::Failed => "Guarded writeback failed.",
        ReceiptStatus::AlreadyApplied => "Guarded writeback already applied.",
        _ if res.affected_rows == 0 => "Guarded writeback already applied.",
        _ => "Guarded writeback applied.",
    };
    let matched = match (res.status, code) {
        (ReceiptStatus::Conflict, Some("ROW_NOT_FOUND")) => "no",
        (ReceiptStatus::Failed, _) => "not completed",
        _ => "yes",
    };
    let guard = match (res.status, code) {
        (_, Some("VERSION_CONFLICT")) => "no",
        (ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied, _) => "yes",
        _ => "not completed",
    };
    let mut out = format!(
        "{title}\n\nChecks:\n* proposal approved: yes\n* primary key matched: {matched}\n* tenant guard matched: {matched}\n* allowed columns only: yes\n* conflict guard passed: {guard}\n* affected rows: {}\n* idempotency key: {}\n\n",
        res.affected_rows,
        text(&r.idempotency_key)
    );
    match res.status {
        ReceiptStatus::Conflict => {
            let why = if code == Some("VERSION_CONFLICT") || code == Some("IDEMPOTENT_CONFLICT") {
                "The row changed after the agent saw it."
            } else {
                "The target row was not available under the primary-key and tenant guard."
            };
            out.push_str(&format!(
                "{why}\nResult:\nconflict\nSource DB changed by Sluicegate:\nno\nWhy:\n{}\n\n",
                shown_code.as_deref().unwrap_or("conflict")
            ));
        }
        ReceiptStatus::Failed => {
            out.push_str(&format!(
                "Error:\n{}\n\n",
                shown_code.as_deref().unwrap_or("writeback failed")
            ));
            if code == Some("WRITER_PRIVILEGE_MISSING") {
                out.push_str("The database refused the writer a privilege; nothing was written.\nNext:\nsluicegate doctor --check-writeback   # names the missing grant and the statement that grants it\n\n");
            }
        }
        _ => {}
    }
    match &r.receipt {
        Some(receipt) => out.push_str(&format!("Receipt:\n{}\n\n", text(&receipt.receipt_hash))),
        None => {
            out.push_str("Receipt:\n(none: dry runs change nothing and record only an event)\n\n")
        }
    }
    out.push_str(&format!(
        "Replay:\nsluicegate replay show {}{hint}",
        text(&r.proposal.proposal_id)
    ));
    out
}

/// The app-owned handler summary (writeback.md §C.7), with the next step spelled out whenever
/// the handler was not called or did not apply.
pub fn handler_apply_summary(r: &ApplyReport, hint: &str) -> String {
    let res = &r.result;
    let code = res.error_code.as_deref();
    let shown_code = code.map(text);
    let id = text(&r.proposal.proposal_id);
    let Some(h) = &r.handler else {
        return apply_summary(r, hint);
    };
    let title = match res.status {
        _ if r.dry_run => "App-owned writeback dry run passed; the handler was not called.",
        ReceiptStatus::Conflict => "App-owned writeback returned conflict.",
        ReceiptStatus::Failed => "App-owned writeback failed.",
        ReceiptStatus::AlreadyApplied => "App-owned writeback already applied.",
        _ => "App-owned writeback applied.",
    };
    let mutated = r
        .receipt
        .as_ref()
        .is_some_and(|x| x.source_database_mutated);
    let called = if h.called {
        format!("yes ({} ms, attempt {})", h.elapsed_ms, h.attempt)
    } else if r.dry_run {
        "no (dry run)".to_string()
    } else {
        "no (answered from the recorded receipt)".to_string()
    };
    let mut out = format!(
        "{title}\n\nChecks:\n* proposal approved: yes\n* execution authority: app-owned {} {} outside MCP\n* handler called: {called}\n* source database changed by handler: {}\n* affected rows: {}\n* idempotency key: {}\n\n",
        h.executor_type,
        text(&r.executor),
        if mutated { "yes" } else { "no" },
        res.affected_rows,
        text(&r.idempotency_key)
    );
    match res.status {
        ReceiptStatus::Conflict => out.push_str(&format!(
            "Result:\nconflict\nWhy:\n{}\n\n",
            shown_code.as_deref().unwrap_or("handler returned conflict")
        )),
        ReceiptStatus::Failed => out.push_str(&format!(
            "Error:\n{}\n\n",
            shown_code.as_deref().unwrap_or("handler writeback failed")
        )),
        _ => {}
    }
    match &r.receipt {
        Some(receipt) => out.push_str(&format!("Receipt:\n{}\n\n", text(&receipt.receipt_hash))),
        None => {
            out.push_str("Receipt:\n(none: dry runs change nothing and record only an event)\n\n")
        }
    }
    let retry = format!("sluicegate apply {id} --force-handler-retry{hint}");
    let next = match (res.status, code) {
        _ if r.dry_run => None,
        (ReceiptStatus::Failed, Some("HANDLER_IDEMPOTENCY_VIOLATION")) => Some(
            "The handler applied this idempotency key a second time. Check the application for a duplicate write and fix the handler's idempotency check before retrying anything.".to_string(),
        ),
        (ReceiptStatus::Failed, _) => Some(format!(
            "{}Nothing is retried automatically; the proposal stays failed and inspectable.\nAfter fixing the cause, send the same request once more (same idempotency key; a handler that did apply it answers already_applied):\n  {retry}",
            if h.called {
                ""
            } else {
                "The handler already answered failed for this proposal and was not called again. "
            }
        )),
        (ReceiptStatus::Conflict, _) => Some(
            "The handler refused: the row changed after the proposal, or it is not this tenant's. Nothing was written; ask the agent for a fresh proposal from the current row.".to_string(),
        ),
        (ReceiptStatus::AlreadyApplied, _) if !h.called => Some(format!(
            "The handler already applied this proposal and was not called again. To have it confirm, run (it must answer already_applied):\n  {retry}"
        )),
        _ => None,
    };
    if let Some(next) = next {
        out.push_str(&format!("Next step:\n{next}\n\n"));
    }
    out.push_str(&format!("Replay:\nsluicegate replay show {id}{hint}"));
    out
}
