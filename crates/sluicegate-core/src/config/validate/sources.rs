//! Sources, trusted contexts and executors: where reads and writes go, and who the trusted
//! tenant and principal are.

use super::*;

impl Validator {
    pub(super) fn sources(
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

    pub(super) fn context_spec(&mut self, value: &Value, path: &str) -> Option<ContextSpec> {
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

    pub(super) fn contexts(
        &mut self,
        contexts: Option<&Value>,
    ) -> Option<IndexMap<String, ContextSpec>> {
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

    pub(super) fn trusted_context(
        &mut self,
        root: &Map<String, Value>,
        cloud: bool,
    ) -> Option<ContextSpec> {
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

    pub(super) fn executors(
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

    pub(super) fn handler_timeout(
        &mut self,
        ex: &Map<String, Value>,
        path: &str,
    ) -> Result<Option<u64>, ()> {
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

    pub(super) fn http_executor(
        &mut self,
        ex: &Map<String, Value>,
        path: &str,
    ) -> Option<Executor> {
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

    pub(super) fn command_executor(
        &mut self,
        ex: &Map<String, Value>,
        path: &str,
    ) -> Option<Executor> {
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
}
