//! `sluicegate benchmark`: reproducible, offline benchmarks. `mcp-efficiency` compares a generic
//! database MCP with the semantic path on a fixed fixture; `--config` adds a measurement of the
//! `tools/list` Sluicegate serves for that config.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;
use sluicegate_audit::benchmark::{measure_served, render_json, render_text};
use sluicegate_audit::is_runner_config;

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum BenchmarkCommand {
    /// Tool-list, context and result sizes of a generic database MCP versus the semantic path
    /// (late-fee-waiver fixture, deterministic tokenizer)
    McpEfficiency(McpEfficiencyArgs),
}

#[derive(clap::Args)]
pub struct McpEfficiencyArgs {
    /// Print the machine-readable JSON report
    #[arg(long)]
    json: bool,
    /// Also measure the tools/list Sluicegate serves for this config
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
}

pub fn run(cmd: BenchmarkCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchmarkCommand::McpEfficiency(args) => mcp_efficiency(args),
    }
}

fn mcp_efficiency(args: McpEfficiencyArgs) -> anyhow::Result<ExitCode> {
    let served = match &args.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
            let config: Value =
                serde_json::from_str(&text).with_context(|| format!("{path} is not valid JSON"))?;
            if !is_runner_config(&config) {
                bail!("{path} is not a config (expected version 1 and a capabilities array)");
            }
            let (validation, _) = sluicegate_core::config::validate(&config);
            if !validation.ok {
                bail!(
                    "invalid config {path}:\n{}",
                    validation.error_lines().join("\n")
                );
            }
            Some(measure_served(path, &config).map_err(|err| anyhow::anyhow!("{path}: {err}"))?)
        }
        None => None,
    };
    let report = if args.json {
        render_json(served.as_ref())
    } else {
        render_text(served.as_ref())
    };
    out!("{}", sluicegate_core::display::inert_json(&report));
    Ok(ExitCode::SUCCESS)
}
