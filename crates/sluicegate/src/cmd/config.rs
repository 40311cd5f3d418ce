//! `sluicegate config validate|show`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sluicegate_core::config;
use sluicegate_core::secrets::redact;

use crate::context::{config_path, print_json};

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a config and report every problem at once with its JSON path and code
    Validate {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the validation result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the config, with secret-looking values redacted
    Show {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Show values exactly as written (configs hold env var names, never secrets)
        #[arg(long, conflicts_with = "redacted")]
        raw: bool,
        /// Redact secret-looking values (the default; kept for compatibility)
        #[arg(long)]
        redacted: bool,
    },
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Validate { config, json } => {
            let path = config_path(config.as_deref());
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            let (validation, _) = config::load_str(&text);
            if json {
                print_json(&validation)?;
            } else if validation.ok {
                println!("config valid: {}", path.display());
                for w in &validation.warnings {
                    println!("warning {} {}: {}", w.path, w.code, w.message);
                }
            } else {
                println!("config invalid: {}", path.display());
                for e in &validation.errors {
                    println!("error {} {}: {}", e.path, e.code, e.message);
                }
            }
            Ok(if validation.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ConfigCommand::Show {
            config,
            raw,
            redacted: _,
        } => {
            let path = config_path(config.as_deref());
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("config {} is not valid JSON", path.display()))?;
            print_json(&if raw { doc } else { redact(&doc) })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
