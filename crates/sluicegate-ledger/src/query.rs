//! Search filters and the WHERE-clause builder behind every list command.
//!
//! Every list is `… WHERE … ORDER BY <newest first> LIMIT n` in SQL, walking an index or rowid
//! order; nothing is loaded into memory to be sorted or cut there. Newest first means
//! `created_at DESC, <id> DESC`, except for the per-call tables (evidence bundles, query audit),
//! which are appended in recording order and so walk rowids backwards without a time index.

use rusqlite::ToSql;

use crate::links::seq_of;
use crate::views::{StoredProposal, StoredReceipt};

/// Filters shared by the list commands; each entity maps the fields it supports.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant: Option<String>,
    pub principal: Option<String>,
    pub capability: Option<String>,
    pub proposal: Option<String>,
    pub evidence: Option<String>,
    pub source: Option<String>,
    pub table: Option<String>,
    pub status: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub primary_key: Option<String>,
    pub query_fingerprint: Option<String>,
    pub writeback_job: Option<String>,
    pub idempotency_key: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `None` means no limit (API use); the CLI always sets one.
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub proposal: Option<String>,
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub after_event_id: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
}

/// The ids of the query-audit records an evidence bundle lists (one `?`: the bundle id).
/// Audits are found through their bundle rather than an index on `query_audit.evidence_bundle_id`
/// (schema version 3).
pub(crate) const AUDIT_IDS_OF_BUNDLE: &str = "SELECT value FROM json_each((SELECT query_audit_ids FROM evidence_bundles WHERE evidence_bundle_id = ?))";

#[derive(Default)]
pub(crate) struct Where {
    pub(crate) clauses: Vec<String>,
    pub(crate) params: Vec<Box<dyn ToSql>>,
}

impl Where {
    pub(crate) fn eq(&mut self, column: &str, value: &Option<String>) -> &mut Self {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            self.clauses.push(format!("{column} = ?"));
            self.params.push(Box::new(v.clone()));
        }
        self
    }

    /// Records linked to one proposal (events, evidence bundles, query-audit records), found
    /// through their `proposal_seq` index (`links.rs`).
    pub(crate) fn proposal_link(&mut self, proposal_id: &Option<String>) -> &mut Self {
        if let Some(v) = proposal_id.as_ref().filter(|v| !v.is_empty()) {
            self.clauses
                .push(concat!("proposal_seq = ", seq_of!("?")).into());
            self.params.push(Box::new(v.clone()));
        }
        self
    }

    /// Query-audit records named by an evidence bundle's `query_audit_ids` list.
    pub(crate) fn audits_of_bundle(&mut self, bundle_id: &Option<String>) -> &mut Self {
        if let Some(v) = bundle_id.as_ref().filter(|v| !v.is_empty()) {
            self.clauses
                .push(format!("audit_id IN ({AUDIT_IDS_OF_BUNDLE})"));
            self.params.push(Box::new(v.clone()));
        }
        self
    }

    pub(crate) fn gt_i64(&mut self, column: &str, value: Option<i64>) -> &mut Self {
        if let Some(v) = value {
            self.clauses.push(format!("{column} > ?"));
            self.params.push(Box::new(v));
        }
        self
    }

    /// `table` matches `schema.table` exactly, or a bare name also as `public.<name>`.
    pub(crate) fn table(&mut self, column: &str, value: &Option<String>) -> &mut Self {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            if v.contains('.') {
                self.clauses.push(format!("{column} = ?"));
                self.params.push(Box::new(v.clone()));
            } else {
                self.clauses.push(format!("({column} = ? OR {column} = ?)"));
                self.params.push(Box::new(v.clone()));
                self.params.push(Box::new(format!("public.{v}")));
            }
        }
        self
    }

    /// An object type matches its singular or plural form, in the business-object column or
    /// the table column (`invoice` finds `invoices` and `public.invoices`).
    pub(crate) fn object_type(
        &mut self,
        type_col: &str,
        table_col: &str,
        value: &Option<String>,
    ) -> &mut Self {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            let names = object_type_names(v);
            let marks = vec!["?"; names.len()].join(", ");
            self.clauses.push(format!(
                "({type_col} IN ({marks}) OR {table_col} IN ({marks}))"
            ));
            for n in names.iter().chain(names.iter()) {
                self.params.push(Box::new(n.clone()));
            }
        }
        self
    }

    pub(crate) fn range(
        &mut self,
        column: &str,
        from: &Option<String>,
        to: &Option<String>,
    ) -> &mut Self {
        if let Some(f) = from.as_ref().filter(|v| !v.is_empty()) {
            self.clauses.push(format!("{column} >= ?"));
            self.params.push(Box::new(f.clone()));
        }
        if let Some(t) = to.as_ref().filter(|v| !v.is_empty()) {
            self.clauses.push(format!("{column} <= ?"));
            self.params.push(Box::new(t.clone()));
        }
        self
    }

    /// A time range on a table appended in recording order (created_at follows rowid), as a
    /// rowid range: each bound is one search of the table's `created_at` index, and the list
    /// then walks rowids newest first without sorting. No row at or after `from` (at or
    /// before `to`) leaves the range empty.
    pub(crate) fn rowids_in_time(
        &mut self,
        table: &str,
        from: &Option<String>,
        to: &Option<String>,
    ) -> &mut Self {
        if let Some(f) = from.as_ref().filter(|v| !v.is_empty()) {
            self.clauses.push(format!(
                "rowid >= COALESCE((SELECT rowid FROM {table} WHERE created_at >= ? ORDER BY created_at, rowid LIMIT 1), 9223372036854775807)"
            ));
            self.params.push(Box::new(f.clone()));
        }
        if let Some(t) = to.as_ref().filter(|v| !v.is_empty()) {
            self.clauses.push(format!(
                "rowid <= COALESCE((SELECT rowid FROM {table} WHERE created_at <= ? ORDER BY created_at DESC, rowid DESC LIMIT 1), -1)"
            ));
            self.params.push(Box::new(t.clone()));
        }
        self
    }

    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub(crate) fn params(&self) -> Vec<&dyn ToSql> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }
}

pub(crate) fn limit_sql(limit: Option<u32>) -> String {
    match limit {
        Some(n) => format!(" LIMIT {n}"),
        None => String::new(),
    }
}

/// `proposals list`: newest first, every filter served by an index (`plan_tests`).
pub(crate) fn proposals_query(f: &Filter) -> (String, Where) {
    let mut w = Where::default();
    w.eq("proposal_id", &f.proposal)
        .eq("tenant_id", &f.tenant)
        .eq("principal", &f.principal)
        .eq("action", &f.capability)
        .eq("state", &f.status)
        .eq("source_id", &f.source)
        .table("source_table", &f.table)
        .object_type("business_object", "source_table", &f.object_type)
        .eq("object_id", &f.object_id)
        .range("created_at", &f.from, &f.to);
    let sql = format!(
        "SELECT {} FROM proposals{} ORDER BY created_at DESC, rowid DESC{}",
        StoredProposal::COLUMNS,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// `receipts list`: newest first, every filter served by an index (`plan_tests`).
pub(crate) fn receipts_query(f: &Filter) -> (String, Where) {
    let mut w = Where::default();
    w.eq("proposal_id", &f.proposal)
        .eq("writeback_job_id", &f.writeback_job)
        .eq("idempotency_key", &f.idempotency_key)
        .eq("status", &f.status)
        .range("created_at", &f.from, &f.to);
    let sql = format!(
        "SELECT {} FROM writeback_receipts{} ORDER BY created_at DESC, receipt_id DESC{}",
        StoredReceipt::COLUMNS,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// The names an object type filter matches: the value, its singular or plural form, and each
/// of those under `public.` when it names no schema (both ledgers' `object_type` filters).
pub(crate) fn object_type_names(v: &str) -> Vec<String> {
    let alt = match v.strip_suffix('s') {
        Some(s) => s.to_string(),
        None => format!("{v}s"),
    };
    let mut names = vec![v.to_string(), alt.clone()];
    for n in [v, alt.as_str()] {
        if !n.contains('.') {
            names.push(format!("public.{n}"));
        }
    }
    names
}
