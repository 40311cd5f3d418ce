//! The tool-boundary checks of `tools preview`, `smoke boundary`, `up` and `onboard db`
//! (cli.md §5): the tools a model would be offered include no raw SQL, approval or commit tool,
//! and their definitions carry no connection string or credential.
//!
//! The checks read names and the serialized tool definitions only, so they catch a capability
//! named like a forbidden tool as well as a description that leaks a URL.

use serde_json::Value;

use super::{AliasMode, exposed_tools, tool_definition};
use crate::config::Config;

/// What the model-facing surface never offers, in the words `tools preview` lists them.
pub const NOT_EXPOSED: [&str; 7] = [
    "execute_sql / raw query tools",
    "approval tools",
    "commit/apply tools",
    "database URLs",
    "write credentials",
    "model-controlled tenant authority",
    "arbitrary table or column names",
];

/// One boundary check: its stable name, whether it passed, and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryCheck {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Tool-name words that mark a raw SQL tool.
const SQL_WORDS: [&str; 3] = ["execute_sql", "run_query", "query_database"];
/// Connection-string schemes that must not appear in a tool definition.
const URL_SCHEMES: [&str; 4] = ["postgres://", "postgresql://", "mysql://", "sqlite://"];
/// Credential words that must not appear in a tool definition.
const CREDENTIAL_WORDS: [&str; 7] = [
    "password",
    "secret",
    "bearer",
    "private_key",
    "private-key",
    "privatekey",
    "token",
];

/// The boundary checks of the tools `config` exposes under `mode`, in their fixed order.
pub fn boundary_checks(config: &Config, mode: AliasMode) -> Vec<BoundaryCheck> {
    let tools = exposed_tools(config, mode);
    let names: Vec<String> = tools.iter().map(|t| t.exposed.clone()).collect();
    // `outputSchema` is left out: it holds fixed envelope fields and the visible column names
    // (safe identifiers), and a column such as `tokens_used` is not a leaked credential.
    let listed: Vec<Value> = tools
        .iter()
        .filter_map(|t| {
            config.capability(&t.canonical).map(|c| {
                let mut def = tool_definition(c, &t.exposed, mode, config.result_format());
                if let Some(m) = def.as_object_mut() {
                    m.remove("outputSchema");
                }
                def
            })
        })
        .collect();
    let serialized = serde_json::to_string(&listed)
        .unwrap_or_default()
        .to_lowercase();
    let named = |words: &[&str]| {
        names
            .iter()
            .any(|n| words.iter().any(|w| n.to_lowercase().contains(w)))
    };
    let check = |name, ok, detail: &str| BoundaryCheck {
        name,
        ok,
        detail: detail.to_string(),
    };
    vec![
        check(
            "semantic tools present",
            !names.is_empty(),
            &if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        ),
        check(
            "execute_sql absent",
            !named(&SQL_WORDS),
            "model does not receive raw SQL tools",
        ),
        check(
            "approval tools absent",
            !named(&["approve"]),
            "approval stays outside MCP",
        ),
        check(
            "commit tools absent",
            !named(&["commit", "apply_writeback"]),
            "commit stays outside MCP",
        ),
        check(
            "database_url absent",
            !URL_SCHEMES.iter().any(|s| serialized.contains(s)),
            "MCP config uses env var names, not connection strings",
        ),
        check(
            "write credentials absent",
            !CREDENTIAL_WORDS.iter().any(|s| serialized.contains(s)),
            "MCP tools do not include write credentials",
        ),
    ]
}

/// Whether every check passed.
pub fn all_pass(checks: &[BoundaryCheck]) -> bool {
    checks.iter().all(|c| c.ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(caps: Value) -> Config {
        let doc = json!({
            "version": 1, "mode": "review",
            "sources": {"app": {"engine": "postgres", "read_url_env": "APP_URL", "write_url_env": "APP_WRITE"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "T", "principal_env": "P"}},
            "capabilities": caps,
        });
        let (report, config) = crate::config::validate(&doc);
        config.unwrap_or_else(|| panic!("{report:?}"))
    }

    fn read(name: &str, description: &str) -> Value {
        json!({
            "name": name, "kind": "read", "source": "app", "description": description,
            "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "status"]
        })
    }

    fn failed(checks: &[BoundaryCheck]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
    }

    #[test]
    fn a_semantic_read_passes_every_check() {
        let checks = boundary_checks(
            &config(json!([read("billing.inspect_invoice", "One invoice.")])),
            AliasMode::Canonical,
        );
        assert_eq!(
            checks.iter().map(|c| c.name).collect::<Vec<_>>(),
            [
                "semantic tools present",
                "execute_sql absent",
                "approval tools absent",
                "commit tools absent",
                "database_url absent",
                "write credentials absent",
            ]
        );
        assert!(all_pass(&checks));
        assert_eq!(checks[0].detail, "billing.inspect_invoice");
    }

    #[test]
    fn alias_mode_names_the_exposed_tools() {
        let checks = boundary_checks(
            &config(json!([read("billing.inspect_invoice", "One invoice.")])),
            AliasMode::Both,
        );
        assert_eq!(
            checks[0].detail,
            "billing.inspect_invoice, billing__inspect_invoice"
        );
    }

    #[test]
    fn forbidden_names_fail_their_checks() {
        let checks = boundary_checks(
            &config(json!([
                read("db.execute_sql", "x"),
                read("ops.approve_refund", "x"),
                read("ops.commit_change", "x"),
            ])),
            AliasMode::Canonical,
        );
        assert_eq!(
            failed(&checks),
            [
                "execute_sql absent",
                "approval tools absent",
                "commit tools absent"
            ]
        );
        assert!(!all_pass(&checks));
    }

    #[test]
    fn urls_and_credentials_in_definitions_fail() {
        let checks = boundary_checks(
            &config(json!([read(
                "billing.inspect_invoice",
                "Reads postgres://app@db/x with the Bearer TOKEN."
            )])),
            AliasMode::Canonical,
        );
        assert_eq!(
            failed(&checks),
            ["database_url absent", "write credentials absent"]
        );
    }
}
