//! The expected results of spec §A.7, one test each: the dangerous example, the example runner
//! configs and the other vectors.

use serde_json::{Value, json};
use sluicegate_audit::{
    Audit, Options, Risk, Target, audit, audit_target, example, is_runner_config, tools_from_config,
};
use sluicegate_test_support::{conformance_dir, read_json};

/// `(severity, code, tool, evidence)` of every finding, for exact comparisons.
fn rows(audit: &Audit) -> Vec<(String, String, String, Vec<String>)> {
    audit
        .findings
        .iter()
        .map(|f| {
            (
                f.severity.as_str().to_owned(),
                f.code.as_str().to_owned(),
                f.tool.clone().unwrap_or_default(),
                f.evidence.clone(),
            )
        })
        .collect()
}

fn counts(audit: &Audit) -> (usize, usize, usize, usize, usize) {
    let s = audit.summary();
    (s.tools_inspected, s.high, s.medium, s.low, s.total_findings)
}

/// `(severity, code, evidence detail when it is not a fixed note)`.
type Expected = (&'static str, &'static str, Option<&'static str>);

/// The per-tool table of §A.7, with the evidence detail where it is not a fixed note.
fn expected_dangerous_rows() -> Vec<(String, String, String, Option<String>)> {
    let table: [(&str, &str, &[Expected]); 6] = [
        (
            "execute_sql",
            "$.tools[0]",
            &[
                ("HIGH", "GENERIC_SQL_TOOL", None),
                (
                    "HIGH",
                    "WRITE_TOOL_ACCEPTS_ARBITRARY_SQL",
                    Some("Input fields: sql."),
                ),
                ("MEDIUM", "NO_STRUCTURED_OUTPUT_SCHEMA", None),
                ("LOW", "MISSING_RISK_ANNOTATIONS", None),
                ("LOW", "MISSING_TEST_FIXTURE", None),
            ],
        ),
        (
            "run_query",
            "$.tools[1]",
            &[
                ("HIGH", "GENERIC_SQL_TOOL", None),
                (
                    "HIGH",
                    "WRITE_TOOL_ACCEPTS_ARBITRARY_SQL",
                    Some("Input fields: query, table, columns."),
                ),
                (
                    "HIGH",
                    "ARBITRARY_IDENTIFIER_INPUT",
                    Some("Identifier-like fields: table, columns."),
                ),
                ("MEDIUM", "NO_STRUCTURED_OUTPUT_SCHEMA", None),
                ("LOW", "MISSING_RISK_ANNOTATIONS", None),
                ("LOW", "MISSING_TEST_FIXTURE", None),
            ],
        ),
        (
            "approve_refund",
            "$.tools[2]",
            &[
                (
                    "HIGH",
                    "MODEL_CONTROLLED_TRUST_SCOPE",
                    Some("Trust-like fields: tenant_id."),
                ),
                ("HIGH", "MODEL_CALLABLE_COMMIT_OR_APPROVAL", None),
                ("HIGH", "WRITE_WITHOUT_PROPOSAL_BOUNDARY", None),
                ("MEDIUM", "NO_STRUCTURED_OUTPUT_SCHEMA", None),
                (
                    "MEDIUM",
                    "NO_IDEMPOTENCY_FIELD",
                    Some("Input fields: refund_id, tenant_id, amount_cents."),
                ),
                (
                    "MEDIUM",
                    "NO_CONFLICT_GUARD",
                    Some("Input fields: refund_id, tenant_id, amount_cents."),
                ),
                ("LOW", "MISSING_RISK_ANNOTATIONS", None),
                ("LOW", "MISSING_TEST_FIXTURE", None),
            ],
        ),
        (
            "update_customer",
            "$.tools[3]",
            &[
                (
                    "HIGH",
                    "ARBITRARY_IDENTIFIER_INPUT",
                    Some("Identifier-like fields: column."),
                ),
                (
                    "HIGH",
                    "MODEL_CONTROLLED_TRUST_SCOPE",
                    Some("Trust-like fields: tenant_id."),
                ),
                ("HIGH", "WRITE_WITHOUT_PROPOSAL_BOUNDARY", None),
                ("MEDIUM", "NO_STRUCTURED_OUTPUT_SCHEMA", None),
                (
                    "MEDIUM",
                    "NO_IDEMPOTENCY_FIELD",
                    Some("Input fields: customer_id, tenant_id, column, value."),
                ),
                (
                    "MEDIUM",
                    "NO_CONFLICT_GUARD",
                    Some("Input fields: customer_id, tenant_id, column, value."),
                ),
                ("LOW", "MISSING_RISK_ANNOTATIONS", None),
                ("LOW", "MISSING_TEST_FIXTURE", None),
            ],
        ),
        (
            "delete_order",
            "$.tools[4]",
            &[
                (
                    "HIGH",
                    "MODEL_CONTROLLED_TRUST_SCOPE",
                    Some("Trust-like fields: tenant_id."),
                ),
                ("HIGH", "WRITE_WITHOUT_PROPOSAL_BOUNDARY", None),
                ("MEDIUM", "NO_STRUCTURED_OUTPUT_SCHEMA", None),
                (
                    "MEDIUM",
                    "NO_IDEMPOTENCY_FIELD",
                    Some("Input fields: order_id, tenant_id."),
                ),
                (
                    "MEDIUM",
                    "NO_CONFLICT_GUARD",
                    Some("Input fields: order_id, tenant_id."),
                ),
                ("LOW", "MISSING_RISK_ANNOTATIONS", None),
                ("LOW", "MISSING_TEST_FIXTURE", None),
            ],
        ),
        (
            "query_database",
            "$.tools[5]",
            &[
                ("HIGH", "GENERIC_SQL_TOOL", None),
                (
                    "HIGH",
                    "ARBITRARY_IDENTIFIER_INPUT",
                    Some("Identifier-like fields: database, schema, table, columns."),
                ),
                ("MEDIUM", "NO_STRUCTURED_OUTPUT_SCHEMA", None),
                ("LOW", "MISSING_RISK_ANNOTATIONS", None),
                ("LOW", "MISSING_TEST_FIXTURE", None),
            ],
        ),
    ];
    table
        .iter()
        .flat_map(|(tool, path, findings)| {
            findings.iter().map(move |(severity, code, detail)| {
                (
                    format!("{severity} {code} {tool}"),
                    (*path).to_owned(),
                    (*tool).to_owned(),
                    detail.map(str::to_owned),
                )
            })
        })
        .collect()
}

fn assert_dangerous(audit: &Audit) {
    assert_eq!(counts(audit), (6, 15, 12, 12, 39));
    assert_eq!(audit.summary().overall_risk(), Risk::High);
    let actual = rows(audit);
    let expected = expected_dangerous_rows();
    assert_eq!(actual.len(), expected.len());
    for ((severity, code, tool, evidence), (label, path, expected_tool, detail)) in
        actual.iter().zip(&expected)
    {
        assert_eq!(&format!("{severity} {code} {tool}"), label);
        assert_eq!(tool, expected_tool);
        assert_eq!(evidence.len(), 2, "{label}");
        assert_eq!(evidence[0], format!("path {path}"), "{label}");
        if let Some(detail) = detail {
            assert_eq!(&evidence[1], detail, "{label}");
        } else {
            assert!(!evidence[1].is_empty(), "{label} has a fixed note");
        }
    }
}

#[test]
fn dangerous_example_counts_and_per_tool_findings() {
    let manifest = example("dangerous-db-mcp").expect("built-in example");
    assert_dangerous(&audit(&manifest));
}

#[test]
fn dangerous_conformance_file_gives_the_same_result() {
    let dir = conformance_dir();
    let manifest = read_json(&dir.join("examples/dangerous-mcp-tools.json"));
    assert_dangerous(&audit(&manifest));
}

#[test]
fn built_in_example_equals_the_conformance_manifest() {
    let dir = conformance_dir();
    let file = read_json(&dir.join("examples/dangerous-mcp-tools.json"));
    let built_in = example("dangerous-db-mcp").expect("built-in example");
    assert_eq!(built_in, file);
    // Key order too, since the JSON report and evidence paths follow it.
    assert_eq!(built_in.to_string(), file.to_string());
}

#[test]
fn unknown_example_is_an_error() {
    assert!(example("nope").is_none());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(audit_target(
            &Target::Example("nope".into()),
            Options::default(),
            "t",
        ))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown audit example: nope. Available examples: dangerous-db-mcp"
    );
}

/// Audits an example config through the same path as `audit <config>`.
fn audit_config(name: &str) -> Audit {
    let dir = conformance_dir();
    let config = read_json(&dir.join("examples").join(name).join("synapsor.runner.json"));
    assert!(
        is_runner_config(&config),
        "{name} is detected as a runner config"
    );
    let tools = tools_from_config(&config).expect("tools");
    audit(&json!({ "tools": tools }))
}

fn assert_config_clean(name: &str, tools: usize) {
    let result = audit_config(name);
    assert_eq!(
        counts(&result),
        (tools, 0, tools, tools, 2 * tools),
        "{name}"
    );
    assert_eq!(result.summary().overall_risk(), Risk::Medium);
    for pair in result.findings.chunks(2) {
        assert_eq!(pair[0].tool, pair[1].tool);
        assert_eq!(
            (pair[0].code.as_str(), pair[1].code.as_str()),
            ("NO_STRUCTURED_OUTPUT_SCHEMA", "MISSING_TEST_FIXTURE"),
            "{name}"
        );
    }
}

#[test]
fn config_mcp_postgres_billing() {
    assert_config_clean("mcp-postgres-billing", 2);
}

#[test]
fn config_mcp_mysql_orders() {
    assert_config_clean("mcp-mysql-orders", 3);
}

#[test]
fn config_reference_support_billing_app() {
    assert_config_clean("reference-support-billing-app", 8);
}

#[test]
fn config_mcp_postgres_support() {
    assert_config_clean("mcp-postgres-support", 2);
}

#[test]
fn config_mcp_postgres_billing_app_handler() {
    assert_config_clean("mcp-postgres-billing-app-handler", 3);
}

#[test]
fn config_support_billing_agent() {
    assert_config_clean("support-billing-agent", 4);
}

#[test]
fn every_example_config_is_covered() {
    let dir = conformance_dir();
    let mut found: Vec<String> = std::fs::read_dir(dir.join("examples"))
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.unwrap();
            entry
                .path()
                .join("synapsor.runner.json")
                .is_file()
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "mcp-mysql-orders",
            "mcp-postgres-billing",
            "mcp-postgres-billing-app-handler",
            "mcp-postgres-support",
            "reference-support-billing-app",
            "support-billing-agent"
        ],
        "a new example config needs its own test above"
    );
}

#[test]
fn read_only_config_lists_only_reads() {
    let dir = conformance_dir();
    let mut config = read_json(&dir.join("examples/mcp-mysql-orders/synapsor.runner.json"));
    config["mode"] = json!("read_only");
    let result = audit(&json!({ "tools": tools_from_config(&config).unwrap() }));
    assert_eq!(counts(&result), (1, 0, 1, 1, 2));
}

#[test]
fn claude_desktop_client_config_yields_no_tools() {
    let config = json!({"mcpServers": {"synapsor-runner": {
        "command": "npx",
        "args": ["-y", "@synapsor/runner", "mcp", "serve"],
        "env": {"SYNAPSOR_TENANT_ID": "acme"}
    }}});
    let result = audit(&config);
    assert_eq!(counts(&result), (0, 0, 1, 0, 1));
    assert_eq!(result.findings[0].code.as_str(), "NO_TOOLS_FOUND");
    assert_eq!(result.findings[0].tool, None);
    assert_eq!(result.summary().overall_risk(), Risk::Medium);
}

#[test]
fn jsonrpc_tools_list_response_vector() {
    let response = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{
        "name": "execute_sql",
        "description": "Run SQL",
        "inputSchema": {"type": "object", "properties": {"sql": {"type": "string"}, "tenant_id": {"type": "string"}}}
    }]}});
    let result = audit(&response);
    let codes: Vec<_> = result.findings.iter().map(|f| f.code.as_str()).collect();
    for code in [
        "GENERIC_SQL_TOOL",
        "WRITE_TOOL_ACCEPTS_ARBITRARY_SQL",
        "MODEL_CONTROLLED_TRUST_SCOPE",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert!(
        result
            .findings
            .iter()
            .all(|f| f.evidence[0] == "path $.result.tools[0]")
    );
}

#[test]
fn approve_proposal_listing_vector() {
    let listing = json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [{
        "name": "approve_proposal",
        "description": "Approve proposal",
        "inputSchema": {"type": "object", "properties": {"proposal_id": {"type": "string"}}}
    }]}});
    let result = audit(&listing);
    assert_eq!(result.tools_inspected, 1);
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.code.as_str() == "MODEL_CALLABLE_COMMIT_OR_APPROVAL")
    );
}

#[test]
fn server_object_and_duplicate_tool_vector() {
    let input = json!({"server": {"name": "my-db-server", "tools": [
        {"name": "get_row", "description": "Get a row", "inputSchema": {"type": "object",
            "properties": {"filter": {"type": "object", "properties": {"tenant_id": {"type": "string"}}}}}},
        {"name": "get_row", "description": "dup"}
    ]}});
    let result = audit(&input);
    assert_eq!(counts(&result), (3, 1, 2, 5, 8));
    let trust: Vec<_> = result
        .findings
        .iter()
        .filter(|f| f.code.as_str() == "MODEL_CONTROLLED_TRUST_SCOPE")
        .collect();
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0].evidence[1], "Trust-like fields: tenant_id.");
    // The duplicate at $.server.tools[1] counts as inspected but adds no finding.
    assert!(
        result
            .findings
            .iter()
            .all(|f| f.evidence[0] != "path $.server.tools[1]")
    );
}

#[test]
fn safer_shape_passes_cleanly() {
    let tool = json!({
        "name": "support.propose_ticket_resolution",
        "description": "Create a review-required proposal that resolves one support ticket; a human approves it outside the agent before guarded writeback.",
        "inputSchema": {"type": "object",
            "properties": {"ticket_id": {"type": "string"}, "resolution_note": {"type": "string"}},
            "required": ["ticket_id", "resolution_note"]},
        "outputSchema": {"type": "object",
            "properties": {"ok": {"type": "boolean"}, "proposal_id": {"type": "string"},
                           "evidence_bundle_id": {"type": "string"}, "source_database_changed": {"type": "boolean"}},
            "required": ["ok", "proposal_id", "source_database_changed"]},
        "annotations": {"readOnlyHint": false, "destructiveHint": false},
        "examples": [{"ticket_id": "T-1042", "resolution_note": "Waiver needs billing approval"}]
    });
    let result = audit(&json!({ "tools": [tool] }));
    assert_eq!(counts(&result), (1, 0, 0, 0, 0));
    assert_eq!(result.summary().overall_risk(), Risk::None);
}

#[test]
fn annotations_never_exempt_a_tool() {
    let tool = json!({"name": "execute_sql", "description": "x", "annotations": {"readOnlyHint": true},
        "outputSchema": {}, "examples": []});
    let result = audit(&json!({ "tools": [tool] }));
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.code.as_str() == "GENERIC_SQL_TOOL")
    );
}

#[test]
fn file_target_detects_runner_configs() {
    let dir = conformance_dir();
    let path = dir.join("examples/mcp-postgres-billing/synapsor.runner.json");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let label = path.to_string_lossy().into_owned();
    let report = rt
        .block_on(audit_target(
            &Target::File(label.clone()),
            Options::default(),
            "t",
        ))
        .unwrap();
    assert_eq!(report.target, label);
    assert_eq!(
        (report.summary.tools_inspected, report.summary.high),
        (2, 0)
    );
    let first: &Value = &report.to_json_value()["findings"][0];
    assert_eq!(first["tool"], json!("billing.inspect_invoice"));
}

#[test]
fn config_validator_runs_before_the_audit() {
    let dir = conformance_dir();
    let path = dir.join("examples/mcp-postgres-billing/synapsor.runner.json");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = Options {
        validate_config: Some(|_| Err("$.mode INVALID_MODE: bad".to_owned())),
        ..Options::default()
    };
    let err = rt
        .block_on(audit_target(
            &Target::File(path.to_string_lossy().into_owned()),
            options,
            "t",
        ))
        .unwrap_err();
    assert!(err.to_string().contains("INVALID_MODE"), "{err}");
}
