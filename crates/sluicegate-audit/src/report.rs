//! The audit report and its three renderings (spec §A.6): text, markdown and JSON.
//!
//! The headings (`Synapsor MCP database risk review`, `# Synapsor MCP Database Risk Review`), the
//! disclaimer and the safer-shape bullets are the reference's fixed strings on purpose: the
//! conformance checks compare them, and CI scripts written against the reference grep for them.
//! Sluicegate's own additions (`overall_risk` in JSON, the per-server section of MCP client config
//! reports) appear only where the reference has nothing to compare.

use serde_json::{Map, Value, json};

use crate::rules::{Audit, Code, Finding, Risk, Summary};

/// The wire format is defined in `sluicegate-protocol`, like every external format.
pub const SCHEMA_VERSION: &str = sluicegate_protocol::audit_report::MCP_AUDIT_V1;
pub const DISCLAIMER: &str =
    "This is a static risk review, not proof that an MCP server is secure.";
pub const TEXT_TITLE: &str = "Synapsor MCP database risk review";
pub const MARKDOWN_TITLE: &str = "# Synapsor MCP Database Risk Review";
const CLEAN_LINES: [&str; 2] = [
    "No obvious database-commit risks were detected in the static manifest.",
    "This does not prove the MCP server or its tools are secure.",
];
const SAFER_SHAPE: [&str; 5] = [
    "- expose semantic inspect/propose tools instead of raw SQL;",
    "- bind tenant/principal from trusted context;",
    "- keep approval outside MCP;",
    "- apply approved changes through guarded writeback;",
    "- keep replay/evidence handles for later review.",
];

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

impl Format {
    /// Parses `text`, `markdown` or `json`.
    pub fn parse(value: &str) -> Option<Format> {
        match value {
            "text" => Some(Format::Text),
            "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// What happened to one server of an MCP client config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOutcome {
    /// Launched (or reached), handshake done, tools listed and audited.
    Audited { tools_inspected: usize },
    /// Could not be started, did not answer, or its entry is unusable.
    Failed { error: String },
    /// Marked `disabled` in the client config.
    Skipped,
}

/// One server of an MCP client config and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    pub name: String,
    /// `stdio` or `http` (or `unknown` for an unusable entry).
    pub transport: String,
    pub outcome: ServerOutcome,
}

/// A finished audit, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What was audited, e.g. `example:dangerous-db-mcp`, a path, `stdio:<command>` or a URL.
    pub target: String,
    /// ISO-8601 UTC with milliseconds; supplied by the caller so the engine stays clock-free.
    pub generated_at: String,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// Per-server outcomes; empty unless the target was a launched MCP client config.
    pub servers: Vec<ServerStatus>,
}

impl Report {
    /// A report over a single audited input.
    pub fn single(
        target: impl Into<String>,
        generated_at: impl Into<String>,
        audit: Audit,
    ) -> Report {
        Report {
            target: target.into(),
            generated_at: generated_at.into(),
            summary: audit.summary(),
            findings: audit.findings,
            servers: Vec::new(),
        }
    }

    /// A report over the servers of an MCP client config. Each audited server's findings are
    /// kept apart (tagged with the server name); a server that failed adds one
    /// `SERVER_NOT_AUDITED` finding.
    pub fn servers(
        target: impl Into<String>,
        generated_at: impl Into<String>,
        servers: Vec<(ServerStatus, Option<Audit>)>,
    ) -> Report {
        let mut findings = Vec::new();
        let mut tools = 0;
        let mut statuses = Vec::new();
        for (status, audit) in servers {
            if let Some(audit) = audit {
                tools += audit.tools_inspected;
                findings.extend(audit.findings.into_iter().map(|mut f| {
                    f.server = Some(status.name.clone());
                    f
                }));
            }
            if let ServerOutcome::Failed { error } = &status.outcome {
                let mut finding = Finding::new(
                    Code::ServerNotAudited,
                    None,
                    vec![format!("server {}", status.name), error.clone()],
                );
                finding.server = Some(status.name.clone());
                findings.push(finding);
            }
            statuses.push(status);
        }
        Report {
            target: target.into(),
            generated_at: generated_at.into(),
            summary: Summary::of(tools, &findings),
            findings,
            servers: statuses,
        }
    }

    pub fn overall_risk(&self) -> Risk {
        self.summary.overall_risk()
    }

    /// True when the report came from a client config whose servers were all unreachable or
    /// skipped, so nothing was actually audited.
    pub fn audited_no_server(&self) -> bool {
        !self.servers.is_empty()
            && !self
                .servers
                .iter()
                .any(|s| matches!(s.outcome, ServerOutcome::Audited { .. }))
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.to_text(),
            Format::Markdown => self.to_markdown(),
            Format::Json => self.to_json(),
        }
    }

    /// The default, deterministic text report (no timestamp).
    pub fn to_text(&self) -> String {
        let s = &self.summary;
        let mut lines = vec![
            TEXT_TITLE.to_owned(),
            format!("Target: {}", self.target),
            DISCLAIMER.to_owned(),
            String::new(),
            format!("Tools inspected: {}", s.tools_inspected),
            format!(
                "Findings: HIGH {} | MEDIUM {} | LOW {}",
                s.high, s.medium, s.low
            ),
            format!("Overall risk: {}", self.overall_risk().as_str()),
        ];
        if !self.servers.is_empty() {
            lines.push(String::new());
            lines.push("Servers:".to_owned());
            lines.extend(self.servers.iter().map(|s| format!("  {}", server_line(s))));
        }
        lines.push(String::new());
        if self.findings.is_empty() {
            lines.extend(CLEAN_LINES.map(str::to_owned));
        } else {
            for finding in &self.findings {
                let tool = heading_subject(finding)
                    .map(|t| format!("  {t}"))
                    .unwrap_or_default();
                lines.push(format!(
                    "{:<6} {}{tool}",
                    finding.severity.as_str(),
                    finding.code.as_str()
                ));
                lines.push(format!("       {}", finding.message));
                lines.push(format!("       Evidence: {}", finding.evidence.join("; ")));
                lines.push(format!("       Recommendation: {}", finding.recommendation));
            }
            lines.push(String::new());
            lines.push("Suggested safer shape:".to_owned());
            lines.extend(SAFER_SHAPE.map(str::to_owned));
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let mut lines = vec![
            MARKDOWN_TITLE.to_owned(),
            String::new(),
            format!("- Target: {}", self.target),
            format!("- Generated at: {}", self.generated_at),
            format!("- Tools inspected: {}", s.tools_inspected),
            format!(
                "- Findings: HIGH {} | MEDIUM {} | LOW {}",
                s.high, s.medium, s.low
            ),
            format!("- Total findings: {}", s.total_findings),
            String::new(),
            format!("> {DISCLAIMER}"),
            String::new(),
        ];
        if !self.servers.is_empty() {
            lines.push("## Servers".to_owned());
            lines.push(String::new());
            lines.extend(self.servers.iter().map(|s| format!("- {}", server_line(s))));
            lines.push(String::new());
        }
        if self.findings.is_empty() {
            for line in CLEAN_LINES {
                lines.push(line.to_owned());
                lines.push(String::new());
            }
        } else {
            lines.push("## Findings".to_owned());
            lines.push(String::new());
            for finding in &self.findings {
                let tool = heading_subject(finding)
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default();
                lines.push(format!(
                    "### {}: {}{tool}",
                    finding.severity.as_str(),
                    finding.code.as_str()
                ));
                lines.push(String::new());
                lines.push(finding.message.clone());
                lines.push(String::new());
                lines.push("Evidence:".to_owned());
                lines.extend(finding.evidence.iter().map(|e| format!("- {e}")));
                lines.push(String::new());
                lines.push(format!("Recommendation: {}", finding.recommendation));
                lines.push(String::new());
            }
        }
        lines.push("## Safer Shape".to_owned());
        lines.push(String::new());
        lines.extend(SAFER_SHAPE.map(str::to_owned));
        lines.push(String::new());
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// The JSON document (`synapsor.mcp-audit.v1`), 2-space indented, with a final newline.
    pub fn to_json_value(&self) -> Value {
        let s = &self.summary;
        let mut doc = Map::new();
        doc.insert("schema_version".into(), json!(SCHEMA_VERSION));
        doc.insert("target".into(), json!(self.target));
        doc.insert("disclaimer".into(), json!(DISCLAIMER));
        doc.insert("generated_at".into(), json!(self.generated_at));
        doc.insert(
            "summary".into(),
            json!({
                "tools_inspected": s.tools_inspected,
                "high": s.high,
                "medium": s.medium,
                "low": s.low,
                "total_findings": s.total_findings,
            }),
        );
        doc.insert("overall_risk".into(), json!(self.overall_risk().as_str()));
        let findings = self.findings.iter().map(finding_json).collect();
        doc.insert("findings".into(), Value::Array(findings));
        if !self.servers.is_empty() {
            let servers = self.servers.iter().map(server_json).collect();
            doc.insert("servers".into(), Value::Array(servers));
        }
        Value::Object(doc)
    }

    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(&self.to_json_value())
            .expect("invariant: a JSON value always serialises");
        out.push('\n');
        out
    }
}

fn heading_subject(finding: &Finding) -> Option<String> {
    match (&finding.tool, &finding.server) {
        (Some(tool), Some(server)) => Some(format!("{tool} [server {server}]")),
        (Some(tool), None) => Some(tool.clone()),
        (None, Some(server)) => Some(format!("[server {server}]")),
        (None, None) => None,
    }
}

fn server_line(server: &ServerStatus) -> String {
    match &server.outcome {
        ServerOutcome::Audited { tools_inspected } => format!(
            "{} ({}): audited, {tools_inspected} tools",
            server.name, server.transport
        ),
        ServerOutcome::Failed { error } => {
            format!(
                "{} ({}): not audited: {error}",
                server.name, server.transport
            )
        }
        ServerOutcome::Skipped => {
            format!("{} ({}): skipped (disabled)", server.name, server.transport)
        }
    }
}

fn finding_json(finding: &Finding) -> Value {
    let mut map = Map::new();
    map.insert("severity".into(), json!(finding.severity.as_str()));
    map.insert("code".into(), json!(finding.code.as_str()));
    if let Some(tool) = &finding.tool {
        map.insert("tool".into(), json!(tool));
    }
    if let Some(server) = &finding.server {
        map.insert("server".into(), json!(server));
    }
    map.insert("message".into(), json!(finding.message));
    map.insert("evidence".into(), json!(finding.evidence));
    map.insert("recommendation".into(), json!(finding.recommendation));
    Value::Object(map)
}

fn server_json(server: &ServerStatus) -> Value {
    let mut map = Map::new();
    map.insert("name".into(), json!(server.name));
    map.insert("transport".into(), json!(server.transport));
    match &server.outcome {
        ServerOutcome::Audited { tools_inspected } => {
            map.insert("status".into(), json!("audited"));
            map.insert("tools_inspected".into(), json!(tools_inspected));
        }
        ServerOutcome::Failed { error } => {
            map.insert("status".into(), json!("failed"));
            map.insert("error".into(), json!(error));
        }
        ServerOutcome::Skipped => {
            map.insert("status".into(), json!("skipped"));
        }
    }
    Value::Object(map)
}
