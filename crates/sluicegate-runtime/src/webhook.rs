//! Lifecycle events out to a webhook (`events webhook`, store.md §10): the envelope, built so
//! it can carry no credential, and one signed POST of it.
//!
//! A delivery is signed exactly like a handler request (`handler::sign`: the same header and
//! `sha256=` HMAC over the exact body bytes) with the secret the operator names, sent without
//! redirects under one deadline, and its answer is never read for meaning: only the status
//! counts, so nothing a receiver says can approve or apply anything.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sluicegate_core::secrets::{redact, redact_text};
use sluicegate_ledger::StoredEvent;
use sluicegate_protocol::event_webhook::{
    EVENT_WEBHOOK_USER_AGENT, EVENT_WEBHOOK_V1, EventEnvelope, EventSource, WebhookEvent,
};
use sluicegate_protocol::handler::headers;

use crate::Secret;
pub use crate::handler::is_http_url;
use crate::handler::sign;

/// The most of a failed answer's body an error message quotes.
const ERROR_BODY_CHARS: usize = 200;

/// Where and how to deliver. The URL, token and secret stay [`Secret`]s: only
/// [`redacted_url`] of the URL is ever shown.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Secret,
    pub token: Option<Secret>,
    pub signing_secret: Option<Secret>,
    pub timeout: Duration,
}

/// The envelope of one event. Every string in the event goes through the secret redactors
/// (event payloads and reasons are not scanned when recorded, store.md §6), so a URL or token
/// someone typed into a reason leaves as `<redacted>`.
pub fn envelope(event: &StoredEvent, store_path: &str, delivered_at: &str) -> EventEnvelope {
    EventEnvelope {
        schema_version: EVENT_WEBHOOK_V1.into(),
        delivered_at: delivered_at.into(),
        source: EventSource {
            kind: "local_store".into(),
            store_path: redact_text(store_path),
        },
        event: WebhookEvent {
            event_id: event.event_id,
            proposal_id: redact_text(&event.proposal_id),
            kind: redact_text(&event.kind),
            actor: redact_text(&event.actor),
            payload: scrub(&redact(&event.payload)),
            created_at: event.created_at.clone(),
        },
    }
}

/// `redact_text` over every string of a JSON value.
fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (redact_text(k), scrub(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The URL as it may be printed: no user info, query or fragment.
pub fn redacted_url(url: &Secret) -> String {
    match reqwest::Url::parse(url.expose()) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

/// The default name of a webhook's durable cursor: a digest of the whole URL, so two
/// endpoints never share a cursor and a token in the URL's path or query is not stored, and
/// of the event filter (`filter`, canonical text; empty for none), so a filtered run, which
/// moves its cursor past events it did not send, never makes an unfiltered one skip them.
pub fn cursor_name(url: &Secret, filter: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(url.expose().as_bytes());
    if !filter.is_empty() {
        hash.update(b"\n");
        hash.update(filter.as_bytes());
    }
    format!("webhook-{}", &hex::encode(hash.finalize())[..16])
}

/// Why one delivery attempt failed, in words that name no URL or credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// A non-2xx answer, with the start of its body (redacted).
    Status(u16, String),
    Timeout(Duration),
    /// No HTTP answer: refused, reset, closed early, or not HTTP at all.
    Failed(&'static str),
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Status(code, body) if body.is_empty() => {
                write!(f, "webhook returned HTTP {code}")
            }
            DeliveryError::Status(code, body) => write!(f, "webhook returned HTTP {code}: {body}"),
            DeliveryError::Timeout(t) => {
                write!(f, "webhook did not answer within {} ms", t.as_millis())
            }
            DeliveryError::Failed(what) => write!(f, "webhook request failed: {what}"),
        }
    }
}

/// POST one envelope body (already serialised: the signature covers these exact bytes).
/// Answers the 2xx status, or why the attempt failed.
pub async fn deliver(
    hook: &Webhook,
    body: String,
    event: &StoredEvent,
    delivered_at: &str,
) -> Result<u16, DeliveryError> {
    let client = reqwest::Client::builder()
        .timeout(hook.timeout)
        // A redirect could carry the bearer token and the signed body to another origin.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| DeliveryError::Failed("cannot build an HTTP client"))?;
    let mut req = client
        .post(hook.url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::USER_AGENT, EVENT_WEBHOOK_USER_AGENT)
        // Deliveries are at least once: the receiver drops repeats by this key.
        .header(
            headers::IDEMPOTENCY_KEY,
            format!("event-{}", event.event_id),
        )
        .header(headers::ISSUED_AT, delivered_at)
        .header(headers::PROPOSAL_ID, redact_text(&event.proposal_id));
    if let Some(token) = &hook.token {
        req = req.bearer_auth(token.expose());
    }
    if let Some(secret) = &hook.signing_secret {
        req = req.header(
            headers::SIGNATURE,
            sign(secret.expose().as_bytes(), body.as_bytes()),
        );
    }
    let exchange = async {
        let resp = req.body(body).send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Ok(status.as_u16()));
        }
        let text = resp.text().await.unwrap_or_default();
        let start: String = text.chars().take(ERROR_BODY_CHARS).collect();
        Ok::<_, reqwest::Error>(Err(DeliveryError::Status(
            status.as_u16(),
            redact_text(start.trim()),
        )))
    };
    match tokio::time::timeout(hook.timeout, exchange).await {
        Err(_) => Err(DeliveryError::Timeout(hook.timeout)),
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) if e.is_timeout() => Err(DeliveryError::Timeout(hook.timeout)),
        // The error's own text can name the URL; only its category leaves.
        Ok(Err(e)) if e.is_connect() => Err(DeliveryError::Failed("could not connect")),
        Ok(Err(_)) => Err(DeliveryError::Failed(
            "no valid HTTP answer (connection closed or not HTTP)",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn event(payload: Value, actor: &str) -> StoredEvent {
        StoredEvent {
            event_id: 7,
            proposal_id: "wrp_1".into(),
            kind: "proposal_approved".into(),
            actor: actor.into(),
            payload,
            created_at: "2026-06-20T14:31:09.000Z".into(),
            prev_hash: "sha256:prev".into(),
            chain_hash: "sha256:this".into(),
        }
    }

    #[test]
    fn an_envelope_carries_no_credential_typed_into_an_event() {
        let e = event(
            json!({"reason": "see postgres://app:hunter2@db.internal/prod", "api_key": "k-123", "note": "Bearer abc.def"}),
            "ann",
        );
        let text =
            serde_json::to_string(&envelope(&e, "/srv/.sluicegate/local.db", "now")).unwrap();
        for secret in ["hunter2", "k-123", "abc.def", "sha256:this"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains(EVENT_WEBHOOK_V1));
        assert!(text.contains("\"event_id\":7"));
    }

    #[test]
    fn printed_urls_lose_user_info_query_and_fragment() {
        let url = Secret::new("https://bot:pw@hooks.example/path/x?token=abc#frag");
        assert_eq!(redacted_url(&url), "https://hooks.example/path/x");
        assert!(!cursor_name(&url, "").contains("abc"));
        assert_ne!(
            cursor_name(&url, ""),
            cursor_name(&url, "kind=proposal_approved"),
            "a filtered run keeps a cursor of its own"
        );
        assert_ne!(
            cursor_name(&url, ""),
            cursor_name(&Secret::new("https://hooks.example/path/y"), "")
        );
        assert!(is_http_url("http://127.0.0.1:9/x"));
        assert!(!is_http_url("ftp://x/y"));
        assert!(!is_http_url("not a url"));
    }
}
