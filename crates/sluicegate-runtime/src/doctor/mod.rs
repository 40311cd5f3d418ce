//! `doctor`: is this setup ready? A [`Report`] of checks, each `{name, ok, level: pass|warn|fail,
//! message}`, rendered as text or Markdown here and printed (or written) by the front end.
//!
//! Each group of checks is one function over a [`Ctx`] that appends to [`Checks`]; [`collect`]
//! calls them in order. Add a group by writing another such function (and an option for it,
//! when it costs time or touches the network). Messages name env vars and config keys, never
//! their values, URLs or hosts. Databases are reached only through `sluicegate-source`, and env
//! values only through [`Env`].

mod config;
mod db;
pub mod first_run;
mod render;
pub mod up;
pub mod writeback;
mod writer;

pub use writer::receipt_table_missing;

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Serialize;
use sluicegate_core::config::Config;

use crate::Env;

pub use render::{markdown, text};

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
#[derive(Debug, Default)]
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

    /// The checks in the order they were recorded.
    pub fn into_vec(self) -> Vec<Check> {
        self.list
    }
}

/// What every check group may look at.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub env: &'a Env,
    pub check_handlers: bool,
}

/// What to check, with paths already resolved by the front end.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config_path: PathBuf,
    pub store_path: PathBuf,
    /// The ledger the front end resolved (`LedgerStore::resolve`); `None`: the SQLite file at
    /// `store_path`.
    pub ledger: Option<crate::ledger_store::LedgerStore>,
    /// Probe each http_handler's network path (an OPTIONS request: nothing is applied) and
    /// check each command_handler's program exists (it is not run).
    pub check_handlers: bool,
    /// Run the rollback-only writer probes (receipt table and target columns).
    pub check_writeback: bool,
    /// `--fix --admin-url-env NAME`: create a missing receipt table through the admin URL in
    /// this env var (and grant the writer its use). Implies the writer probes.
    pub fix_admin_url_env: Option<String>,
    /// Accept the same credential for reads and writeback: a warning, not a failure.
    pub allow_shared_credential: bool,
}

/// The doctor's verdict: `ok` iff no check failed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub mode: Option<&'static str>,
    pub config_path: String,
    pub checks: Vec<Check>,
    pub tools: Vec<String>,
    pub store_path: String,
}

/// Run every check group in order. The config is read from `options.config_path`; a missing or
/// invalid one is a failed check, and only the store is checked then.
pub async fn collect(options: &Options, env: &Env) -> Report {
    let mut checks = Checks::default();
    let config = config::config_valid(&options.config_path, &mut checks);
    let mut tools = Vec::new();
    if let Some(config) = &config {
        let ctx = Ctx {
            config,
            env,
            check_handlers: options.check_handlers,
        };
        config::trusted_context_env(&ctx, &mut checks);
        config::source_env(&ctx, &mut checks);
        db::credential_separation(&ctx, options.allow_shared_credential, &mut checks);
        let fix = options.fix_admin_url_env.as_deref();
        writer::writeback_probes(
            &ctx,
            options.check_writeback || fix.is_some(),
            fix,
            &mut checks,
        )
        .await;
        db::source_connectivity(&ctx, &mut checks).await;
        config::executor_env(&ctx, &mut checks);
        config::decision_signatures(&ctx, &mut checks);
        config::handler_reachability(&ctx, &mut checks).await;
        tools = db::mcp_boundary(&ctx, &mut checks);
    }
    let store_label = match &options.ledger {
        Some(store @ crate::ledger_store::LedgerStore::Postgres { .. }) => {
            db::postgres_store(store, env, &mut checks).await;
            store.label()
        }
        _ => {
            db::store(&options.store_path, &mut checks);
            options.store_path.display().to_string()
        }
    };
    let checks = checks.into_vec();
    Report {
        ok: checks.iter().all(|c| c.ok),
        mode: config.as_ref().map(|c| c.mode.as_str()),
        config_path: options.config_path.display().to_string(),
        checks,
        tools,
        store_path: store_label,
    }
}

#[cfg(test)]
mod tests;
