//! Lexical rules for identifiers, names and env var names (config.md §2).
//!
//! Hand-written matchers instead of regexes: they run on every rendered statement, and each rule
//! is a single ASCII scan.

/// `^[A-Za-z_][A-Za-z0-9_]*$`: the only identifiers that may ever be quoted into SQL.
pub fn is_safe_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `^[A-Za-z_][A-Za-z0-9_.-]*$`: names of contexts and executors.
pub fn is_safe_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `^[A-Z_][A-Z0-9_]*$`: env var names referenced by a config.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Exactly `namespace.name`, both parts safe identifiers.
pub fn is_capability_name(s: &str) -> bool {
    match s.split_once('.') {
        Some((ns, name)) => is_safe_identifier(ns) && is_safe_identifier(name),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["id", "_x", "late_fee_cents", "A1"] {
            assert!(is_safe_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "public.invoices",
            "bad-col",
            "1col",
            "../private",
            "id/../../tenant_id",
            "status; DROP TABLE tickets",
            "café",
        ] {
            assert!(!is_safe_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn names_and_env() {
        assert!(is_safe_name("ops.local-1"));
        assert!(!is_safe_name("-x"));
        assert!(is_env_name("SYNAPSOR_TENANT_ID"));
        assert!(!is_env_name("database_url"));
        assert!(is_capability_name("billing.inspect_invoice"));
        assert!(!is_capability_name("a.b.c"));
        assert!(!is_capability_name("nodot"));
    }
}
