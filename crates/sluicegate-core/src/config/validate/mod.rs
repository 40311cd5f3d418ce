//! The config validator: every problem at once, each with a JSON path and a stable code.
//!
//! The order of checks (and therefore of the `errors` array) follows config.md §14. Codes and
//! paths are contractual; messages are for humans. Beyond the reference validator this one also
//! rejects the run-time-only failures listed in spec README §3.1 (duplicate capability names,
//! references to undeclared args, patch columns outside `allowed_columns`, and key columns inside
//! `allowed_columns`), and accepts `engine: "sqlite"`.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

use super::model::*;
use crate::call::TRUSTED_BINDING_NAMES;
use crate::ident::{is_capability_name, is_env_name, is_safe_identifier, is_safe_name};

// One section of config.md per file; each adds methods to `Validator`.
mod args;
mod capability;
mod column_types;
mod contexts;
mod executors;
mod proposal;
mod reviewers;
mod sources;
mod storage;

use proposal::ProposalParts;

/// One problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: String,
    pub code: String,
    pub message: String,
}

/// The validation result printed by `config validate --json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Validation {
    pub ok: bool,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl Validation {
    pub fn single_error(path: &str, code: &str, message: String) -> Validation {
        Validation {
            ok: false,
            errors: vec![Issue {
                path: path.to_string(),
                code: code.to_string(),
                message,
            }],
            warnings: Vec::new(),
        }
    }

    /// `<path> <code>: <message>` lines, as the runtime prints them.
    pub fn error_lines(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|i| format!("{} {}: {}", i.path, i.code, i.message))
            .collect()
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "version",
    "mode",
    "result_format",
    "strict",
    "storage",
    "sources",
    "trusted_context",
    "contexts",
    "executors",
    "capabilities",
    "cloud",
    "reviewers",
];
const SOURCE_KEYS: &[&str] = &[
    "engine",
    "read_url_env",
    "write_url_env",
    "read_only",
    "statement_timeout_ms",
    "ssl",
];
const EXECUTOR_KEYS: &[&str] = &[
    "type",
    "url_env",
    "method",
    "auth",
    "signing_secret_env",
    "timeout_ms",
    "command_env",
];
const CAPABILITY_KEYS: &[&str] = &[
    "name",
    "kind",
    "description",
    "returns_hint",
    "source",
    "context",
    "executor",
    "target",
    "args",
    "lookup",
    "visible_columns",
    "evidence",
    "max_rows",
    "patch",
    "allowed_columns",
    "numeric_bounds",
    "transition_guards",
    "conflict_guard",
    "column_types",
    "approval",
    "single_tenant_dev_ack",
];
const CLOUD_KEYS: &[&str] = &[
    "base_url_env",
    "runner_token_env",
    "adapter_id",
    "source_id",
    "runner_id",
    "runner_version",
    "project_id",
    "engines",
    "capabilities",
    "session",
];

/// Argument names that would let the model choose an identifier (config.md §8.2). Together
/// with [`TRUSTED_BINDING_NAMES`] they may never be declared as args.
pub const IDENTIFIER_ARG_NAMES: &[&str] = &[
    "table",
    "table_name",
    "tableName",
    "schema",
    "schema_name",
    "schemaName",
    "column",
    "columns",
    "column_name",
    "columnName",
    "database",
    "database_name",
    "databaseName",
];

const INLINE_URL_KEYS: &[&str] = &[
    "url",
    "database_url",
    "databaseUrl",
    "read_url",
    "readUrl",
    "write_url",
    "writeUrl",
    "connection_string",
    "connectionString",
];
const SQL_KEYS: &[&str] = &[
    "sql",
    "raw_sql",
    "rawSql",
    "statement",
    "query_sql",
    "querySql",
];

/// Validate a parsed config document. Returns the typed config only when there are no errors.
pub fn validate(doc: &Value) -> (Validation, Option<Config>) {
    let Some(root) = doc.as_object() else {
        return (
            Validation::single_error(
                "$",
                "CONFIG_NOT_OBJECT",
                "config must be a JSON object".into(),
            ),
            None,
        );
    };
    let mut v = Validator {
        strict: root.get("strict") != Some(&Value::Bool(false)),
        ..Default::default()
    };
    let config = v.root(root);
    v.forbidden_keys(doc, "$");
    let ok = v.errors.is_empty();
    let validation = Validation {
        ok,
        errors: v.errors,
        warnings: v.warnings,
    };
    (validation, if ok { config } else { None })
}

#[derive(Default)]
struct Validator {
    strict: bool,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

fn is_positive_integer(v: &Value) -> Option<u64> {
    let f = v.as_f64()?;
    if f > 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 {
        Some(f as u64)
    } else {
        None
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

impl Validator {
    fn error(&mut self, path: impl Into<String>, code: &str, message: impl Into<String>) {
        self.errors.push(Issue {
            path: path.into(),
            code: code.into(),
            message: message.into(),
        });
    }

    fn warning(&mut self, path: impl Into<String>, code: &str, message: impl Into<String>) {
        self.warnings.push(Issue {
            path: path.into(),
            code: code.into(),
            message: message.into(),
        });
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, allowed: &[&str], path: &str) {
        if !self.strict {
            return;
        }
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.error(
                    format!("{path}.{key}"),
                    "UNKNOWN_FIELD",
                    format!("unknown field {key}"),
                );
            }
        }
    }

    fn root(&mut self, root: &Map<String, Value>) -> Option<Config> {
        self.unknown_keys(root, TOP_LEVEL_KEYS, "$");

        if root.get("version").and_then(Value::as_f64) != Some(1.0) {
            self.error(
                "$.version",
                "UNSUPPORTED_CONFIG_VERSION",
                "version must be the number 1",
            );
        }
        let result_format = match root.get("result_format") {
            None => None,
            Some(v) => match v.as_f64() {
                Some(f) if f == 1.0 || f == 2.0 => Some(f as u8),
                _ => {
                    self.error(
                        "$.result_format",
                        "INVALID_RESULT_FORMAT",
                        "result_format must be 1 or 2",
                    );
                    None
                }
            },
        };
        let mode = root
            .get("mode")
            .and_then(Value::as_str)
            .and_then(Mode::parse);
        if mode.is_none() {
            self.error(
                "$.mode",
                "INVALID_MODE",
                "mode must be read_only, shadow, review or cloud",
            );
        }
        let (ledger, durability) = self.storage(root.get("storage"));
        self.cloud(root.get("cloud"), mode);

        let cloud = mode == Some(Mode::Cloud);
        let sources = self.sources(root.get("sources"), cloud);
        let contexts = self.contexts(root.get("contexts"));
        let trusted_context = self.trusted_context(root, cloud);
        let executors = self.executors(root.get("executors"), mode);
        let capabilities = self.capabilities(
            root.get("capabilities"),
            root.get("sources"),
            cloud,
            &sources,
            &contexts,
            &executors,
        );
        if let (Some(Mode::Review), Some(caps)) = (mode, capabilities.as_ref()) {
            self.writeback_readiness(caps, &sources);
        }
        let capabilities = capabilities.map(|caps| caps.into_iter().map(|(_, c)| c).collect());
        let reviewers = self.reviewers(root.get("reviewers"));

        Some(Config {
            mode: mode?,
            result_format,
            ledger,
            durability,
            sources: sources.unwrap_or_default(),
            trusted_context,
            contexts: contexts.unwrap_or_default(),
            executors: executors.unwrap_or_default(),
            capabilities: capabilities.unwrap_or_default(),
            reviewers,
        })
    }

    fn cloud(&mut self, cloud: Option<&Value>, mode: Option<Mode>) {
        if mode != Some(Mode::Cloud) {
            if cloud.is_some() {
                self.error(
                    "$.cloud",
                    "CLOUD_CONFIG_ONLY_FOR_CLOUD_MODE",
                    "cloud settings are only allowed in cloud mode",
                );
            }
            return;
        }
        let Some(obj) = cloud.and_then(Value::as_object) else {
            self.error(
                "$.cloud",
                "CLOUD_CONFIG_REQUIRED",
                "cloud mode requires a cloud object",
            );
            return;
        };
        self.unknown_keys(obj, CLOUD_KEYS, "$.cloud");
        for (key, code) in [
            ("base_url_env", "CLOUD_BASE_URL_ENV_REQUIRED"),
            ("runner_token_env", "CLOUD_RUNNER_TOKEN_ENV_REQUIRED"),
        ] {
            if !obj
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(is_env_name)
            {
                self.error(
                    format!("$.cloud.{key}"),
                    code,
                    format!("cloud.{key} must name an env var"),
                );
            }
        }
        if non_empty_str(obj.get("adapter_id")).is_none() {
            self.error(
                "$.cloud.adapter_id",
                "CLOUD_ADAPTER_ID_REQUIRED",
                "cloud.adapter_id is required",
            );
        }
        for (key, code) in [
            ("source_id", "INVALID_CLOUD_SOURCE_ID"),
            ("runner_id", "INVALID_CLOUD_RUNNER_ID"),
            ("runner_version", "INVALID_CLOUD_RUNNER_VERSION"),
            ("project_id", "INVALID_CLOUD_PROJECT_ID"),
        ] {
            if obj.contains_key(key) && non_empty_str(obj.get(key)).is_none() {
                self.error(
                    format!("$.cloud.{key}"),
                    code,
                    format!("cloud.{key} must be a non-empty string"),
                );
            }
        }
        if let Some(engines) = obj.get("engines") {
            let ok = engines.as_array().is_some_and(|a| {
                !a.is_empty()
                    && a.iter()
                        .all(|e| matches!(e.as_str(), Some("postgres") | Some("mysql")))
            });
            if !ok {
                self.error(
                    "$.cloud.engines",
                    "INVALID_CLOUD_ENGINES",
                    "cloud.engines must list postgres or mysql",
                );
            }
        }
        if let Some(caps) = obj.get("capabilities") {
            let ok = caps.as_array().is_some_and(|a| {
                !a.is_empty() && a.iter().all(|c| non_empty_str(Some(c)).is_some())
            });
            if !ok {
                self.error(
                    "$.cloud.capabilities",
                    "INVALID_CLOUD_CAPABILITIES",
                    "cloud.capabilities must be a non-empty array of names",
                );
            }
        }
        if obj.get("session").is_some_and(|s| !s.is_object()) {
            self.error(
                "$.cloud.session",
                "INVALID_CLOUD_SESSION",
                "cloud.session must be an object",
            );
        }
    }
    /// Raw SQL and inline URLs are refused by key name anywhere in the document (§12).
    fn forbidden_keys(&mut self, value: &Value, path: &str) {
        match value {
            Value::Object(obj) => {
                for (key, child) in obj {
                    let child_path = format!("{path}.{key}");
                    if INLINE_URL_KEYS.contains(&key.as_str()) {
                        self.error(
                            &child_path,
                            "INLINE_DATABASE_URL_FORBIDDEN",
                            "configs name env vars; a database URL must never be written inline",
                        );
                    } else if SQL_KEYS.contains(&key.as_str()) {
                        self.error(
                            &child_path,
                            "ARBITRARY_SQL_FORBIDDEN",
                            "configs never carry SQL text",
                        );
                    }
                    self.forbidden_keys(child, &child_path);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.forbidden_keys(item, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }
}

struct CapContext<'a> {
    sources: &'a Option<IndexMap<String, Source>>,
    /// Every key of `sources`, valid or not: a capability naming an invalid source is reported
    /// once, at the source.
    source_names: Vec<&'a str>,
    contexts: &'a Option<IndexMap<String, ContextSpec>>,
    executors: &'a Option<IndexMap<String, Executor>>,
}
