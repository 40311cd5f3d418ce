//! Which ledger a command uses: a SQLite file (the default) or the shared PostgreSQL ledger a
//! config names (`storage.engine: "postgres"`, its URL in the env var `storage.url_env`).
//!
//! `--store` and `SLUICEGATE_STORE` always mean a SQLite file; otherwise the config decides
//! (peeked at like [`paths::store_path`] does, so a command that needs no config still finds
//! its ledger).

use std::path::{Path, PathBuf};

use sluicegate_core::config::{Config, Durability, LedgerStorage};
use sluicegate_core::secrets::Secret;
use sluicegate_ledger::{Ledger, LedgerError, SchemaMigration};

use crate::Env;
use crate::paths;

/// Where the ledger is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerStore {
    Sqlite(PathBuf),
    /// The name of the env var holding the URL (never the URL).
    Postgres {
        url_env: String,
    },
}

/// Why a PostgreSQL ledger could not be reached from here.
#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    #[error(
        "the config's ledger is PostgreSQL but {0} is not set; export it with the ledger database's URL (postgres://user:password@host:port/database)"
    )]
    UrlUnset(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl LedgerStoreError {
    /// The stable code of a refusal, for `refused: CODE: message`.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            LedgerStoreError::UrlUnset(_) => Some("LEDGER_URL_UNSET"),
            // A ledger a newer build wrote: left as it is.
            LedgerStoreError::Ledger(LedgerError::TooNew { .. }) => Some("LEDGER_SCHEMA_TOO_NEW"),
            LedgerStoreError::Ledger(e) => e.code(),
        }
    }
}

impl LedgerStore {
    /// `--store`, `SLUICEGATE_STORE`, then the config's `storage`.
    pub fn resolve(store_flag: Option<&Path>, config_flag: Option<&Path>) -> LedgerStore {
        if store_flag.is_none()
            && std::env::var_os("SLUICEGATE_STORE").is_none_or(|v| v.is_empty())
            && let Some(url_env) = postgres_url_env(&paths::config_path(config_flag).path)
        {
            return LedgerStore::Postgres { url_env };
        }
        LedgerStore::Sqlite(paths::store_path(store_flag, config_flag))
    }

    /// For a command holding a validated `config`: `--store` and `SLUICEGATE_STORE` (a SQLite
    /// file), then the config's `storage`.
    pub fn for_config(
        store_flag: Option<&Path>,
        config_flag: Option<&Path>,
        config: &Config,
    ) -> LedgerStore {
        match &config.ledger {
            LedgerStorage::Postgres { url_env }
                if store_flag.is_none()
                    && std::env::var_os("SLUICEGATE_STORE").is_none_or(|v| v.is_empty()) =>
            {
                LedgerStore::Postgres {
                    url_env: url_env.clone(),
                }
            }
            _ => LedgerStore::Sqlite(paths::store_path(store_flag, config_flag)),
        }
    }

    /// How the ledger is named in messages: its path, or `$URL_ENV` (never the URL).
    pub fn label(&self) -> String {
        match self {
            LedgerStore::Sqlite(path) => path.display().to_string(),
            LedgerStore::Postgres { url_env } => format!("${url_env}"),
        }
    }

    /// Open the ledger to record in (a SQLite file is created when missing; a PostgreSQL
    /// ledger must have been migrated by `sluicegate store migrate`).
    pub fn open(&self, env: &Env, durability: Durability) -> Result<Ledger, LedgerStoreError> {
        match self {
            LedgerStore::Sqlite(path) => Ok(Ledger::open_with(path, durability)?),
            LedgerStore::Postgres { url_env } => {
                let url = url(env, url_env)?;
                Ok(Ledger::open_postgres(
                    url.expose(),
                    &self.label(),
                    durability,
                )?)
            }
        }
    }

    /// Open the ledger for a command that reads or reviews: a SQLite file must exist already
    /// (nothing is created), a PostgreSQL ledger must be migrated.
    pub fn open_existing(&self, env: &Env) -> Result<Ledger, LedgerStoreError> {
        match self {
            LedgerStore::Sqlite(path) => Ok(Ledger::open_existing(path)?),
            LedgerStore::Postgres { .. } => self.open(env, Durability::Full),
        }
    }

    /// `sluicegate store migrate`: bring the ledger to this build's schema.
    pub fn migrate(&self, env: &Env) -> Result<SchemaMigration, LedgerStoreError> {
        match self {
            LedgerStore::Sqlite(path) => Ok(Ledger::migrate_sqlite(path)?),
            LedgerStore::Postgres { url_env } => {
                Ok(Ledger::migrate_postgres(url(env, url_env)?.expose())?)
            }
        }
    }
}

/// The ledger's URL from the env var the config names.
fn url(env: &Env, url_env: &str) -> Result<Secret, LedgerStoreError> {
    env.secret(url_env)
        .ok_or_else(|| LedgerStoreError::UrlUnset(url_env.to_string()))
}

/// The config's `storage.url_env` when its `storage.engine` is `postgres`.
fn postgres_url_env(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    let storage = doc.get("storage")?;
    if storage.get("engine").and_then(|v| v.as_str()) != Some("postgres") {
        return None;
    }
    storage
        .get("url_env")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}
