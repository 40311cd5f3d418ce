//! The guarded `UPDATE` path of `apply`, for a proposal `can_apply` has already authorised.
//!
//! Each run is one attempt with its own job id (chosen by the ledger, so racing attempts never
//! share one) and its own receipt. The source database's receipt table arbitrates between
//! attempts: exactly one writes, the others answer `already_applied`. When an earlier attempt
//! wrote but died before its receipt reached the ledger, the attempt that finds its write
//! records it as `applied` (reconciled) first, so every write the source holds has an
//! `applied` receipt in the ledger.

use serde_json::json;
use sluicegate_core::config::{Capability, Config, Engine};
use sluicegate_core::writeback::{
    ExecutorResult, check_job_authority, conflict_guard_for, job_from_change_set, receipt_for,
};
use sluicegate_ledger::{AttemptRequest, JobKind, StoredProposal};
use sluicegate_protocol::writeback_job::{ConflictGuard, WritebackJobV1};
use sluicegate_protocol::{ChangeSet, ReceiptStatus};
use sluicegate_source::{ConflictCheck, GuardedUpdate, WriteStatus, apply_guarded_update};

use super::{ApplyOptions, ApplyReport, ReviewApi, ReviewError};
use crate::env::Secret;
use crate::now_iso;

impl ReviewApi {
    pub(super) async fn apply_sql(
        &self,
        config: &Config,
        cap: &Capability,
        cs: &ChangeSet,
        proposal: StoredProposal,
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, ReviewError> {
        let id = proposal.proposal_id.clone();
        let source = config.sources.get(&cs.source.source_id).ok_or_else(|| {
            ReviewError::refused(
                "SOURCE_NOT_CONFIGURED",
                format!("source {} is not configured", cs.source.source_id),
            )
        })?;
        let now = now_iso();
        let expires_at = (chrono::Utc::now()
            + chrono::Duration::seconds(opts.lease_seconds.clamp(15, 3600)))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
        let job = job_from_change_set(
            cs,
            proposal.proposal_version,
            &proposal.proposal_hash,
            &opts.project_id,
            &expires_at,
        )
        .map_err(|m| ReviewError::refused("WRITEBACK_JOB_INVALID", m))?;
        check_job_authority(config, &job, cs, &proposal.proposal_hash, &now)
            .map_err(|m| ReviewError::refused("WRITEBACK_JOB_INVALID", m))?;

        if opts.dry_run {
            let update = guarded_update(&job, cs, cap, source.engine);
            let outcome = apply_guarded_update(&Secret::new(""), &update, true)
                .await
                .map_err(|e| ReviewError::refused("WRITEBACK_INVALID", e.to_string()))?;
            let result = executor_result(&outcome);
            self.ledger
                .record_note(
                    &id,
                    "writeback_dry_run",
                    &self.runner_id,
                    json!({"writeback_job_id": job.writeback_job_id, "result_hash": result.result_hash}),
                )
                .await?;
            return Ok(report(proposal, job, result, None, true, now_iso()));
        }

        // Resolve the writer before anything is recorded: a missing variable changes nothing.
        let writer_env = source.write_url_env.as_deref().ok_or_else(|| {
            ReviewError::refused(
                "WRITER_NOT_CONFIGURED",
                format!(
                    "source {} has no write_url_env, so direct writeback cannot run; add one to the config",
                    source.name
                ),
            )
        })?;
        let url = self.env.secret(writer_env).ok_or_else(|| {
            ReviewError::refused(
                "WRITER_URL_MISSING",
                format!(
                    "{writer_env} is not set; export the writer's database URL in it and run apply again (nothing was recorded)"
                ),
            )
        })?;

        let base = job.writeback_job_id.clone();
        let attempt_job = job.clone();
        let queued = self
            .ledger
            .queue_attempt(
                AttemptRequest {
                    proposal_id: id.clone(),
                    base_job_id: base,
                    kind: JobKind::Sql {
                        source_id: cs.source.source_id.clone(),
                    },
                    actor: self.runner_id.clone(),
                },
                move |job_id| {
                    let mut job = attempt_job;
                    job.writeback_job_id = job_id.to_string();
                    serde_json::to_value(job).map_err(|e| e.to_string())
                },
            )
            .await?;
        let mut job = job;
        job.writeback_job_id = queued.job_id.clone();
        let update = guarded_update(&job, cs, cap, source.engine);
        let result = match apply_guarded_update(&url, &update, false).await {
            Ok(outcome) => executor_result(&outcome),
            Err(e) => {
                tracing::warn!(proposal = %id, error = %e, "guarded writeback could not run");
                ExecutorResult {
                    status: ReceiptStatus::Failed,
                    affected_rows: 0,
                    result_hash: None,
                    error_code: Some(
                        if e.kind().is_unavailable()
                            || matches!(
                                e.kind(),
                                sluicegate_source::SourceErrorKind::CredentialMissing { .. }
                            )
                        {
                            "DATABASE_UNAVAILABLE".into()
                        } else {
                            "TRANSACTION_FAILED".into()
                        },
                    ),
                    new_version: None,
                }
            }
        };
        if result.status == ReceiptStatus::AlreadyApplied {
            self.reconcile(cs, &queued.job_id).await?;
        }
        let completed_at = now_iso();
        let receipt = receipt_for(&queued.job_id, cs, &self.runner_id, &result, &completed_at);
        let proposal = self.ledger.record_receipt(receipt.clone()).await?;
        Ok(report(
            proposal,
            job,
            result,
            Some(receipt),
            false,
            completed_at,
        ))
    }

    /// The source says this key was applied. If the ledger has no `applied` receipt for it,
    /// an earlier attempt wrote and died before recording: record it as applied now, against
    /// the newest earlier attempt left without a receipt.
    async fn reconcile(&self, cs: &ChangeSet, current: &str) -> Result<(), ReviewError> {
        let id = cs.proposal_id.clone();
        let found_by = current.to_string();
        let current = current.to_string();
        let orphan = self
            .read(move |l| {
                let receipts = l.receipts(&id)?;
                if receipts.iter().any(|r| r.status == "applied") {
                    return Ok(None);
                }
                Ok(l.jobs(&id)?
                    .into_iter()
                    .rev()
                    .map(|j| j.writeback_job_id)
                    .find(|j| *j != current && !receipts.iter().any(|r| r.writeback_job_id == *j)))
            })
            .await?;
        let Some(job_id) = orphan else {
            return Ok(());
        };
        tracing::warn!(proposal = %cs.proposal_id, attempt = %job_id, "an earlier attempt wrote without recording its receipt; recording it as applied");
        let result = ExecutorResult {
            status: ReceiptStatus::Applied,
            affected_rows: 1,
            result_hash: None,
            error_code: None,
            new_version: None,
        };
        let receipt = receipt_for(&job_id, cs, &self.runner_id, &result, &now_iso());
        self.ledger.record_receipt(receipt).await?;
        self.ledger
            .record_note(
                &cs.proposal_id,
                "writeback_reconciled",
                &self.runner_id,
                json!({"writeback_job_id": job_id, "found_by": found_by, "reason": "the source's receipt table holds this key as applied; the attempt that wrote it left no receipt"}),
            )
            .await?;
        Ok(())
    }
}

fn report(
    proposal: StoredProposal,
    job: WritebackJobV1,
    result: ExecutorResult,
    receipt: Option<sluicegate_protocol::ExecutionReceipt>,
    dry_run: bool,
    completed_at: String,
) -> ApplyReport {
    ApplyReport {
        proposal,
        executor: "sql_update".into(),
        writeback_job_id: job.writeback_job_id.clone(),
        idempotency_key: job.idempotency_key.clone(),
        job: Some(job),
        result,
        receipt,
        dry_run,
        completed_at,
        handler: None,
        approved_by: String::new(),
        signed: false,
    }
}

fn guarded_update(
    job: &WritebackJobV1,
    cs: &ChangeSet,
    cap: &Capability,
    engine: Engine,
) -> GuardedUpdate {
    let guard = cap.conflict_guard.as_ref();
    let maintained_by = guard.map(|g| g.maintained_by).unwrap_or_default();
    // A version read as NULL still guards the row (NULL-safely) and is advanced: the job
    // format says "no guard" for it, which would let two proposals from one read both apply.
    let null_version = guard
        .and_then(|g| g.column.clone())
        .filter(|c| *c == cs.guards.expected_version.column);
    GuardedUpdate {
        engine,
        schema: job.target.schema.clone(),
        table: job.target.table.clone(),
        primary_key: (
            job.target.primary_key.column.clone(),
            job.target.primary_key.value.clone(),
        ),
        tenant_guard: Some((
            job.tenant_guard.column.clone(),
            job.tenant_guard.value.clone(),
        )),
        allowed_columns: job.allowed_columns.clone(),
        patch: job.patch.clone(),
        conflict: match conflict_guard_for(cs) {
            ConflictGuard::Column {
                column,
                expected_value,
            } => ConflictCheck::Version {
                column,
                expected: expected_value,
                maintained_by,
            },
            ConflictGuard::RowHash { expected_hash } => ConflictCheck::RowHash {
                expected: expected_hash,
                before: cs.before.clone(),
            },
            ConflictGuard::None => match null_version {
                Some(column) => ConflictCheck::Version {
                    column,
                    expected: serde_json::Value::Null,
                    maintained_by,
                },
                None => ConflictCheck::None,
            },
        },
        idempotency_key: job.idempotency_key.clone(),
        job_id: job.writeback_job_id.clone(),
        proposal_id: job.proposal_id.clone(),
    }
}

fn executor_result(o: &sluicegate_source::WriteOutcome) -> ExecutorResult {
    ExecutorResult {
        status: match o.status {
            WriteStatus::Applied => ReceiptStatus::Applied,
            WriteStatus::AlreadyApplied => ReceiptStatus::AlreadyApplied,
            WriteStatus::Conflict => ReceiptStatus::Conflict,
            WriteStatus::Failed => ReceiptStatus::Failed,
        },
        affected_rows: o.affected_rows,
        result_hash: o.result_hash.clone(),
        error_code: o.error_code.clone(),
        new_version: None,
    }
}
