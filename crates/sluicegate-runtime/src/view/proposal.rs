//! Proposal views: the list entry, the first look of `proposals show` and the reviewer's
//! details.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_core::lifecycle::State;
use sluicegate_ledger::{StoredEvent, StoredProposal};

use super::{cs, state_of, text, yes_no};

/// `column: before -> after` for each patch column.
pub fn diff_lines(p: &StoredProposal) -> Vec<String> {
    let Some(patch) = cs(p, "/patch").and_then(Value::as_object) else {
        return Vec::new();
    };
    patch
        .keys()
        .map(|col| {
            let before = cs(p, &format!("/before/{col}"));
            let after = cs(p, &format!("/after/{col}"));
            format!("{col}: {} -> {}", text(before), text(after))
        })
        .collect()
}

/// One entry of `proposals list`.
pub fn proposal_list_entry(p: &StoredProposal) -> String {
    format!(
        "{}  {}  {}  {}\n  object: {}:{}\n  target: {}:{}/{}.{}/{}\n  tenant: {}  source changed: {}\n",
        p.created_at,
        p.proposal_id,
        p.state,
        p.action,
        p.business_object,
        p.object_id,
        p.source_kind,
        p.source_id,
        p.source_schema,
        p.source_table,
        p.object_id,
        p.tenant_id,
        yes_no(p.source_database_mutated)
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
        p.proposal_id,
        state.human()
    );
    let _ = writeln!(out, "Agent requested:\n{}\n", p.action);
    let _ = writeln!(
        out,
        "Business object:\n{} {}\n",
        p.business_object, p.object_id
    );
    let _ = writeln!(out, "Proposed change:\n{}\n", diff_lines(p).join("\n"));
    let _ = writeln!(
        out,
        "Source DB changed:\n{}\n",
        yes_no(p.source_database_mutated)
    );
    let _ = writeln!(out, "Approval:\n{}\n", state.approval_boundary());
    let ev = text(cs(p, "/evidence/bundle_id"));
    if evidence_items > 0 {
        let _ = writeln!(out, "Evidence:\n{ev} ({evidence_items} items)\n");
    } else {
        let _ = writeln!(out, "Evidence:\n{ev}\n");
    }
    let _ = writeln!(out, "Next:");
    match state {
        State::PendingReview => {
            let _ = writeln!(out, "sluicegate proposals approve {selector} --yes{hint}");
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
        p.proposal_id
    );
    let _ = writeln!(
        out,
        "principal: {} ({})",
        text(cs(p, "/principal/id")),
        text(cs(p, "/principal/source"))
    );
    let _ = writeln!(out, "tenant: {}", p.tenant_id);
    let _ = writeln!(
        out,
        "target: {}:{}/{}.{}/{}",
        p.source_kind, p.source_id, p.source_schema, p.source_table, p.object_id
    );
    let _ = writeln!(
        out,
        "primary key: {}={}",
        text(cs(p, "/source/primary_key/column")),
        text(cs(p, "/source/primary_key/value"))
    );
    let _ = writeln!(out, "status: {}", p.state);
    let _ = writeln!(out, "action: {}", p.action);
    let role = cs(p, "/approval/required_role").and_then(Value::as_str);
    let _ = writeln!(
        out,
        "approval: {}{}",
        state.approval_status(),
        role.map(|r| format!(" required role {r}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "proposal hash: {}", p.proposal_hash);
    let _ = writeln!(out, "proposal version: {}", p.proposal_version);
    let allowed: Vec<String> = cs(p, "/guards/allowed_columns")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| text(Some(v))).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "allowed columns: {}", allowed.join(", "));
    let guard_col = text(cs(p, "/guards/expected_version/column"));
    if guard_col.is_empty() || guard_col == "unset" {
        let _ = writeln!(out, "conflict guard: none");
    } else {
        let _ = writeln!(
            out,
            "conflict guard: {guard_col}={}",
            text(cs(p, "/guards/expected_version/value"))
        );
    }
    let _ = writeln!(
        out,
        "evidence: {}  query {}",
        text(cs(p, "/evidence/bundle_id")),
        text(cs(p, "/evidence/query_fingerprint"))
    );
    let _ = writeln!(
        out,
        "writeback: {} via {} (executor {})",
        state.writeback_status(),
        text(cs(p, "/writeback/mode")),
        text(cs(p, "/writeback/executor"))
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
                e.event_id, e.kind, e.actor, e.created_at
            );
        }
    }
    out.trim_end().to_string()
}
