//! Live Streamable HTTP audits against a minimal HTTP/1.1 server written here on a loopback
//! `TcpListener`: bearer auth, `Mcp-Session-Id`, JSON and SSE answers, the plain JSON-RPC
//! fallback, and servers that hang or answer garbage.
//!
//! A live audit of Sluicegate's own Streamable HTTP server belongs here too once that server
//! exists: start it on port 0 and call `audit_target(&Target::Url { .. })` like `audit_url` does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluicegate_audit::{LiveErrorKind, Options, Target, audit_target};
use sluicegate_core::secrets::Secret;

const TOKEN: &str = "test-token-5b1f";
const TIMEOUT: Duration = Duration::from_millis(3000);

#[derive(Debug, Clone)]
struct Request {
    method: String,
    headers: HashMap<String, String>,
    body: Option<Value>,
}

enum Answer {
    Json(u16, Vec<(&'static str, &'static str)>, String),
    /// SSE events, then the stream stays open for a while.
    Sse(Vec<String>),
    Status(u16),
    Hang,
}

type Handler = fn(&Request) -> Answer;

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let method = line.split_whitespace().next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        headers,
        body: serde_json::from_slice(&body).ok(),
    })
}

fn respond(stream: &mut TcpStream, answer: Answer) {
    let reason = |status: u16| match status {
        200 => "OK",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "Status",
    };
    let _ = match answer {
        Answer::Json(status, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                reason(status),
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            stream.write_all(format!("{head}\r\n{body}").as_bytes())
        }
        Answer::Sse(events) => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
            );
            for event in events {
                let _ = stream.write_all(event.as_bytes());
                let _ = stream.flush();
            }
            // Keep the stream open past the audit's time limit: a client that waited for the
            // end of the stream would time out.
            std::thread::sleep(Duration::from_secs(10));
            Ok(())
        }
        Answer::Status(status) => stream.write_all(
            format!(
                "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                reason(status)
            )
            .as_bytes(),
        ),
        Answer::Hang => {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        }
    };
}

/// Starts the fake server; returns its URL and the requests it saw.
fn serve(handler: Handler) -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                if let Some(request) = read_request(&mut stream) {
                    log.lock().expect("log").push(request.clone());
                    respond(&mut stream, handler(&request));
                }
            });
        }
    });
    (url, seen)
}

fn rpc_method(request: &Request) -> &str {
    request
        .body
        .as_ref()
        .and_then(|b| b.get("method"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn rpc_id(request: &Request) -> Value {
    request
        .body
        .as_ref()
        .and_then(|b| b.get("id"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// A spec-shaped Streamable HTTP server with bearer auth and sessions.
fn streamable(request: &Request) -> Answer {
    if request.headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}"))
    {
        return Answer::Json(401, vec![("www-authenticate", "Bearer")], String::new());
    }
    if request.method == "DELETE" {
        return Answer::Status(200);
    }
    let accept = request.headers.get("accept").cloned().unwrap_or_default();
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        return Answer::Status(406);
    }
    match rpc_method(request) {
        "initialize" => Answer::Json(
            200,
            vec![("mcp-session-id", "sess-42")],
            json!({"jsonrpc": "2.0", "id": rpc_id(request), "result": {
                "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake-http", "version": "1"}}})
            .to_string(),
        ),
        method => {
            let session_ok = request.headers.get("mcp-session-id").map(String::as_str)
                == Some("sess-42")
                && request
                    .headers
                    .get("mcp-protocol-version")
                    .map(String::as_str)
                    == Some("2025-11-25");
            if !session_ok {
                return Answer::Status(400);
            }
            match method {
                "notifications/initialized" => Answer::Status(202),
                "tools/list" => {
                    let response = json!({"jsonrpc": "2.0", "id": rpc_id(request), "result": {"tools": [
                        {"name": "run_query", "description": "Run any query", "inputSchema": {"type": "object",
                            "properties": {"query": {"type": "string"}}}}]}});
                    Answer::Sse(vec![
                        "id: 0\ndata:\n\n".to_owned(),
                        ": keep-alive\n\n".to_owned(),
                        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n"
                            .to_owned(),
                        format!("event: message\nid: 1\ndata: {response}\n\n"),
                    ])
                }
                _ => Answer::Status(400),
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
    let (url, seen) = serve(streamable);
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

    std::thread::sleep(Duration::from_millis(100));
    let seen = seen.lock().unwrap().clone();
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
        seen[0].body.as_ref().unwrap()["params"]["protocolVersion"],
        json!("2025-11-25")
    );
    assert!(seen[1].body.as_ref().unwrap().get("id").is_none());
}

#[test]
fn missing_or_wrong_token_is_a_clear_401_without_the_token() {
    let (url, _) = serve(streamable);
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
    let (url, _) = serve(|_| Answer::Hang);
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
    let (url, _) = serve(|_| Answer::Json(200, vec![], "<html>proxy error</html>".to_owned()));
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    drop(listener);
    let started = Instant::now();
    let err = audit_url(&url, None).unwrap_err().to_string();
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(2));
    assert!(err.contains("HTTP request for initialize failed"), "{err}");
}

#[test]
fn plain_json_rpc_endpoint_falls_back_to_tools_list() {
    let (url, seen) = serve(|request| match rpc_method(request) {
        "tools/list" => Answer::Json(
            200,
            vec![],
            json!({"jsonrpc": "2.0", "id": rpc_id(request), "result": {"tools": [
                {"name": "billing.inspect_invoice", "description": "Inspect one invoice."}]}})
            .to_string(),
        ),
        _ => Answer::Json(
            200,
            vec![],
            json!({"jsonrpc": "2.0", "id": rpc_id(request),
                   "error": {"code": -32601, "message": "Method not found"}})
            .to_string(),
        ),
    });
    let report = audit_url(&url, None).expect("audit");
    assert_eq!(report.summary.tools_inspected, 1);
    let methods: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| rpc_method(r).to_owned())
        .collect();
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
