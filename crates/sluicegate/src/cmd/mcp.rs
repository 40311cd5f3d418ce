//! `sluicegate mcp …`: serving capabilities over MCP (stdio, Streamable HTTP, the JSON-RPC
//! bridge) and printing client configuration snippets.
//!
//! While serving over stdio, stdout carries protocol traffic only: every human-readable line
//! (startup notes, warnings, logs) goes to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use sluicegate_core::client_config::{self, CLIENTS};
use sluicegate_core::config::Mode;
use sluicegate_core::tools::AliasMode;
use sluicegate_ledger::lease::Lease;
use sluicegate_mcp::serve::{Transport, cancel_on_signal, exposes_to_network, protocol_name};
use sluicegate_mcp::{
    CancellationToken, HttpOptions, Protocol, Surface, is_loopback_host, serve_stdio,
};
use sluicegate_runtime::ledger_store::LedgerStore;
use sluicegate_runtime::startup::start_agent_api;
use sluicegate_runtime::{Secret, client_files, now_iso, serve_env};

use crate::context::{config_path, confirm, load_config, print_json, store_path};

/// Default env var holding the HTTP bearer token.
pub const DEFAULT_TOKEN_ENV: &str = "SLUICEGATE_HTTP_TOKEN";

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum McpCommand {
    /// Serve capabilities to an MCP client (stdio by default)
    Serve(ServeCmd),
    /// Serve MCP over Streamable HTTP (default 127.0.0.1:8766, bearer token required)
    #[command(name = "serve-streamable-http")]
    ServeStreamableHttp(HttpCmd),
    /// Serve the legacy JSON-RPC bridge (default 127.0.0.1:8765, bearer token required)
    #[command(name = "serve-http")]
    ServeHttp(HttpCmd),
    /// Print an MCP client configuration snippet (default client: claude-desktop)
    Config(ConfigCmd),
    /// Print a client configuration snippet for --client
    #[command(name = "client-config", alias = "configure")]
    ClientConfig(ClientConfigCmd),
    /// Check the tool boundary (same as `smoke boundary`)
    Smoke(super::tools::PreviewArgs),
}

// Options every serve command shares.
#[derive(clap::Args, Clone, Default)]
pub struct CommonServe {
    /// Config file (default: $SLUICEGATE_CONFIG, then ./sluicegate.json)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Ledger file (default: $SLUICEGATE_STORE, then storage.sqlite_path, then ./.sluicegate/local.db)
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Force `mode: read_only`: only read capabilities are listed
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub alias: AliasArgs,
    /// Result envelope: v1 (legacy) or v2 (default: config result_format, else v1)
    #[arg(long, value_name = "v1|1|v2|2")]
    pub result_format: Option<String>,
    /// Serve even when another live server holds the store lease
    #[arg(long)]
    pub allow_concurrent_store: bool,
    /// Read the variables the config names from this dotenv file (owner-only; exported
    /// variables win over it)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
}

// Tool naming options (mcp-surface.md §3.1).
#[derive(clap::Args, Clone, Default)]
pub struct AliasArgs {
    /// Tool names: canonical (`billing.inspect_invoice`), openai (`billing__inspect_invoice`) or both
    #[arg(long, value_name = "canonical|openai|both")]
    pub alias_mode: Option<String>,
    /// Synonym of --alias-mode
    #[arg(long, value_name = "canonical|openai|both")]
    pub tool_name_style: Option<String>,
    /// Same as --alias-mode openai
    #[arg(long)]
    pub openai_tool_aliases: bool,
}

impl AliasArgs {
    /// The chosen mode, or `default` when no flag was given.
    pub fn resolve(&self, default: AliasMode) -> anyhow::Result<AliasMode> {
        let (a, t) = (self.alias_mode.as_deref(), self.tool_name_style.as_deref());
        AliasMode::from_flags(a, t, self.openai_tool_aliases, default).map_err(anyhow::Error::msg)
    }
}

/// `--result-format`: flag > config > 1.
pub fn parse_result_format(flag: Option<&str>) -> anyhow::Result<Option<u8>> {
    Ok(match flag {
        None => None,
        Some("v1" | "1") => Some(1),
        Some("v2" | "2") => Some(2),
        Some(_) => bail!("--result-format must be v1, 1, v2, or 2"),
    })
}

// Options of the HTTP transports.
#[derive(clap::Args, Clone)]
pub struct HttpArgs {
    /// Address to bind (loopback by default; 0.0.0.0 exposes the server to the network)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (default 8766 for Streamable HTTP, 8765 for the bridge; 0 picks a free port)
    #[arg(long)]
    pub port: Option<u16>,
    /// Env var holding the bearer token clients must send
    #[arg(long, default_value = DEFAULT_TOKEN_ENV, value_name = "ENV")]
    pub auth_token_env: String,
    /// Disable bearer auth (only allowed on a loopback bind, for local development)
    #[arg(long)]
    pub dev_no_auth: bool,
    /// Browser Origin allowed to call the server (repeatable); other Origins get 403
    #[arg(long = "allowed-origin", alias = "cors-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Extra Host header name to accept (repeatable); loopback names and the bind host always are
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
}

#[derive(clap::Args)]
pub struct ServeCmd {
    /// stdio (default), streamable-http, or http (the legacy JSON-RPC bridge)
    #[arg(long, default_value = "stdio")]
    transport: String,
    #[command(flatten)]
    common: CommonServe,
    #[command(flatten)]
    http: HttpArgs,
}

#[derive(clap::Args)]
pub struct HttpCmd {
    #[command(flatten)]
    common: CommonServe,
    #[command(flatten)]
    http: HttpArgs,
}

/// `--transport` for `mcp serve`.
fn parse_transport(s: &str) -> anyhow::Result<Transport> {
    Transport::parse(s).context("--transport must be stdio, streamable-http, or http")
}

pub fn run(cmd: McpCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        McpCommand::Serve(c) => serve(&c.common, parse_transport(&c.transport)?, &c.http),
        McpCommand::ServeStreamableHttp(c) => serve(
            &c.common,
            Transport::Http(Protocol::StreamableHttp),
            &c.http,
        ),
        McpCommand::ServeHttp(c) => serve(&c.common, Transport::Http(Protocol::Bridge), &c.http),
        McpCommand::Config(c) => {
            let client = c.client.clone().unwrap_or_else(|| "claude-desktop".into());
            snippet(&client, &c.options)
        }
        McpCommand::ClientConfig(c) => match &c.client {
            Some(client) => snippet(client, &c.options),
            None => bail!(
                "mcp client-config requires --client <{}>",
                CLIENTS.join("|")
            ),
        },
        McpCommand::Smoke(a) => super::tools::run_boundary_smoke(a),
    }
}

/// Resolve a serve command into what to run, then run it until the client leaves or a
/// signal arrives. The store lease is held for exactly that long.
pub fn serve(
    common: &CommonServe,
    transport: Transport,
    http: &HttpArgs,
) -> anyhow::Result<ExitCode> {
    let alias_mode = common.alias.resolve(AliasMode::Canonical)?;
    let result_format = parse_result_format(common.result_format.as_deref())?;
    let config_file = config_path(common.config.as_deref());
    let mut config = load_config(&config_file)?;
    if common.read_only && config.mode != Mode::ReadOnly {
        let mut forced = (*config).clone();
        forced.mode = Mode::ReadOnly;
        config = Arc::new(forced);
    }
    let store = LedgerStore::for_config(common.store.as_deref(), common.config.as_deref(), &config);
    // No silent start: a missing source URL or trusted-context variable refuses every call.
    let env = serve_env::serve_env(&config, common.env_file.as_deref())?;

    // Refuse an unauthenticated HTTP server before touching the store.
    let token = match transport {
        Transport::Stdio => None,
        Transport::Http(_) if http.dev_no_auth => {
            if !is_loopback_host(&http.host) {
                bail!("--dev-no-auth is only allowed with localhost or 127.0.0.1.");
            }
            None
        }
        Transport::Http(_) => match env.secret(&http.auth_token_env) {
            Some(t) => Some(t),
            None => bail!(
                "{} is not set. Streamable HTTP MCP requires bearer auth by default.\nFix: export {}=\"$(openssl rand -hex 32)\", or pass --dev-no-auth on a loopback host for local development",
                http.auth_token_env,
                http.auth_token_env
            ),
        },
    };

    // The lease keeps a SQLite file to one server; any number share a PostgreSQL ledger.
    let lease = match &store {
        LedgerStore::Sqlite(path) => {
            let (lease, warning) = Lease::acquire(
                path,
                transport.lease_name(),
                common.allow_concurrent_store,
                &now_iso(),
            )?;
            if let Some(w) = warning {
                errln!("Warning: {w}");
            }
            Some(lease)
        }
        LedgerStore::Postgres { .. } => None,
    };
    let runtime = transport.runtime()?;
    let api = match runtime.block_on(start_agent_api(config, &store, &env, result_format)) {
        Ok(api) => api,
        Err(e) => {
            // Dropping the runtime would wait for a catalog read still blocked on a SQLite
            // source (up to its busy timeout) before the ledger's error is reported.
            runtime.shutdown_background();
            return Err(e.into());
        }
    };
    let store = PathBuf::from(store.label());
    let surface = Arc::new(Surface::new(api, alias_mode));
    let shutdown = CancellationToken::new();
    let result = runtime.block_on(async {
        cancel_on_signal(shutdown.clone());
        match transport {
            Transport::Stdio => serve_stdio(surface, shutdown)
                .await
                .map_err(anyhow::Error::from),
            Transport::Http(protocol) => {
                serve_http(
                    surface,
                    protocol,
                    http,
                    token,
                    &config_file,
                    &store,
                    shutdown,
                )
                .await
            }
        }
    });
    // A blocking stdin read (a terminal, not a pipe) cannot be interrupted: don't wait on it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    drop(lease);
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_http(
    surface: Arc<Surface>,
    protocol: Protocol,
    http: &HttpArgs,
    token: Option<Secret>,
    config_file: &Path,
    store: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if protocol == Protocol::Bridge {
        errln!(
            "Warning: `mcp serve-http` is the legacy JSON-RPC bridge, not standard MCP. Standard clients should use `sluicegate mcp serve --transport streamable-http`."
        );
    }
    if exposes_to_network(&http.host) {
        errln!(
            "Warning: binding {} exposes this server to the network; keep the token secret and prefer 127.0.0.1.",
            http.host
        );
    }
    let opts = HttpOptions {
        host: http.host.clone(),
        port: http.port.unwrap_or(protocol.default_port()),
        token,
        allowed_hosts: http.allowed_hosts.clone(),
        allowed_origins: http.allowed_origins.clone(),
    };
    let auth = opts.token.is_some();
    let listening = |addr| {
        errln!(
            "Sluicegate {} listening on http://{addr}/mcp",
            protocol_name(protocol)
        );
        if auth {
            errln!("Auth: bearer token from {}", http.auth_token_env);
        } else {
            errln!("Auth: disabled for localhost development only");
        }
        errln!("Config: {}", config_file.display());
        errln!("Store: {}", store.display());
        errln!("Press Ctrl+C to stop.");
    };
    sluicegate_mcp::serve::serve_http(surface, protocol, opts, shutdown, listening).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Client snippets (mcp-surface.md §12)
// ---------------------------------------------------------------------------------------------

#[derive(clap::Args)]
pub struct ConfigCmd {
    /// claude-desktop (default), cursor, vscode, generic or openai-agents
    client: Option<String>,
    #[command(flatten)]
    options: SnippetArgs,
}

#[derive(clap::Args)]
pub struct ClientConfigCmd {
    /// claude-desktop, cursor, vscode, generic or openai-agents
    #[arg(long)]
    client: Option<String>,
    #[command(flatten)]
    options: SnippetArgs,
}

#[derive(clap::Args)]
pub struct SnippetArgs {
    /// Config path to put in the snippet (default: the one `mcp serve` would use here)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Ledger path to put in the snippet (default: the one `mcp serve` would use here)
    #[arg(long)]
    store: Option<PathBuf>,
    /// Keep paths as given (by default they are made absolute: desktop clients start servers from /)
    #[arg(long)]
    relative_paths: bool,
    /// Accepted for compatibility: paths are absolute by default
    #[arg(long, hide = true)]
    absolute_paths: bool,
    /// Env file the server reads credentials from (default ./.env)
    #[arg(long, value_name = "PATH", conflicts_with = "no_env_file")]
    env_file: Option<PathBuf>,
    /// Leave --env-file out of the snippet (set the variables some other way)
    #[arg(long)]
    no_env_file: bool,
    /// Create the env file (variable names, empty values, chmod 600) if it does not exist
    #[arg(long)]
    create_env_file: bool,
    /// Command in the snippet (default: $SLUICEGATE_COMMAND_NAME, else this binary's absolute path)
    #[arg(long)]
    command: Option<String>,
    /// stdio (default) or streamable-http (default for openai-agents)
    #[arg(long)]
    transport: Option<String>,
    #[command(flatten)]
    alias: AliasArgs,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8766)]
    port: u16,
    /// Env var name the server reads its bearer token from (never the value)
    #[arg(long, default_value = DEFAULT_TOKEN_ENV, value_name = "ENV")]
    auth_token_env: String,
    /// Add a recommended propose-first system prompt and checklist
    #[arg(long)]
    include_instructions: bool,
    /// Merge the snippet into --destination instead of printing it
    #[arg(long)]
    write: bool,
    #[arg(long)]
    destination: Option<PathBuf>,
    /// Confirm --write without asking
    #[arg(long)]
    yes: bool,
}

/// The command written into snippets: `SLUICEGATE_COMMAND_NAME`, else this binary's path.
pub fn command_name() -> String {
    std::env::var("SLUICEGATE_COMMAND_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(client_files::default_command)
}

fn snippet(client: &str, a: &SnippetArgs) -> anyhow::Result<ExitCode> {
    let client = client_config::client(client)?;
    let built = client_files::snippet(client_files::SnippetRequest {
        client,
        transport: client_config::transport(client, a.transport.as_deref())?,
        alias_mode: a.alias.resolve(client_config::default_alias_mode(client))?,
        config: config_path(a.config.as_deref()),
        store: store_path(a.store.as_deref(), a.config.as_deref()),
        relative_paths: a.relative_paths,
        command: a.command.clone().unwrap_or_else(command_name),
        env_file: (!a.no_env_file).then(|| {
            a.env_file
                .clone()
                .unwrap_or(client_files::DEFAULT_ENV_FILE.into())
        }),
        create_env_file: a.create_env_file,
        host: a.host.clone(),
        port: a.port,
        auth_token_env: a.auth_token_env.clone(),
        include_instructions: a.include_instructions,
    })?;
    for w in &built.warnings {
        errln!("Warning: {w}");
    }
    for n in &built.notes {
        errln!("{n}");
    }
    if !a.write {
        errln!(
            "Paste this into your MCP client configuration (it holds command paths and env var names only: no URLs with credentials, no tokens)."
        );
        print_json(&built.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if client == "openai-agents" {
        bail!(
            "--write is not supported for openai-agents; paste the printed snippet into your code"
        );
    }
    let dest = a
        .destination
        .as_deref()
        .context("mcp configure --write requires --destination <path>")?;
    errln!("Destination: {}", dest.display());
    let merged = client_files::merged(client, &built.json, dest)?;
    let question = format!(
        "Write the sluicegate MCP server entry to {}?",
        dest.display()
    );
    confirm(&question, a.yes)?;
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    if let Some(backup) = client_files::write_merged(&merged, dest, &stamp)? {
        errln!("Backup: {backup}");
    }
    outln!("wrote MCP {client} configuration to {}", dest.display());
    Ok(ExitCode::SUCCESS)
}
