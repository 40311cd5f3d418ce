//! The Streamable HTTP transport: every message is a POST to the MCP endpoint with
//! `Accept: application/json, text/event-stream`; the answer is either one JSON body or an SSE
//! stream carrying the response. `Mcp-Session-Id` from `initialize` is carried on every later
//! request, and the session is deleted at the end.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Response, Url};
use serde_json::{Value, json};
use sluicegate_core::secrets::Secret;

use super::{Incoming, MAX_MESSAGE_BYTES, Progress, Session, classify, handshake};
use crate::error::{LiveError, LiveErrorKind};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// Time allowed for the best-effort session DELETE after a successful audit.
const DELETE_GRACE: Duration = Duration::from_millis(500);

/// A Streamable HTTP server to audit. The URL may carry credentials in its userinfo or query,
/// and header values are often API keys, so both are [`Secret`]s like the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpServer {
    pub url: Secret,
    /// Extra headers (e.g. from an MCP client config).
    pub headers: Vec<(String, Secret)>,
    pub bearer: Option<Secret>,
}

/// Performs the handshake against `server` and returns its full tool list, all within `timeout`.
pub async fn list_tools(server: &HttpServer, timeout: Duration) -> Result<Value, LiveError> {
    let mut session = HttpSession::connect(server)?;
    let progress = Progress::new();
    let outcome = tokio::time::timeout(timeout, handshake(&mut session, &progress)).await;
    match outcome {
        Ok(Ok(tools)) => {
            session.close().await;
            Ok(tools)
        }
        Ok(Err(kind)) => Err(kind.into()),
        Err(_elapsed) => Err(LiveErrorKind::Timeout {
            stage: progress.get(),
            ms: timeout.as_millis(),
        }
        .into()),
    }
}

struct HttpSession {
    client: Client,
    url: Url,
    headers: HeaderMap,
    session_id: Option<HeaderValue>,
    protocol_version: Option<HeaderValue>,
}

fn transport(stage: &'static str, detail: impl Into<String>) -> LiveErrorKind {
    LiveErrorKind::Transport {
        stage,
        detail: detail.into(),
    }
}

/// A reqwest error without its URL (which may carry credentials), with its causes.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl HttpSession {
    fn connect(server: &HttpServer) -> Result<HttpSession, LiveErrorKind> {
        let stage = "initialize";
        let url = Url::parse(server.url.expose())
            .map_err(|err| transport(stage, format!("invalid URL: {err}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(transport(
                stage,
                "the URL must start with http:// or https://",
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &server.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| transport(stage, format!("invalid header name {name:?}")))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| transport(stage, format!("invalid value for header {name}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(token) = &server.bearer {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| transport(stage, "the bearer token is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| transport(stage, describe(err)))?;
        Ok(HttpSession {
            client,
            url,
            headers,
            session_id: None,
            protocol_version: None,
        })
    }

    async fn post(&self, stage: &'static str, message: &Value) -> Result<Response, LiveErrorKind> {
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(message.to_string());
        if let Some(id) = &self.session_id {
            request = request.header(SESSION_HEADER, id.clone());
        }
        if let Some(version) = &self.protocol_version {
            request = request.header(VERSION_HEADER, version.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|err| transport(stage, describe(err)))?;
        if !response.status().is_success() {
            return Err(LiveErrorKind::Http {
                stage,
                status: response.status().as_u16(),
            });
        }
        Ok(response)
    }

    /// Best-effort session termination; failures do not matter to the audit.
    async fn close(&self) {
        let Some(id) = &self.session_id else {
            return;
        };
        let request = self
            .client
            .delete(self.url.clone())
            .headers(self.headers.clone())
            .header(SESSION_HEADER, id.clone())
            .send();
        let _ = tokio::time::timeout(DELETE_GRACE, request).await;
    }
}

/// Reads a JSON body, refusing more than [`MAX_MESSAGE_BYTES`].
async fn read_json(
    mut response: Response,
    stage: &'static str,
    id: u64,
) -> Result<Value, LiveErrorKind> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| transport(stage, describe(err)))?
    {
        if body.len() + chunk.len() > MAX_MESSAGE_BYTES {
            return Err(LiveErrorKind::TooLarge {
                stage,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let message = super::parse_message(&String::from_utf8_lossy(&body), stage)?;
    match classify(&message, stage, id) {
        Incoming::Response(result) => result,
        _ => Err(LiveErrorKind::Malformed {
            stage,
            detail: format!("the JSON body holds no response with id {id}"),
        }),
    }
}

/// Reads an SSE stream until the event carrying response `id`.
async fn read_sse(
    mut response: Response,
    stage: &'static str,
    id: u64,
) -> Result<Value, LiveErrorKind> {
    let mut parser = SseParser::default();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| transport(stage, describe(err)))?
    {
        for data in parser.push(&chunk, stage)? {
            let message = super::parse_message(&data, stage)?;
            if let Incoming::Response(result) = classify(&message, stage, id) {
                return result;
            }
        }
    }
    Err(LiveErrorKind::Closed {
        stage,
        status: None,
    })
}

/// Incremental `text/event-stream` parser: yields the `data` of each complete event.
#[derive(Default)]
pub(crate) struct SseParser {
    pending: Vec<u8>,
    data: Vec<String>,
    seen: usize,
}

impl SseParser {
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        stage: &'static str,
    ) -> Result<Vec<String>, LiveErrorKind> {
        self.seen += chunk.len();
        if self.seen > 4 * MAX_MESSAGE_BYTES {
            return Err(LiveErrorKind::TooLarge {
                stage,
                limit: 4 * MAX_MESSAGE_BYTES,
            });
        }
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                // An event whose data is empty (e.g. a resumability priming event) is not dispatched.
                let data = self.data.join("\n");
                self.data.clear();
                if !data.trim().is_empty() {
                    events.push(data);
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                self.data
                    .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
            // `event:`, `id:`, `retry:` and comments do not matter for reading one response.
        }
        if self.pending.len() > MAX_MESSAGE_BYTES {
            return Err(LiveErrorKind::TooLarge {
                stage,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        Ok(events)
    }
}

impl Session for HttpSession {
    async fn request(
        &mut self,
        stage: &'static str,
        id: u64,
        method: &'static str,
        params: Value,
    ) -> Result<Value, LiveErrorKind> {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let response = self.post(stage, &message).await?;
        if method == "initialize" {
            self.session_id = response.headers().get(SESSION_HEADER).cloned();
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        if is_sse {
            read_sse(response, stage, id).await
        } else {
            read_json(response, stage, id).await
        }
    }

    async fn notify(
        &mut self,
        stage: &'static str,
        method: &'static str,
    ) -> Result<(), LiveErrorKind> {
        // The answer is 202 with no body; it is dropped unread.
        self.post(stage, &json!({ "jsonrpc": "2.0", "method": method }))
            .await
            .map(drop)
    }

    fn set_protocol_version(&mut self, version: &str) {
        self.protocol_version = HeaderValue::from_str(version).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks() {
        let mut parser = SseParser::default();
        assert!(
            parser
                .push(b": comment\nevent: message\nid: 1\nda", "t")
                .unwrap()
                .is_empty()
        );
        let events = parser
            .push(b"ta: {\"a\":\r\ndata:1}\r\n\r\ndata: x\n\n", "t")
            .unwrap();
        assert_eq!(events, vec!["{\"a\":\n1}".to_owned(), "x".to_owned()]);
    }

    #[test]
    fn empty_priming_events_are_skipped() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"id: 0\ndata:\n\n", "t").unwrap().is_empty());
    }

    #[test]
    fn server_debug_shows_no_credential() {
        let server = HttpServer {
            url: Secret::new("https://user:pw-canary@h/mcp?key=key-canary"),
            headers: vec![("x-api-key".into(), Secret::new("hdr-canary"))],
            bearer: Some(Secret::new("tok-canary")),
        };
        let shown = format!("{server:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("x-api-key"), "{shown}");
    }
}
