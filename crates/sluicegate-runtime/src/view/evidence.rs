//! Evidence and query-audit views: `evidence show`, the Markdown export, and the listing
//! entries of `evidence list` and `query-audit list|show`.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_ledger::{StoredEvidence, StoredQueryAudit};

use super::{field, markdown, plural, pretty, shown, text};

/// An optional record field: its text with controls visible, or `fallback`.
fn opt<'a>(v: &'a Option<String>, fallback: &'a str) -> std::borrow::Cow<'a, str> {
    text(v.as_deref().unwrap_or(fallback))
}

/// `evidence show` default view.
pub fn evidence_view(b: &StoredEvidence, hint: &str) -> String {
    let mut out = String::new();
    let id = text(&b.evidence_bundle_id);
    let _ = writeln!(out, "Evidence {id}\n");
    let _ = writeln!(out, "Used for:\n{}", opt(&b.capability, "unknown"));
    match (&b.business_object, &b.object_id) {
        (Some(t), Some(id)) => {
            let _ = writeln!(out, "{} {}\n", text(t), text(id));
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
        opt(&b.source_id, "unknown"),
        opt(&b.source_table, "unknown")
    );
    let _ = writeln!(out, "Rows:");
    for (i, item) in b.items.iter().enumerate() {
        let item = &item.item;
        let kind = text(item.get("kind").and_then(Value::as_str).unwrap_or("item"));
        match item.pointer("/primary_key/value") {
            Some(pk) => {
                let _ = writeln!(out, "* {kind} {}", field(Some(pk)));
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
                        let _ = writeln!(out, "  {}.{}: {}", text(k), text(sk), shown(Some(sv)));
                        lines += 1;
                    }
                }
                other => {
                    let _ = writeln!(out, "  {}: {}", text(k), shown(Some(other)));
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
        "\nNext:\n  sluicegate query-audit list --evidence {id}{hint}"
    );
    if let Some(p) = &b.proposal_id {
        let _ = writeln!(out, "  sluicegate replay show {}{hint}", text(p));
    }
    out.trim_end().to_string()
}

/// `evidence export --format markdown`.
pub fn evidence_markdown(b: &StoredEvidence) -> String {
    // Records a model or a row could have written; the JSON below is inside code fences.
    let text = |s: &str| markdown(&text(s));
    let opt = |v: &Option<String>| markdown(&opt(v, "none"));
    let mut out = String::new();
    let _ = writeln!(out, "# Evidence {}\n", text(&b.evidence_bundle_id));
    let _ = writeln!(out, "- Tenant: {}", text(&b.tenant_id));
    let _ = writeln!(out, "- Proposal: {}", opt(&b.proposal_id));
    let _ = writeln!(out, "- Principal: {}", opt(&b.principal));
    let _ = writeln!(out, "- Capability: {}", opt(&b.capability));
    let _ = writeln!(out, "- Source: {}", opt(&b.source_id));
    let _ = writeln!(out, "- Table: {}", opt(&b.source_table));
    let _ = writeln!(out, "- Query fingerprint: {}", opt(&b.query_fingerprint));
    let _ = writeln!(out, "- Created at: {}\n", text(&b.created_at));
    let items: Vec<&Value> = b.items.iter().map(|i| &i.item).collect();
    let _ = writeln!(
        out,
        "## Captured Items\n\n```json\n{}\n```\n",
        pretty(&items)
    );
    let _ = writeln!(
        out,
        "## Query Audit\n\n```json\n{}\n```",
        pretty(&b.query_audit)
    );
    out
}

/// One entry of `evidence list` (it ends in a blank line's newline).
pub fn evidence_list_entry(b: &StoredEvidence) -> String {
    format!(
        "{}  {}\n  tenant: {}  capability: {}  proposal: {}\n  source: {}/{}  object: {}:{}\n",
        text(&b.created_at),
        text(&b.evidence_bundle_id),
        text(&b.tenant_id),
        opt(&b.capability, "unknown"),
        opt(&b.proposal_id, "none"),
        opt(&b.source_id, "unknown"),
        opt(&b.source_table, "unknown"),
        opt(&b.business_object, "object"),
        opt(&b.object_id, "unknown"),
    )
}

/// The statement shape an audit record kept (its parameters were never stored).
fn statement(a: &StoredQueryAudit) -> std::borrow::Cow<'_, str> {
    text(
        a.payload
            .get("statement_template")
            .and_then(|v| v.as_str())
            .unwrap_or(""),
    )
}

/// One entry of `query-audit list`; `details` adds the fingerprint and statement shape.
pub fn query_audit_list_entry(a: &StoredQueryAudit, details: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  audit {}", text(&a.created_at), a.audit_id);
    let _ = writeln!(
        out,
        "  source: {}/{}  rows: {}",
        text(&a.source_id),
        text(&a.table_name),
        a.row_count
    );
    let _ = writeln!(
        out,
        "  proposal: {}  evidence: {}",
        opt(&a.proposal_id, "none"),
        opt(&a.evidence_bundle_id, "none")
    );
    if details {
        let _ = writeln!(out, "  query fingerprint: {}", text(&a.query_fingerprint));
        let _ = writeln!(out, "  statement: {}", statement(a));
    }
    out
}

/// `query-audit show` default view.
pub fn query_audit_view(a: &StoredQueryAudit) -> String {
    format!(
        "Query audit {}\n\nRead:\n{}/{}\n\nRows returned:\n{}\n\nStatement (parameters redacted):\n{}\n\nQuery fingerprint:\n{}\n\nLinked records:\nproposal: {}\nevidence: {}",
        a.audit_id,
        text(&a.source_id),
        text(&a.table_name),
        a.row_count,
        statement(a),
        text(&a.query_fingerprint),
        opt(&a.proposal_id, "none"),
        opt(&a.evidence_bundle_id, "none")
    )
}
