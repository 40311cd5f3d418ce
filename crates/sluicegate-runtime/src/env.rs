//! Environment access. Config files only *name* env vars; this is the one place their values
//! (tenant ids, database URLs, tokens) are read.

use std::collections::HashMap;
use std::sync::Arc;

pub use sluicegate_core::secrets::Secret;
use sluicegate_source::EnvLookup;

/// Resolves env var names to values. Cheap to clone.
#[derive(Clone)]
pub struct Env(EnvLookup);

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env(Arc::new(|name| std::env::var(name).ok()))
    }

    /// A fixed map (tests, and layered defaults).
    pub fn from_map(map: HashMap<String, String>) -> Env {
        Env(Arc::new(move |name| map.get(name).cloned()))
    }

    /// Values from `overrides` first, then from `self`.
    pub fn with_overrides(&self, overrides: HashMap<String, String>) -> Env {
        let base = self.clone();
        Env(Arc::new(move |name| {
            overrides.get(name).cloned().or_else(|| base.get(name))
        }))
    }

    /// Values from `self` first, then from `defaults` (an env file under the process
    /// environment).
    pub fn over(&self, defaults: HashMap<String, String>) -> Env {
        let base = self.clone();
        Env(Arc::new(move |name| {
            base.get(name)
                .or_else(|| defaults.get(name).filter(|v| !v.is_empty()).cloned())
        }))
    }

    /// A non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }

    pub fn as_fn(&self) -> EnvLookup {
        self.0.clone()
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print values: they may be URLs or tokens.
        f.write_str("Env(<redacted>)")
    }
}

impl Env {
    /// A non-empty value of `name` that must never be shown: a database or handler URL,
    /// bearer token, signing secret or command line.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format_their_value() {
        let env = Env::from_map(HashMap::from([("T".to_string(), "canary-123".to_string())]));
        let s = env.secret("T").unwrap();
        assert_eq!(s.expose(), "canary-123");
        assert!(!format!("{s:?} {s} {env:?}").contains("canary"));
        assert!(env.secret("MISSING").is_none());
    }
}
