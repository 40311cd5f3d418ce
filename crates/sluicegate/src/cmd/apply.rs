//! `sluicegate apply <id|latest>`: run the approved proposal's guarded executor.

use std::path::PathBuf;
use std::process::ExitCode;

use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{ApplyOptions, ApplyReport, Env, ReviewApi, ReviewError};

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
    /// Validate and render the guarded UPDATE without connecting; changes no status
    #[arg(long)]
    dry_run: bool,
    /// Project id recorded in the writeback job
    #[arg(long, default_value = "local")]
    project: String,
    /// Job lease length (clamped to 15..3600)
    #[arg(long, default_value_t = 300)]
    lease_seconds: i64,
    /// Print the legacy result object as JSON
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
    };
    let report = match runtime()?.block_on(review.apply(&a.id, &opts)) {
        Ok(r) => r,
        Err(ReviewError::Refused(message)) => {
            eprintln!("refused: {message}");
            return Ok(ExitCode::from(1));
        }
        Err(ReviewError::Ledger(e)) if e.code().is_some() && e.code() != Some("NOT_FOUND") => {
            eprintln!("refused: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        print_json(&report.legacy_result(review.runner_id()))?;
    } else {
        println!("{}", human(&report, &store_hint(a.store.as_deref())));
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
        res.affected_rows, r.job.idempotency_key
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
