//! The crate's error type and the scrubbing of driver messages before they leave the crate.
//!
//! Driver messages can name the user (`password authentication failed for user "x"`,
//! `SELECT command denied to user 'x'@'host'`), the host or the file path. Connection-level
//! failures therefore get fixed, category-first messages written here, and SQL errors pass
//! through [`Redactor::scrub`], which removes URLs and every secret-bearing part of the URL
//! that was used.

use sluicegate_core::secrets::{REDACTED, redact_text};

/// Why a source operation could not be carried out. Expected outcomes (no row, a conflict)
/// are values, never errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The env var that should hold the database URL is unset or empty.
    #[error("{env} is not set; export the database URL in it")]
    CredentialMissing { env: String },
    /// An identifier failed the safe-identifier rule at the last moment before quoting.
    #[error("unsafe identifier: {0}")]
    UnsafeIdentifier(String),
    /// Cannot connect, authenticate, or finish in time. The message starts with one of the
    /// [`SourceError::category`] labels and never contains the URL, host, user or password.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// The database rejected the statement (unknown column, type error, read-only session).
    /// The message is the driver's, scrubbed of URLs and credentials. A guarded update that
    /// is refused before anything connects (no tenant guard, an empty patch, a column outside
    /// the allowlist) is reported here too, with a message starting
    /// `writeback refused before connecting`.
    #[error("source query failed: {0}")]
    Query(String),
}

/// Category labels (writeback.md §A.11 doctor vocabulary) that start `Unavailable` messages.
pub(crate) const AUTH_FAILED: &str = "authentication failed";
pub(crate) const TIMEOUT: &str = "timeout";
pub(crate) const CONNECTION_FAILED: &str = "connection failed";
/// Prefix of `Query` messages for guarded updates refused before connecting.
pub(crate) const WRITEBACK_REFUSED: &str = "writeback refused before connecting";

impl SourceError {
    /// A short, safe category for doctor output: `credential missing`, `unsafe identifier`,
    /// `invalid writeback`, `authentication failed`, `timeout`, `connection failed`,
    /// `permission denied`, `configured object not found` or `database probe failed`.
    pub fn category(&self) -> &'static str {
        match self {
            SourceError::CredentialMissing { .. } => "credential missing",
            SourceError::UnsafeIdentifier(_) => "unsafe identifier",
            SourceError::Unavailable(m) => {
                if m.starts_with(AUTH_FAILED) {
                    AUTH_FAILED
                } else if m.starts_with(TIMEOUT) {
                    TIMEOUT
                } else {
                    CONNECTION_FAILED
                }
            }
            SourceError::Query(m) if m.starts_with(WRITEBACK_REFUSED) => "invalid writeback",
            SourceError::Query(m) => {
                let m = m.to_ascii_lowercase();
                if m.contains("permission denied")
                    || m.contains("42501")
                    || m.contains("command denied")
                    || m.contains("access denied")
                {
                    "permission denied"
                } else if m.contains("42p01")
                    || m.contains("does not exist")
                    || m.contains("doesn't exist")
                    || m.contains("no such table")
                    || m.contains("unknown column")
                    || m.contains("no such column")
                {
                    "configured object not found"
                } else {
                    "database probe failed"
                }
            }
        }
    }

    /// Why a schema inspection failed, in the few words `inspect` and onboarding print: `not
    /// found`, `credential missing`, `permission denied`, `authentication failed`, `timeout`,
    /// or `connection failed` for everything else.
    pub fn inspection_category(&self) -> &'static str {
        match self.category() {
            "configured object not found" => "not found",
            c @ ("credential missing"
            | "permission denied"
            | "authentication failed"
            | "timeout") => c,
            _ => "connection failed",
        }
    }

    /// Whether the error says the session refused to write because it is read-only.
    pub fn is_read_only_violation(&self) -> bool {
        match self {
            SourceError::Query(m) => {
                m.contains("SQLSTATE 25006")
                    || m.contains("error 1792")
                    || m.contains("readonly database")
                    || m.contains("read-only")
                    || m.contains("READ ONLY")
            }
            _ => false,
        }
    }
}

/// Removes the secret-bearing parts of one database URL from driver messages.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Remember `parts` (user, password, host, `host:port`, file path) for scrubbing. Very
    /// short parts are skipped: replacing every `a` in a message would garble it, and such
    /// parts are never printed by the drivers on their own anyway.
    pub(crate) fn new<I, S>(parts: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = parts
            .into_iter()
            .map(Into::into)
            .filter(|s| s.chars().count() >= 3)
            .collect();
        // Longest first, so `host:port` is replaced before `host`.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` without URLs, bearer tokens or any remembered secret part.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = redact_text(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

/// `e` and its sources, joined with `: ` (drivers often say only "error performing TLS
/// handshake" and leave the reason to the source).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// A guarded update refused before connecting (reported as a `Query` error, see there).
pub(crate) fn refused(detail: &str) -> SourceError {
    SourceError::Query(format!("{WRITEBACK_REFUSED}: {detail}"))
}

/// A plan naming a source that is not configured (for its engine): nothing to connect to.
pub(crate) fn unknown_source(name: &str) -> SourceError {
    unavailable(
        CONNECTION_FAILED,
        &format!("source {name} is not configured for this engine"),
    )
}

/// An `Unavailable` error whose message starts with `category`.
pub(crate) fn unavailable(category: &str, detail: &str) -> SourceError {
    SourceError::Unavailable(format!("{category}: {detail}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn inspection_categories_are_few() {
        let q = |m: &str| SourceError::Query(m.into()).inspection_category();
        assert_eq!(q("relation \"x\" does not exist"), "not found");
        assert_eq!(q("permission denied for table x"), "permission denied");
        assert_eq!(q("syntax error"), "connection failed");
        assert_eq!(
            SourceError::CredentialMissing { env: "X".into() }.inspection_category(),
            "credential missing"
        );
        assert_eq!(
            SourceError::Unavailable("timeout after 3 s".into()).inspection_category(),
            "timeout"
        );
        assert_eq!(
            SourceError::UnsafeIdentifier("a b".into()).inspection_category(),
            "connection failed"
        );
    }

    use super::*;

    #[test]
    fn scrub_removes_urls_and_parts() {
        let r = Redactor::new(["admin", "s3cret!", "db.internal", "db.internal:5432", "ab"]);
        let text = "password authentication failed for user \"admin\" at db.internal:5432 via postgres://admin:s3cret!@db.internal/x (ab)";
        let out = r.scrub(text);
        for bad in ["admin", "s3cret", "db.internal", "5432", "postgres://"] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
        assert!(out.contains("(ab)"), "short parts are kept: {out}");
    }

    #[test]
    fn categories() {
        assert_eq!(
            unavailable(AUTH_FAILED, "check the password").category(),
            "authentication failed"
        );
        assert_eq!(unavailable(TIMEOUT, "x").category(), "timeout");
        assert_eq!(
            unavailable(CONNECTION_FAILED, "x").category(),
            "connection failed"
        );
        assert_eq!(
            SourceError::Query("permission denied for table invoices (SQLSTATE 42501)".into())
                .category(),
            "permission denied"
        );
        assert_eq!(
            SourceError::Query("relation \"x\" does not exist (SQLSTATE 42P01)".into()).category(),
            "configured object not found"
        );
        assert!(
            SourceError::Query(
                "cannot execute INSERT in a read-only transaction (SQLSTATE 25006)".into()
            )
            .is_read_only_violation()
        );
    }
}
