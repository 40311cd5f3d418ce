//! `synapsor.local-event-webhook.v1`: one lifecycle event as `events webhook` POSTs it
//! (store.md §10). The headers are those of a handler request: `content-type`, `accept`,
//! `authorization: Bearer …` when a token is configured, and `x-synapsor-signature`
//! (`sha256=<hex HMAC of the exact body bytes>`) when a signing secret is.

use serde::{Deserialize, Serialize};

pub const EVENT_WEBHOOK_V1: &str = "synapsor.local-event-webhook.v1";

/// The `user-agent` of a delivery.
pub const EVENT_WEBHOOK_USER_AGENT: &str = "sluicegate-events-webhook";

/// Field order is the wire order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub schema_version: String,
    pub delivered_at: String,
    pub source: EventSource,
    pub event: WebhookEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSource {
    /// Always `local_store`.
    pub kind: String,
    pub store_path: String,
}

/// The event JSON view (store.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub event_id: i64,
    pub proposal_id: String,
    pub kind: String,
    pub actor: String,
    pub payload: serde_json::Value,
    pub created_at: String,
}
