//! Proposal views: the list entry, the first look of `proposals show` and the reviewer's
//! details.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_core::lifecycle::State;
use sluicegate_ledger::{Problem, StoredEvent, StoredProposal};

use super::{cs, field, shown, state_of, text, yes_no};

/// `column: before -> after` for each patch column, values as `display::value` shows them.
pub fn diff_lines(p: &StoredProposal) -> Vec<String> {
    let Some(patch) = cs(p, "/patch").and_then(Value::as_object) else {
        return Vec::new();
    };
    patch
        .keys()
        .map(|col| {
            let before = cs(p, &format!("/before/{col}"));
            let after = cs(p, &format!("/after/{col}"));
            format!("{}: {} -> {}", text(col), shown(before), shown(after))
        })
        .collect()
}

/// One entry of `proposals list`.
pub fn proposal_list_entry(p: &StoredProposal) -> String {
    format!(
        "{}  {}  {}  {}\n  object: {}:{}\n  target: {}:{}/{}.{}/{}\n  tenant: {}  source changed: {}\n",
        text(&p.created_at),
        text(&p.proposal_id),
        text(&p.state),
        text(&p.action),
        text(&p.business_object),
        text(&p.object_id),
        text(&p.source_kind),
        text(&p.source_id),
        text(&p.source_schema),
        text(&p.source_table),
        text(&p.object_id),
        text(&p.tenant_id),
        yes_no(p.source_database_mutated)
    )
}

/// What `proposals show` prints first when the proposal's records do not verify.
pub fn tampered_warning(problem: &Problem) -> String {
    format!(
        "WARNING: this proposal's records do not verify: {}.\nThe ledger was changed outside Sluicegate, so what follows may not be what its change set says; no decision or apply is accepted on it. Run `sluicegate store verify`.",
        text(&problem.message)
    )
}

/// The first-look view of `proposals show`.
pub fn proposal_first_look(
    p: &StoredProposal,
    evidence_items: usize,
    selector: &str,
    hint: &str,
) -> String {
    let state = state_of(p);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Proposal {}\nStatus: {}\n",
        text(&p.proposal_id),
        state.human()
    );
    let _ = writeln!(out, "Agent requested:\n{}\n", text(&p.action));
    let _ = writeln!(
        out,
        "Business object:\n{} {}\n",
        text(&p.business_object),
        text(&p.object_id)
    );
    let _ = writeln!(out, "Proposed change:\n{}\n", diff_lines(p).join("\n"));
    let _ = writeln!(
        out,
        "Source DB changed:\n{}\n",
        yes_no(p.source_database_mutated)
    );
    let _ = writeln!(out, "Approval:\n{}\n", state.approval_boundary());
    let ev = field(cs(p, "/evidence/bundle_id"));
    let selector = text(selector);
    if evidence_items > 0 {
        let _ = writeln!(out, "Evidence:\n{ev} ({evidence_items} items)\n");
    } else {
        let _ = writeln!(out, "Evidence:\n{ev}\n");
    }
    let _ = writeln!(out, "Next:");
    match state {
        // By id even when shown as `latest`: by the time the reviewer approves, `latest` may
        // name a proposal recorded since, which they have not seen.
        State::PendingReview => {
            let id = text(&p.proposal_id);
            let _ = writeln!(out, "sluicegate proposals approve {id} --yes{hint}");
        }
        State::Approved | State::PendingWorker => {
            let _ = writeln!(out, "sluicegate apply {selector}{hint}");
        }
        _ => {}
    }
    let _ = writeln!(out, "sluicegate replay show {selector}{hint}\n");
    let _ = write!(
        out,
        "More detail:\nsluicegate proposals show {selector} --details{hint}"
    );
    out
}

/// The reviewer view: everything a human needs to decide.
pub fn proposal_details(p: &StoredProposal, events: Option<&[StoredEvent]>) -> String {
    let state = state_of(p);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Proposal details: {}\n\nReview details:",
        text(&p.proposal_id)
    );
    let _ = writeln!(
        out,
        "principal: {} ({})",
        field(cs(p, "/principal/id")),
        field(cs(p, "/principal/source"))
    );
    let _ = writeln!(out, "tenant: {}", text(&p.tenant_id));
    let _ = writeln!(
        out,
        "target: {}:{}/{}.{}/{}",
        text(&p.source_kind),
        text(&p.source_id),
        text(&p.source_schema),
        text(&p.source_table),
        text(&p.object_id)
    );
    let _ = writeln!(
        out,
        "primary key: {}={}",
        field(cs(p, "/source/primary_key/column")),
        shown(cs(p, "/source/primary_key/value"))
    );
    let _ = writeln!(out, "status: {}", text(&p.state));
    let _ = writeln!(out, "action: {}", text(&p.action));
    let role = cs(p, "/approval/required_role").and_then(Value::as_str);
    let _ = writeln!(
        out,
        "approval: {}{}",
        state.approval_status(),
        role.map(|r| format!(" required role {}", text(r)))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "proposal hash: {}", text(&p.proposal_hash));
    let _ = writeln!(out, "proposal version: {}", p.proposal_version);
    let allowed: Vec<String> = cs(p, "/guards/allowed_columns")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| field(Some(v))).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "allowed columns: {}", allowed.join(", "));
    let guard_col = field(cs(p, "/guards/expected_version/column"));
    if guard_col.is_empty() || guard_col == "unset" {
        let _ = writeln!(out, "conflict guard: none");
    } else {
        let _ = writeln!(
            out,
            "conflict guard: {guard_col}={}",
            shown(cs(p, "/guards/expected_version/value"))
        );
    }
    let _ = writeln!(
        out,
        "evidence: {}  query {}",
        field(cs(p, "/evidence/bundle_id")),
        field(cs(p, "/evidence/query_fingerprint"))
    );
    let _ = writeln!(
        out,
        "writeback: {} via {} (executor {})",
        state.writeback_status(),
        field(cs(p, "/writeback/mode")),
        field(cs(p, "/writeback/executor"))
    );
    let _ = writeln!(
        out,
        "source database changed: {}\n",
        yes_no(p.source_database_mutated)
    );
    let _ = writeln!(out, "Diff:");
    for line in diff_lines(p) {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(events) = events {
        let _ = writeln!(out, "Events:");
        if events.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for e in events {
            let _ = writeln!(
                out,
                "  event {}: {} by {} at {}",
                e.event_id,
                text(&e.kind),
                text(&e.actor),
                text(&e.created_at)
            );
        }
    }
    out.trim_end().to_string()
}
