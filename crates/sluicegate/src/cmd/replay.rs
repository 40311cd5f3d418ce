//! `sluicegate replay show|export`: the whole story of one proposal from the ledger.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use sluicegate_ledger::Ledger;

use sluicegate_runtime::view;

use crate::context::{json_text, open_existing_store, print_json, store_hint};

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(subcommand)]
    cmd: ReplayCommand,
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
enum ReplayCommand {
    /// Show a replay: `latest`, a proposal id, `replay_<id>`, or --evidence <ev>
    Show {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        details: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write a replay to a file as json or markdown
    Export {
        #[command(flatten)]
        target: Target,
        #[arg(long, alias = "out")]
        output: PathBuf,
        #[arg(long, default_value = "json", value_parser = ["json", "markdown"])]
        format: String,
    },
}

#[derive(clap::Args)]
struct Target {
    /// `latest`, a proposal id, or a replay id
    id: Option<String>,
    #[arg(long)]
    proposal: Option<String>,
    #[arg(long)]
    replay: Option<String>,
    #[arg(long)]
    evidence: Option<String>,
    #[arg(long)]
    store: Option<PathBuf>,
    #[arg(long)]
    config: Option<PathBuf>,
}

impl Target {
    fn resolve(&self, ledger: &Ledger) -> anyhow::Result<String> {
        if let Some(p) = &self.proposal {
            return Ok(ledger.resolve_proposal_id(p)?);
        }
        if let Some(r) = &self.replay {
            return r
                .strip_prefix("replay_")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .context("invalid replay id");
        }
        if let Some(ev) = &self.evidence {
            return ledger.proposal_for_evidence(ev)?.with_context(|| {
                format!("evidence bundle {ev} is not linked to a replayable proposal")
            });
        }
        match self.id.as_deref() {
            None => bail!(
                "replay show requires <proposal_id>, latest, --replay <replay_id>, or --evidence <evidence_bundle_id>"
            ),
            Some(id) if id.starts_with("ev_") => {
                bail!("use --evidence {id} to replay from an evidence bundle")
            }
            Some(id) => Ok(ledger.resolve_proposal_id(id.strip_prefix("replay_").unwrap_or(id))?),
        }
    }

    fn ledger(&self) -> anyhow::Result<Ledger> {
        open_existing_store(self.store.as_deref(), self.config.as_deref())
    }
}

pub fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    match a.cmd {
        ReplayCommand::Show {
            target,
            details,
            json,
        } => {
            let ledger = target.ledger()?;
            let id = target.resolve(&ledger)?;
            let replay = ledger.record_replay(&id).wait()?;
            let p = ledger.proposal(&id)?;
            if json {
                print_json(&replay)?;
            } else if details {
                outln!("{}", view::replay_details(&p, &replay));
            } else {
                outln!(
                    "{}",
                    view::replay_story(&p, &replay, &store_hint(target.store.as_deref()))
                );
            }
        }
        ReplayCommand::Export {
            target,
            output,
            format,
        } => {
            let ledger = target.ledger()?;
            let id = target.resolve(&ledger)?;
            let replay = ledger.record_replay(&id).wait()?;
            let body = if format == "markdown" {
                view::replay_markdown(&ledger.proposal(&id)?, &replay)
            } else {
                json_text(&replay)?
            };
            write_file(&output, &body)?;
            outln!("exported replay_{id} to {}", output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Write `body` to `path`, creating parent directories.
pub fn write_file(path: &std::path::Path, body: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, body).with_context(|| format!("cannot write {}", path.display()))
}
