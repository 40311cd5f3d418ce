//! `sluicegate activity search`: every local interaction (proposals, reads, stray query-audit
//! records, receipts, webhook and worker dead letters) newest first, filtered, keyset paged.
//!
//! The ledger does the search (`Ledger::activity`, one indexed query per kind); this module
//! checks the flags, and prints the page and how to get the next one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;
use sluicegate_core::display;
use sluicegate_ledger::{
    ActivityCursor, ActivityItem, ActivityPage, ActivityQuery, Filter, activity_statuses,
};

use crate::filters::{self, store_suffix};
use crate::{Outcome, Printer};

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum ActivityCommand {
    /// Search proposals, reads, receipts and webhook and worker dead letters, newest first
    Search(Box<SearchArgs>),
}

#[derive(clap::Args, Default)]
pub struct SearchArgs {
    #[arg(long)]
    pub store: Option<PathBuf>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Also show principal, source, table and query fingerprint
    #[arg(long)]
    pub details: bool,
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub principal: Option<String>,
    /// The capability (also accepted as --action)
    #[arg(long, alias = "action")]
    pub capability: Option<String>,
    /// `type:id`, for example invoice:INV-3001
    #[arg(long)]
    pub object: Option<String>,
    #[arg(long)]
    pub object_type: Option<String>,
    #[arg(long)]
    pub object_id: Option<String>,
    #[arg(long)]
    pub proposal: Option<String>,
    /// An evidence bundle: itself if it is a read, else the proposal it supports
    #[arg(long)]
    pub evidence: Option<String>,
    /// `replay_<proposal id>`
    #[arg(long)]
    pub replay: Option<String>,
    /// A receipt id (`7` or `rct_000007`): the receipt and its proposal
    #[arg(long, allow_hyphen_values = true)]
    pub receipt: Option<String>,
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub table: Option<String>,
    #[arg(long)]
    pub query_fingerprint: Option<String>,
    /// A proposal state, receipt status, evidence_recorded, query_audited, webhook_dead_letter or worker_dead_letter
    #[arg(long)]
    pub status: Option<String>,
    /// Same as --status (--status wins)
    #[arg(long)]
    pub state: Option<String>,
    /// Words that must all appear in a proposal's capability, target, principal or reasons
    #[arg(long)]
    pub text: Option<String>,
    /// A date (2026-06-20) or RFC 3339 time
    #[arg(long)]
    pub from: Option<String>,
    /// A date (the whole day) or RFC 3339 time
    #[arg(long)]
    pub to: Option<String>,
    /// Items per page, 1 to 200
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// The cursor a previous page printed: the page after it
    #[arg(long)]
    pub after: Option<String>,
}

pub fn run(cmd: ActivityCommand, out: &mut dyn Printer) -> Outcome {
    let ActivityCommand::Search(args) = cmd;
    let query = query(&args)?;
    let ledger = crate::common::open_ledger(args.store.as_deref(), args.config.as_deref())?;
    let page = ledger.activity(&query)?;
    if args.json {
        out.out(&json_text(&page)?);
    } else {
        out.out(&text(&page, &args));
    }
    Ok(ExitCode::SUCCESS)
}

fn some(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The ledger query for the flags, or the first flag that is wrong.
pub fn query(a: &SearchArgs) -> Result<ActivityQuery> {
    let limit = filters::limit(a.limit)?;
    let (mut object_type, mut object_id) = (some(&a.object_type), some(&a.object_id));
    if let Some(obj) = some(&a.object) {
        match obj.split_once(':') {
            Some((t, id)) if !t.is_empty() && !id.is_empty() => {
                object_type = Some(t.to_string());
                object_id = Some(id.to_string());
            }
            _ => bail!("--object must use type:id, for example invoice:INV-3001"),
        }
    }
    let status = some(&a.status).or(some(&a.state));
    if let Some(s) = &status
        && !activity_statuses().contains(&s.as_str())
    {
        bail!(
            "unknown status {s:?}; --status takes one of: {}",
            activity_statuses().join(", ")
        );
    }
    let replay_proposal = match some(&a.replay) {
        None => None,
        Some(r) => match r.strip_prefix("replay_") {
            Some(p) if !p.is_empty() => Some(p.to_string()),
            _ => bail!("invalid replay id {r:?}: expected replay_<proposal id>"),
        },
    };
    let receipt = match some(&a.receipt) {
        None => None,
        Some(r) => match r.strip_prefix("rct_").unwrap_or(&r).parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => bail!("--receipt must be a positive receipt id (7 or rct_000007), not {r:?}"),
        },
    };
    let after = match some(&a.after) {
        None => None,
        Some(c) => match ActivityCursor::parse(&c) {
            Some(c) => Some(c),
            None => bail!(
                "--after takes the cursor a previous page printed (\"More: … --after a1.…\"), not {c:?}"
            ),
        },
    };
    let text = some(&a.text);
    if text.as_deref().is_some_and(|t| t.len() > 500) {
        bail!("--text is limited to 500 bytes");
    }
    Ok(ActivityQuery {
        filter: Filter {
            tenant: some(&a.tenant),
            principal: some(&a.principal),
            capability: some(&a.capability),
            proposal: some(&a.proposal),
            evidence: some(&a.evidence),
            source: some(&a.source),
            table: some(&a.table),
            status,
            object_type,
            object_id,
            query_fingerprint: some(&a.query_fingerprint),
            from: filters::time("--from", &a.from, false)?,
            to: filters::time("--to", &a.to, true)?,
            limit: Some(limit),
            ..Filter::default()
        },
        replay_proposal,
        receipt,
        text,
        after,
    })
}

#[derive(Serialize)]
struct JsonPage<'a> {
    interactions: &'a [ActivityItem],
    /// Pass as `--after` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `--json`: `{interactions, next_cursor}`, with text a terminal would act on escaped.
pub fn json_text(page: &ActivityPage) -> Result<String> {
    crate::common::json_text(&JsonPage {
        interactions: &page.items,
        next_cursor: page.next.as_ref().map(ActivityCursor::encode),
    })
}

/// The human view of one page (cli.md §9.5), every ledger field through `display::text`.
pub fn text(page: &ActivityPage, a: &SearchArgs) -> String {
    if page.items.is_empty() {
        return "No local interactions found.\n".into();
    }
    let t = |v: &str| display::text(v).into_owned();
    let n = page.items.len();
    let mut s = format!(
        "Found {n} local interaction{}\n",
        if n == 1 { "" } else { "s" }
    );
    for (i, item) in page.items.iter().enumerate() {
        s.push_str(&format!("\n{}. {}\n", i + 1, t(&item.created_at)));
        let mut line = |label: &str, v: Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!("   {label}: {}\n", t(&v)));
            }
        };
        line("kind", Some(item.kind.to_string()));
        line("capability", item.capability.clone());
        line("tenant", item.tenant.clone());
        if a.details {
            line("principal", item.principal.clone());
        }
        line("object", item.object.clone());
        line("proposal", item.proposal.clone());
        line("evidence", item.evidence.clone());
        line("query audit", item.query_audit.clone());
        if a.details {
            line("query fingerprint", item.query_fingerprint.clone());
        }
        line("receipt", item.receipt.map(|r| format!("rct_{r:06}")));
        line("status", item.status.as_ref().map(|s| s.replace('_', " ")));
        line("replay", item.replay.clone());
        line("webhook", item.webhook.clone());
        line("worker", item.worker.clone());
        line("event", item.event_id.map(|e| e.to_string()));
        line("attempts", item.attempts.map(|n| n.to_string()));
        line("error", item.error.clone());
        if a.details {
            line("source", item.source.clone());
            line("table", item.table.clone());
            line(
                "source database mutated",
                item.source_database_mutated
                    .map(|m| if m { "yes" } else { "no" }.to_string()),
            );
        }
    }
    let store = store_suffix(&a.store);
    s.push_str("\nNext:\n");
    let first = &page.items[0];
    if let Some(p) = &first.proposal {
        let p = t(p);
        s.push_str(&format!("sluicegate proposals show {p}{store}\n"));
        s.push_str(&format!("sluicegate replay show --proposal {p}{store}\n"));
    } else if let Some(ev) = &first.evidence {
        s.push_str(&format!("sluicegate evidence show {}{store}\n", t(ev)));
    } else {
        s.push_str(&format!("sluicegate activity search --details{store}\n"));
    }
    if let Some(next) = &page.next {
        s.push_str(&format!(
            "\nMore: repeat this search with --after {}\n",
            next.encode()
        ));
    }
    s
}
