//! Writeback rules that need no I/O: version comparison, result hashes, jobs built from
//! approved proposals, the tamper checks against the reviewed config, and receipts.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde_json::{Value, json};
use sluicegate_protocol::receipt::EXECUTION_RECEIPT_V1;
use sluicegate_protocol::writeback_job::{
    ConflictGuard, JobTarget, Lease, RunnerScope, WRITEBACK_JOB_V1, WritebackJobV1,
};
use sluicegate_protocol::{ChangeSet, ExecutionReceipt, JsonMap, ReceiptStatus};

use crate::config::{Capability, Config, Engine, Kind, Mode};
use crate::json::{canonical, js_string, sha256_hex};
use crate::proposal::{ROW_HASH_COLUMN, SINGLE_TENANT_COLUMN, proposal_hash};

/// The runner id recorded in receipts and events when none is configured.
pub const DEFAULT_RUNNER_ID: &str = "local_runner";

/// Every character outside `[A-Za-z0-9_:-]` becomes `_` (job and lease ids).
pub fn sanitize_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The job id of attempt `attempt` (from 1) at writing a proposal: `base` for the first,
/// `<base>-a<n>` after that, so every attempt's receipt has an id of its own.
pub fn attempt_job_id(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        base.to_string()
    } else {
        format!("{base}-a{attempt}")
    }
}

/// `<proposal_id>:<object_id>`: one proposal maps to one receipt row forever.
pub fn idempotency_key(cs: &ChangeSet) -> String {
    format!("{}:{}", cs.proposal_id, cs.scope.object_id)
}

/// The conflict guard a job must carry for a change set's expected version.
pub fn conflict_guard_for(cs: &ChangeSet) -> ConflictGuard {
    let ev = &cs.guards.expected_version;
    if ev.column == ROW_HASH_COLUMN {
        ConflictGuard::RowHash {
            expected_hash: js_string(&ev.value),
        }
    } else if ev.column.is_empty() || ev.value.is_null() {
        ConflictGuard::None
    } else {
        ConflictGuard::Column {
            column: ev.column.clone(),
            expected_value: ev.value.clone(),
        }
    }
}

/// Build the `synapsor.writeback-job.v1` for an approved direct-SQL proposal (store.md §3.6).
pub fn job_from_change_set(
    cs: &ChangeSet,
    version: u32,
    hash: &str,
    project_id: &str,
    expires_at: &str,
) -> Result<WritebackJobV1, String> {
    if cs.writeback.mode != "trusted_worker_required" {
        return Err(format!(
            "proposal {} uses {}",
            cs.proposal_id, cs.writeback.mode
        ));
    }
    let engine = Engine::from_source_kind(&cs.source.kind).ok_or_else(|| {
        format!(
            "proposal {} does not target an external database",
            cs.proposal_id
        )
    })?;
    let id = sanitize_id(&cs.proposal_id);
    Ok(WritebackJobV1 {
        schema_version: WRITEBACK_JOB_V1.to_string(),
        writeback_job_id: format!("wbj_{id}"),
        proposal_id: cs.proposal_id.clone(),
        proposal_version: version,
        proposal_hash: hash.to_string(),
        runner_scope: RunnerScope {
            project_id: project_id.to_string(),
            source_id: cs.source.source_id.clone(),
        },
        engine: engine.as_str().to_string(),
        operation: "single_row_update".to_string(),
        target: JobTarget {
            schema: cs.source.schema.clone(),
            table: cs.source.table.clone(),
            primary_key: cs.source.primary_key.clone(),
        },
        tenant_guard: cs.guards.tenant.clone(),
        allowed_columns: cs.guards.allowed_columns.clone(),
        patch: cs.patch.clone(),
        conflict_guard: conflict_guard_for(cs),
        idempotency_key: idempotency_key(cs),
        lease: Lease {
            lease_id: format!("lease_{id}"),
            attempt: 1,
            expires_at: expires_at.to_string(),
        },
    })
}

/// The reviewed capability a stored proposal was created by (writeback.md §A.2 step 4).
pub fn reviewed_capability<'a>(config: &'a Config, cs: &ChangeSet) -> Option<&'a Capability> {
    config.capabilities.iter().find(|c| {
        c.kind == Kind::Proposal
            && c.name == cs.action
            && c.source == cs.source.source_id
            && c.target.schema == cs.source.schema
            && c.target.table == cs.source.table
            && c.target.primary_key == cs.source.primary_key.column
    })
}

/// Why a writeback job does not match the reviewed config or the approved proposal. Each
/// code is stable: `validate --job` prints it, and tests assert it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobCode {
    NotReviewMode,
    SourceNotReviewed,
    EngineMismatch,
    LeaseExpired,
    CapabilityNotReviewed,
    AllowlistWidened,
    ProposalMismatch,
    HashMismatch,
    RowMismatch,
    TenantMismatch,
    PatchMismatch,
    ConflictGuardChanged,
    IdempotencyKeyMismatch,
}

impl JobCode {
    pub fn as_str(self) -> &'static str {
        match self {
            JobCode::NotReviewMode => "APPLY_REQUIRES_REVIEW_MODE",
            JobCode::SourceNotReviewed => "JOB_SOURCE_NOT_REVIEWED",
            JobCode::EngineMismatch => "JOB_ENGINE_MISMATCH",
            JobCode::LeaseExpired => "JOB_LEASE_EXPIRED",
            JobCode::CapabilityNotReviewed => "JOB_CAPABILITY_NOT_REVIEWED",
            JobCode::AllowlistWidened => "JOB_ALLOWLIST_WIDENED",
            JobCode::ProposalMismatch => "JOB_PROPOSAL_MISMATCH",
            JobCode::HashMismatch => "JOB_HASH_MISMATCH",
            JobCode::RowMismatch => "JOB_ROW_MISMATCH",
            JobCode::TenantMismatch => "JOB_TENANT_MISMATCH",
            JobCode::PatchMismatch => "JOB_PATCH_MISMATCH",
            JobCode::ConflictGuardChanged => "JOB_CONFLICT_GUARD_CHANGED",
            JobCode::IdempotencyKeyMismatch => "JOB_IDEMPOTENCY_KEY_MISMATCH",
        }
    }
}

/// A refused job: its code and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRefusal {
    pub code: JobCode,
    pub message: String,
}

impl std::fmt::Display for JobRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn job_refused<T>(code: JobCode, message: impl Into<String>) -> Result<T, JobRefusal> {
    Err(JobRefusal {
        code,
        message: message.into(),
    })
}

/// Refuse a job that does not match the reviewed config and the stored, approved proposal
/// (writeback.md §A.4, hardened per spec README §3.10: key, tenant, patch and conflict guard
/// must equal the approved change set, and a job can never weaken the guard). `apply` runs it
/// on the job it builds; `validate --job` on a job file.
pub fn check_job_authority(
    config: &Config,
    job: &WritebackJobV1,
    cs: &ChangeSet,
    stored_hash: &str,
    now: &str,
) -> Result<(), JobRefusal> {
    if config.mode != Mode::Review {
        return job_refused(
            JobCode::NotReviewMode,
            format!(
                "local writeback apply requires review mode, got {}",
                config.mode.as_str()
            ),
        );
    }
    let Some(source) = config.sources.get(&job.runner_scope.source_id) else {
        return job_refused(
            JobCode::SourceNotReviewed,
            format!(
                "writeback source {} is not present in reviewed config",
                job.runner_scope.source_id
            ),
        );
    };
    if source.engine.as_str() != job.engine {
        return job_refused(
            JobCode::EngineMismatch,
            format!(
                "writeback engine {} does not match reviewed source {}",
                job.engine, source.name
            ),
        );
    }
    if lease_expired(&job.lease.expires_at, now) {
        return job_refused(JobCode::LeaseExpired, "writeback job lease has expired");
    }
    let Some(cap) = config.capabilities.iter().find(|c| {
        c.kind == Kind::Proposal
            && c.source == job.runner_scope.source_id
            && c.target.schema == job.target.schema
            && c.target.table == job.target.table
            && c.target.primary_key == job.target.primary_key.column
            && match c.target.tenant_key.as_deref() {
                Some(key) => key == job.tenant_guard.column,
                None => {
                    c.target.single_tenant_dev && job.tenant_guard.column == SINGLE_TENANT_COLUMN
                }
            }
            && !c.allowed_columns.is_empty()
            && job.patch.keys().all(|k| c.allowed_columns.contains(k))
    }) else {
        return job_refused(
            JobCode::CapabilityNotReviewed,
            "writeback job does not match any reviewed proposal capability in local config",
        );
    };
    if let Some(col) = job
        .allowed_columns
        .iter()
        .find(|c| !cap.allowed_columns.contains(c))
    {
        return job_refused(
            JobCode::AllowlistWidened,
            format!("writeback job allowlist widens reviewed authority: {col}"),
        );
    }
    if let (Some(reviewed), ConflictGuard::Column { column, .. }) = (
        cap.conflict_guard.as_ref().and_then(|g| g.column.as_ref()),
        &job.conflict_guard,
    ) && reviewed != column
    {
        return job_refused(
            JobCode::ConflictGuardChanged,
            "writeback conflict guard does not match reviewed capability",
        );
    }
    if job.proposal_id != cs.proposal_id {
        return job_refused(
            JobCode::ProposalMismatch,
            format!(
                "local proposal not found for writeback job: {}",
                job.proposal_id
            ),
        );
    }
    if job.proposal_hash != stored_hash || proposal_hash(cs) != stored_hash {
        return job_refused(
            JobCode::HashMismatch,
            "writeback approval/proposal digest does not match local proposal",
        );
    }
    // The job must carry exactly what was approved: same row, tenant, values and guard.
    if job.target.primary_key != cs.source.primary_key {
        return job_refused(
            JobCode::RowMismatch,
            "writeback job primary key does not match the approved proposal",
        );
    }
    if job.tenant_guard != cs.guards.tenant {
        return job_refused(
            JobCode::TenantMismatch,
            "writeback job tenant guard does not match the approved proposal",
        );
    }
    if job.patch != cs.patch {
        return job_refused(
            JobCode::PatchMismatch,
            "writeback job patch does not match the approved proposal",
        );
    }
    if job.conflict_guard != conflict_guard_for(cs) {
        return job_refused(
            JobCode::ConflictGuardChanged,
            "writeback job conflict guard was weakened or changed after approval",
        );
    }
    if job.idempotency_key != idempotency_key(cs) {
        return job_refused(
            JobCode::IdempotencyKeyMismatch,
            "writeback job idempotency key does not match the approved proposal",
        );
    }
    Ok(())
}

/// RFC 3339 leases; numbers are epoch milliseconds; anything unparseable is not expired
/// (compatibility with jobs written by the reference).
pub fn lease_expired(expires_at: &str, now: &str) -> bool {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    };
    match (parse(expires_at), parse(now)) {
        (Some(exp), Some(now)) => exp < now,
        _ => match (expires_at.parse::<i64>(), parse(now)) {
            (Ok(ms), Some(now)) => ms < now.timestamp_millis(),
            _ => false,
        },
    }
}

/// What an executor reported, before it becomes a receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorResult {
    pub status: ReceiptStatus,
    pub affected_rows: u64,
    pub result_hash: Option<String>,
    pub error_code: Option<String>,
    pub new_version: Option<Value>,
}

/// Turn an executor result into an execution receipt (writeback.md §A.9).
pub fn receipt_for(
    job_id: &str,
    cs: &ChangeSet,
    runner_id: &str,
    result: &ExecutorResult,
    executed_at: &str,
) -> ExecutionReceipt {
    let status = match result.status {
        ReceiptStatus::Applied if result.affected_rows == 0 => ReceiptStatus::AlreadyApplied,
        s => s,
    };
    let mutated = result.status == ReceiptStatus::Applied && result.affected_rows > 0;
    let receipt_hash = match &result.result_hash {
        Some(h) if h.starts_with("sha256:") => h.clone(),
        _ => format!(
            "sha256:{}",
            sha256_hex(
                canonical(&json!({
                    "job_id": job_id,
                    "status": status.as_str(),
                    "affected_rows": result.affected_rows,
                    "error_code": result.error_code,
                }))
                .as_bytes()
            )
        ),
    };
    let previous_version = match conflict_guard_for(cs) {
        ConflictGuard::Column { expected_value, .. } => Some(expected_value),
        _ => None,
    };
    ExecutionReceipt {
        schema_version: EXECUTION_RECEIPT_V1.to_string(),
        writeback_job_id: job_id.to_string(),
        proposal_id: cs.proposal_id.clone(),
        runner_id: runner_id.to_string(),
        status,
        rows_affected: result.affected_rows,
        idempotency_key: idempotency_key(cs),
        previous_version,
        new_version: result.new_version.clone(),
        source_database_mutated: mutated,
        executed_at: executed_at.to_string(),
        safe_error_code: result.error_code.clone(),
        receipt_hash,
        extra: JsonMap::new(),
    }
}

/// Normalise a version value for comparison (writeback.md §A.6): timestamps in any of the
/// usual spellings become `YYYY-MM-DD HH:MM:SS.ffffff` in UTC; anything else is trimmed text.
pub fn normalize_version(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        other => js_string(other),
    };
    let text = text.trim();
    normalize_timestamp(text).unwrap_or_else(|| text.to_string())
}

fn normalize_timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // Date, a `T` or space, then time: anything shorter is not a timestamp.
    if bytes.len() < 19 || !(bytes[10] == b'T' || bytes[10] == b't' || bytes[10] == b' ') {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let rest = &rest[1..];
    let (time, offset) = split_offset(rest)?;
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f))
            if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (hms, f)
        }
        Some(_) => return None,
        None => (time, ""),
    };
    let mut micros = fraction.to_string();
    micros.truncate(6);
    while micros.len() < 6 {
        micros.push('0');
    }
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date} {hms}"), "%Y-%m-%d %H:%M:%S").ok()?;
    let utc = match offset {
        None => naive,
        Some(off) => {
            let dt: DateTime<FixedOffset> =
                DateTime::parse_from_str(&format!("{date} {hms} {off}"), "%Y-%m-%d %H:%M:%S %#z")
                    .ok()?;
            dt.with_timezone(&Utc).naive_utc()
        }
    };
    Some(format!("{}.{micros}", utc.format("%Y-%m-%d %H:%M:%S")))
}

/// Split `HH:MM:SS[.f]` from a trailing `Z` or `±HH[[:]MM]` offset. `Z` means no shift.
fn split_offset(rest: &str) -> Option<(&str, Option<&str>)> {
    if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        return Some((t, None));
    }
    match rest.rfind(['+', '-']) {
        Some(i) if i >= 8 => {
            let off = &rest[i..];
            let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
            if !(digits.len() == 2 || digits.len() == 4)
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some((&rest[..i], Some(off)))
        }
        _ => Some((rest, None)),
    }
}

/// Whether the live version value still equals the one captured at proposal time.
pub fn versions_match(current: &Value, expected: &Value) -> bool {
    normalize_version(current) == normalize_version(expected)
}

/// `H(job_id, status, version?)`: the result hash recorded in the receipt table.
pub fn result_hash(job_id: &str, status: &str, version: Option<&Value>) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("job_id".into(), json!(job_id));
    obj.insert("status".into(), json!(status));
    if let Some(v) = version {
        obj.insert("version".into(), v.clone());
    }
    format!(
        "sha256:{}",
        sha256_hex(crate::json::canonical(&Value::Object(obj)).as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_table_from_the_spec() {
        let m = |a: Value, b: Value| versions_match(&a, &b);
        assert!(m(
            json!("2026-05-16 00:00:00.123456"),
            json!("2026-05-16T00:00:00.123456Z")
        ));
        assert!(!m(
            json!("2026-05-16 00:00:00.123456"),
            json!("2026-05-16T00:00:00.123Z")
        ));
        assert!(m(
            json!("2026-06-20 14:31:08+00"),
            json!("2026-06-20T14:31:08Z")
        ));
        assert!(m(
            json!("2026-06-20 07:31:08-07"),
            json!("2026-06-20T14:31:08Z")
        ));
        assert!(m(
            json!("2026-06-20T14:31:08.000Z"),
            json!("2026-06-20 14:31:08")
        ));
        assert!(m(json!(7), json!("7")));
        assert!(m(Value::Null, json!("")));
        assert!(!m(
            json!("2026-06-20T14:31:09Z"),
            json!("2026-06-20T14:31:08Z")
        ));
    }

    #[test]
    fn result_hash_omits_absent_version() {
        let with = result_hash("wbj_1", "applied", Some(&json!("v1")));
        let expected = format!(
            "sha256:{}",
            sha256_hex(br#"{"job_id":"wbj_1","status":"applied","version":"v1"}"#)
        );
        assert_eq!(with, expected);
        let without = result_hash("wbj_1", "dry-run", None);
        assert_eq!(
            without,
            format!(
                "sha256:{}",
                sha256_hex(br#"{"job_id":"wbj_1","status":"dry-run"}"#)
            )
        );
    }
}
