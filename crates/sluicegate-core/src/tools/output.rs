//! `outputSchema` of a tool: the result envelope of its result format (mcp-surface.md §6–7),
//! with the capability's own fields spelled out: a read's `data` lists every column the read
//! returns with its JSON type, a proposal's `diff` every patch column.
//!
//! Clients that validate `structuredContent` against this schema must never refuse a real
//! result, so every schema here allows extra keys and the column types are generous where an
//! engine can return more than one JSON type (see `crate::typed::value_schema`). Refusals are
//! described too: some clients validate `isError` results as well.

use serde_json::{Map, Value, json};

use crate::config::{Capability, Kind};
use crate::refusal::SafeError;
use crate::typed::{Typed, or_null, value_schema};

/// The v2 `error.code` values (mcp-surface.md §7.4).
const SAFE_CODES: [&str; 7] = [
    SafeError::NOT_FOUND.code,
    SafeError::CAPABILITY_NOT_FOUND.code,
    SafeError::APPROVAL_REQUIRED.code,
    SafeError::INVALID_ARGUMENT.code,
    SafeError::POLICY_VIOLATION.code,
    SafeError::DATABASE_UNAVAILABLE.code,
    SafeError::INTERNAL.code,
];

fn string() -> Value {
    json!({"type": "string"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn object(properties: Vec<(&str, Value)>, required: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    let props: Map<String, Value> = properties
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    m.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        m.insert("required".into(), json!(required));
    }
    m
}

/// `m` as an object that may also be `null`.
fn nullable(mut m: Map<String, Value>) -> Value {
    m.insert("type".into(), json!(["object", "null"]));
    Value::Object(m)
}

/// A read's row: every selected column (visible columns, then the primary key, tenant key and
/// conflict column), each present, typed from its column.
fn row_schema(cap: &Capability, typed: &Typed) -> Map<String, Value> {
    let mut props = Map::new();
    for col in cap.read_columns() {
        props.insert(col.clone(), value_schema(typed.columns.get(col)));
    }
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert(
        "description".into(),
        json!(format!(
            "One row of {} in the trusted tenant: the capability's visible columns.",
            cap.target.table
        )),
    );
    m.insert("properties".into(), Value::Object(props));
    m.insert("required".into(), json!(cap.read_columns()));
    m
}

/// A proposal's diff: one entry per patch column, its value before (`null` when the read did
/// not select it) and the value proposed, as the column will store it.
fn diff_schema(cap: &Capability, typed: &Typed) -> Value {
    let mut props = Map::new();
    for col in cap.patch.keys() {
        let value = value_schema(typed.columns.get(col));
        props.insert(
            col.clone(),
            Value::Object(object(
                vec![("before", or_null(value.clone())), ("proposed", value)],
                &["before", "proposed"],
            )),
        );
    }
    let cols: Vec<&String> = cap.patch.keys().collect();
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert("properties".into(), Value::Object(props));
    m.insert("required".into(), json!(cols));
    Value::Object(m)
}

/// The v2 envelope (mcp-surface.md §7) for `cap`.
pub fn v2(cap: &Capability, typed: &Typed) -> Value {
    let any_object = json!({"type": ["object", "null"]});
    let (data, proposal) = match cap.kind {
        Kind::Read => (nullable(row_schema(cap, typed)), any_object),
        Kind::Proposal => {
            let proposal = object(
                vec![
                    ("id", string()),
                    ("state", proposal_states()),
                    ("target", string()),
                    ("diff", diff_schema(cap, typed)),
                    ("approval_required", boolean()),
                    (
                        "writeback",
                        Value::Object(object(
                            vec![
                                (
                                    "mode",
                                    json!({"type": "string", "enum": ["direct_update", "app_handler"]}),
                                ),
                                ("applied", boolean()),
                            ],
                            &["mode", "applied"],
                        )),
                    ),
                    ("next", string()),
                    ("deduplicated", boolean()),
                ],
                &[
                    "id",
                    "state",
                    "target",
                    "diff",
                    "approval_required",
                    "writeback",
                    "next",
                ],
            );
            (any_object, nullable(proposal))
        }
    };
    let error = object(
        vec![
            ("code", json!({"type": "string", "enum": SAFE_CODES})),
            ("message", string()),
            ("retryable", boolean()),
            ("reason", string()),
            ("argument", string()),
            ("detail", string()),
            ("correlation_id", string()),
        ],
        &["code", "message", "retryable"],
    );
    let evidence = object(
        vec![("bundle_id", string()), ("note", string())],
        &["bundle_id", "note"],
    );
    let meta = object(
        vec![
            ("tenant_id", string()),
            ("principal", string()),
            ("provenance", string()),
            ("canonical_capability", string()),
        ],
        &["canonical_capability"],
    );
    Value::Object(object(
        vec![
            ("ok", boolean()),
            ("summary", string()),
            ("action", string()),
            (
                "kind",
                json!({"type": "string", "enum": ["read", "proposal"]}),
            ),
            ("data", data),
            ("proposal", proposal),
            ("error", nullable(error)),
            ("evidence", nullable(evidence)),
            ("source_database_changed", boolean()),
            ("_meta", Value::Object(meta)),
        ],
        &[
            "ok",
            "summary",
            "action",
            "kind",
            "data",
            "proposal",
            "error",
            "evidence",
            "source_database_changed",
            "_meta",
        ],
    ))
}

/// The v1 shapes (mcp-surface.md §6) for `cap`: its success payload, or a refusal.
pub fn v1(cap: &Capability, typed: &Typed) -> Value {
    let business_object = object(vec![("type", string()), ("id", string())], &["type", "id"]);
    let success = match cap.kind {
        Kind::Read => object(
            vec![
                ("status", json!({"type": "string", "enum": ["ok"]})),
                ("action", string()),
                ("mode", string()),
                ("business_object", Value::Object(business_object)),
                ("data", Value::Object(row_schema(cap, typed))),
                (
                    "trusted_context",
                    Value::Object(object(
                        vec![
                            ("tenant_id", string()),
                            ("principal", string()),
                            ("provenance", string()),
                        ],
                        &["tenant_id", "principal", "provenance"],
                    )),
                ),
                ("evidence_bundle_id", string()),
                ("evidence_resource", string()),
                ("source_database_changed", boolean()),
                ("source_database_mutated", boolean()),
            ],
            &[
                "status",
                "action",
                "business_object",
                "data",
                "evidence_bundle_id",
                "source_database_changed",
            ],
        ),
        Kind::Proposal => object(
            vec![
                ("status", proposal_states()),
                ("action", string()),
                ("proposal_id", string()),
                ("proposal_version", json!({"type": "integer"})),
                ("proposal_hash", string()),
                (
                    "target",
                    Value::Object(object(
                        vec![
                            ("type", string()),
                            ("id", string()),
                            ("tenant_id", string()),
                        ],
                        &["type", "id"],
                    )),
                ),
                ("diff", diff_schema(cap, typed)),
                ("evidence_bundle_id", string()),
                ("evidence_resource", string()),
                ("proposal_resource", string()),
                ("replay_resource", string()),
                ("approval_required", boolean()),
                ("writeback", json!({"type": "object"})),
                ("source_database_changed", boolean()),
                ("source_database_mutated", boolean()),
                ("deduplicated", boolean()),
            ],
            &[
                "status",
                "action",
                "proposal_id",
                "diff",
                "evidence_bundle_id",
                "source_database_changed",
            ],
        ),
    };
    let refusal = object(
        vec![
            ("ok", json!({"type": "boolean", "enum": [false]})),
            ("code", string()),
            ("error", string()),
            ("argument", string()),
            ("correlation_id", string()),
        ],
        &["ok", "code", "error"],
    );
    json!({
        "type": "object",
        "anyOf": [Value::Object(success), Value::Object(refusal)],
    })
}

/// The `outputSchema` of `cap` in `result_format` (1 or 2).
pub fn output_schema(cap: &Capability, typed: &Typed, result_format: u8) -> Value {
    if result_format == 2 {
        v2(cap, typed)
    } else {
        v1(cap, typed)
    }
}

/// What a proposal call answers as its state: a new proposal awaits review (or is a shadow
/// one); the same change already recorded and past review answers with that proposal's state.
fn proposal_states() -> Value {
    let decided = crate::lifecycle::State::ALL
        .into_iter()
        .filter(|s| *s != crate::lifecycle::State::PendingReview)
        .map(|s| s.as_str());
    let states: Vec<&str> = ["review_required", "shadow_proposal_created"]
        .into_iter()
        .chain(decided)
        .collect();
    json!({"type": "string", "enum": states})
}
