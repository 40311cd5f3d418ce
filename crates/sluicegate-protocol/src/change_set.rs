//! `synapsor.change-set.v1`: the stored proposal, handed unchanged to writeback.

use serde::{Deserialize, Serialize};

use crate::{ColumnValue, JsonMap};

pub const CHANGE_SET_V1: &str = "synapsor.change-set.v1";

/// Field order is the wire order: the proposal hash is computed over the fields in exactly this
/// order (everything except `integrity`), so do not reorder them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub schema_version: String,
    pub proposal_id: String,
    pub proposal_version: u32,
    pub action: String,
    pub mode: String,
    pub principal: Principal,
    pub scope: Scope,
    pub source: SourceRef,
    pub before: JsonMap,
    pub patch: JsonMap,
    pub after: JsonMap,
    pub guards: Guards,
    pub evidence: EvidenceRef,
    pub approval: ApprovalBlock,
    pub writeback: WritebackBlock,
    pub source_database_mutated: bool,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<Integrity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub id: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub tenant_id: String,
    pub business_object: String,
    pub object_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    pub kind: String,
    pub source_id: String,
    pub schema: String,
    pub table: String,
    pub primary_key: ColumnValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    pub tenant: ColumnValue,
    pub allowed_columns: Vec<String>,
    pub expected_version: ColumnValue,
}

/// Extra keys are allowed (and kept) inside `evidence`, `approval` and `writeback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub bundle_id: String,
    pub query_fingerprint: String,
    pub items: Vec<serde_json::Value>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalBlock {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_role: Option<String>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritebackBlock {
    pub status: String,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integrity {
    pub proposal_hash: String,
}
