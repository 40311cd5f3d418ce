//! Real MCP clients that no one here wrote, pinned and installed by `scripts/test.sh`: the
//! Python MCP SDK (mcp==2.3.0) over stdio and Streamable HTTP in both the 2025-11-25
//! (`legacy`) and 2026-07-28 modes, and the OpenAI Agents SDK (openai-agents==0.24.0) with
//! `MCPServerStdio` and `MCPServerStreamableHttp` against `--alias-mode openai`. The SDK checks
//! every successful result against the tool's `outputSchema`; a table with an INTEGER key is
//! listed and called with typed arguments.
//!
//! Without `SLUICEGATE_TEST_PYTHON` they go through `skip_or_fail` (a failure with `CI=true`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use mcp_support::*;
use serde_json::{Value, json};

/// Names a model must never be offered, and words that mark credential material.
const FORBIDDEN_NAMES: [&str; 8] = [
    "sql",
    "query",
    "approve",
    "apply",
    "commit",
    "reject",
    "writeback",
    "credential",
];
const SECRET_WORDS: [&str; 6] = [
    "password",
    "secret",
    "token",
    "postgres://",
    "mysql://",
    "sqlite://",
];

fn check_tool_list(tools: &[Value], alias: bool) {
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let expected = if alias {
        vec![
            "billing__inspect_invoice",
            "billing__propose_late_fee_waiver",
        ]
    } else {
        vec![READ, PROPOSE]
    };
    assert_eq!(names, expected, "deterministic order, config order");
    for name in &names {
        let lower = name.to_lowercase();
        for bad in FORBIDDEN_NAMES {
            assert!(!lower.contains(bad), "tool {name} looks like a {bad} tool");
        }
    }
    let text = serde_json::to_string(tools).unwrap().to_lowercase();
    for word in SECRET_WORDS {
        assert!(!text.contains(word), "tools/list mentions {word}: {text}");
    }
}

/// The refusal code of a tool result in either envelope.
fn refusal_code(structured: &Value) -> &str {
    structured["code"]
        .as_str()
        .or_else(|| structured["error"]["code"].as_str())
        .unwrap()
}

/// Assert everything the Python MCP SDK saw (see tests/clients/mcp_sdk_client.py).
fn check_sdk_run(doc: &Value, format: u8, mode: &str, fixture: &Fixture) {
    let expected_version = if mode == "legacy" {
        "2025-11-25"
    } else {
        "2026-07-28"
    };
    assert_eq!(doc["protocol_version"], expected_version);
    if mode == "legacy" {
        assert_eq!(doc["server_info"]["name"], "sluicegate");
        assert_eq!(doc["server_info"]["version"], env!("CARGO_PKG_VERSION"));
    }
    let tools = doc["tools"].as_array().unwrap();
    check_tool_list(tools, false);
    for t in tools {
        let schema = &t["input_schema"];
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(t["meta"]["synapsor.raw_sql_exposed"], json!(false));
        assert_eq!(t["meta"]["synapsor.approval_tool"], json!(false));
        assert_eq!(
            t["output_schema"]["type"], "object",
            "an outputSchema for either envelope"
        );
        let read_only = t["meta"]["synapsor.kind"] == "read";
        assert_eq!(t["annotations"]["readOnlyHint"], json!(read_only));
        assert_eq!(t["annotations"]["destructiveHint"], json!(false));
        assert_eq!(t["annotations"]["idempotentHint"], json!(true));
    }

    let read = &doc["read"];
    assert_eq!(read["is_error"], json!(false));
    let s = &read["structured"];
    if format == 2 {
        assert_eq!(s["ok"], json!(true));
        assert_eq!(s["data"]["id"], "INV-3001");
        assert_eq!(s["_meta"]["tenant_id"], "acme");
    } else {
        assert_eq!(s["status"], "ok");
        assert_eq!(s["data"]["id"], "INV-3001");
        assert_eq!(s["trusted_context"]["tenant_id"], "acme");
    }
    assert!(
        s["data"].get("internal_risk_note").is_none(),
        "hidden column leaked"
    );
    // The text content is the same payload, 2-space indented.
    let text = read["text"][0].as_str().unwrap();
    assert_eq!(&serde_json::from_str::<Value>(text).unwrap(), s);
    assert!(text.starts_with("{\n  \""), "{text}");

    // Another tenant's row is simply not there (an error result the model can read).
    assert_eq!(doc["other_tenant"]["is_error"], json!(true));
    let other = &doc["other_tenant"]["structured"];
    assert_eq!(
        refusal_code(other),
        if format == 2 {
            "NOT_FOUND_IN_TENANT"
        } else {
            "ROW_NOT_FOUND"
        }
    );

    let p = &doc["proposal"]["structured"];
    assert_eq!(doc["proposal"]["is_error"], json!(false));
    if format == 2 {
        assert_eq!(p["proposal"]["state"], "review_required");
    } else {
        assert_eq!(p["status"], "review_required");
    }
    assert_eq!(p["source_database_changed"], json!(false));

    // An unknown tool is a JSON-RPC protocol error, not a tool result.
    assert_eq!(
        doc["unknown_tool"]["raised"],
        json!(true),
        "{}",
        doc["unknown_tool"]
    );
    assert_eq!(doc["unknown_tool"]["code"], json!(-32602));

    for (case, v1_code) in [
        ("wrong_type", "ARGUMENT_TYPE_INVALID"),
        ("missing", "ARGUMENT_REQUIRED"),
        ("extra", "ARGUMENT_UNKNOWN"),
    ] {
        let r = &doc[case];
        assert_eq!(r["raised"], json!(false), "{case}: {r}");
        assert_eq!(
            r["result"]["is_error"],
            json!(true),
            "{case} must be an isError result: {r}"
        );
        let code = refusal_code(&r["result"]["structured"]);
        assert_eq!(
            code,
            if format == 2 {
                "INVALID_ARGUMENT"
            } else {
                v1_code
            },
            "{case}"
        );
    }
    let t = &doc["tenant_override"]["result"];
    assert_eq!(t["is_error"], json!(true));
    if format == 2 {
        assert_eq!(refusal_code(&t["structured"]), "INVALID_ARGUMENT");
        assert_eq!(
            t["structured"]["error"]["reason"],
            "MODEL_CANNOT_OVERRIDE_BINDING"
        );
        assert_eq!(t["structured"]["error"]["argument"], "tenant_id");
    } else {
        assert_eq!(
            refusal_code(&t["structured"]),
            "MODEL_CANNOT_OVERRIDE_BINDING"
        );
        assert_eq!(
            t["structured"]["error"],
            "tenant_id is trusted context and cannot be supplied as a model argument."
        );
    }

    assert_eq!(
        doc["templates"],
        json!([
            "synapsor://proposals/{proposal_id}",
            "synapsor://evidence/{evidence_bundle_id}",
            "synapsor://replay/{replay_id}"
        ])
    );
    assert_eq!(doc["evidence"]["tenant_id"], "acme");
    assert_eq!(doc["missing_resource"]["raised"], json!(true));
    let _ = fixture;
}

fn sdk_over_stdio(mode: &str, format: u8) {
    let Some(python) = python() else { return };
    let fx = Fixture::new(format);
    let before = fx.snapshot();
    let mut args: Vec<String> = vec![
        "stdio".into(),
        mode.into(),
        "--".into(),
        env!("CARGO_BIN_EXE_sluicegate").into(),
        "mcp".into(),
        "serve".into(),
    ];
    args.extend(fx.paths());
    let doc = run_client(&python, &fx, "mcp_sdk_client.py", &args);
    check_sdk_run(&doc, format, mode, &fx);
    assert_eq!(
        fx.snapshot(),
        before,
        "a proposal over MCP changed the source"
    );
}

fn sdk_over_http(mode: &str, format: u8) {
    let Some(python) = python() else { return };
    let fx = Fixture::new(format);
    let before = fx.snapshot();
    let mut server = fx.spawn_http("serve-streamable-http", &[]);
    let doc = run_client(
        &python,
        &fx,
        "mcp_sdk_client.py",
        &["http".into(), mode.into(), server.url.clone()],
    );
    check_sdk_run(&doc, format, mode, &fx);
    assert_eq!(
        fx.snapshot(),
        before,
        "a proposal over MCP changed the source"
    );
    assert!(server.stop(), "server must exit 0 on SIGTERM");
}

#[test]
fn python_mcp_sdk_over_stdio_2025_11_25() {
    sdk_over_stdio("legacy", 1);
}

#[test]
fn python_mcp_sdk_over_stdio_2026_07_28() {
    sdk_over_stdio("2026-07-28", 2);
}

#[test]
fn python_mcp_sdk_over_streamable_http_2025_11_25() {
    sdk_over_http("legacy", 2);
}

#[test]
fn python_mcp_sdk_over_streamable_http_2026_07_28() {
    sdk_over_http("2026-07-28", 1);
}

fn check_agents_run(doc: &Value) {
    check_tool_list(doc["tools"].as_array().unwrap(), true);
    assert_eq!(
        doc["function_tools"],
        json!([
            "billing__inspect_invoice",
            "billing__propose_late_fee_waiver"
        ])
    );
    for t in doc["tools"].as_array().unwrap() {
        assert_eq!(t["meta"]["synapsor.tool_name_style"], "openai");
    }
    // Results carry the canonical capability even when called by alias.
    assert_eq!(doc["read"]["is_error"], json!(false));
    assert_eq!(doc["read"]["structured"]["action"], READ);
    assert_eq!(doc["read"]["structured"]["data"]["id"], "INV-3001");
    assert_eq!(doc["proposal"]["is_error"], json!(false));
    assert_eq!(doc["proposal"]["structured"]["action"], PROPOSE);
    assert_eq!(doc["proposal"]["structured"]["status"], "review_required");
    assert_eq!(doc["tenant_override"]["is_error"], json!(true));
    assert_eq!(
        doc["tenant_override"]["structured"]["code"],
        "MODEL_CANNOT_OVERRIDE_BINDING"
    );
}

#[test]
fn openai_agents_sdk_stdio_and_streamable_http_with_openai_aliases() {
    let Some(python) = python() else { return };
    let fx = Fixture::new(1);
    let before = fx.snapshot();

    let mut args: Vec<String> = vec![
        "stdio".into(),
        "--".into(),
        env!("CARGO_BIN_EXE_sluicegate").into(),
        "mcp".into(),
        "serve".into(),
    ];
    args.extend(fx.paths());
    args.extend(["--alias-mode".into(), "openai".into()]);
    check_agents_run(&run_client(&python, &fx, "agents_sdk_client.py", &args));

    let mut server = fx.spawn_http("serve-streamable-http", &["--alias-mode", "openai"]);
    check_agents_run(&run_client(
        &python,
        &fx,
        "agents_sdk_client.py",
        &["http".into(), server.url.clone()],
    ));
    assert!(server.stop());

    assert_eq!(
        fx.snapshot(),
        before,
        "a proposal over MCP changed the source"
    );
}

/// What the Python SDK saw of the stock app (tests/clients/typed_client.py): the key typed
/// from its INTEGER column, the visible columns in `outputSchema` (which the SDK checked every
/// successful result against), integer and digit-string ids served, and refusals naming their
/// reason and argument.
fn check_typed_run(doc: &Value, format: u8) {
    let tools = doc["tools"].as_array().unwrap();
    let read = tools.iter().find(|t| t["kind"] == "read").unwrap();
    let id = &read["input_schema"]["properties"]["item_id"];
    assert_eq!(id["type"], "integer", "{id}");
    assert_eq!(id["maximum"], json!(i64::MAX), "{id}");
    let data = if format == 2 {
        &read["output_schema"]["properties"]["data"]
    } else {
        &read["output_schema"]["anyOf"][0]["properties"]["data"]
    };
    assert_eq!(data["required"], json!(["id", "name", "qty", "tenant_id"]));
    assert_eq!(data["properties"]["name"]["type"], "string");
    assert_eq!(data["properties"]["id"]["description"], "INTEGER");
    let proposal = tools.iter().find(|t| t["kind"] == "proposal").unwrap();
    assert_eq!(
        proposal["input_schema"]["properties"]["amount"],
        json!({"type": "integer", "minimum": 1, "maximum": 500, "description": "amount business argument"})
    );

    for (case, id) in [("integer", 1), ("digits", 2)] {
        let r = &doc[case];
        assert_eq!(r["is_error"], json!(false), "{case}: {r}");
        assert_eq!(r["structured"]["data"]["id"], json!(id), "{case}: {r}");
    }
    assert_eq!(
        doc["proposal"]["is_error"],
        json!(false),
        "{}",
        doc["proposal"]
    );
    for (case, reason, argument) in [
        ("not_a_number", "ARGUMENT_TYPE_INVALID", Some("item_id")),
        ("fraction", "ARGUMENT_TYPE_INVALID", Some("item_id")),
        (
            "tenant_override",
            "MODEL_CANNOT_OVERRIDE_BINDING",
            Some("tenant_id"),
        ),
        ("other_tenant", "ROW_NOT_FOUND", None),
        ("amount_too_high", "ARGUMENT_ABOVE_MAXIMUM", Some("amount")),
    ] {
        let r = &doc[case];
        assert_eq!(r["is_error"], json!(true), "{case}: {r}");
        let s = &r["structured"];
        let (got_reason, got_argument) = if format == 2 {
            (&s["error"]["reason"], &s["error"]["argument"])
        } else {
            (&s["code"], &s["argument"])
        };
        assert_eq!(got_reason, reason, "{case}: {r}");
        assert_eq!(got_argument.as_str(), argument, "{case}: {r}");
    }
}

#[test]
fn python_mcp_sdk_sees_typed_schemas_and_calls_with_integer_keys() {
    let Some(python) = python() else { return };
    for (mode, format) in [("legacy", 1u8), ("2026-07-28", 2)] {
        let fx = Fixture::items(format);
        let mut args: Vec<String> = vec![
            "stdio".into(),
            mode.into(),
            "--".into(),
            env!("CARGO_BIN_EXE_sluicegate").into(),
            "mcp".into(),
            "serve".into(),
        ];
        args.extend(fx.paths());
        check_typed_run(&run_client(&python, &fx, "typed_client.py", &args), format);
    }
    let fx = Fixture::items(2);
    let mut server = fx.spawn_http("serve-streamable-http", &[]);
    let doc = run_client(
        &python,
        &fx,
        "typed_client.py",
        &["http".into(), "legacy".into(), server.url.clone()],
    );
    check_typed_run(&doc, 2);
    assert!(server.stop());
}
