//! Wire documents Sluicegate shares with Synapsor Runner 0.1.1.
//!
//! This crate defines serde types and `schema_version` constants for every external format:
//! change sets, writeback jobs (v1 and the legacy 1.0 form), execution receipts, runner
//! registration, the app-owned handler request and receipt, the lifecycle-event webhook
//! envelope, and the `schema_version` of the MCP
//! audit report. It holds no logic beyond (de)serialisation: validation and hashing live in
//! `sluicegate-core`. Changing a type here changes a wire format, so the conformance fixtures
//! must keep passing.

pub mod audit_report;
pub mod change_set;
pub mod event_webhook;
pub mod handler;
pub mod receipt;
pub mod registration;
pub mod writeback_job;

pub use change_set::ChangeSet;
pub use handler::{HandlerReceipt, HandlerRequest};
pub use receipt::{ExecutionReceipt, LegacyResult, ReceiptStatus};
pub use registration::RunnerRegistration;
pub use writeback_job::{LegacyJob, WritebackJobV1};

/// The `schema_version` of the first line of a `store export` file (JSON lines: this header,
/// then one line per proposal with every record its hash chain covers, then evidence bundles
/// and query-audit records). Sluicegate's own format; the reference has no ledger export.
pub const LEDGER_EXPORT_V1: &str = "sluicegate.ledger-export.v1";

/// A JSON object whose key order is preserved (`serde_json` is built with `preserve_order`).
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// `{column, value}`: a guard or key column with its captured value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnValue {
    pub column: String,
    pub value: serde_json::Value,
}
