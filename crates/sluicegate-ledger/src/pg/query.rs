//! The WHERE-clause builder of the PostgreSQL listings: the SQLite ledger's filters
//! (`crate::query`), with numbered parameters.

use postgres::types::ToSql;

use super::rows;
use crate::query::{EventFilter, Filter};

#[derive(Default)]
pub(crate) struct Where {
    clauses: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Where {
    /// The next parameter's placeholder, binding `value` to it.
    pub(crate) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    pub(crate) fn clause(&mut self, clause: String) -> &mut Self {
        self.clauses.push(clause);
        self
    }

    pub(crate) fn eq(&mut self, column: &str, value: &Option<String>) -> &mut Self {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            let p = self.bind(v.clone());
            self.clauses.push(format!("{column} = {p}"));
        }
        self
    }

    /// `table` matches `schema.table` exactly, or a bare name also as `public.<name>`.
    pub(crate) fn table(&mut self, column: &str, value: &Option<String>) -> &mut Self {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            if v.contains('.') {
                let p = self.bind(v.clone());
                self.clauses.push(format!("{column} = {p}"));
            } else {
                let (a, b) = (self.bind(v.clone()), self.bind(format!("public.{v}")));
                self.clauses.push(format!("{column} IN ({a}, {b})"));
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
            let names = crate::query::object_type_names(v);
            let p = self.bind(names);
            self.clauses
                .push(format!("({type_col} = ANY({p}) OR {table_col} = ANY({p}))"));
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
            let p = self.bind(f.clone());
            self.clauses.push(format!("{column} >= {p}"));
        }
        if let Some(t) = to.as_ref().filter(|v| !v.is_empty()) {
            let p = self.bind(t.clone());
            self.clauses.push(format!("{column} <= {p}"));
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

    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

pub(crate) fn limit_sql(limit: Option<u32>) -> String {
    match limit {
        Some(n) => format!(" LIMIT {n}"),
        None => String::new(),
    }
}

/// `proposals list`: newest first, each filter served by an index ending in `(created_at, seq)`.
pub(crate) fn proposals(f: &Filter) -> Where {
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
    w
}

/// `receipts list`.
pub(crate) fn receipts(f: &Filter) -> Where {
    let mut w = Where::default();
    w.eq("proposal_id", &f.proposal)
        .eq("writeback_job_id", &f.writeback_job)
        .eq("idempotency_key", &f.idempotency_key)
        .eq("status", &f.status)
        .range("created_at", &f.from, &f.to);
    w
}

/// `evidence list`.
pub(crate) fn evidence(f: &Filter) -> Where {
    let mut w = Where::default();
    w.eq("tenant_id", &f.tenant)
        .eq("principal", &f.principal)
        .eq("capability", &f.capability)
        .eq("proposal_id", &f.proposal)
        .eq("source_id", &f.source)
        .table("source_table", &f.table)
        .eq("query_fingerprint", &f.query_fingerprint)
        .object_type("business_object", "source_table", &f.object_type)
        .eq("object_id", &f.object_id)
        .range("created_at", &f.from, &f.to);
    w
}

/// `query-audit list`.
pub(crate) fn audits(f: &Filter) -> Where {
    let mut w = Where::default();
    w.eq("tenant_id", &f.tenant)
        .eq("principal", &f.principal)
        .eq("capability", &f.capability)
        .eq("proposal_id", &f.proposal)
        .eq("evidence_bundle_id", &f.evidence)
        .eq("source_id", &f.source)
        .table("table_name", &f.table)
        .object_type("business_object", "table_name", &f.object_type)
        .eq("object_id", &f.object_id)
        .eq("primary_key_value", &f.primary_key)
        .eq("query_fingerprint", &f.query_fingerprint)
        .range("created_at", &f.from, &f.to);
    w
}

/// The event filters shared by the feed's queries (the cursor and horizon are the caller's).
pub(crate) fn events(f: &EventFilter) -> Where {
    let mut w = Where::default();
    w.eq("proposal_id", &f.proposal)
        .eq("kind", &f.kind)
        .eq("actor", &f.actor)
        .range("created_at", &f.from, &f.to);
    w
}

/// `proposals list`'s statement.
pub(crate) fn proposals_sql(f: &Filter) -> (String, Where) {
    let w = proposals(f);
    let sql = format!(
        "SELECT {} FROM proposals{} ORDER BY created_at DESC, seq DESC{}",
        rows::PROPOSAL,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// `receipts list`'s statement.
pub(crate) fn receipts_sql(f: &Filter) -> (String, Where) {
    let w = receipts(f);
    let sql = format!(
        "SELECT {} FROM writeback_receipts{} ORDER BY created_at DESC, receipt_id DESC{}",
        rows::RECEIPT,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// `evidence list`'s statement (bundles without their items).
pub(crate) fn evidence_sql(f: &Filter) -> (String, Where) {
    let w = evidence(f);
    let sql = format!(
        "SELECT {} FROM evidence_bundles{} ORDER BY seq DESC{}",
        rows::EVIDENCE,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// `query-audit list`'s statement.
pub(crate) fn audits_sql(f: &Filter) -> (String, Where) {
    let w = audits(f);
    let sql = format!(
        "SELECT {} FROM query_audit{} ORDER BY audit_id DESC{}",
        rows::AUDIT,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// Only events of transactions older than every transaction still running: final.
pub(crate) const HORIZON: &str = "tx_id < pg_snapshot_xmin(pg_current_snapshot())";

/// The feed's statement: the events matching `f` below the horizon and past the feed
/// position `after` (`(tx_id, event_id)`), in feed order or (`newest_first`) reversed.
pub(crate) fn feed_sql(
    f: &EventFilter,
    after: Option<(String, i64)>,
    newest_first: bool,
) -> (String, Where) {
    let mut w = events(f);
    w.clause(HORIZON.to_string());
    if let Some((tx_id, event_id)) = after {
        let (t, e) = (w.bind(tx_id), w.bind(event_id));
        w.clause(format!("(tx_id, event_id) > ({t}::text::xid8, {e})"));
    }
    let order = if newest_first {
        "tx_id DESC, event_id DESC"
    } else {
        "tx_id, event_id"
    };
    let sql = format!(
        "SELECT {} FROM proposal_events{} ORDER BY {order}{}",
        rows::EVENT,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}
