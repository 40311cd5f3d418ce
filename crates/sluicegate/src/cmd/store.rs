//! `sluicegate store verify|stats` and `sluicegate reviewer init`: the ledger's integrity, its
//! size, and the keys that sign decisions.

use std::path::PathBuf;
use std::process::ExitCode;

use sluicegate_runtime::{Env, integrity, reviewer};

use crate::context::{config_path, load_config, open_existing_store, print_json};

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum StoreCommand {
    /// Check every proposal's hash chain, records and decision signatures (exit 1 if broken)
    Verify {
        #[arg(long)]
        store: Option<PathBuf>,
        /// Config whose reviewers' keys decisions must be signed with (default: ./sluicegate.json when present)
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts, size on disk, bytes per recorded call and the WAL's size
    Stats {
        #[arg(long)]
        store: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Ops(sluicegate_ops::store::StoreOps),
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum ReviewerCommand {
    /// Make a reviewer's Ed25519 key (owner-only file, outside the project) and print the
    /// config line that trusts it
    Init {
        /// The reviewer's name, as it will appear in decisions
        #[arg(long)]
        name: String,
        /// Where to write the key (default: ~/.config/sluicegate/reviewers/<name>.key)
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_store(cmd: StoreCommand) -> anyhow::Result<ExitCode> {
    let (store, config, json) = match cmd {
        StoreCommand::Ops(cmd) => return sluicegate_ops::store::run(cmd, &mut crate::out::Screen),
        StoreCommand::Stats {
            store,
            config,
            json,
        } => {
            let s = open_existing_store(store.as_deref(), config.as_deref())?.stats()?;
            match json {
                true => print_json(&s)?,
                false => out!("{}", integrity::stats_text(&s)),
            }
            return Ok(ExitCode::SUCCESS);
        }
        StoreCommand::Verify {
            store,
            config,
            json,
        } => (store, config, json),
    };
    let ledger = open_existing_store(store.as_deref(), config.as_deref())?;
    let path = ledger.path().to_path_buf();
    let config_file = config_path(config.as_deref());
    let reviewers = if config.is_some() || config_file.exists() {
        load_config(&config_file)?.reviewers.clone()
    } else {
        Vec::new()
    };
    let report = ledger.verify(&reviewers)?;
    if json {
        print_json(&report)?;
    } else {
        out!(
            "{}",
            integrity::verify_text(&report, &path.display().to_string())
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn run_reviewer(cmd: ReviewerCommand) -> anyhow::Result<ExitCode> {
    let ReviewerCommand::Init { name, key, json } = cmd;
    let (path, public_key) =
        reviewer::init(&name, key, &Env::process()).map_err(anyhow::Error::msg)?;
    if json {
        print_json(&serde_json::json!({
            "name": name, "public_key": public_key, "key_path": path.display().to_string()
        }))?;
    } else {
        out!(
            "{}",
            integrity::reviewer_created_text(&name, &path.display().to_string(), &public_key)
        );
    }
    Ok(ExitCode::SUCCESS)
}
