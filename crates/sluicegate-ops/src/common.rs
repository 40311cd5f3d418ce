//! What every ledger operation shares: flags for the ledger and config paths, opening the
//! ledger, JSON output, refusals, and confirmations.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use sluicegate_core::display;
use sluicegate_ledger::Ledger;
use sluicegate_runtime::ReviewError;
use sluicegate_runtime::ledger_store::LedgerStore;
use sluicegate_runtime::{Env, paths};

use crate::{Outcome, Printer};

// `--store` and `--config` (consulted for its storage path, and where a command needs it,
// for the reviewed config).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Paths {
    /// Ledger path (default: SLUICEGATE_STORE, the config's storage.sqlite_path, ./.sluicegate/local.db)
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Config (default: SLUICEGATE_CONFIG, ./sluicegate.json)
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl Paths {
    pub fn store_path(&self) -> PathBuf {
        paths::store_path(self.store.as_deref(), self.config.as_deref())
    }

    pub fn config_path(&self) -> PathBuf {
        paths::config_path(self.config.as_deref()).path
    }

    /// Open the existing ledger (never create one): the SQLite file, or the PostgreSQL
    /// ledger the config names (commands not built for it refuse there).
    pub fn ledger(&self) -> anyhow::Result<Ledger> {
        open_ledger(self.store.as_deref(), self.config.as_deref())
    }

    /// ` --store P --config P` for next-step hints, with only the flags given explicitly.
    pub fn hint(&self) -> String {
        let mut out = String::new();
        if let Some(s) = &self.store {
            out.push_str(&format!(" --store {}", s.display()));
        }
        if let Some(c) = &self.config {
            out.push_str(&format!(" --config {}", c.display()));
        }
        out
    }
}

/// Open the existing ledger `--store`/`--config` name: a SQLite file, or the PostgreSQL
/// ledger of a config's `storage.engine: "postgres"` (commands not built for it refuse there).
pub fn open_ledger(store: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Ledger> {
    Ok(LedgerStore::resolve(store, config).open_existing(&Env::process())?)
}

/// One value as a JSON line with every character a terminal would act on escaped.
pub fn json_line(value: &impl Serialize) -> anyhow::Result<String> {
    let json = serde_json::to_string(value)?;
    Ok(format!("{}\n", display::inert_json(&json)))
}

/// Pretty JSON with every character a terminal would act on escaped.
pub fn json_text(value: &impl Serialize) -> anyhow::Result<String> {
    let json = serde_json::to_string_pretty(value)?;
    Ok(format!("{}\n", display::inert_json(&json)))
}

/// A refusal with a stable code: `refused: CODE: message` on stderr, exit 1. Anything else
/// could not run (exit 2, printed by the binary).
pub fn refused(out: &mut dyn Printer, e: ReviewError) -> Outcome {
    match e.code() {
        Some(code) => {
            out.err(&format!(
                "refused: {code}: {}\n",
                display::text(&e.to_string())
            ));
            Ok(ExitCode::from(1))
        }
        None => Err(e.into()),
    }
}

/// Exit 0 when `ok`, else 1.
pub fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Ask on stderr and read a trimmed, case-insensitive `yes` from stdin (cli.md §0.6). Only
/// called when stdin is a terminal.
pub fn confirm(out: &mut dyn Printer, question: &str) -> bool {
    out.err(&format!("{question} Type yes to continue: "));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok() && line.trim().eq_ignore_ascii_case("yes")
}

/// Whether stdin is an interactive terminal.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// The absolute form of a path, for messages (the path itself when it cannot be made so).
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
