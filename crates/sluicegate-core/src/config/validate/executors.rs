//! `executors` (config.md §10): app-owned HTTP and command handlers.

use super::*;

impl Validator {
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
