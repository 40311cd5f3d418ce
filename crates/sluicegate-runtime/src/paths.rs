//! Where things are: the config and ledger paths every front end resolves the same way.
//!
//! The CLI, the review UI and the ledger operations all take `--config`/`--store` flags with
//! the same fallbacks; resolving them in one place keeps them agreeing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluicegate_core::config::{self, Config};

/// Default config file name.
pub const DEFAULT_CONFIG: &str = "sluicegate.json";
/// The reference's config name, accepted when ours is absent.
pub const LEGACY_CONFIG: &str = "synapsor.runner.json";
/// Default ledger location.
pub const DEFAULT_STORE: &str = ".sluicegate/local.db";

/// A resolved config path, and a note to show when it fell back to the reference's name.
pub struct ConfigPath {
    pub path: PathBuf,
    pub note: Option<String>,
}

/// `--config`, then `SLUICEGATE_CONFIG`, then `./sluicegate.json`, then
/// `./synapsor.runner.json` (with a note saying so).
pub fn config_path(flag: Option<&Path>) -> ConfigPath {
    let plain = |path: PathBuf| ConfigPath { path, note: None };
    if let Some(p) = flag {
        return plain(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SLUICEGATE_CONFIG").filter(|v| !v.is_empty()) {
        return plain(PathBuf::from(p));
    }
    let ours = PathBuf::from(DEFAULT_CONFIG);
    if !ours.exists() && Path::new(LEGACY_CONFIG).exists() {
        return ConfigPath {
            path: PathBuf::from(LEGACY_CONFIG),
            note: Some(format!(
                "note: {DEFAULT_CONFIG} not found; using {LEGACY_CONFIG}"
            )),
        };
    }
    plain(ours)
}

/// Read, parse and validate a config; an invalid one is refused with every error listed, and
/// a missing one with what to do next.
pub fn load_config(path: &Path) -> Result<Arc<Config>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read config {}: {e}; pass --config <path> or run `sluicegate demo --quick`",
            path.display()
        )
    })?;
    let (validation, config) = config::load_str(&text);
    match config {
        Some(c) if validation.ok => Ok(Arc::new(c)),
        _ => Err(format!(
            "invalid config {}:\n{}",
            path.display(),
            validation.error_lines().join("\n")
        )),
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
    let config = config_path(config_flag).path;
    if let Ok(text) = std::fs::read_to_string(&config)
        && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(p) = doc.pointer("/storage/sqlite_path").and_then(|v| v.as_str())
    {
        return PathBuf::from(p);
    }
    PathBuf::from(DEFAULT_STORE)
}
