//! `sluicegate config validate|show|migrate`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sluicegate_core::config;
use sluicegate_core::secrets::redact;

use crate::context::{config_path, print_json};

#[derive(clap::Subcommand)]
#[command(defer = true)]
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
    /// Normalise a config to the current version (1); writes only with --output or --write
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the migrated config here
        #[arg(long, conflicts_with = "write")]
        output: Option<PathBuf>,
        /// Rewrite the config in place (a timestamped backup is kept)
        #[arg(long)]
        write: bool,
        /// Do not ask before writing
        #[arg(long)]
        yes: bool,
    },
}

/// `config migrate`: never silent. Without a destination it only reports; with one it asks
/// (or takes `--yes`), backs up an in-place target, and writes.
fn migrate(
    config: Option<PathBuf>,
    output: Option<PathBuf>,
    write: bool,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let path = config_path(config.as_deref());
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("config {} is not valid JSON", path.display()))?;
    let migrated = sluicegate_core::onboarding::files::migrate(&doc)
        .with_context(|| format!("cannot migrate {}", path.display()))?;
    let dest = match (output, write) {
        (Some(o), _) => o,
        (None, true) => path.clone(),
        (None, false) => {
            outln!("config already current: version 1");
            if migrated != doc {
                outln!("A normalised copy would add the explicit \"version\": 1.");
            }
            outln!(
                "No file written. Use --output <path>, or --write --yes to rewrite {} (with a backup).",
                path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let absolute = std::path::absolute(&dest).unwrap_or_else(|_| dest.clone());
    errln!("Destination: {}", absolute.display());
    let in_place =
        dest.exists() && std::fs::canonicalize(&dest).ok() == std::fs::canonicalize(&path).ok();
    if in_place {
        errln!("The existing config will be backed up before writing.");
    } else if dest.exists() {
        errln!(
            "{} exists and will be backed up before writing.",
            dest.display()
        );
    }
    crate::context::confirm("Write migrated config?", yes)?;
    if dest.exists() {
        let stamp = chrono::Utc::now()
            .format("%Y-%m-%dT%H-%M-%S-%3fZ")
            .to_string();
        let backup = PathBuf::from(format!("{}.bak.{stamp}", dest.display()));
        std::fs::copy(&dest, &backup)
            .with_context(|| format!("cannot back up {}", dest.display()))?;
        errln!("Backup: {}", backup.display());
    }
    std::fs::write(
        &dest,
        format!("{}\n", serde_json::to_string_pretty(&migrated)?),
    )
    .with_context(|| format!("cannot write {}", dest.display()))?;
    outln!("wrote migrated config: {}", dest.display());
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Migrate {
            config,
            output,
            write,
            yes,
        } => migrate(config, output, write, yes),
        ConfigCommand::Validate { config, json } => {
            let path = config_path(config.as_deref());
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            let (validation, _) = config::load_str(&text);
            if json {
                print_json(&validation)?;
            } else if validation.ok {
                outln!("config valid: {}", path.display());
                for w in &validation.warnings {
                    outln!("warning {} {}: {}", w.path, w.code, w.message);
                }
            } else {
                outln!("config invalid: {}", path.display());
                for e in &validation.errors {
                    outln!("error {} {}: {}", e.path, e.code, e.message);
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
