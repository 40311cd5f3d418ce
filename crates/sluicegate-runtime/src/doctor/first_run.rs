//! `doctor --first-run` (cli.md §12.2): before anything is set up, what stands in the way.
//! Each check says what it looked at, why it matters and how to fix it.
//!
//! The reference checked the tools its Node demo needs (bash, docker, node, corepack, pnpm)
//! and the Docker ports of its demo databases. Sluicegate is one binary whose demo runs on
//! SQLite, so those are not checked; the rest keeps the reference's names: free disk and
//! memory, the ports a first run serves on, the config and its env, the ledger, and MCP client
//! snippets that must never carry a credential. The probes are split from their verdicts so
//! each verdict is tested on both sides.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Checks, Ctx, Level, config, db};
use crate::Env;

/// One first-run check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FirstRunCheck {
    pub name: String,
    pub status: Level,
    pub checked: String,
    pub why: String,
    pub fix: String,
}

/// `{ok, checks}`: ok iff no check failed.
#[derive(Debug, Clone, Serialize)]
pub struct FirstRunReport {
    pub ok: bool,
    pub checks: Vec<FirstRunCheck>,
}

/// What to look at, resolved by the front end.
#[derive(Debug, Clone)]
pub struct FirstRunOptions {
    pub config_path: PathBuf,
    pub store_path: PathBuf,
    /// `--client-config`: the one snippet file to scan; else every `*.json` in `snippet_dir`.
    pub client_config: Option<PathBuf>,
    pub snippet_dir: PathBuf,
    /// Ports a first run serves on (`mcp serve-streamable-http`, `ui`), checked free on
    /// 127.0.0.1.
    pub ports: Vec<u16>,
}

impl FirstRunOptions {
    /// The defaults of `doctor --first-run`: snippets in `.sluicegate/mcp`, the default ports.
    pub fn new(config_path: PathBuf, store_path: PathBuf, client_config: Option<PathBuf>) -> Self {
        FirstRunOptions {
            config_path,
            store_path,
            client_config,
            snippet_dir: PathBuf::from(".sluicegate/mcp"),
            ports: DEFAULT_PORTS.to_vec(),
        }
    }
}

/// The MCP HTTP port `up` and `mcp serve-streamable-http` default to.
pub const DEFAULT_PORTS: [u16; 1] = [8766];

const GIB: u64 = 1024 * 1024 * 1024;

fn check(
    name: impl Into<String>,
    status: Level,
    checked: impl Into<String>,
    why: &str,
    fix: &str,
) -> FirstRunCheck {
    FirstRunCheck {
        name: name.into(),
        status,
        checked: checked.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

/// Run every check.
pub fn first_run(options: &FirstRunOptions, env: &Env) -> FirstRunReport {
    let dir = options
        .store_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut checks = vec![
        disk_space(free_bytes(&existing_ancestor(&dir))),
        memory(total_memory()),
    ];
    for port in &options.ports {
        checks.push(port_free(*port, port_busy(*port)));
    }
    checks.extend(config_checks(&options.config_path, env));
    checks.push(store(&options.store_path));
    checks.extend(snippets(&snippet_files(options)));
    FirstRunReport {
        ok: checks.iter().all(|c| c.status != Level::Fail),
        checks,
    }
}

/// Warn under 2 GiB free where the ledger will live.
pub fn disk_space(free: Option<u64>) -> FirstRunCheck {
    let why = "The ledger grows with every tool call (about 1-2 KB each) and SQLite needs room to checkpoint and vacuum.";
    match free {
        Some(b) if b < 2 * GIB => check(
            "disk-space",
            Level::Warn,
            format!("{} MiB free where the ledger lives", b / 1_048_576),
            why,
            "Free some disk space or point --store at a larger disk.",
        ),
        Some(b) => check(
            "disk-space",
            Level::Pass,
            format!("{} GiB free where the ledger lives", b / GIB),
            why,
            "Nothing to do.",
        ),
        None => check(
            "disk-space",
            Level::Warn,
            "free disk space could not be read",
            why,
            "Check free space with `df -h`.",
        ),
    }
}

/// Warn under 4 GiB of memory.
pub fn memory(total: Option<u64>) -> FirstRunCheck {
    let why = "A source database, an MCP client and Sluicegate on one machine need room to run side by side.";
    match total {
        Some(b) if b < 4 * GIB => check(
            "memory",
            Level::Warn,
            format!("{} MiB of memory", b / 1_048_576),
            why,
            "Close other programs, or run the database elsewhere.",
        ),
        Some(b) => check(
            "memory",
            Level::Pass,
            format!("{} GiB of memory", b / GIB),
            why,
            "Nothing to do.",
        ),
        None => check(
            "memory",
            Level::Warn,
            "total memory could not be read",
            why,
            "Check memory with `free -h`.",
        ),
    }
}

/// Fail when a port a first run serves on is taken.
pub fn port_free(port: u16, busy: bool) -> FirstRunCheck {
    let why = "`sluicegate up --serve` and `mcp serve-streamable-http` listen here by default.";
    if busy {
        check(
            format!("port-{port}"),
            Level::Fail,
            format!("127.0.0.1:{port} is in use"),
            why,
            &format!("Stop what listens on {port}, or pass --port to the server."),
        )
    } else {
        check(
            format!("port-{port}"),
            Level::Pass,
            format!("127.0.0.1:{port} is free"),
            why,
            "Nothing to do.",
        )
    }
}

fn port_busy(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_err()
}

/// The config exists (warn), is valid (fail), its env vars are set (warn), and reads and
/// writeback use separate credentials (fail): the local doctor's own checks, reworded.
pub fn config_checks(path: &Path, env: &Env) -> Vec<FirstRunCheck> {
    if !path.exists() {
        return vec![check(
            "config",
            Level::Warn,
            format!("no config at {}", path.display()),
            "Sluicegate exposes only the capabilities a reviewed config declares.",
            "Run `sluicegate demo --quick` to try it, or `sluicegate onboard db` for your own database.",
        )];
    }
    let mut out = vec![check(
        "config",
        Level::Pass,
        format!("config found at {}", path.display()),
        "Sluicegate exposes only the capabilities a reviewed config declares.",
        "Nothing to do.",
    )];
    let mut checks = Checks::default();
    let Some(cfg) = config::config_valid(path, &mut checks) else {
        out.push(check(
            "config-valid",
            Level::Fail,
            format!("{} is not a valid config", path.display()),
            "An invalid config serves nothing.",
            &format!(
                "Run `sluicegate config validate --config {}` and fix what it lists.",
                path.display()
            ),
        ));
        return out;
    };
    out.push(check(
        "config-valid",
        Level::Pass,
        "the config is valid",
        "An invalid config serves nothing.",
        "Nothing to do.",
    ));
    let ctx = Ctx {
        config: &cfg,
        env,
        check_handlers: false,
    };
    let mut env_checks = Checks::default();
    config::trusted_context_env(&ctx, &mut env_checks);
    config::source_env(&ctx, &mut env_checks);
    for c in env_checks.into_vec() {
        if !c.name.starts_with("env:") {
            continue;
        }
        let status = if c.level == Level::Pass {
            Level::Pass
        } else {
            Level::Warn
        };
        out.push(check(c.name, status, c.message, "Trusted context and database URLs come only from env vars, never from the model.", "Export the variable (or keep it in an env file passed with --env-file) before serving."));
    }
    let mut split = Checks::default();
    db::credential_separation(&ctx, false, &mut split);
    for c in split.into_vec() {
        let source = c
            .name
            .trim_start_matches("source:")
            .trim_end_matches(":credential-separation")
            .to_string();
        out.push(check(
            format!("credential-split-{source}"),
            c.level,
            c.message,
            "The model's reads must not hold a credential that can write.",
            "Give reads a read-only database user and writeback its own.",
        ));
    }
    out
}

/// The ledger exists (warn when not: it is created on first use).
pub fn store(path: &Path) -> FirstRunCheck {
    let why = "The ledger records every read, proposal, decision and receipt.";
    if path.exists() {
        check(
            "sqlite-store",
            Level::Pass,
            format!("ledger found at {}", path.display()),
            why,
            "Nothing to do.",
        )
    } else {
        check(
            "sqlite-store",
            Level::Warn,
            format!("no ledger at {} yet", path.display()),
            why,
            "It is created on first use; run `sluicegate demo --quick` to see one filled.",
        )
    }
}

fn snippet_files(options: &FirstRunOptions) -> Vec<PathBuf> {
    if let Some(p) = &options.client_config {
        return vec![p.clone()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&options.snippet_dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// MCP client snippets must never carry a credential (fail); warn when there are none.
pub fn snippets(files: &[PathBuf]) -> Vec<FirstRunCheck> {
    let why = "Client config files are copied around and committed; a database URL, password or token in one leaks it.";
    if files.is_empty() {
        return vec![check(
            "mcp-client-config",
            Level::Warn,
            "no MCP client snippet found",
            why,
            "Run `sluicegate mcp client-config --client claude-desktop` (or onboard) to write one.",
        )];
    }
    files
        .iter()
        .map(|f| {
            let name = format!("mcp-client-config:{}", f.display());
            match std::fs::read_to_string(f) {
                Err(_) => check(name, Level::Fail, format!("{} cannot be read", f.display()), why, "Pass --client-config with a readable file."),
                Ok(text) => match credential_in(&text) {
                    Some(what) => check(name, Level::Fail, format!("{} holds {what}", f.display()), why, "Keep URLs and secrets in env vars and name only the variables in the snippet (`sluicegate mcp client-config` writes it that way)."),
                    None => check(name, Level::Pass, format!("{} names env vars only", f.display()), why, "Nothing to do."),
                },
            }
        })
        .collect()
}

/// What credential-looking text `text` holds, if any (never the text itself).
pub fn credential_in(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("postgres://") || lower.contains("postgresql://") {
        return Some("a PostgreSQL URL");
    }
    if lower.contains("mysql://") || lower.contains("mariadb://") {
        return Some("a MySQL URL");
    }
    if lower.contains("syn_wbr_") {
        return Some("a runner token");
    }
    let followed = |word: &str, accept: &dyn Fn(&str) -> bool| {
        lower
            .match_indices(word)
            .any(|(i, _)| accept(&lower[i + word.len()..]))
    };
    let assigns = |rest: &str| {
        let rest = rest.trim_start_matches(['"', '\'', ' ']);
        rest.starts_with(':') || rest.starts_with('=')
    };
    if followed("password", &assigns) {
        return Some("a password");
    }
    let token = |rest: &str| {
        rest.starts_with(' ')
            && rest
                .trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
    };
    if followed("bearer", &token) {
        return Some("a bearer token");
    }
    None
}

fn existing_ancestor(dir: &Path) -> PathBuf {
    let mut d = dir.to_path_buf();
    while !d.exists() {
        match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => d = p.to_path_buf(),
            _ => return PathBuf::from("."),
        }
    }
    d
}

/// Free bytes on the filesystem holding `dir` (`df -Pk`, as the reference read it).
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The report as text: a title, then per check its status and what it looked at, why it
/// matters and how to fix it.
pub fn first_run_text(report: &FirstRunReport) -> String {
    let mut out = format!(
        "Sluicegate first-run doctor: {}\n\n",
        if report.ok { "ok" } else { "needs attention" }
    );
    for c in &report.checks {
        let status = match c.status {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!(
            "{status} {}\nWhy it matters: {}\nFix: {}\n\n",
            c.checked, c.why, c.fix
        ));
    }
    out
}

#[cfg(test)]
#[path = "first_run_tests.rs"]
mod tests;
