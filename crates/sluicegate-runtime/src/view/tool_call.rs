//! Views of a tool called from the CLI (`smoke call`, `propose`): what was sent, whether it was
//! refused, what it recorded, and the commands that look at it next.

use serde_json::Value;
use sluicegate_core::call::Args;
use sluicegate_core::envelope::ToolResult;

use super::{pretty, text};

/// An id a result returned (model-facing results echo what the call recorded), shown inert.
fn id(v: &Option<String>, missing: &str) -> String {
    text(v.as_deref().unwrap_or(missing)).into_owned()
}

/// `smoke call` as text. `hint` is ` --store <path>` when one was given.
pub fn smoke_call(tool: &str, args: &Args, result: &ToolResult, hint: &str) -> String {
    let ok = result.succeeded();
    let (evidence, proposal) = result.ids();
    let (evidence, proposal) = (
        evidence.map(|e| text(&e).into_owned()),
        proposal.map(|p| text(&p).into_owned()),
    );
    let mut out = format!(
        "Sluicegate smoke call: {}\n\nTool:\n{}\n\nInput:\n{}\n\n",
        if ok { "ok" } else { "refused" },
        text(tool),
        pretty(args)
    );
    if !ok {
        out.push_str(&format!("Result:\n{}\n\n", pretty(&result.payload)));
    } else if let Some(row) = result.payload.get("data").filter(|d| d.is_object()) {
        // The row exactly as the model received it (visible columns only).
        out.push_str(&format!("Row the model saw:\n{}\n\n", pretty(row)));
    }
    out.push_str("Source DB changed:\nno\n\n");
    out.push_str(&format!(
        "Evidence:\n{}\n\n",
        id(&evidence, "(not returned)")
    ));
    if let Some(p) = &proposal {
        out.push_str(&format!(
            "Proposal:\n{p}\n\nReplay:\nsynapsor://replay/replay_{p}\n\nNext:\n  sluicegate proposals show {p}{hint}\n  sluicegate proposals approve {p}{hint}\n  sluicegate apply {p}{hint}\n  sluicegate replay show {p}{hint}\n"
        ));
    } else if let Some(ev) = &evidence {
        out.push_str(&format!(
            "Next:\n  sluicegate evidence show {ev}{hint}\n  sluicegate query-audit list --evidence {ev}{hint}\n"
        ));
    }
    out
}

/// `propose` as text: the refusal, or the proposal (new or deduplicated) and how to review it.
pub fn proposal_result(capability: &str, result: &ToolResult, hint: &str) -> String {
    let capability = text(capability);
    if !result.succeeded() {
        return format!(
            "Proposal refused.\n\nCapability:\n{capability}\n\nResult:\n{}\n",
            pretty(&result.payload)
        );
    }
    let (evidence, proposal) = result.ids();
    let review = id(&proposal, "latest");
    let deduplicated = result.payload.get("deduplicated") == Some(&Value::Bool(true))
        || result.payload.pointer("/proposal/deduplicated") == Some(&Value::Bool(true));
    format!(
        "{}\n\nCapability:\n{capability}\n\nProposal:\n{}\n\nEvidence:\n{}\n\nSource DB changed:\nno\n\nReview:\nsluicegate proposals show {review}{hint}\nsluicegate proposals approve {review}{hint}\nsluicegate apply {review}{hint}\nsluicegate replay show {review}{hint}\n",
        if deduplicated {
            "Proposal already exists (same change, deduplicated)."
        } else {
            "Proposal created."
        },
        id(&proposal, "(missing)"),
        id(&evidence, "(missing)")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn result(payload: Value, is_error: bool) -> ToolResult {
        ToolResult { payload, is_error }
    }

    fn args() -> Args {
        json!({"invoice_id": "INV-1"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_read_points_at_its_evidence() {
        let r = result(json!({"ok": true, "evidence_bundle_id": "ev_1"}), false);
        assert_eq!(
            smoke_call("billing.inspect_invoice", &args(), &r, " --store s.db"),
            "Sluicegate smoke call: ok\n\nTool:\nbilling.inspect_invoice\n\nInput:\n{\n  \"invoice_id\": \"INV-1\"\n}\n\nSource DB changed:\nno\n\nEvidence:\nev_1\n\nNext:\n  sluicegate evidence show ev_1 --store s.db\n  sluicegate query-audit list --evidence ev_1 --store s.db\n"
        );
    }

    #[test]
    fn a_read_shows_the_row_the_model_saw() {
        let r = result(
            json!({"ok": true, "evidence_bundle_id": "ev_1", "data": {"id": "INV-1", "note": "a\u{1b}[2Kb"}}),
            false,
        );
        let text = smoke_call("billing.inspect_invoice", &args(), &r, "");
        assert!(
            text.contains("\n\nRow the model saw:\n{\n  \"id\": \"INV-1\",\n"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "controls stay inert: {text}");
    }

    #[test]
    fn a_refusal_shows_the_result() {
        let r = result(
            json!({"ok": false, "error": {"code": "NOT_FOUND_IN_TENANT"}}),
            true,
        );
        let text = smoke_call("billing.inspect_invoice", &args(), &r, "");
        assert!(text.starts_with("Sluicegate smoke call: refused\n"));
        assert!(text.contains("Result:\n{\n  \"ok\": false,"));
        assert!(text.ends_with("Evidence:\n(not returned)\n\n"));
        assert!(
            proposal_result("b.propose", &r, "")
                .starts_with("Proposal refused.\n\nCapability:\nb.propose\n\nResult:\n{")
        );
    }

    #[test]
    fn a_proposal_says_how_to_review_it() {
        let r = result(
            json!({"ok": true, "evidence": {"bundle_id": "ev_2"}, "proposal": {"id": "wrp_2", "deduplicated": true}}),
            false,
        );
        let smoke = smoke_call("b.propose", &args(), &r, "");
        assert!(smoke.contains("Proposal:\nwrp_2\n\nReplay:\nsynapsor://replay/replay_wrp_2\n"));
        assert_eq!(
            proposal_result("b.propose", &r, ""),
            "Proposal already exists (same change, deduplicated).\n\nCapability:\nb.propose\n\nProposal:\nwrp_2\n\nEvidence:\nev_2\n\nSource DB changed:\nno\n\nReview:\nsluicegate proposals show wrp_2\nsluicegate proposals approve wrp_2\nsluicegate apply wrp_2\nsluicegate replay show wrp_2\n"
        );
        let created = result(json!({"ok": true}), false);
        assert!(proposal_result("b.propose", &created, "").starts_with("Proposal created.\n"));
        assert!(proposal_result("b.propose", &created, "").contains("sluicegate apply latest\n"));
    }
}
