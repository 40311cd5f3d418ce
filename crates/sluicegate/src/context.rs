//! Where things are: config and ledger path resolution, loading and validating the config,
//! and opening the ledger. Every command resolves paths through here so they agree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use sluicegate_core::config::{self, Config};
use sluicegate_ledger::Ledger;

/// Default config file name.
pub const DEFAULT_CONFIG: &str = "sluicegate.json";
/// The reference's config name, accepted when ours is absent.
pub const LEGACY_CONFIG: &str = "synapsor.runner.json";
/// Default ledger location.
pub const DEFAULT_STORE: &str = ".sluicegate/local.db";

/// `--config`, then `SLUICEGATE_CONFIG`, then `./sluicegate.json`, then
/// `./synapsor.runner.json` (announced on stderr).
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("SLUICEGATE_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let ours = PathBuf::from(DEFAULT_CONFIG);
    if !ours.exists() && Path::new(LEGACY_CONFIG).exists() {
        errln!("note: {DEFAULT_CONFIG} not found; using {LEGACY_CONFIG}");
        return PathBuf::from(LEGACY_CONFIG);
    }
    ours
}

/// Read, parse and validate a config; an invalid one is refused with every error listed.
pub fn load_config(path: &Path) -> anyhow::Result<Arc<Config>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read config {}; pass --config <path> or run `sluicegate demo --quick`",
            path.display()
        )
    })?;
    let (validation, config) = config::load_str(&text);
    match config {
        Some(c) if validation.ok => Ok(Arc::new(c)),
        _ => bail!(
            "invalid config {}:\n{}",
            path.display(),
            validation.error_lines().join("\n")
        ),
    }
}

/// `--store`, then `SLUICEGATE_STORE`, then the config's `storage.sqlite_path`, then
/// `./.sluicegate/local.db`. The config is only peeked at for its storage path.
pub fn store_path(flag: Option<&Path>, config_flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("SLUICEGATE_STORE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let config = config_path(config_flag);
    if let Ok(text) = std::fs::read_to_string(&config)
        && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(p) = doc.pointer("/storage/sqlite_path").and_then(|v| v.as_str())
    {
        return PathBuf::from(p);
    }
    PathBuf::from(DEFAULT_STORE)
}

/// Open an existing ledger (read and review commands must not create one).
pub fn open_existing_ledger(path: &Path) -> anyhow::Result<Ledger> {
    Ok(Ledger::open_existing(path)?)
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
pub fn json_text(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let json = serde_json::to_string_pretty(value)?;
    Ok(format!("{}\n", sluicegate_core::display::inert_json(&json)))
}

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

/// The acting human: `--actor`, then `$USER`, then `local_operator`.
pub fn actor(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "local_operator".into())
}
