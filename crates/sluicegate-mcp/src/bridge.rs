//! The legacy JSON-RPC bridge (`mcp serve-http`): one POST per request, no handshake and no
//! sessions. It serves the same [`Surface`] as MCP, so its `tools/list` is the MCP tool list
//! (JSON Schema, alias modes honoured) and `tools/call` returns the same result object.
//!
//! Everything it writes is scrubbed of database URLs and of the bearer token (mcp-surface.md
//! §10.4), as a second line of defence: the runtime never puts either into a result.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};
use sluicegate_core::secrets::redact_text;

use crate::guard::{HttpSecurity, json_response};
use crate::http::MAX_BODY_BYTES;
use crate::resources::{MIME, ResourceError, TEMPLATES};
use crate::surface::{CallError, Surface, wrap_result};

#[derive(Clone)]
pub(crate) struct BridgeState {
    surface: Arc<Surface>,
    security: Arc<HttpSecurity>,
}

impl BridgeState {
    pub(crate) fn new(surface: Arc<Surface>, security: Arc<HttpSecurity>) -> BridgeState {
        BridgeState { surface, security }
    }
}

/// A JSON-RPC error: code and message.
struct RpcError(i64, String);

fn reply(status: StatusCode, body: &Value) -> Response<Body> {
    let text = serde_json::to_string_pretty(body).unwrap_or_default();
    json_response(status, format!("{text}\n"))
}

pub(crate) async fn handle(State(state): State<BridgeState>, request: Request) -> Response<Body> {
    if request.method() != Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"ok": false, "error": "method_not_allowed"}),
        );
    }
    let (status, body) = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(bytes) => answer(&state.surface, &state.security, &bytes).await,
        Err(_) => {
            let e = RpcError(-32000, "HTTP MCP request body exceeds 1 MiB.".into());
            (
                StatusCode::OK,
                error_object(&state.security, Value::Null, e),
            )
        }
    };
    reply(status, &body)
}

/// The bridge's answer to one POST body: the HTTP status and the JSON-RPC response object,
/// scrubbed of database URLs and the bearer token. [`handle`] is this behind the method check
/// and the body limit; it is public (as `sluicegate_mcp::answer_bridge_message`) so the fuzz
/// targets drive the very parsing, routing and scrubbing a served request gets.
pub async fn answer(
    surface: &Surface,
    security: &HttpSecurity,
    body: &[u8],
) -> (StatusCode, Value) {
    let error = |id: Value, e: RpcError| error_object(security, id, e);
    let message: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let e = RpcError(-32700, format!("Parse error: {e}"));
            return (StatusCode::OK, error(Value::Null, e));
        }
    };
    let Value::Object(message) = message else {
        let e = RpcError(-32600, "JSON-RPC request must be an object.".into());
        return (StatusCode::BAD_REQUEST, error(Value::Null, e));
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        let e = RpcError(-32600, "JSON-RPC method is required.".into());
        return (StatusCode::BAD_REQUEST, error(id, e));
    };
    let params = match message.get("params") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    match dispatch(surface, method, params).await {
        Ok(mut result) => {
            scrub(&mut result, security);
            (
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": id, "result": result}),
            )
        }
        Err(e) => (StatusCode::OK, error(id, e)),
    }
}

/// A JSON-RPC error response, its message scrubbed like every result.
fn error_object(security: &HttpSecurity, id: Value, RpcError(code, message): RpcError) -> Value {
    let message = security.redact_token(&redact_text(&message));
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

async fn dispatch(
    surface: &Surface,
    method: &str,
    mut params: Map<String, Value>,
) -> Result<Value, RpcError> {
    match method {
        "tools/list" => Ok(json!({"tools": surface.tool_definitions().collect::<Vec<_>>()})),
        "tools/call" => {
            let Some(name) = params
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                return Err(RpcError(-32602, "tools/call requires params.name.".into()));
            };
            // `args` is accepted as an alternative spelling (reference behaviour).
            let arguments = params.remove("arguments").or_else(|| params.remove("args"));
            match surface.call(&name, arguments).await {
                Ok(result) => Ok(wrap_result(&result)),
                Err(e @ CallError::UnknownTool(_)) => Err(RpcError(-32602, e.to_string())),
            }
        }
        "resources/templates/list" => Ok(json!({
            "resourceTemplates": TEMPLATES
                .iter()
                .map(|(name, uri, title)| json!({"name": name, "title": title, "uriTemplate": uri, "mimeType": MIME}))
                .collect::<Vec<_>>()
        })),
        "resources/read" => {
            let Some(uri) = params.get("uri").and_then(Value::as_str) else {
                return Err(RpcError(
                    -32602,
                    "resources/read requires params.uri.".into(),
                ));
            };
            match surface.read_resource(uri).await {
                Ok(payload) => Ok(json!({"contents": [{
                    "uri": uri,
                    "mimeType": MIME,
                    "text": serde_json::to_string_pretty(&payload).unwrap_or_default(),
                }]})),
                Err(e @ ResourceError::UnknownUri(_)) => Err(RpcError(-32602, e.to_string())),
                Err(e) => Err(RpcError(-32603, e.to_string())),
            }
        }
        other => Err(RpcError(
            -32601,
            format!("Unsupported MCP HTTP method: {other}"),
        )),
    }
}

/// Redact database URLs and the bearer token from every string and key in `value`.
fn scrub(value: &mut Value, security: &HttpSecurity) {
    match value {
        Value::String(s) => {
            // A string that holds JSON (a tool result's text content) is scrubbed as JSON:
            // redacting its text could cut through an escaped quote and leave it unparseable,
            // or no longer the same document as the structured content beside it.
            if s.starts_with(['{', '['])
                && let Ok(mut inner) = serde_json::from_str::<Value>(s)
            {
                let before = inner.clone();
                scrub(&mut inner, security);
                if inner != before
                    && let Ok(text) = serde_json::to_string_pretty(&inner)
                {
                    *s = text;
                }
                return;
            }
            let clean = security.redact_token(&redact_text(s));
            if clean != *s {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, security)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let clean = security.redact_token(&redact_text(&key));
                if clean != key
                    && let Some(v) = map.remove(&key)
                {
                    map.insert(clean, v);
                }
            }
            map.values_mut().for_each(|v| scrub(v, security));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_core::secrets::Secret;

    /// A tool result's text content stays the JSON of its structured content after a secret
    /// is cut out of both (found by the `jsonrpc_framing` fuzz target: a redaction that ran
    /// over the text swallowed an escaped quote).
    #[test]
    fn json_text_is_scrubbed_as_json() {
        let security = HttpSecurity::new(None, "127.0.0.1", &[], &[]).expect("security");
        let payload = json!({"ok": false, "argument": "x\"};a-token=4f-.\n\"}b"});
        let mut value = json!({
            "content": [{"type": "text", "text": serde_json::to_string_pretty(&payload).unwrap()}],
            "structuredContent": payload,
        });
        scrub(&mut value, &security);
        let text: Value =
            serde_json::from_str(value["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(text, value["structuredContent"]);
        assert!(!text.to_string().contains("4f-."), "{text}");
    }

    /// Every string of a bridge answer, however deep, loses database URLs and the token.
    #[test]
    fn answers_are_scrubbed_of_urls_and_the_token() {
        let security = HttpSecurity::new(Some(Secret::new("tok-canary-81")), "127.0.0.1", &[], &[])
            .expect("security");
        let mut value = json!({
            "error": "connect POSTGRES://u:p@h:5432/db failed",
            "items": [{"note": "sent Bearer tok-canary-81"}, "tok-canary-81 again", 7],
            "plain": "nothing to hide"
        });
        scrub(&mut value, &security);
        assert_eq!(
            value,
            json!({
                "error": "connect <redacted> failed",
                "items": [{"note": "sent Bearer <redacted>"}, "<redacted> again", 7],
                "plain": "nothing to hide"
            })
        );
    }
}
