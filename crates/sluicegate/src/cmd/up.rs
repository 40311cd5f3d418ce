//! `sluicegate up`: the review-mode bring-up checklist (cli.md §7), and with `--serve` the
//! Streamable HTTP server behind it. Env var values are never printed, only set/missing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use sluicegate_core::config::{self, Config, Executor, Kind};
use sluicegate_core::tools::boundary::{all_pass, boundary_checks};
use sluicegate_core::tools::{AliasMode, exposed_tools};
use sluicegate_ledger::lease;
use sluicegate_mcp::Protocol;
use sluicegate_mcp::serve::Transport;
use sluicegate_runtime::Env;

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
    #[command(flatten)]
    http: HttpArgs,
}

fn set_or_missing(env: &Env, name: &str) -> &'static str {
    if env.get(name).is_some() {
        "set"
    } else {
        "missing"
    }
}

pub fn run(a: UpArgs) -> anyhow::Result<ExitCode> {
    let transport = a
        .transport
        .clone()
        .unwrap_or_else(|| if a.serve { "streamable-http" } else { "stdio" }.into());
    let http = match transport.as_str() {
        "stdio" if a.serve => bail!(
            "up --serve starts the Streamable HTTP MCP server. Use `--transport streamable-http`, or run `sluicegate up --transport stdio` for the checklist and let your MCP client start `sluicegate mcp serve`."
        ),
        "stdio" => false,
        "streamable-http" => true,
        _ => bail!("--transport must be stdio or streamable-http"),
    };
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
            eprintln!(
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
        eprintln!("Warning: {w}");
    }
    let checks = boundary_checks(&config, mode);
    let ok = all_pass(&checks);
    let env = Env::process();
    let cmd = "sluicegate";
    let (c, s) = (
        config_file.display().to_string(),
        store.display().to_string(),
    );
    let port = a
        .http
        .port
        .unwrap_or(Protocol::StreamableHttp.default_port());
    let serve_now = a.serve && !a.dry_run;

    println!("Sluicegate review-mode up\n");
    println!("Config: {c}");
    println!("Store: {s}");
    println!("Mode: {}", config.mode.as_str());
    println!("Transport: {transport}");
    println!("Serve now: {}", if serve_now { "yes" } else { "no" });
    println!("Alias mode: {}", mode.as_str());
    let format = match result_format.or(config.result_format) {
        Some(2) => "v2",
        Some(_) => "v1",
        None => "default",
    };
    println!("Result format: {format}");
    println!("Dry run: {}\n", if a.dry_run { "yes" } else { "no" });

    println!("Model-facing tools:");
    let tools = exposed_tools(&config, mode);
    if tools.is_empty() {
        println!("  - (none)");
    }
    for t in &tools {
        if t.is_alias {
            println!("  - {} -> {}", t.exposed, t.canonical);
        } else {
            println!("  - {}", t.exposed);
        }
    }
    print_writeback(&config, &env);

    println!("\nBoundary checks:");
    for c in &checks {
        let mark = if c.ok { "PASS" } else { "FAIL" };
        println!("  {mark} {}: {}", c.name, c.detail);
    }

    println!("\nServer guidance:");
    let alias_flag = format!(" --alias-mode {}", mode.as_str());
    if http {
        println!(
            "  Streamable HTTP endpoint: http://{}:{port}/mcp",
            a.http.host
        );
        println!(
            "  Auth token env: {} ({})",
            a.http.auth_token_env,
            set_or_missing(&env, &a.http.auth_token_env)
        );
        if a.dry_run {
            println!("  Status: dry run only; server not started.");
        } else if a.serve {
            println!("  Status: starting after this checklist.");
        } else {
            println!(
                "  Start command: {cmd} up --serve --config {c} --store {s} --port {port} --auth-token-env {}{alias_flag}",
                a.http.auth_token_env
            );
        }
    } else {
        println!("  stdio servers are started by the MCP client itself.");
        println!(
            "  Print client config: {cmd} mcp client-config --client claude-desktop --config {c} --store {s}"
        );
        println!(
            "  Serve command used by clients: {cmd} mcp serve --config {c} --store {s}{alias_flag}"
        );
    }

    println!("\nNext commands:");
    println!("  - Preview tools: {cmd} tools preview --config {c}{alias_flag}");
    if let Some(first) = config.capabilities.first() {
        println!(
            "  - Smoke call: {cmd} smoke call {} --sample --config {c} --store {s}",
            first.name
        );
    }
    println!("  - List proposals: {cmd} proposals list --store {s}");
    println!("  - Show proposal: {cmd} proposals show latest --store {s}");
    println!("  - Approve proposal: {cmd} proposals approve latest --yes --store {s}");
    println!("  - Apply approved proposal: {cmd} apply latest --config {c} --store {s}");
    println!("  - Replay: {cmd} replay show latest --store {s}");
    println!("  - Direct writeback doctor: {cmd} doctor --config {c} --check-writeback");
    if !config.executors.is_empty() {
        println!("  - Handler doctor: {cmd} doctor --config {c} --check-handlers");
    }

    if a.with_handler {
        println!("\nHandler check:");
        if !super::doctor::handler_report(&config_file, &store) {
            return Ok(ExitCode::from(1));
        }
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
    };
    mcp::serve(&common, Transport::Http(Protocol::StreamableHttp), &a.http)
}

fn print_writeback(config: &Config, env: &Env) {
    println!("\nWriteback paths:");
    let proposals: Vec<_> = config
        .capabilities
        .iter()
        .filter(|c| c.kind == Kind::Proposal)
        .collect();
    if proposals.is_empty() {
        println!(
            "  - no proposal capabilities; this config is read-only from Sluicegate's perspective"
        );
    }
    for cap in &proposals {
        match cap
            .executor
            .as_deref()
            .and_then(|name| config.executors.get(name).map(|e| (name, e)))
        {
            Some((name, e)) if !matches!(e, Executor::SqlUpdate) => {
                println!("  - {}: app-owned {} {name}", cap.name, e.type_name());
            }
            _ => {
                let url_env = config
                    .sources
                    .get(&cap.source)
                    .and_then(|s| s.write_url_env.clone())
                    .unwrap_or_else(|| "SLUICEGATE_DATABASE_URL".into());
                println!(
                    "  - {}: direct guarded one-row UPDATE via {url_env} ({})",
                    cap.name,
                    set_or_missing(env, &url_env)
                );
            }
        }
    }
    let handlers: Vec<_> = config
        .executors
        .iter()
        .filter(|(_, e)| !matches!(e, Executor::SqlUpdate))
        .collect();
    if handlers.is_empty() {
        return;
    }
    println!("\nApp-owned handler requirements:");
    for (name, e) in handlers {
        match e {
            Executor::HttpHandler {
                url_env,
                token_env,
                signing_secret_env,
                ..
            } => {
                println!("  - {name}: http_handler");
                println!("    url env: {url_env} ({})", set_or_missing(env, url_env));
                if let Some(t) = token_env {
                    println!("    bearer token env: {t} ({})", set_or_missing(env, t));
                }
                match signing_secret_env {
                    Some(s) => println!("    signing secret env: {s} ({})", set_or_missing(env, s)),
                    None => println!(
                        "    signing secret env: not configured (recommended unless loopback-only)"
                    ),
                }
            }
            Executor::CommandHandler { command_env, .. } => {
                println!("  - {name}: command_handler");
                println!(
                    "    command env: {command_env} ({})",
                    set_or_missing(env, command_env)
                );
            }
            Executor::SqlUpdate => {}
        }
    }
    println!(
        "  Handlers run app-owned code with the approved change: verify signatures and keep them on loopback or behind auth."
    );
}
