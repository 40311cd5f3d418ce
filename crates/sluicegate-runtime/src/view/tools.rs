//! Views of the model-facing tool list: `tools preview`, `smoke boundary` (and `mcp smoke`),
//! and the boundary checks onboarding prints. Names come from validated config; the check
//! details quote config text, so they are shown through `display::text` like everything else.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};
use sluicegate_core::config::Config;
use sluicegate_core::tools::boundary::{BoundaryCheck, NOT_EXPOSED, all_pass};
use sluicegate_core::tools::{AliasMode, exposed_tools};

use super::text;
use crate::onboarding::{first_read_tool, smoke_args};

fn ok_or_failed(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}

/// `PASS name` / `FAIL name` and the detail below, per check.
pub fn boundary_checks(checks: &[BoundaryCheck]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = if c.ok { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "{mark} {}\n  {}", c.name, text(&c.detail));
    }
    out
}

/// `smoke boundary` / `mcp smoke`: the tools a model would see and the checks, briefly.
pub fn boundary_smoke(
    config_path: &Path,
    store: &Path,
    tools: &[String],
    checks: &[BoundaryCheck],
) -> String {
    let mut out = format!(
        "Sluicegate MCP smoke: {}\nConfig: {}\nStore: {}\n\nTools the model would see:\n",
        ok_or_failed(all_pass(checks)),
        config_path.display(),
        store.display()
    );
    for t in tools {
        let _ = writeln!(out, "  - {}", text(t));
    }
    out.push('\n');
    out.push_str(&boundary_checks(checks));
    out
}

/// `tools preview`: what is exposed to MCP under `mode`, what never is, and the checks. The
/// next step calls one read tool by name, with `--sample` when `ids` (recorded at onboarding)
/// hold its lookup id.
pub fn tools_preview(
    config: &Config,
    mode: AliasMode,
    config_path: &Path,
    store: &Path,
    checks: &[BoundaryCheck],
    ids: &Map<String, Value>,
) -> String {
    let mut out = format!(
        "Sluicegate tools preview: {}\nConfig: {}\nStore: {}\nAlias mode: {}\n\nExposed to MCP:\n",
        ok_or_failed(all_pass(checks)),
        config_path.display(),
        store.display(),
        mode.as_str()
    );
    for t in exposed_tools(config, mode) {
        let kind = config
            .capability(&t.canonical)
            .map_or("read", |c| c.kind.as_str());
        let (exposed, canonical) = (text(&t.exposed), text(&t.canonical));
        if t.is_alias {
            let _ = writeln!(out, "  - {exposed} -> {canonical} ({kind})");
        } else {
            let _ = writeln!(out, "  - {exposed} ({kind})");
        }
    }
    out.push_str("\nNot exposed to MCP:\n");
    for n in NOT_EXPOSED {
        let _ = writeln!(out, "  - {n}");
    }
    out.push_str("\nSafety checks:\n");
    out.push_str(&boundary_checks(checks));
    let first = first_read_tool(config, &[])
        .or_else(|| config.exposed_capabilities().next().map(|c| c.name.clone()));
    if let Some(tool) = first {
        let _ = write!(
            out,
            "\nNext:\n  sluicegate smoke call {} {} --config {}",
            text(&tool),
            smoke_args(config, &tool, ids),
            config_path.display()
        );
    }
    out
}

fn checks_json(checks: &[BoundaryCheck]) -> Vec<Value> {
    checks
        .iter()
        .map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail}))
        .collect()
}

/// `smoke boundary --json`.
pub fn boundary_smoke_json(
    path: &Path,
    store: &Path,
    tools: &[String],
    checks: &[BoundaryCheck],
) -> Value {
    json!({
        "ok": all_pass(checks),
        "config_path": path,
        "store_path": store,
        "tools": tools,
        "checks": checks_json(checks),
    })
}

/// `tools preview --json`: what is exposed under `mode`, the aliases, what never is, and the
/// boundary checks.
pub fn tools_preview_json(
    config: &Config,
    mode: AliasMode,
    path: &Path,
    store: &Path,
    checks: &[BoundaryCheck],
) -> Value {
    let tools = exposed_tools(config, mode);
    json!({
        "ok": all_pass(checks),
        "config_path": path,
        "store_path": store,
        "alias_mode": mode.as_str(),
        "exposed_to_mcp": tools.iter().map(|t| &t.exposed).collect::<Vec<_>>(),
        "alias_mappings": tools.iter().map(|t| json!({
            "canonicalName": t.canonical, "exposedName": t.exposed, "isAlias": t.is_alias, "style": mode.as_str(),
        })).collect::<Vec<_>>(),
        "not_exposed_to_mcp": NOT_EXPOSED,
        "checks": checks_json(checks),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluicegate_core::config::load_str;

    use super::*;

    #[test]
    fn the_preview_lists_aliases_and_checks() {
        let doc = json!({
            "version": 1, "mode": "review",
            "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT"}},
            "capabilities": [{"name": "billing.inspect_invoice", "kind": "read", "source": "app",
                "target": {"table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id"]}]
        });
        let config = load_str(&doc.to_string()).1.unwrap();
        let mut checks =
            sluicegate_core::tools::boundary::boundary_checks(&config, AliasMode::Both);
        let (c, s) = (Path::new("c.json"), Path::new("l.db"));
        let text = tools_preview(&config, AliasMode::Both, c, s, &checks, &Map::new());
        assert!(text.starts_with("Sluicegate tools preview: ok\nConfig: c.json\nStore: l.db\nAlias mode: both\n\nExposed to MCP:\n  - billing.inspect_invoice (read)\n  - billing__inspect_invoice -> billing.inspect_invoice (read)\n\nNot exposed to MCP:\n"), "{text}");
        assert!(
            text.ends_with("\nNext:\n  sluicegate smoke call billing.inspect_invoice --args '{\"invoice_id\":\"<a real id>\"}' --config c.json"),
            "{text}"
        );
        let ids = crate::demo::sample_ids();
        let with_id = tools_preview(&config, AliasMode::Both, c, s, &checks, &ids);
        assert!(with_id.ends_with(
            "\nNext:\n  sluicegate smoke call billing.inspect_invoice --sample --config c.json"
        ));
        checks[0].ok = false;
        checks[0].detail = "tool `x\u{1b}[2K` offers SQL".into();
        let smoke = boundary_smoke(c, s, &["t".into()], &checks);
        assert!(smoke.starts_with("Sluicegate MCP smoke: failed\nConfig: c.json\nStore: l.db\n\nTools the model would see:\n  - t\n\nFAIL "), "{smoke}");
        assert!(
            smoke.contains("\n  tool `x\\x1b[2K` offers SQL\n"),
            "{smoke}"
        );
    }
}
