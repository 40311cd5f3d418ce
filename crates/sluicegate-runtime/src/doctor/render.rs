//! The doctor's report as text (what `doctor` prints) and as the redacted Markdown of
//! `doctor --report`.

use std::fmt::Write as _;

use super::{Level, Report};

/// The report as the doctor prints it: a status header, then one marked line per check.
pub fn text(r: &Report) -> String {
    let mut out = format!(
        "Sluicegate doctor: {}\nConfig: {}\nMode: {}\n",
        if r.ok { "ok" } else { "failed" },
        r.config_path,
        r.mode.unwrap_or("unknown")
    );
    for c in &r.checks {
        let mark = match c.level {
            Level::Pass => "✓",
            Level::Warn => "!",
            Level::Fail => "x",
        };
        out.push_str(&format!("{mark} {}\n", c.message));
    }
    out.trim_end().to_string()
}

/// The Markdown diagnostic report of `sluicegate <version>`. Built only from check messages,
/// which never hold env values, URLs, hosts or credentials; redacted once more on the way out.
pub fn markdown(r: &Report, version: &str) -> String {
    let mut out = String::from("# Sluicegate Doctor Report\n\n");
    let _ = write!(
        out,
        "- sluicegate {version}\n- config: {}\n- mode: {}\n- status: {}\n\n",
        r.config_path,
        r.mode.unwrap_or("unknown"),
        if r.ok { "ok" } else { "needs attention" }
    );
    out.push_str("## Semantic Tools\n\n");
    if r.tools.is_empty() {
        out.push_str("- none\n");
    }
    for t in &r.tools {
        let _ = writeln!(out, "- {t}");
    }
    let boundary = r
        .checks
        .iter()
        .find(|c| c.name == "mcp-tool-boundary")
        .is_some_and(|c| c.ok);
    let _ = write!(
        out,
        "\n## Safety Boundary\n\n- raw SQL / approval / commit tools: {}\n- database URLs, passwords, tokens and keys are never included in this report\n",
        if boundary {
            "none detected"
        } else {
            "needs review"
        }
    );
    let _ = write!(out, "\n## Local Store\n\n- path: {}\n", r.store_path);
    out.push_str("\n## Checks\n\n");
    for c in &r.checks {
        let level = match c.level {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        let _ = writeln!(out, "- {level} {}: {}", c.name, c.message);
    }
    out.push_str(
        "\n## Redaction Note\n\nEnv vars are named, never shown. Connection failures are reported as categories (connection failed, authentication failed, permission denied, not found, timeout).\n",
    );
    sluicegate_core::secrets::redact_text(&out)
}
