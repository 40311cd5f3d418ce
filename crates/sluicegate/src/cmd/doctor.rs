//! `sluicegate doctor`: is this setup ready? A list of checks, each
//! `{name, ok, level: pass|warn|fail, message}`, printed as text or `--json`; exit 0 iff no
//! check failed.
//!
//! Each group of checks is one function over a [`Ctx`] that appends to [`Checks`]; `run` calls
//! them in order. Add a group by writing another such function (and a flag for it, when it
//! costs time or touches the network). Messages name env vars and config keys, never their
//! values, URLs or hosts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use sluicegate_core::config::{self, Config, ContextSpec, Executor, Kind, Mode, Provider};
use sluicegate_core::handler::split_command;
use sluicegate_runtime::Env;
use sluicegate_runtime::handler::{Probe, probe};

use anyhow::Context as _;

use crate::context::{config_path, print_json, runtime, store_path};

#[derive(clap::Args)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub level: Level,
    pub message: String,
}

/// The checks collected so far. A name is recorded once: the first verdict stands, so an env
/// var shared by two sources is reported one time.
#[derive(Default)]
pub struct Checks {
    list: Vec<Check>,
    seen: HashSet<String>,
}

impl Checks {
    fn push(&mut self, level: Level, name: impl Into<String>, message: impl Into<String>) {
        let name = name.into();
        if self.seen.insert(name.clone()) {
            self.list.push(Check {
                name,
                ok: level != Level::Fail,
                level,
                message: message.into(),
            });
        }
    }
    pub fn pass(&mut self, name: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Pass, name, message);
    }
    pub fn warn(&mut self, name: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Warn, name, message);
    }
    pub fn fail(&mut self, name: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Fail, name, message);
    }

    /// `env:<NAME>`: set (pass) or missing (fail, saying what needs it).
    fn env(&mut self, env: &Env, name: &str, needed_for: &str) {
        if env.get(name).is_some() {
            self.pass(format!("env:{name}"), format!("{name} is set."));
        } else {
            self.fail(
                format!("env:{name}"),
                format!("{name} is required for {needed_for}."),
            );
        }
    }
}

/// What every check group may look at.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub env: &'a Env,
    pub check_handlers: bool,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    mode: Option<&'static str>,
    config_path: String,
    checks: Vec<Check>,
    tools: Vec<String>,
    store_path: String,
}

fn collect(a: &DoctorArgs) -> anyhow::Result<Report> {
    let path = config_path(a.config.as_deref());
    let store = store_path(a.store.as_deref(), a.config.as_deref());
    let env = Env::process();
    let mut checks = Checks::default();
    let config = config_valid(&path, &mut checks);
    let mut tools = Vec::new();
    if let Some(config) = &config {
        let ctx = Ctx {
            config,
            env: &env,
            check_handlers: a.check_handlers,
        };
        trusted_context_env(&ctx, &mut checks);
        source_env(&ctx, &mut checks);
        super::doctor_db::credential_separation(&ctx, a.allow_shared_credential, &mut checks);
        super::doctor_db::writeback_probes(&ctx, a.check_writeback, &mut checks)?;
        super::doctor_db::source_connectivity(&ctx, &mut checks)?;
        executor_env(&ctx, &mut checks);
        handler_reachability(&ctx, &mut checks)?;
        tools = super::doctor_db::mcp_boundary(&ctx, &mut checks);
    }
    super::doctor_db::store(&store, &mut checks);
    Ok(Report {
        ok: checks.list.iter().all(|c| c.ok),
        mode: config.as_ref().map(|c| c.mode.as_str()),
        config_path: path.display().to_string(),
        checks: checks.list,
        tools,
        store_path: store.display().to_string(),
    })
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
        json: false,
        check_handlers,
        store: store.map(Path::to_path_buf),
        check_writeback: false,
        allow_shared_credential: false,
        report: false,
        redact: false,
        output: None,
    };
    match collect(&args) {
        Ok(report) => {
            println!("{}", text(&report));
            report.ok
        }
        Err(e) => {
            println!("doctor could not run: {e:#}");
            false
        }
    }
}

/// The Markdown diagnostic report. Built only from check messages, which never hold env
/// values, URLs, hosts or credentials; redacted once more on the way out.
fn markdown(r: &Report) -> String {
    let mut out = String::from(
        "# Sluicegate Doctor Report

",
    );
    out.push_str(&format!(
        "- sluicegate {}
- config: {}
- mode: {}
- status: {}

",
        env!("CARGO_PKG_VERSION"),
        r.config_path,
        r.mode.unwrap_or("unknown"),
        if r.ok { "ok" } else { "needs attention" }
    ));
    out.push_str(
        "## Semantic Tools

",
    );
    if r.tools.is_empty() {
        out.push_str(
            "- none
",
        );
    }
    for t in &r.tools {
        out.push_str(&format!(
            "- {t}
"
        ));
    }
    let boundary = r
        .checks
        .iter()
        .find(|c| c.name == "mcp-tool-boundary")
        .is_some_and(|c| c.ok);
    out.push_str(&format!(
        "
## Safety Boundary

- raw SQL / approval / commit tools: {}
- database URLs, passwords, tokens and keys are never included in this report
",
        if boundary {
            "none detected"
        } else {
            "needs review"
        }
    ));
    out.push_str(&format!(
        "
## Local Store

- path: {}
",
        r.store_path
    ));
    out.push_str(
        "
## Checks

",
    );
    for c in &r.checks {
        let level = match c.level {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!(
            "- {level} {}: {}
",
            c.name, c.message
        ));
    }
    out.push_str(
        "
## Redaction Note

Env vars are named, never shown. Connection failures are reported as categories (connection failed, authentication failed, permission denied, not found, timeout).
",
    );
    sluicegate_core::secrets::redact_text(&out)
}

pub fn run(a: DoctorArgs) -> anyhow::Result<ExitCode> {
    let report = collect(&a)?;
    if a.report {
        let out = a
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("sluicegate-doctor.md"));
        std::fs::write(&out, markdown(&report))
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote redacted doctor report: {}", out.display());
    } else if a.json {
        print_json(&report)?;
    } else {
        println!("{}", text(&report));
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(r: &Report) -> String {
    let mut out = format!(
        "Sluicegate doctor: {}\nConfig: {}\nMode: {}\n",
        if r.ok { "ok" } else { "failed" },
        r.config_path,
        r.mode.unwrap_or("unknown")
    );
    for c in &r.checks {
        let mark = match c.level {
            Level::Pass => "✓",
            Level::Warn => "!",
            Level::Fail => "x",
        };
        out.push_str(&format!("{mark} {}\n", c.message));
    }
    out.trim_end().to_string()
}

/// `config-valid`, plus one `config-warning:<code>` per validator warning.
fn config_valid(path: &Path, checks: &mut Checks) -> Option<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => {
            checks.fail(
                "config-valid",
                format!(
                    "cannot read config {}; pass --config <path>",
                    path.display()
                ),
            );
            return None;
        }
    };
    let (validation, config) = config::load_str(&text);
    for w in &validation.warnings {
        checks.warn(
            format!("config-warning:{}", w.code),
            format!("{} {}: {}", w.path, w.code, w.message),
        );
    }
    match config {
        Some(c) if validation.ok => {
            checks.pass("config-valid", "Config is valid.");
            Some(c)
        }
        _ => {
            let codes: Vec<String> = validation
                .errors
                .iter()
                .map(|e| format!("{} {}", e.path, e.code))
                .collect();
            checks.fail(
                "config-valid",
                format!("Config is invalid: {}", codes.join("; ")),
            );
            None
        }
    }
}

/// The env vars each trusted context reads must be set.
fn trusted_context_env(ctx: &Ctx, checks: &mut Checks) {
    let specs: Vec<(String, &ContextSpec)> = ctx
        .config
        .trusted_context
        .iter()
        .map(|s| ("trusted_context".to_string(), s))
        .chain(
            ctx.config
                .contexts
                .iter()
                .map(|(n, s)| (format!("context {n}"), s)),
        )
        .collect();
    for (label, spec) in specs {
        let value = |key: &str| spec.values.get(key).and_then(|v| v.as_str());
        match spec.provider {
            Provider::Environment => {
                for (key, default) in [
                    ("tenant_id_env", "SYNAPSOR_TENANT_ID"),
                    ("principal_env", "SYNAPSOR_PRINCIPAL"),
                ] {
                    let name = value(key).unwrap_or(default);
                    checks.env(ctx.env, name, &format!("{label} ({key})"));
                }
            }
            Provider::StaticDev => {
                for (key, literal) in [
                    ("tenant_id_env", "tenant_id"),
                    ("principal_env", "principal"),
                ] {
                    match (value(key), value(literal)) {
                        (Some(name), _) if ctx.env.get(name).is_some() => {
                            checks.pass(format!("env:{name}"), format!("{name} is set."))
                        }
                        (_, Some(_)) => checks.pass(
                            format!("{label}:{literal}"),
                            format!("{label} has a static_dev {literal}."),
                        ),
                        (Some(name), None) => checks.env(ctx.env, name, &label),
                        (None, None) => checks.fail(
                            format!("{label}:{literal}"),
                            format!("{label} needs {key} or {literal}."),
                        ),
                    }
                }
            }
            other => checks.warn(
                format!("{label}:provider"),
                format!(
                    "{label} uses {}, which is not available in local mode.",
                    other.as_str()
                ),
            ),
        }
    }
}

/// Each source's read URL env; in review mode, the writer env of sources that direct-SQL
/// proposals write through.
fn source_env(ctx: &Ctx, checks: &mut Checks) {
    for (name, source) in &ctx.config.sources {
        checks.env(
            ctx.env,
            &source.read_url_env,
            &format!("reads from source {name}"),
        );
        let direct_sql = ctx.config.capabilities.iter().any(|c| {
            c.kind == Kind::Proposal && c.source == *name && c.executor_name() == "sql_update"
        });
        if ctx.config.mode != Mode::Review || !direct_sql {
            continue;
        }
        match &source.write_url_env {
            Some(w) => checks.env(ctx.env, w, &format!("guarded writeback to source {name}")),
            None => checks.fail(
                format!("source:{name}:write-url-env"),
                format!(
                    "Source {name} has direct-SQL proposals but no write_url_env; add one or route them to an app-owned executor."
                ),
            ),
        }
    }
}

/// Each executor's env vars; a warning for unsigned HTTP handlers.
fn executor_env(ctx: &Ctx, checks: &mut Checks) {
    for (name, executor) in &ctx.config.executors {
        let what = format!("executor {name}");
        match executor {
            Executor::SqlUpdate => {}
            Executor::HttpHandler {
                url_env,
                token_env,
                signing_secret_env,
                ..
            } => {
                checks.env(ctx.env, url_env, &format!("{what} (url_env)"));
                if let Some(t) = token_env {
                    checks.env(ctx.env, t, &format!("{what} (auth.token_env)"));
                }
                match signing_secret_env {
                    Some(s) => checks.env(ctx.env, s, &format!("{what} (signing_secret_env)")),
                    None => checks.warn(
                        format!("executor:{name}:handler-signing"),
                        format!(
                            "Executor {name} sends unsigned requests; set signing_secret_env so the handler can verify an HMAC-SHA256 signature."
                        ),
                    ),
                }
            }
            Executor::CommandHandler { command_env, .. } => {
                checks.env(ctx.env, command_env, &format!("{what} (command_env)"));
            }
        }
    }
}

/// With `--check-handlers`: an OPTIONS probe per HTTP handler (any HTTP answer passes: the
/// network path works; nothing is sent that could apply) and a program-exists check per
/// command handler (it is not run). Without the flag, one warning per handler says how.
fn handler_reachability(ctx: &Ctx, checks: &mut Checks) -> anyhow::Result<()> {
    let rt = runtime()?;
    for (name, executor) in &ctx.config.executors {
        let check = format!("executor:{name}:handler-reachability");
        match executor {
            Executor::SqlUpdate => {}
            _ if !ctx.check_handlers => checks.warn(
                check,
                format!("Handler {name} was not probed; run doctor --check-handlers."),
            ),
            Executor::HttpHandler {
                url_env,
                timeout_ms,
                ..
            } => {
                let Some(url) = ctx.env.secret(url_env) else {
                    continue;
                };
                let timeout = Duration::from_millis(timeout_ms.unwrap_or(3000).clamp(1, 10_000));
                match rt.block_on(probe(&url, timeout)) {
                    Probe::Reachable(_) => checks.pass(
                        check,
                        format!(
                            "Handler {name} answered ({url_env}): the network path is reachable; this is not an apply probe."
                        ),
                    ),
                    Probe::InvalidUrl => checks.fail(
                        check,
                        format!("{url_env} does not hold an absolute http:// or https:// URL."),
                    ),
                    Probe::Timeout => checks.fail(
                        check,
                        format!("Handler {name} ({url_env}): timeout."),
                    ),
                    Probe::ConnectionFailed => checks.fail(
                        check,
                        format!("Handler {name} ({url_env}): connection failed."),
                    ),
                }
            }
            Executor::CommandHandler { command_env, .. } => {
                let Some(line) = ctx.env.secret(command_env) else {
                    continue;
                };
                match split_command(line.expose(), command_env) {
                    Err(e) => checks.fail(check, format!("{e}.")),
                    Ok(argv) if program_exists(&argv[0]) => checks.pass(
                        check,
                        format!("Handler {name} ({command_env}): the program exists; it was not run."),
                    ),
                    Ok(_) => checks.fail(
                        check,
                        format!("Handler {name} ({command_env}): the program was not found or is not executable."),
                    ),
                }
            }
        }
    }
    Ok(())
}

fn program_exists(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}
