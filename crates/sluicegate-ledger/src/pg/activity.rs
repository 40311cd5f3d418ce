//! `activity search` on PostgreSQL: the SQLite kinds and their rules (`crate::activity`: which
//! filter leaves which kind out, the merge order `(created_at, kind rank, id)` newest first, the
//! cursor), each kind one statement over an index that serves its order, limited to one page
//! plus one row (`plan_tests`).
//!
//! - Proposals walk `(filter column…, created_at, seq)` backwards from the cursor; a text search
//!   matches the GIN index (`search.rs`) and lists in `seq` order, newest first.
//! - Reads (bundles no proposal owns) walk `seq` backwards, on the partial index
//!   `evidence_bundles_reads` or on the filter's `(column, seq)` index, as SQLite walks rowids.
//! - Stray query-audit records walk the partial index `query_audit_orphan_created`.
//! - Receipts walk their `(…, created_at, id)` indexes.
//! - Webhook and worker dead letters walk their `(…, created_at, id)` indexes.

use postgres::Row;

use super::query::Where;
use super::{PgLedger, claims, search};
use crate::LedgerError;
use crate::activity::{
    ActivityCursor, ActivityItem, ActivityQuery, ActivityRow, EVIDENCE_RECORDED, Kind, Link,
    MAX_ACTIVITY_LIMIT, QUERY_AUDITED, WEBHOOK_DEAD_LETTER, WORKER_DEAD_LETTER, is_receipt_status,
    row_item, set, webhook_item, worker_item,
};
use crate::pg::stmts::Prepared;
use sluicegate_core::lifecycle::State;

/// One kind's statement.
pub(crate) struct KindSql {
    kind: Kind,
    pub(crate) sql: String,
    pub(crate) w: Where,
}

/// Rows strictly after the cursor in the list's order: for the cursor's own kind `same`, for a
/// kind ranked below it the rows at or before its instant, above it strictly before.
fn keyset(
    w: &mut Where,
    kind: Kind,
    after: &Option<ActivityCursor>,
    same: impl Fn(&mut Where, &ActivityCursor),
) {
    let Some(c) = after else { return };
    let rank = kind as u8;
    if rank == c.rank {
        same(w, c);
        return;
    }
    let op = if rank < c.rank { "<=" } else { "<" };
    let p = w.bind(c.created_at.clone());
    w.clause(format!("created_at {op} {p}"));
}

/// A keyset over `(created_at, id)`.
fn time_keyset(w: &mut Where, kind: Kind, after: &Option<ActivityCursor>, id: &'static str) {
    keyset(w, kind, after, |w, c| {
        let (t, i) = (w.bind(c.created_at.clone()), w.bind(c.id));
        w.clause(format!("(created_at, {id}) < ({t}, {i})"));
    });
}

/// A keyset over an `id` that follows recording order (`seq`): the cursor's own kind continues
/// below its id.
fn id_keyset(w: &mut Where, kind: Kind, after: &Option<ActivityCursor>, id: &'static str) {
    keyset(w, kind, after, |w, c| {
        let p = w.bind(c.id);
        w.clause(format!("{id} < {p}"));
    });
}

fn link_to(w: &mut Where, link: &Link) {
    if let Some(Some(p)) = link {
        w.eq("proposal_id", &Some(p.clone()));
    }
}

/// The statements `q` runs, given its resolved link (the SQLite `kind_queries`' rules).
pub(crate) fn kind_sql(q: &ActivityQuery, link: &Link) -> Vec<KindSql> {
    let f = &q.filter;
    let per_kind = f.limit.unwrap_or(20).min(MAX_ACTIVITY_LIMIT) + 1;
    let status = f.status.as_deref().filter(|s| !s.is_empty());
    let text = q.text.as_deref().and_then(search::activity_query);
    let row_filters = set(&f.tenant)
        || set(&f.principal)
        || set(&f.capability)
        || set(&f.source)
        || set(&f.table)
        || set(&f.object_type)
        || set(&f.object_id);
    let linked = link.is_some() || set(&f.evidence);
    let read_link = !set(&f.proposal) && q.replay_proposal.is_none() && q.receipt.is_none();
    let mut out = Vec::new();

    let proposal_status = status.is_none_or(|s| State::parse(s).is_some());
    if !matches!(link, Some(None)) && !set(&f.query_fingerprint) && proposal_status {
        let mut w = Where::default();
        link_to(&mut w, link);
        w.eq("tenant_id", &f.tenant)
            .eq("principal", &f.principal)
            .eq("action", &f.capability)
            .eq("state", &f.status)
            .eq("source_id", &f.source)
            .table("source_table", &f.table)
            .object_type("business_object", "source_table", &f.object_type)
            .eq("object_id", &f.object_id)
            .range("created_at", &f.from, &f.to);
        const COLUMNS: &str = "created_at, seq, action, tenant_id, principal, business_object, object_id, proposal_id, change_set_json::json #>> '{evidence,bundle_id}', state, source_id, source_schema, source_table";
        let sql = if let Some(t) = &text {
            let p = w.bind(t.clone());
            w.clause(format!("{} @@ {p}::text::tsquery", search::DOC));
            id_keyset(&mut w, Kind::Proposal, &q.after, "seq");
            format!(
                "SELECT {COLUMNS} FROM proposals{} ORDER BY seq DESC LIMIT {per_kind}",
                w.sql()
            )
        } else {
            time_keyset(&mut w, Kind::Proposal, &q.after, "seq");
            format!(
                "SELECT {COLUMNS} FROM proposals{} ORDER BY created_at DESC, seq DESC LIMIT {per_kind}",
                w.sql()
            )
        };
        out.push(KindSql {
            kind: Kind::Proposal,
            sql,
            w,
        });
    }

    if read_link && text.is_none() && status.is_none_or(|s| s == EVIDENCE_RECORDED) {
        let mut w = Where::default();
        w.clause("proposal_id IS NULL".into());
        w.eq("evidence_bundle_id", &f.evidence)
            .eq("tenant_id", &f.tenant)
            .eq("principal", &f.principal)
            .eq("capability", &f.capability)
            .eq("source_id", &f.source)
            .table("source_table", &f.table)
            .eq("query_fingerprint", &f.query_fingerprint)
            .object_type("business_object", "source_table", &f.object_type)
            .eq("object_id", &f.object_id)
            .range("created_at", &f.from, &f.to);
        id_keyset(&mut w, Kind::Evidence, &q.after, "seq");
        out.push(KindSql {
            kind: Kind::Evidence,
            sql: format!(
                "SELECT created_at, seq, capability, tenant_id, principal, business_object, object_id, evidence_bundle_id, source_id, source_table FROM evidence_bundles{} ORDER BY seq DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }

    if !linked && text.is_none() && status.is_none_or(|s| s == QUERY_AUDITED) {
        let mut w = Where::default();
        w.clause("evidence_bundle_id IS NULL AND proposal_id IS NULL".into());
        w.eq("tenant_id", &f.tenant)
            .eq("principal", &f.principal)
            .eq("capability", &f.capability)
            .eq("source_id", &f.source)
            .table("table_name", &f.table)
            .eq("query_fingerprint", &f.query_fingerprint)
            .object_type("business_object", "table_name", &f.object_type)
            .eq("object_id", &f.object_id)
            .range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::QueryAudit, &q.after, "audit_id");
        out.push(KindSql {
            kind: Kind::QueryAudit,
            sql: format!(
                "SELECT created_at, audit_id, capability, tenant_id, principal, business_object, object_id, primary_key_value, source_id, table_name, query_fingerprint FROM query_audit{} ORDER BY created_at DESC, audit_id DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }

    let proposal_only = !row_filters && text.is_none() && !set(&f.query_fingerprint);
    let receipt_link = q.receipt.is_some() || !matches!(link, Some(None));
    if proposal_only && receipt_link && status.is_none_or(is_receipt_status) {
        let mut w = Where::default();
        link_to(&mut w, link);
        if let Some(n) = q.receipt {
            let p = w.bind(n);
            w.clause(format!("receipt_id = {p}"));
        }
        w.eq("status", &f.status)
            .range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::Receipt, &q.after, "receipt_id");
        out.push(KindSql {
            kind: Kind::Receipt,
            sql: format!(
                "SELECT created_at, receipt_id, proposal_id, status, source_database_mutated FROM writeback_receipts{} ORDER BY created_at DESC, receipt_id DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }
    let dead_status = status.is_none_or(|s| s == WEBHOOK_DEAD_LETTER);
    if proposal_only && q.receipt.is_none() && !matches!(link, Some(None)) && dead_status {
        let mut w = Where::default();
        link_to(&mut w, link);
        w.range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::DeadLetter, &q.after, "dead_letter_id");
        out.push(KindSql {
            kind: Kind::DeadLetter,
            sql: format!(
                "SELECT {} FROM webhook_dead_letters{} ORDER BY created_at DESC, dead_letter_id DESC LIMIT {per_kind}",
                super::webhook::DEAD_LETTER_COLUMNS,
                w.sql()
            ),
            w,
        });
    }
    let worker_status = status.is_none_or(|s| s == WORKER_DEAD_LETTER);
    if proposal_only && q.receipt.is_none() && !matches!(link, Some(None)) && worker_status {
        let mut w = Where::default();
        link_to(&mut w, link);
        w.range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::WorkerDeadLetter, &q.after, "dead_letter_id");
        out.push(KindSql {
            kind: Kind::WorkerDeadLetter,
            sql: format!(
                "SELECT dead_letter_id, proposal_id, worker_id, fence, attempts, last_error, created_at FROM worker_dead_letters{} ORDER BY created_at DESC, dead_letter_id DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }
    out
}

/// One row of `kind`'s statement as its item, with its id.
fn item(kind: Kind, r: &Row) -> Result<(i64, ActivityItem), LedgerError> {
    row_item(kind, r, |kind, r| match kind {
        Kind::WorkerDeadLetter => Ok(worker_item(claims::dead_letter(r)?)),
        _ => Ok(webhook_item(super::webhook::dead_letter(r)?)),
    })
}

impl ActivityRow for Row {
    type Error = postgres::Error;
    fn text(&self, i: usize) -> Result<String, postgres::Error> {
        self.try_get(i)
    }
    fn opt(&self, i: usize) -> Result<Option<String>, postgres::Error> {
        self.try_get(i)
    }
    fn int(&self, i: usize) -> Result<i64, postgres::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, postgres::Error> {
        self.try_get(i)
    }
}

impl PgLedger {
    /// Every kind's rows of one page of `activity search`, each statement's page read in one
    /// snapshot, and whether it is a text search (see `Ledger::activity`).
    #[allow(clippy::type_complexity)]
    pub(crate) fn activity(
        &self,
        q: &ActivityQuery,
        link: &Link,
    ) -> Result<(Vec<(ActivityCursor, ActivityItem)>, bool), LedgerError> {
        let (q, link) = (q.clone(), link.clone());
        self.readers.run(move |c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let mut all = Vec::new();
            for k in kind_sql(&q, &link) {
                for r in tx.rows(&k.sql, &k.w.params())? {
                    let (id, item) = item(k.kind, &r)?;
                    let key = ActivityCursor {
                        created_at: item.created_at.clone(),
                        rank: k.kind as u8,
                        id,
                    };
                    all.push((key, item));
                }
            }
            tx.commit()?;
            let text = q.text.as_deref().and_then(search::activity_query).is_some();
            Ok((all, text))
        })
    }
}
