//! One module per top-level command; each owns its clap arguments and its `run`.

pub mod audit;
pub mod benchmark;

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Review an MCP server or tool manifest for database risks
    Audit(audit::AuditArgs),
    /// Reproducible benchmarks
    #[command(subcommand)]
    Benchmark(benchmark::BenchmarkCommand),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Audit(args) => audit::run(args),
        Command::Benchmark(cmd) => benchmark::run(cmd),
    }
}
