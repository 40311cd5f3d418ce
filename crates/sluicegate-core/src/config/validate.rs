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
use proposal::ProposalParts;

mod column_types;
mod proposal;

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
        let storage_path = self.storage(root.get("storage"));
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

        Some(Config {
            mode: mode?,
            result_format,
            storage_path,
            sources: sources.unwrap_or_default(),
            trusted_context,
            contexts: contexts.unwrap_or_default(),
            executors: executors.unwrap_or_default(),
            capabilities: capabilities.unwrap_or_default(),
        })
    }

    fn storage(&mut self, storage: Option<&Value>) -> Option<String> {
        let storage = storage?;
        let Some(obj) = storage.as_object() else {
            self.error(
                "$.storage",
                "STORAGE_NOT_OBJECT",
                "storage must be an object",
            );
            return None;
        };
        self.unknown_keys(obj, &["sqlite_path"], "$.storage");
        match obj.get("sqlite_path") {
            None => None,
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
        }
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

    fn sources(
        &mut self,
        sources: Option<&Value>,
        cloud: bool,
    ) -> Option<IndexMap<String, Source>> {
        if cloud && sources.is_none() {
            return None;
        }
        let Some(obj) = sources.and_then(Value::as_object).filter(|o| !o.is_empty()) else {
            self.error(
                "$.sources",
                "SOURCES_REQUIRED",
                "sources must be a non-empty object",
            );
            return None;
        };
        let mut out = IndexMap::new();
        for (name, value) in obj {
            let path = format!("$.sources.{name}");
            let mut valid = true;
            if !is_safe_identifier(name) {
                self.error(
                    &path,
                    "UNSAFE_SOURCE_NAME",
                    "source names must be safe identifiers (letters, digits, underscore)",
                );
                valid = false;
            }
            let Some(src) = value.as_object() else {
                self.error(&path, "SOURCE_NOT_OBJECT", "each source must be an object");
                continue;
            };
            self.unknown_keys(src, SOURCE_KEYS, &path);
            let engine = src
                .get("engine")
                .and_then(Value::as_str)
                .and_then(Engine::parse);
            if engine.is_none() {
                self.error(
                    format!("{path}.engine"),
                    "INVALID_SOURCE_ENGINE",
                    "engine must be postgres, mysql or sqlite",
                );
            }
            let read_url_env = src
                .get("read_url_env")
                .and_then(Value::as_str)
                .filter(|s| is_env_name(s));
            if read_url_env.is_none() {
                self.error(
                    format!("{path}.read_url_env"),
                    "READ_URL_ENV_REQUIRED",
                    "read_url_env must name an env var holding the read URL (never the URL itself)",
                );
            }
            let mut write_url_env = None;
            if let Some(w) = src.get("write_url_env") {
                match w.as_str().filter(|s| is_env_name(s)) {
                    Some(s) => write_url_env = Some(s.to_string()),
                    None => self.error(
                        format!("{path}.write_url_env"),
                        "INVALID_WRITE_URL_ENV",
                        "write_url_env must name an env var",
                    ),
                }
            }
            let mut statement_timeout_ms = None;
            if let Some(t) = src.get("statement_timeout_ms") {
                match is_positive_integer(t) {
                    Some(n) => statement_timeout_ms = Some(n),
                    None => self.error(
                        format!("{path}.statement_timeout_ms"),
                        "INVALID_TIMEOUT",
                        "statement_timeout_ms must be a positive integer",
                    ),
                }
            }
            let mut read_only = false;
            if let Some(r) = src.get("read_only") {
                match r.as_bool() {
                    Some(b) => read_only = b,
                    None => self.error(
                        format!("{path}.read_only"),
                        "INVALID_SOURCE_READ_ONLY",
                        "read_only must be a boolean",
                    ),
                }
            }
            if let (true, Some(engine), Some(read_url_env)) = (valid, engine, read_url_env) {
                out.insert(
                    name.clone(),
                    Source {
                        name: name.clone(),
                        engine,
                        read_url_env: read_url_env.to_string(),
                        write_url_env,
                        read_only,
                        statement_timeout_ms,
                    },
                );
            }
        }
        Some(out)
    }

    fn context_spec(&mut self, value: &Value, path: &str) -> Option<ContextSpec> {
        let Some(obj) = value.as_object() else {
            self.error(
                path,
                "TRUSTED_CONTEXT_NOT_OBJECT",
                "a trusted context must be an object",
            );
            return None;
        };
        self.unknown_keys(obj, &["provider", "values"], path);
        let provider = obj
            .get("provider")
            .and_then(Value::as_str)
            .and_then(Provider::parse);
        match provider {
            None => self.error(
                format!("{path}.provider"),
                "INVALID_CONTEXT_PROVIDER",
                "provider must be static_dev, environment, http_claims or cloud_session",
            ),
            Some(Provider::StaticDev) => self.warning(
                format!("{path}.provider"),
                "STATIC_DEV_CONTEXT",
                "static_dev trusted context is for local development only",
            ),
            Some(_) => {}
        }
        Some(ContextSpec {
            provider: provider?,
            values: obj
                .get("values")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    fn contexts(&mut self, contexts: Option<&Value>) -> Option<IndexMap<String, ContextSpec>> {
        let contexts = contexts?;
        let Some(obj) = contexts.as_object().filter(|o| !o.is_empty()) else {
            self.error(
                "$.contexts",
                "CONTEXTS_NOT_OBJECT",
                "contexts must be a non-empty object",
            );
            return None;
        };
        let mut out = IndexMap::new();
        for (name, value) in obj {
            let path = format!("$.contexts.{name}");
            let safe = is_safe_name(name);
            if !safe {
                self.error(
                    &path,
                    "INVALID_CONTEXT_NAME",
                    "context names must be safe names",
                );
            }
            if let Some(spec) = self.context_spec(value, &path)
                && safe
            {
                out.insert(name.clone(), spec);
            }
        }
        Some(out)
    }

    fn trusted_context(&mut self, root: &Map<String, Value>, cloud: bool) -> Option<ContextSpec> {
        match root.get("trusted_context") {
            Some(tc) => self.context_spec(tc, "$.trusted_context"),
            None => {
                let all_named = root.get("contexts").is_some_and(Value::is_object)
                    && root
                        .get("capabilities")
                        .and_then(Value::as_array)
                        .is_some_and(|caps| {
                            !caps.is_empty()
                                && caps
                                    .iter()
                                    .all(|c| non_empty_str(c.get("context")).is_some())
                        });
                if !cloud && !all_named {
                    self.error(
                        "$.trusted_context",
                        "TRUSTED_CONTEXT_REQUIRED",
                        "trusted_context is required unless every capability names a context",
                    );
                }
                None
            }
        }
    }

    fn executors(
        &mut self,
        executors: Option<&Value>,
        mode: Option<Mode>,
    ) -> Option<IndexMap<String, Executor>> {
        let executors = executors?;
        let Some(obj) = executors.as_object().filter(|o| !o.is_empty()) else {
            self.error(
                "$.executors",
                "EXECUTORS_NOT_OBJECT",
                "executors must be a non-empty object",
            );
            return None;
        };
        let mut out = IndexMap::new();
        for (name, value) in obj {
            let path = format!("$.executors.{name}");
            let safe = is_safe_name(name);
            if !safe {
                self.error(
                    &path,
                    "INVALID_EXECUTOR_NAME",
                    "executor names must be safe names",
                );
            }
            let Some(ex) = value.as_object() else {
                self.error(
                    &path,
                    "EXECUTOR_NOT_OBJECT",
                    "each executor must be an object",
                );
                continue;
            };
            self.unknown_keys(ex, EXECUTOR_KEYS, &path);
            let executor = match ex.get("type").and_then(Value::as_str) {
                Some("sql_update") => Some(Executor::SqlUpdate),
                Some("http_handler") => self.http_executor(ex, &path),
                Some("command_handler") => self.command_executor(ex, &path),
                _ => {
                    self.error(
                        format!("{path}.type"),
                        "INVALID_EXECUTOR_TYPE",
                        "type must be sql_update, http_handler or command_handler",
                    );
                    continue;
                }
            };
            let handler = matches!(
                ex.get("type").and_then(Value::as_str),
                Some("http_handler" | "command_handler")
            );
            if handler && mode == Some(Mode::ReadOnly) {
                self.error(
                    &path,
                    "EXECUTOR_INVALID_IN_READ_ONLY",
                    "read_only mode cannot declare app-owned writeback executors",
                );
            }
            if let (true, Some(executor)) = (safe, executor) {
                out.insert(name.clone(), executor);
            }
        }
        Some(out)
    }

    fn handler_timeout(&mut self, ex: &Map<String, Value>, path: &str) -> Result<Option<u64>, ()> {
        match ex.get("timeout_ms") {
            None => Ok(None),
            Some(t) => match is_positive_integer(t) {
                Some(n) => Ok(Some(n)),
                None => {
                    self.error(
                        format!("{path}.timeout_ms"),
                        "INVALID_HANDLER_TIMEOUT",
                        "timeout_ms must be a positive integer",
                    );
                    Err(())
                }
            },
        }
    }

    fn http_executor(&mut self, ex: &Map<String, Value>, path: &str) -> Option<Executor> {
        let url_env = ex
            .get("url_env")
            .and_then(Value::as_str)
            .filter(|s| is_env_name(s));
        if url_env.is_none() {
            self.error(
                format!("{path}.url_env"),
                "HANDLER_URL_ENV_REQUIRED",
                "http_handler requires url_env naming an env var",
            );
        }
        let method = match ex.get("method") {
            None => Some(HttpMethod::Post),
            Some(m) => match m.as_str() {
                Some("POST") => Some(HttpMethod::Post),
                Some("PUT") => Some(HttpMethod::Put),
                Some("PATCH") => Some(HttpMethod::Patch),
                _ => {
                    self.error(
                        format!("{path}.method"),
                        "INVALID_HANDLER_METHOD",
                        "method must be POST, PUT or PATCH",
                    );
                    None
                }
            },
        };
        let mut token_env = None;
        let mut auth_ok = true;
        if let Some(auth) = ex.get("auth") {
            match auth.as_object() {
                None => {
                    self.error(
                        format!("{path}.auth"),
                        "EXECUTOR_AUTH_NOT_OBJECT",
                        "auth must be an object",
                    );
                    auth_ok = false;
                }
                Some(a) => {
                    self.unknown_keys(a, &["type", "token_env"], &format!("{path}.auth"));
                    if a.get("type").and_then(Value::as_str) != Some("bearer_env") {
                        self.error(
                            format!("{path}.auth.type"),
                            "INVALID_EXECUTOR_AUTH",
                            "auth.type must be bearer_env",
                        );
                        auth_ok = false;
                    }
                    match a
                        .get("token_env")
                        .and_then(Value::as_str)
                        .filter(|s| is_env_name(s))
                    {
                        Some(t) => token_env = Some(t.to_string()),
                        None => {
                            self.error(
                                format!("{path}.auth.token_env"),
                                "EXECUTOR_TOKEN_ENV_REQUIRED",
                                "auth.token_env must name an env var",
                            );
                            auth_ok = false;
                        }
                    }
                }
            }
        }
        let mut signing_secret_env = None;
        let mut signing_ok = true;
        if let Some(s) = ex.get("signing_secret_env") {
            match s.as_str().filter(|s| is_env_name(s)) {
                Some(s) => signing_secret_env = Some(s.to_string()),
                None => {
                    self.error(
                        format!("{path}.signing_secret_env"),
                        "HANDLER_SIGNING_SECRET_ENV_INVALID",
                        "signing_secret_env must name an env var",
                    );
                    signing_ok = false;
                }
            }
        }
        let timeout_ms = self.handler_timeout(ex, path);
        if !(auth_ok && signing_ok) {
            return None;
        }
        Some(Executor::HttpHandler {
            url_env: url_env?.to_string(),
            method: method?,
            token_env,
            signing_secret_env,
            timeout_ms: timeout_ms.ok()?,
        })
    }

    fn command_executor(&mut self, ex: &Map<String, Value>, path: &str) -> Option<Executor> {
        let command_env = ex
            .get("command_env")
            .and_then(Value::as_str)
            .filter(|s| is_env_name(s));
        if command_env.is_none() {
            self.error(
                format!("{path}.command_env"),
                "COMMAND_ENV_REQUIRED",
                "command_handler requires command_env naming an env var",
            );
        }
        let timeout_ms = self.handler_timeout(ex, path);
        Some(Executor::CommandHandler {
            command_env: command_env?.to_string(),
            timeout_ms: timeout_ms.ok()?,
        })
    }

    fn capabilities(
        &mut self,
        caps: Option<&Value>,
        raw_sources: Option<&Value>,
        cloud: bool,
        sources: &Option<IndexMap<String, Source>>,
        contexts: &Option<IndexMap<String, ContextSpec>>,
        executors: &Option<IndexMap<String, Executor>>,
    ) -> Option<Vec<(usize, Capability)>> {
        if cloud && caps.is_none() {
            return None;
        }
        let Some(arr) = caps.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.error(
                "$.capabilities",
                "CAPABILITIES_REQUIRED",
                "capabilities must be a non-empty array",
            );
            return None;
        };
        let mut out = Vec::with_capacity(arr.len());
        let mut seen_names: Vec<&str> = Vec::new();
        let source_names: Vec<&str> = raw_sources
            .and_then(Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let ctx = CapContext {
            sources,
            source_names,
            contexts,
            executors,
        };
        for (i, cap) in arr.iter().enumerate() {
            let path = format!("$.capabilities[{i}]");
            let Some(obj) = cap.as_object() else {
                self.error(
                    &path,
                    "CAPABILITY_NOT_OBJECT",
                    "each capability must be an object",
                );
                continue;
            };
            if let Some(name) = obj.get("name").and_then(Value::as_str) {
                if seen_names.contains(&name) {
                    self.error(
                        format!("{path}.name"),
                        "DUPLICATE_CAPABILITY_NAME",
                        format!("capability name {name} is already used by an earlier capability"),
                    );
                }
                seen_names.push(name);
            }
            if let Some(c) = self.capability(obj, &path, &ctx) {
                out.push((i, c));
            }
        }
        Some(out)
    }

    fn capability(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        ctx: &CapContext,
    ) -> Option<Capability> {
        let errors_before = self.errors.len();
        self.unknown_keys(obj, CAPABILITY_KEYS, path);

        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| is_capability_name(n));
        if name.is_none() {
            self.error(
                format!("{path}.name"),
                "INVALID_CAPABILITY_NAME",
                "name must be exactly namespace.name (two safe identifiers)",
            );
        }
        let kind = match obj.get("kind").and_then(Value::as_str) {
            Some("read") => Some(Kind::Read),
            Some("proposal") => Some(Kind::Proposal),
            _ => {
                self.error(
                    format!("{path}.kind"),
                    "INVALID_CAPABILITY_KIND",
                    "kind must be read or proposal",
                );
                None
            }
        };
        let description =
            self.optional_text(obj, "description", path, "INVALID_CAPABILITY_DESCRIPTION");
        let returns_hint = self.optional_text(obj, "returns_hint", path, "INVALID_RETURNS_HINT");

        let source_name = obj.get("source").and_then(Value::as_str);
        let source = source_name.and_then(|s| ctx.sources.as_ref().and_then(|m| m.get(s)));
        let source_exists = source_name.is_some_and(|s| ctx.source_names.contains(&s));
        if !source_exists {
            self.error(
                format!("{path}.source"),
                "UNKNOWN_SOURCE",
                "source must name a configured source",
            );
        }

        let context = obj
            .get("context")
            .and_then(Value::as_str)
            .map(str::to_string);
        if obj.contains_key("context") {
            let known = context
                .as_ref()
                .is_some_and(|c| ctx.contexts.as_ref().is_some_and(|m| m.contains_key(c)));
            if !known {
                self.error(
                    format!("{path}.context"),
                    "UNKNOWN_CONTEXT",
                    "context must name a key of contexts",
                );
            }
        }

        let executor = match obj.get("executor") {
            None => None,
            Some(e) => match non_empty_str(Some(e)) {
                None => {
                    self.error(
                        format!("{path}.executor"),
                        "INVALID_EXECUTOR_REFERENCE",
                        "executor must be a non-empty string",
                    );
                    None
                }
                Some(e) => {
                    let known = e == "sql_update"
                        || ctx.executors.as_ref().is_some_and(|m| m.contains_key(e));
                    if !known {
                        self.error(
                            format!("{path}.executor"),
                            "UNKNOWN_EXECUTOR",
                            "executor must be sql_update or a key of executors",
                        );
                    }
                    Some(e.to_string())
                }
            },
        };

        let engine = source.map(|s| s.engine);
        let target = self.target(obj.get("target"), path, engine);
        let args = self.args(obj.get("args"), path, target.as_ref());
        let lookup_arg = self.lookup(obj.get("lookup"), path, args.as_ref());
        let visible_columns = self.visible_columns(obj.get("visible_columns"), path);
        let max_rows = match obj.get("max_rows") {
            None => None,
            Some(m) => match is_positive_integer(m) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        format!("{path}.max_rows"),
                        "INVALID_MAX_ROWS",
                        "max_rows must be a positive integer",
                    );
                    None
                }
            },
        };

        let mut proposal = ProposalParts::default();
        if kind == Some(Kind::Proposal) {
            proposal = self.proposal_parts(
                obj,
                path,
                args.as_ref(),
                target.as_ref(),
                visible_columns.as_deref(),
            );
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let target = target?;
        let (approval_mode, required_role) = proposal.approval.unwrap_or_default();
        Some(
            Capability {
                name: name?.to_string(),
                kind: kind?,
                description,
                returns_hint,
                source: source_name?.to_string(),
                context,
                executor,
                target,
                args: args?,
                lookup_arg: lookup_arg?,
                visible_columns: visible_columns?,
                max_rows,
                patch: proposal.patch,
                allowed_columns: proposal.allowed_columns,
                numeric_bounds: proposal.numeric_bounds,
                transition_guards: proposal.transition_guards,
                conflict_guard: proposal.conflict_guard,
                column_types: proposal.column_types,
                approval_mode,
                required_role,
                shape: Default::default(),
            }
            .with_read_shape(),
        )
    }

    fn optional_text(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        code: &str,
    ) -> Option<String> {
        let v = obj.get(key)?;
        match non_empty_str(Some(v)) {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    format!("{path}.{key}"),
                    code,
                    format!("{key} must be a non-empty string"),
                );
                None
            }
        }
    }

    fn target(
        &mut self,
        target: Option<&Value>,
        path: &str,
        engine: Option<Engine>,
    ) -> Option<Target> {
        let tpath = format!("{path}.target");
        let Some(obj) = target.and_then(Value::as_object) else {
            self.error(&tpath, "TARGET_REQUIRED", "target must be an object");
            return None;
        };
        self.unknown_keys(
            obj,
            &[
                "schema",
                "table",
                "primary_key",
                "tenant_key",
                "single_tenant_dev",
            ],
            &tpath,
        );
        let ident = |v: &mut Self, key: &str| -> Option<String> {
            match obj
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| is_safe_identifier(s))
            {
                Some(s) => Some(s.to_string()),
                // SQLite has one schema per attached database; `main` is the file itself.
                None if key == "schema"
                    && engine == Some(Engine::Sqlite)
                    && !obj.contains_key(key) =>
                {
                    Some("main".to_string())
                }
                None => {
                    v.error(
                        format!("{tpath}.{key}"),
                        "INVALID_TARGET_IDENTIFIER",
                        format!("target.{key} must be a safe identifier"),
                    );
                    None
                }
            }
        };
        let schema = ident(self, "schema");
        let table = ident(self, "table");
        let primary_key = ident(self, "primary_key");
        let single_tenant_dev = obj.get("single_tenant_dev") == Some(&Value::Bool(true));
        let tenant_key = obj
            .get("tenant_key")
            .and_then(Value::as_str)
            .filter(|s| is_safe_identifier(s))
            .map(str::to_string);
        if tenant_key.is_none() && !single_tenant_dev {
            self.error(
                format!("{tpath}.tenant_key"),
                "TENANT_GUARD_REQUIRED",
                "target.tenant_key is required so every read and write is scoped to the trusted tenant",
            );
        }
        if single_tenant_dev {
            self.warning(
                format!("{tpath}.single_tenant_dev"),
                "SINGLE_TENANT_DEV_EXCEPTION",
                "single_tenant_dev drops the tenant guard; use it only for local development",
            );
        }
        Some(Target {
            schema: schema?,
            table: table?,
            primary_key: primary_key?,
            tenant_key,
            single_tenant_dev,
            raw: target.cloned().unwrap_or(Value::Null),
        })
    }

    fn args(
        &mut self,
        args: Option<&Value>,
        path: &str,
        target: Option<&Target>,
    ) -> Option<IndexMap<String, ArgSpec>> {
        let apath = format!("{path}.args");
        let Some(obj) = args.and_then(Value::as_object).filter(|o| !o.is_empty()) else {
            self.error(&apath, "ARGS_REQUIRED", "args must be a non-empty object");
            return None;
        };
        let tenant_key = target.and_then(|t| t.tenant_key.as_deref());
        let mut out = IndexMap::new();
        let mut ok = true;
        for (name, spec) in obj {
            let path = format!("{apath}.{name}");
            if TRUSTED_BINDING_NAMES.contains(&name.as_str())
                || IDENTIFIER_ARG_NAMES.contains(&name.as_str())
                || Some(name.as_str()) == tenant_key
            {
                self.error(
                    &path,
                    "MODEL_CONTROLLED_RESERVED_ARG",
                    format!(
                        "{name} is trusted context or an identifier and cannot be a model argument"
                    ),
                );
                ok = false;
                continue;
            }
            match self.arg_spec(name, spec, &path) {
                Some(a) => {
                    out.insert(name.clone(), a);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn arg_spec(&mut self, name: &str, spec: &Value, path: &str) -> Option<ArgSpec> {
        let Some(obj) = spec.as_object() else {
            self.error(path, "ARG_NOT_OBJECT", "each arg must be an object");
            return None;
        };
        let before = self.errors.len();
        self.unknown_keys(
            obj,
            &[
                "type",
                "description",
                "required",
                "max_length",
                "minimum",
                "maximum",
                "enum",
            ],
            path,
        );
        let arg_type = match obj.get("type").and_then(Value::as_str) {
            Some("string") => Some(ArgType::String),
            Some("number") => Some(ArgType::Number),
            Some("boolean") => Some(ArgType::Boolean),
            _ => {
                self.error(
                    format!("{path}.type"),
                    "INVALID_ARG_TYPE",
                    "type must be string, number or boolean",
                );
                None
            }
        };
        let description = self.optional_text(obj, "description", path, "INVALID_ARG_DESCRIPTION");
        let max_length = match obj.get("max_length") {
            None => None,
            Some(m) => match is_positive_integer(m) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        format!("{path}.max_length"),
                        "INVALID_MAX_LENGTH",
                        "max_length must be a positive integer",
                    );
                    None
                }
            },
        };
        let has_bounds = obj.contains_key("minimum") || obj.contains_key("maximum");
        let (mut minimum, mut maximum) = (None, None);
        if has_bounds && arg_type.is_some() && arg_type != Some(ArgType::Number) {
            self.error(
                path,
                "NUMERIC_BOUNDS_REQUIRE_NUMBER",
                "minimum and maximum need type number",
            );
        } else if has_bounds {
            (minimum, maximum) = self.bounds_pair(obj, path, path);
        }
        let enum_values = match obj.get("enum") {
            None => None,
            Some(e) => match e
                .as_array()
                .filter(|a| !a.is_empty() && a.iter().all(is_scalar))
            {
                Some(a) => Some(a.clone()),
                None => {
                    self.error(
                        format!("{path}.enum"),
                        "INVALID_ARG_ENUM",
                        "enum must be a non-empty array of scalars",
                    );
                    None
                }
            },
        };
        if self.errors.len() > before {
            return None;
        }
        Some(ArgSpec {
            name: name.to_string(),
            arg_type: arg_type?,
            description,
            required: obj.get("required") != Some(&Value::Bool(false)),
            max_length,
            minimum,
            maximum,
            enum_values,
        })
    }

    /// `minimum`/`maximum` checks shared by args and numeric bounds.
    fn bounds_pair(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        range_path: &str,
    ) -> (Option<f64>, Option<f64>) {
        let get = |v: &mut Self, key: &str, code: &str| -> Option<f64> {
            let raw = obj.get(key)?;
            match raw.as_f64().filter(|f| f.is_finite()) {
                Some(f) => Some(f),
                None => {
                    v.error(
                        format!("{path}.{key}"),
                        code,
                        format!("{key} must be a finite number"),
                    );
                    None
                }
            }
        };
        let minimum = get(self, "minimum", "INVALID_MINIMUM");
        let maximum = get(self, "maximum", "INVALID_MAXIMUM");
        if let (Some(lo), Some(hi)) = (minimum, maximum)
            && lo > hi
        {
            self.error(
                range_path,
                "INVALID_NUMERIC_RANGE",
                "minimum must not exceed maximum",
            );
        }
        (minimum, maximum)
    }

    fn lookup(
        &mut self,
        lookup: Option<&Value>,
        path: &str,
        args: Option<&IndexMap<String, ArgSpec>>,
    ) -> Option<String> {
        let lpath = format!("{path}.lookup");
        let Some(obj) = lookup.and_then(Value::as_object) else {
            self.error(
                &lpath,
                "LOOKUP_REQUIRED",
                "lookup must be an object with id_from_arg",
            );
            return None;
        };
        self.unknown_keys(obj, &["id_from_arg"], &lpath);
        let Some(arg) = non_empty_str(obj.get("id_from_arg")) else {
            self.error(
                format!("{lpath}.id_from_arg"),
                "LOOKUP_ARG_REQUIRED",
                "lookup.id_from_arg must name an arg",
            );
            return None;
        };
        if let Some(args) = args
            && !args.contains_key(arg)
        {
            self.error(
                format!("{lpath}.id_from_arg"),
                "UNKNOWN_LOOKUP_ARG",
                format!("lookup.id_from_arg names {arg}, which is not declared in args"),
            );
        }
        Some(arg.to_string())
    }

    fn visible_columns(&mut self, cols: Option<&Value>, path: &str) -> Option<Vec<String>> {
        let vpath = format!("{path}.visible_columns");
        let Some(arr) = cols.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.error(
                &vpath,
                "VISIBLE_COLUMNS_REQUIRED",
                "visible_columns must be a non-empty array",
            );
            return None;
        };
        self.identifier_list(arr, &vpath, "INVALID_VISIBLE_COLUMN")
    }

    fn identifier_list(&mut self, arr: &[Value], path: &str, code: &str) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(arr.len());
        let mut ok = true;
        for (j, c) in arr.iter().enumerate() {
            match c.as_str().filter(|s| is_safe_identifier(s)) {
                Some(s) => out.push(s.to_string()),
                None => {
                    self.error(
                        format!("{path}[{j}]"),
                        code,
                        "columns must be safe identifiers",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn writeback_readiness(
        &mut self,
        caps: &[(usize, Capability)],
        sources: &Option<IndexMap<String, Source>>,
    ) {
        let Some(sources) = sources else { return };
        for (i, cap) in caps {
            let direct = matches!(cap.executor.as_deref(), None | Some("sql_update"));
            if cap.kind != Kind::Proposal || !direct {
                continue;
            }
            let Some(source) = sources.get(&cap.source) else {
                continue;
            };
            if source.read_only {
                self.error(
                    format!("$.capabilities[{i}].executor"),
                    "READ_ONLY_SOURCE_DIRECT_WRITEBACK",
                    "a read_only source cannot use direct SQL writeback; route it to an app-owned executor",
                );
            } else if source.write_url_env.is_none() {
                self.warning(
                    format!("$.sources.{}.write_url_env", cap.source),
                    "WRITEBACK_DISABLED",
                    "no write_url_env: approved proposals from this source cannot be applied",
                );
            }
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
