//! `ReviewApi`: human decisions and writeback, outside MCP.
//!
//! Approval is bound to the exact hash and version the reviewer saw. Apply re-checks the job
//! against the reviewed config and the stored approved proposal before any executor runs: the
//! guarded `UPDATE` here, or an app-owned handler (`crate::handler`).

use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::config::Config;
use sluicegate_core::lifecycle::State;
use sluicegate_core::proposal::proposal_hash;
use sluicegate_core::writeback::{
    DEFAULT_RUNNER_ID, ExecutorResult, check_job_authority, conflict_guard_for,
    job_from_change_set, receipt_for, reviewed_capability,
};
use sluicegate_ledger::{
    Decision, DecisionInput, JobKind, JobRecord, Ledger, LedgerError, StoredProposal,
};
use sluicegate_protocol::writeback_job::{ConflictGuard, WritebackJobV1};
use sluicegate_protocol::{ChangeSet, ExecutionReceipt, ReceiptStatus};
use sluicegate_source::{ConflictCheck, GuardedUpdate, WriteStatus, apply_guarded_update};

use crate::handler::{HandlerApply, HandlerReport};
use crate::{Env, now_iso};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The request is refused: wrong state, tampered job, invalid config. Nothing was written.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
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

/// Human decisions and writeback. Never handed to a model-facing front end.
#[derive(Clone)]
pub struct ReviewApi {
    config: Option<Arc<Config>>,
    pub(crate) ledger: Ledger,
    pub(crate) env: Env,
    pub(crate) runner_id: String,
}

impl ReviewApi {
    /// `config` is needed only for `apply` (the reviewed authority a job is checked against).
    pub fn new(config: Option<Arc<Config>>, ledger: Ledger, env: Env) -> ReviewApi {
        let runner_id = env
            .get("SLUICEGATE_RUNNER_ID")
            .unwrap_or_else(|| DEFAULT_RUNNER_ID.to_string());
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

    /// Approve the proposal as currently stored (its own hash and version).
    pub async fn approve(
        &self,
        selector: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<StoredProposal, ReviewError> {
        self.decide(selector, Decision::Approve, actor, reason)
            .await
    }

    pub async fn reject(
        &self,
        selector: &str,
        actor: &str,
        reason: &str,
    ) -> Result<StoredProposal, ReviewError> {
        self.decide(selector, Decision::Reject, actor, Some(reason))
            .await
    }

    async fn decide(
        &self,
        selector: &str,
        d: Decision,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<StoredProposal, ReviewError> {
        let selector = selector.to_string();
        let p = self
            .read(move |l| l.proposal(&l.resolve_proposal_id(&selector)?))
            .await?;
        Ok(self
            .ledger
            .decide(DecisionInput {
                proposal_id: p.proposal_id,
                decision: d,
                actor: actor.to_string(),
                reason: reason.map(str::to_string),
                expected_hash: p.proposal_hash,
                expected_version: p.proposal_version,
            })
            .await?)
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
            .map_err(|e| ReviewError::Refused(format!("ledger read failed: {e}")))?
            .map_err(ReviewError::from)
    }

    /// Apply an approved proposal with its configured executor.
    pub async fn apply(
        &self,
        selector: &str,
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, ReviewError> {
        let config = self.config.clone().ok_or_else(|| {
            ReviewError::Refused("apply needs the reviewed config (--config)".into())
        })?;
        let selector = selector.to_string();
        let (id, proposal) = self
            .read(move |l| {
                let id = l.resolve_proposal_id(&selector)?;
                let proposal = l.proposal(&id)?;
                Ok((id, proposal))
            })
            .await?;
        let cs = proposal.change_set()?;
        let cap = reviewed_capability(&config, &cs).ok_or_else(|| {
            ReviewError::Refused(format!(
                "proposal {id} does not match any reviewed proposal capability in local config"
            ))
        })?;
        let executor_name = cap
            .executor
            .clone()
            .or_else(|| cs.writeback.executor.clone())
            .unwrap_or("sql_update".into());
        if executor_name != "sql_update" {
            return match config.executors.get(&executor_name) {
                None => Err(ReviewError::Refused(format!(
                    "executor {executor_name} is not configured"
                ))),
                Some(sluicegate_core::config::Executor::SqlUpdate) => Err(ReviewError::Refused(
                    format!("unsupported executor type for {executor_name}"),
                )),
                Some(executor) => {
                    let cap = cap.clone();
                    self.apply_handler(
                        HandlerApply {
                            config: &config,
                            cap: &cap,
                            cs: &cs,
                            proposal,
                            executor_name: &executor_name,
                            executor,
                        },
                        opts,
                    )
                    .await
                }
            };
        }
        let state = proposal.state()?;
        match state {
            State::Approved
            | State::PendingWorker
            | State::Applied
            | State::Conflict
            | State::Failed => {}
            other => {
                return Err(ReviewError::Refused(format!(
                    "proposal {id} is {}; only approved proposals can be applied",
                    other.as_str()
                )));
            }
        }
        let now = now_iso();
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
        .map_err(ReviewError::Refused)?;
        check_job_authority(&config, &job, &cs, &proposal.proposal_hash, &now)
            .map_err(ReviewError::Refused)?;
        if proposal_hash(&cs) != proposal.proposal_hash {
            return Err(ReviewError::Refused(format!(
                "proposal {id} was modified after it was recorded"
            )));
        }

        let source = config.sources.get(&cs.source.source_id).ok_or_else(|| {
            ReviewError::Refused(format!("source {} is not configured", cs.source.source_id))
        })?;
        let update = guarded_update(&job, &cs, cap, source.engine);
        if opts.dry_run {
            let outcome = apply_guarded_update("", &update, true)
                .await
                .map_err(|e| ReviewError::Refused(e.to_string()))?;
            let result = executor_result(&outcome);
            self.ledger
                .record_note(
                    &id,
                    "writeback_dry_run",
                    &self.runner_id,
                    json!({"writeback_job_id": job.writeback_job_id, "result_hash": result.result_hash}),
                )
                .await?;
            return Ok(ApplyReport {
                proposal,
                executor: executor_name,
                writeback_job_id: job.writeback_job_id.clone(),
                idempotency_key: job.idempotency_key.clone(),
                job: Some(job),
                result,
                receipt: None,
                dry_run: true,
                completed_at: now_iso(),
                handler: None,
            });
        }

        if matches!(state, State::Approved | State::PendingWorker) {
            let job_json =
                serde_json::to_value(&job).map_err(|e| ReviewError::Refused(e.to_string()))?;
            self.ledger
                .queue_job(JobRecord {
                    proposal_id: id.clone(),
                    job_id: job.writeback_job_id.clone(),
                    job: job_json,
                    kind: JobKind::Sql {
                        source_id: cs.source.source_id.clone(),
                    },
                    actor: self.runner_id.clone(),
                })
                .await?;
        }
        let writer_env = source.write_url_env.as_deref();
        let writer_url = writer_env.and_then(|e| self.env.get(e));
        let result = match writer_url {
            None => ExecutorResult {
                status: ReceiptStatus::Failed,
                affected_rows: 0,
                result_hash: None,
                error_code: Some("DATABASE_UNAVAILABLE".into()),
                new_version: None,
            },
            Some(url) => match apply_guarded_update(&url, &update, false).await {
                Ok(outcome) => executor_result(&outcome),
                Err(e) => {
                    tracing::warn!(proposal = %id, error = %e, "guarded writeback could not run");
                    ExecutorResult {
                        status: ReceiptStatus::Failed,
                        affected_rows: 0,
                        result_hash: None,
                        error_code: Some(match e {
                            sluicegate_source::SourceError::Unavailable(_)
                            | sluicegate_source::SourceError::CredentialMissing { .. } => {
                                "DATABASE_UNAVAILABLE".into()
                            }
                            _ => "TRANSACTION_FAILED".into(),
                        }),
                        new_version: None,
                    }
                }
            },
        };
        let completed_at = now_iso();
        let receipt = receipt_for(
            &job.writeback_job_id,
            &cs,
            &self.runner_id,
            &result,
            &completed_at,
        );
        let proposal = self.ledger.record_receipt(receipt.clone()).await?;
        Ok(ApplyReport {
            proposal,
            executor: executor_name,
            writeback_job_id: job.writeback_job_id.clone(),
            idempotency_key: job.idempotency_key.clone(),
            job: Some(job),
            result,
            receipt: Some(receipt),
            dry_run: false,
            completed_at,
            handler: None,
        })
    }
}

fn guarded_update(
    job: &WritebackJobV1,
    cs: &ChangeSet,
    cap: &sluicegate_core::config::Capability,
    engine: sluicegate_core::config::Engine,
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
                    expected: Value::Null,
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
