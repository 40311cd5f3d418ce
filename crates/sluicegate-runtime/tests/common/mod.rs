//! What the runtime's integration tests share: a reviewer approving exactly what is stored,
//! the way the CLI does after showing it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sluicegate_core::decision::Verdict;
use sluicegate_core::proposal::content_hash;
use sluicegate_ledger::{Ledger, StoredProposal};
use sluicegate_runtime::{DecisionRequest, ReviewApi, ReviewError};

/// Approve proposal `id` as shown: its stored content's hash.
pub async fn approve(
    review: &ReviewApi,
    ledger: &Ledger,
    id: &str,
    reviewer: &str,
    reason: Option<&str>,
) -> Result<StoredProposal, ReviewError> {
    let p = ledger.proposal(id).unwrap();
    review
        .decide(DecisionRequest {
            proposal_id: id.to_string(),
            shown_hash: content_hash(&p.change_set().unwrap()),
            shown_version: p.proposal_version,
            verdict: Verdict::Approve,
            reviewer: reviewer.to_string(),
            reason: reason.map(str::to_string),
            key: None,
        })
        .await
}
