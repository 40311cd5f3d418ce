//! [`redact_text`]: the one redactor for credentials inside free text (driver messages, error
//! chains, reports, labels of audited URLs). Every crate that shows text which may carry a URL
//! or a token calls it, so what counts as a credential is decided in one place.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{REDACTED, is_secret_key};

/// A URL (any scheme), a bearer token, a runner token, or a `key=value` pair.
static TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?ix)
          (?P<scheme>\b[a-z][a-z0-9+-]*)://(?P<rest>[^\s"'<>`]+)
        | (?P<bearer>\bbearer\s+)[a-z0-9._~+/=-]+
        | \bsyn_wbr_[a-z0-9._~+/=-]+
        | (?P<key>\b[a-z][a-z0-9_-]*)=(?P<value>'[^']*'|"[^"]*"|[^\s&;,'"]+)
        "#,
    )
    .expect("invariant: the redaction pattern is a valid regex")
});

/// Scheme fragments that make a URL a database URL. Those are hidden whole: besides the
/// password, a database URL names the host, port, user and database, none of which belongs in
/// a log line, a report or a model's answer.
const DATABASE_SCHEMES: &[&str] = &["postgres", "mysql", "mariadb", "sqlite"];

/// Keys whose values are credentials in a query string or a `key=value` connection string,
/// besides the ones [`is_secret_key`] knows (`password`, `token`, `api_key`, …).
const SECRET_PARAMS: &[&str] = &[
    "pwd",
    "pass",
    "sslpassword",
    "sig",
    "signature",
    "key",
    "auth",
    "authorization",
];

fn is_secret_param(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    // `*_env` keys hold the *name* of an env var, which is safe to show.
    !lower.ends_with("_env") && (is_secret_key(&lower) || SECRET_PARAMS.contains(&lower.as_str()))
}

/// `text` with every credential it carries replaced by `<redacted>`:
///
/// * a database URL (`postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite://`) as
///   a whole;
/// * in any other URL, the userinfo (`https://<redacted>@host:port/path`) and the values of
///   credential parameters in its path, query or fragment (`?token=<redacted>`); scheme,
///   host, port and path stay, so the URL is still recognisable;
/// * `Bearer <token>` and runner tokens (`syn_wbr_…`);
/// * the value of a credential `key=value` pair (`password=…` in a key/value connection
///   string); a `*_env` key names an env var and is kept.
///
/// Text without any of these comes back unchanged. A host name mentioned on its own (a driver
/// saying `connection refused at db.internal:5432`) is not recognisable as a secret here: the
/// source crate's scrubber also removes the parts of the URL it connected with.
pub fn redact_text(text: &str) -> String {
    TEXT.replace_all(text, |c: &Captures<'_>| replacement(c))
        .into_owned()
}

fn replacement(c: &Captures<'_>) -> String {
    if let (Some(scheme), Some(rest)) = (c.name("scheme"), c.name("rest")) {
        return url(scheme.as_str(), rest.as_str());
    }
    if let Some(bearer) = c.name("bearer") {
        return format!("{}{REDACTED}", bearer.as_str());
    }
    if let (Some(key), Some(value)) = (c.name("key"), c.name("value")) {
        let key = key.as_str();
        return if is_secret_param(key) {
            format!("{key}={REDACTED}")
        } else {
            // The value may itself hold a URL (`next=postgres://…`): the match consumed it, so
            // it is redacted here or not at all.
            format!("{key}={}", redact_text(value.as_str()))
        };
    }
    REDACTED.to_string()
}

/// One URL, made safe to show.
fn url(scheme: &str, rest: &str) -> String {
    let lower = scheme.to_ascii_lowercase();
    if DATABASE_SCHEMES.iter().any(|db| lower.contains(db)) {
        return REDACTED.to_string();
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    // The tail is shorter than the URL, so this recursion ends.
    format!("{scheme}://{host}{}", redact_text(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_table() {
        let cases = [
            // Database URLs go whole, whatever their case, parameters or quoting.
            ("failed postgres://u:p@h:5/x now", "failed <redacted> now"),
            (
                "connect POSTGRESQL://app:pw@db.internal:5432/app?sslmode=require failed",
                "connect <redacted> failed",
            ),
            (
                "'mysql://root@x/y' and mariadb://a",
                "'<redacted>' and <redacted>",
            ),
            ("sqlite:///var/app.db is locked", "<redacted> is locked"),
            ("mysql:// alone", "mysql:// alone"),
            // Userinfo of other URLs; host:port and path stay.
            (
                "https://user:hunter2@example.invalid/mcp",
                "https://<redacted>@example.invalid/mcp",
            ),
            (
                "POST https://svc@mcp.example:8443/mcp failed",
                "POST https://<redacted>@mcp.example:8443/mcp failed",
            ),
            ("http://127.0.0.1:41234/mcp", "http://127.0.0.1:41234/mcp"),
            // Credential parameters in a query or fragment; other parameters stay.
            (
                "https://h/cb?token=abc&page=2#access_token=t&x=1",
                "https://h/cb?token=<redacted>&page=2#access_token=<redacted>&x=1",
            ),
            // A credential's value runs to the next `&`, `;`, `,`, quote or space: a `#` may
            // be part of a password, so the fragment after it goes too.
            (
                "https://h/cb?api_key=k#top",
                "https://h/cb?api_key=<redacted>",
            ),
            (
                "https://h/x?password=s3&sig=zz&key_env=HOOK_KEY",
                "https://h/x?password=<redacted>&sig=<redacted>&key_env=HOOK_KEY",
            ),
            (
                "https://h/next?to=postgres://u:p@db/x",
                "https://h/next?to=<redacted>",
            ),
            // Tokens.
            (
                "Authorization: Bearer abc.def-123 rejected",
                "Authorization: Bearer <redacted> rejected",
            ),
            ("runner syn_wbr_9f8e7d revoked", "runner <redacted> revoked"),
            // Key/value connection strings and env assignments.
            (
                "host=db.internal port=5432 user=app password='p w' dbname=x",
                "host=db.internal port=5432 user=app password=<redacted> dbname=x",
            ),
            (
                "DATABASE_URL=postgres://u:p@h/x token_env=HOOK_TOKEN",
                "DATABASE_URL=<redacted> token_env=HOOK_TOKEN",
            ),
            ("url=postgres://u:p@h/x", "url=<redacted>"),
            // Nothing to hide.
            ("plain ünïcode text", "plain ünïcode text"),
            ("rows=1 status=applied", "rows=1 status=applied"),
            (
                "connection refused at db.internal:5432",
                "connection refused at db.internal:5432",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_text(input), expected, "{input}");
        }
    }

    /// Whatever surrounds it, no password of a URL survives.
    #[test]
    fn no_password_survives() {
        for scheme in [
            "postgres",
            "postgresql",
            "mysql",
            "https",
            "http",
            "ftp",
            "redis",
        ] {
            for (before, after) in [("", ""), ("(", ")"), ("\"", "\""), ("x ", "."), ("<", ">")] {
                let text = format!("{before}{scheme}://user:pa55-canary@host:1/p?q=1{after}");
                let out = redact_text(&text);
                assert!(!out.contains("pa55-canary"), "{text} → {out}");
            }
        }
    }
}
