//! `sluicegate audit`: static MCP database risk review of a tool manifest, a `tools/list`
//! response, a Sluicegate (or reference) config, an MCP client config or a live server.
//!
//! Exit codes: 0 when a report is produced and the overall risk is not high, 1 when it is high (so
//! the audit can gate CI; the reference always exits 0), 2 for usage and input errors, a failed
//! single live target, or a client config none of whose servers could be audited.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use sluicegate_audit::{BearerToken, Format, Options, Risk, Target, audit_target};
use sluicegate_core::display::inert_json;

/// Env var read for the `--url` bearer token when `--auth-token-env` is not given.
const DEFAULT_BEARER_ENV: &str = "SLUICEGATE_AUDIT_BEARER";

#[derive(clap::Args)]
pub struct AuditArgs {
    /// A JSON file (tool manifest, tools/list response or config), `stdio:<command>`, or an
    /// http(s) URL
    target: Option<String>,
    /// Audit a built-in example: dangerous-db-mcp
    #[arg(long, value_name = "NAME")]
    example: Option<String>,
    /// An MCP client config (Claude Desktop, Cursor, VS Code): start each configured server and
    /// audit the tools it lists
    #[arg(long, value_name = "FILE")]
    mcp_config: Option<String>,
    /// With --mcp-config: start nothing, walk the file statically
    #[arg(long)]
    no_launch: bool,
    /// Launch a stdio MCP server (command line split like a shell; no shell runs)
    #[arg(long, value_name = "COMMAND")]
    stdio: Option<String>,
    /// A Streamable HTTP MCP endpoint
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Env var holding the bearer token for --url [default: SLUICEGATE_AUDIT_BEARER, when set]
    #[arg(long, value_name = "VAR", alias = "bearer-env")]
    auth_token_env: Option<String>,
    /// Report format: text, markdown or json
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    format: String,
    /// Same as --format json
    #[arg(long)]
    json: bool,
    /// Time limit for each live server's whole handshake, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let format = if args.json {
        Format::Json
    } else {
        Format::parse(&args.format).context("audit --format must be text, json, or markdown")?
    };
    let target = select_target(&args)?;
    let options = Options {
        timeout: Duration::from_millis(args.timeout_ms),
        validate_config: Some(validate_config),
    };
    let generated_at = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(audit_target(&target, options, &generated_at))?;

    // Tool names and descriptions come from third-party servers: JSON stays valid, all inert.
    out!("{}", inert_json(&report.render(format)));
    if report.audited_no_server() {
        errln!("error: no server in the MCP client config could be audited");
        return Ok(ExitCode::from(2));
    }
    Ok(match report.overall_risk() {
        Risk::High => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// The target, in the reference's precedence: `--example`, `--url`, `--stdio`, `--mcp-config`,
/// then the positional (`http(s)://…` is a URL, `stdio:…` a command, anything else a file).
fn select_target(args: &AuditArgs) -> anyhow::Result<Target> {
    if let Some(name) = &args.example {
        return Ok(Target::Example(name.clone()));
    }
    if let Some(url) = &args.url {
        return url_target(url, args);
    }
    if let Some(command) = &args.stdio {
        return Ok(Target::Stdio(command.clone()));
    }
    if let Some(path) = &args.mcp_config {
        return Ok(Target::McpConfig {
            path: path.clone(),
            launch: !args.no_launch,
        });
    }
    match args.target.as_deref() {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            url_target(url, args)
        }
        Some(target) => Ok(match target.strip_prefix("stdio:") {
            Some(command) => Target::Stdio(command.to_owned()),
            None => Target::File(target.to_owned()),
        }),
        None => bail!(
            "audit requires <target>, --example dangerous-db-mcp, --mcp-config <path>, --stdio <command>, or --url <url>"
        ),
    }
}

fn url_target(url: &str, args: &AuditArgs) -> anyhow::Result<Target> {
    let bearer = match &args.auth_token_env {
        Some(var) => match std::env::var(var) {
            Ok(token) if !token.is_empty() => Some(BearerToken::new(token)),
            _ => {
                bail!("--auth-token-env names {var}, but {var} is not set; export the token in it")
            }
        },
        None => std::env::var(DEFAULT_BEARER_ENV)
            .ok()
            .filter(|token| !token.is_empty())
            .map(BearerToken::new),
    };
    Ok(Target::Url {
        url: url.to_owned(),
        bearer,
    })
}

/// Configs are validated like every other command that loads one, before their tools are read.
fn validate_config(config: &Value) -> Result<(), String> {
    let (validation, _) = sluicegate_core::config::validate(config);
    if validation.ok {
        return Ok(());
    }
    Err(format!(
        "invalid config:\n{}",
        validation.error_lines().join("\n")
    ))
}
