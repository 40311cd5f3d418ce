//! The three read-only resource templates (mcp-surface.md §11): proposals, evidence bundles
//! and replays, read through the runtime's `AgentApi::read_record`. They never touch a source
//! database and never write to the ledger.
//!
//! Unlike the reference, a read is scoped to the tenants this server acts for (the trusted
//! contexts it can resolve): a record of another tenant reads as "not found", so a guessed or
//! leaked id does not cross the tenant boundary.

use serde_json::Value;
use sluicegate_runtime::{RecordError, RecordKind};

use crate::surface::Surface;

/// `(name, uriTemplate, title)` of each template, in listing order.
pub const TEMPLATES: [(&str, &str, &str); 3] = [
    (
        "synapsor-proposals",
        "synapsor://proposals/{proposal_id}",
        "Synapsor proposal",
    ),
    (
        "synapsor-evidence",
        "synapsor://evidence/{evidence_bundle_id}",
        "Synapsor evidence bundle",
    ),
    (
        "synapsor-replay",
        "synapsor://replay/{replay_id}",
        "Synapsor replay record",
    ),
];

pub const MIME: &str = "application/json";

const STORE_UNAVAILABLE: &str = "The local Synapsor store is temporarily unavailable. Restart the runner or recreate the store before retrying.";

/// Why a resource could not be read. None of these is a tool result: transports turn them
/// into JSON-RPC errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// The URI matches no template (or has no id).
    #[error("Resource {0} not found")]
    UnknownUri(String),
    /// The id is well formed but no such record exists for this server's tenants.
    #[error("{what} not found: {id}")]
    Missing { what: &'static str, id: String },
    #[error("{STORE_UNAVAILABLE}")]
    StoreUnavailable,
    #[error("resource read failed: {0}")]
    Internal(String),
}

/// Split `synapsor://<collection>/<id>[/...]` into its parts.
fn parse(uri: &str) -> Option<(RecordKind, String)> {
    let rest = uri.strip_prefix("synapsor://")?;
    let (host, path) = rest.split_once('/')?;
    let collection = match host {
        "proposals" => RecordKind::Proposal,
        "evidence" => RecordKind::Evidence,
        "replay" => RecordKind::Replay,
        _ => return None,
    };
    let id = path.split(['/', '?', '#']).next().unwrap_or("");
    (!id.is_empty()).then(|| (collection, id.to_string()))
}

impl Surface {
    /// Read one resource: the JSON payload to return as the resource's text. Reading never
    /// writes; the runtime scopes it to the tenants this server acts for.
    pub async fn read_resource(&self, uri: &str) -> Result<Value, ResourceError> {
        let (kind, id) = parse(uri).ok_or_else(|| ResourceError::UnknownUri(uri.to_string()))?;
        self.api()
            .read_record(kind, &id)
            .await
            .map_err(|e| match e {
                RecordError::Missing { what, id } => ResourceError::Missing { what, id },
                RecordError::Unavailable => ResourceError::StoreUnavailable,
                RecordError::Internal(m) => ResourceError::Internal(m),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_collection_and_id() {
        assert!(matches!(
            parse("synapsor://proposals/wrp_1"),
            Some((RecordKind::Proposal, id)) if id == "wrp_1"
        ));
        assert!(matches!(
            parse("synapsor://replay/replay_wrp_1/extra"),
            Some((RecordKind::Replay, id)) if id == "replay_wrp_1"
        ));
        assert!(parse("synapsor://evidence/").is_none());
        assert!(parse("synapsor://other/x").is_none());
        assert!(parse("https://proposals/x").is_none());
    }
}
