//! `synapsor.writeback-job.v1` (an approved single-row update) and the legacy `1.0` job form
//! that v1 jobs normalise to.

use serde::{Deserialize, Serialize};

use crate::{ColumnValue, JsonMap};

pub const WRITEBACK_JOB_V1: &str = "synapsor.writeback-job.v1";
pub const LEGACY_PROTOCOL_VERSION: &str = "1.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritebackJobV1 {
    pub schema_version: String,
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub proposal_version: u32,
    pub proposal_hash: String,
    pub runner_scope: RunnerScope,
    pub engine: String,
    pub operation: String,
    pub target: JobTarget,
    pub tenant_guard: ColumnValue,
    pub allowed_columns: Vec<String>,
    pub patch: JsonMap,
    pub conflict_guard: ConflictGuard,
    pub idempotency_key: String,
    pub lease: Lease,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerScope {
    pub project_id: String,
    pub source_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTarget {
    pub schema: String,
    pub table: String,
    pub primary_key: ColumnValue,
}

/// The v1 conflict guard. Legacy jobs spell the column kind `version_column`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConflictGuard {
    #[serde(alias = "version_column")]
    Column {
        column: String,
        expected_value: serde_json::Value,
    },
    RowHash {
        expected_hash: String,
    },
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub lease_id: String,
    pub attempt: u32,
    pub expires_at: String,
}

/// The legacy (`protocol_version: "1.0"`) job: accepted by `apply --job` and used as the
/// normalised internal form stored in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyJob {
    pub protocol_version: String,
    pub job_id: String,
    pub proposal_id: String,
    pub approval_id: String,
    pub source_id: String,
    pub engine: String,
    pub target: LegacyTarget,
    pub allowed_columns: Vec<String>,
    pub patch: JsonMap,
    pub conflict_guard: LegacyConflictGuard,
    pub idempotency_key: String,
    pub lease_expires_at: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyTarget {
    pub schema: String,
    pub table: String,
    pub primary_key: ColumnValue,
    pub tenant_guard: ColumnValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LegacyConflictGuard {
    VersionColumn {
        column: String,
        expected_value: serde_json::Value,
    },
    RowHash {
        expected_hash: String,
    },
    None,
}

impl From<&WritebackJobV1> for LegacyJob {
    fn from(job: &WritebackJobV1) -> Self {
        LegacyJob {
            protocol_version: LEGACY_PROTOCOL_VERSION.to_string(),
            job_id: job.writeback_job_id.clone(),
            proposal_id: job.proposal_id.clone(),
            approval_id: job.proposal_hash.clone(),
            source_id: job.runner_scope.source_id.clone(),
            engine: job.engine.clone(),
            target: LegacyTarget {
                schema: job.target.schema.clone(),
                table: job.target.table.clone(),
                primary_key: job.target.primary_key.clone(),
                tenant_guard: job.tenant_guard.clone(),
            },
            allowed_columns: job.allowed_columns.clone(),
            patch: job.patch.clone(),
            conflict_guard: match &job.conflict_guard {
                ConflictGuard::Column {
                    column,
                    expected_value,
                } => LegacyConflictGuard::VersionColumn {
                    column: column.clone(),
                    expected_value: expected_value.clone(),
                },
                ConflictGuard::RowHash { expected_hash } => LegacyConflictGuard::RowHash {
                    expected_hash: expected_hash.clone(),
                },
                ConflictGuard::None => LegacyConflictGuard::None,
            },
            idempotency_key: job.idempotency_key.clone(),
            lease_expires_at: serde_json::Value::String(job.lease.expires_at.clone()),
            attempt_count: Some(job.lease.attempt),
        }
    }
}
