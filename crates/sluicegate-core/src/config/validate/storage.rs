//! `storage` (a Sluicegate extension): the ledger's engine, where it lives, and how durable a
//! commit is.

use serde_json::Value;

use super::{Validator, non_empty_str};
use crate::config::model::{Durability, LedgerStorage};
use crate::ident::is_env_name;

const STORAGE_KEYS: &[&str] = &["engine", "sqlite_path", "url_env", "durability"];

impl Validator {
    pub(super) fn storage(&mut self, storage: Option<&Value>) -> (LedgerStorage, Durability) {
        let Some(storage) = storage else {
            return (LedgerStorage::default(), Durability::default());
        };
        let Some(obj) = storage.as_object() else {
            self.error(
                "$.storage",
                "STORAGE_NOT_OBJECT",
                "storage must be an object",
            );
            return (LedgerStorage::default(), Durability::default());
        };
        self.unknown_keys(obj, STORAGE_KEYS, "$.storage");
        let durability = match obj.get("durability") {
            None => Durability::default(),
            Some(v) => match v.as_str().and_then(Durability::parse) {
                Some(d) => d,
                None => {
                    self.error(
                        "$.storage.durability",
                        "INVALID_DURABILITY",
                        "storage.durability must be \"full\" (fsync every commit, the default) or \"relaxed\" (survives a process crash, not a power loss)",
                    );
                    Durability::default()
                }
            },
        };
        let postgres = match obj.get("engine") {
            None => false,
            Some(v) => match v.as_str() {
                Some("sqlite") => false,
                Some("postgres") => true,
                _ => {
                    self.error(
                        "$.storage.engine",
                        "INVALID_STORAGE_ENGINE",
                        "storage.engine must be \"sqlite\" (a local file, the default) or \"postgres\" (a shared ledger)",
                    );
                    false
                }
            },
        };
        let path = match obj.get("sqlite_path") {
            None => None,
            Some(_) if postgres => {
                self.error(
                    "$.storage.sqlite_path",
                    "SQLITE_PATH_NOT_FOR_POSTGRES",
                    "storage.sqlite_path is only for the sqlite engine; a postgres ledger is found through storage.url_env",
                );
                None
            }
            Some(p) => match non_empty_str(Some(p)) {
                Some(s) => Some(s.to_string()),
                None => {
                    self.error(
                        "$.storage.sqlite_path",
                        "INVALID_SQLITE_PATH",
                        "storage.sqlite_path must be a non-empty string",
                    );
                    None
                }
            },
        };
        let url_env = match obj.get("url_env") {
            None if postgres => {
                self.error(
                    "$.storage.url_env",
                    "STORAGE_URL_ENV_REQUIRED",
                    "storage.url_env must name the env var holding the ledger's PostgreSQL URL (never the URL itself)",
                );
                None
            }
            None => None,
            Some(_) if !postgres => {
                self.error(
                    "$.storage.url_env",
                    "URL_ENV_NOT_FOR_SQLITE",
                    "storage.url_env is only for \"engine\": \"postgres\"; a sqlite ledger is a file (storage.sqlite_path)",
                );
                None
            }
            Some(v) => match v.as_str().filter(|s| is_env_name(s)) {
                Some(name) => Some(name.to_string()),
                None => {
                    self.error(
                        "$.storage.url_env",
                        "INVALID_STORAGE_URL_ENV",
                        "storage.url_env must name an env var (upper-case letters, digits and _, not starting with a digit), never hold the URL itself",
                    );
                    None
                }
            },
        };
        let ledger = match (postgres, url_env) {
            (true, Some(url_env)) => LedgerStorage::Postgres { url_env },
            // A refused postgres setting already has its error; the default stands in.
            (true, None) => LedgerStorage::default(),
            (false, _) => LedgerStorage::Sqlite { path },
        };
        (ledger, durability)
    }
}
