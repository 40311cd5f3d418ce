//! Records of the human side: decisions, writeback jobs and attempts, receipts, notes, and
//! kept replays. Every one appends a chained event in the same transaction.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use sluicegate_core::chain;
use sluicegate_core::decision::{DecisionRecord, Verdict};
use sluicegate_core::lifecycle::{ReceiptOutcome, State, Transition, TransitionRefusal};
use sluicegate_core::proposal::content_hash;
use sluicegate_core::secrets;
use sluicegate_protocol::{ExecutionReceipt, ReceiptStatus};

use super::facts::{append_event, check_identity, load_proposal, move_state, writeback_allowed};
use super::{ExecCached, to_refusal};
use crate::views::StoredProposal;
use crate::{Ledger, LedgerError, Pending, RefusalCode};

/// What kind of writeback job is being recorded.
#[derive(Debug, Clone)]
pub enum JobKind {
    /// A direct guarded `UPDATE` job (`synapsor.writeback-job.v1`).
    Sql { source_id: String },
    /// A request to an app-owned handler.
    Handler { executor: String },
}

/// The attempt at writing an approved proposal that [`Ledger::queue_attempt`] records.
#[derive(Debug, Clone)]
pub struct AttemptRequest {
    pub proposal_id: String,
    /// The job id of the first attempt (`wbj_<proposal>`); later attempts add `-a<n>`.
    pub base_job_id: String,
    pub kind: JobKind,
    pub actor: String,
}

/// A recorded attempt: its job id and job document.
#[derive(Debug, Clone)]
pub struct QueuedJob {
    pub proposal: StoredProposal,
    pub job_id: String,
    pub job: Value,
}

/// A writeback job with an id chosen by the caller, as [`Ledger::queue_job`] and
/// [`Ledger::record_handler_retry`] record it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub proposal_id: String,
    pub job_id: String,
    pub job: Value,
    pub kind: JobKind,
    pub actor: String,
}

impl Ledger {
    /// Record a reviewer's decision on a proposal. It is bound to the content hash and version
    /// the reviewer was shown (`record.content_hash`): when the stored proposal does not hash
    /// to it (changed since it was shown, or edited in the ledger), the decision is refused.
    pub fn decide(&self, record: DecisionRecord) -> Pending<StoredProposal> {
        if let Some(pg) = self.pg() {
            return pg.decide(record);
        }
        self.write(move |tx, now| {
            let id = &record.proposal_id;
            let proposal = load_proposal(tx, id)?;
            if record.verdict == Verdict::Approve {
                writeback_allowed(&proposal, "approved")?;
            }
            check_identity(&proposal, &record.content_hash, record.proposal_version)?;
            let stored = proposal.change_set()?;
            if content_hash(&stored) != record.content_hash {
                return Err(LedgerError::refused(
                    RefusalCode::ProposalContentModified,
                    format!(
                        "proposal {id} no longer matches its recorded hash; it was edited in the ledger (run `sluicegate store verify`)"
                    ),
                ));
            }
            let (t, kind) = match record.verdict {
                Verdict::Approve => (Transition::Approve, "proposal_approved"),
                Verdict::Reject => (Transition::Reject, "proposal_rejected"),
            };
            move_state(tx, &proposal, t, now)?;
            tx.exec(
                "INSERT INTO approvals (proposal_id, proposal_version, proposal_hash, approver, status, reason, created_at, signature, reviewer_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    record.proposal_version,
                    record.content_hash,
                    record.reviewer,
                    record.verdict.status(),
                    record.reason,
                    record.decided_at,
                    record.signature,
                    record.reviewer_key
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

    /// Record a new attempt at writing an approved proposal: its own job id (the base id for
    /// the first attempt, `<base>-a<n>` after that, chosen inside the transaction so two
    /// racing attempts never share one), the job `make_job` builds for that id, and the move to
    /// `pending_worker`. Every attempt's receipt is then kept beside the others.
    pub fn queue_attempt<F>(&self, request: AttemptRequest, make_job: F) -> Pending<QueuedJob>
    where
        F: FnOnce(&str) -> Result<Value, String> + Send + 'static,
    {
        if let Some(pg) = self.pg() {
            return pg.queue_attempt(request, make_job);
        }
        self.write(move |tx, now| {
            let AttemptRequest {
                proposal_id,
                base_job_id,
                kind,
                actor,
            } = request;
            let earlier: u32 = tx.query_row(
                "SELECT COUNT(*) FROM writeback_jobs WHERE proposal_id = ?1 AND (writeback_job_id = ?2 OR writeback_job_id LIKE ?2 || '-a%')",
                params![proposal_id, base_job_id],
                |r| r.get(0),
            )?;
            let job_id = sluicegate_core::writeback::attempt_job_id(&base_job_id, earlier + 1);
            let job = make_job(&job_id).map_err(|m| LedgerError::refused(RefusalCode::WritebackJobInvalid, m))?;
            let proposal = insert_job(
                tx,
                &JobRecord {
                    proposal_id,
                    job_id: job_id.clone(),
                    job: job.clone(),
                    kind,
                    actor,
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

    /// Hand an approved proposal to a worker: record the job (its id must be new) and move the
    /// proposal to `pending_worker`.
    pub fn queue_job(&self, job: JobRecord) -> Pending<StoredProposal> {
        if let Some(pg) = self.pg() {
            return pg.queue_job(job);
        }
        if matches!(job.kind, JobKind::Handler { .. })
            && let Err(r) = secrets::scan(&job.job, "handler_writeback_job")
        {
            return Pending::ready(Err(to_refusal(r)));
        }
        self.write(move |tx, now| insert_job(tx, &job, now))
    }

    /// Record an operator-forced retry of an app-owned handler call as a new job attempt.
    ///
    /// The proposal must already have been handed to a worker (`pending_worker`, `applied`,
    /// `conflict` or `failed`); its state does not change here; the retry's receipt moves it.
    /// The attempt gets its own job id so its receipt is kept beside the earlier ones.
    pub fn record_handler_retry(&self, job: JobRecord) -> Pending<StoredProposal> {
        if let Some(pg) = self.pg() {
            return pg.record_handler_retry(job);
        }
        if let Err(r) = secrets::scan(&job.job, "handler_writeback_job") {
            return Pending::ready(Err(to_refusal(r)));
        }
        self.write(move |tx, now| {
            let JobRecord {
                proposal_id,
                job_id,
                job,
                kind,
                actor,
            } = job;
            let executor = match &kind {
                JobKind::Handler { executor } => executor.clone(),
                JobKind::Sql { .. } => "sql_update".to_string(),
            };
            let proposal = load_proposal(tx, &proposal_id)?;
            writeback_allowed(&proposal, "retried through an app-owned handler")?;
            let state = proposal.state()?;
            if !matches!(
                state,
                State::PendingWorker | State::Applied | State::Conflict | State::Failed
            ) {
                return Err(LedgerError::refused(
                    RefusalCode::Transition(TransitionRefusal::NotApproved),
                    format!("proposal {proposal_id} is {}", state.as_str()),
                ));
            }
            let job_json = serde_json::to_string(&job)?;
            let inserted = tx.exec(
                "INSERT OR IGNORE INTO writeback_jobs (writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending_worker', ?4, ?5, ?5)",
                params![job_id, proposal_id, proposal.proposal_hash, job_json, now],
            )?;
            if inserted != 1 {
                return Err(LedgerError::refused(
                    RefusalCode::WritebackJobExists,
                    format!("writeback job {job_id} is already recorded"),
                ));
            }
            append_event(
                tx,
                &proposal_id,
                "handler_writeback_retry_recorded",
                &actor,
                &json!({"writeback_job_id": job_id, "executor": executor, "forced_by_operator": true, "job_sha256": chain::digest(&job_json)}),
                now,
            )?;
            Ok(proposal)
        })
    }

    /// Record an execution receipt: the receipt row (once per job and key), the idempotency
    /// receipt (latest wins), the job status, the proposal state and a `writeback_<status>`
    /// event.
    pub fn record_receipt(&self, receipt: ExecutionReceipt) -> Pending<StoredProposal> {
        if let Some(pg) = self.pg() {
            return pg.record_receipt(receipt);
        }
        if let Err(e) = validate_receipt(&receipt) {
            return Pending::ready(Err(e));
        }
        self.write(move |tx, now| insert_receipt(tx, &receipt, now))
    }

    /// Append an informational event that changes no state (for example a dry-run apply).
    pub fn record_note(
        &self,
        proposal_id: &str,
        kind: &str,
        actor: &str,
        payload: Value,
    ) -> Pending<()> {
        if let Some(pg) = self.pg() {
            return pg.record_note(
                proposal_id.to_string(),
                kind.to_string(),
                actor.to_string(),
                payload,
            );
        }
        let (proposal_id, kind, actor) =
            (proposal_id.to_string(), kind.to_string(), actor.to_string());
        self.write(move |tx, now| {
            load_proposal(tx, &proposal_id)?;
            append_event(tx, &proposal_id, &kind, &actor, &payload, now)
        })
    }

    /// Assemble the replay of a proposal and keep a copy in `replay_records` (the CLI's
    /// `replay show|export`). Model-facing readers use the read-only [`Ledger::replay`].
    pub fn record_replay(&self, proposal_id: &str) -> Pending<Value> {
        let replay = match self.replay(proposal_id) {
            Ok(r) => r,
            Err(e) => return Pending::ready(Err(e)),
        };
        let proposal_id = proposal_id.to_string();
        if let Some(pg) = self.pg() {
            return pg.keep_replay(proposal_id, replay);
        }
        self.write(move |tx, _| {
            let replay_id = replay["replay_id"].as_str().unwrap_or_default().to_string();
            let at = replay["generated_at"].as_str().unwrap_or_default().to_string();
            tx.exec(
                "INSERT OR REPLACE INTO replay_records (replay_id, proposal_id, payload_json, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![replay_id, proposal_id, serde_json::to_string(&replay)?, at],
            )?;
            Ok(replay)
        })
    }
}

fn insert_receipt(
    tx: &Connection,
    receipt: &ExecutionReceipt,
    now: &str,
) -> Result<StoredProposal, LedgerError> {
    let at = receipt_time(receipt, now);
    let receipt_json = serde_json::to_string(receipt)?;
    let proposal = load_proposal(tx, &receipt.proposal_id)?;
    writeback_allowed(&proposal, "recorded with an execution receipt")?;
    let outcome = receipt_outcome(receipt.status);
    move_state(tx, &proposal, Transition::Receipt(outcome), &at)?;
    // Each attempt has its own job id, so a receipt is never a duplicate of another: a second
    // receipt for one attempt is refused, never silently dropped.
    let exists: bool = tx
        .prepare_cached("SELECT 1 FROM writeback_receipts WHERE writeback_job_id = ?1")?
        .query_row([&receipt.writeback_job_id], |_| Ok(true))
        .optional()?
        .unwrap_or(false);
    if exists {
        return Err(LedgerError::refused(
            RefusalCode::ReceiptExists,
            format!(
                "writeback attempt {} already has a receipt; a new attempt gets a new job id",
                receipt.writeback_job_id
            ),
        ));
    }
    tx.exec(
        "INSERT INTO writeback_receipts (writeback_job_id, proposal_id, runner_id, status, idempotency_key, source_database_mutated, receipt_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            receipt.writeback_job_id,
            receipt.proposal_id,
            receipt.runner_id,
            receipt.status.as_str(),
            receipt.idempotency_key,
            receipt.source_database_mutated as i64,
            receipt_json,
            at
        ],
    )?;
    // Mutation is sticky: a later no-op receipt never hides that the source was written.
    tx.exec(
        "UPDATE proposals SET source_database_mutated = MAX(source_database_mutated, ?2) WHERE proposal_id = ?1",
        params![receipt.proposal_id, receipt.source_database_mutated as i64],
    )?;
    let job_known: bool = tx
        .query_row(
            "SELECT 1 FROM writeback_jobs WHERE writeback_job_id = ?1",
            [&receipt.writeback_job_id],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if job_known {
        // The latest receipt answers for the key, except that `applied` is never replaced.
        tx.exec(
            "INSERT INTO idempotency_receipts (idempotency_key, writeback_job_id, proposal_id, receipt_status, receipt_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (idempotency_key) DO UPDATE SET writeback_job_id = excluded.writeback_job_id, receipt_status = excluded.receipt_status, receipt_json = excluded.receipt_json, created_at = excluded.created_at
             WHERE idempotency_receipts.receipt_status <> 'applied'",
            params![receipt.idempotency_key, receipt.writeback_job_id, receipt.proposal_id, receipt.status.as_str(), receipt_json, at],
        )?;
        tx.exec(
            "UPDATE writeback_jobs SET status = ?2, updated_at = ?3 WHERE writeback_job_id = ?1",
            params![receipt.writeback_job_id, receipt.status.as_str(), at],
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

pub(crate) fn validate_receipt(r: &ExecutionReceipt) -> Result<(), LedgerError> {
    let bad = |m: &str| {
        Err(LedgerError::refused(
            RefusalCode::ReceiptInvalid,
            m.to_string(),
        ))
    };
    if r.schema_version != sluicegate_protocol::receipt::EXECUTION_RECEIPT_V1 {
        return bad("receipt schema_version must be synapsor.execution-receipt.v1");
    }
    if r.writeback_job_id.is_empty()
        || r.proposal_id.is_empty()
        || r.runner_id.is_empty()
        || r.idempotency_key.is_empty()
    {
        return bad("receipt ids must be non-empty");
    }
    if !r.receipt_hash.starts_with("sha256:") {
        return bad("receipt_hash must be a sha256 string");
    }
    Ok(())
}

/// Insert a job with a new id, move the proposal towards the worker and append the event.
fn insert_job(tx: &Connection, job: &JobRecord, now: &str) -> Result<StoredProposal, LedgerError> {
    let proposal = load_proposal(tx, &job.proposal_id)?;
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
        "INSERT OR IGNORE INTO writeback_jobs (writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'pending_worker', ?4, ?5, ?5)",
        params![job.job_id, job.proposal_id, proposal.proposal_hash, job_json, now],
    )?;
    if inserted != 1 {
        return Err(LedgerError::refused(
            RefusalCode::WritebackJobExists,
            format!("writeback job {} is already recorded", job.job_id),
        ));
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

/// When a receipt says its attempt ran, or `now` when it does not say (both ledgers).
pub(crate) fn receipt_time(receipt: &ExecutionReceipt, now: &str) -> String {
    if receipt.executed_at.is_empty() {
        now.to_string()
    } else {
        receipt.executed_at.clone()
    }
}

/// The lifecycle outcome a receipt's status moves its proposal by (both ledgers).
pub(crate) fn receipt_outcome(status: ReceiptStatus) -> ReceiptOutcome {
    match status {
        ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied => ReceiptOutcome::Applied,
        ReceiptStatus::Conflict => ReceiptOutcome::Conflict,
        ReceiptStatus::Failed => ReceiptOutcome::Failed,
        ReceiptStatus::Canceled => ReceiptOutcome::Canceled,
    }
}

/// The event a recorded receipt appends: its kind and payload (both ledgers).
pub(crate) fn receipt_event(receipt: &ExecutionReceipt, receipt_json: &str) -> (String, Value) {
    (
        format!("writeback_{}", receipt.status.as_str()),
        json!({
            "writeback_job_id": receipt.writeback_job_id,
            "rows_affected": receipt.rows_affected,
            "source_database_mutated": receipt.source_database_mutated,
            "receipt_hash": receipt.receipt_hash,
            "receipt_sha256": chain::digest(receipt_json),
        }),
    )
}
