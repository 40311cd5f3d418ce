//! The app-owned handler wire: the `synapsor.handler-writeback.v1` request Sluicegate sends to an
//! `http_handler` / `command_handler`, and the `synapsor.app-handler-receipt.v1` answer.
//!
//! The request is the reference's flat body (writeback.md §C.3) plus a mirrored `change_set`
//! object with `scope` (spec README §3.9), so handlers written against either the published
//! request schema or the flat body work unchanged. Field order is wire order: the HTTP body is
//! signed byte for byte, so do not reorder fields.

use serde::{Deserialize, Serialize};

use crate::change_set::{ApprovalBlock, EvidenceRef, Guards, Principal, SourceRef};
use crate::{ColumnValue, JsonMap};

/// `schema_version` of the handler request.
pub const HANDLER_WRITEBACK_V1: &str = "synapsor.handler-writeback.v1";
/// `protocol_version` the HTTP body starts with.
pub const HANDLER_PROTOCOL_VERSION: &str = "1.0";
/// Handler job ids are `hwb_<sanitized proposal id>`; the prefix marks a receipt as a handler's.
pub const HANDLER_JOB_PREFIX: &str = "hwb_";

/// Header names sent with an HTTP handler request (lowercase, as HTTP/2 and the reference use).
pub mod headers {
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
    pub const ISSUED_AT: &str = "x-synapsor-issued-at";
    pub const PROPOSAL_ID: &str = "x-synapsor-proposal-id";
    pub const SIGNATURE: &str = "x-synapsor-signature";
    /// The signature value is `sha256=<lowercase hex HMAC-SHA256 of the exact body bytes>`.
    pub const SIGNATURE_PREFIX: &str = "sha256=";
}

/// The request built from an approved change set (writeback.md §C.3 table, in that order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerRequest {
    pub schema_version: String,
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub proposal_version: u32,
    pub proposal_hash: String,
    pub action: String,
    pub runner_hint: String,
    pub idempotency_key: String,
    pub source: SourceRef,
    pub target: HandlerTarget,
    pub tenant_guard: ColumnValue,
    pub allowed_columns: Vec<String>,
    pub before: JsonMap,
    pub patch: JsonMap,
    pub after: JsonMap,
    pub guards: Guards,
    pub evidence: EvidenceRef,
    pub approval: ApprovalBlock,
    pub source_database_mutated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerTarget {
    pub schema: String,
    pub table: String,
    pub primary_key: ColumnValue,
}

/// The `change_set` mirror the published request schema and the starter templates read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerChangeSet {
    pub action: String,
    pub scope: HandlerScope,
    pub principal: Principal,
    pub target: HandlerTarget,
    pub patch: JsonMap,
    pub guards: Guards,
    pub before: JsonMap,
    pub after: JsonMap,
    pub evidence: EvidenceRef,
}

/// Only `tenant_id` and `object_id`: the published schema forbids other keys in `scope`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerScope {
    pub tenant_id: String,
    pub object_id: String,
}

/// The HTTP body: `protocol_version`, the request, then `issued_at`, `executor`, `dry_run`,
/// and last the `change_set` mirror, so the flat prefix matches the reference's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpHandlerBody {
    pub protocol_version: String,
    #[serde(flatten)]
    pub request: HandlerRequest,
    pub issued_at: String,
    pub executor: String,
    pub dry_run: bool,
    pub change_set: HandlerChangeSet,
}

/// The command handler's stdin document: the request, `executor`, `dry_run` and the mirror
/// (no `protocol_version`, `issued_at` or signature: the child inherits the runner's trust).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandHandlerInput {
    #[serde(flatten)]
    pub request: HandlerRequest,
    pub executor: String,
    pub dry_run: bool,
    pub change_set: HandlerChangeSet,
}

/// The handler writeback job as the ledger keeps it (store.md §3.6): the request without any
/// per-call values (`issued_at`) and never a header, token or signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerJobRecord {
    pub schema_version: String,
    pub writeback_job_id: String,
    pub proposal_id: String,
    pub proposal_hash: String,
    pub runner_id: String,
    pub executor: String,
    pub request: HandlerJobRequest,
}

/// The recorded request: the flat request plus its `change_set` mirror.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerJobRequest {
    #[serde(flatten)]
    pub request: HandlerRequest,
    pub change_set: HandlerChangeSet,
}

/// Statuses a handler may answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerStatus {
    Applied,
    AlreadyApplied,
    Conflict,
    Failed,
}

/// `synapsor.app-handler-receipt.v1`: what a well-behaved handler answers. Sluicegate does not
/// require this exact shape (writeback.md §C.5 coerces whatever comes back); the type is for
/// handlers and tests that want the strict form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerReceipt {
    pub status: HandlerStatus,
    pub rows_affected: u64,
    pub source_database_mutated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_version: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<JsonMap>,
}
