//! The three read-only resource templates (mcp-surface.md §11): proposals, evidence bundles
//! and replays, served from the ledger. They never touch a source database.
//!
//! Unlike the reference, a read is scoped to the tenants this server acts for (the trusted
//! contexts it can resolve): a record of another tenant reads as "not found", so a guessed or
//! leaked id does not cross the tenant boundary.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sluicegate_core::call::resolve_context;
use sluicegate_ledger::{Ledger, LedgerError};

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

enum Collection {
    Proposals,
    Evidence,
    Replay,
}

/// Split `synapsor://<collection>/<id>[/...]` into its parts.
fn parse(uri: &str) -> Option<(Collection, String)> {
    let rest = uri.strip_prefix("synapsor://")?;
    let (host, path) = rest.split_once('/')?;
    let collection = match host {
        "proposals" => Collection::Proposals,
        "evidence" => Collection::Evidence,
        "replay" => Collection::Replay,
        _ => return None,
    };
    let id = path.split(['/', '?', '#']).next().unwrap_or("");
    (!id.is_empty()).then(|| (collection, id.to_string()))
}

impl Surface {
    /// Read one resource: the JSON payload to return as the resource's text.
    pub async fn read_resource(&self, uri: &str) -> Result<Value, ResourceError> {
        let (collection, id) =
            parse(uri).ok_or_else(|| ResourceError::UnknownUri(uri.to_string()))?;
        let ledger = self.api().ledger().clone();
        if !ledger.is_available() {
            return Err(ResourceError::StoreUnavailable);
        }
        let tenants = self.tenants();
        let task = tokio::task::spawn_blocking(move || read(&ledger, collection, &id, &tenants));
        task.await
            .map_err(|e| ResourceError::Internal(e.to_string()))?
    }

    /// Tenants this server can act for: the trusted context of every capability that resolves.
    fn tenants(&self) -> BTreeSet<String> {
        let config = self.api().config();
        let env = self.env().clone();
        let lookup = move |name: &str| env.get(name);
        config
            .capabilities
            .iter()
            .filter_map(|cap| resolve_context(config, cap, &lookup).ok())
            .map(|ctx| ctx.tenant_id)
            .collect()
    }
}

fn read(
    ledger: &Ledger,
    collection: Collection,
    id: &str,
    tenants: &BTreeSet<String>,
) -> Result<Value, ResourceError> {
    let in_scope = |tenant: &str| tenants.contains(tenant);
    match collection {
        Collection::Proposals => {
            let missing = || ResourceError::Missing {
                what: "Proposal",
                id: id.to_string(),
            };
            let proposal = ledger.proposal(id).map_err(|e| ledger_error(e, missing))?;
            if !in_scope(&proposal.tenant_id) {
                return Err(missing());
            }
            let events = ledger.events(id).map_err(|e| ledger_error(e, missing))?;
            let receipts = ledger.receipts(id).map_err(|e| ledger_error(e, missing))?;
            Ok(json!({"proposal": proposal, "events": events, "receipts": receipts}))
        }
        Collection::Evidence => {
            let missing = || ResourceError::Missing {
                what: "Evidence bundle",
                id: id.to_string(),
            };
            let bundle = ledger.evidence(id).map_err(|e| ledger_error(e, missing))?;
            if !in_scope(&bundle.tenant_id) {
                return Err(missing());
            }
            serde_json::to_value(bundle).map_err(|e| ResourceError::Internal(e.to_string()))
        }
        Collection::Replay => {
            let proposal_id = id.strip_prefix("replay_").unwrap_or(id);
            let missing = || ResourceError::Missing {
                what: "proposal",
                id: proposal_id.to_string(),
            };
            let proposal = ledger
                .proposal(proposal_id)
                .map_err(|e| ledger_error(e, missing))?;
            if !in_scope(&proposal.tenant_id) {
                return Err(missing());
            }
            ledger
                .replay(proposal_id)
                .map_err(|e| ledger_error(e, missing))
        }
    }
}

fn ledger_error(e: LedgerError, missing: impl Fn() -> ResourceError) -> ResourceError {
    match e {
        LedgerError::NotFound { .. } => missing(),
        LedgerError::Missing(_) | LedgerError::Io(_) => ResourceError::StoreUnavailable,
        other => ResourceError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_collection_and_id() {
        assert!(matches!(
            parse("synapsor://proposals/wrp_1"),
            Some((Collection::Proposals, id)) if id == "wrp_1"
        ));
        assert!(matches!(
            parse("synapsor://replay/replay_wrp_1/extra"),
            Some((Collection::Replay, id)) if id == "replay_wrp_1"
        ));
        assert!(parse("synapsor://evidence/").is_none());
        assert!(parse("synapsor://other/x").is_none());
        assert!(parse("https://proposals/x").is_none());
    }
}
