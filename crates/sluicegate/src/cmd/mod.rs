//! One module per top-level command; each owns its clap arguments and its `run`.
//!
//! Exit codes are stable: 0 success, 1 the command ran and the answer is "no" (invalid config,
//! refused decision, conflict, failed writeback, failed checks, high audit risk), 2 the command
//! could not run (bad arguments, missing files, unreachable ledger).

pub mod apply;
pub mod audit;
pub mod benchmark;
pub mod config;
pub mod decide;
pub mod demo;
pub mod doctor;
pub mod handler;
pub mod inspect;
pub mod mcp;
pub mod onboard;
pub mod proposals;
pub mod recipes;
pub mod replay;
pub mod store;
pub mod tools;
pub mod ui;
pub mod up;
pub mod wizard;
pub mod writeback;

use std::process::ExitCode;

use sluicegate_ops::records;

use crate::out::Screen;

/// The top-level commands. `defer`: clap builds a command's arguments only when that command
/// runs (or its help is asked for), not all of them at every start: building the whole tree
/// took 0.6–1 ms of every start, up to a fifth of a stdio server's cold start
/// (docs/performance.md).
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Run the zero-setup demo: read, propose, approve, guarded apply, replay
    Demo(demo::DemoArgs),
    /// Onboard your own database: inspect, pick a table, write a reviewed config
    #[command(subcommand)]
    Onboard(onboard::OnboardCommand),
    /// Same as `onboard db` (needs --from-env or --answers)
    Start(Box<onboard::GenArgs>),
    /// Generate a config: from flags, an answers file, a spec, the wizard, or a starter
    Init(Box<onboard::GenArgs>),
    /// Read a database's catalog (metadata only) and suggest tenant and version columns
    Inspect(inspect::InspectArgs),
    /// Starter capability contracts for common business actions
    #[command(subcommand)]
    Recipes(recipes::RecipesCommand),
    /// Receipt-table DDL, grants and writer checks for direct SQL writeback
    #[command(subcommand)]
    Writeback(writeback::WritebackCommand),
    /// Validate or show a config
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Preview the tools a model would see, with safety checks
    #[command(subcommand)]
    Tools(tools::ToolsCommand),
    /// Call one capability locally through the same runtime MCP uses
    #[command(subcommand)]
    Smoke(tools::SmokeCommand),
    /// Create a proposal through a proposal capability (the source is not changed)
    Propose(tools::ProposeArgs),
    /// List, inspect, approve or reject proposals
    #[command(subcommand)]
    Proposals(proposals::ProposalsCommand),
    /// Apply an approved proposal with its guarded executor
    Apply(apply::ApplyArgs),
    /// App-owned writeback handlers: starter templates
    #[command(subcommand)]
    Handler(handler::HandlerCommand),
    /// Check that this setup is ready (config, env, handlers)
    Doctor(doctor::DoctorArgs),
    /// Show what the agent saw, proposed, and what was applied or blocked
    Replay(replay::ReplayArgs),
    /// The ledger: verify, stats, vacuum, prune, reset, export
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Shadow mode: record what a person did by hand, compare it with the agent's proposal
    #[command(subcommand)]
    Shadow(sluicegate_ops::shadow::ShadowCommand),
    /// Check a writeback job file against the reviewed config and the stored proposal
    Validate(sluicegate_ops::jobs::ValidateArgs),
    /// Reviewer keys that sign decisions
    #[command(subcommand)]
    Reviewer(store::ReviewerCommand),
    /// Search every local interaction: proposals, reads, receipts, webhook dead letters
    #[command(subcommand)]
    Activity(sluicegate_ops::activity::ActivityCommand),
    /// Lifecycle events: tail or follow them, or push them to a webhook
    #[command(subcommand)]
    Events(sluicegate_ops::events::EventsCommand),
    /// Evidence bundles recorded for reads and proposals
    #[command(subcommand)]
    Evidence(sluicegate_ops::records::EvidenceCommand),
    /// Query-audit records (statement shapes, never parameter values)
    #[command(name = "query-audit", subcommand)]
    QueryAudit(sluicegate_ops::records::QueryAuditCommand),
    /// Writeback receipts
    #[command(subcommand)]
    Receipts(sluicegate_ops::records::ReceiptsCommand),
    /// Serve capabilities to MCP clients, or print client configuration
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// Apply approved proposals unattended: claim, apply as `apply` does, retry, dead-letter
    Worker(sluicegate_ops::worker::WorkerArgs),
    /// Check a review-mode setup and optionally start serving
    Up(up::UpArgs),
    /// The review UI in a browser: inbox, proposal pages, approve, reject, apply
    Ui(sluicegate_ui::UiArgs),
    /// Review an MCP server or tool manifest for database risks
    Audit(audit::AuditArgs),
    /// Reproducible benchmarks
    #[command(subcommand)]
    Benchmark(benchmark::BenchmarkCommand),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(cmd) => demo::run(cmd),
        Command::Onboard(cmd) => onboard::run_onboard(cmd),
        Command::Start(args) => onboard::run_start(*args),
        Command::Init(args) => onboard::run_init(*args),
        Command::Inspect(args) => inspect::run(args),
        Command::Recipes(cmd) => recipes::run(cmd),
        Command::Writeback(cmd) => writeback::run(cmd),
        Command::Config(cmd) => config::run(cmd),
        Command::Tools(cmd) => tools::run_tools(cmd),
        Command::Smoke(cmd) => tools::run_smoke(cmd),
        Command::Propose(args) => tools::run_propose(args),
        Command::Proposals(cmd) => proposals::run(cmd),
        Command::Apply(args) => apply::run(args),
        Command::Handler(cmd) => handler::run(cmd),
        Command::Doctor(args) => doctor::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Store(cmd) => store::run_store(cmd),
        Command::Shadow(cmd) => sluicegate_ops::shadow::run(cmd, &mut Screen),
        Command::Validate(a) => sluicegate_ops::jobs::run_validate(a, &mut Screen),
        Command::Reviewer(cmd) => store::run_reviewer(cmd),
        Command::Activity(cmd) => sluicegate_ops::activity::run(cmd, &mut Screen),
        Command::Events(cmd) => sluicegate_ops::events::run(cmd, &mut Screen),
        Command::Evidence(cmd) => records::run_evidence(cmd, &mut Screen),
        Command::QueryAudit(cmd) => records::run_query_audit(cmd, &mut Screen),
        Command::Receipts(cmd) => records::run_receipts(cmd, &mut Screen),
        Command::Mcp(cmd) => mcp::run(cmd),
        Command::Worker(a) => sluicegate_ops::worker::run(a, &mut Screen),
        Command::Up(args) => up::run(args),
        Command::Ui(args) => ui::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Benchmark(cmd) => benchmark::run(cmd),
    }
}
