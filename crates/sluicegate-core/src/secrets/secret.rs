//! [`Secret`], the one type for a credential held in memory: database URLs, bearer tokens,
//! signing secrets, handler URLs and command lines, header values.

use std::fmt;

/// A credential. `Debug` and `Display` print `<redacted>`, so `{:?}` of a struct holding one,
/// an error message or a log line cannot show it by accident; [`Secret::expose`] is the one
/// deliberate way to use the value. It has no `Serialize` on purpose: a secret never becomes
/// part of a document.
///
/// `==` compares the values in ordinary (not constant) time: where one side comes from an
/// untrusted caller, compare digests with `subtle` instead (the HTTP guard does).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty or only whitespace (an env var set to nothing).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(super::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Holder {
        url: Secret,
        token: Option<Secret>,
    }

    #[test]
    fn formatting_never_shows_the_value() {
        let holder = Holder {
            url: Secret::new("postgres://app:canary-5150@db/x"),
            token: Some("canary-token".into()),
        };
        let shown = format!("{holder:?} {holder:#?} {} {}", holder.url, holder.url);
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("Secret(<redacted>)"), "{shown}");
        assert_eq!(holder.url.to_string(), "<redacted>");
        assert_eq!(holder.url.expose(), "postgres://app:canary-5150@db/x");
    }

    #[test]
    fn blank_values() {
        assert!(Secret::new("").is_blank());
        assert!(Secret::new(" \n").is_blank());
        assert!(!Secret::new("x").is_blank());
    }
}
