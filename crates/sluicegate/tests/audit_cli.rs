//! The built binary: `sluicegate audit` (targets, formats, exit codes, live servers) and
//! `sluicegate benchmark mcp-efficiency` against the conformance fixtures.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluicegate_test_support::{conformance_dir, read_json};

fn sluicegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(args)
        .env_remove("SLUICEGATE_AUDIT_BEARER")
        .output()
        .expect("run sluicegate")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

const FAKE_SERVER: &str = r#"
import json, sys
mode = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    method = m.get("method")
    if method == "initialize":
        if mode == "die":
            sys.stderr.write("boom\n")
            sys.exit(4)
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}}, "serverInfo": {"name": "fake", "version": "1"}}}), flush=True)
    elif method == "tools/list":
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"tools": [
            {"name": "approve_proposal", "description": "Approve proposal", "inputSchema": {"type": "object",
                "properties": {"proposal_id": {"type": "string"}}}}]}}), flush=True)
"#;

fn write_fake(dir: &Path) -> String {
    let script = dir.join("fake_server.py");
    std::fs::write(&script, FAKE_SERVER).expect("write fake server");
    script.to_string_lossy().into_owned()
}

#[test]
fn example_text_report_exits_1_on_high_risk() {
    let output = sluicegate(&["audit", "--example", "dangerous-db-mcp"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with(
        "Synapsor MCP database risk review\nTarget: example:dangerous-db-mcp\nThis is a static risk review, not proof that an MCP server is secure.\n\nTools inspected: 6\nFindings: HIGH 15 | MEDIUM 12 | LOW 12\nOverall risk: high\n"
    ), "{text}");
}

#[test]
fn example_json_and_markdown_formats() {
    let output = sluicegate(&["audit", "--example", "dangerous-db-mcp", "--json"]);
    assert_eq!(code(&output), 1);
    let doc: Value = serde_json::from_str(&stdout(&output)).expect("json report");
    assert_eq!(doc["schema_version"], json!("synapsor.mcp-audit.v1"));
    assert_eq!(doc["target"], json!("example:dangerous-db-mcp"));
    assert_eq!(doc["summary"]["total_findings"], json!(39));
    let generated_at = doc["generated_at"].as_str().unwrap();
    assert_eq!(
        generated_at.len(),
        "2026-06-20T14:31:09.000Z".len(),
        "{generated_at}"
    );
    assert!(generated_at.ends_with('Z'));

    let output = sluicegate(&[
        "audit",
        "--example",
        "dangerous-db-mcp",
        "--format",
        "markdown",
    ]);
    let md = stdout(&output);
    assert!(md.starts_with("# Synapsor MCP Database Risk Review\n"));
    assert!(md.contains("\n## Safer Shape\n"));
    assert!(md.ends_with("\n\n"));
}

#[test]
fn usage_and_input_errors_exit_2() {
    let cases: [(&[&str], &str); 5] = [
        (&["audit"], "audit requires <target>"),
        (
            &["audit", "--example", "nope"],
            "unknown audit example: nope. Available examples: dangerous-db-mcp",
        ),
        (
            &["audit", "--example", "dangerous-db-mcp", "--format", "xml"],
            "audit --format must be text, json, or markdown",
        ),
        (
            &["audit", "/nonexistent/tools.json"],
            "cannot read /nonexistent/tools.json",
        ),
        (
            &[
                "audit",
                "--url",
                "http://127.0.0.1:9/mcp",
                "--auth-token-env",
                "SLUICEGATE_TEST_UNSET_TOKEN",
            ],
            "SLUICEGATE_TEST_UNSET_TOKEN is not set",
        ),
    ];
    for (args, message) in cases {
        let output = sluicegate(args);
        assert_eq!(code(&output), 2, "{args:?}");
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn example_configs_audit_clean_of_high_findings() {
    let dir = conformance_dir();
    for (name, tools) in [
        ("mcp-postgres-billing", 2),
        ("mcp-mysql-orders", 3),
        ("reference-support-billing-app", 8),
    ] {
        let path = dir.join("examples").join(name).join("synapsor.runner.json");
        let output = sluicegate(&["audit", path.to_str().unwrap(), "--json"]);
        assert_eq!(code(&output), 0, "{name}: {}", stderr(&output));
        let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(
            doc["summary"],
            json!({"tools_inspected": tools, "high": 0, "medium": tools, "low": tools, "total_findings": 2 * tools}),
            "{name}"
        );
    }
}

#[test]
fn invalid_config_is_refused_before_the_audit() {
    let dir = conformance_dir();
    let mut config = read_json(&dir.join("examples/mcp-postgres-billing/synapsor.runner.json"));
    config["mode"] = json!("yolo");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let output = sluicegate(&["audit", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("$.mode"), "{}", stderr(&output));
}

#[test]
fn benchmark_text_equals_fixture() {
    let dir = conformance_dir();
    let fixture =
        std::fs::read_to_string(dir.join("fixtures/benchmark/mcp-efficiency.txt")).unwrap();
    let output = sluicegate(&["benchmark", "mcp-efficiency"]);
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), fixture);
}

#[test]
fn benchmark_json_equals_fixture() {
    let dir = conformance_dir();
    let path = dir.join("fixtures/benchmark/mcp-efficiency.json");
    let output = sluicegate(&["benchmark", "mcp-efficiency", "--json"]);
    assert_eq!(code(&output), 0);
    let ours: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(ours, read_json(&path));
    // Key order and 2-space indentation as well.
    let fixture = std::fs::read_to_string(&path).unwrap();
    assert_eq!(stdout(&output).trim_end(), fixture.trim_end());
}

#[test]
fn benchmark_config_adds_the_served_section() {
    let dir = conformance_dir();
    let config = dir.join("examples/mcp-postgres-billing/synapsor.runner.json");
    let output = sluicegate(&[
        "benchmark",
        "mcp-efficiency",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("\nSluicegate served tools/list ("), "{text}");
    assert!(text.contains("  exposed tools: 2\n"));
    let output = sluicegate(&[
        "benchmark",
        "mcp-efficiency",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        doc["sluicegate_served_tools_list"]["exposed_tools"],
        json!(2)
    );
    assert!(
        doc["sluicegate_served_tools_list"]["serialized_tools_list_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn benchmark_unknown_subcommand_exits_2() {
    let output = sluicegate(&["benchmark", "nope"]);
    assert_eq!(code(&output), 2);
}

#[test]
fn live_stdio_audit_of_a_fake_server() {
    let tmp = tempfile::tempdir().unwrap();
    let script = write_fake(tmp.path());
    let command = format!("python3 '{script}' ok");
    let output = sluicegate(&[
        "audit",
        "--stdio",
        &command,
        "--json",
        "--timeout-ms",
        "3000",
    ]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(doc["target"], json!(format!("stdio:{command}")));
    assert_eq!(doc["summary"]["tools_inspected"], json!(1));
    let codes: Vec<_> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        codes.contains(&"MODEL_CALLABLE_COMMIT_OR_APPROVAL".to_owned()),
        "{codes:?}"
    );
    // The positional `stdio:` form is the same target.
    let positional = format!("stdio:{command}");
    let output = sluicegate(&["audit", &positional]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
}

#[test]
fn live_stdio_failure_is_a_clear_error_within_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let script = write_fake(tmp.path());
    let command = format!("python3 '{script}' die");
    let started = Instant::now();
    let output = sluicegate(&["audit", "--stdio", &command, "--timeout-ms", "3000"]);
    assert!(started.elapsed() < Duration::from_millis(3000) + Duration::from_secs(2));
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(
        err.contains("server exited before answering initialize"),
        "{err}"
    );
    assert!(err.contains("boom"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn mcp_config_with_a_working_and_a_broken_server() {
    let tmp = tempfile::tempdir().unwrap();
    let script = write_fake(tmp.path());
    let config = json!({"mcpServers": {
        "good": {"command": "python3", "args": [script, "ok"]},
        "broken": {"command": "python3", "args": [script, "die"]}
    }});
    let path = tmp.path().join("claude_desktop_config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let path = path.to_str().unwrap();

    let output = sluicegate(&["audit", "--mcp-config", path, "--timeout-ms", "3000"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Servers:\n  good (stdio): audited, 1 tools\n  broken (stdio): not audited: server exited before answering initialize"), "{text}");
    assert!(text.contains("MODEL_CALLABLE_COMMIT_OR_APPROVAL  approve_proposal [server good]"));
    assert!(text.contains("SERVER_NOT_AUDITED  [server broken]"));

    // --no-launch: the static walk finds no tools in a client config.
    let output = sluicegate(&["audit", "--mcp-config", path, "--no-launch", "--json"]);
    assert_eq!(code(&output), 0);
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(doc["findings"][0]["code"], json!("NO_TOOLS_FOUND"));
}

#[test]
fn mcp_config_where_no_server_can_be_audited_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let config =
        json!({"servers": {"gone": {"type": "stdio", "command": "/nonexistent/mcp-server"}}});
    let path = tmp.path().join("mcp.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let output = sluicegate(&["audit", "--mcp-config", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(
        stdout(&output)
            .contains("gone (stdio): not audited: could not start `/nonexistent/mcp-server`")
    );
    assert!(stderr(&output).contains("no server in the MCP client config could be audited"));
}
