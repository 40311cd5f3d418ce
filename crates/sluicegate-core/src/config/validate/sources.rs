//! `sources` (config.md §6): engines, URL env names, read-only flags and timeouts.

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
}
