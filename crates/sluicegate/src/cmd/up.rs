//! `sluicegate up`: review-mode bring-up checklist and serve. Placeholder until the MCP crate
//! lands.

#[derive(clap::Args)]
pub struct UpArgs {}

pub fn run(_args: UpArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("`up` is not available in this build yet")
}
