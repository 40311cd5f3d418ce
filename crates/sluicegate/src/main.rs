//! The `sluicegate` binary: argv, env, exit codes, tracing and wiring. Nothing else.

#[macro_use]
mod out;
mod cmd;
mod context;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a serving process allocates and frees small
/// buffers on many threads (requests, JSON, ledger records), where glibc's malloc and free
/// took about a quarter of its CPU under load (docs/performance.md). Built without its
/// transparent-huge-page advice (`no_thp` in the workspace manifest): 2 MiB pages made about
/// 14 MB of a server's resident memory at no measurable gain in speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
///
/// A plain level (`SLUICEGATE_LOG=debug`) applies to Sluicegate's own crates only: driver and
/// HTTP-client debug logs name hosts and ports, which must never reach output. A full filter
/// expression (`hyper=debug`) is taken as written, for deliberate deep debugging.
fn init_tracing() {
    let spec = std::env::var("SLUICEGATE_LOG").unwrap_or_default();
    let spec = spec.trim();
    let directives = if spec.is_empty() {
        "warn".to_string()
    } else if spec.contains('=') || spec.contains(',') {
        spec.to_string()
    } else {
        let ours = [
            "sluicegate",
            "sluicegate_core",
            "sluicegate_source",
            "sluicegate_ledger",
            "sluicegate_runtime",
            "sluicegate_mcp",
            "sluicegate_audit",
        ];
        std::iter::once("warn".to_string())
            .chain(ours.iter().map(|c| format!("{c}={spec}")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
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
        Ok(code) => out::finish(code),
        Err(err) => {
            // What a PostgreSQL ledger cannot do yet, or a schema to migrate first, carries its
            // stable code for scripts (other ledger answers are printed by their commands).
            use sluicegate_ledger::LedgerError;
            use sluicegate_runtime::ledger_store::LedgerStoreError;
            let code = err
                .chain()
                .find_map(|e| {
                    (e.downcast_ref::<LedgerError>().and_then(LedgerError::code)).or_else(|| {
                        e.downcast_ref::<LedgerStoreError>()
                            .and_then(LedgerStoreError::code)
                    })
                })
                .filter(|c| {
                    matches!(
                        *c,
                        "LEDGER_FEATURE_UNAVAILABLE"
                            | "LEDGER_SCHEMA_OUTDATED"
                            | "LEDGER_VACUUM_BY_POSTGRES"
                    )
                });
            match code {
                Some(code) => errln!("error: {code}: {err:#}"),
                None => errln!("error: {err:#}"),
            }
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command's arguments are deferred (`#[command(defer = true)]` on each subcommand
    /// enum), so a start builds only the command it runs. A new subcommand enum without it
    /// shows here as a command whose arguments exist before anything was built.
    #[test]
    fn no_command_builds_its_arguments_before_it_runs() {
        fn walk(cmd: &clap::Command, path: String, eager: &mut Vec<String>) {
            if cmd.get_arguments().next().is_some() {
                eager.push(path.clone());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, format!("{path} {}", sub.get_name()), eager);
            }
        }
        let mut eager = Vec::new();
        for sub in Cli::command().get_subcommands() {
            walk(sub, sub.get_name().to_string(), &mut eager);
        }
        assert!(
            eager.is_empty(),
            "these commands build their arguments at every start; add #[command(defer = true)] to their subcommand enum: {eager:?}"
        );
    }

    /// A deferred command's arguments are added after its own description, so the doc comment
    /// of a flattened argument struct would replace it (`mcp serve --help` once opened with
    /// "Options of the HTTP transports"); that is why argument structs carry `//` comments, not
    /// doc comments. Every command has a description and keeps it once it is built.
    #[test]
    fn building_a_command_keeps_its_own_description() {
        fn walk(cmd: &clap::Command, path: String, changed: &mut Vec<String>) {
            let mut built = cmd.clone();
            built.build();
            let text = |s: Option<&clap::builder::StyledStr>| s.map(|s| s.to_string());
            if text(cmd.get_about()).is_none_or(|a| a.trim().is_empty()) {
                changed.push(format!("{path}: no description"));
            }
            if text(built.get_about()) != text(cmd.get_about())
                || text(built.get_long_about()) != text(cmd.get_long_about())
            {
                changed.push(format!(
                    "{path}: {:?} became {:?}",
                    text(cmd.get_about()),
                    text(built.get_about())
                ));
            }
            for sub in cmd.get_subcommands() {
                walk(sub, format!("{path} {}", sub.get_name()), changed);
            }
        }
        let mut changed = Vec::new();
        for sub in Cli::command().get_subcommands() {
            walk(sub, sub.get_name().to_string(), &mut changed);
        }
        assert!(changed.is_empty(), "{changed:#?}");
    }

    /// clap's own consistency checks over the whole tree, every deferred command built.
    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
