//! `sluicegate evidence|query-audit|receipts`: listing and showing what the ledger recorded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use sluicegate_ledger::Filter;
use sluicegate_runtime::view;

use crate::common::{Paths as StoreArgs, json_text};
use crate::{Outcome, Printer};

#[derive(clap::Subcommand)]
#[command(defer = true)]
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
#[command(defer = true)]
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
#[command(defer = true)]
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
    s.ledger()
}

/// ` --store <path>` when the user passed one explicitly, for next-step hints.
fn store_hint(s: &StoreArgs) -> String {
    s.store
        .as_ref()
        .map(|p| format!(" --store {}", p.display()))
        .unwrap_or_default()
}

/// Write an export, creating its directory.
pub fn write_file(path: &Path, body: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, body).with_context(|| format!("cannot write {}", path.display()))
}

pub fn run_evidence(cmd: EvidenceCommand, out: &mut dyn Printer) -> Outcome {
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
                out.out(&json_text(&json!({"evidence": list}))?);
            } else if list.is_empty() {
                out.out("No evidence bundles found.\n");
            } else {
                for b in &list {
                    out.out(&format!("{}\n", view::evidence_list_entry(b)));
                }
            }
        }
        EvidenceCommand::Show { id, store, json } => {
            let b = ledger(&store)?.evidence(&id)?;
            if json {
                out.out(&json_text(&b)?);
            } else {
                out.out(&format!(
                    "{}\n",
                    view::evidence_view(&b, &store_hint(&store))
                ));
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
            out.out(&format!("exported {id} to {}\n", output.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_query_audit(cmd: QueryAuditCommand, out: &mut dyn Printer) -> Outcome {
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
                out.out(&json_text(&json!({"query_audit": list}))?);
            } else if list.is_empty() {
                out.out("No query audit records found.\n");
            } else {
                for a in &list {
                    out.out(&format!("{}\n", view::query_audit_list_entry(a, details)));
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
                out.out(&json_text(&a)?);
            } else {
                out.out(&format!("{}\n", view::query_audit_view(&a)));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_receipts(cmd: ReceiptsCommand, out: &mut dyn Printer) -> Outcome {
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
                out.out(&json_text(&json!({"receipts": list}))?);
            } else if list.is_empty() {
                out.out("No writeback receipts found.\n");
            } else {
                for r in &list {
                    out.out(&format!("{}\n", view::receipt_list_entry(r)));
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
                out.out(&json_text(&r)?);
            } else {
                out.out(&format!(
                    "{}\n",
                    view::receipt_view(&r, &store_hint(&store))
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
