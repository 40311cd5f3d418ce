//! Read-only access to recorded proposals, evidence and replays for model-facing front ends
//! (the MCP resources of mcp-surface.md §11).
//!
//! A front end that faces a model never holds the ledger: it asks the [`AgentApi`] for one
//! record by id, and gets JSON or a typed reason. Reads are scoped to the tenants the server
//! acts for (the trusted contexts it can resolve), so a guessed or leaked id of another tenant
//! reads as "not found". Reading never writes to the ledger, and runs on a blocking thread.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sluicegate_core::call::resolve_context;
use sluicegate_ledger::{Ledger, LedgerError};

use crate::AgentApi;

/// Which kind of record to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A proposal with its events and receipts.
    Proposal,
    /// An evidence bundle.
    Evidence,
    /// The replay of a proposal (`replay_<proposal id>` or the proposal id).
    Replay,
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// No such record exists for this server's tenants.
    #[error("{what} not found: {id}")]
    Missing { what: &'static str, id: String },
    /// The ledger cannot be read right now.
    #[error("the ledger is unavailable")]
    Unavailable,
    #[error("record read failed: {0}")]
    Internal(String),
}

impl AgentApi {
    /// Read one recorded proposal, evidence bundle or replay as JSON.
    pub async fn read_record(&self, kind: RecordKind, id: &str) -> Result<Value, RecordError> {
        let ledger = self.ledger_handle().clone();
        if !ledger.is_available() {
            return Err(RecordError::Unavailable);
        }
        let tenants = self.tenants();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || read(&ledger, kind, &id, &tenants))
            .await
            .map_err(|e| RecordError::Internal(e.to_string()))?
    }

    /// Tenants this server can act for: the trusted context of every capability that resolves.
    fn tenants(&self) -> BTreeSet<String> {
        let config = self.config();
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
    kind: RecordKind,
    id: &str,
    tenants: &BTreeSet<String>,
) -> Result<Value, RecordError> {
    let in_scope = |tenant: &str| tenants.contains(tenant);
    match kind {
        RecordKind::Proposal => {
            let missing = || RecordError::Missing {
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
        RecordKind::Evidence => {
            let missing = || RecordError::Missing {
                what: "Evidence bundle",
                id: id.to_string(),
            };
            let bundle = ledger.evidence(id).map_err(|e| ledger_error(e, missing))?;
            if !in_scope(&bundle.tenant_id) {
                return Err(missing());
            }
            serde_json::to_value(bundle).map_err(|e| RecordError::Internal(e.to_string()))
        }
        RecordKind::Replay => {
            let proposal_id = id.strip_prefix("replay_").unwrap_or(id);
            let missing = || RecordError::Missing {
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

fn ledger_error(e: LedgerError, missing: impl Fn() -> RecordError) -> RecordError {
    match e {
        LedgerError::NotFound { .. } => missing(),
        LedgerError::Missing(_) | LedgerError::Io(_) | LedgerError::WriterStopped => {
            RecordError::Unavailable
        }
        other => RecordError::Internal(other.to_string()),
    }
}
