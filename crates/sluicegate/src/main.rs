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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
