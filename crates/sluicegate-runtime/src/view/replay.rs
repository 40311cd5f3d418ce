//! Replay views: the story of `replay show`, its `--details`, and the Markdown export.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_core::display;
use sluicegate_core::lifecycle::State;
use sluicegate_ledger::StoredProposal;

use super::proposal::{diff_lines, proposal_details};
use super::{cs, field, markdown, plural, state_of, text, yes_no};

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
    let ev_id = field(cs(p, "/evidence/bundle_id"));
    let pid = text(&p.proposal_id);
    let mut out = String::new();
    let _ = writeln!(out, "Replay replay_{pid}\n\nWhat happened:");
    let _ = writeln!(out, "1. Agent called {}", text(&p.action));
    let _ = writeln!(
        out,
        "2. Sluicegate read {} {} under tenant {}",
        text(&p.business_object),
        text(&p.object_id),
        text(&p.tenant_id)
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
                        .map(|v| field(Some(v)))
                        .unwrap_or_default(),
                    field(r.get("status")).replace('_', " "),
                    field(r.pointer("/receipt/rows_affected")),
                    yes_no(r.get("source_database_mutated") == Some(&Value::Bool(true))),
                    r.pointer("/receipt/safe_error_code")
                        .and_then(Value::as_str)
                        .map(|c| format!(", {}", text(c)))
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
    let actions = shadow_lines(replay);
    if !actions.is_empty() {
        let _ = writeln!(
            out,
            "\nWhat a person did by hand (shadow mode):\n{}",
            actions.join("\n")
        );
    }
    let _ = writeln!(out, "\nNext:\n  sluicegate evidence show {ev_id}{hint}");
    if state == State::PendingReview {
        let _ = writeln!(out, "  sluicegate proposals approve {pid} --yes{hint}");
    }
    let _ = write!(
        out,
        "\nMore detail:\n  sluicegate replay show {pid} --details{hint}"
    );
    out
}

/// One line per shadow-mode human action: id, actor, time, the columns set, the notes.
fn shadow_lines(replay: &Value) -> Vec<String> {
    let actions = replay
        .get("shadow_human_actions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    actions
        .iter()
        .map(|a| {
            let cols: Vec<String> = a
                .get("patch")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{} = {}", text(k), display::value(v)))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} by {} at {}: {}{}",
                field(a.get("action_id")),
                field(a.get("actor")),
                field(a.get("created_at")),
                cols.join(", "),
                a.get("notes")
                    .and_then(Value::as_str)
                    .map(|n| format!(" ({})", text(n)))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// `replay show --details`.
pub fn replay_details(p: &StoredProposal, replay: &Value) -> String {
    let (events, receipts, audits, evidence) = replay_parts(replay);
    let mut out = String::new();
    let _ = writeln!(out, "Replay details replay_{}\n", text(&p.proposal_id));
    let _ = writeln!(out, "{}\n", proposal_details(p, None));
    let _ = writeln!(out, "events: {}", events.len());
    for e in &events {
        let _ = writeln!(
            out,
            "  {} by {} at {}",
            field(e.get("kind")),
            field(e.get("actor")),
            field(e.get("created_at"))
        );
    }
    let _ = writeln!(out, "receipts: {}", receipts.len());
    for r in &receipts {
        let _ = writeln!(
            out,
            "  receipt {}: {} job {}",
            field(r.get("receipt_id")),
            field(r.get("status")),
            field(r.get("writeback_job_id"))
        );
    }
    let _ = writeln!(out, "evidence bundles: {}", evidence.len());
    for b in &evidence {
        let _ = writeln!(out, "  {}", field(b.get("evidence_bundle_id")));
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
            let id = field(a.get("audit_id"));
            if !seen.contains(&id) {
                seen.push(id);
                n += 1;
            }
        }
        n
    });
    let mut printed = Vec::new();
    for a in all_audits {
        let id = field(a.get("audit_id"));
        if printed.contains(&id) {
            continue;
        }
        let _ = writeln!(
            out,
            "  audit {id}: {}/{} rows {}",
            field(a.get("source_id")),
            field(a.get("table_name")),
            field(a.get("row_count"))
        );
        printed.push(id);
    }
    out.trim_end().to_string()
}

/// The markdown replay export (store.md §8.3).
pub fn replay_markdown(p: &StoredProposal, replay: &Value) -> String {
    let (events, receipts, audits, evidence) = replay_parts(replay);
    // Every value below comes from a record a model or a row could have written.
    let text = |s: &str| markdown(&text(s));
    let field = |v: Option<&Value>| markdown(&field(v));
    let json = |v: Option<&Value>| markdown(&v.map_or_else(|| "null".to_string(), display::value));
    let (action, object, object_id) = (
        text(&p.action),
        text(&p.business_object),
        text(&p.object_id),
    );
    let mut out = String::new();
    let _ = writeln!(out, "# Sluicegate Replay\n");
    let _ = writeln!(out, "Proposal: {}", text(&p.proposal_id));
    let _ = writeln!(out, "Capability: {action}");
    let _ = writeln!(out, "Tenant: {}", text(&p.tenant_id));
    let _ = writeln!(out, "Object: {object}:{object_id}");
    let _ = writeln!(out, "Status: {}\n", text(&p.state));
    let _ = writeln!(out, "## What The Agent Requested\n");
    let _ = writeln!(
        out,
        "The agent called `{action}` for {object} {object_id}. The source database was not mutated when the proposal was created.\n"
    );
    let _ = writeln!(out, "## Trusted Context\n");
    let _ = writeln!(out, "- tenant_id = {}", text(&p.tenant_id));
    let _ = writeln!(out, "- principal = {}", field(cs(p, "/principal/id")));
    let _ = writeln!(
        out,
        "- principal_source = {}\n",
        field(cs(p, "/principal/source"))
    );
    let _ = writeln!(out, "## Evidence\n");
    if evidence.is_empty() {
        let _ = writeln!(
            out,
            "- evidence: {}\n  - rows captured: 0",
            field(cs(p, "/evidence/bundle_id"))
        );
    }
    for b in &evidence {
        let _ = writeln!(out, "- evidence: {}", field(b.get("evidence_bundle_id")));
        let _ = writeln!(
            out,
            "  - source: {}.{}.{}",
            text(&p.source_id),
            text(&p.source_schema),
            text(&p.source_table)
        );
        let _ = writeln!(
            out,
            "  - query fingerprint: {}",
            field(cs(p, "/evidence/query_fingerprint"))
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
                "- {}: {} -> {}",
                text(col),
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
            field(e.get("kind")),
            field(e.get("actor")),
            field(e.get("created_at"))
        );
    }
    let _ = writeln!(out, "\n## Guarded Writeback\n");
    if receipts.is_empty() {
        let _ = writeln!(out, "- no writeback receipt recorded yet");
    }
    for r in &receipts {
        let _ = writeln!(out, "- receipt: {}", field(r.get("receipt_id")));
        let _ = writeln!(out, "  - status: {}", field(r.get("status")));
        let _ = writeln!(
            out,
            "  - affected rows: {}",
            field(r.pointer("/receipt/rows_affected"))
        );
        let _ = writeln!(
            out,
            "  - idempotency key: {}",
            field(r.get("idempotency_key"))
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
            let _ = writeln!(out, "  - safe error: {}", text(code));
        }
    }
    let actions = shadow_lines(replay);
    if !actions.is_empty() {
        let _ = writeln!(out, "\n## What A Person Did (Shadow Mode)\n");
        for a in actions {
            let _ = writeln!(out, "- {}", markdown(&a));
        }
    }
    let _ = writeln!(out, "\n## Query Audit\n");
    for a in &audits {
        let _ = writeln!(
            out,
            "- audit {}: {}/{} rows {} fingerprint {}",
            field(a.get("audit_id")),
            field(a.get("source_id")),
            field(a.get("table_name")),
            field(a.get("row_count")),
            field(a.get("query_fingerprint"))
        );
    }
    let _ = writeln!(out, "\n## Replay Note\n");
    let _ = writeln!(
        out,
        "This replay is assembled from the local ledger: what the agent saw, what it proposed, who decided, and what writeback did. It is not database time travel; no read or write was executed to produce it."
    );
    out
}
