//! `sluicegate mcp …`: serving capabilities over MCP (stdio, Streamable HTTP, JSON-RPC bridge)
//! and printing client snippets. Placeholder until the MCP crate lands.

#[derive(clap::Subcommand)]
pub enum McpCommand {}

pub fn run(cmd: McpCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {}
}
