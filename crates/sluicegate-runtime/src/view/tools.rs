//! Views of the model-facing tool list: `tools preview`, `smoke boundary` (and `mcp smoke`),
//! and the boundary checks onboarding prints. Names come from validated config; the check
//! details quote config text, so they are shown through `display::text` like everything else.

use std::fmt::Write as _;
use std::path::Path;

use sluicegate_core::config::Config;
use sluicegate_core::tools::boundary::{BoundaryCheck, NOT_EXPOSED, all_pass};
use sluicegate_core::tools::{AliasMode, exposed_tools};

use super::text;

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

/// `tools preview`: what is exposed to MCP under `mode`, what never is, and the checks.
pub fn tools_preview(
    config: &Config,
    mode: AliasMode,
    config_path: &Path,
    store: &Path,
    checks: &[BoundaryCheck],
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
    let _ = write!(
        out,
        "\nNext:\n  sluicegate smoke call --sample --config {}",
        config_path.display()
    );
    out
}
