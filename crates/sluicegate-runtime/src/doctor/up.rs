//! The review-mode bring-up checklist `up` prints (cli.md §7): where things are, what the model
//! is offered, how each proposal writes back and whether its env vars are set, the boundary
//! checks, how the server is started, and the next commands. Env var values are never shown,
//! only set or missing.

use std::fmt::Write as _;

use sluicegate_core::config::{Config, Executor, Kind};
use sluicegate_core::tools::boundary::BoundaryCheck;
use sluicegate_core::tools::{AliasMode, exposed_tools};

use crate::Env;

/// What `up` was asked to do, with paths and flags resolved.
#[derive(Debug, Clone)]
pub struct Up<'a> {
    pub config_path: &'a str,
    pub store_path: &'a str,
    /// `stdio` or `streamable-http`.
    pub transport: &'a str,
    /// `--serve`: start the Streamable HTTP server after the checklist.
    pub serve: bool,
    pub dry_run: bool,
    pub alias_mode: AliasMode,
    /// `--result-format` (the config's applies when absent).
    pub result_format: Option<u8>,
    pub host: &'a str,
    pub port: u16,
    pub auth_token_env: &'a str,
    /// `--open-ui`: say how to open the local review UI on this config and ledger.
    pub open_ui: bool,
}

fn set_or_missing(env: &Env, name: &str) -> &'static str {
    if env.get(name).is_some() {
        "set"
    } else {
        "missing"
    }
}

/// The checklist for `config`, its boundary `checks`, and env values from `env`.
pub fn checklist(u: &Up<'_>, config: &Config, checks: &[BoundaryCheck], env: &Env) -> String {
    let mut out = String::new();
    let (c, s) = (u.config_path, u.store_path);
    let cmd = "sluicegate";
    let mode = u.alias_mode;
    let port = u.port;
    let http = u.transport == "streamable-http";
    let serve_now = u.serve && !u.dry_run;
    let result_format = u.result_format;

    let _ = writeln!(out, "Sluicegate review-mode up\n");
    let _ = writeln!(out, "Config: {c}");
    let _ = writeln!(out, "Store: {s}");
    let _ = writeln!(out, "Mode: {}", config.mode.as_str());
    let _ = writeln!(out, "Transport: {}", u.transport);
    let _ = writeln!(out, "Serve now: {}", if serve_now { "yes" } else { "no" });
    let _ = writeln!(out, "Alias mode: {}", mode.as_str());
    let format = match result_format.or(config.result_format) {
        Some(2) => "v2",
        Some(_) => "v1",
        None => "default",
    };
    let _ = writeln!(out, "Result format: {format}");
    let _ = writeln!(out, "Dry run: {}\n", if u.dry_run { "yes" } else { "no" });

    let _ = writeln!(out, "Model-facing tools:");
    let tools = exposed_tools(config, mode);
    if tools.is_empty() {
        let _ = writeln!(out, "  - (none)");
    }
    for t in &tools {
        if t.is_alias {
            let _ = writeln!(out, "  - {} -> {}", t.exposed, t.canonical);
        } else {
            let _ = writeln!(out, "  - {}", t.exposed);
        }
    }
    writeback_paths(&mut out, config, env);
    let _ = writeln!(out, "\nDecisions:");
    if config.reviewers.is_empty() {
        let _ = writeln!(out, "  WARNING {}", super::config::UNSIGNED_WARNING);
    } else {
        let names: Vec<&str> = config.reviewers.iter().map(|r| r.name.as_str()).collect();
        let _ = writeln!(
            out,
            "  signed by a configured reviewer ({}); apply refuses any other approval",
            names.join(", ")
        );
    }

    let _ = writeln!(out, "\nBoundary checks:");
    for c in checks {
        let mark = if c.ok { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "  {mark} {}: {}", c.name, c.detail);
    }

    let _ = writeln!(out, "\nServer guidance:");
    let alias_flag = format!(" --alias-mode {}", mode.as_str());
    if http {
        let _ = writeln!(
            out,
            "  Streamable HTTP endpoint: http://{}:{port}/mcp",
            u.host
        );
        let _ = writeln!(
            out,
            "  Auth token env: {} ({})",
            u.auth_token_env,
            set_or_missing(env, u.auth_token_env)
        );
        if u.dry_run {
            let _ = writeln!(out, "  Status: dry run only; server not started.");
        } else if u.serve {
            let _ = writeln!(out, "  Status: starting after this checklist.");
        } else {
            let _ = writeln!(
                out,
                "  Start command: {cmd} up --serve --config {c} --store {s} --port {port} --auth-token-env {}{alias_flag}",
                u.auth_token_env
            );
        }
    } else {
        let _ = writeln!(out, "  stdio servers are started by the MCP client itself.");
        let _ = writeln!(
            out,
            "  Print client config: {cmd} mcp client-config --client claude-desktop --config {c} --store {s}"
        );
        let _ = writeln!(
            out,
            "  Serve command used by clients: {cmd} mcp serve --config {c} --store {s}{alias_flag}"
        );
    }

    if u.open_ui {
        let _ = writeln!(
            out,
            "\nLocal review UI (run it beside the server; Ctrl+C stops it):"
        );
        let _ = writeln!(out, "  {cmd} ui --open --port 0 --config {c} --store {s}");
    }

    let _ = writeln!(out, "\nNext commands:");
    let _ = writeln!(
        out,
        "  - Preview tools: {cmd} tools preview --config {c}{alias_flag}"
    );
    if let Some(first) = config.capabilities.first() {
        let _ = writeln!(
            out,
            "  - Smoke call: {cmd} smoke call {} --sample --config {c} --store {s}",
            first.name
        );
    }
    let _ = writeln!(out, "  - List proposals: {cmd} proposals list --store {s}");
    let _ = writeln!(
        out,
        "  - Show proposal: {cmd} proposals show latest --store {s}"
    );
    let _ = writeln!(
        out,
        "  - Approve proposal (shown before you confirm): {cmd} proposals approve latest --store {s}"
    );
    let _ = writeln!(
        out,
        "  - Apply approved proposal: {cmd} apply latest --config {c} --store {s}"
    );
    let _ = writeln!(out, "  - Replay: {cmd} replay show latest --store {s}");
    let _ = writeln!(
        out,
        "  - Direct writeback doctor: {cmd} doctor --config {c} --check-writeback"
    );
    if !config.executors.is_empty() {
        let _ = writeln!(
            out,
            "  - Handler doctor: {cmd} doctor --config {c} --check-handlers"
        );
    }

    out
}

/// Per proposal capability, how it writes back, and what each app-owned handler needs.
fn writeback_paths(out: &mut String, config: &Config, env: &Env) {
    let _ = writeln!(out, "\nWriteback paths:");
    let proposals: Vec<_> = config
        .capabilities
        .iter()
        .filter(|c| c.kind == Kind::Proposal)
        .collect();
    if proposals.is_empty() {
        let _ = writeln!(
            out,
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
                let _ = writeln!(out, "  - {}: app-owned {} {name}", cap.name, e.type_name());
            }
            _ => {
                let url_env = config
                    .sources
                    .get(&cap.source)
                    .and_then(|s| s.write_url_env.clone())
                    .unwrap_or_else(|| "SLUICEGATE_DATABASE_URL".into());
                let _ = writeln!(
                    out,
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
    let _ = writeln!(out, "\nApp-owned handler requirements:");
    for (name, e) in handlers {
        match e {
            Executor::HttpHandler {
                url_env,
                token_env,
                signing_secret_env,
                ..
            } => {
                let _ = writeln!(out, "  - {name}: http_handler");
                let _ = writeln!(
                    out,
                    "    url env: {url_env} ({})",
                    set_or_missing(env, url_env)
                );
                if let Some(t) = token_env {
                    let _ = writeln!(
                        out,
                        "    bearer token env: {t} ({})",
                        set_or_missing(env, t)
                    );
                }
                match signing_secret_env {
                    Some(s) => {
                        let _ = writeln!(
                            out,
                            "    signing secret env: {s} ({})",
                            set_or_missing(env, s)
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "    signing secret env: not configured (recommended unless loopback-only)"
                        );
                    }
                }
            }
            Executor::CommandHandler { command_env, .. } => {
                let _ = writeln!(out, "  - {name}: command_handler");
                let _ = writeln!(
                    out,
                    "    command env: {command_env} ({})",
                    set_or_missing(env, command_env)
                );
            }
            Executor::SqlUpdate => {}
        }
    }
    let _ = writeln!(
        out,
        "  Handlers run app-owned code with the approved change: verify signatures and keep them on loopback or behind auth."
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;
    use sluicegate_core::tools::boundary::boundary_checks;

    use super::*;

    fn config() -> Config {
        let doc = json!({
            "version": 1, "mode": "review",
            "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "T", "principal_env": "P"}},
            "executors": {"web": {"type": "http_handler", "url_env": "HOOK_URL"}},
            "capabilities": [
                {
                    "name": "billing.propose_waiver", "kind": "proposal", "source": "app", "executor": "web",
                    "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                    "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
                    "visible_columns": ["id", "fee"], "patch": {"fee": {"fixed": 0}},
                    "allowed_columns": ["fee"], "conflict_guard": {"column": "updated_at"}
                },
                {
                    "name": "billing.propose_direct", "kind": "proposal", "source": "app",
                    "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                    "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
                    "visible_columns": ["id", "fee"], "patch": {"fee": {"fixed": 0}},
                    "allowed_columns": ["fee"], "conflict_guard": {"column": "updated_at"}
                }
            ]
        });
        let (v, c) = sluicegate_core::config::validate(&doc);
        c.unwrap_or_else(|| panic!("{:?}", v.errors))
    }

    fn up(transport: &'static str, serve: bool, dry_run: bool) -> Up<'static> {
        Up {
            config_path: "c.json",
            store_path: "l.db",
            transport,
            serve,
            dry_run,
            alias_mode: AliasMode::Canonical,
            result_format: None,
            host: "127.0.0.1",
            port: 8766,
            auth_token_env: "TOKEN",
            open_ui: false,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn stdio_checklist() {
        let c = config();
        let checks = boundary_checks(&c, AliasMode::Canonical);
        let text = checklist(
            &up("stdio", false, true),
            &c,
            &checks,
            &env(&[("HOOK_URL", "x")]),
        );
        assert!(text.starts_with("Sluicegate review-mode up\n\nConfig: c.json\nStore: l.db\nMode: review\nTransport: stdio\nServe now: no\nAlias mode: canonical\nResult format: default\nDry run: yes\n\n"));
        assert!(text.contains("  - billing.propose_waiver: app-owned http_handler web\n"));
        assert!(text.contains(
            "  - billing.propose_direct: direct guarded one-row UPDATE via APP_WRITE_URL (missing)\n"
        ));
        assert!(text.contains("    url env: HOOK_URL (set)\n"));
        assert!(text.contains(
            "  PASS semantic tools present: billing.propose_waiver, billing.propose_direct\n"
        ));
        assert!(text.contains("  stdio servers are started by the MCP client itself.\n"));
        assert!(
            text.ends_with(
                "  - Handler doctor: sluicegate doctor --config c.json --check-handlers\n"
            )
        );
        assert!(!text.contains("x (set)"), "values are never shown");
        assert!(
            text.contains("\nDecisions:\n  WARNING No reviewers are configured"),
            "unsigned decisions are said plainly: {text}"
        );
        let mut signed = c.clone();
        signed.reviewers.push(sluicegate_core::config::Reviewer {
            name: "ann".into(),
            public_key: "ed25519:x".into(),
        });
        let text = checklist(&up("stdio", false, true), &signed, &checks, &env(&[]));
        assert!(
            text.contains("\nDecisions:\n  signed by a configured reviewer (ann)"),
            "{text}"
        );
    }

    #[test]
    fn streamable_http_guidance() {
        let c = config();
        let start = checklist(&up("streamable-http", false, false), &c, &[], &env(&[]));
        assert!(start.contains("  Streamable HTTP endpoint: http://127.0.0.1:8766/mcp\n  Auth token env: TOKEN (missing)\n  Start command: sluicegate up --serve --config c.json --store l.db --port 8766 --auth-token-env TOKEN --alias-mode canonical\n"));
        let serving = checklist(
            &up("streamable-http", true, false),
            &c,
            &[],
            &env(&[("TOKEN", "t")]),
        );
        assert!(serving.contains("Serve now: yes\n"));
        assert!(!serving.contains("Local review UI"));
        let ui = checklist(
            &Up {
                open_ui: true,
                ..up("streamable-http", true, false)
            },
            &c,
            &[],
            &env(&[]),
        );
        assert!(ui.contains("\nLocal review UI (run it beside the server; Ctrl+C stops it):\n  sluicegate ui --open --port 0 --config c.json --store l.db\n\nNext commands:\n"), "{ui}");
        assert!(
            serving.contains(
                "  Auth token env: TOKEN (set)\n  Status: starting after this checklist.\n"
            )
        );
        let dry = checklist(&up("streamable-http", true, true), &c, &[], &env(&[]));
        assert!(dry.contains("  Status: dry run only; server not started.\n"));
    }
}
