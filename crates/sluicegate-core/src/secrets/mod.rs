//! Secret material: refused before anything is persisted, and redacted on display.
//!
//! The ledger calls [`scan`] on every record it is asked to keep, so a secret-like column or a
//! URL pasted into a free-text argument never lands on disk. Credentials a process holds are
//! [`Secret`]s, and text that may carry one (driver messages, reports, labels) goes through
//! [`redact_text`], the one URL and token redactor every crate uses.

mod secret;
mod text;

pub use secret::Secret;
pub use text::redact_text;

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::refusal::{Code, Refusal};

static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(^|[_-])(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|cookie|credential|connection[_-]?string|database[_-]?url|read[_-]?url|write[_-]?url)($|[_-])",
    )
    .expect("invariant: the secret key pattern is a valid regex")
});

static SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(postgres://|postgresql://|mysql://|bearer\s+[A-Za-z0-9._~+/=-]|syn_wbr_[A-Za-z0-9._~+/=-]|-----BEGIN [A-Za-z ]*PRIVATE KEY-----)",
    )
    .expect("invariant: the secret value pattern is a valid regex")
});

/// Whether an object key names secret material (`password_hash`, `api_key`, `session-cookie`).
pub fn is_secret_key(key: &str) -> bool {
    SECRET_KEY.is_match(key)
}

/// [`is_secret_key`] for the scan every recorded call runs: records reuse the same few dozen
/// keys (item structure, column names), so keys already found harmless are remembered per
/// thread instead of running the pattern again. The memory is bounded.
fn is_secret_key_cached(key: &str) -> bool {
    const REMEMBERED: usize = 1024;
    thread_local! {
        static HARMLESS: std::cell::RefCell<std::collections::HashSet<Box<str>>> =
            std::cell::RefCell::new(std::collections::HashSet::new());
    }
    HARMLESS.with(|harmless| {
        if harmless.borrow().contains(key) {
            return false;
        }
        let secret = is_secret_key(key);
        let mut harmless = harmless.borrow_mut();
        if !secret && harmless.len() < REMEMBERED {
            harmless.insert(key.into());
        }
        secret
    })
}

/// Whether a string carries secret material (a database URL, a bearer token, a private key).
pub fn is_secret_value(s: &str) -> bool {
    SECRET_VALUE.is_match(s)
}

/// Refuse `value` if any key or string inside it looks like a secret. `root` names the record
/// in the message (`evidence_bundle`, `change_set`, …).
pub fn scan(value: &Value, root: &str) -> Result<(), Refusal> {
    walk(value, &mut root.to_string())
}

/// [`scan`] over the elements of a list kept under `root`, naming them `root[i]`: the same
/// paths as scanning the list as one value, without first building that value.
pub fn scan_list(items: &[Value], root: &str) -> Result<(), Refusal> {
    let mut path = root.to_string();
    walk_list(items, &mut path)
}

fn walk_list(items: &[Value], path: &mut String) -> Result<(), Refusal> {
    for (i, child) in items.iter().enumerate() {
        let len = path.len();
        let _ = write!(path, "[{i}]");
        walk(child, path)?;
        path.truncate(len);
    }
    Ok(())
}

fn walk(value: &Value, path: &mut String) -> Result<(), Refusal> {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                if is_secret_key_cached(key) {
                    return Err(Refusal::new(
                        Code::SecretMaterialRejected,
                        format!(
                            "refusing to persist secret-like field {path}; remove it from reviewed visible/evidence/query-audit data"
                        ),
                    ));
                }
                walk(child, path)?;
                path.truncate(len);
            }
        }
        Value::Array(items) => walk_list(items, path)?,
        Value::String(s) if is_secret_value(s) => {
            return Err(Refusal::new(
                Code::SecretMaterialRejected,
                format!(
                    "refusing to persist secret-like value at {path}; remove it from reviewed visible/evidence/query-audit data"
                ),
            ));
        }
        _ => {}
    }
    Ok(())
}

pub const REDACTED: &str = "<redacted>";

/// A copy of `value` with secret-like strings replaced by `<redacted>`. Keys ending in `_env`
/// hold env var *names*, which are safe to show.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let hide = v.is_string() && is_secret_key(k) && !k.ends_with("_env");
                    (
                        k.clone(),
                        if hide {
                            Value::String(REDACTED.into())
                        } else {
                            redact(v)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) if is_secret_value(s) => Value::String(REDACTED.into()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Remembering harmless keys never lets a secret key through, however often the scan runs.
    #[test]
    fn the_remembered_keys_only_hold_harmless_ones() {
        for _ in 0..3 {
            assert!(scan(&json!({"status": "open", "items": [{"note": "x"}]}), "r").is_ok());
            let refused = scan(&json!({"status": "open", "api_key": "x"}), "r").unwrap_err();
            assert_eq!(refused.code, Code::SecretMaterialRejected);
            assert!(refused.message.contains("r.api_key"), "{}", refused.message);
        }
    }

    #[test]
    fn keys() {
        for bad in [
            "password_hash",
            "api_key",
            "apiKey",
            "access_token",
            "session-cookie",
            "database_url",
            "write_url",
            "db-credential",
        ] {
            assert!(is_secret_key(bad), "{bad}");
        }
        for ok in [
            "tokens",
            "passwords",
            "idempotency_key",
            "proposal_hash",
            "late_fee_cents",
        ] {
            assert!(!is_secret_key(ok), "{ok}");
        }
    }

    #[test]
    fn scan_names_the_path() {
        let err = scan(&json!({"before": {"database_url": null}}), "change_set").unwrap_err();
        assert_eq!(err.code, Code::SecretMaterialRejected);
        assert!(
            err.message.contains("change_set.before.database_url"),
            "{}",
            err.message
        );
        let err = scan(
            &json!({"patch": {"reason": "see postgres://u:p@h/db"}}),
            "change_set",
        )
        .unwrap_err();
        assert!(err.message.contains("change_set.patch.reason"));
        assert!(!err.message.contains("u:p@h"));
        assert!(scan(&json!({"a": ["Bearer abc"]}), "x").is_err());
        assert!(scan(&json!({"a": "-----BEGIN RSA PRIVATE KEY-----"}), "x").is_err());
        assert!(scan(&json!({"reason": "customer asked nicely"}), "x").is_ok());
    }

    #[test]
    fn redaction_keeps_env_names() {
        let v = redact(&json!({"read_url_env": "DB_URL", "password": "x", "note": "mysql://a"}));
        assert_eq!(
            v,
            json!({"read_url_env": "DB_URL", "password": REDACTED, "note": REDACTED})
        );
    }
}
