//! `ReviewApi`: human decisions and writeback, outside MCP.
//!
//! A decision is bound to the content hash the reviewer was shown, and signed with the
//! reviewer's key when reviewers are configured. Apply trusts nothing because it is stored: it
//! checks the proposal's hash chain, then asks `core::authority::can_apply` (recomputed
//! content hash, a matching approval, its signature, the capability's rules again) before any
//! executor runs: the guarded `UPDATE` (`sql`) or an app-owned handler (`crate::handler`).

mod job_file;
mod sql;

pub use job_file::{JobFileOptions, ValidJob};

use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::authority::{ApplyInput, ApplyRefusal, can_apply};
use sluicegate_core::config::{Config, Executor};
use sluicegate_core::decision::{DecisionRecord, SigningKey, Verdict, public_key_text};
use sluicegate_core::writeback::{DEFAULT_RUNNER_ID, ExecutorResult};
use sluicegate_ledger::{Ledger, LedgerError, StoredProposal};
use sluicegate_protocol::writeback_job::WritebackJobV1;
use sluicegate_protocol::{ExecutionReceipt, ReceiptStatus};

use crate::handler::{HandlerApply, HandlerReport};
use crate::{Env, now_iso};

/// Why a review action did not happen. A refusal has a stable code and wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl ReviewError {
    pub(crate) fn refused(code: &'static str, message: impl Into<String>) -> ReviewError {
        ReviewError::Refused {
            code,
            message: message.into(),
        }
    }

    /// The stable code of a refusal (the ledger's own refusals included).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ReviewError::Refused { code, .. } => Some(code),
            ReviewError::Ledger(e) => e.code(),
        }
    }
}

impl From<ApplyRefusal> for ReviewError {
    fn from(r: ApplyRefusal) -> Self {
        ReviewError::refused(r.code.as_str(), r.message)
    }
}

/// Options of `apply`.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub dry_run: bool,
    pub project_id: String,
    pub lease_seconds: i64,
    /// Call an app-owned handler again although an earlier attempt was sent: the operator's
    /// explicit request, never a default. The handler gets the same idempotency key.
    pub force_handler_retry: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            dry_run: false,
            project_id: "local".into(),
            lease_seconds: 300,
            force_handler_retry: false,
        }
    }
}

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub proposal: StoredProposal,
    /// `sql_update`, or the name of the configured app-owned executor.
    pub executor: String,
    pub writeback_job_id: String,
    pub idempotency_key: String,
    /// The direct-SQL job; `None` on the app-owned handler path.
    pub job: Option<WritebackJobV1>,
    pub result: ExecutorResult,
    /// `None` for dry runs: they record an event, never a receipt.
    pub receipt: Option<ExecutionReceipt>,
    pub dry_run: bool,
    pub completed_at: String,
    /// What happened on the app-owned handler path.
    pub handler: Option<HandlerReport>,
    /// Who approved it, and whether the approval is signed.
    pub approved_by: String,
    pub signed: bool,
}

impl ApplyReport {
    /// The legacy `1.0` result object printed by `apply --json`.
    pub fn legacy_result(&self, runner_id: &str) -> Value {
        let mut out = json!({
            "protocol_version": "1.0",
            "job_id": self.writeback_job_id,
            "runner_id": runner_id,
            "status": self.result.status.as_str(),
        });
        if self.result.status != ReceiptStatus::Failed {
            out["affected_rows"] = json!(self.result.affected_rows);
            if let Some(h) = &self.result.result_hash {
                out["result_hash"] = json!(h);
            }
        }
        out["completed_at"] = json!(self.completed_at);
        if let Some(code) = &self.result.error_code {
            out["error_code"] = json!(code);
        }
        out
    }
}

/// A reviewer's decision on what they were shown.
#[derive(Debug, Clone)]
pub struct DecisionRequest {
    pub proposal_id: String,
    /// The content hash shown to the reviewer: the decision is refused when the stored
    /// proposal no longer hashes to it.
    pub shown_hash: String,
    pub shown_version: u32,
    pub verdict: Verdict,
    /// Who decides (with reviewers configured, the configured reviewer the key belongs to).
    pub reviewer: String,
    /// Required to reject.
    pub reason: Option<String>,
    /// The reviewer's signing key; required when reviewers are configured.
    pub key: Option<SigningKey>,
}

/// The refusal when a proposal's records do not verify: the ledger was edited outside
/// Sluicegate. `outcome` says what was not done.
pub(crate) fn ledger_tampered(p: &sluicegate_ledger::Problem, outcome: &str) -> ReviewError {
    ReviewError::refused(
        "LEDGER_TAMPERED",
        format!(
            "proposal {}: {}; the ledger was changed outside Sluicegate, {outcome} (run `sluicegate store verify`)",
            p.proposal_id, p.message
        ),
    )
}

/// What a reviewer is about to decide on: the stored proposal and the content hash to show.
/// Refused when the stored content no longer hashes to its recorded hash (edited in the
/// ledger), or when `pinned` (the hash the reviewer reviewed earlier) is not it.
pub fn shown_for_decision(
    ledger: &Ledger,
    selector: &str,
    pinned: Option<&str>,
) -> Result<(StoredProposal, String), ReviewError> {
    let p = ledger.proposal(&ledger.resolve_proposal_id(selector)?)?;
    let shown = sluicegate_core::proposal::content_hash(&p.change_set()?);
    if shown != p.proposal_hash {
        return Err(ReviewError::refused(
            "PROPOSAL_CONTENT_MODIFIED",
            format!(
                "proposal {} no longer matches its recorded hash; it was edited in the ledger (run `sluicegate store verify`)",
                p.proposal_id
            ),
        ));
    }
    if let Some(pinned) = pinned.filter(|h| *h != shown) {
        return Err(ReviewError::refused(
            "PROPOSAL_HASH_MISMATCH",
            format!(
                "you reviewed {pinned}, but proposal {} now hashes to {shown}; review it again",
                p.proposal_id
            ),
        ));
    }
    Ok((p, shown))
}

/// Human decisions and writeback. Never handed to a model-facing front end.
#[derive(Clone)]
pub struct ReviewApi {
    config: Option<Arc<Config>>,
    pub(crate) ledger: Ledger,
    pub(crate) env: Env,
    pub(crate) runner_id: String,
}

impl ReviewApi {
    /// `config` is needed for `apply` (the reviewed authority), and for decisions when
    /// reviewers are configured (whose keys sign them).
    pub fn new(config: Option<Arc<Config>>, ledger: Ledger, env: Env) -> ReviewApi {
        let runner_id = env
            .get("SLUICEGATE_RUNNER_ID")
            .unwrap_or_else(|| DEFAULT_RUNNER_ID.to_string());
        crate::failpoint::arm(&env);
        ReviewApi {
            config,
            ledger,
            env,
            runner_id,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn runner_id(&self) -> &str {
        &self.runner_id
    }

    /// Whether decisions must be signed (reviewers are configured).
    pub fn signing_required(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| !c.reviewers.is_empty())
    }

    /// Record a decision on what the reviewer was shown, signed when a key is given.
    pub async fn decide(&self, req: DecisionRequest) -> Result<StoredProposal, ReviewError> {
        let reason = req.reason.filter(|r| !r.trim().is_empty());
        if req.verdict == Verdict::Reject && reason.is_none() {
            return Err(ReviewError::refused(
                "REJECTION_REASON_REQUIRED",
                "a rejection needs a reason (--reason \"...\")",
            ));
        }
        let reviewer = self.reviewer_for(&req.reviewer, req.key.as_ref())?;
        // A proposal whose records do not verify offers no decision, on any front end: what
        // the reviewer was shown may not be what its change set says.
        let id = req.proposal_id.clone();
        let verified = self.read(move |l| l.verify_proposal(&id, &[])).await?;
        if let Some(p) = verified.problems.first() {
            return Err(ledger_tampered(p, "no decision was recorded"));
        }
        let mut record = DecisionRecord {
            proposal_id: req.proposal_id,
            proposal_version: req.shown_version,
            content_hash: req.shown_hash,
            verdict: req.verdict,
            reviewer,
            reason,
            decided_at: now_iso(),
            signature: None,
            reviewer_key: None,
        };
        if let Some(key) = &req.key {
            record.sign(key);
        }
        Ok(self.ledger.decide(record).await?)
    }

    /// The name a decision is recorded under. With reviewers configured, the key decides who
    /// is deciding: it must be a configured reviewer's key.
    fn reviewer_for(&self, name: &str, key: Option<&SigningKey>) -> Result<String, ReviewError> {
        let Some(config) = self.config.as_ref().filter(|c| !c.reviewers.is_empty()) else {
            return Ok(name.to_string());
        };
        let Some(key) = key else {
            return Err(ReviewError::refused(
                "REVIEWER_KEY_REQUIRED",
                "reviewers are configured, so decisions must be signed: pass --key <file> (written by `sluicegate reviewer init`) or set SLUICEGATE_REVIEWER_KEY",
            ));
        };
        let public = public_key_text(&key.verifying_key());
        config
            .reviewers
            .iter()
            .find(|r| r.public_key == public)
            .map(|r| r.name.clone())
            .ok_or_else(|| {
                ReviewError::refused(
                    "REVIEWER_UNKNOWN",
                    format!(
                        "this key ({public}) belongs to no configured reviewer; add it to \"reviewers\" in the config"
                    ),
                )
            })
    }

    /// Run ledger reads from async code on a blocking thread, so a slow read never stalls the
    /// runtime's other work.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, ReviewError>
    where
        T: Send + 'static,
        F: FnOnce(&Ledger) -> Result<T, LedgerError> + Send + 'static,
    {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || f(&ledger))
            .await
            .map_err(|e| ReviewError::refused("LEDGER_READ_FAILED", e.to_string()))?
            .map_err(ReviewError::from)
    }

    /// Apply an approved proposal with its configured executor.
    pub async fn apply(
        &self,
        selector: &str,
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, ReviewError> {
        let config = self.config.clone().ok_or_else(|| {
            ReviewError::refused(
                "CONFIG_REQUIRED",
                "apply needs the reviewed config (--config)",
            )
        })?;
        let selector = selector.to_string();
        let (proposal, decisions, verified) = self
            .read(move |l| {
                let id = l.resolve_proposal_id(&selector)?;
                let proposal = l.proposal(&id)?;
                let decisions = l.decisions(&id)?;
                // The ledger's own integrity (chain, digests, decisions against their events,
                // signatures against the keys recorded beside them). Whether the approval is
                // a configured reviewer's is `can_apply`'s question, answered with its own
                // codes: an approval signed by a reviewer the config no longer lists is not
                // a ledger edit.
                let verified = l.verify_proposal(&id, &[])?;
                Ok((proposal, decisions, verified))
            })
            .await?;
        if let Some(p) = verified.problems.first() {
            return Err(ledger_tampered(p, "nothing was applied"));
        }
        let cs = proposal.change_set()?;
        let stored_hash = proposal.proposal_hash.clone();
        let authority = can_apply(ApplyInput {
            config: &config,
            change_set: &cs,
            stored_hash: &stored_hash,
            stored_version: proposal.proposal_version,
            decisions: &decisions,
        })?;
        let approval = (
            authority.approval.reviewer.clone(),
            authority.approval.signature.is_some(),
        );
        let mut report = if authority.executor == "sql_update" {
            self.apply_sql(&config, authority.cap, &cs, proposal, opts)
                .await?
        } else {
            let executor = match config.executors.get(&authority.executor) {
                None => {
                    return Err(ReviewError::refused(
                        "EXECUTOR_NOT_CONFIGURED",
                        format!("executor {} is not configured", authority.executor),
                    ));
                }
                Some(Executor::SqlUpdate) => {
                    return Err(ReviewError::refused(
                        "EXECUTOR_NOT_CONFIGURED",
                        format!("unsupported executor type for {}", authority.executor),
                    ));
                }
                Some(e) => e,
            };
            self.apply_handler(
                HandlerApply {
                    cs: &cs,
                    proposal,
                    executor_name: &authority.executor,
                    executor,
                },
                opts,
            )
            .await?
        };
        (report.approved_by, report.signed) = approval;
        Ok(report)
    }
}
