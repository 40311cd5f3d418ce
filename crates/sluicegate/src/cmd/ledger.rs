//! `sluicegate evidence|query-audit|receipts`: inspecting what the ledger recorded.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sluicegate_ledger::Filter;

use crate::cmd::proposals::StoreArgs;
use crate::cmd::replay::write_file;
use sluicegate_runtime::view;

use crate::context::{json_text, open_existing_ledger, print_json, store_hint, store_path};

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// List evidence bundles, newest first
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        capability: Option<String>,
        #[arg(long)]
        proposal: Option<String>,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one evidence bundle: what was read, for whom, through which capability
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// Export one evidence bundle as json or markdown
    Export {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, alias = "out")]
        output: PathBuf,
        #[arg(long, default_value = "json", value_parser = ["json", "markdown"])]
        format: String,
    },
}

#[derive(clap::Subcommand)]
pub enum QueryAuditCommand {
    /// List query-audit records, newest first
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        proposal: Option<String>,
        #[arg(long)]
        evidence: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        table: Option<String>,
        #[arg(long)]
        details: bool,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one query-audit record
    Show {
        audit_id: i64,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum ReceiptsCommand {
    /// List writeback receipts, newest first
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        proposal: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one receipt by its number (rct_000001 is 1)
    Show {
        receipt_id: String,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
}

fn ledger(s: &StoreArgs) -> anyhow::Result<sluicegate_ledger::Ledger> {
    open_existing_ledger(&store_path(s.store.as_deref(), s.config.as_deref()))
}

pub fn run_evidence(cmd: EvidenceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        EvidenceCommand::List {
            store,
            tenant,
            capability,
            proposal,
            limit,
            json,
        } => {
            let list = ledger(&store)?.list_evidence(&Filter {
                tenant,
                capability,
                proposal,
                limit: Some(limit),
                ..Filter::default()
            })?;
            if json {
                print_json(&json!({"evidence": list}))?;
            } else if list.is_empty() {
                outln!("No evidence bundles found.");
            } else {
                for b in &list {
                    outln!("{}", view::evidence_list_entry(b));
                }
            }
        }
        EvidenceCommand::Show { id, store, json } => {
            let b = ledger(&store)?.evidence(&id)?;
            if json {
                print_json(&b)?;
            } else {
                outln!(
                    "{}",
                    view::evidence_view(&b, &store_hint(store.store.as_deref()))
                );
            }
        }
        EvidenceCommand::Export {
            id,
            store,
            output,
            format,
        } => {
            let b = ledger(&store)?.evidence(&id)?;
            let body = if format == "markdown" {
                view::evidence_markdown(&b)
            } else {
                json_text(&b)?
            };
            write_file(&output, &body)?;
            outln!("exported {id} to {}", output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_query_audit(cmd: QueryAuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        QueryAuditCommand::List {
            store,
            tenant,
            proposal,
            evidence,
            source,
            table,
            details,
            limit,
            json,
        } => {
            let list = ledger(&store)?.list_query_audit(&Filter {
                tenant,
                proposal,
                evidence,
                source,
                table,
                limit: Some(limit),
                ..Filter::default()
            })?;
            if json {
                print_json(&json!({"query_audit": list}))?;
            } else if list.is_empty() {
                outln!("No query audit records found.");
            } else {
                for a in &list {
                    outln!("{}", view::query_audit_list_entry(a, details));
                }
            }
        }
        QueryAuditCommand::Show {
            audit_id,
            store,
            json,
        } => {
            let a = ledger(&store)?.query_audit(audit_id)?;
            if json {
                print_json(&a)?;
            } else {
                outln!("{}", view::query_audit_view(&a));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_receipts(cmd: ReceiptsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ReceiptsCommand::List {
            store,
            proposal,
            status,
            limit,
            json,
        } => {
            let list = ledger(&store)?.list_receipts(&Filter {
                proposal,
                status,
                limit: Some(limit),
                ..Filter::default()
            })?;
            if json {
                print_json(&json!({"receipts": list}))?;
            } else if list.is_empty() {
                outln!("No writeback receipts found.");
            } else {
                for r in &list {
                    outln!("{}", view::receipt_list_entry(r));
                }
            }
        }
        ReceiptsCommand::Show {
            receipt_id,
            store,
            json,
        } => {
            let n: i64 = receipt_id
                .trim_start_matches("rct_")
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "receipts show requires a receipt number such as 1 or rct_000001"
                    )
                })?;
            let r = ledger(&store)?.receipt(n)?;
            if json {
                print_json(&r)?;
            } else {
                outln!(
                    "{}",
                    view::receipt_view(&r, &store_hint(store.store.as_deref()))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
