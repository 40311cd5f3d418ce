//! Human views of ledger records: what `proposals show`, `replay show`, `evidence show`,
//! `receipts show` and `apply` print, and the markdown replay export.
//!
//! Views build strings; commands decide where they go. Values print raw when they are strings
//! and as JSON otherwise, so `null` and numbers stay unambiguous.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_core::lifecycle::State;
use sluicegate_core::proposal::display_value;
use sluicegate_ledger::{StoredEvent, StoredEvidence, StoredProposal, StoredReceipt};

fn state_of(p: &StoredProposal) -> State {
    State::parse(&p.state).unwrap_or(State::PendingReview)
}

fn cs<'a>(p: &'a StoredProposal, pointer: &str) -> Option<&'a Value> {
    p.change_set.pointer(pointer)
}

fn text(v: Option<&Value>) -> String {
    display_value(v)
}

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

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
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

fn plural(n: usize, label: &str) -> String {
    format!("{n} {label}{}", if n == 1 { "" } else { "s" })
}

fn replay_parts(replay: &Value) -> (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>) {
    let arr = |k: &str| {
        replay
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    (
        arr("events"),
        arr("receipts"),
        arr("query_audit"),
        arr("evidence"),
    )
}

/// The first-look story of `replay show`.
pub fn replay_story(p: &StoredProposal, replay: &Value, hint: &str) -> String {
    let state = state_of(p);
    let (_, receipts, audits, evidence) = replay_parts(replay);
    let ev_id = text(cs(p, "/evidence/bundle_id"));
    let mut out = String::new();
    let _ = writeln!(out, "Replay replay_{}\n\nWhat happened:", p.proposal_id);
    let _ = writeln!(out, "1. Agent called {}", p.action);
    let _ = writeln!(
        out,
        "2. Sluicegate read {} {} under tenant {}",
        p.business_object, p.object_id, p.tenant_id
    );
    let _ = writeln!(out, "3. Sluicegate recorded evidence bundle {ev_id}");
    let _ = writeln!(
        out,
        "4. Sluicegate created a proposal (the source was not changed)"
    );
    let approval_line = match state {
        State::PendingReview => "Approval is still pending".to_string(),
        other => format!("Proposal is {}", other.human()),
    };
    let _ = writeln!(out, "5. {approval_line}");
    let _ = writeln!(
        out,
        "6. Source DB changed: {}\n",
        yes_no(p.source_database_mutated)
    );
    let _ = writeln!(out, "Proposed change:\n{}\n", diff_lines(p).join("\n"));
    let items: usize = evidence
        .iter()
        .map(|b| b.get("items").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    let read_audits: usize = evidence
        .iter()
        .map(|b| {
            b.get("query_audit")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum();
    let _ = writeln!(
        out,
        "Evidence:\n{}\n{}\n",
        plural(audits.len().max(read_audits), "query audit record"),
        plural(items, "evidence item")
    );
    let _ = writeln!(out, "Writeback:");
    match receipts.last() {
        Some(r) => {
            for r in &receipts {
                let _ = writeln!(
                    out,
                    "receipt {}: {} (rows affected {}, source changed {}){}",
                    r.get("receipt_id")
                        .map(|v| text(Some(v)))
                        .unwrap_or_default(),
                    text(r.get("status")).replace('_', " "),
                    text(r.pointer("/receipt/rows_affected")),
                    yes_no(r.get("source_database_mutated") == Some(&Value::Bool(true))),
                    r.pointer("/receipt/safe_error_code")
                        .and_then(Value::as_str)
                        .map(|c| format!(", {c}"))
                        .unwrap_or_default()
                );
            }
            let mutated = receipts
                .iter()
                .any(|r| r.get("source_database_mutated") == Some(&Value::Bool(true)));
            let _ = writeln!(
                out,
                "source DB changed after writeback: {}",
                yes_no(mutated)
            );
            let _ = r;
        }
        None => {
            let _ = writeln!(out, "{}", state.writeback_status().replace('_', " "));
        }
    }
    let _ = writeln!(out, "\nNext:\n  sluicegate evidence show {ev_id}{hint}");
    if state == State::PendingReview {
        let _ = writeln!(
            out,
            "  sluicegate proposals approve {} --yes{hint}",
            p.proposal_id
        );
    }
    let _ = write!(
        out,
        "\nMore detail:\n  sluicegate replay show {} --details{hint}",
        p.proposal_id
    );
    out
}

/// `replay show --details`.
pub fn replay_details(p: &StoredProposal, replay: &Value) -> String {
    let (events, receipts, audits, evidence) = replay_parts(replay);
    let mut out = String::new();
    let _ = writeln!(out, "Replay details replay_{}\n", p.proposal_id);
    let _ = writeln!(out, "{}\n", proposal_details(p, None));
    let _ = writeln!(out, "events: {}", events.len());
    for e in &events {
        let _ = writeln!(
            out,
            "  {} by {} at {}",
            text(e.get("kind")),
            text(e.get("actor")),
            text(e.get("created_at"))
        );
    }
    let _ = writeln!(out, "receipts: {}", receipts.len());
    for r in &receipts {
        let _ = writeln!(
            out,
            "  receipt {}: {} job {}",
            text(r.get("receipt_id")),
            text(r.get("status")),
            text(r.get("writeback_job_id"))
        );
    }
    let _ = writeln!(out, "evidence bundles: {}", evidence.len());
    for b in &evidence {
        let _ = writeln!(out, "  {}", text(b.get("evidence_bundle_id")));
    }
    let all_audits: Vec<&Value> = evidence
        .iter()
        .flat_map(|b| {
            b.get("query_audit")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .chain(audits.iter())
        .collect();
    let mut seen = Vec::new();
    let _ = writeln!(out, "query audit records: {}", {
        let mut n = 0;
        for a in &all_audits {
            let id = text(a.get("audit_id"));
            if !seen.contains(&id) {
                seen.push(id);
                n += 1;
            }
        }
        n
    });
    let mut printed = Vec::new();
    for a in all_audits {
        let id = text(a.get("audit_id"));
        if printed.contains(&id) {
            continue;
        }
        let _ = writeln!(
            out,
            "  audit {id}: {}/{} rows {}",
            text(a.get("source_id")),
            text(a.get("table_name")),
            text(a.get("row_count"))
        );
        printed.push(id);
    }
    out.trim_end().to_string()
}

/// The markdown replay export (store.md §8.3).
pub fn replay_markdown(p: &StoredProposal, replay: &Value) -> String {
    let (events, receipts, audits, evidence) = replay_parts(replay);
    let json = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "null".into());
    let mut out = String::new();
    let _ = writeln!(out, "# Sluicegate Replay\n");
    let _ = writeln!(out, "Proposal: {}", p.proposal_id);
    let _ = writeln!(out, "Capability: {}", p.action);
    let _ = writeln!(out, "Tenant: {}", p.tenant_id);
    let _ = writeln!(out, "Object: {}:{}", p.business_object, p.object_id);
    let _ = writeln!(out, "Status: {}\n", p.state);
    let _ = writeln!(out, "## What The Agent Requested\n");
    let _ = writeln!(
        out,
        "The agent called `{}` for {} {}. The source database was not mutated when the proposal was created.\n",
        p.action, p.business_object, p.object_id
    );
    let _ = writeln!(out, "## Trusted Context\n");
    let _ = writeln!(out, "- tenant_id = {}", p.tenant_id);
    let _ = writeln!(out, "- principal = {}", text(cs(p, "/principal/id")));
    let _ = writeln!(
        out,
        "- principal_source = {}\n",
        text(cs(p, "/principal/source"))
    );
    let _ = writeln!(out, "## Evidence\n");
    if evidence.is_empty() {
        let _ = writeln!(
            out,
            "- evidence: {}\n  - rows captured: 0",
            text(cs(p, "/evidence/bundle_id"))
        );
    }
    for b in &evidence {
        let _ = writeln!(out, "- evidence: {}", text(b.get("evidence_bundle_id")));
        let _ = writeln!(
            out,
            "  - source: {}.{}.{}",
            p.source_id, p.source_schema, p.source_table
        );
        let _ = writeln!(
            out,
            "  - query fingerprint: {}",
            text(cs(p, "/evidence/query_fingerprint"))
        );
        let _ = writeln!(
            out,
            "  - rows captured: {}",
            b.get("items").and_then(Value::as_array).map_or(0, Vec::len)
        );
    }
    let _ = writeln!(out, "\n## Proposed Diff\n");
    if let Some(patch) = cs(p, "/patch").and_then(Value::as_object) {
        for col in patch.keys() {
            let _ = writeln!(
                out,
                "- {col}: {} -> {}",
                json(cs(p, &format!("/before/{col}"))),
                json(cs(p, &format!("/after/{col}")))
            );
        }
    }
    let _ = writeln!(out, "\n## Approval\n");
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| {
            matches!(
                e.get("kind").and_then(Value::as_str),
                Some("proposal_approved" | "proposal_rejected")
            )
        })
        .collect();
    if decisions.is_empty() {
        let _ = writeln!(out, "- {}", state_of(p).approval_status());
    }
    for e in decisions {
        let _ = writeln!(
            out,
            "- {} by {} at {}",
            text(e.get("kind")),
            text(e.get("actor")),
            text(e.get("created_at"))
        );
    }
    let _ = writeln!(out, "\n## Guarded Writeback\n");
    if receipts.is_empty() {
        let _ = writeln!(out, "- no writeback receipt recorded yet");
    }
    for r in &receipts {
        let _ = writeln!(out, "- receipt: {}", text(r.get("receipt_id")));
        let _ = writeln!(out, "  - status: {}", text(r.get("status")));
        let _ = writeln!(
            out,
            "  - affected rows: {}",
            text(r.pointer("/receipt/rows_affected"))
        );
        let _ = writeln!(
            out,
            "  - idempotency key: {}",
            text(r.get("idempotency_key"))
        );
        let _ = writeln!(
            out,
            "  - source database mutated: {}",
            yes_no(r.get("source_database_mutated") == Some(&Value::Bool(true)))
        );
        if let Some(code) = r
            .pointer("/receipt/safe_error_code")
            .and_then(Value::as_str)
        {
            let _ = writeln!(out, "  - safe error: {code}");
        }
    }
    let _ = writeln!(out, "\n## Query Audit\n");
    for a in &audits {
        let _ = writeln!(
            out,
            "- audit {}: {}/{} rows {} fingerprint {}",
            text(a.get("audit_id")),
            text(a.get("source_id")),
            text(a.get("table_name")),
            text(a.get("row_count")),
            text(a.get("query_fingerprint"))
        );
    }
    let _ = writeln!(out, "\n## Replay Note\n");
    let _ = writeln!(
        out,
        "This replay is assembled from the local ledger: what the agent saw, what it proposed, who decided, and what writeback did. It is not database time travel; no read or write was executed to produce it."
    );
    out
}

/// `evidence show` default view.
pub fn evidence_view(b: &StoredEvidence, hint: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Evidence {}\n", b.evidence_bundle_id);
    let _ = writeln!(
        out,
        "Used for:\n{}",
        b.capability.as_deref().unwrap_or("unknown")
    );
    match (&b.business_object, &b.object_id) {
        (Some(t), Some(id)) => {
            let _ = writeln!(out, "{t} {id}\n");
        }
        _ => {
            let _ = writeln!(out, "not linked\n");
        }
    }
    let _ = writeln!(
        out,
        "Captured:\n{}\n{}\n",
        plural(b.items.len(), "evidence item"),
        plural(b.query_audit.len(), "query audit record")
    );
    let _ = writeln!(
        out,
        "Source:\n{} / {}\n",
        b.source_id.as_deref().unwrap_or("unknown"),
        b.source_table.as_deref().unwrap_or("unknown")
    );
    let _ = writeln!(out, "Rows:");
    for (i, item) in b.items.iter().enumerate() {
        let item = &item.item;
        let kind = item.get("kind").and_then(Value::as_str).unwrap_or("item");
        match item.pointer("/primary_key/value") {
            Some(pk) => {
                let _ = writeln!(out, "* {kind} {}", text(Some(pk)));
            }
            None => {
                let _ = writeln!(out, "* {kind} {}", i + 1);
            }
        }
        let fields = item
            .get("visible_row")
            .or(Some(item))
            .and_then(Value::as_object);
        let mut lines = 0;
        for (k, v) in fields.into_iter().flatten() {
            if ["kind", "source_id", "table", "primary_key", "tenant"].contains(&k.as_str())
                || lines >= 12
            {
                continue;
            }
            match v {
                Value::Object(sub) => {
                    for (sk, sv) in sub.iter().take(6) {
                        let _ = writeln!(out, "  {k}.{sk}: {}", text(Some(sv)));
                        lines += 1;
                    }
                }
                other => {
                    let _ = writeln!(out, "  {k}: {}", text(Some(other)));
                    lines += 1;
                }
            }
        }
        if lines == 0 {
            let _ = writeln!(out, "  (no scalar preview fields)");
        }
    }
    let _ = writeln!(
        out,
        "\nNext:\n  sluicegate query-audit list --evidence {}{hint}",
        b.evidence_bundle_id
    );
    if let Some(p) = &b.proposal_id {
        let _ = writeln!(out, "  sluicegate replay show {p}{hint}");
    }
    out.trim_end().to_string()
}

/// `evidence export --format markdown`.
pub fn evidence_markdown(b: &StoredEvidence) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let mut out = String::new();
    let _ = writeln!(out, "# Evidence {}\n", b.evidence_bundle_id);
    let _ = writeln!(out, "- Tenant: {}", b.tenant_id);
    let _ = writeln!(out, "- Proposal: {}", opt(&b.proposal_id));
    let _ = writeln!(out, "- Principal: {}", opt(&b.principal));
    let _ = writeln!(out, "- Capability: {}", opt(&b.capability));
    let _ = writeln!(out, "- Source: {}", opt(&b.source_id));
    let _ = writeln!(out, "- Table: {}", opt(&b.source_table));
    let _ = writeln!(out, "- Query fingerprint: {}", opt(&b.query_fingerprint));
    let _ = writeln!(out, "- Created at: {}\n", b.created_at);
    let items: Vec<&Value> = b.items.iter().map(|i| &i.item).collect();
    let _ = writeln!(
        out,
        "## Captured Items\n\n```json\n{}\n```\n",
        serde_json::to_string_pretty(&items).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "## Query Audit\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&b.query_audit).unwrap_or_default()
    );
    out
}

/// `receipts show` default view.
pub fn receipt_view(r: &StoredReceipt, hint: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Receipt {}\nStatus: {}\n",
        r.display_id(),
        r.status.replace('_', " ")
    );
    let _ = writeln!(out, "Proposal:\n{}\n", r.proposal_id);
    let _ = writeln!(out, "Writeback:\nguarded single-row update\n");
    let _ = writeln!(out, "Checks:");
    match r.status.as_str() {
        "applied" | "already_applied" => {
            let _ = writeln!(
                out,
                "primary key matched\ntenant guard matched\nallowed columns only\nconflict guard passed"
            );
        }
        "conflict" => {
            let _ = writeln!(
                out,
                "primary key matched\ntenant guard matched\nconflict guard blocked stale write"
            );
        }
        _ => {
            let _ = writeln!(out, "guarded writeback did not apply");
        }
    }
    let _ = writeln!(
        out,
        "affected rows: {}\n",
        text(r.receipt.get("rows_affected"))
    );
    if let Some(code) = r.receipt.get("safe_error_code").and_then(Value::as_str) {
        let _ = writeln!(out, "Safe error:\n{code}\n");
    }
    let _ = writeln!(
        out,
        "Source DB changed:\n{}\n",
        yes_no(r.source_database_mutated)
    );
    let _ = write!(out, "Next:\nsluicegate replay show {}{hint}", r.proposal_id);
    out
}
