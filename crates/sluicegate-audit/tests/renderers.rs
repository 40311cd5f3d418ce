//! The three report formats of spec §A.6: fixed strings, layout, and the JSON document shape.

use serde_json::{Value, json};
use sluicegate_audit::{
    Format, Report, ServerOutcome, ServerStatus, audit, example, report::DISCLAIMER,
};

const AT: &str = "2026-06-20T14:31:09.000Z";

fn dangerous_report() -> Report {
    let manifest = example("dangerous-db-mcp").expect("built-in example");
    Report::single("example:dangerous-db-mcp", AT, audit(&manifest))
}

fn clean_report() -> Report {
    let tool = json!({"name": "a.read", "description": "Inspect a proposal record.",
        "outputSchema": {}, "annotations": {"readOnlyHint": true}, "examples": []});
    Report::single("clean.json", AT, audit(&json!({ "tools": [tool] })))
}

#[test]
fn text_report_header_and_first_finding() {
    let text = dangerous_report().render(Format::Text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..11],
        &[
            "Synapsor MCP database risk review",
            "Target: example:dangerous-db-mcp",
            DISCLAIMER,
            "",
            "Tools inspected: 6",
            "Findings: HIGH 15 | MEDIUM 12 | LOW 12",
            "Overall risk: high",
            "",
            "HIGH   GENERIC_SQL_TOOL  execute_sql",
            "       The model is offered a generic SQL or query tool.",
            "       Evidence: path $.tools[0]; Name or description reads like execute_sql / run_query / raw SQL.",
        ]
    );
    assert!(lines.contains(&"       Evidence: path $.tools[0]; Input fields: sql."));
    assert!(lines.contains(&"MEDIUM NO_STRUCTURED_OUTPUT_SCHEMA  execute_sql"));
    assert!(lines.contains(&"LOW    MISSING_RISK_ANNOTATIONS  execute_sql"));
    assert!(!text.contains(AT), "the text report has no timestamp");
    assert!(text.ends_with(
        "\n\nSuggested safer shape:\n- expose semantic inspect/propose tools instead of raw SQL;\n- bind tenant/principal from trusted context;\n- keep approval outside MCP;\n- apply approved changes through guarded writeback;\n- keep replay/evidence handles for later review.\n"
    ));
    // 39 findings, four lines each, no blank lines between them.
    let finding_lines = lines[8..].iter().take_while(|l| !l.is_empty()).count();
    assert_eq!(finding_lines, 39 * 4);
}

#[test]
fn text_report_without_findings() {
    let text = clean_report().render(Format::Text);
    assert!(text.ends_with(
        "Overall risk: none\n\nNo obvious database-commit risks were detected in the static manifest.\nThis does not prove the MCP server or its tools are secure.\n"
    ), "{text}");
    assert!(!text.contains("Suggested safer shape"));
}

#[test]
fn markdown_report_layout() {
    let md = dangerous_report().render(Format::Markdown);
    assert!(md.starts_with(&format!(
        "# Synapsor MCP Database Risk Review\n\n- Target: example:dangerous-db-mcp\n- Generated at: {AT}\n- Tools inspected: 6\n- Findings: HIGH 15 | MEDIUM 12 | LOW 12\n- Total findings: 39\n\n> {DISCLAIMER}\n\n## Findings\n\n### HIGH: GENERIC_SQL_TOOL (execute_sql)\n\nThe model is offered a generic SQL or query tool.\n\nEvidence:\n- path $.tools[0]\n- "
    )), "{md}");
    assert!(md.contains(
        "\n## Safer Shape\n\n- expose semantic inspect/propose tools instead of raw SQL;\n"
    ));
    assert!(md.ends_with("- keep replay/evidence handles for later review.\n\n"));
    assert_eq!(md.matches("\n### ").count(), 39);
}

#[test]
fn markdown_report_without_findings() {
    let md = clean_report().render(Format::Markdown);
    assert!(md.contains(&format!(
        "> {DISCLAIMER}\n\nNo obvious database-commit risks were detected in the static manifest.\n\nThis does not prove the MCP server or its tools are secure.\n\n## Safer Shape\n\n"
    )), "{md}");
    assert!(!md.contains("## Findings"));
}

#[test]
fn markdown_heading_without_tool() {
    let md = Report::single("x", AT, audit(&json!({}))).render(Format::Markdown);
    assert!(md.contains("### MEDIUM: NO_TOOLS_FOUND\n"), "{md}");
}

#[test]
fn json_report_shape() {
    let text = dangerous_report().render(Format::Json);
    assert!(text.ends_with("}\n"));
    assert!(text.starts_with("{\n  \"schema_version\": \"synapsor.mcp-audit.v1\",\n"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "schema_version",
            "target",
            "disclaimer",
            "generated_at",
            "summary",
            "overall_risk",
            "findings"
        ]
    );
    assert_eq!(doc["target"], json!("example:dangerous-db-mcp"));
    assert_eq!(doc["generated_at"], json!(AT));
    assert_eq!(
        doc["summary"],
        json!({"tools_inspected": 6, "high": 15, "medium": 12, "low": 12, "total_findings": 39})
    );
    assert_eq!(doc["overall_risk"], json!("high"));
    let first = &doc["findings"][0];
    let finding_keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        finding_keys,
        [
            "severity",
            "code",
            "tool",
            "message",
            "evidence",
            "recommendation"
        ]
    );
    assert_eq!(first["evidence"][0], json!("path $.tools[0]"));
}

#[test]
fn json_no_tools_finding_omits_tool() {
    let doc = Report::single("x", AT, audit(&json!({}))).to_json_value();
    assert!(doc["findings"][0].get("tool").is_none());
    assert_eq!(doc["findings"][0]["code"], json!("NO_TOOLS_FOUND"));
}

#[test]
fn server_reports_tag_findings_and_list_servers() {
    let manifest = example("dangerous-db-mcp").unwrap();
    let report = Report::servers(
        "client.json",
        AT,
        vec![
            (
                ServerStatus {
                    name: "db".into(),
                    transport: "stdio".into(),
                    outcome: ServerOutcome::Audited { tools_inspected: 6 },
                },
                Some(audit(&manifest)),
            ),
            (
                ServerStatus {
                    name: "broken".into(),
                    transport: "stdio".into(),
                    outcome: ServerOutcome::Failed {
                        error: "could not start `nope`".into(),
                    },
                },
                None,
            ),
        ],
    );
    assert_eq!(report.summary.tools_inspected, 6);
    assert_eq!(report.summary.medium, 13);
    assert!(!report.audited_no_server());
    let text = report.render(Format::Text);
    assert!(text.contains(
        "Servers:\n  db (stdio): audited, 6 tools\n  broken (stdio): not audited: could not start `nope`\n"
    ), "{text}");
    assert!(text.contains("HIGH   GENERIC_SQL_TOOL  execute_sql [server db]\n"));
    assert!(text.contains("MEDIUM SERVER_NOT_AUDITED  [server broken]\n"));
    let doc = report.to_json_value();
    assert_eq!(doc["findings"][0]["server"], json!("db"));
    assert_eq!(doc["servers"][1]["status"], json!("failed"));
    let md = report.render(Format::Markdown);
    assert!(md.contains("## Servers\n\n- db (stdio): audited, 6 tools\n"));
}
