//! Model-facing results: the v1 (legacy) shapes and the v2 envelope (mcp-surface.md §6–7).
//!
//! Every transport and the CLI render tool outcomes through these two functions, so a served
//! tool answers identically over stdio, HTTP, the bridge and `smoke call`.

use serde_json::{Map, Value, json};
use sluicegate_protocol::ChangeSet;

use crate::call::TrustedContext;
use crate::config::Kind;
use crate::evidence::Row;
use crate::proposal::{diff, proposal_hash};
use crate::refusal::{Code, Fault, Refusal, SafeError};

pub const EVIDENCE_NOTE: &str =
    "audit/replay handle; you do not need to act on it during this turn";

/// What a tool call produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    Read {
        capability: String,
        mode: &'static str,
        business_type: String,
        object_id: String,
        data: Row,
        ctx: TrustedContext,
        evidence_id: String,
    },
    Proposal {
        capability: String,
        shadow: bool,
        change_set: Box<ChangeSet>,
        ctx: TrustedContext,
        evidence_id: String,
        /// The executor's type (`sql_update`, `http_handler`, `command_handler`).
        executor_type: &'static str,
        deduplicated: bool,
        /// When the same change was already recorded and is past review (approved, applied,
        /// rejected…): that proposal's state. The model is told so, not that a new proposal
        /// awaits review (a row that went back to its earlier values proposes the same id).
        decided: Option<String>,
    },
    Refused {
        /// The requested name (canonical when known).
        capability: String,
        kind: Kind,
        refusal: Refusal,
        /// Set for `INTERNAL` failures: the same id is logged with the cause.
        correlation_id: Option<String>,
    },
}

/// A proposal call's state in either envelope: the stored proposal's when the same change was
/// already past review, else what a new proposal awaits.
fn proposal_state(decided: Option<&str>, shadow: bool) -> &str {
    match (decided, shadow) {
        (Some(state), _) => state,
        (None, true) => "shadow_proposal_created",
        (None, false) => "review_required",
    }
}

/// A rendered tool result: the payload object and whether it is an MCP `isError` result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub payload: Value,
    pub is_error: bool,
}

impl ToolResult {
    /// Whether the result is a success, in either envelope (v1 says `"ok": false` on refusals).
    pub fn succeeded(&self) -> bool {
        !self.is_error && self.payload.get("ok") != Some(&Value::Bool(false))
    }

    /// The evidence bundle and proposal ids the result names, whichever envelope it uses.
    pub fn ids(&self) -> (Option<String>, Option<String>) {
        let p = &self.payload;
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let evidence =
            s(p.get("evidence_bundle_id")).or_else(|| s(p.pointer("/evidence/bundle_id")));
        let proposal = s(p.get("proposal_id")).or_else(|| s(p.pointer("/proposal/id")));
        (evidence, proposal)
    }

    /// The refusal code of a failed result, whichever envelope it uses.
    pub fn error_code(&self) -> Option<&str> {
        let p = &self.payload;
        p.pointer("/error/code")
            .or_else(|| p.get("error_code"))
            .or_else(|| p.get("code"))
            .and_then(Value::as_str)
    }
}

fn resource(kind: &str, id: &str) -> String {
    format!("synapsor://{kind}/{id}")
}

/// Result format 1 (legacy).
pub fn v1(outcome: &Outcome) -> ToolResult {
    match outcome {
        Outcome::Read {
            capability,
            mode,
            business_type,
            object_id,
            data,
            ctx,
            evidence_id,
        } => ToolResult {
            payload: json!({
                "status": "ok",
                "action": capability,
                "mode": mode,
                "business_object": {"type": business_type, "id": object_id},
                "data": data,
                "trusted_context": {
                    "tenant_id": ctx.tenant_id,
                    "principal": ctx.principal,
                    "provenance": ctx.provenance.as_str(),
                },
                "evidence_bundle_id": evidence_id,
                "evidence_resource": resource("evidence", evidence_id),
                "source_database_changed": false,
                "source_database_mutated": false,
            }),
            is_error: false,
        },
        Outcome::Proposal {
            capability,
            shadow,
            change_set: cs,
            evidence_id,
            deduplicated,
            decided,
            ..
        } => {
            let mut payload = json!({
                "status": proposal_state(decided.as_deref(), *shadow),
                "action": capability,
                "proposal_id": cs.proposal_id,
                "proposal_version": cs.proposal_version,
                "proposal_hash": proposal_hash(cs),
                "target": {"type": cs.scope.business_object, "id": cs.scope.object_id, "tenant_id": cs.scope.tenant_id},
                "diff": diff(cs),
                "evidence_bundle_id": evidence_id,
                "evidence_resource": resource("evidence", evidence_id),
                "proposal_resource": resource("proposals", &cs.proposal_id),
                "replay_resource": resource("replay", &format!("replay_{}", cs.proposal_id)),
                "approval_required": decided.is_none(),
                "writeback": {
                    "status": cs.writeback.status,
                    "mode": cs.writeback.mode,
                    "executor": cs.writeback.executor.as_deref().unwrap_or("sql_update"),
                },
                "source_database_changed": false,
                "source_database_mutated": false,
            });
            if *deduplicated {
                payload["deduplicated"] = json!(true);
            }
            ToolResult {
                payload,
                is_error: false,
            }
        }
        Outcome::Refused {
            refusal,
            correlation_id,
            ..
        } => {
            let (code, message) = v1_error(refusal);
            let mut payload = json!({"ok": false, "code": code, "error": message});
            if let Some(arg) = &refusal.argument {
                payload["argument"] = json!(arg);
            }
            if let Some(id) = correlation_id {
                payload["correlation_id"] = json!(id);
            }
            ToolResult {
                payload,
                is_error: true,
            }
        }
    }
}

fn v1_error(r: &Refusal) -> (&'static str, String) {
    match r.code {
        Code::LocalStoreUnavailable => (
            "TEMPORARILY_UNAVAILABLE",
            SafeError::STORE_UNAVAILABLE.message.to_string(),
        ),
        Code::SecretMaterialRejected
        | Code::ProposalImmutabilityViolation
        | Code::ChangeSetInvalid
        | Code::SourceUnavailable
        | Code::SourceQueryFailed
        | Code::Internal => ("MCP_TOOL_FAILED", r.message.clone()),
        // The runtime codes of mcp-surface.md §8 go out verbatim; listed (no wildcard) so a
        // new code is placed on one side or the other deliberately.
        Code::ModelCannotOverrideBinding
        | Code::McpToolNotFound
        | Code::ArgumentRequired
        | Code::ArgumentTypeInvalid
        | Code::ArgumentTooLong
        | Code::ArgumentBelowMinimum
        | Code::ArgumentAboveMaximum
        | Code::ArgumentNotAllowed
        | Code::ArgumentUnknown
        | Code::ProposalsDisabled
        | Code::SourceNotFound
        | Code::TrustedContextMissing
        | Code::TrustedBindingMissing
        | Code::TrustedContextUnsupported
        | Code::SourceCredentialMissing
        | Code::LookupArgMissing
        | Code::UnsafeIdentifier
        | Code::RowNotFound
        | Code::PatchRequired
        | Code::PatchNumericBoundTypeInvalid
        | Code::PatchBelowMinimum
        | Code::PatchAboveMaximum
        | Code::PatchTransitionTypeInvalid
        | Code::PatchTransitionNotAllowed
        | Code::ConflictGuardMissing
        | Code::PatchValueInvalid
        | Code::PatchValueTooLong
        | Code::PatchValueOutOfRange
        | Code::PatchValueNullNotAllowed
        | Code::PatchNoChange
        | Code::PatchColumnUnknown
        | Code::ConflictGuardNotAdvanceable => (r.code.as_str(), r.message.clone()),
    }
}

/// Result format 2: one envelope shape for every outcome.
pub fn v2(outcome: &Outcome) -> ToolResult {
    let envelope = match outcome {
        Outcome::Read {
            capability,
            business_type,
            object_id,
            data,
            ctx,
            evidence_id,
            ..
        } => envelope(
            true,
            format!(
                "Read {business_type} {object_id} through {capability}. Source database changed: no."
            ),
            capability,
            Kind::Read,
            Value::Object(data.clone()),
            Value::Null,
            Value::Null,
            evidence(evidence_id),
            meta(Some(ctx), capability),
        ),
        Outcome::Proposal {
            capability,
            shadow,
            change_set: cs,
            ctx,
            evidence_id,
            executor_type,
            deduplicated,
            decided,
        } => {
            let state = proposal_state(decided.as_deref(), *shadow);
            let next = match decided {
                Some(state) => format!(
                    "This exact change was already recorded and is {state}; nothing new was recorded for review."
                ),
                None => "A human must approve outside this model-facing tool surface; nothing is committed yet.".to_string(),
            };
            let mut proposal = json!({
                "id": cs.proposal_id,
                "state": state,
                "target": format!("{}:{}", cs.scope.business_object, cs.scope.object_id),
                "diff": diff(cs),
                "approval_required": decided.is_none(),
                "writeback": {
                    "mode": if *executor_type == "sql_update" { "direct_update" } else { "app_handler" },
                    "applied": decided.as_deref() == Some("applied"),
                },
                "next": next,
            });
            if *deduplicated {
                proposal["deduplicated"] = json!(true);
            }
            let summary = if let Some(state) = decided {
                format!(
                    "Proposal {} for {} {} already exists with the same change and is {state}; nothing new was recorded for review. Source database changed: no.",
                    cs.proposal_id, cs.scope.business_object, cs.scope.object_id
                )
            } else if *deduplicated {
                format!(
                    "Proposal {} for {} {} already exists with the same change. Source database changed: no.",
                    cs.proposal_id, cs.scope.business_object, cs.scope.object_id
                )
            } else {
                format!(
                    "Created proposal {} for {} {}. Source database changed: no.",
                    cs.proposal_id, cs.scope.business_object, cs.scope.object_id
                )
            };
            envelope(
                true,
                summary,
                capability,
                Kind::Proposal,
                Value::Null,
                proposal,
                Value::Null,
                evidence(evidence_id),
                meta(Some(ctx), capability),
            )
        }
        Outcome::Refused {
            capability,
            kind,
            refusal,
            correlation_id,
        } => {
            let safe = refusal.code.safe();
            envelope(
                false,
                safe.message.to_string(),
                capability,
                *kind,
                Value::Null,
                Value::Null,
                v2_error(refusal, correlation_id.as_deref()),
                Value::Null,
                meta(None, capability),
            )
        }
    };
    ToolResult {
        payload: envelope,
        is_error: matches!(outcome, Outcome::Refused { .. }),
    }
}

/// What the model is told when the problem is the server's own.
pub const SERVER_SIDE_DETAIL: &str = "The server could not complete this call for a reason of its own (its configuration, its store or its database), not because of the arguments. The operator finds the cause in the server log under correlation_id.";

/// The v2 `error` object: the safe `code`, `message` and `retryable` of mcp-surface.md §7.4,
/// then what lets a model act on it: `reason` (the runtime code, mcp-surface.md §8), `argument` (the
/// argument it is about, when there is one), `detail` (the runtime message for problems the
/// model or its request caused; a fixed sentence for the server's own, whose cause is logged)
/// and `correlation_id` (shared with that log line).
fn v2_error(refusal: &Refusal, correlation_id: Option<&str>) -> Value {
    let safe = refusal.code.safe();
    let mut error = Map::new();
    error.insert("code".into(), json!(safe.code));
    error.insert("message".into(), json!(safe.message));
    error.insert("retryable".into(), json!(safe.retryable));
    error.insert("reason".into(), json!(refusal.code.as_str()));
    if let Some(arg) = &refusal.argument {
        error.insert("argument".into(), json!(arg));
    }
    let detail = match refusal.code.fault() {
        Fault::Input | Fault::Request => refusal.message.as_str(),
        Fault::Server => SERVER_SIDE_DETAIL,
    };
    error.insert("detail".into(), json!(detail));
    if let Some(id) = correlation_id {
        error.insert("correlation_id".into(), json!(id));
    }
    Value::Object(error)
}

#[allow(clippy::too_many_arguments)]
fn envelope(
    ok: bool,
    summary: String,
    action: &str,
    kind: Kind,
    data: Value,
    proposal: Value,
    error: Value,
    evidence: Value,
    meta: Value,
) -> Value {
    json!({
        "ok": ok,
        "summary": summary,
        "action": action,
        "kind": kind.as_str(),
        "data": data,
        "proposal": proposal,
        "error": error,
        "evidence": evidence,
        "source_database_changed": false,
        "_meta": meta,
    })
}

fn evidence(id: &str) -> Value {
    json!({"bundle_id": id, "note": EVIDENCE_NOTE})
}

fn meta(ctx: Option<&TrustedContext>, capability: &str) -> Value {
    let mut m = Map::new();
    if let Some(ctx) = ctx {
        m.insert("tenant_id".into(), json!(ctx.tenant_id));
        m.insert("principal".into(), json!(ctx.principal));
        m.insert("provenance".into(), json!(ctx.provenance.as_str()));
    }
    m.insert("canonical_capability".into(), json!(capability));
    Value::Object(m)
}

/// Render with the configured result format (1 or 2).
pub fn render(outcome: &Outcome, result_format: u8) -> ToolResult {
    if result_format == 2 {
        v2(outcome)
    } else {
        v1(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;

    fn ctx() -> TrustedContext {
        TrustedContext {
            tenant_id: "acme".into(),
            principal: "support_agent_17".into(),
            provenance: Provider::StaticDev,
        }
    }

    #[test]
    fn v2_read_success_shape() {
        let data: Row = serde_json::from_str(r#"{"id":"INV-3001","late_fee_cents":5500}"#).unwrap();
        let out = Outcome::Read {
            capability: "billing.inspect_invoice".into(),
            mode: "review",
            business_type: "invoices".into(),
            object_id: "INV-3001".into(),
            data,
            ctx: ctx(),
            evidence_id: "ev_1".into(),
        };
        let r = v2(&out);
        assert!(!r.is_error);
        let keys: Vec<&str> = r
            .payload
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ok",
                "summary",
                "action",
                "kind",
                "data",
                "proposal",
                "error",
                "evidence",
                "source_database_changed",
                "_meta"
            ]
        );
        assert_eq!(
            r.payload["summary"],
            "Read invoices INV-3001 through billing.inspect_invoice. Source database changed: no."
        );
        assert_eq!(r.payload["_meta"]["provenance"], "static_dev");
    }

    #[test]
    fn refusals_map_to_safe_codes() {
        let out = Outcome::Refused {
            capability: "billing.inspect_invoice".into(),
            kind: Kind::Read,
            refusal: Refusal::new(
                Code::RowNotFound,
                "The scoped capability read did not find exactly one authorized row.",
            ),
            correlation_id: None,
        };
        let r = v2(&out);
        assert_eq!(r.payload["ok"], false);
        assert_eq!(r.payload["error"]["code"], "NOT_FOUND_IN_TENANT");
        assert_eq!(r.payload["evidence"], Value::Null);
        assert_eq!(
            r.payload["_meta"],
            json!({"canonical_capability": "billing.inspect_invoice"})
        );
        let r1 = v1(&out);
        assert!(r1.is_error);
        assert_eq!(r1.payload["code"], "ROW_NOT_FOUND");
    }

    #[test]
    fn every_refusal_is_an_error_result_in_both_formats() {
        for &code in Code::ALL {
            let out = Outcome::Refused {
                capability: "billing.inspect_invoice".into(),
                kind: Kind::Read,
                refusal: Refusal::new(code, "x"),
                correlation_id: None,
            };
            assert!(v1(&out).is_error, "{code:?}");
            assert!(v2(&out).is_error, "{code:?}");
        }
    }

    fn refused(refusal: Refusal, correlation_id: Option<&str>) -> Outcome {
        Outcome::Refused {
            capability: "billing.inspect_invoice".into(),
            kind: Kind::Read,
            refusal,
            correlation_id: correlation_id.map(str::to_string),
        }
    }

    /// The model learns the runtime reason, the argument and what is wrong with it, while the
    /// v2 `code`, `message` and `summary` stay the published ones.
    #[test]
    fn argument_refusals_name_the_reason_and_the_argument() {
        let out = refused(
            Refusal::new(
                Code::ModelCannotOverrideBinding,
                "tenant_id is trusted context and cannot be supplied as a model argument.",
            )
            .with_argument("tenant_id"),
            None,
        );
        let r = v2(&out);
        assert_eq!(
            r.payload["error"],
            json!({
                "code": "INVALID_ARGUMENT",
                "message": "The tool input or trusted context binding is invalid.",
                "retryable": false,
                "reason": "MODEL_CANNOT_OVERRIDE_BINDING",
                "argument": "tenant_id",
                "detail": "tenant_id is trusted context and cannot be supplied as a model argument."
            })
        );
        assert_eq!(r.payload["summary"], SafeError::INVALID_ARGUMENT.message);
        let r1 = v1(&out);
        assert_eq!(
            r1.payload,
            json!({
                "ok": false,
                "code": "MODEL_CANNOT_OVERRIDE_BINDING",
                "error": "tenant_id is trusted context and cannot be supplied as a model argument.",
                "argument": "tenant_id"
            })
        );
    }

    /// A server-side problem tells the model only that it is not its fault, with the
    /// correlation id of the logged cause; the cause itself stays out of the v2 envelope.
    #[test]
    fn server_side_refusals_carry_a_correlation_id_and_no_cause() {
        let out = refused(
            Refusal::new(
                Code::TrustedBindingMissing,
                "APP_TENANT_ID and APP_PRINCIPAL must be set.",
            ),
            Some("err_0123456789ab"),
        );
        let r = v2(&out);
        let e = &r.payload["error"];
        assert_eq!(e["code"], "INVALID_ARGUMENT");
        assert_eq!(e["reason"], "TRUSTED_BINDING_MISSING");
        assert_eq!(e["detail"], SERVER_SIDE_DETAIL);
        assert_eq!(e["correlation_id"], "err_0123456789ab");
        assert!(e.get("argument").is_none());
        assert!(!r.payload.to_string().contains("APP_TENANT_ID"));
        assert!(r.is_error);
        assert_eq!(v1(&out).payload["correlation_id"], "err_0123456789ab");
        // A request the model made but cannot have: its reason in the runtime's words.
        let r = v2(&refused(
            Refusal::new(
                Code::RowNotFound,
                "The scoped capability read did not find exactly one authorized row.",
            ),
            None,
        ));
        assert_eq!(r.payload["error"]["reason"], "ROW_NOT_FOUND");
        assert_eq!(
            r.payload["error"]["detail"],
            "The scoped capability read did not find exactly one authorized row."
        );
    }

    #[test]
    fn ids_success_and_error_code_in_either_envelope() {
        let r = |payload: Value, is_error| ToolResult { payload, is_error };
        let v1 = r(
            json!({"ok": true, "evidence_bundle_id": "ev_1", "proposal_id": "wrp_1"}),
            false,
        );
        assert!(v1.succeeded());
        assert_eq!(v1.ids(), (Some("ev_1".into()), Some("wrp_1".into())));
        let v2 = r(
            json!({"ok": true, "evidence": {"bundle_id": "ev_2"}, "proposal": {"id": "wrp_2"}}),
            false,
        );
        assert_eq!(v2.ids(), (Some("ev_2".into()), Some("wrp_2".into())));
        let refused = r(
            json!({"ok": false, "error": {"code": "NOT_FOUND_IN_TENANT"}}),
            true,
        );
        assert!(!refused.succeeded());
        assert_eq!(refused.error_code(), Some("NOT_FOUND_IN_TENANT"));
        assert!(!r(json!({"ok": false, "error_code": "X"}), false).succeeded());
        assert_eq!(r(json!({"code": "Y"}), true).error_code(), Some("Y"));
        assert_eq!(r(json!({}), true).ids(), (None, None));
    }
}
