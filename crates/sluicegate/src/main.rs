//! The `sluicegate` binary: argv, env, exit codes, tracing and wiring. Nothing else.
#![allow(clippy::print_stdout)]

mod cmd;
mod context;
mod view;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "sluicegate",
    version,
    about = "Reviewed business actions for AI agents, instead of execute_sql"
)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

/// Logs go to stderr only (stdout belongs to MCP stdio and to command output), filtered by
/// `SLUICEGATE_LOG` (default: warnings and errors).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
