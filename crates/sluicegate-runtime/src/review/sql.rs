//! The guarded `UPDATE` path of `apply`, for a proposal `can_apply` has already authorised.
//!
//! Each run is one attempt with its own job id (chosen by the ledger, so racing attempts never
//! share one) and its own receipt. The source database's receipt table arbitrates between
//! attempts: exactly one writes, the others answer `already_applied` and learn which attempt
//! wrote. When that attempt died before its receipt reached the ledger, the attempt that finds
//! its write records it as `applied` (reconciled) first, so every write the source holds has
//! an `applied` receipt in the ledger, under the attempt that made it.

use serde_json::json;
use sluicegate_core::config::{Capability, Config, Engine};
use sluicegate_core::proposal::SINGLE_TENANT_COLUMN;
use sluicegate_core::writeback::{
    ExecutorResult, check_job_authority, conflict_guard_for, job_from_change_set, receipt_for,
};
use sluicegate_ledger::{AttemptRequest, JobKind, LedgerError, RefusalCode, StoredProposal};
use sluicegate_protocol::writeback_job::{ConflictGuard, WritebackJobV1};
use sluicegate_protocol::{ChangeSet, ExecutionReceipt, ReceiptStatus};
use sluicegate_source::{
    ConflictCheck, GuardedUpdate, WriteStatus, apply_guarded_update, lookup_writer,
};

use super::{ApplyOptions, ApplyReport, ReviewApi, ReviewError};
use crate::doctor::receipt_table_missing;
use crate::env::Secret;
use crate::failpoint::step;
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
            .map_err(|r| ReviewError::refused("WRITEBACK_JOB_INVALID", r.message))?;

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
        // The receipt table is created by an admin, never by apply: when the writer's
        // statements would not find it, stop before anything is recorded or written. (A
        // writer that cannot be reached now is recorded as the attempt's failure, as ever.)
        if let Ok(found) = lookup_writer(&url, source.engine).await
            && found.receipt_schema.is_none()
        {
            return Err(ReviewError::refused(
                "RECEIPT_TABLE_MISSING",
                format!(
                    "{} Nothing was recorded.",
                    receipt_table_missing(source.engine, &source.name, writer_env, &found)
                ),
            ));
        }

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
        step!("apply.after_job_queued");
        let mut job = job;
        job.writeback_job_id = queued.job_id.clone();
        let update = guarded_update(&job, cs, cap, source.engine);
        let mut written_by = None;
        let result = match apply_guarded_update(&url, &update, false).await {
            Ok(outcome) => {
                written_by = outcome.written_by.clone();
                executor_result(&outcome)
            }
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
        step!("apply.after_source_commit");
        if result.status == ReceiptStatus::AlreadyApplied {
            self.reconcile(cs, &queued.job_id, written_by).await?;
            step!("apply.after_reconcile");
        }
        let completed_at = now_iso();
        let receipt = receipt_for(&queued.job_id, cs, &self.runner_id, &result, &completed_at);
        let (proposal, receipt, _) = self.record_receipt(receipt).await?;
        step!("apply.after_receipt");
        Ok(report(
            proposal,
            job,
            result,
            Some(receipt),
            false,
            completed_at,
        ))
    }

    /// The source says the key was applied by attempt `writer` (its receipt table records
    /// the job id that claimed it). If that is one of this proposal's attempts and the ledger
    /// holds no receipt for it, the attempt wrote and died (or has not recorded yet): record
    /// its write as applied now, so every write the source holds has an `applied` receipt in
    /// the ledger under the attempt that made it.
    async fn reconcile(
        &self,
        cs: &ChangeSet,
        current: &str,
        writer: Option<String>,
    ) -> Result<(), ReviewError> {
        let Some(writer) = writer.filter(|w| w != current) else {
            return Ok(());
        };
        let id = cs.proposal_id.clone();
        let job = writer.clone();
        let orphaned = self
            .read(move |l| {
                let ours = l.jobs(&id)?.iter().any(|j| j.writeback_job_id == job);
                let recorded = l.receipts(&id)?.iter().any(|r| r.writeback_job_id == job);
                Ok(ours && !recorded)
            })
            .await?;
        if !orphaned {
            return Ok(());
        }
        tracing::warn!(proposal = %cs.proposal_id, attempt = %writer, "another attempt wrote and left no receipt (it died, or has not recorded yet); recording its write as applied");
        let result = ExecutorResult {
            status: ReceiptStatus::Applied,
            affected_rows: 1,
            result_hash: None,
            error_code: None,
            new_version: None,
        };
        let receipt = receipt_for(&writer, cs, &self.runner_id, &result, &now_iso());
        let (_, _, recorded) = self.record_receipt(receipt).await?;
        if !recorded {
            // The attempt that wrote recorded its own receipt meanwhile: it was alive.
            return Ok(());
        }
        self.ledger
            .record_note(
                &cs.proposal_id,
                "writeback_reconciled",
                &self.runner_id,
                json!({"writeback_job_id": writer, "found_by": current, "reason": "the source's receipt table holds this key as applied by this attempt, and the ledger held no receipt for it"}),
            )
            .await?;
        Ok(())
    }

    /// Record an attempt's receipt. An `applied` receipt can meet one already recorded for
    /// the same attempt: a racing attempt found this write in the source and recorded it
    /// (`reconcile`) before this attempt could, or the other way round. That receipt stands
    /// and is returned (with `false`: not recorded by this call); any other second receipt is
    /// refused as the ledger refuses it.
    async fn record_receipt(
        &self,
        receipt: ExecutionReceipt,
    ) -> Result<(StoredProposal, ExecutionReceipt, bool), ReviewError> {
        let refused = match self.ledger.record_receipt(receipt.clone()).await {
            Ok(proposal) => return Ok((proposal, receipt, true)),
            Err(
                e @ LedgerError::Refused {
                    code: RefusalCode::ReceiptExists,
                    ..
                },
            ) if receipt.status == ReceiptStatus::Applied => e,
            Err(e) => return Err(e.into()),
        };
        let (id, job) = (
            receipt.proposal_id.clone(),
            receipt.writeback_job_id.clone(),
        );
        let (proposal, stored) = self
            .read(move |l| {
                let stored = l
                    .receipts(&id)?
                    .into_iter()
                    .find(|r| r.writeback_job_id == job);
                Ok((l.proposal(&id)?, stored))
            })
            .await?;
        match stored.filter(|r| r.status == ReceiptStatus::Applied.as_str()) {
            Some(r) => {
                let stored = serde_json::from_value(r.receipt)
                    .map_err(|e| LedgerError::Corrupt(format!("receipt {}: {e}", r.receipt_id)))?;
                Ok((proposal, stored, false))
            }
            None => Err(refused.into()),
        }
    }
}

fn report(
    proposal: StoredProposal,
    job: WritebackJobV1,
    result: ExecutorResult,
    receipt: Option<ExecutionReceipt>,
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
        // A single-tenant development target has no tenant column, only the pseudo-guard.
        tenant_guard: (job.tenant_guard.column != SINGLE_TENANT_COLUMN).then(|| {
            (
                job.tenant_guard.column.clone(),
                job.tenant_guard.value.clone(),
            )
        }),
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
