//! `sluicegate apply <id|latest>`: run the approved proposal's executor: the guarded `UPDATE`
//! or the configured app-owned handler.

use std::path::PathBuf;
use std::process::ExitCode;

use sluicegate_core::secrets;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{ApplyOptions, Env, ReviewApi, view};

use crate::context::{
    config_path, load_config, open_existing_store, print_json, runtime, store_hint,
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
    let ledger = open_existing_store(a.store.as_deref(), a.config.as_deref())?;
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
            errln!("refused: {}: {e}", e.code().unwrap_or_default());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let hint = store_hint(a.store.as_deref());
    match (&report.handler, &report.receipt) {
        (Some(_), Some(receipt)) if a.json => {
            print_json(&secrets::redact(&serde_json::to_value(receipt)?))?
        }
        (Some(_), _) if !a.json => outln!("{}", view::handler_apply_summary(&report, &hint)),
        _ if a.json => print_json(&report.legacy_result(review.runner_id()))?,
        _ => outln!("{}", view::apply_summary(&report, &hint)),
    }
    Ok(match report.result.status {
        ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}
