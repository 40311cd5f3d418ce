//! `sluicegate doctor`: is this setup ready? The checks and their renderings live in
//! `sluicegate_runtime::doctor`; this resolves paths, runs them, and prints the report as text or
//! `--json`, or writes the redacted Markdown `--report`. Exit 0 iff no check failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use sluicegate_runtime::doctor::{self, Options, Report, first_run};
use sluicegate_runtime::ledger_store::LedgerStore;
use sluicegate_runtime::serve_env;

use crate::context::{config_path, print_json, runtime, store_path};

#[derive(clap::Args, Default)]
pub struct DoctorArgs {
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    /// Probe each http_handler's network path (an OPTIONS request: nothing is applied) and
    /// check each command_handler's program exists (it is not run)
    #[arg(long)]
    check_handlers: bool,
    /// Ledger to check (default: $SLUICEGATE_STORE, then the config's storage path)
    #[arg(long)]
    store: Option<PathBuf>,
    /// Run the rollback-only writer probes (receipt table and target columns); never
    /// changes a business row
    #[arg(long, visible_alias = "check-db")]
    check_writeback: bool,
    /// Create a missing receipt table (and grant the writer its use) through the admin URL in
    /// the env var named by --admin-url-env; implies --check-writeback
    #[arg(long, requires = "admin_url_env")]
    fix: bool,
    /// Env var holding an admin's database URL, for --fix (never a URL on the command line)
    #[arg(long, value_name = "NAME", requires = "fix")]
    admin_url_env: Option<String>,
    /// Accept the same credential for reads and writeback (development only): a warning, not
    /// a failure
    #[arg(long)]
    allow_shared_credential: bool,
    /// Write a Markdown diagnostic report (always redacted) instead of printing the checks
    #[arg(long)]
    report: bool,
    /// Accepted for compatibility: reports are always redacted
    #[arg(long)]
    redact: bool,
    /// Where --report writes (default sluicegate-doctor.md)
    #[arg(long, requires = "report")]
    output: Option<PathBuf>,
    /// Also read variables from this env file, as `mcp serve --env-file` does (exported win)
    #[arg(long, value_name = "PATH")]
    env_file: Option<PathBuf>,
    /// First-run checks: disk, memory, ports, config and env, ledger, client snippets
    #[arg(long)]
    first_run: bool,
    /// The MCP client snippet --first-run scans (default: every .sluicegate/mcp/*.json)
    #[arg(long, requires = "first_run")]
    client_config: Option<PathBuf>,
}

fn collect(a: &DoctorArgs) -> anyhow::Result<Report> {
    let options = Options {
        config_path: config_path(a.config.as_deref()),
        store_path: store_path(a.store.as_deref(), a.config.as_deref()),
        ledger: Some(LedgerStore::resolve(
            a.store.as_deref(),
            a.config.as_deref(),
        )),
        check_handlers: a.check_handlers,
        check_writeback: a.check_writeback,
        fix_admin_url_env: a.admin_url_env.clone().filter(|_| a.fix),
        allow_shared_credential: a.allow_shared_credential,
    };
    let env = serve_env::process_env(a.env_file.as_deref())?;
    Ok(runtime()?.block_on(doctor::collect(&options, &env)))
}

/// The doctor's text for `config` (as `onboard db` shows it); whether it passed.
pub fn quick_report(config: &Path) -> bool {
    print_report(config, None, false)
}

/// The doctor's text with the handler reachability probes (as `up --with-handler` shows it).
pub fn handler_report(config: &Path, store: &Path) -> bool {
    print_report(config, Some(store), true)
}

fn print_report(config: &Path, store: Option<&Path>, check_handlers: bool) -> bool {
    let args = DoctorArgs {
        config: Some(config.to_path_buf()),
        check_handlers,
        store: store.map(Path::to_path_buf),
        ..DoctorArgs::default()
    };
    match collect(&args) {
        Ok(report) => {
            outln!("{}", doctor::text(&report));
            report.ok
        }
        Err(e) => {
            outln!("doctor could not run: {e:#}");
            false
        }
    }
}

pub fn run(a: DoctorArgs) -> anyhow::Result<ExitCode> {
    if a.first_run {
        let options = first_run::FirstRunOptions::new(
            config_path(a.config.as_deref()),
            store_path(a.store.as_deref(), a.config.as_deref()),
            a.client_config.clone(),
        );
        let r = first_run::first_run(&options, &serve_env::process_env(a.env_file.as_deref())?);
        match a.json {
            true => print_json(&r)?,
            false => out!("{}", first_run::first_run_text(&r)),
        }
        return Ok(if r.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let report = collect(&a)?;
    if a.report {
        let out = a
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("sluicegate-doctor.md"));
        std::fs::write(&out, doctor::markdown(&report, env!("CARGO_PKG_VERSION")))
            .with_context(|| format!("cannot write {}", out.display()))?;
        outln!("wrote redacted doctor report: {}", out.display());
    } else if a.json {
        print_json(&report)?;
    } else {
        outln!("{}", doctor::text(&report));
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
