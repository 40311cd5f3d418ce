//! Evidence bundles and query-audit records: what was read, for whom, and by which reviewed
//! statement shape. Parameter values are never recorded.

use serde_json::{Map, Value, json};

use crate::call::TrustedContext;
use crate::config::Capability;
use crate::json::{canonical, js_string, sha256_hex, stable_id};

/// A row as read from a source: column name to normalised JSON scalar, in select order.
pub type Row = Map<String, Value>;

/// Indexed search columns kept beside a record (store.md §3.4–3.5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchMeta {
    pub tenant_id: Option<String>,
    pub principal: Option<String>,
    pub capability: Option<String>,
    pub source_id: Option<String>,
    pub source_table: Option<String>,
    pub business_object: Option<String>,
    pub object_id: Option<String>,
    pub query_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceBundle {
    pub evidence_bundle_id: String,
    pub proposal_id: Option<String>,
    pub tenant_id: String,
    pub payload: Value,
    pub items: Vec<Value>,
    pub meta: SearchMeta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryAudit {
    pub proposal_id: Option<String>,
    pub evidence_bundle_id: Option<String>,
    pub source_id: String,
    pub query_fingerprint: String,
    pub table_name: String,
    pub row_count: u64,
    pub payload: Value,
    pub meta: SearchMeta,
}

/// The records of one successful read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRecord {
    pub bundle: EvidenceBundle,
    pub audit: QueryAudit,
    pub object_id: String,
    pub fingerprint: String,
}

/// `hash_json({source, target, columns, tenant_bound, tenant})`: identifies the reviewed
/// statement shape and tenant, never the looked-up value.
pub fn query_fingerprint(cap: &Capability, tenant: &str) -> String {
    // Canonical JSON keeps insertion order and the tenant is the last key, so the document is
    // the prefix worked out at validation, the tenant, and the closing brace.
    let prefix = &cap.shape.fingerprint_prefix;
    let mut doc = String::with_capacity(prefix.len() + tenant.len() + 3);
    doc.push_str(prefix);
    doc.push_str(&canonical(&Value::String(tenant.to_string())));
    doc.push('}');
    format!("sha256:{}", sha256_hex(doc.as_bytes()))
}

/// The query-fingerprint document `{"source", "target", "columns", "tenant_bound", "tenant"}` in
/// canonical form, cut just before the tenant value.
pub(crate) fn fingerprint_prefix(cap: &Capability) -> String {
    let mut doc = canonical(&json!({
        "source": cap.source,
        "target": cap.target.raw,
        "columns": cap.read_columns(),
        "tenant_bound": cap.target.tenant_key.is_some(),
        "tenant": "",
    }));
    // Drop the empty tenant value `""` and the closing brace.
    doc.truncate(doc.len() - 3);
    doc
}

/// The audit form of the statement: unquoted identifiers and `?` placeholders on every engine.
pub fn statement_template(cap: &Capability) -> &str {
    &cap.shape.statement_template
}

/// Build [`statement_template`] (once, at validation).
pub(crate) fn build_statement_template(cap: &Capability) -> String {
    let mut sql = format!(
        "SELECT {} FROM {} WHERE {} = ?",
        cap.read_columns().join(", "),
        cap.qualified_table(),
        cap.target.primary_key
    );
    if let Some(tenant) = &cap.target.tenant_key {
        sql.push_str(&format!(" AND {tenant} = ?"));
    }
    sql.push_str(&format!(" LIMIT {}", cap.max_rows.unwrap_or(1)));
    sql
}

/// The string id of the row: its primary key value, falling back to the lookup argument.
pub fn object_id(cap: &Capability, row: &Row, lookup: &Value) -> String {
    match row.get(&cap.target.primary_key) {
        Some(v) if !v.is_null() => js_string(v),
        _ => js_string(lookup),
    }
}

/// Build the evidence bundle and query-audit record for one read of `row`.
pub fn record_read(
    cap: &Capability,
    ctx: &TrustedContext,
    row: &Row,
    row_count: u64,
    lookup: &Value,
    now: &str,
) -> ReadRecord {
    let object_id = object_id(cap, row, lookup);
    let fingerprint = query_fingerprint(cap, &ctx.tenant_id);
    let evidence_bundle_id = stable_id(
        "ev",
        &json!({
            "capability": cap.name,
            "source": cap.source,
            "tenant": ctx.tenant_id,
            "row": row,
            "at": now,
        }),
    );
    let table = cap.qualified_table().to_string();
    let mut item = Map::new();
    item.insert("kind".into(), json!("external_row"));
    item.insert("source_id".into(), json!(cap.source));
    item.insert("table".into(), json!(table));
    item.insert(
        "primary_key".into(),
        json!({"column": cap.target.primary_key, "value": object_id}),
    );
    if let Some(tenant) = &cap.target.tenant_key {
        item.insert(
            "tenant".into(),
            json!({"column": tenant, "value": ctx.tenant_id}),
        );
    }
    item.insert("visible_row".into(), Value::Object(row.clone()));

    let meta = SearchMeta {
        tenant_id: Some(ctx.tenant_id.clone()),
        principal: Some(ctx.principal.clone()),
        capability: Some(cap.name.clone()),
        source_id: Some(cap.source.clone()),
        source_table: Some(table.clone()),
        business_object: Some(cap.target.table.clone()),
        object_id: Some(object_id.clone()),
        query_fingerprint: Some(fingerprint.clone()),
    };
    let bundle = EvidenceBundle {
        evidence_bundle_id: evidence_bundle_id.clone(),
        proposal_id: None,
        tenant_id: ctx.tenant_id.clone(),
        payload: json!({
            "capability": cap.name,
            "source_id": cap.source,
            "target": table,
            "principal": ctx.principal,
            "tenant_id": ctx.tenant_id,
            "source_database_changed": false,
            "binding_provenance": ctx.provenance.as_str(),
        }),
        items: vec![Value::Object(item)],
        meta: meta.clone(),
    };
    let audit = QueryAudit {
        proposal_id: None,
        evidence_bundle_id: Some(evidence_bundle_id),
        source_id: cap.source.clone(),
        query_fingerprint: fingerprint.clone(),
        table_name: table,
        row_count,
        payload: json!({
            "capability": cap.name,
            "columns": cap.visible_columns,
            "tenant_bound": cap.target.tenant_key.is_some(),
            "statement_template": statement_template(cap),
            "parameters_redacted": true,
        }),
        meta,
    };
    ReadRecord {
        bundle,
        audit,
        object_id,
        fingerprint,
    }
}

/// Link a read to the proposal it supports: the bundle gains the proposal id and a
/// `proposal_evidence` item, and a second audit record names the proposal (capability-runtime.md
/// §6.2).
pub fn link_to_proposal(
    read: &ReadRecord,
    cap: &Capability,
    proposal_id: &str,
    before: &Row,
    patch: &Row,
    after: &Row,
) -> (EvidenceBundle, QueryAudit) {
    let mut bundle = read.bundle.clone();
    bundle.proposal_id = Some(proposal_id.to_string());
    bundle.items.push(json!({
        "kind": "proposal_evidence",
        "before": before,
        "patch": patch,
        "after": after,
    }));
    let audit = QueryAudit {
        proposal_id: Some(proposal_id.to_string()),
        payload: json!({
            "capability": cap.name,
            "statement_template": statement_template(cap),
            "parameters_redacted": true,
        }),
        ..read.audit.clone()
    };
    (bundle, audit)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::json::hash_json;

    /// The fingerprint built from the validated prefix equals hashing the whole document, for
    /// tenants that need escaping too.
    #[test]
    fn fingerprint_from_prefix_equals_the_whole_document_hash() {
        let doc = json!({
            "version": 1, "mode": "review",
            "sources": {"app": {"engine": "postgres", "read_url_env": "APP_URL"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "T", "principal_env": "P"}},
            "capabilities": [{
                "name": "billing.inspect_invoice", "kind": "read", "source": "app",
                "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "late_fee_cents"]
            }]
        });
        let (report, config) = crate::config::validate(&doc);
        let config = config.unwrap_or_else(|| panic!("{report:?}"));
        let cap = &config.capabilities[0];
        for tenant in ["acme", "", "a\"b\\c", "é\u{1}\n", "\u{2028}"] {
            let whole = hash_json(&json!({
                "source": cap.source,
                "target": cap.target.raw,
                "columns": cap.read_columns(),
                "tenant_bound": true,
                "tenant": tenant,
            }));
            assert_eq!(query_fingerprint(cap, tenant), whole, "{tenant:?}");
        }
        assert_eq!(
            statement_template(cap),
            "SELECT id, late_fee_cents, tenant_id FROM public.invoices WHERE id = ? AND tenant_id = ? LIMIT 1"
        );
    }
}
