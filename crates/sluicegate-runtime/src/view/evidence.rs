//! Evidence and query-audit views: `evidence show`, the Markdown export, and the listing
//! entries of `evidence list` and `query-audit list|show`.

use std::fmt::Write as _;

use serde_json::Value;
use sluicegate_ledger::{StoredEvidence, StoredQueryAudit};

use super::{plural, text};

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

/// One entry of `evidence list` (it ends in a blank line's newline).
pub fn evidence_list_entry(b: &StoredEvidence) -> String {
    format!(
        "{}  {}\n  tenant: {}  capability: {}  proposal: {}\n  source: {}/{}  object: {}:{}\n",
        b.created_at,
        b.evidence_bundle_id,
        b.tenant_id,
        b.capability.as_deref().unwrap_or("unknown"),
        b.proposal_id.as_deref().unwrap_or("none"),
        b.source_id.as_deref().unwrap_or("unknown"),
        b.source_table.as_deref().unwrap_or("unknown"),
        b.business_object.as_deref().unwrap_or("object"),
        b.object_id.as_deref().unwrap_or("unknown"),
    )
}

/// The statement shape an audit record kept (its parameters were never stored).
fn statement(a: &StoredQueryAudit) -> &str {
    a.payload
        .get("statement_template")
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

/// One entry of `query-audit list`; `details` adds the fingerprint and statement shape.
pub fn query_audit_list_entry(a: &StoredQueryAudit, details: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  audit {}", a.created_at, a.audit_id);
    let _ = writeln!(
        out,
        "  source: {}/{}  rows: {}",
        a.source_id, a.table_name, a.row_count
    );
    let _ = writeln!(
        out,
        "  proposal: {}  evidence: {}",
        a.proposal_id.as_deref().unwrap_or("none"),
        a.evidence_bundle_id.as_deref().unwrap_or("none")
    );
    if details {
        let _ = writeln!(out, "  query fingerprint: {}", a.query_fingerprint);
        let _ = writeln!(out, "  statement: {}", statement(a));
    }
    out
}

/// `query-audit show` default view.
pub fn query_audit_view(a: &StoredQueryAudit) -> String {
    format!(
        "Query audit {}\n\nRead:\n{}/{}\n\nRows returned:\n{}\n\nStatement (parameters redacted):\n{}\n\nQuery fingerprint:\n{}\n\nLinked records:\nproposal: {}\nevidence: {}",
        a.audit_id,
        a.source_id,
        a.table_name,
        a.row_count,
        statement(a),
        a.query_fingerprint,
        a.proposal_id.as_deref().unwrap_or("none"),
        a.evidence_bundle_id.as_deref().unwrap_or("none")
    )
}
