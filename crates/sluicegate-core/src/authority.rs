//! May this proposal be applied? The one place that decides, for every executor (the guarded
//! `UPDATE` and both app-owned handlers).
//!
//! Nothing stored is trusted because it is stored. The content hash is recomputed from the
//! change set; a human decision bound to that hash must exist (the `state` column is only a
//! projection and is never consulted); with reviewers configured the decision must carry a
//! valid signature of a configured reviewer; and the change set is checked again against the
//! capability as the current config reviews it: the same target, tenant, patch rules, bounds,
//! transitions, allowed columns and conflict guard it would have been built under.

use serde_json::Value;
use sluicegate_protocol::ChangeSet;
use sluicegate_protocol::writeback_job::ConflictGuard;

use crate::call::{check_arg, json_strict_eq};
use crate::config::{ArgType, Capability, Config, Mode, PatchBinding};
use crate::decision::{DecisionRecord, SignatureProblem, Verdict, parse_public_key};
use crate::evidence::Row;
use crate::json::{hash_json, js_number, js_string};
use crate::proposal::{
    ROW_HASH_COLUMN, SINGLE_TENANT_COLUMN, apply_patch, check_guards, content_hash, proposal_hash,
};
use crate::writeback::{conflict_guard_for, reviewed_capability};

/// Why a proposal may not be applied. Each code is stable and printed by `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyCode {
    /// Writeback runs only in review mode.
    NotReviewMode,
    /// The stored change set no longer hashes to its recorded hash.
    ContentModified,
    /// No human approval is recorded for this proposal.
    NotApproved,
    /// A human rejected the proposal.
    Rejected,
    /// The decision records contradict each other (two approvals).
    DecisionsInconsistent,
    /// The approval was given for other content than what is stored now.
    ApprovalHashMismatch,
    /// The approval was given for another version.
    ApprovalVersionMismatch,
    /// Reviewers are configured, and the approval is not signed.
    SignatureMissing,
    /// The approval's signature does not verify.
    SignatureInvalid,
    /// The approval names a reviewer (or key) the config does not list.
    ReviewerUnknown,
    /// No proposal capability of the current config matches the change set.
    CapabilityNotReviewed,
    /// The tenant guard does not match the capability or the row.
    TenantMismatch,
    /// The patch is not what the capability's rules produce (columns, fixed values, argument
    /// constraints, bounds, transitions) or `after` is not `before` with the patch.
    PatchOutsidePolicy,
    /// The target row or the conflict guard does not match the capability or the row.
    GuardMismatch,
    /// The change set does not ask for trusted writeback.
    WritebackModeInvalid,
}

impl ApplyCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyCode::NotReviewMode => "APPLY_REQUIRES_REVIEW_MODE",
            ApplyCode::ContentModified => "PROPOSAL_CONTENT_MODIFIED",
            ApplyCode::NotApproved => "PROPOSAL_NOT_APPROVED",
            ApplyCode::Rejected => "PROPOSAL_REJECTED",
            ApplyCode::DecisionsInconsistent => "DECISION_RECORDS_INCONSISTENT",
            ApplyCode::ApprovalHashMismatch => "APPROVAL_HASH_MISMATCH",
            ApplyCode::ApprovalVersionMismatch => "APPROVAL_VERSION_MISMATCH",
            ApplyCode::SignatureMissing => "APPROVAL_SIGNATURE_MISSING",
            ApplyCode::SignatureInvalid => "APPROVAL_SIGNATURE_INVALID",
            ApplyCode::ReviewerUnknown => "APPROVAL_REVIEWER_UNKNOWN",
            ApplyCode::CapabilityNotReviewed => "CAPABILITY_NOT_REVIEWED",
            ApplyCode::TenantMismatch => "APPLY_TENANT_MISMATCH",
            ApplyCode::PatchOutsidePolicy => "APPLY_PATCH_OUTSIDE_POLICY",
            ApplyCode::GuardMismatch => "APPLY_GUARD_MISMATCH",
            ApplyCode::WritebackModeInvalid => "WRITEBACK_MODE_INVALID",
        }
    }
}

/// A refused apply: a stable code and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRefusal {
    pub code: ApplyCode,
    pub message: String,
}

impl std::fmt::Display for ApplyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

fn refuse<T>(code: ApplyCode, message: impl Into<String>) -> Result<T, ApplyRefusal> {
    Err(ApplyRefusal {
        code,
        message: message.into(),
    })
}

/// What [`can_apply`] looks at: the current config and the proposal as stored.
#[derive(Debug, Clone, Copy)]
pub struct ApplyInput<'a> {
    pub config: &'a Config,
    pub change_set: &'a ChangeSet,
    /// `proposal_hash` of the proposal's row.
    pub stored_hash: &'a str,
    pub stored_version: u32,
    /// Every decision recorded for the proposal, oldest first.
    pub decisions: &'a [DecisionRecord],
}

/// Why a proposal may be applied: the reviewed capability and the approval that authorises it.
#[derive(Debug, Clone)]
pub struct Authority<'a> {
    pub cap: &'a Capability,
    pub approval: &'a DecisionRecord,
    /// The recomputed content hash (equal to every stored copy).
    pub content_hash: String,
    /// `sql_update` or the name of the configured app-owned executor.
    pub executor: String,
}

/// Decide whether the proposal may be applied, and under which authority.
pub fn can_apply<'a>(input: ApplyInput<'a>) -> Result<Authority<'a>, ApplyRefusal> {
    let ApplyInput {
        config,
        change_set: cs,
        ..
    } = input;
    let id = &cs.proposal_id;
    if config.mode != Mode::Review {
        return refuse(
            ApplyCode::NotReviewMode,
            format!(
                "writeback runs only in review mode; this config is {}",
                config.mode.as_str()
            ),
        );
    }
    let hash = content_hash(cs);
    if hash != input.stored_hash || hash != proposal_hash(cs) {
        return refuse(
            ApplyCode::ContentModified,
            format!(
                "proposal {id} was modified after it was recorded: its content no longer matches its hash; run `sluicegate store verify`"
            ),
        );
    }
    let approval = approval_of(&input, &hash)?;
    check_signature(config, approval)?;
    if cs.writeback.mode != "trusted_worker_required" {
        return refuse(
            ApplyCode::WritebackModeInvalid,
            format!("proposal {id} uses writeback mode {}", cs.writeback.mode),
        );
    }
    let cap = reviewed_capability(config, cs).ok_or_else(|| ApplyRefusal {
        code: ApplyCode::CapabilityNotReviewed,
        message: format!(
            "proposal {id} does not match any reviewed proposal capability in the current config"
        ),
    })?;
    check_target(cap, cs)?;
    check_patch(cap, cs)?;
    check_conflict_guard(cap, cs)?;
    Ok(Authority {
        cap,
        approval,
        content_hash: hash,
        executor: cap
            .executor
            .clone()
            .unwrap_or_else(|| "sql_update".to_string()),
    })
}

/// The one approval that authorises the proposal, bound to `hash` and the stored version.
fn approval_of<'a>(input: &ApplyInput<'a>, hash: &str) -> Result<&'a DecisionRecord, ApplyRefusal> {
    let id = &input.change_set.proposal_id;
    if input.decisions.iter().any(|d| d.proposal_id != *id) {
        return refuse(
            ApplyCode::DecisionsInconsistent,
            format!("a decision recorded for proposal {id} names another proposal"),
        );
    }
    if input.decisions.iter().any(|d| d.verdict == Verdict::Reject) {
        return refuse(
            ApplyCode::Rejected,
            format!("proposal {id} was rejected; a rejected proposal is never applied"),
        );
    }
    let approval = match input.decisions {
        [] => {
            return refuse(
                ApplyCode::NotApproved,
                format!(
                    "proposal {id} has no recorded approval; a human approves outside MCP: sluicegate proposals approve {id}"
                ),
            );
        }
        [one] => one,
        _ => {
            return refuse(
                ApplyCode::DecisionsInconsistent,
                format!(
                    "proposal {id} has more than one approval recorded; run `sluicegate store verify`"
                ),
            );
        }
    };
    if approval.content_hash != hash {
        return refuse(
            ApplyCode::ApprovalHashMismatch,
            format!(
                "the approval of proposal {id} was given for content {} but the proposal now hashes to {hash}",
                approval.content_hash
            ),
        );
    }
    if approval.proposal_version != input.stored_version {
        return refuse(
            ApplyCode::ApprovalVersionMismatch,
            format!(
                "the approval of proposal {id} was given for version {}, not {}",
                approval.proposal_version, input.stored_version
            ),
        );
    }
    Ok(approval)
}

/// With reviewers configured, the approval must be signed by one of them. Without, a
/// signature that is present must still verify against the key recorded beside it.
fn check_signature(config: &Config, approval: &DecisionRecord) -> Result<(), ApplyRefusal> {
    let id = &approval.proposal_id;
    let key_text = if config.reviewers.is_empty() {
        match (&approval.signature, &approval.reviewer_key) {
            (None, _) => return Ok(()),
            (Some(_), Some(k)) => k.clone(),
            (Some(_), None) => {
                return refuse(
                    ApplyCode::SignatureInvalid,
                    format!("the approval of proposal {id} is signed without a recorded key"),
                );
            }
        }
    } else {
        let Some(reviewer) = config.reviewer(&approval.reviewer) else {
            return refuse(
                ApplyCode::ReviewerUnknown,
                format!(
                    "proposal {id} was approved by {}, who is not a configured reviewer",
                    approval.reviewer
                ),
            );
        };
        if approval
            .reviewer_key
            .as_deref()
            .is_some_and(|k| k != reviewer.public_key)
        {
            return refuse(
                ApplyCode::ReviewerUnknown,
                format!(
                    "the approval of proposal {id} was signed with a key that is not {}'s configured key",
                    approval.reviewer
                ),
            );
        }
        reviewer.public_key.clone()
    };
    let key = parse_public_key(&key_text).map_err(|why| ApplyRefusal {
        code: ApplyCode::SignatureInvalid,
        message: format!("the approval of proposal {id} names an unusable key: {why}"),
    })?;
    match approval.verify(&key) {
        Ok(()) => Ok(()),
        Err(SignatureProblem::Missing) => refuse(
            ApplyCode::SignatureMissing,
            format!(
                "reviewers are configured and the approval of proposal {id} is not signed; approve it again with a reviewer key (sluicegate proposals approve {id} --key FILE)"
            ),
        ),
        Err(SignatureProblem::Malformed | SignatureProblem::Invalid) => refuse(
            ApplyCode::SignatureInvalid,
            format!(
                "the signature on the approval of proposal {id} does not verify: the decision record was altered or forged"
            ),
        ),
    }
}

/// The row: primary key and tenant as the capability defines them, consistent with `before`.
fn check_target(cap: &Capability, cs: &ChangeSet) -> Result<(), ApplyRefusal> {
    let pk = &cs.source.primary_key;
    let row_pk_ok = cs.before.get(&pk.column).is_none_or(|v| same(v, &pk.value));
    if pk.column != cap.target.primary_key
        || !row_pk_ok
        || cs.scope.object_id != js_string(&pk.value)
    {
        return refuse(
            ApplyCode::GuardMismatch,
            format!(
                "proposal {} targets a row other than the one it read",
                cs.proposal_id
            ),
        );
    }
    let tenant = &cs.guards.tenant;
    let ok = match &cap.target.tenant_key {
        Some(key) => {
            *key == tenant.column
                && js_string(&tenant.value) == cs.scope.tenant_id
                && cs.before.get(key).is_none_or(|v| same(v, &tenant.value))
        }
        None => cap.target.single_tenant_dev && tenant.column == SINGLE_TENANT_COLUMN,
    };
    if !ok {
        return refuse(
            ApplyCode::TenantMismatch,
            format!(
                "the tenant guard of proposal {} does not match the capability or the row it read",
                cs.proposal_id
            ),
        );
    }
    Ok(())
}

/// The patch is exactly what the capability's rules produce.
fn check_patch(cap: &Capability, cs: &ChangeSet) -> Result<(), ApplyRefusal> {
    let outside = |what: String| {
        refuse(
            ApplyCode::PatchOutsidePolicy,
            format!("proposal {}: {what}", cs.proposal_id),
        )
    };
    if let Some(col) = cs.patch.keys().find(|c| !cap.patch.contains_key(*c)) {
        return outside(format!("{col} is not a column the capability patches"));
    }
    if let Some(col) = cs
        .patch
        .keys()
        .chain(&cs.guards.allowed_columns)
        .find(|c| !cap.allowed_columns.contains(*c))
    {
        return outside(format!("{col} is outside the reviewed allowed_columns"));
    }
    for (col, binding) in &cap.patch {
        let Some(value) = cs.patch.get(col) else {
            return outside(format!("{col} is missing from the patch"));
        };
        match binding {
            PatchBinding::Fixed(fixed) if !same(value, fixed) => {
                return outside(format!("{col} must be the fixed value the capability sets"));
            }
            PatchBinding::FromArg(arg) => {
                if let Some(spec) = cap.args.get(arg) {
                    // The patch holds the value as its column stores it: a number argument
                    // of a decimal column became exact text, a string argument of an integer
                    // column (typed from it, `crate::typed`) a number.
                    let value = match (spec.arg_type, value) {
                        (ArgType::String, Value::Number(n)) => Value::String(js_number(n)),
                        _ => numeric_view(value, spec.arg_type == ArgType::Number),
                    };
                    if let Err(r) = check_arg(arg, spec, &value) {
                        return outside(format!("{col}: {}", r.message));
                    }
                }
            }
            PatchBinding::Fixed(_) => {}
        }
    }
    let numeric: Row = cs
        .patch
        .iter()
        .map(|(c, v)| {
            (
                c.clone(),
                numeric_view(v, cap.numeric_bounds.contains_key(c)),
            )
        })
        .collect();
    if let Err(r) = check_guards(cap, &cs.before, &numeric) {
        return refuse(
            ApplyCode::PatchOutsidePolicy,
            format!(
                "proposal {}: {} ({})",
                cs.proposal_id,
                r.message,
                r.code.as_str()
            ),
        );
    }
    if apply_patch(&cs.before, &cs.patch) != cs.after {
        return outside("after is not the read row with the patch applied".into());
    }
    Ok(())
}

/// The conflict guard is the capability's, with the value the row had when it was read.
fn check_conflict_guard(cap: &Capability, cs: &ChangeSet) -> Result<(), ApplyRefusal> {
    let spec = cap.conflict_guard.as_ref();
    let ok = match conflict_guard_for(cs) {
        ConflictGuard::Column {
            column,
            expected_value,
        } => {
            spec.and_then(|g| g.column.as_ref()) == Some(&column)
                && cs
                    .before
                    .get(&column)
                    .is_some_and(|v| same(v, &expected_value))
        }
        ConflictGuard::RowHash { expected_hash } => {
            spec.is_some_and(|g| g.weak_guard_ack)
                && cs.guards.expected_version.column == ROW_HASH_COLUMN
                && expected_hash == hash_json(&Value::Object(cs.before.clone()))
        }
        // A version column that was NULL when read: guarded NULL-safely and advanced by the
        // writer, so it must still be the capability's column and NULL in the row.
        ConflictGuard::None => {
            let column = &cs.guards.expected_version.column;
            spec.and_then(|g| g.column.as_ref()) == Some(column)
                && cs.before.get(column).is_some_and(Value::is_null)
        }
    };
    if !ok {
        return refuse(
            ApplyCode::GuardMismatch,
            format!(
                "the conflict guard of proposal {} is not the capability's guard on the row it read",
                cs.proposal_id
            ),
        );
    }
    Ok(())
}

/// Two stored values are the same value: equal JSON, or the same number written as a JSON
/// number and as an exact decimal string (columns normalise decimals to strings).
fn same(a: &Value, b: &Value) -> bool {
    json_strict_eq(a, b)
        || match (a, b) {
            (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
                s.parse::<f64>().ok() == n.as_f64()
            }
            _ => false,
        }
}

/// A decimal kept as an exact string, seen as a number where a numeric rule applies to it.
fn numeric_view(value: &Value, numeric: bool) -> Value {
    match value {
        Value::String(s) if numeric => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| value.clone(), Value::Number),
        _ => value.clone(),
    }
}

#[cfg(test)]
#[path = "authority_tests.rs"]
mod tests;
