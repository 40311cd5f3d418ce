//! `sluicegate apply <id|latest>`: run the approved proposal's executor: the guarded `UPDATE`
//! or the configured app-owned handler.

use std::path::PathBuf;
use std::process::ExitCode;

use sluicegate_core::secrets;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{ApplyOptions, ApplyReport, Env, ReviewApi};

use crate::context::{
    config_path, load_config, open_existing_ledger, print_json, runtime, store_hint, store_path,
};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// Proposal id or `latest`
    id: String,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    store: Option<PathBuf>,
    /// Validate and render the guarded UPDATE (or build the handler request) without
    /// connecting or calling a handler; changes no status
    #[arg(long)]
    dry_run: bool,
    /// Call the app-owned handler again although an earlier call was already sent; the
    /// handler gets the same idempotency key and must answer already_applied if it applied it
    #[arg(long)]
    force_handler_retry: bool,
    /// Project id recorded in the writeback job
    #[arg(long, default_value = "local")]
    project: String,
    /// Job lease length (clamped to 15..3600)
    #[arg(long, default_value_t = 300)]
    lease_seconds: i64,
    /// Print the legacy result object (handlers: the execution receipt) as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&config_path(a.config.as_deref()))?;
    let store = store_path(a.store.as_deref(), a.config.as_deref());
    let ledger = open_existing_ledger(&store)?;
    let review = ReviewApi::new(Some(config), ledger, Env::process());
    let opts = ApplyOptions {
        dry_run: a.dry_run,
        project_id: a.project.clone(),
        lease_seconds: a.lease_seconds,
        force_handler_retry: a.force_handler_retry,
    };
    let report = match runtime()?.block_on(review.apply(&a.id, &opts)) {
        Ok(r) => r,
        Err(e) if e.code().is_some_and(|c| c != "NOT_FOUND") => {
            eprintln!("refused: {}: {e}", e.code().unwrap_or_default());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let hint = store_hint(a.store.as_deref());
    match (&report.handler, &report.receipt) {
        (Some(_), Some(receipt)) if a.json => {
            print_json(&secrets::redact(&serde_json::to_value(receipt)?))?
        }
        (Some(_), _) if !a.json => println!("{}", handler_human(&report, &hint)),
        _ if a.json => print_json(&report.legacy_result(review.runner_id()))?,
        _ => println!("{}", human(&report, &hint)),
    }
    Ok(match report.result.status {
        ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// The apply summary (writeback.md §A.10).
pub fn human(r: &ApplyReport, hint: &str) -> String {
    let res = &r.result;
    let code = res.error_code.as_deref();
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
        res.affected_rows, r.idempotency_key
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
                code.unwrap_or("conflict")
            ));
        }
        ReceiptStatus::Failed => {
            out.push_str(&format!(
                "Error:\n{}\n\n",
                code.unwrap_or("writeback failed")
            ));
        }
        _ => {}
    }
    match &r.receipt {
        Some(receipt) => out.push_str(&format!("Receipt:\n{}\n\n", receipt.receipt_hash)),
        None => {
            out.push_str("Receipt:\n(none: dry runs change nothing and record only an event)\n\n")
        }
    }
    out.push_str(&format!(
        "Replay:\nsluicegate replay show {}{hint}",
        r.proposal.proposal_id
    ));
    out
}

/// The app-owned handler summary (writeback.md §C.7), with the next step spelled out whenever
/// the handler was not called or did not apply.
pub fn handler_human(r: &ApplyReport, hint: &str) -> String {
    let res = &r.result;
    let code = res.error_code.as_deref();
    let id = &r.proposal.proposal_id;
    let Some(h) = &r.handler else {
        return human(r, hint);
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
        r.executor,
        if mutated { "yes" } else { "no" },
        res.affected_rows,
        r.idempotency_key
    );
    match res.status {
        ReceiptStatus::Conflict => out.push_str(&format!(
            "Result:\nconflict\nWhy:\n{}\n\n",
            code.unwrap_or("handler returned conflict")
        )),
        ReceiptStatus::Failed => out.push_str(&format!(
            "Error:\n{}\n\n",
            code.unwrap_or("handler writeback failed")
        )),
        _ => {}
    }
    match &r.receipt {
        Some(receipt) => out.push_str(&format!("Receipt:\n{}\n\n", receipt.receipt_hash)),
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
