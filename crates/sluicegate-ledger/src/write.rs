//! Everything that writes to the ledger. Each public method is one transaction: either all of
//! its records land, or none do.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};
use sluicegate_core::evidence::{EvidenceBundle, QueryAudit};
use sluicegate_core::lifecycle::{
    ReceiptOutcome, State, Transition, TransitionRefusal, transition,
};
use sluicegate_core::proposal::{proposal_hash, validate_change_set};
use sluicegate_core::secrets;
use sluicegate_protocol::{ChangeSet, ExecutionReceipt, ReceiptStatus};

use crate::views::StoredProposal;
use crate::{Ledger, LedgerError, Pending, RefusalCode};

/// The result of recording a proposal call.
#[derive(Debug, Clone)]
pub struct ProposalRecorded {
    pub proposal: StoredProposal,
    /// True when an identical proposal already existed and was returned instead.
    pub deduplicated: bool,
}

/// What kind of writeback job is being recorded.
#[derive(Debug, Clone)]
pub enum JobKind {
    /// A direct guarded `UPDATE` job (`synapsor.writeback-job.v1`).
    Sql { source_id: String },
    /// A request to an app-owned handler.
    Handler { executor: String },
}

/// Decisions a human can record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Statements are prepared once per connection and reused: parsing SQL costs more than the
/// insert itself on the hot path of every tool call.
trait ExecCached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl ExecCached for rusqlite::Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// A refusal of core's secret scan, which refuses only with `SECRET_MATERIAL_REJECTED`.
fn to_refusal(r: sluicegate_core::refusal::Refusal) -> LedgerError {
    debug_assert_eq!(
        r.code,
        sluicegate_core::refusal::Code::SecretMaterialRejected
    );
    LedgerError::refused(RefusalCode::SecretMaterialRejected, r.message)
}

impl Ledger {
    /// Record one read: its evidence bundle and query-audit record.
    pub fn record_read(&self, bundle: EvidenceBundle, audit: QueryAudit) -> Pending<()> {
        if let Err(e) = scan_read(&bundle, &audit) {
            return Pending::ready(Err(e));
        }
        self.write(move |tx, now| insert_read(tx, &bundle, &audit, now))
    }

    /// Record a proposal call in one transaction: the read (always, even when the proposal is
    /// refused), then the proposal, its evidence link, the second audit record and the events.
    ///
    /// An identical proposal (same id, version and hash) returns the stored one, marked as
    /// deduplicated; a different proposal under the same id is refused.
    pub fn record_proposal(&self, call: ProposalCall) -> Pending<ProposalRecorded> {
        if let Err(e) = scan_read(&call.read_bundle, &call.read_audit) {
            return Pending::ready(Err(e));
        }
        self.write_keeping(move |tx, now| {
            insert_read(tx, &call.read_bundle, &call.read_audit, now)?;
            // The read happened and stays on record even when the proposal is refused: the
            // refusal travels inside an `Ok` so the writer keeps this job's records.
            let proposal_savepoint = SavePoint::open(tx)?;
            let outcome = insert_proposal(
                tx,
                &call.change_set,
                &call.proposal_item,
                &call.proposal_audit,
                now,
            );
            proposal_savepoint.close(outcome.is_ok())?;
            Ok(outcome)
        })
    }

    /// Approve or reject a proposal, bound to the exact hash and version the reviewer saw.
    pub fn decide(&self, d: DecisionInput) -> Pending<StoredProposal> {
        self.write(move |tx, now| {
            let proposal = load_proposal(tx, &d.proposal_id)?;
            if d.decision == Decision::Approve {
                writeback_allowed(&proposal, "approved")?;
            }
            check_identity(&proposal, &d.expected_hash, d.expected_version)?;
            let (t, status, kind) = match d.decision {
                Decision::Approve => (Transition::Approve, "approved", "proposal_approved"),
                Decision::Reject => (Transition::Reject, "rejected", "proposal_rejected"),
            };
            move_state(tx, &proposal, t, now)?;
            tx.exec(
                "INSERT INTO approvals (proposal_id, proposal_version, proposal_hash, approver, status, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![d.proposal_id, proposal.proposal_version, proposal.proposal_hash, d.actor, status, d.reason, now],
            )?;
            append_event(
                tx,
                &d.proposal_id,
                kind,
                &d.actor,
                &json!({"proposal_hash": proposal.proposal_hash, "proposal_version": proposal.proposal_version, "reason": d.reason}),
                now,
            )?;
            load_proposal(tx, &d.proposal_id)
        })
    }

    /// Hand an approved proposal to a worker: record the job and move the proposal to
    /// `pending_worker`. Recording the same job again updates it in place.
    pub fn queue_job(&self, job: JobRecord) -> Pending<StoredProposal> {
        if matches!(job.kind, JobKind::Handler { .. })
            && let Err(r) = secrets::scan(&job.job, "handler_writeback_job")
        {
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
            let proposal = load_proposal(tx, &proposal_id)?;
            writeback_allowed(&proposal, "converted into a writeback job")?;
            let was = proposal.state()?;
            move_state(tx, &proposal, Transition::QueueForWorker, now)?;
            if was == State::Approved {
                append_event(
                    tx,
                    &proposal_id,
                    "proposal_pending_worker",
                    &actor,
                    &json!({"proposal_hash": proposal.proposal_hash, "proposal_version": proposal.proposal_version}),
                    now,
                )?;
            }
            tx.exec(
                "INSERT INTO writeback_jobs (writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending_worker', ?4, ?5, ?5)
                 ON CONFLICT(writeback_job_id) DO UPDATE SET status = excluded.status, job_json = excluded.job_json, updated_at = excluded.updated_at",
                params![job_id, proposal_id, proposal.proposal_hash, serde_json::to_string(&job)?, now],
            )?;
            let (event, payload) = match &kind {
                JobKind::Sql { source_id } => (
                    "writeback_job_recorded",
                    json!({"writeback_job_id": job_id, "proposal_hash": proposal.proposal_hash, "source_id": source_id}),
                ),
                JobKind::Handler { executor } => (
                    "handler_writeback_job_recorded",
                    json!({"writeback_job_id": job_id, "executor": executor}),
                ),
            };
            append_event(tx, &proposal_id, event, &actor, &payload, now)?;
            load_proposal(tx, &proposal_id)
        })
    }

    /// Record an operator-forced retry of an app-owned handler call as a new job attempt.
    ///
    /// The proposal must already have been handed to a worker (`pending_worker`, `applied`,
    /// `conflict` or `failed`); its state does not change here; the retry's receipt moves it.
    /// The attempt gets its own job id so its receipt is kept beside the earlier ones.
    pub fn record_handler_retry(&self, job: JobRecord) -> Pending<StoredProposal> {
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
            let inserted = tx.exec(
                "INSERT OR IGNORE INTO writeback_jobs (writeback_job_id, proposal_id, proposal_hash, status, job_json, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending_worker', ?4, ?5, ?5)",
                params![job_id, proposal_id, proposal.proposal_hash, serde_json::to_string(&job)?, now],
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
                &json!({"writeback_job_id": job_id, "executor": executor, "forced_by_operator": true}),
                now,
            )?;
            Ok(proposal)
        })
    }

    /// Record an execution receipt: the receipt row (once per job and key), the idempotency
    /// receipt (latest wins), the job status, the proposal state and a `writeback_<status>`
    /// event.
    pub fn record_receipt(&self, receipt: ExecutionReceipt) -> Pending<StoredProposal> {
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

/// A nested savepoint inside a writer job, for a part that may be refused while the rest of
/// the job's records stay.
struct SavePoint<'c> {
    conn: &'c Connection,
}

impl<'c> SavePoint<'c> {
    fn open(conn: &'c Connection) -> Result<SavePoint<'c>, LedgerError> {
        conn.exec("SAVEPOINT part", [])?;
        Ok(SavePoint { conn })
    }

    /// Keep the part's records, or roll them back.
    fn close(self, keep: bool) -> Result<(), LedgerError> {
        if !keep {
            self.conn.exec("ROLLBACK TO part", [])?;
        }
        self.conn.exec("RELEASE part", [])?;
        Ok(())
    }
}

/// The inputs of [`Ledger::record_proposal`]: the read behind the proposal and the proposal.
#[derive(Debug, Clone)]
pub struct ProposalCall {
    pub read_bundle: EvidenceBundle,
    pub read_audit: QueryAudit,
    pub change_set: ChangeSet,
    pub proposal_item: Value,
    pub proposal_audit: QueryAudit,
}

/// A human decision as [`Ledger::decide`] records it.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    pub proposal_id: String,
    pub decision: Decision,
    pub actor: String,
    pub reason: Option<String>,
    /// The hash and version the reviewer saw: the decision is refused if they changed.
    pub expected_hash: String,
    pub expected_version: u32,
}

/// A writeback job as [`Ledger::queue_job`] and [`Ledger::record_handler_retry`] record it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub proposal_id: String,
    pub job_id: String,
    pub job: Value,
    pub kind: JobKind,
    pub actor: String,
}

fn insert_receipt(
    tx: &Connection,
    receipt: &ExecutionReceipt,
    now: &str,
) -> Result<StoredProposal, LedgerError> {
    let at = if receipt.executed_at.is_empty() {
        now.to_string()
    } else {
        receipt.executed_at.clone()
    };
    let receipt_json = serde_json::to_string(receipt)?;
    let proposal = load_proposal(tx, &receipt.proposal_id)?;
    writeback_allowed(&proposal, "recorded with an execution receipt")?;
    let outcome = match receipt.status {
        ReceiptStatus::Applied | ReceiptStatus::AlreadyApplied => ReceiptOutcome::Applied,
        ReceiptStatus::Conflict => ReceiptOutcome::Conflict,
        ReceiptStatus::Failed => ReceiptOutcome::Failed,
        ReceiptStatus::Canceled => ReceiptOutcome::Canceled,
    };
    move_state(tx, &proposal, Transition::Receipt(outcome), &at)?;
    tx.exec(
        "INSERT OR IGNORE INTO writeback_receipts (writeback_job_id, proposal_id, runner_id, status, idempotency_key, source_database_mutated, receipt_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
        tx.exec(
            "INSERT OR REPLACE INTO idempotency_receipts (idempotency_key, writeback_job_id, proposal_id, receipt_status, receipt_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![receipt.idempotency_key, receipt.writeback_job_id, receipt.proposal_id, receipt.status.as_str(), receipt_json, at],
        )?;
        tx.exec(
            "UPDATE writeback_jobs SET status = ?2, updated_at = ?3 WHERE writeback_job_id = ?1",
            params![receipt.writeback_job_id, receipt.status.as_str(), at],
        )?;
    }
    append_event(
        tx,
        &receipt.proposal_id,
        &format!("writeback_{}", receipt.status.as_str()),
        &receipt.runner_id,
        &json!({
            "writeback_job_id": receipt.writeback_job_id,
            "rows_affected": receipt.rows_affected,
            "source_database_mutated": receipt.source_database_mutated,
            "receipt_hash": receipt.receipt_hash,
        }),
        &at,
    )?;
    load_proposal(tx, &receipt.proposal_id)
}

fn scan_read(bundle: &EvidenceBundle, audit: &QueryAudit) -> Result<(), LedgerError> {
    secrets::scan(&bundle.payload, "evidence_bundle.payload").map_err(to_refusal)?;
    secrets::scan_list(&bundle.items, "evidence_bundle.items").map_err(to_refusal)?;
    secrets::scan(&audit.payload, "query_audit").map_err(to_refusal)
}

/// Insert a read's bundle and audit record. The audit's id is known before it is inserted
/// (the transaction holds the write lock and ids are `max + 1`), so the bundle lists it in its
/// own insert rather than being updated afterwards.
fn insert_read(
    tx: &Connection,
    bundle: &EvidenceBundle,
    audit: &QueryAudit,
    now: &str,
) -> Result<(), LedgerError> {
    if audit.evidence_bundle_id.as_deref() != Some(bundle.evidence_bundle_id.as_str()) {
        insert_bundle(tx, bundle, now, None)?;
        return insert_audit(tx, audit, now);
    }
    let audit_id: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(audit_id), 0) + 1 FROM query_audit")?
        .query_row([], |r| r.get(0))?;
    insert_bundle(tx, bundle, now, Some(audit_id))?;
    insert_audit_row(tx, audit, now, Some(audit_id))?;
    Ok(())
}

/// Insert a bundle, listing `audit_id` among its audit records when given.
fn insert_bundle(
    tx: &Connection,
    bundle: &EvidenceBundle,
    now: &str,
    audit_id: Option<i64>,
) -> Result<(), LedgerError> {
    let m = &bundle.meta;
    let items: Vec<StoredItem> = bundle
        .items
        .iter()
        .map(|item| StoredItem {
            created_at: now,
            item,
        })
        .collect();
    // Two identical reads in the same millisecond share an id; the first record stands and
    // only gains the second audit record.
    tx.exec(
        "INSERT INTO evidence_bundles (evidence_bundle_id, proposal_id, tenant_id, payload_json, created_at, principal, capability, source_id, source_table, business_object, object_id, query_fingerprint, items_json, query_audit_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, CASE WHEN ?14 IS NULL THEN '[]' ELSE json_array(?14) END) ON CONFLICT (evidence_bundle_id) DO UPDATE SET query_audit_ids = json_insert(query_audit_ids, '$[#]', ?14) WHERE ?14 IS NOT NULL",
        params![
            bundle.evidence_bundle_id,
            bundle.proposal_id,
            bundle.tenant_id,
            serde_json::to_string(&bundle.payload)?,
            now,
            m.principal,
            m.capability,
            m.source_id,
            m.source_table,
            m.business_object,
            m.object_id,
            m.query_fingerprint,
            serde_json::to_string(&items)?,
            audit_id
        ],
    )?;
    Ok(())
}

/// An evidence item as kept in `evidence_bundles.items_json`.
#[derive(Serialize)]
struct StoredItem<'a> {
    created_at: &'a str,
    item: &'a Value,
}

/// Link an unlinked bundle to the proposal it supports and append the proposal's item.
/// Returns whether the bundle was linked (a bundle already linked to a proposal stays as is).
fn link_bundle(
    tx: &Connection,
    bundle_id: &str,
    proposal_id: &str,
    item: &Value,
    now: &str,
) -> Result<bool, LedgerError> {
    let items: Option<String> = tx
        .query_row(
            "SELECT items_json FROM evidence_bundles WHERE evidence_bundle_id = ?1 AND proposal_id IS NULL",
            [bundle_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(items) = items else {
        return Ok(false);
    };
    let mut items: Vec<Value> = serde_json::from_str(&items)?;
    items.push(serde_json::to_value(StoredItem {
        created_at: now,
        item,
    })?);
    tx.exec(
        "UPDATE evidence_bundles SET proposal_id = ?2, items_json = ?3 WHERE evidence_bundle_id = ?1",
        params![bundle_id, proposal_id, serde_json::to_string(&items)?],
    )?;
    Ok(true)
}

/// Insert an audit record and add it to the list of the bundle it names, if any.
fn insert_audit(tx: &Connection, audit: &QueryAudit, now: &str) -> Result<(), LedgerError> {
    let audit_id = insert_audit_row(tx, audit, now, None)?;
    if let Some(bundle_id) = &audit.evidence_bundle_id {
        tx.exec(
            "UPDATE evidence_bundles SET query_audit_ids = json_insert(query_audit_ids, '$[#]', ?2) WHERE evidence_bundle_id = ?1",
            params![bundle_id, audit_id],
        )?;
    }
    Ok(())
}

/// Insert the audit row itself (with `audit_id` when the caller chose it); returns its id.
fn insert_audit_row(
    tx: &Connection,
    audit: &QueryAudit,
    now: &str,
    audit_id: Option<i64>,
) -> Result<i64, LedgerError> {
    let m = &audit.meta;
    tx.exec(
        "INSERT INTO query_audit (audit_id, proposal_id, evidence_bundle_id, source_id, query_fingerprint, table_name, row_count, payload_json, created_at, tenant_id, principal, capability, business_object, object_id, primary_key_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            audit_id,
            audit.proposal_id,
            audit.evidence_bundle_id,
            audit.source_id,
            audit.query_fingerprint,
            audit.table_name,
            audit.row_count as i64,
            serde_json::to_string(&audit.payload)?,
            now,
            m.tenant_id,
            m.principal,
            m.capability,
            m.business_object,
            m.object_id,
            m.object_id
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn insert_proposal(
    tx: &Connection,
    cs: &ChangeSet,
    proposal_item: &Value,
    proposal_audit: &QueryAudit,
    now: &str,
) -> Result<ProposalRecorded, LedgerError> {
    validate_change_set(cs).map_err(|m| LedgerError::refused(RefusalCode::ChangeSetInvalid, m))?;
    let cs_value = serde_json::to_value(cs)?;
    secrets::scan(&cs_value, "change_set").map_err(to_refusal)?;
    secrets::scan(&proposal_audit.payload, "query_audit").map_err(to_refusal)?;
    let hash = proposal_hash(cs);
    if let Some(existing) = load_proposal_opt(tx, &cs.proposal_id)? {
        if existing.proposal_hash == hash && existing.proposal_version == cs.proposal_version {
            return Ok(ProposalRecorded {
                proposal: existing,
                deduplicated: true,
            });
        }
        return Err(LedgerError::refused(
            RefusalCode::ProposalImmutabilityViolation,
            format!(
                "proposal {} already exists with a different version or hash",
                cs.proposal_id
            ),
        ));
    }
    let state = match cs.approval.status.as_str() {
        "approved" => State::Approved,
        "rejected" => State::Rejected,
        "canceled" => State::Canceled,
        _ => State::PendingReview,
    };
    let created = if cs.created_at.is_empty() {
        now
    } else {
        cs.created_at.as_str()
    };
    tx.exec(
        &format!(
            "INSERT INTO proposals ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            StoredProposal::COLUMNS
        ),
        params![
            cs.proposal_id,
            cs.proposal_version,
            hash,
            cs.action,
            state.as_str(),
            cs.scope.tenant_id,
            cs.principal.id,
            cs.action,
            cs.scope.business_object,
            cs.scope.object_id,
            cs.source.kind,
            cs.source.source_id,
            cs.source.schema,
            cs.source.table,
            cs.source_database_mutated as i64,
            serde_json::to_string(&cs_value)?,
            created,
            created
        ],
    )?;
    append_event(
        tx,
        &cs.proposal_id,
        "proposal_created",
        &cs.principal.id,
        &json!({"proposal_hash": hash, "proposal_version": cs.proposal_version, "source_database_mutated": cs.source_database_mutated}),
        now,
    )?;
    // Link the read's evidence bundle to the proposal it supports.
    if link_bundle(
        tx,
        &cs.evidence.bundle_id,
        &cs.proposal_id,
        proposal_item,
        now,
    )? {
        append_event(
            tx,
            &cs.proposal_id,
            "evidence_recorded",
            "runner",
            &json!({"evidence_bundle_id": cs.evidence.bundle_id, "item_count": 1}),
            now,
        )?;
    }
    insert_audit(tx, proposal_audit, now)?;
    let proposal = load_proposal(tx, &cs.proposal_id)?;
    Ok(ProposalRecorded {
        proposal,
        deduplicated: false,
    })
}

pub(crate) fn load_proposal_opt(
    tx: &Connection,
    id: &str,
) -> Result<Option<StoredProposal>, LedgerError> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT {} FROM proposals WHERE proposal_id = ?1",
                StoredProposal::COLUMNS
            ),
            [id],
            StoredProposal::from_row,
        )
        .optional()?)
}

fn load_proposal(tx: &Connection, id: &str) -> Result<StoredProposal, LedgerError> {
    load_proposal_opt(tx, id)?.ok_or_else(|| LedgerError::NotFound {
        what: "proposal",
        id: id.to_string(),
    })
}

/// Shadow and read-only proposals are evidence only: they can never reach a writer.
fn writeback_allowed(p: &StoredProposal, operation: &str) -> Result<(), LedgerError> {
    match p.change_set.get("mode").and_then(Value::as_str) {
        Some("shadow") => Err(LedgerError::refused(
            RefusalCode::ShadowWritebackDisabled,
            format!(
                "shadow proposal {} cannot be {operation}; shadow mode stores proposals, evidence, query audit, and replay only and never mutates the source database",
                p.proposal_id
            ),
        )),
        Some("read_only") => Err(LedgerError::refused(
            RefusalCode::ReadOnlyWritebackDisabled,
            format!(
                "read-only proposal {} cannot be {operation}; it never mutates the source database",
                p.proposal_id
            ),
        )),
        _ => Ok(()),
    }
}

fn check_identity(p: &StoredProposal, hash: &str, version: u32) -> Result<(), LedgerError> {
    if p.proposal_hash != hash {
        return Err(LedgerError::refused(
            RefusalCode::ProposalHashMismatch,
            format!("proposal {} hash mismatch", p.proposal_id),
        ));
    }
    if p.proposal_version != version {
        return Err(LedgerError::refused(
            RefusalCode::ProposalVersionMismatch,
            format!("proposal {} version mismatch", p.proposal_id),
        ));
    }
    Ok(())
}

fn move_state(
    tx: &Connection,
    p: &StoredProposal,
    t: Transition,
    now: &str,
) -> Result<State, LedgerError> {
    let from = p.state()?;
    let to = transition(from, t).map_err(|e| {
        LedgerError::refused(
            RefusalCode::Transition(e.code),
            format!("proposal {} is {}", p.proposal_id, e.from.as_str()),
        )
    })?;
    // Compare-and-set on the state we read: a concurrent decision cannot be silently overwritten.
    let changed = tx.exec(
        "UPDATE proposals SET state = ?2, updated_at = ?3 WHERE proposal_id = ?1 AND state = ?4",
        params![p.proposal_id, to.as_str(), now, from.as_str()],
    )?;
    if changed != 1 {
        return Err(LedgerError::refused(
            RefusalCode::ProposalStateChanged,
            format!(
                "proposal {} changed while this decision was being recorded; reload it",
                p.proposal_id
            ),
        ));
    }
    Ok(to)
}

fn append_event(
    tx: &Connection,
    proposal_id: &str,
    kind: &str,
    actor: &str,
    payload: &Value,
    now: &str,
) -> Result<(), LedgerError> {
    tx.exec(
        "INSERT INTO proposal_events (proposal_id, kind, actor, payload_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![proposal_id, kind, actor, serde_json::to_string(payload)?, now],
    )?;
    Ok(())
}

fn validate_receipt(r: &ExecutionReceipt) -> Result<(), LedgerError> {
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
