//! Check groups that read the config and the environment: the config itself, the env vars of
//! trusted contexts, sources and executors, and (on request) whether each app-owned handler can
//! be reached without applying anything.

use std::path::Path;
use std::time::Duration;

use sluicegate_core::config::{self, Config, ContextSpec, Executor, Kind, Mode, Provider};
use sluicegate_core::handler::split_command;

use super::{Checks, Ctx};
use crate::Env;
use crate::handler::{Probe, probe};

/// `config-valid`, plus one `config-warning:<code>` per validator warning.
pub(super) fn config_valid(path: &Path, checks: &mut Checks) -> Option<Config> {
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
pub(super) fn trusted_context_env(ctx: &Ctx<'_>, checks: &mut Checks) {
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
pub(super) fn source_env(ctx: &Ctx<'_>, checks: &mut Checks) {
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
pub(super) fn executor_env(ctx: &Ctx<'_>, checks: &mut Checks) {
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
pub(super) async fn handler_reachability(ctx: &Ctx<'_>, checks: &mut Checks) {
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
                match probe(&url, timeout).await {
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
                    Ok(argv) if program_exists(&argv[0], ctx.env) => checks.pass(
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
}

/// Whether `program` (a path, or a name looked up on `PATH`) is an executable file.
fn program_exists(program: &str, env: &Env) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    env.get("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

/// What a decision is worth: with reviewers configured, every approval must carry a valid
/// signature of one of them; without, anyone who can write the ledger file can approve.
pub(super) fn decision_signatures(ctx: &Ctx<'_>, checks: &mut Checks) {
    let proposes = ctx
        .config
        .capabilities
        .iter()
        .any(|c| c.kind == Kind::Proposal);
    if ctx.config.mode != Mode::Review || !proposes {
        return;
    }
    match ctx.config.reviewers.as_slice() {
        [] => checks.warn("decision-signatures", UNSIGNED_WARNING),
        reviewers => checks.pass(
            "decision-signatures",
            format!(
                "Approvals must be signed by a configured reviewer ({}); apply refuses any other.",
                reviewers
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

/// The plain statement doctor and `up` make when no reviewers are configured.
pub const UNSIGNED_WARNING: &str = "No reviewers are configured, so decisions are unsigned: anyone who can write the ledger file (any process running as this OS user) can approve a proposal. Run `sluicegate reviewer init --name <you>`, add the printed line to \"reviewers\" in the config, and keep the agent and the reviewer as different OS users (docs/writeback.md, \"Who can approve\").";
