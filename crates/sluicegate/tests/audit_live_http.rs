//! `sluicegate audit --url` against Sluicegate's own Streamable HTTP server with bearer auth:
//! the live handshake, the tool list it serves, and a wrong token refused without leaking it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use mcp_support::*;
use serde_json::Value;

#[test]
fn live_http_audit_of_our_own_server_with_bearer_auth() {
    let fx = Fixture::new(2);
    let mut server = fx.spawn_http("serve-streamable-http", &[]);

    let out = fx
        .cmd()
        .args([
            "audit",
            "--url",
            &server.url,
            "--auth-token-env",
            "SLUICEGATE_HTTP_TOKEN",
            "--json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report["summary"]["tools_inspected"],
        serde_json::json!(2),
        "{report}"
    );
    assert_eq!(report["overall_risk"], serde_json::json!("low"), "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["severity"] != "HIGH"),
        "our own served tools carry no high-risk finding: {report}"
    );
    // The v2 envelope's outputSchema is served, so that finding is absent.
    assert!(
        findings
            .iter()
            .all(|f| f["code"] != "NO_STRUCTURED_OUTPUT_SCHEMA"),
        "{report}"
    );
    assert!(!text.contains(TOKEN));

    // A wrong token: refused by the server (401), a clear error, exit 2, token never shown.
    let out = fx
        .cmd()
        .env("WRONG_TOKEN", "wrong-token-8a1b")
        .args([
            "audit",
            "--url",
            &server.url,
            "--auth-token-env",
            "WRONG_TOKEN",
        ])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("401"), "{all}");
    assert!(
        !all.contains("wrong-token-8a1b") && !all.contains(TOKEN),
        "{all}"
    );
    assert!(server.stop());
}
