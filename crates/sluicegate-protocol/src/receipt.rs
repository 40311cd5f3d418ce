//! `synapsor.execution-receipt.v1` and the legacy `1.0` result an adapter reports.

use serde::{Deserialize, Serialize};

use crate::JsonMap;

pub const EXECUTION_RECEIPT_V1: &str = "synapsor.execution-receipt.v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Applied,
    AlreadyApplied,
    Conflict,
    Failed,
    Canceled,
}

impl ReceiptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Applied => "applied",
            ReceiptStatus::AlreadyApplied => "already_applied",
            ReceiptStatus::Conflict => "conflict",
            ReceiptStatus::Failed => "failed",
            ReceiptStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReceipt {
    pub schema_version: String,
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub runner_id: String,
    pub status: ReceiptStatus,
    pub rows_affected: u64,
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_version: Option<serde_json::Value>,
    pub source_database_mutated: bool,
    pub executed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_error_code: Option<String>,
    pub receipt_hash: String,
    /// Handler receipts carry extra keys such as `details`; they are kept as given.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The adapter result (`protocol_version: "1.0"`), printed by `apply --json` and `apply --job`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyResult {
    pub protocol_version: String,
    pub job_id: String,
    pub runner_id: String,
    pub status: ReceiptStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}
