//! `sluicegate audit`: placeholder until the audit crate lands.

#[derive(clap::Args)]
pub struct AuditArgs {}

pub fn run(_args: AuditArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("audit is not available in this build")
}
