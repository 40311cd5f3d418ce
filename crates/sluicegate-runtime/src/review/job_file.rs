//! Writeback-job files (cli.md §8.6, §8.8): `proposals writeback-job` hands an approved
//! direct-SQL proposal to a worker as a `synapsor.writeback-job.v1` document, and
//! `validate --job` checks such a file against the reviewed config and the stored proposal.
//!
//! Both run exactly apply's checks, in apply's order: the proposal's hash chain
//! (`Ledger::verify_proposal`), `core::authority::can_apply` (content hash, a bound approval,
//! its signature, the capability's rules), then `core::writeback::check_job_authority` on the
//! job. Nothing here is duplicated from apply; it only stops before the executor. These are
//! blocking calls (the CLI's); async callers run them on a blocking thread.

use serde::Serialize;
use serde_json::Value;
use sluicegate_core::authority::{ApplyInput, Authority, can_apply};
use sluicegate_core::config::Config;
use sluicegate_core::lifecycle::State;
use sluicegate_core::writeback::{check_job_authority, job_from_change_set};
use sluicegate_ledger::{AttemptRequest, JobKind, LedgerError, StoredProposal};
use sluicegate_protocol::ChangeSet;
use sluicegate_protocol::writeback_job::{WRITEBACK_JOB_V1, WritebackJobV1};

use super::{ReviewApi, ReviewError};
use crate::now_iso;

/// Options of `proposals writeback-job`.
#[derive(Debug, Clone)]
pub struct JobFileOptions {
    pub project_id: String,
    /// The runner recorded as the job's actor (default: the configured runner id).
    pub runner_id: Option<String>,
    /// Clamped to 15..3600.
    pub lease_seconds: i64,
}

/// A job file that passed every check.
#[derive(Debug, Clone, Serialize)]
pub struct ValidJob {
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub approved_by: String,
    pub signed: bool,
    pub lease_expires_at: String,
}

impl ReviewApi {
    /// The proposal `selector` names, once its chain and its authority to be applied are
    /// checked: what apply checks before it builds a job.
    fn authorised(
        &self,
        selector: &str,
    ) -> Result<(StoredProposal, ChangeSet, String, bool), ReviewError> {
        let config = self.reviewed_config()?;
        let ledger = &self.ledger;
        let id = ledger.resolve_proposal_id(selector).map_err(not_found)?;
        let proposal = ledger.proposal(&id).map_err(not_found)?;
        let decisions = ledger.decisions(&id)?;
        let verified = ledger.verify_proposal(&id, &[])?;
        if let Some(p) = verified.problems.first() {
            return Err(super::ledger_tampered(p, "no job was written"));
        }
        let cs = proposal.change_set()?;
        let Authority {
            approval, executor, ..
        } = can_apply(ApplyInput {
            config: &config,
            change_set: &cs,
            stored_hash: &proposal.proposal_hash,
            stored_version: proposal.proposal_version,
            decisions: &decisions,
        })?;
        if executor != "sql_update" {
            return Err(ReviewError::refused(
                "EXECUTOR_NOT_SQL",
                format!(
                    "proposal {id} is applied by the app-owned executor {executor}; a writeback-job file is for direct SQL writeback (run `sluicegate apply {id}`)"
                ),
            ));
        }
        let who = (approval.reviewer.clone(), approval.signature.is_some());
        Ok((proposal, cs, who.0, who.1))
    }

    fn reviewed_config(&self) -> Result<std::sync::Arc<Config>, ReviewError> {
        self.config.clone().ok_or_else(|| {
            ReviewError::refused(
                "CONFIG_REQUIRED",
                "this needs the reviewed config (--config)",
            )
        })
    }

    /// Record a writeback job for an approved direct-SQL proposal (moving it to
    /// `pending_worker`) and return the job document. Refused for a proposal that is not
    /// approved, already applied, shadow or read-only, or applied by an app-owned handler.
    pub fn writeback_job_file(
        &self,
        selector: &str,
        opts: &JobFileOptions,
    ) -> Result<WritebackJobV1, ReviewError> {
        let config = self.reviewed_config()?;
        let (proposal, cs, _, _) = self.authorised(selector)?;
        let state = proposal.state()?;
        if !matches!(state, State::Approved | State::PendingWorker) {
            return Err(ReviewError::refused(
                "PROPOSAL_NOT_APPROVED",
                format!("proposal {} is {}", proposal.proposal_id, state.as_str()),
            ));
        }
        let expires_at = (chrono::Utc::now()
            + chrono::Duration::seconds(opts.lease_seconds.clamp(15, 3600)))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
        let job = job_from_change_set(
            &cs,
            proposal.proposal_version,
            &proposal.proposal_hash,
            &opts.project_id,
            &expires_at,
        )
        .map_err(|m| ReviewError::refused("WRITEBACK_JOB_INVALID", m))?;
        check_job_authority(&config, &job, &cs, &proposal.proposal_hash, &now_iso())
            .map_err(|r| ReviewError::refused(r.code.as_str(), r.message))?;
        let attempt_job = job.clone();
        let queued = self
            .ledger
            .queue_attempt(
                AttemptRequest {
                    proposal_id: proposal.proposal_id.clone(),
                    base_job_id: job.writeback_job_id.clone(),
                    kind: JobKind::Sql {
                        source_id: cs.source.source_id.clone(),
                    },
                    actor: opts
                        .runner_id
                        .clone()
                        .unwrap_or_else(|| self.runner_id.clone()),
                },
                move |job_id| {
                    let mut job = attempt_job;
                    job.writeback_job_id = job_id.to_string();
                    serde_json::to_value(job).map_err(|e| e.to_string())
                },
            )
            .wait()?;
        Ok(serde_json::from_value(queued.job).map_err(LedgerError::from)?)
    }

    /// Check a job file against the reviewed config and the stored proposal: apply's checks,
    /// then that the ledger recorded this very job.
    pub fn validate_job(&self, job: &Value) -> Result<ValidJob, ReviewError> {
        let config = self.reviewed_config()?;
        if job.get("schema_version").and_then(Value::as_str) != Some(WRITEBACK_JOB_V1) {
            return Err(ReviewError::refused(
                "JOB_INVALID",
                format!("the file is not a {WRITEBACK_JOB_V1} document"),
            ));
        }
        let parsed: WritebackJobV1 = serde_json::from_value(job.clone()).map_err(|e| {
            ReviewError::refused(
                "JOB_INVALID",
                format!("the job does not parse as {WRITEBACK_JOB_V1}: {e}"),
            )
        })?;
        let (proposal, cs, approved_by, signed) = self.authorised(&parsed.proposal_id)?;
        check_job_authority(&config, &parsed, &cs, &proposal.proposal_hash, &now_iso())
            .map_err(|r| ReviewError::refused(r.code.as_str(), r.message))?;
        let recorded = self
            .ledger
            .jobs(&proposal.proposal_id)?
            .into_iter()
            .find(|j| j.writeback_job_id == parsed.writeback_job_id);
        match recorded {
            None => Err(ReviewError::refused(
                "JOB_NOT_RECORDED",
                format!(
                    "the ledger holds no job {} for proposal {}; write job files with `sluicegate proposals writeback-job`",
                    parsed.writeback_job_id, proposal.proposal_id
                ),
            )),
            Some(r) if r.job != *job => Err(ReviewError::refused(
                "JOB_DIFFERS_FROM_RECORDED",
                format!(
                    "job {} differs from the job the ledger recorded for it",
                    parsed.writeback_job_id
                ),
            )),
            Some(_) => Ok(ValidJob {
                writeback_job_id: parsed.writeback_job_id,
                proposal_id: proposal.proposal_id,
                approved_by,
                signed,
                lease_expires_at: parsed.lease.expires_at,
            }),
        }
    }
}

/// An unknown proposal keeps a refusal code of its own.
fn not_found(e: LedgerError) -> ReviewError {
    match e {
        LedgerError::NotFound { id, .. } => ReviewError::refused(
            "PROPOSAL_NOT_FOUND",
            format!("no proposal {id} in the ledger"),
        ),
        other => ReviewError::Ledger(other),
    }
}
