//! The crate's error type and the scrubbing of driver messages before they leave the crate.
//!
//! Each engine's `classify` decides the [`SourceErrorKind`] from the engine's code (SQLSTATE,
//! MySQL server error number, SQLite extended result code), keeps that code, and only then
//! writes a message. Driver messages can name the user (`password authentication failed for
//! user "x"`, `SELECT command denied to user 'x'@'host'`), the host or the file path, so
//! connection-level failures get fixed messages written here, and statement failures pass
//! through [`Redactor::scrub`], which removes URLs and every secret-bearing part of the URL
//! that was used.

use sluicegate_core::secrets::{REDACTED, redact_text};

/// What went wrong, decided from the engine's own error code (SQLSTATE, MySQL server error
/// number, SQLite result code) or from where the failure happened, never from message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The env var that should hold the database URL is unset or empty.
    CredentialMissing { env: String },
    /// An identifier failed the safe-identifier rule at the last moment before quoting.
    UnsafeIdentifier,
    /// A guarded update refused before anything connected: no tenant guard, an empty patch,
    /// a column outside the allowlist.
    WritebackRefused,
    /// The server rejected the user or password.
    AuthenticationFailed,
    /// No connection, or no answer, in time; or the statement outlived its deadline.
    Timeout,
    /// Cannot reach the server, open the file, or keep the session.
    ConnectionFailed,
    /// The account may not do this (a missing grant).
    PermissionDenied,
    /// A configured table, column or schema does not exist.
    ObjectNotFound,
    /// A write on a connection the engine keeps read-only.
    ReadOnlyViolation,
    /// A bound value the column cannot take: malformed text for its type, too long, out of
    /// range, an impossible date (SQLSTATE class 22 and the engines' equivalents).
    InvalidValue,
    /// A unique, foreign-key, not-null or check constraint refused the row.
    ConstraintViolation,
    /// Any other failure of a statement.
    QueryFailed,
}

impl SourceErrorKind {
    /// Whether the source could not be used at all (authentication, timeout, connection):
    /// the call may work later without any change to the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            SourceErrorKind::AuthenticationFailed
            | SourceErrorKind::Timeout
            | SourceErrorKind::ConnectionFailed => true,
            SourceErrorKind::CredentialMissing { .. }
            | SourceErrorKind::UnsafeIdentifier
            | SourceErrorKind::WritebackRefused
            | SourceErrorKind::PermissionDenied
            | SourceErrorKind::ObjectNotFound
            | SourceErrorKind::ReadOnlyViolation
            | SourceErrorKind::InvalidValue
            | SourceErrorKind::ConstraintViolation
            | SourceErrorKind::QueryFailed => false,
        }
    }
}

/// The engine's own code for an error, kept beside the kind for logs and support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineCode {
    /// A PostgreSQL SQLSTATE: five ASCII letters or digits.
    SqlState([u8; 5]),
    /// A MySQL / MariaDB server error number.
    MySql(u16),
    /// A SQLite extended result code.
    Sqlite(i32),
}

impl EngineCode {
    /// The SQLSTATE `code`, when it has the SQLSTATE shape.
    pub fn sqlstate(code: &str) -> Option<EngineCode> {
        let bytes: [u8; 5] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(EngineCode::SqlState(bytes))
    }

    /// The SQLSTATE as text, for a PostgreSQL code.
    pub fn as_sqlstate(&self) -> Option<&str> {
        match self {
            EngineCode::SqlState(bytes) => std::str::from_utf8(bytes).ok(),
            EngineCode::MySql(_) | EngineCode::Sqlite(_) => None,
        }
    }
}

impl std::fmt::Display for EngineCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineCode::SqlState(_) => {
                write!(f, "SQLSTATE {}", self.as_sqlstate().unwrap_or("?????"))
            }
            EngineCode::MySql(n) => write!(f, "error {n}"),
            EngineCode::Sqlite(n) => write!(f, "SQLite code {n}"),
        }
    }
}

/// Why a source operation could not be carried out. Expected outcomes (no row, a conflict)
/// are values, never errors.
///
/// The message is safe to show: fixed text for connection-level failures, and for statement
/// failures the driver's message scrubbed of URLs and credentials. It never decides the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    kind: SourceErrorKind,
    code: Option<EngineCode>,
    message: String,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            SourceErrorKind::CredentialMissing { env } => {
                write!(f, "{env} is not set; export the database URL in it")?
            }
            SourceErrorKind::UnsafeIdentifier => write!(f, "unsafe identifier: {}", self.message)?,
            SourceErrorKind::WritebackRefused => {
                write!(f, "writeback refused before connecting: {}", self.message)?
            }
            kind if kind.is_unavailable() => write!(
                f,
                "source unavailable: {}: {}",
                self.category(),
                self.message
            )?,
            _ => write!(f, "source query failed: {}", self.message)?,
        }
        match self.code {
            Some(code) => write!(f, " ({code})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    /// An error of `kind` with the engine's `code`, if it gave one. `message` must already be
    /// safe to show (fixed text or scrubbed driver text): this crate's `classify` functions
    /// build them; other crates only to stand in for one in tests.
    pub fn new(
        kind: SourceErrorKind,
        code: Option<EngineCode>,
        message: impl Into<String>,
    ) -> SourceError {
        SourceError {
            kind,
            code,
            message: message.into(),
        }
    }

    /// The env var `env` holding the database URL is unset or empty.
    pub fn credential_missing(env: impl Into<String>) -> SourceError {
        SourceError::new(
            SourceErrorKind::CredentialMissing { env: env.into() },
            None,
            "",
        )
    }

    /// `identifier` failed the safe-identifier rule.
    pub fn unsafe_identifier(identifier: impl Into<String>) -> SourceError {
        SourceError::new(SourceErrorKind::UnsafeIdentifier, None, identifier)
    }

    pub fn kind(&self) -> &SourceErrorKind {
        &self.kind
    }

    /// The engine's code (SQLSTATE, MySQL error number, SQLite extended code), when the
    /// failure came from the engine.
    pub fn engine_code(&self) -> Option<EngineCode> {
        self.code
    }

    /// The safe message alone: the scrubbed driver text, fixed text, or the identifier.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A short, safe category for doctor output: `credential missing`, `unsafe identifier`,
    /// `invalid writeback`, `authentication failed`, `timeout`, `connection failed`,
    /// `permission denied`, `configured object not found` or `database probe failed`.
    pub fn category(&self) -> &'static str {
        match self.kind {
            SourceErrorKind::CredentialMissing { .. } => "credential missing",
            SourceErrorKind::UnsafeIdentifier => "unsafe identifier",
            SourceErrorKind::WritebackRefused => "invalid writeback",
            SourceErrorKind::AuthenticationFailed => "authentication failed",
            SourceErrorKind::Timeout => "timeout",
            SourceErrorKind::ConnectionFailed => "connection failed",
            SourceErrorKind::PermissionDenied => "permission denied",
            SourceErrorKind::ObjectNotFound => "configured object not found",
            SourceErrorKind::ReadOnlyViolation
            | SourceErrorKind::InvalidValue
            | SourceErrorKind::ConstraintViolation
            | SourceErrorKind::QueryFailed => "database probe failed",
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

    /// Whether the session refused to write because it is read-only.
    pub fn is_read_only_violation(&self) -> bool {
        self.kind == SourceErrorKind::ReadOnlyViolation
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

/// Whether `e` or one of its sources is an I/O timeout (the drivers report connect and read
/// timeouts as `std::io::ErrorKind::TimedOut` underneath their own error types).
pub(crate) fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        next = err.source();
    }
    false
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

/// A guarded update refused before connecting.
pub(crate) fn refused(detail: &str) -> SourceError {
    SourceError::new(SourceErrorKind::WritebackRefused, None, detail)
}

/// A plan naming a source that is not configured (for its engine): nothing to connect to.
pub(crate) fn unknown_source(name: &str) -> SourceError {
    unavailable(
        SourceErrorKind::ConnectionFailed,
        &format!("source {name} is not configured for this engine"),
    )
}

/// A failure found before or around the engine (no engine code): `kind` with fixed text.
pub(crate) fn unavailable(kind: SourceErrorKind, detail: &str) -> SourceError {
    SourceError::new(kind, None, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspection_categories_are_few() {
        let of = |kind: SourceErrorKind| SourceError::new(kind, None, "m").inspection_category();
        assert_eq!(of(SourceErrorKind::ObjectNotFound), "not found");
        assert_eq!(of(SourceErrorKind::PermissionDenied), "permission denied");
        assert_eq!(of(SourceErrorKind::QueryFailed), "connection failed");
        assert_eq!(
            of(SourceErrorKind::CredentialMissing { env: "X".into() }),
            "credential missing"
        );
        assert_eq!(of(SourceErrorKind::Timeout), "timeout");
        assert_eq!(of(SourceErrorKind::UnsafeIdentifier), "connection failed");
    }

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
    fn categories_follow_the_kind_alone() {
        use SourceErrorKind::*;
        let cases = [
            (
                CredentialMissing { env: "X".into() },
                "credential missing",
                false,
            ),
            (UnsafeIdentifier, "unsafe identifier", false),
            (WritebackRefused, "invalid writeback", false),
            (AuthenticationFailed, "authentication failed", true),
            (Timeout, "timeout", true),
            (ConnectionFailed, "connection failed", true),
            (PermissionDenied, "permission denied", false),
            (ObjectNotFound, "configured object not found", false),
            (ReadOnlyViolation, "database probe failed", false),
            (InvalidValue, "database probe failed", false),
            (ConstraintViolation, "database probe failed", false),
            (QueryFailed, "database probe failed", false),
        ];
        for (kind, category, unavailable) in cases {
            // A message that names another category changes nothing: text never decides.
            let e = SourceError::new(
                kind.clone(),
                None,
                "permission denied; relation does not exist; read-only (SQLSTATE 25006)",
            );
            assert_eq!(e.category(), category, "{kind:?}");
            assert_eq!(kind.is_unavailable(), unavailable, "{kind:?}");
            assert_eq!(e.is_read_only_violation(), kind == ReadOnlyViolation);
        }
    }

    #[test]
    fn display_keeps_the_engine_code_apart_from_the_message() {
        let e = SourceError::new(
            SourceErrorKind::ObjectNotFound,
            EngineCode::sqlstate("42P01"),
            "relation \"x\" does not exist",
        );
        assert_eq!(e.message(), "relation \"x\" does not exist");
        assert_eq!(
            e.to_string(),
            "source query failed: relation \"x\" does not exist (SQLSTATE 42P01)"
        );
        assert_eq!(
            e.engine_code()
                .and_then(|c| c.as_sqlstate().map(str::to_string)),
            Some("42P01".into())
        );
        assert_eq!(EngineCode::sqlstate("4200"), None);
        assert_eq!(EngineCode::sqlstate("42 01"), None);
        let e = SourceError::new(
            SourceErrorKind::Timeout,
            Some(EngineCode::MySql(3024)),
            "the statement ran too long",
        );
        assert_eq!(
            e.to_string(),
            "source unavailable: timeout: the statement ran too long (error 3024)"
        );
        assert_eq!(
            SourceError::credential_missing("APP_URL").to_string(),
            "APP_URL is not set; export the database URL in it"
        );
    }
}
