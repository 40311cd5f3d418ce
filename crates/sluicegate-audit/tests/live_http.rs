//! Live Streamable HTTP audits against the shared HTTP stub (`sluicegate_test_support`):
//! bearer auth, `Mcp-Session-Id`, JSON and SSE answers, the plain JSON-RPC fallback, and
//! servers that hang or answer garbage.
//!
//! A live audit of Sluicegate's own Streamable HTTP server belongs here too once that server
//! exists: start it on port 0 and call `audit_target(&Target::Url { .. })` like `audit_url` does.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluicegate_audit::{LiveErrorKind, Options, Target, audit_target};
use sluicegate_core::secrets::Secret;
use sluicegate_test_support::http_stub::Request;
use sluicegate_test_support::{HttpStub, Reply};

const TOKEN: &str = "test-token-5b1f";
const TIMEOUT: Duration = Duration::from_millis(3000);

/// Starts the fake server at `/mcp`; returns it and its URL.
fn serve(handler: fn(&Request) -> Reply) -> (HttpStub, String) {
    let stub = HttpStub::start(move |request, _| handler(request));
    let url = stub.url("/mcp");
    (stub, url)
}

fn rpc_method(request: &Request) -> String {
    request
        .json()
        .and_then(|b| b.get("method").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

fn rpc_id(request: &Request) -> Value {
    request
        .json()
        .and_then(|b| b.get("id").cloned())
        .unwrap_or(Value::Null)
}

/// A spec-shaped Streamable HTTP server with bearer auth and sessions.
fn streamable(request: &Request) -> Reply {
    if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return Reply::text(401, "application/json", "").with_header("www-authenticate", "Bearer");
    }
    if request.method == "DELETE" {
        return Reply::status(200);
    }
    let accept = request.header("accept").unwrap_or_default();
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        return Reply::status(406);
    }
    match rpc_method(request).as_str() {
        "initialize" => Reply::json(
            200,
            &json!({"jsonrpc": "2.0", "id": rpc_id(request), "result": {
                "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake-http", "version": "1"}}}),
        )
        .with_header("mcp-session-id", "sess-42"),
        method => {
            let session_ok = request.header("mcp-session-id") == Some("sess-42")
                && request.header("mcp-protocol-version") == Some("2025-11-25");
            if !session_ok {
                return Reply::status(400);
            }
            match method {
                "notifications/initialized" => Reply::status(202),
                "tools/list" => {
                    let response = json!({"jsonrpc": "2.0", "id": rpc_id(request), "result": {"tools": [
                        {"name": "run_query", "description": "Run any query", "inputSchema": {"type": "object",
                            "properties": {"query": {"type": "string"}}}}]}});
                    // The stream stays open past the audit's time limit: a client that waited
                    // for the end of the stream would time out.
                    Reply::Events(vec![
                        "id: 0\ndata:\n\n".to_owned(),
                        ": keep-alive\n\n".to_owned(),
                        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n"
                            .to_owned(),
                        format!("event: message\nid: 1\ndata: {response}\n\n"),
                    ])
                }
                _ => Reply::status(400),
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn audit_url(
    url: &str,
    bearer: Option<&str>,
) -> Result<sluicegate_audit::Report, sluicegate_audit::AuditError> {
    let target = Target::Url {
        url: Secret::new(url),
        bearer: bearer.map(Secret::new),
    };
    let options = Options {
        timeout: TIMEOUT,
        ..Options::default()
    };
    runtime().block_on(audit_target(&target, options, "t"))
}

#[test]
fn streamable_http_audit_with_bearer_session_and_sse() {
    let (stub, url) = serve(streamable);
    let started = Instant::now();
    let report = audit_url(&url, Some(TOKEN)).expect("audit");
    assert!(
        started.elapsed() < TIMEOUT,
        "the open SSE stream must not be waited out: {:?}",
        started.elapsed()
    );
    assert_eq!(report.target, url);
    assert_eq!(report.summary.tools_inspected, 1);
    let first = &report.findings[0];
    assert_eq!(first.code.as_str(), "GENERIC_SQL_TOOL");
    assert_eq!(first.evidence[0], "path $.result.tools[0]");

    // The DELETE ends the session after the tools are in: wait for it on the stub's log.
    let seen = stub.wait_for(4, TIMEOUT);
    let calls: Vec<_> = seen
        .iter()
        .map(|r| format!("{} {}", r.method, rpc_method(r)))
        .collect();
    assert_eq!(
        calls,
        [
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "DELETE "
        ]
    );
    assert!(
        seen.iter()
            .all(|r| r.headers["authorization"] == format!("Bearer {TOKEN}"))
    );
    assert_eq!(seen[3].headers["mcp-session-id"], "sess-42");
    assert_eq!(
        seen[0].json().unwrap()["params"]["protocolVersion"],
        json!("2025-11-25")
    );
    assert!(seen[1].json().unwrap().get("id").is_none());
}

#[test]
fn missing_or_wrong_token_is_a_clear_401_without_the_token() {
    let (_stub, url) = serve(streamable);
    let err = audit_url(&url, None).unwrap_err().to_string();
    assert!(err.contains("HTTP 401 in answer to initialize"), "{err}");
    assert!(err.contains("--auth-token-env"), "{err}");
    let err = audit_url(&url, Some("wrong-secret-value"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(!err.contains("wrong-secret-value"), "{err}");
}

#[test]
fn server_that_never_answers_times_out() {
    let (_stub, url) = serve(|_| Reply::Hang);
    let started = Instant::now();
    let err = audit_url(&url, None).unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= TIMEOUT && elapsed < TIMEOUT + Duration::from_secs(2),
        "{elapsed:?}"
    );
    match err {
        sluicegate_audit::AuditError::Live { source, .. } => assert_eq!(
            source.kind,
            LiveErrorKind::Timeout {
                stage: "initialize",
                ms: 3000
            }
        ),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn server_that_answers_garbage_is_a_clear_error() {
    let (_stub, url) = serve(|_| Reply::text(200, "application/json", "<html>proxy error</html>"));
    let started = Instant::now();
    let err = audit_url(&url, None).unwrap_err().to_string();
    assert!(started.elapsed() < TIMEOUT);
    assert!(
        err.contains("not JSON-RPC while answering initialize"),
        "{err}"
    );
    assert!(err.contains("<html>proxy error</html>"), "{err}");
}

#[test]
fn nothing_listening_is_a_clear_error() {
    let url = format!(
        "http://127.0.0.1:{}/mcp",
        sluicegate_test_support::engines::unused_local_port()
    );
    let started = Instant::now();
    let err = audit_url(&url, None).unwrap_err().to_string();
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(2));
    assert!(err.contains("HTTP request for initialize failed"), "{err}");
}

#[test]
fn plain_json_rpc_endpoint_falls_back_to_tools_list() {
    let (stub, url) = serve(|request| match rpc_method(request).as_str() {
        "tools/list" => Reply::json(
            200,
            &json!({"jsonrpc": "2.0", "id": rpc_id(request), "result": {"tools": [
                {"name": "billing.inspect_invoice", "description": "Inspect one invoice."}]}}),
        ),
        _ => Reply::json(
            200,
            &json!({"jsonrpc": "2.0", "id": rpc_id(request),
                   "error": {"code": -32601, "message": "Method not found"}}),
        ),
    });
    let report = audit_url(&url, None).expect("audit");
    assert_eq!(report.summary.tools_inspected, 1);
    let methods: Vec<_> = stub.requests().iter().map(rpc_method).collect();
    assert_eq!(methods, ["initialize", "tools/list"]);
}

#[test]
fn url_label_never_shows_a_password() {
    let target = Target::Url {
        url: Secret::new("https://user:hunter2@example.invalid/mcp"),
        bearer: None,
    };
    assert_eq!(target.label(), "https://<redacted>@example.invalid/mcp");
    assert!(!format!("{target:?}").contains("hunter2"));
}
