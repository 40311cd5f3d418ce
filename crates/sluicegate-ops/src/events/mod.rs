//! `sluicegate events tail|webhook`: the proposals' lifecycle events as they are recorded, on
//! the terminal or out to a webhook.
//!
//! Both read the feed by event id (`Ledger::tail_events`, `Ledger::events_after`), so following
//! sees events other processes record (a CLI approving, a server proposing) at the next poll.

mod tail;
mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use sluicegate_ledger::EventFilter;

use crate::filters;
use crate::{Outcome, Printer};

pub use tail::TailArgs;
pub use webhook::WebhookArgs;

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum EventsCommand {
    /// The newest lifecycle events, oldest first; --follow keeps printing new ones
    Tail(Box<TailArgs>),
    /// POST lifecycle events to a webhook, signed, resuming from a durable cursor
    #[command(alias = "push")]
    Webhook(Box<WebhookArgs>),
}

pub fn run(cmd: EventsCommand, out: &mut dyn Printer) -> Outcome {
    match cmd {
        EventsCommand::Tail(a) => tail::run(*a, out),
        EventsCommand::Webhook(a) => webhook::run(*a, out),
    }
}

// Where the ledger is, and which events: the flags both commands share.
#[derive(clap::Args, Default, Clone)]
pub struct EventFlags {
    #[arg(long)]
    pub store: Option<PathBuf>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub proposal: Option<String>,
    /// An event kind, for example proposal_approved
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    /// A date (2026-06-20) or RFC 3339 time
    #[arg(long)]
    pub from: Option<String>,
    /// A date (the whole day) or RFC 3339 time
    #[arg(long)]
    pub to: Option<String>,
    /// Events per query, 1 to 200
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

impl EventFlags {
    fn filter(&self) -> Result<EventFilter> {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Ok(EventFilter {
            proposal: some(&self.proposal),
            kind: some(&self.kind),
            actor: some(&self.actor),
            after_event_id: None,
            from: filters::time("--from", &self.from, false)?,
            to: filters::time("--to", &self.to, true)?,
            limit: Some(filters::limit(self.limit)?),
        })
    }

    /// The existing ledger (SQLite, or the config's PostgreSQL ledger).
    fn ledger(&self) -> anyhow::Result<sluicegate_ledger::Ledger> {
        crate::common::open_ledger(self.store.as_deref(), self.config.as_deref())
    }
}

/// SIGINT and SIGTERM: a following command stops cleanly (exit 0) on either.
struct Stop {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Stop {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Wait `d`; `true` when a stop signal came first.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = self.stopped() => true,
        }
    }

    /// Resolves when SIGINT or SIGTERM arrives.
    async fn stopped(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
