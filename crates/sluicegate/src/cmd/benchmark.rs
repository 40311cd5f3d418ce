//! `sluicegate benchmark`: placeholder until the audit crate lands.

#[derive(clap::Subcommand)]
pub enum BenchmarkCommand {}

pub fn run(cmd: BenchmarkCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {}
}
