//! `sluicegate proposals list|show|approve|reject`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sluicegate_core::decision::Verdict;
use sluicegate_ledger::Filter;
use sluicegate_runtime::view;

use super::decide::DecideArgs;
use crate::context::{open_existing_store, print_json, store_hint};
use crate::out::Screen;

#[derive(clap::Args)]
pub struct StoreArgs {
    /// Ledger path (default: SLUICEGATE_STORE, the config's storage.sqlite_path, ./.sluicegate/local.db)
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Config consulted only for its storage path
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(clap::Args, Default)]
pub struct ListFilter {
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub principal: Option<String>,
    #[arg(long)]
    pub capability: Option<String>,
    /// `type:id`, e.g. invoice:INV-3001
    #[arg(long)]
    pub object: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub table: Option<String>,
    /// Earliest created_at (RFC 3339 prefix)
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: u32,
}

impl ListFilter {
    pub fn to_filter(&self) -> anyhow::Result<Filter> {
        let (object_type, object_id) = match &self.object {
            None => (None, None),
            Some(o) => match o.split_once(':') {
                Some((t, id)) if !t.is_empty() && !id.is_empty() => {
                    (Some(t.to_string()), Some(id.to_string()))
                }
                _ => anyhow::bail!("--object must use type:id, for example invoice:INV-3001"),
            },
        };
        Ok(Filter {
            tenant: self.tenant.clone(),
            principal: self.principal.clone(),
            capability: self.capability.clone(),
            status: self.status.clone(),
            source: self.source.clone(),
            table: self.table.clone(),
            object_type,
            object_id,
            from: self.from.clone(),
            to: self.to.clone(),
            limit: Some(self.limit),
            ..Filter::default()
        })
    }
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum ProposalsCommand {
    /// List proposals, newest first
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        filter: ListFilter,
        #[arg(long)]
        json: bool,
    },
    /// Show one proposal (`latest` for the newest)
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Reviewer view: hashes, guards, fingerprints, events
        #[arg(long)]
        details: bool,
        #[arg(long)]
        json: bool,
    },
    /// Approve a proposal for guarded writeback (bound to the content hash shown, signed with
    /// the reviewer's key when reviewers are configured)
    Approve {
        #[command(flatten)]
        decide: DecideArgs,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a proposal (a reason is required)
    Reject {
        #[command(flatten)]
        decide: DecideArgs,
        #[arg(long)]
        reason: String,
    },
    #[command(flatten)]
    Ops(sluicegate_ops::jobs::ProposalOps),
}

pub fn run(cmd: ProposalsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProposalsCommand::List {
            store,
            filter,
            json,
        } => {
            let ledger = open_existing_store(store.store.as_deref(), store.config.as_deref())?;
            let list = ledger.list_proposals(&filter.to_filter()?)?;
            if json {
                print_json(&json!({"proposals": list}))?;
            } else if list.is_empty() {
                outln!("No proposals found.");
            } else {
                for p in &list {
                    outln!("{}", view::proposal_list_entry(p));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ProposalsCommand::Show {
            id,
            store,
            details,
            json,
        } => {
            let ledger = open_existing_store(store.store.as_deref(), store.config.as_deref())?;
            let pid = ledger.resolve_proposal_id(&id)?;
            let p = ledger.proposal(&pid)?;
            let events = ledger.events(&pid)?;
            let evidence = ledger.evidence_for_proposal(&pid)?;
            // What is shown comes from records a ledger edit could change: say so before
            // anything else when they do not verify (decisions and apply refuse it anyway).
            let problem = ledger
                .verify_proposal(&pid, &[])?
                .problems
                .into_iter()
                .next();
            if json {
                print_json(&json!({
                    "proposal": p,
                    "events": events,
                    "receipts": ledger.receipts(&pid)?,
                    "evidence": evidence.first(),
                    "verified": problem.is_none(),
                    "problem": problem,
                }))?;
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(problem) = &problem {
                outln!("{}\n", view::tampered_warning(problem));
            }
            if details {
                outln!("{}", view::proposal_details(&p, Some(&events)));
            } else {
                let items = evidence.iter().map(|b| b.items.len()).sum();
                let selector = if id == "latest" {
                    "latest"
                } else {
                    p.proposal_id.as_str()
                };
                outln!(
                    "{}",
                    view::proposal_first_look(
                        &p,
                        items,
                        selector,
                        &store_hint(store.store.as_deref())
                    )
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ProposalsCommand::Approve { decide, reason } => {
            super::decide::run(decide, Verdict::Approve, reason)
        }
        ProposalsCommand::Reject { decide, reason } => {
            super::decide::run(decide, Verdict::Reject, Some(reason))
        }
        ProposalsCommand::Ops(cmd) => sluicegate_ops::jobs::run_proposals(cmd, &mut Screen),
    }
}
