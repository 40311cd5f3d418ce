//! Where things are: config and ledger path resolution, loading and validating the config,
//! and opening the ledger. Every command resolves paths through here so they agree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use sluicegate_core::config::Config;
use sluicegate_ledger::Ledger;

pub use sluicegate_runtime::paths::{DEFAULT_CONFIG, store_path};

/// `--config`, then `SLUICEGATE_CONFIG`, then `./sluicegate.json`, then
/// `./synapsor.runner.json` (announced on stderr).
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    let found = sluicegate_runtime::paths::config_path(flag);
    if let Some(note) = found.note {
        errln!("{note}");
    }
    found.path
}

/// Read, parse and validate a config; an invalid one is refused with every error listed.
pub fn load_config(path: &Path) -> anyhow::Result<Arc<Config>> {
    sluicegate_runtime::paths::load_config(path).map_err(anyhow::Error::msg)
}

/// Open the existing ledger the flags and config name: a SQLite file, or the shared PostgreSQL
/// ledger of `storage.engine: "postgres"`.
pub fn open_existing_store(store: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Ledger> {
    let env = sluicegate_runtime::Env::process();
    Ok(
        sluicegate_runtime::ledger_store::LedgerStore::resolve(store, config)
            .open_existing(&env)?,
    )
}

/// Open or create a ledger (commands that record).
pub fn open_ledger(path: &Path) -> anyhow::Result<Ledger> {
    Ok(Ledger::open(path)?)
}

/// A tokio runtime for one CLI command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// ` --store <path>` when the user passed one explicitly, for next-step hints.
pub fn store_hint(flag: Option<&Path>) -> String {
    flag.map(|p| format!(" --store {}", p.display()))
        .unwrap_or_default()
}

/// `value` as 2-space indented JSON and a newline, inert on a terminal (`display::inert_json`).
pub use sluicegate_ops::json_text;

/// Print `value` as [`json_text`].
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out!("{}", json_text(value)?);
    Ok(())
}

/// Whether stdin is an interactive terminal.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// Confirm a consequential action: `--yes` proceeds, a TTY is asked, anything else refuses.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !interactive() {
        bail!("{question} needs confirmation: rerun with --yes (no terminal to ask on)");
    }
    crate::out::err(&format!("{question} Type yes to continue: "));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    if line.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        bail!("confirmation declined")
    }
}

/// The acting human of a decision or the review UI (`reviewer::acting_human`), else
/// `local_operator`.
pub fn actor(flag: Option<&str>) -> String {
    sluicegate_runtime::reviewer::acting_human(
        flag,
        &sluicegate_runtime::Env::process(),
        "local_operator",
    )
}
