//! Talking to live MCP servers: the client half of the MCP handshake (`initialize` →
//! `notifications/initialized` → `tools/list`, with pagination) over stdio and Streamable HTTP.
//!
//! Every entry point is bounded by one time limit for the whole exchange, caps how much output it
//! keeps, and never panics on what a server sends. The result is a synthetic `tools/list` response
//! `{"jsonrpc":"2.0","id":2,"result":{"tools":[…all pages…]}}`, so finding paths read
//! `$.result.tools[i]` whichever transport was used.

pub mod http;
pub mod stdio;

use std::sync::Mutex;

use serde_json::{Value, json};

use crate::error::{LiveErrorKind, snippet};

/// The protocol version the audit asks for.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// Largest single message kept from a server.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// Most `tools/list` pages followed before giving up on a server that never stops paginating.
const MAX_PAGES: usize = 100;

/// The handshake step in progress, readable after a timeout cancelled the exchange.
#[derive(Debug)]
pub(crate) struct Progress(Mutex<&'static str>);

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress(Mutex::new("initialize"))
    }

    fn set(&self, stage: &'static str) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = stage;
        }
    }

    pub(crate) fn get(&self) -> &'static str {
        self.0.lock().map_or("initialize", |guard| *guard)
    }
}

/// One transport's way of exchanging JSON-RPC messages.
pub(crate) trait Session {
    /// Sends a request and returns its `result` (an `error` response becomes `Rpc`).
    async fn request(
        &mut self,
        stage: &'static str,
        id: u64,
        method: &'static str,
        params: Value,
    ) -> Result<Value, LiveErrorKind>;

    /// Sends a notification (no answer expected).
    async fn notify(
        &mut self,
        stage: &'static str,
        method: &'static str,
    ) -> Result<(), LiveErrorKind>;

    /// Called once the server has agreed on a protocol version.
    fn set_protocol_version(&mut self, _version: &str) {}
}

fn client_info() -> Value {
    json!({ "name": "sluicegate-audit", "version": env!("CARGO_PKG_VERSION") })
}

/// `initialize`, `notifications/initialized`, then every `tools/list` page.
///
/// A plain JSON-RPC endpoint that answers `initialize` with "method not found" (like the
/// reference's bridge) is still audited: the audit then asks for `tools/list` directly.
pub(crate) async fn handshake<S: Session>(
    session: &mut S,
    progress: &Progress,
) -> Result<Value, LiveErrorKind> {
    progress.set("initialize");
    let params = json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": client_info(),
    });
    match session.request("initialize", 1, "initialize", params).await {
        Ok(result) => {
            let version = result
                .get("protocolVersion")
                .and_then(Value::as_str)
                .ok_or_else(|| LiveErrorKind::Malformed {
                    stage: "initialize",
                    detail: "the result has no protocolVersion".to_owned(),
                })?;
            session.set_protocol_version(version);
            progress.set("notifications/initialized");
            session
                .notify("notifications/initialized", "notifications/initialized")
                .await?;
        }
        Err(LiveErrorKind::Rpc { code: -32601, .. }) => {}
        Err(other) => return Err(other),
    }

    progress.set("tools/list");
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let id = 2 + page as u64;
        let result = session
            .request("tools/list", id, "tools/list", params)
            .await?;
        let page_tools = result
            .get("tools")
            .and_then(Value::as_array)
            .ok_or_else(|| LiveErrorKind::Malformed {
                stage: "tools/list",
                detail: "the result has no tools array".to_owned(),
            })?;
        tools.extend(page_tools.iter().cloned());
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
            _ => return Ok(json!({ "jsonrpc": "2.0", "id": 2, "result": { "tools": tools } })),
        }
    }
    Err(LiveErrorKind::Malformed {
        stage: "tools/list",
        detail: format!("still paginating after {MAX_PAGES} pages"),
    })
}

/// What one incoming JSON-RPC message means to a client waiting for response `id`.
pub(crate) enum Incoming {
    /// The awaited response: its result, or its error.
    Response(Result<Value, LiveErrorKind>),
    /// A request from the server, which deserves a "method not found" reply.
    ServerRequest(Value),
    /// Anything else: a notification, a response to another id.
    Other,
}

fn id_matches(value: Option<&Value>, id: u64) -> bool {
    match value {
        Some(Value::Number(n)) => n.as_u64() == Some(id),
        Some(Value::String(s)) => s == &id.to_string(),
        _ => false,
    }
}

/// Classifies one message (or a batch) received while waiting for response `id`.
pub(crate) fn classify(message: &Value, stage: &'static str, id: u64) -> Incoming {
    if let Value::Array(batch) = message {
        for item in batch {
            if let Incoming::Response(result) = classify(item, stage, id) {
                return Incoming::Response(result);
            }
        }
        return Incoming::Other;
    }
    let Some(object) = message.as_object() else {
        return Incoming::Other;
    };
    let is_response = object.contains_key("result") || object.contains_key("error");
    if is_response && id_matches(object.get("id"), id) {
        if let Some(error) = object.get("error") {
            return Incoming::Response(Err(LiveErrorKind::Rpc {
                stage,
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: snippet(
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)"),
                    240,
                ),
            }));
        }
        let result = object.get("result").cloned().unwrap_or(Value::Null);
        if !result.is_object() {
            return Incoming::Response(Err(LiveErrorKind::Malformed {
                stage,
                detail: "the result is not an object".to_owned(),
            }));
        }
        return Incoming::Response(Ok(result));
    }
    match (object.get("method"), object.get("id")) {
        (Some(Value::String(_)), Some(request_id)) if !request_id.is_null() => {
            Incoming::ServerRequest(request_id.clone())
        }
        _ => Incoming::Other,
    }
}

/// The reply to a server-initiated request the audit does not serve.
pub(crate) fn method_not_found(request_id: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": request_id,
        "error": { "code": -32601, "message": "method not supported by sluicegate audit" },
    })
}

/// Parses one message, or says why it is not JSON-RPC.
pub(crate) fn parse_message(text: &str, stage: &'static str) -> Result<Value, LiveErrorKind> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => Ok(value),
        _ => Err(LiveErrorKind::Garbage {
            stage,
            snippet: snippet(text, 120),
        }),
    }
}
