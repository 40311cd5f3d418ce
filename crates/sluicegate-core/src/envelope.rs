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
use crate::refusal::{Code, Refusal, SafeError};

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
            ..
        } => {
            let mut payload = json!({
                "status": if *shadow { "shadow_proposal_created" } else { "review_required" },
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
                "approval_required": true,
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
        } => {
            let mut proposal = json!({
                "id": cs.proposal_id,
                "state": if *shadow { "shadow_proposal_created" } else { "review_required" },
                "target": format!("{}:{}", cs.scope.business_object, cs.scope.object_id),
                "diff": diff(cs),
                "approval_required": true,
                "writeback": {
                    "mode": if *executor_type == "sql_update" { "direct_update" } else { "app_handler" },
                    "applied": false,
                },
                "next": "A human must approve outside this model-facing tool surface; nothing is committed yet.",
            });
            if *deduplicated {
                proposal["deduplicated"] = json!(true);
            }
            let summary = if *deduplicated {
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
            let mut error =
                json!({"code": safe.code, "message": safe.message, "retryable": safe.retryable});
            if let Some(id) = correlation_id {
                error["correlation_id"] = json!(id);
            }
            envelope(
                false,
                safe.message.to_string(),
                capability,
                *kind,
                Value::Null,
                Value::Null,
                error,
                Value::Null,
                meta(None, capability),
            )
        }
    };
    // The reference's v2 results are never `isError`, except that arguments the model can
    // correct are an error result on every transport (spec README §3.3), whichever layer
    // refused them.
    let is_error = match outcome {
        Outcome::Refused { refusal, .. } => refusal.code.is_invalid_input(),
        Outcome::Read { .. } | Outcome::Proposal { .. } => false,
    };
    ToolResult {
        payload: envelope,
        is_error,
    }
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
    fn invalid_input_is_an_error_result_in_both_formats() {
        for &code in Code::ALL {
            let out = Outcome::Refused {
                capability: "billing.inspect_invoice".into(),
                kind: Kind::Read,
                refusal: Refusal::new(code, "x"),
                correlation_id: None,
            };
            assert!(v1(&out).is_error, "{code:?}");
            assert_eq!(v2(&out).is_error, code.is_invalid_input(), "{code:?}");
        }
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
