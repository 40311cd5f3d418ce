//! `trusted_context` and named `contexts` (config.md §7): where tenant and principal come from.

use super::*;

impl Validator {
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
}
