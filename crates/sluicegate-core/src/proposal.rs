//! Proposals: the patch, the guards on proposed values, and the change set that a human
//! approves and writeback later applies.
//!
//! Deliberate difference from the reference (spec README §3.5): the proposal hash covers the
//! change's content, not its timestamps or evidence handle, so re-proposing an identical change
//! yields the same id and hash and can be deduplicated instead of failing.

use serde_json::{Map, Value, json};
use sluicegate_protocol::change_set::{
    ApprovalBlock, CHANGE_SET_V1, EvidenceRef, Guards, Integrity, Principal, Scope, SourceRef,
    WritebackBlock,
};
use sluicegate_protocol::{ChangeSet, ColumnValue};

use crate::call::{Args, TrustedContext};
use crate::columns::{TableColumns, check_proposal};
use crate::config::{Capability, Engine, Mode, PatchBinding, Provider};
use crate::evidence::{ReadRecord, Row};
use crate::ident::is_safe_identifier;
use crate::json::{format_f64, hash_json, hash_json_without, stable_id};
use crate::refusal::{Code, Refusal};

/// Pseudo-column of the weak conflict guard: the value is a hash of the whole row.
pub const ROW_HASH_COLUMN: &str = "__row_hash";
/// Pseudo-column of the tenant guard of single-tenant development targets.
pub const SINGLE_TENANT_COLUMN: &str = "__single_tenant_dev";
/// The tenant of a single-tenant development target when its context names no tenant (or
/// the named env var is unset): the value of its pseudo tenant guard.
pub const SINGLE_TENANT_VALUE: &str = "single_tenant_dev";

/// Build the patch from its bindings (capability-runtime.md §7.1).
pub fn build_patch(cap: &Capability, args: &Args) -> Result<Row, Refusal> {
    if cap.patch.is_empty() {
        return Err(Refusal::new(
            Code::PatchRequired,
            "Proposal capability has no patch mapping.",
        ));
    }
    Ok(cap
        .patch
        .iter()
        .map(|(col, binding)| {
            let value = match binding {
                PatchBinding::Fixed(v) => v.clone(),
                PatchBinding::FromArg(arg) => args.get(arg).cloned().unwrap_or(Value::Null),
            };
            (col.clone(), value)
        })
        .collect())
}

/// Enforce numeric bounds, then transition guards, on the proposed values (§7.2).
pub fn check_guards(cap: &Capability, before: &Row, patch: &Row) -> Result<(), Refusal> {
    for (col, bounds) in &cap.numeric_bounds {
        let Some(value) = patch.get(col) else {
            continue;
        };
        let Some(n) = value.as_f64() else {
            return Err(Refusal::new(
                Code::PatchNumericBoundTypeInvalid,
                format!("{col} must be numeric to use numeric_bounds."),
            ));
        };
        if let Some(min) = bounds.minimum.filter(|min| n < *min) {
            return Err(Refusal::new(
                Code::PatchBelowMinimum,
                format!("{col} must be at least {}.", format_f64(min)),
            ));
        }
        if let Some(max) = bounds.maximum.filter(|max| n > *max) {
            return Err(Refusal::new(
                Code::PatchAboveMaximum,
                format!("{col} must be at most {}.", format_f64(max)),
            ));
        }
    }
    for (col, guard) in &cap.transition_guards {
        let Some(proposed) = patch.get(col) else {
            continue;
        };
        let from_col = guard.from_column.as_deref().unwrap_or(col);
        let (Some(current), Some(proposed)) = (
            before.get(from_col).and_then(Value::as_str),
            proposed.as_str(),
        ) else {
            return Err(Refusal::new(
                Code::PatchTransitionTypeInvalid,
                format!("{col} transition guard requires string current and proposed values."),
            ));
        };
        let allowed = guard
            .allowed
            .get(current)
            .is_some_and(|to| to.iter().any(|t| t == proposed));
        if !allowed {
            return Err(Refusal::new(
                Code::PatchTransitionNotAllowed,
                format!("{col} cannot transition from {current} to {proposed}."),
            ));
        }
    }
    Ok(())
}

/// `before` with the patch overlaid; patch columns missing from `before` are appended.
pub fn apply_patch(before: &Row, patch: &Row) -> Row {
    let mut after = before.clone();
    for (col, value) in patch {
        after.insert(col.clone(), value.clone());
    }
    after
}

/// The expected-version guard captured at proposal time (§7.3).
pub fn expected_version(cap: &Capability, before: &Row) -> Result<ColumnValue, Refusal> {
    let guard = cap.conflict_guard.as_ref();
    if let Some(col) = guard.and_then(|g| g.column.as_ref())
        && let Some(value) = before.get(col)
    {
        return Ok(ColumnValue {
            column: col.clone(),
            value: value.clone(),
        });
    }
    if guard.is_some_and(|g| g.weak_guard_ack) {
        return Ok(ColumnValue {
            column: ROW_HASH_COLUMN.to_string(),
            value: Value::String(hash_json(&Value::Object(before.clone()))),
        });
    }
    Err(Refusal::new(
        Code::ConflictGuardMissing,
        "Proposal capability must read a configured conflict guard column.",
    ))
}

/// Inputs of [`build_change_set`] that come from the surrounding call.
pub struct ProposalInput<'a> {
    pub mode: Mode,
    pub engine: Engine,
    pub cap: &'a Capability,
    pub args: &'a Args,
    pub ctx: &'a TrustedContext,
    pub before: &'a Row,
    pub read: &'a ReadRecord,
    pub now: &'a str,
    /// The target table's columns (from the catalog). With them every patch value is
    /// normalised to what its column stores and a patch that changes nothing is refused
    /// ([`crate::columns::check_proposal`]); `None` takes the values as built, for callers
    /// that hold no catalog (fixtures).
    pub columns: Option<&'a TableColumns>,
}

/// A built proposal: the change set plus the rows the evidence link needs.
#[derive(Debug, Clone)]
pub struct BuiltProposal {
    pub change_set: ChangeSet,
    pub patch: Row,
    pub after: Row,
}

/// Build the full change set for a proposal call (§7.5), guards enforced.
pub fn build_change_set(input: &ProposalInput) -> Result<BuiltProposal, Refusal> {
    let cap = input.cap;
    let patch = build_patch(cap, input.args)?;
    check_guards(cap, input.before, &patch)?;
    let patch = match input.columns {
        Some(columns) => check_proposal(cap, input.before, &patch, columns)?,
        None => patch,
    };
    let after = apply_patch(input.before, &patch);
    let expected = expected_version(cap, input.before)?;
    let object_id = input.read.object_id.clone();
    let proposal_id = stable_id(
        "wrp",
        &json!({
            "action": cap.name,
            "tenant": input.ctx.tenant_id,
            "object": object_id,
            "before": input.before,
            "patch": patch,
        }),
    );
    let tenant_guard = match &cap.target.tenant_key {
        Some(col) => ColumnValue {
            column: col.clone(),
            value: json!(input.ctx.tenant_id),
        },
        None => ColumnValue {
            column: SINGLE_TENANT_COLUMN.into(),
            value: json!(SINGLE_TENANT_VALUE),
        },
    };
    let pk_value = match input.before.get(&cap.target.primary_key) {
        Some(v) if !v.is_null() => v.clone(),
        _ => json!(object_id),
    };
    let principal_source = match input.ctx.provenance {
        Provider::Environment => "environment",
        Provider::StaticDev => "static_dev",
        Provider::CloudSession => "cloud_session",
        Provider::HttpClaims => "trusted_session",
    };
    let mut change_set = ChangeSet {
        schema_version: CHANGE_SET_V1.to_string(),
        proposal_id,
        proposal_version: 1,
        action: cap.name.clone(),
        mode: if input.mode == Mode::Shadow {
            "shadow"
        } else {
            "review_required"
        }
        .to_string(),
        principal: Principal {
            id: input.ctx.principal.clone(),
            source: principal_source.to_string(),
        },
        scope: Scope {
            tenant_id: input.ctx.tenant_id.clone(),
            business_object: cap.target.table.clone(),
            object_id,
        },
        source: SourceRef {
            kind: input.engine.source_kind().to_string(),
            source_id: cap.source.clone(),
            schema: cap.target.schema.clone(),
            table: cap.target.table.clone(),
            primary_key: ColumnValue {
                column: cap.target.primary_key.clone(),
                value: pk_value,
            },
        },
        before: input.before.clone(),
        patch: patch.clone(),
        after: after.clone(),
        guards: Guards {
            tenant: tenant_guard,
            allowed_columns: if cap.allowed_columns.is_empty() {
                patch.keys().cloned().collect()
            } else {
                cap.allowed_columns.clone()
            },
            expected_version: expected,
        },
        evidence: EvidenceRef {
            bundle_id: input.read.bundle.evidence_bundle_id.clone(),
            query_fingerprint: input.read.fingerprint.clone(),
            items: Vec::new(),
            extra: Map::new(),
        },
        approval: ApprovalBlock {
            status: "pending".into(),
            required_role: cap.required_role.clone(),
            extra: Map::new(),
        },
        writeback: WritebackBlock {
            status: "not_applied".into(),
            mode: "trusted_worker_required".into(),
            executor: Some(cap.executor_name().to_string()),
            extra: Map::new(),
        },
        source_database_mutated: false,
        created_at: input.now.to_string(),
        integrity: None,
    };
    change_set.integrity = Some(Integrity {
        proposal_hash: content_hash(&change_set),
    });
    Ok(BuiltProposal {
        change_set,
        patch,
        after,
    })
}

/// What the proposal hash leaves out of a change set: `integrity`, `created_at` and the
/// evidence handle, so it identifies the change itself.
const NOT_CONTENT: &[&[&str]] = &[&["integrity"], &["created_at"], &["evidence", "bundle_id"]];

/// What the change hash leaves out besides: who proposed it.
const NOT_CHANGE: &[&[&str]] = &[
    &["integrity"],
    &["created_at"],
    &["principal"],
    &["evidence", "bundle_id"],
];

/// The proposal hash: canonical JSON of the change set without `integrity`, `created_at` and
/// the evidence handle, so it identifies the change itself.
pub fn content_hash(cs: &ChangeSet) -> String {
    content_hash_of(&serde_json::to_value(cs).unwrap_or(Value::Null))
}

/// [`content_hash`] of a change set already turned into JSON (`serde_json::to_value`).
pub fn content_hash_of(cs: &Value) -> String {
    hash_json_without(cs, NOT_CONTENT)
}

/// The hash of what a proposal changes, leaving out who proposed it: the same change to the
/// same row, read in the same state, has the same change hash (and proposal id) whichever
/// principal proposes it, so a second principal's identical proposal is the first one again.
pub fn change_hash(cs: &ChangeSet) -> String {
    hash_json_without(&serde_json::to_value(cs).unwrap_or(Value::Null), NOT_CHANGE)
}

/// The stored proposal's hash (`integrity.proposal_hash`), or empty when absent.
pub fn proposal_hash(cs: &ChangeSet) -> &str {
    cs.integrity
        .as_ref()
        .map(|i| i.proposal_hash.as_str())
        .unwrap_or("")
}

/// The store-side rules every change set must satisfy before it is recorded (writeback.md
/// §B.1). Returns the first violation as a human message.
pub fn validate_change_set(cs: &ChangeSet) -> Result<(), String> {
    let non_empty = |s: &str, what: &str| -> Result<(), String> {
        if s.trim().is_empty() {
            Err(format!("{what} must be non-empty"))
        } else {
            Ok(())
        }
    };
    if cs.schema_version != CHANGE_SET_V1 {
        return Err(format!("schema_version must be {CHANGE_SET_V1}"));
    }
    non_empty(&cs.proposal_id, "proposal_id")?;
    non_empty(&cs.action, "action")?;
    non_empty(&cs.created_at, "created_at")?;
    non_empty(&cs.principal.id, "principal.id")?;
    non_empty(&cs.scope.tenant_id, "scope.tenant_id")?;
    non_empty(&cs.scope.business_object, "scope.business_object")?;
    non_empty(&cs.scope.object_id, "scope.object_id")?;
    non_empty(&cs.source.source_id, "source.source_id")?;
    if cs.proposal_version == 0 {
        return Err("proposal_version must be positive".into());
    }
    let one_of = |v: &str, allowed: &[&str], what: &str| -> Result<(), String> {
        if allowed.contains(&v) {
            Ok(())
        } else {
            Err(format!("{what} has an unsupported value {v}"))
        }
    };
    one_of(
        &cs.mode,
        &[
            "read_only",
            "shadow",
            "review_required",
            "approved_for_writeback",
        ],
        "mode",
    )?;
    one_of(
        &cs.principal.source,
        &[
            "trusted_session",
            "cloud_session",
            "environment",
            "static_dev",
        ],
        "principal.source",
    )?;
    one_of(
        &cs.source.kind,
        &[
            "external_postgres",
            "external_mysql",
            "external_sqlite",
            "synapsor_table",
        ],
        "source.kind",
    )?;
    one_of(
        &cs.approval.status,
        &["pending", "approved", "rejected", "canceled"],
        "approval.status",
    )?;
    one_of(
        &cs.writeback.status,
        &[
            "not_applied",
            "pending_worker",
            "applied",
            "conflict",
            "failed",
            "canceled",
        ],
        "writeback.status",
    )?;
    one_of(
        &cs.writeback.mode,
        &["trusted_worker_required", "synapsor_merge", "read_only"],
        "writeback.mode",
    )?;
    for (name, map) in [
        ("before", &cs.before),
        ("patch", &cs.patch),
        ("after", &cs.after),
    ] {
        if map.is_empty() {
            return Err(format!("{name} must be a non-empty object"));
        }
        if map.values().any(|v| v.is_array() || v.is_object()) {
            return Err(format!("{name} values must be scalars"));
        }
    }
    for (what, col) in [
        ("source.primary_key.column", &cs.source.primary_key.column),
        ("guards.tenant.column", &cs.guards.tenant.column),
        (
            "guards.expected_version.column",
            &cs.guards.expected_version.column,
        ),
    ] {
        if !is_safe_identifier(col) {
            return Err(format!("{what} must be a safe identifier"));
        }
    }
    if cs.guards.allowed_columns.is_empty()
        || cs
            .guards
            .allowed_columns
            .iter()
            .any(|c| c.trim().is_empty())
    {
        return Err("guards.allowed_columns must be a non-empty list of column names".into());
    }
    if !cs.evidence.query_fingerprint.starts_with("sha256:") {
        return Err("evidence.query_fingerprint must be a sha256 string".into());
    }
    non_empty(&cs.evidence.bundle_id, "evidence.bundle_id")?;
    if !proposal_hash(cs).starts_with("sha256:") {
        return Err("integrity.proposal_hash must be a sha256 string".into());
    }
    let allowed = &cs.guards.allowed_columns;
    if let Some(col) = cs.patch.keys().find(|c| !allowed.contains(c)) {
        return Err(format!("patch column not allowed: {col}"));
    }
    if allowed.contains(&cs.source.primary_key.column) {
        return Err("primary key column must not be patch-allowlisted".into());
    }
    if allowed.contains(&cs.guards.tenant.column) {
        return Err("tenant guard column must not be patch-allowlisted".into());
    }
    Ok(())
}

/// `{column: {before, proposed}}` for every patch column, in patch order.
pub fn diff(cs: &ChangeSet) -> Map<String, Value> {
    cs.patch
        .keys()
        .map(|col| {
            let before = cs.before.get(col).cloned().unwrap_or(Value::Null);
            let proposed = cs.after.get(col).cloned().unwrap_or(Value::Null);
            (col.clone(), json!({"before": before, "proposed": proposed}))
        })
        .collect()
}
