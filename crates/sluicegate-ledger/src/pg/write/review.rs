//! Recording on PostgreSQL, human side: decisions, writeback jobs and attempts, receipts,
//! notes and kept replays, each with its chained event in the same transaction (the SQLite
//! ledger's `write/review.rs`, record for record).

use postgres::Transaction;
use serde_json::{Value, json};
use sluicegate_core::chain;
use sluicegate_core::decision::{DecisionRecord, Verdict};
use sluicegate_core::lifecycle::{State, Transition, TransitionRefusal};
use sluicegate_core::proposal::content_hash;
use sluicegate_core::secrets;
use sluicegate_protocol::ExecutionReceipt;

use super::{append_event, load_proposal, lock_proposal, move_state};
use crate::pg::PgLedger;
use crate::pg::stmts::Prepared;
use crate::pg::writer::Fail;
use crate::views::StoredProposal;
use crate::write::{
    check_identity, receipt_event, receipt_outcome, receipt_time, to_refusal, validate_receipt,
    writeback_allowed,
};
use crate::{AttemptRequest, JobKind, JobRecord, LedgerError, Pending, QueuedJob, RefusalCode};

impl PgLedger {
    pub(crate) fn decide(&self, record: DecisionRecord) -> Pending<StoredProposal> {
        self.writer.submit(move |tx, now| {
            let id = &record.proposal_id;
            let proposal = lock_proposal(tx, id)?;
            if record.verdict == Verdict::Approve {
                writeback_allowed(&proposal, "approved")?;
            }
            check_identity(&proposal, &record.content_hash, record.proposal_version)?;
            let stored = proposal.change_set()?;
            if content_hash(&stored) != record.content_hash {
                return Err(Fail::Error(LedgerError::refused(
                    RefusalCode::ProposalContentModified,
                    format!(
                        "proposal {id} no longer matches its recorded hash; it was edited in the ledger (run `sluicegate store verify`)"
                    ),
                )));
            }
            let (t, kind) = match record.verdict {
                Verdict::Approve => (Transition::Approve, "proposal_approved"),
                Verdict::Reject => (Transition::Reject, "proposal_rejected"),
            };
            move_state(tx, &proposal, t, now)?;
            tx.exec(
                "INSERT INTO approvals (proposal_id, proposal_version, proposal_hash, approver, status, reason, created_at, signature, reviewer_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    id,
                    &i64::from(record.proposal_version),
                    &record.content_hash,
                    &record.reviewer,
                    &record.verdict.status(),
                    &record.reason,
                    &record.decided_at,
                    &record.signature,
                    &record.reviewer_key,
                ],
            )?;
            append_event(
                tx,
                id,
                kind,
                &record.reviewer,
                &json!({
                    "proposal_hash": record.content_hash,
                    "proposal_version": record.proposal_version,
                    "reason": record.reason,
                    "signed": record.signature.is_some(),
                    "decision": record,
                }),
                now,
            )?;
            load_proposal(tx, id)
        })
    }

    pub(crate) fn queue_attempt<F>(
        &self,
        request: AttemptRequest,
        make_job: F,
    ) -> Pending<QueuedJob>
    where
        F: FnOnce(&str) -> Result<Value, String> + Send + 'static,
    {
        let mut make_job = Some(make_job);
        // The job built for an id, kept should the write have to run again.
        let mut made: Option<(String, Value)> = None;
        self.writer.submit(move |tx, now| {
            // The lock first: two servers queueing attempts at once count in turn and so
            // never pick the same attempt number.
            lock_proposal(tx, &request.proposal_id)?;
            let earlier: i64 = tx
                .row(
                    "SELECT COUNT(*) FROM writeback_jobs WHERE proposal_id = $1 AND (writeback_job_id = $2 OR writeback_job_id LIKE $2 || '-a%')",
                    &[&request.proposal_id, &request.base_job_id],
                )?
                .try_get(0)?;
            let n = u32::try_from(earlier + 1).unwrap_or(u32::MAX);
            let job_id = sluicegate_core::writeback::attempt_job_id(&request.base_job_id, n);
            let job = match (&made, make_job.take()) {
                (Some((id, job)), _) if *id == job_id => job.clone(),
                (_, Some(make)) => make(&job_id)
                    .map_err(|m| LedgerError::refused(RefusalCode::WritebackJobInvalid, m))?,
                (_, None) => {
                    return Err(Fail::Error(LedgerError::Io(
                        "the attempt's job was built for another id; try again".into(),
                    )));
                }
            };
            made = Some((job_id.clone(), job.clone()));
            let proposal = insert_job(
                tx,
                &JobRecord {
                    proposal_id: request.proposal_id.clone(),
                    job_id: job_id.clone(),
                    job: job.clone(),
                    kind: request.kind.clone(),
                    actor: request.actor.clone(),
                },
                now,
            )?;
            Ok(QueuedJob {
                proposal,
                job_id,
                job,
            })
        })
    }

    pub(crate) fn queue_job(&self, job: JobRecord) -> Pending<StoredProposal> {
        if matches!(job.kind, JobKind::Handler { .. })
            && let Err(r) = secrets::scan(&job.job, "handler_writeback_job")
        {
            return Pending::ready(Err(to_refusal(r)));
        }
        self.writer.submit(move |tx, now| insert_job(tx, &job, now))
    }

    pub(crate) fn record_handler_retry(&self, job: JobRecord) -> Pending<StoredProposal> {
        if let Err(r) = secrets::scan(&job.job, "handler_writeback_job") {
            return Pending::ready(Err(to_refusal(r)));
        }
        self.writer.submit(move |tx, now| {
            let executor = match &job.kind {
                JobKind::Handler { executor } => executor.clone(),
                JobKind::Sql { .. } => "sql_update".to_string(),
            };
            let proposal = lock_proposal(tx, &job.proposal_id)?;
            writeback_allowed(&proposal, "retried through an app-owned handler")?;
            let state = proposal.state()?;
            if !matches!(
                state,
                State::PendingWorker | State::Applied | State::Conflict | State::Failed
            ) {
                return Err(Fail::Error(LedgerError::refused(
                    RefusalCode::Transition(TransitionRefusal::NotApproved),
                    format!("proposal {} is {}", job.proposal_id, state.as_str()),
                )));
            }
            let job_json = serde_json::to_string(&job.job)?;
            let inserted = tx.exec(
                "INSERT INTO writeback_jobs (writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at) VALUES ($1, $2, $3, 'pending_worker', $4, $5, $5) ON CONFLICT DO NOTHING",
                &[&job.job_id, &job.proposal_id, &proposal.proposal_hash, &job_json, &now],
            )?;
            if inserted != 1 {
                return Err(Fail::Error(LedgerError::refused(
                    RefusalCode::WritebackJobExists,
                    format!("writeback job {} is already recorded", job.job_id),
                )));
            }
            append_event(
                tx,
                &job.proposal_id,
                "handler_writeback_retry_recorded",
                &job.actor,
                &json!({"writeback_job_id": job.job_id, "executor": executor, "forced_by_operator": true, "job_sha256": chain::digest(&job_json)}),
                now,
            )?;
            Ok(proposal)
        })
    }

    pub(crate) fn record_receipt(&self, receipt: ExecutionReceipt) -> Pending<StoredProposal> {
        if let Err(e) = validate_receipt(&receipt) {
            return Pending::ready(Err(e));
        }
        self.writer
            .submit(move |tx, now| insert_receipt(tx, &receipt, now))
    }

    pub(crate) fn record_note(
        &self,
        proposal_id: String,
        kind: String,
        actor: String,
        payload: Value,
    ) -> Pending<()> {
        self.writer.submit(move |tx, now| {
            lock_proposal(tx, &proposal_id)?;
            append_event(tx, &proposal_id, &kind, &actor, &payload, now)
        })
    }

    /// Keep a replay assembled by the caller (`Ledger::record_replay`).
    pub(crate) fn keep_replay(&self, proposal_id: String, replay: Value) -> Pending<Value> {
        self.writer.submit(move |tx, _| {
            let replay_id = replay["replay_id"].as_str().unwrap_or_default();
            let at = replay["generated_at"].as_str().unwrap_or_default();
            tx.exec(
                "INSERT INTO replay_records (replay_id, proposal_id, payload_json, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (replay_id) DO UPDATE SET proposal_id = excluded.proposal_id, payload_json = excluded.payload_json, created_at = excluded.created_at",
                &[&replay_id, &proposal_id, &serde_json::to_string(&replay)?, &at],
            )?;
            Ok(replay.clone())
        })
    }
}

fn insert_receipt(
    tx: &mut Transaction<'_>,
    receipt: &ExecutionReceipt,
    now: &str,
) -> Result<StoredProposal, Fail> {
    let at = receipt_time(receipt, now);
    let receipt_json = serde_json::to_string(receipt)?;
    let proposal = lock_proposal(tx, &receipt.proposal_id)?;
    writeback_allowed(&proposal, "recorded with an execution receipt")?;
    let outcome = receipt_outcome(receipt.status);
    move_state(tx, &proposal, Transition::Receipt(outcome), &at)?;
    // One receipt per attempt: the job id is a unique key, so a second receipt for one
    // attempt is refused, never silently dropped.
    let inserted = tx.exec(
        "INSERT INTO writeback_receipts (writeback_job_id, proposal_id, runner_id, status, idempotency_key, source_database_mutated, receipt_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (writeback_job_id) DO NOTHING",
        &[
            &receipt.writeback_job_id,
            &receipt.proposal_id,
            &receipt.runner_id,
            &receipt.status.as_str(),
            &receipt.idempotency_key,
            &receipt.source_database_mutated,
            &receipt_json,
            &at,
        ],
    )?;
    if inserted != 1 {
        return Err(Fail::Error(LedgerError::refused(
            RefusalCode::ReceiptExists,
            format!(
                "writeback attempt {} already has a receipt; a new attempt gets a new job id",
                receipt.writeback_job_id
            ),
        )));
    }
    // Mutation is sticky: a later no-op receipt never hides that the source was written.
    tx.exec(
        "UPDATE proposals SET source_database_mutated = source_database_mutated OR $2 WHERE proposal_id = $1",
        &[&receipt.proposal_id, &receipt.source_database_mutated],
    )?;
    let job_known = tx
        .row_opt(
            "SELECT 1 FROM writeback_jobs WHERE writeback_job_id = $1",
            &[&receipt.writeback_job_id],
        )?
        .is_some();
    if job_known {
        // The latest receipt answers for the key, except that `applied` is never replaced.
        tx.exec(
            "INSERT INTO idempotency_receipts (idempotency_key, writeback_job_id, proposal_id, receipt_status, receipt_json, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (idempotency_key) DO UPDATE SET writeback_job_id = excluded.writeback_job_id, receipt_status = excluded.receipt_status, receipt_json = excluded.receipt_json, created_at = excluded.created_at
             WHERE idempotency_receipts.receipt_status <> 'applied'",
            &[
                &receipt.idempotency_key,
                &receipt.writeback_job_id,
                &receipt.proposal_id,
                &receipt.status.as_str(),
                &receipt_json,
                &at,
            ],
        )?;
        tx.exec(
            "UPDATE writeback_jobs SET status = $2, updated_at = $3 WHERE writeback_job_id = $1",
            &[&receipt.writeback_job_id, &receipt.status.as_str(), &at],
        )?;
    }
    let (kind, payload) = receipt_event(receipt, &receipt_json);
    append_event(
        tx,
        &receipt.proposal_id,
        &kind,
        &receipt.runner_id,
        &payload,
        &at,
    )?;
    load_proposal(tx, &receipt.proposal_id)
}

/// Insert a job with a new id, move the proposal towards the worker and append the event.
fn insert_job(
    tx: &mut Transaction<'_>,
    job: &JobRecord,
    now: &str,
) -> Result<StoredProposal, Fail> {
    let proposal = lock_proposal(tx, &job.proposal_id)?;
    writeback_allowed(&proposal, "converted into a writeback job")?;
    let was = proposal.state()?;
    move_state(tx, &proposal, Transition::QueueForWorker, now)?;
    if was == State::Approved {
        append_event(
            tx,
            &job.proposal_id,
            "proposal_pending_worker",
            &job.actor,
            &json!({"proposal_hash": proposal.proposal_hash, "proposal_version": proposal.proposal_version}),
            now,
        )?;
    }
    let job_json = serde_json::to_string(&job.job)?;
    let inserted = tx.exec(
        "INSERT INTO writeback_jobs (writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at) VALUES ($1, $2, $3, 'pending_worker', $4, $5, $5) ON CONFLICT DO NOTHING",
        &[&job.job_id, &job.proposal_id, &proposal.proposal_hash, &job_json, &now],
    )?;
    if inserted != 1 {
        return Err(Fail::Error(LedgerError::refused(
            RefusalCode::WritebackJobExists,
            format!("writeback job {} is already recorded", job.job_id),
        )));
    }
    let digest = chain::digest(&job_json);
    let (event, payload) = match &job.kind {
        JobKind::Sql { source_id } => (
            "writeback_job_recorded",
            json!({"writeback_job_id": job.job_id, "proposal_hash": proposal.proposal_hash, "source_id": source_id, "job_sha256": digest}),
        ),
        JobKind::Handler { executor } => (
            "handler_writeback_job_recorded",
            json!({"writeback_job_id": job.job_id, "executor": executor, "job_sha256": digest}),
        ),
    };
    append_event(tx, &job.proposal_id, event, &job.actor, &payload, now)?;
    load_proposal(tx, &job.proposal_id)
}
