//! Replay: the whole story of one proposal, derived from the ledger. It never re-executes a
//! read or a write.

use serde_json::{Value, json};

use crate::{Ledger, LedgerError};

impl Ledger {
    /// Assemble the replay of a proposal (store.md §8.1). Read-only: reading a replay never
    /// writes ([`Ledger::record_replay`] keeps a copy for the CLI).
    pub fn replay(&self, proposal_id: &str) -> Result<Value, LedgerError> {
        let proposal = self.proposal(proposal_id)?;
        let events = self.events(proposal_id)?;
        let receipts = self.receipts(proposal_id)?;
        let query_audit: Vec<Value> = self
            .query_audit_for_proposal(proposal_id)?
            .into_iter()
            .map(|a| {
                json!({
                    "audit_id": a.audit_id,
                    "proposal_id": a.proposal_id,
                    "evidence_bundle_id": a.evidence_bundle_id,
                    "source_id": a.source_id,
                    "query_fingerprint": a.query_fingerprint,
                    "table_name": a.table_name,
                    "row_count": a.row_count,
                    "payload": a.payload,
                    "created_at": a.created_at,
                })
            })
            .collect();
        let evidence: Vec<Value> = self
            .evidence_for_proposal(proposal_id)?
            .into_iter()
            .map(|b| {
                json!({
                    "evidence_bundle_id": b.evidence_bundle_id,
                    "proposal_id": b.proposal_id,
                    "tenant_id": b.tenant_id,
                    "payload": b.payload,
                    "items": b.items,
                    "query_audit": b.query_audit,
                    "created_at": b.created_at,
                })
            })
            .collect();
        let replay_id = format!("replay_{proposal_id}");
        let generated_at = self.now();
        let mut replay = json!({
            "replay_id": replay_id,
            "proposal": proposal,
            "events": events,
            "receipts": receipts,
            "query_audit": query_audit,
            "evidence": evidence,
            "generated_at": generated_at,
        });
        // Shadow mode: what a person did by hand instead (only when something was recorded).
        let actions = self.shadow_actions(proposal_id)?;
        if !actions.is_empty() {
            replay["shadow_human_actions"] = serde_json::to_value(actions)?;
        }
        Ok(replay)
    }
}
