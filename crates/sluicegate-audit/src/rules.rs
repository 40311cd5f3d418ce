//! The audit rules (spec §A.5): codes, severities, evidence formats and the per-input run that
//! turns tool candidates into findings. Pure: no I/O, no clock.

use serde_json::Value;

use crate::discover::{ToolCandidate, find_tools, input_property_names, normalise};
use crate::signals::signals;

/// How bad a finding is. Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    /// `HIGH`, `MEDIUM` or `LOW`, as printed in every report format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
        }
    }
}

/// Every finding code the audit can produce, in rule order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    GenericSqlTool,
    WriteToolAcceptsArbitrarySql,
    ArbitraryIdentifierInput,
    ModelControlledTrustScope,
    ModelCallableCommitOrApproval,
    WriteWithoutProposalBoundary,
    NoStructuredOutputSchema,
    NoIdempotencyField,
    NoConflictGuard,
    AmbiguousReadWriteTool,
    MissingBusinessDescription,
    MissingRiskAnnotations,
    MissingTestFixture,
    NoToolsFound,
    /// Sluicegate addition: a server named in an MCP client config could not be audited.
    ServerNotAudited,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::GenericSqlTool => "GENERIC_SQL_TOOL",
            Code::WriteToolAcceptsArbitrarySql => "WRITE_TOOL_ACCEPTS_ARBITRARY_SQL",
            Code::ArbitraryIdentifierInput => "ARBITRARY_IDENTIFIER_INPUT",
            Code::ModelControlledTrustScope => "MODEL_CONTROLLED_TRUST_SCOPE",
            Code::ModelCallableCommitOrApproval => "MODEL_CALLABLE_COMMIT_OR_APPROVAL",
            Code::WriteWithoutProposalBoundary => "WRITE_WITHOUT_PROPOSAL_BOUNDARY",
            Code::NoStructuredOutputSchema => "NO_STRUCTURED_OUTPUT_SCHEMA",
            Code::NoIdempotencyField => "NO_IDEMPOTENCY_FIELD",
            Code::NoConflictGuard => "NO_CONFLICT_GUARD",
            Code::AmbiguousReadWriteTool => "AMBIGUOUS_READ_WRITE_TOOL",
            Code::MissingBusinessDescription => "MISSING_BUSINESS_DESCRIPTION",
            Code::MissingRiskAnnotations => "MISSING_RISK_ANNOTATIONS",
            Code::MissingTestFixture => "MISSING_TEST_FIXTURE",
            Code::NoToolsFound => "NO_TOOLS_FOUND",
            Code::ServerNotAudited => "SERVER_NOT_AUDITED",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::GenericSqlTool
            | Code::WriteToolAcceptsArbitrarySql
            | Code::ArbitraryIdentifierInput
            | Code::ModelControlledTrustScope
            | Code::ModelCallableCommitOrApproval
            | Code::WriteWithoutProposalBoundary => Severity::High,
            Code::NoStructuredOutputSchema
            | Code::NoIdempotencyField
            | Code::NoConflictGuard
            | Code::AmbiguousReadWriteTool
            | Code::NoToolsFound
            | Code::ServerNotAudited => Severity::Medium,
            Code::MissingBusinessDescription
            | Code::MissingRiskAnnotations
            | Code::MissingTestFixture => Severity::Low,
        }
    }

    /// One sentence restating the risk. Wording is ours; only codes and evidence are contractual.
    pub fn message(self) -> &'static str {
        match self {
            Code::GenericSqlTool => "The model is offered a generic SQL or query tool.",
            Code::WriteToolAcceptsArbitrarySql => {
                "The model writes the SQL text itself and passes it as an argument."
            }
            Code::ArbitraryIdentifierInput => {
                "The model picks database, schema, table or column names as input."
            }
            Code::ModelControlledTrustScope => {
                "The model supplies tenant, principal, source, approval or row-version fields that should come from trusted context."
            }
            Code::ModelCallableCommitOrApproval => {
                "The model can approve, commit, apply or settle a change on its own."
            }
            Code::WriteWithoutProposalBoundary => {
                "The tool can change data directly, with no proposal or human review in between."
            }
            Code::NoStructuredOutputSchema => "The tool declares no structured output.",
            Code::NoIdempotencyField => {
                "A write-capable tool carries no idempotency key, so a retry can apply the change twice."
            }
            Code::NoConflictGuard => {
                "A write-capable tool carries no version or conflict guard, so it can overwrite a row that changed meanwhile."
            }
            Code::AmbiguousReadWriteTool => "One tool both reads and writes.",
            Code::MissingBusinessDescription => "The tool does not describe its business action.",
            Code::MissingRiskAnnotations => "The tool declares no risk annotations.",
            Code::MissingTestFixture => "The tool ships no example or test fixture.",
            Code::NoToolsFound => "No MCP tools were found in the input.",
            Code::ServerNotAudited => {
                "A server from the MCP client config could not be started or did not list its tools."
            }
        }
    }

    /// One sentence stating the fix.
    pub fn recommendation(self) -> &'static str {
        match self {
            Code::GenericSqlTool => {
                "Offer reviewed semantic capabilities with fixed identifiers and bound parameter values instead."
            }
            Code::WriteToolAcceptsArbitrarySql => {
                "Remove SQL text from the inputs; accept typed business arguments and bind them as parameters."
            }
            Code::ArbitraryIdentifierInput => {
                "Fix identifiers in reviewed configuration rather than taking them from tool arguments."
            }
            Code::ModelControlledTrustScope => {
                "Bind tenant, principal and approval identity from trusted server-side context, never from arguments."
            }
            Code::ModelCallableCommitOrApproval => {
                "Keep approval and commit out of the model's catalog; a person decides outside the agent."
            }
            Code::WriteWithoutProposalBoundary => {
                "Turn direct writes into proposals with an exact diff that a person approves before guarded writeback."
            }
            Code::NoStructuredOutputSchema => {
                "Declare an output schema so callers and reviewers know the result shape."
            }
            Code::NoIdempotencyField => {
                "Require an idempotency or request key, or route the write through an idempotent proposal."
            }
            Code::NoConflictGuard => {
                "Require a row version or updated_at guard, or let the runtime enforce optimistic concurrency."
            }
            Code::AmbiguousReadWriteTool => {
                "Split the tool into a read (inspect) tool and a separate proposal tool."
            }
            Code::MissingBusinessDescription => {
                "Describe the business action, its scope and what it returns."
            }
            Code::MissingRiskAnnotations => {
                "Add readOnlyHint/destructiveHint annotations as hints, and keep enforcement in the runtime."
            }
            Code::MissingTestFixture => "Attach a safe example input or test fixture to the tool.",
            Code::NoToolsFound => {
                "Audit an exported tools/list response or a tool manifest, or let the audit launch the server."
            }
            Code::ServerNotAudited => {
                "Check the server's command, arguments and environment, then run the audit again."
            }
        }
    }

    /// The second evidence line for rules whose detail is a fixed note.
    fn note(self) -> &'static str {
        match self {
            Code::GenericSqlTool => {
                "Name or description reads like execute_sql / run_query / raw SQL."
            }
            Code::ModelCallableCommitOrApproval => {
                "Name or description uses approval, commit, apply, settlement or writeback language."
            }
            Code::WriteWithoutProposalBoundary => {
                "Write-capable wording without proposal, review or approval semantics."
            }
            Code::NoStructuredOutputSchema => {
                "No outputSchema/output_schema/resultSchema and no structuredContent."
            }
            Code::AmbiguousReadWriteTool => {
                "Read and write wording in one tool, without a proposal boundary."
            }
            Code::MissingBusinessDescription => "description, title and summary are all blank.",
            Code::MissingRiskAnnotations => "annotations are absent or empty.",
            Code::MissingTestFixture => {
                "None of examples, example, input_examples, test_fixture, x_synapsor_test_fixture."
            }
            Code::NoToolsFound => {
                "Export the server's tools/list response (or a manifest with a tools array) and audit that file."
            }
            _ => "",
        }
    }
}

/// One audit finding. `tool` is absent only for input-level findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    pub tool: Option<String>,
    /// Set in MCP client config reports: which configured server the finding belongs to.
    pub server: Option<String>,
    pub message: String,
    pub evidence: Vec<String>,
    pub recommendation: String,
}

impl Finding {
    /// A finding with the code's own message and recommendation.
    pub fn new(code: Code, tool: Option<String>, evidence: Vec<String>) -> Finding {
        Finding {
            severity: code.severity(),
            code,
            tool,
            server: None,
            message: code.message().to_owned(),
            evidence,
            recommendation: code.recommendation().to_owned(),
        }
    }
}

/// Counts by severity over a list of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub tools_inspected: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub total_findings: usize,
}

impl Summary {
    pub fn of(tools_inspected: usize, findings: &[Finding]) -> Summary {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        Summary {
            tools_inspected,
            high: count(Severity::High),
            medium: count(Severity::Medium),
            low: count(Severity::Low),
            total_findings: findings.len(),
        }
    }

    pub fn overall_risk(&self) -> Risk {
        if self.high > 0 {
            Risk::High
        } else if self.medium > 0 {
            Risk::Medium
        } else if self.low > 0 {
            Risk::Low
        } else {
            Risk::None
        }
    }
}

/// Overall risk of a report: the worst severity found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    High,
    Medium,
    Low,
    None,
}

impl Risk {
    /// Lowercase label used in the text report (`high`, `medium`, `low`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::High => "high",
            Risk::Medium => "medium",
            Risk::Low => "low",
            Risk::None => "none",
        }
    }
}

/// The result of auditing one JSON input: how many tools were seen and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub tools_inspected: usize,
    pub findings: Vec<Finding>,
}

impl Audit {
    pub fn summary(&self) -> Summary {
        Summary::of(self.tools_inspected, &self.findings)
    }
}

const SQL_FIELDS: [&str; 4] = ["sql", "query", "statement", "rawsql"];
const IDENTIFIER_FIELDS: [&str; 9] = [
    "table",
    "tablename",
    "schema",
    "schemaname",
    "column",
    "columns",
    "columnname",
    "database",
    "databasename",
];
const TRUST_FIELDS: [&str; 12] = [
    "tenantid",
    "principal",
    "principalid",
    "userid",
    "projectid",
    "sourceid",
    "databaseid",
    "allowedcolumns",
    "rowversion",
    "currentversion",
    "expectedversion",
    "approvalidentity",
];
const IDEMPOTENCY_FIELDS: [&str; 4] = ["idempotencykey", "requestid", "requestkey", "dedupekey"];
const CONFLICT_FIELDS: [&str; 6] = [
    "expectedversion",
    "rowversion",
    "updatedat",
    "etag",
    "conflictguard",
    "previousversion",
];
const FIXTURE_KEYS: [&str; 5] = [
    "examples",
    "example",
    "input_examples",
    "test_fixture",
    "x_synapsor_test_fixture",
];

/// Audits any JSON input: finds the tools (§A.3), applies the rules in order (§A.5).
pub fn audit(input: &Value) -> Audit {
    let tools = find_tools(input);
    let mut findings: Vec<Finding> = Vec::new();
    for tool in &tools {
        for finding in tool_findings(tool) {
            let duplicate = findings.iter().any(|f| {
                f.severity == finding.severity && f.code == finding.code && f.tool == finding.tool
            });
            if !duplicate {
                findings.push(finding);
            }
        }
    }
    if tools.is_empty() {
        findings.push(Finding::new(
            Code::NoToolsFound,
            None,
            vec!["path $".to_owned(), Code::NoToolsFound.note().to_owned()],
        ));
    }
    Audit {
        tools_inspected: tools.len(),
        findings,
    }
}

fn tool_findings(tool: &ToolCandidate<'_>) -> Vec<Finding> {
    let s = signals(tool);
    let names = input_property_names(tool.input_schema);
    let normalised: Vec<String> = names.iter().map(|n| normalise(n)).collect();
    let has_any = |set: &[&str]| normalised.iter().any(|n| set.contains(&n.as_str()));
    let matching = |set: &[&str]| -> Vec<&str> {
        names
            .iter()
            .zip(&normalised)
            .filter(|(_, n)| set.contains(&n.as_str()))
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let input_fields = if names.is_empty() {
        "Input fields: none.".to_owned()
    } else {
        format!("Input fields: {}.", names.join(", "))
    };
    let unguarded_write = s.write_like && !s.proposal_boundary;

    let mut fired: Vec<(Code, String)> = Vec::new();
    let note = |code: Code| (code, code.note().to_owned());
    if s.sql_like {
        fired.push(note(Code::GenericSqlTool));
    }
    if s.sql_like && has_any(&SQL_FIELDS) {
        fired.push((Code::WriteToolAcceptsArbitrarySql, input_fields.clone()));
    }
    let identifiers = matching(&IDENTIFIER_FIELDS);
    if !identifiers.is_empty() {
        fired.push((
            Code::ArbitraryIdentifierInput,
            format!("Identifier-like fields: {}.", identifiers.join(", ")),
        ));
    }
    let trust = matching(&TRUST_FIELDS);
    if !trust.is_empty() {
        fired.push((
            Code::ModelControlledTrustScope,
            format!("Trust-like fields: {}.", trust.join(", ")),
        ));
    }
    if s.commit_like {
        fired.push(note(Code::ModelCallableCommitOrApproval));
    }
    if unguarded_write {
        fired.push(note(Code::WriteWithoutProposalBoundary));
    }
    let structured =
        tool.raw.contains_key("structuredContent") || tool.raw.contains_key("structured_content");
    if tool.output_schema.is_none() && !structured {
        fired.push(note(Code::NoStructuredOutputSchema));
    }
    if unguarded_write && !has_any(&IDEMPOTENCY_FIELDS) {
        fired.push((Code::NoIdempotencyField, input_fields.clone()));
    }
    if unguarded_write && !has_any(&CONFLICT_FIELDS) {
        fired.push((Code::NoConflictGuard, input_fields.clone()));
    }
    if unguarded_write && s.read_like {
        fired.push(note(Code::AmbiguousReadWriteTool));
    }
    if tool.description.trim().is_empty() {
        fired.push(note(Code::MissingBusinessDescription));
    }
    if tool.annotations.is_empty() {
        fired.push(note(Code::MissingRiskAnnotations));
    }
    if !FIXTURE_KEYS.iter().any(|key| tool.raw.contains_key(*key)) {
        fired.push(note(Code::MissingTestFixture));
    }

    fired
        .into_iter()
        .map(|(code, detail)| {
            Finding::new(
                code,
                Some(tool.name.clone()),
                vec![format!("path {}", tool.path), detail],
            )
        })
        .collect()
}
