//! `sluicegate up`: the review-mode bring-up checklist (cli.md §7), and with `--serve` the
//! Streamable HTTP server behind it. Env var values are never printed, only set/missing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use sluicegate_core::config;
use sluicegate_core::tools::AliasMode;
use sluicegate_core::tools::boundary::{all_pass, boundary_checks};
use sluicegate_ledger::lease;
use sluicegate_mcp::Protocol;
use sluicegate_mcp::serve::Transport;
use sluicegate_runtime::doctor::up::{Up, checklist};
use sluicegate_runtime::serve_env;

use crate::cmd::mcp::{self, AliasArgs, CommonServe, HttpArgs, parse_result_format};
use crate::context::{config_path, store_path};

#[derive(clap::Args)]
pub struct UpArgs {
    /// Config file (default: $SLUICEGATE_CONFIG, then ./sluicegate.json)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Ledger file (default: $SLUICEGATE_STORE, then storage.sqlite_path, then ./.sluicegate/local.db)
    #[arg(long)]
    store: Option<PathBuf>,
    /// stdio or streamable-http (default: streamable-http with --serve, else stdio)
    #[arg(long)]
    transport: Option<String>,
    /// Start the Streamable HTTP server after the checklist
    #[arg(long)]
    serve: bool,
    /// Print the checklist only; never start a server
    #[arg(long)]
    dry_run: bool,
    /// After the checklist, probe every app-owned handler (`doctor --check-handlers`); never
    /// applies anything
    #[arg(long, alias = "handler-check")]
    with_handler: bool,
    /// Also print the command that opens the local review UI on this config and ledger
    #[arg(long)]
    open_ui: bool,
    /// Accepted for compatibility; the next commands are always printed
    #[arg(long, hide = true)]
    print_next: bool,
    #[command(flatten)]
    alias: AliasArgs,
    /// Result envelope for the server: v1 or v2
    #[arg(long, value_name = "v1|1|v2|2")]
    result_format: Option<String>,
    /// Serve even when another live server holds the store lease
    #[arg(long)]
    allow_concurrent_store: bool,
    /// Read the variables the config names from this dotenv file (as `mcp serve --env-file`)
    #[arg(long, value_name = "PATH")]
    env_file: Option<PathBuf>,
    #[command(flatten)]
    http: HttpArgs,
}

pub fn run(a: UpArgs) -> anyhow::Result<ExitCode> {
    let transport = a
        .transport
        .clone()
        .unwrap_or_else(|| if a.serve { "streamable-http" } else { "stdio" }.into());
    match transport.as_str() {
        "stdio" if a.serve => bail!(
            "up --serve starts the Streamable HTTP MCP server. Use `--transport streamable-http`, or run `sluicegate up --transport stdio` for the checklist and let your MCP client start `sluicegate mcp serve`."
        ),
        "stdio" | "streamable-http" => {}
        _ => bail!("--transport must be stdio or streamable-http"),
    }
    let mode = a.alias.resolve(AliasMode::Canonical)?;
    let result_format = parse_result_format(a.result_format.as_deref())?;
    let config_file = config_path(a.config.as_deref());
    let text = std::fs::read_to_string(&config_file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read config {}: {e}; pass --config <path> or run `sluicegate demo --quick`",
            config_file.display()
        )
    })?;
    let (validation, config) = config::load_str(&text);
    let config = match config {
        Some(c) if validation.ok => c,
        _ => {
            errln!(
                "cannot bring Sluicegate up with invalid config: {}",
                validation.error_lines().join("; ")
            );
            return Ok(ExitCode::from(1));
        }
    };
    let store = store_path(a.store.as_deref(), a.config.as_deref());
    if let Some(parent) = store.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    if let Some(w) = lease::check(&store, a.allow_concurrent_store, "review-mode up")? {
        errln!("Warning: {w}");
    }
    let checks = boundary_checks(&config, mode);
    let ok = all_pass(&checks);
    let (c, s) = (
        config_file.display().to_string(),
        store.display().to_string(),
    );
    let port = a
        .http
        .port
        .unwrap_or(Protocol::StreamableHttp.default_port());
    let serve_now = a.serve && !a.dry_run;

    let up = Up {
        config_path: &c,
        store_path: &s,
        transport: &transport,
        serve: a.serve,
        dry_run: a.dry_run,
        alias_mode: mode,
        result_format,
        host: &a.http.host,
        port,
        auth_token_env: &a.http.auth_token_env,
        open_ui: a.open_ui,
    };
    let env = serve_env::process_env(a.env_file.as_deref())?;
    let needs = serve_env::checklist_section(&config, &env);
    out!("{}{needs}", checklist(&up, &config, &checks, &env));

    if a.with_handler {
        outln!("\nHandler check:");
        if !super::doctor::handler_report(&config_file, &store) {
            return Ok(ExitCode::from(1));
        }
    }

    if let Err(e) = serve_env::check(&config, &env, a.env_file.as_deref()) {
        if serve_now {
            return Err(e.into());
        }
        errln!("{e}");
        return Ok(ExitCode::from(1));
    }
    if !serve_now || !ok {
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let common = CommonServe {
        config: Some(config_file),
        store: Some(store),
        read_only: false,
        alias: AliasArgs {
            alias_mode: Some(mode.as_str().into()),
            tool_name_style: None,
            openai_tool_aliases: false,
        },
        result_format: a.result_format.clone(),
        // The lease was checked above with the same flag.
        allow_concurrent_store: a.allow_concurrent_store,
        env_file: a.env_file.clone(),
    };
    mcp::serve(&common, Transport::Http(Protocol::StreamableHttp), &a.http)
}
