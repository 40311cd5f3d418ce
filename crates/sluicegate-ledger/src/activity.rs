//! `activity search`: proposals, reads, stray query-audit records, receipts, webhook dead
//! letters and worker dead letters in one newest-first list, keyset paged.
//!
//! Each kind is one query ordered by its own time index (or rowid, for the per-call tables,
//! which are appended in recording order) and limited to one page plus one row; the pages are
//! merged and cut in memory, which is at most six pages, whatever the ledger's size. The
//! order is `(created_at, kind rank, id)` descending, and a cursor is that key of the last item
//! shown, so the next page starts exactly after it in every kind (`plan_tests` checks that each
//! query searches an index).
//!
//! What belongs to a proposal is shown through the proposal's item (its read, its evidence and
//! query audit); a receipt is its own item, since an apply happens later. A filter a kind
//! cannot match leaves that kind out (`--tenant` shows no dead letters), unlike the reference,
//! whose receipts ignored every filter but the proposal's.

use rusqlite::ToSql;
use serde::Serialize;
use sluicegate_core::lifecycle::State;
use sluicegate_protocol::ReceiptStatus;

use crate::claims::{WORKER_DEAD_LETTER_COLUMNS, worker_dead_letter_from_row};
use crate::feed::{DEAD_LETTER_COLUMNS, dead_letter_from_row};
use crate::query::{Filter, Where};
use crate::{Ledger, LedgerError};

/// The most items one page may hold.
pub const MAX_ACTIVITY_LIMIT: u32 = 200;

/// Status values that only one non-proposal kind has.
pub const EVIDENCE_RECORDED: &str = "evidence_recorded";
pub const QUERY_AUDITED: &str = "query_audited";
pub const WEBHOOK_DEAD_LETTER: &str = "webhook_dead_letter";
pub const WORKER_DEAD_LETTER: &str = "worker_dead_letter";

/// What `activity search` asks for. `filter.limit` is the page size (default 20).
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    pub filter: Filter,
    /// `--replay replay_<id>`, already stripped to the proposal id.
    pub replay_proposal: Option<String>,
    pub receipt: Option<i64>,
    /// Free text over the proposals' capability, target, principal and reasons.
    pub text: Option<String>,
    pub after: Option<ActivityCursor>,
}

/// Where the next page starts: the sort key of the last item shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCursor {
    pub created_at: String,
    pub rank: u8,
    pub id: i64,
}

impl ActivityCursor {
    /// The opaque text printed for `--after`.
    pub fn encode(&self) -> String {
        let hex: String = self
            .created_at
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("a1.{hex}.{}.{}", self.rank, self.id)
    }

    /// Read back what [`ActivityCursor::encode`] printed; `None` for anything else.
    pub fn parse(text: &str) -> Option<ActivityCursor> {
        let mut parts = text.strip_prefix("a1.")?.split('.');
        let (hex, rank, id) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || hex.len() % 2 != 0 || hex.is_empty() {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let created_at = String::from_utf8(bytes).ok()?;
        let rank: u8 = rank.parse().ok().filter(|r| *r <= Kind::MAX_RANK)?;
        let id: i64 = id.parse().ok().filter(|i| *i >= 0)?;
        Some(ActivityCursor {
            created_at,
            rank,
            id,
        })
    }
}

/// The kinds, in their tie-break rank (higher first at one instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    DeadLetter = 0,
    Receipt = 1,
    QueryAudit = 2,
    Evidence = 3,
    Proposal = 4,
    /// Ranked above the rest only because it came last; the order at one instant is arbitrary.
    WorkerDeadLetter = 5,
}

impl Kind {
    pub(crate) const MAX_RANK: u8 = Kind::WorkerDeadLetter as u8;
}

/// One line of the activity list. Absent fields are left out of the JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActivityItem {
    pub kind: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_audit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_database_mutated: Option<bool>,
    /// Dead letters: the event given up on, the webhook cursor, attempts and the last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Worker dead letters: the worker that gave up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// One page of activity, newest first, and the cursor of the next page when there is one.
#[derive(Debug, Clone)]
pub struct ActivityPage {
    pub items: Vec<ActivityItem>,
    pub next: Option<ActivityCursor>,
}

/// Every status `--status` accepts: proposal states, receipt statuses, and one per other kind.
pub fn activity_statuses() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = State::ALL.iter().map(|s| s.as_str()).collect();
    for r in [
        ReceiptStatus::Applied,
        ReceiptStatus::AlreadyApplied,
        ReceiptStatus::Conflict,
        ReceiptStatus::Failed,
        ReceiptStatus::Canceled,
    ] {
        if !all.contains(&r.as_str()) {
            all.push(r.as_str());
        }
    }
    all.extend([
        EVIDENCE_RECORDED,
        QUERY_AUDITED,
        WEBHOOK_DEAD_LETTER,
        WORKER_DEAD_LETTER,
    ]);
    all
}

pub(crate) fn is_receipt_status(s: &str) -> bool {
    [
        ReceiptStatus::Applied,
        ReceiptStatus::AlreadyApplied,
        ReceiptStatus::Conflict,
        ReceiptStatus::Failed,
        ReceiptStatus::Canceled,
    ]
    .iter()
    .any(|r| r.as_str() == s)
}

pub(crate) fn set(v: &Option<String>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// Free text as an FTS5 query: every word must appear (each quoted, so no word is syntax).
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The keyset condition for one kind: rows strictly after the cursor in the list's order.
/// `before_time(op)` is the clause for rows at or before (`<=`) or strictly before (`<`) the
/// cursor's instant (one `?`); `same` adds the clause for the cursor's own kind.
fn keyset(
    w: &mut Where,
    kind: Kind,
    after: &Option<ActivityCursor>,
    before_time: impl Fn(&str) -> Vec<String>,
    same: impl Fn(&mut Where, &ActivityCursor),
) {
    let Some(c) = after else { return };
    let rank = kind as u8;
    if rank == c.rank {
        same(w, c);
        return;
    }
    let op = if rank < c.rank { "<=" } else { "<" };
    // Each clause takes the cursor's time as its one parameter.
    for clause in before_time(op) {
        w.clauses.push(clause);
        w.params.push(Box::new(c.created_at.clone()));
    }
}

/// A keyset over `(created_at, id)` with a time index.
fn time_keyset(w: &mut Where, kind: Kind, after: &Option<ActivityCursor>, id: &'static str) {
    keyset(
        w,
        kind,
        after,
        |op| vec![format!("created_at {op} ?")],
        |w, c| {
            w.clauses.push(format!("(created_at, {id}) < (?, ?)"));
            w.params.push(Box::new(c.created_at.clone()));
            w.params.push(Box::new(c.id));
        },
    );
}

/// A keyset over evidence bundles in rowid order (time follows rowid): within the cursor's own
/// kind the next page is the rowids below the cursor's; a time bound is a rowid bound found
/// through the time keys of `evidence_keys` (a superset, narrowed by the exact time).
/// `rowid` names the bundle's rowid in the statement (the side index's column when the walk
/// is on it, so the walk starts at the cursor).
fn evidence_keyset(w: &mut Where, after: &Option<ActivityCursor>, rowid: &str) {
    keyset(
        w,
        Kind::Evidence,
        after,
        |op| {
            vec![
                format!(
                    "{rowid} < COALESCE((SELECT bundle_rowid FROM evidence_keys WHERE kind = 'd' AND value > substr(?, 1, {}) ORDER BY value, bundle_rowid LIMIT 1), 9223372036854775807)",
                    crate::evidence_keys::KEY_CHARS
                ),
                format!("created_at {op} ?"),
            ]
        },
        |w, c| {
            w.clauses.push(format!("{rowid} < ?"));
            w.params.push(Box::new(c.id));
        },
    );
}

/// The linked proposal (`--proposal`, `--replay`, `--receipt`, `--evidence`): `None` for no
/// link, `Some(None)` when the linked record has no proposal (nothing can match).
pub(crate) type Link = Option<Option<String>>;

pub(crate) struct KindQuery {
    kind: Kind,
    sql: String,
    w: Where,
}

impl KindQuery {
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }
    pub(crate) fn params(&self) -> Vec<&dyn ToSql> {
        self.w.params()
    }
}

/// The queries `q` runs, given its resolved link; each reads `limit + 1` rows.
pub(crate) fn kind_queries(q: &ActivityQuery, link: &Link) -> Vec<KindQuery> {
    let f = &q.filter;
    let per_kind = f.limit.unwrap_or(20).min(MAX_ACTIVITY_LIMIT) + 1;
    let status = f.status.as_deref().filter(|s| !s.is_empty());
    let text = q.text.as_deref().and_then(fts_query);
    // Filters only proposals and reads carry.
    let row_filters = set(&f.tenant)
        || set(&f.principal)
        || set(&f.capability)
        || set(&f.source)
        || set(&f.table)
        || set(&f.object_type)
        || set(&f.object_id);
    let linked = link.is_some() || set(&f.evidence);
    // Only `--evidence` (or nothing) names a read; a proposal, replay or receipt never does.
    let read_link = !set(&f.proposal) && q.replay_proposal.is_none() && q.receipt.is_none();
    let mut out = Vec::new();

    let proposal_status = status.is_none_or(|s| State::parse(s).is_some());
    if !matches!(link, Some(None)) && !set(&f.query_fingerprint) && proposal_status {
        let mut w = Where::default();
        if let Some(t) = &text {
            w.clauses.push("proposal_search MATCH ?".into());
            w.params.push(Box::new(t.clone()));
        }
        if let Some(Some(p)) = link {
            w.eq("proposal_id", &Some(p.clone()));
        }
        w.eq("tenant_id", &f.tenant)
            .eq("principal", &f.principal)
            .eq("action", &f.capability)
            .eq("state", &f.status)
            .eq("source_id", &f.source)
            .table("source_table", &f.table)
            .object_type("business_object", "source_table", &f.object_type)
            .eq("object_id", &f.object_id)
            .range("created_at", &f.from, &f.to);
        const COLUMNS: &str = "created_at, proposals.rowid, action, tenant_id, principal, business_object, object_id, proposal_id, json_extract(change_set_json, '$.evidence.bundle_id'), state, source_id, source_schema, source_table";
        let sql = if text.is_some() {
            // Matches newest first straight from the full-text index (its rowid is the
            // proposal's), so a common word stops after one page instead of sorting every
            // match. Recording order: the only kind a text search lists, so nothing to merge.
            keyset(
                &mut w,
                Kind::Proposal,
                &q.after,
                |op| vec![format!("created_at {op} ?")],
                |w, c| {
                    w.clauses.push("proposal_search.rowid < ?".into());
                    w.params.push(Box::new(c.id));
                },
            );
            format!(
                "SELECT {COLUMNS} FROM proposal_search CROSS JOIN proposals ON proposals.rowid = proposal_search.rowid{} ORDER BY proposal_search.rowid DESC LIMIT {per_kind}",
                w.sql()
            )
        } else {
            time_keyset(&mut w, Kind::Proposal, &q.after, "rowid");
            format!(
                "SELECT {COLUMNS} FROM proposals{} ORDER BY created_at DESC, rowid DESC LIMIT {per_kind}",
                w.sql()
            )
        };
        out.push(KindQuery {
            kind: Kind::Proposal,
            sql,
            w,
        });
    }

    // Reads: bundles without a proposal (a proposal's bundle is shown through the proposal).
    let reads = read_link && text.is_none() && status.is_none_or(|s| s == EVIDENCE_RECORDED);
    if reads {
        // The same exact filters as `evidence list` (`--proposal` leaves reads out above).
        let (sql, w) = crate::evidence_keys::reads_query(
            f,
            "created_at, evidence_bundles.rowid, capability, tenant_id, principal, business_object, object_id, evidence_bundle_id, source_id, source_table",
            per_kind,
            |w, rowid| {
                let exact = crate::evidence_keys::row_filters(f);
                w.clauses.extend(exact.clauses);
                w.params.extend(exact.params);
                w.clauses.push("proposal_id IS NULL".into());
                evidence_keyset(w, &q.after, rowid);
            },
        );
        out.push(KindQuery {
            kind: Kind::Evidence,
            sql,
            w,
        });
    }

    // Query-audit records that belong to neither a bundle nor a proposal.
    if !linked && text.is_none() && status.is_none_or(|s| s == QUERY_AUDITED) {
        let mut w = Where::default();
        w.clauses
            .push("evidence_bundle_id IS NULL AND proposal_id IS NULL".into());
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
        out.push(KindQuery {
            kind: Kind::QueryAudit,
            sql: format!(
                "SELECT created_at, audit_id, capability, tenant_id, principal, business_object, object_id, primary_key_value, source_id, table_name, query_fingerprint FROM query_audit INDEXED BY idx_query_audit_orphan{} ORDER BY created_at DESC, audit_id DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }

    // Receipts, and dead letters: filtered by their proposal, status and time only.
    let proposal_only = !row_filters && text.is_none() && !set(&f.query_fingerprint);
    let receipt_link = q.receipt.is_some() || !matches!(link, Some(None));
    if proposal_only && receipt_link && status.is_none_or(is_receipt_status) {
        let mut w = Where::default();
        if let Some(Some(p)) = link {
            w.eq("proposal_id", &Some(p.clone()));
        }
        if let Some(n) = q.receipt {
            w.clauses.push("receipt_id = ?".into());
            w.params.push(Box::new(n));
        }
        w.eq("status", &f.status)
            .range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::Receipt, &q.after, "receipt_id");
        out.push(KindQuery {
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
        if let Some(Some(p)) = link {
            w.eq("proposal_id", &Some(p.clone()));
        }
        w.range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::DeadLetter, &q.after, "dead_letter_id");
        out.push(KindQuery {
            kind: Kind::DeadLetter,
            sql: format!(
                "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters{} ORDER BY created_at DESC, dead_letter_id DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }
    let worker_status = status.is_none_or(|s| s == WORKER_DEAD_LETTER);
    if proposal_only && q.receipt.is_none() && !matches!(link, Some(None)) && worker_status {
        let mut w = Where::default();
        if let Some(Some(p)) = link {
            w.eq("proposal_id", &Some(p.clone()));
        }
        w.range("created_at", &f.from, &f.to);
        time_keyset(&mut w, Kind::WorkerDeadLetter, &q.after, "dead_letter_id");
        out.push(KindQuery {
            kind: Kind::WorkerDeadLetter,
            sql: format!(
                "SELECT {WORKER_DEAD_LETTER_COLUMNS} FROM worker_dead_letters{} ORDER BY created_at DESC, dead_letter_id DESC LIMIT {per_kind}",
                w.sql()
            ),
            w,
        });
    }
    out
}

pub(crate) fn opt_join(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => Some(format!("{a}:{b}")),
        _ => None,
    }
}

/// Dead letters are read with [`DEAD_LETTER_COLUMNS`].
fn dead_letter_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ActivityItem)> {
    Ok(webhook_item(dead_letter_from_row(r)?))
}

/// A webhook dead letter's item, on either engine.
pub(crate) fn webhook_item(d: crate::DeadLetter) -> (i64, ActivityItem) {
    (
        d.dead_letter_id,
        ActivityItem {
            kind: "webhook-dead-letter",
            created_at: d.created_at,
            replay: Some(format!("replay_{}", d.proposal_id)),
            proposal: Some(d.proposal_id),
            status: Some(WEBHOOK_DEAD_LETTER.into()),
            event_id: Some(d.event_id),
            webhook: Some(d.cursor_name),
            attempts: Some(d.attempts),
            error: Some(format!("{}: {}", d.kind, d.last_error)),
            ..ActivityItem::default()
        },
    )
}

/// Worker dead letters are read with [`WORKER_DEAD_LETTER_COLUMNS`].
fn worker_dead_letter_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ActivityItem)> {
    Ok(worker_item(worker_dead_letter_from_row(r)?))
}

/// A worker dead letter's item, on either engine.
pub(crate) fn worker_item(d: crate::WorkerDeadLetter) -> (i64, ActivityItem) {
    (
        d.dead_letter_id,
        ActivityItem {
            kind: "worker-dead-letter",
            created_at: d.created_at,
            replay: Some(format!("replay_{}", d.proposal_id)),
            proposal: Some(d.proposal_id),
            status: Some(WORKER_DEAD_LETTER.into()),
            attempts: Some(d.attempts),
            error: Some(d.last_error),
            worker: Some(d.worker_id),
            ..ActivityItem::default()
        },
    )
}

fn item_from_row(kind: Kind, r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ActivityItem)> {
    row_item(kind, r, |kind, r| match kind {
        Kind::WorkerDeadLetter => worker_dead_letter_item(r),
        _ => dead_letter_item(r),
    })
}

/// A row of either engine's activity statements, read by column position.
pub(crate) trait ActivityRow {
    type Error;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    /// A yes/no column (SQLite keeps it as 0 or 1).
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}

impl ActivityRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        Ok(self.get::<_, i64>(i)? != 0)
    }
}

/// One row of `kind`'s statement (the same columns on both engines) as its item, with its
/// id. The dead-letter kinds' rows have shapes of their own: `dead_letter` reads those.
pub(crate) fn row_item<R: ActivityRow, E: From<R::Error>>(
    kind: Kind,
    r: &R,
    dead_letter: impl Fn(Kind, &R) -> Result<(i64, ActivityItem), E>,
) -> Result<(i64, ActivityItem), E> {
    let item = match kind {
        Kind::DeadLetter | Kind::WorkerDeadLetter => return dead_letter(kind, r),
        Kind::Proposal => {
            let proposal = r.text(7)?;
            ActivityItem {
                kind: "proposal",
                capability: r.opt(2)?,
                tenant: r.opt(3)?,
                principal: r.opt(4)?,
                object: opt_join(r.opt(5)?, r.opt(6)?),
                replay: Some(format!("replay_{proposal}")),
                proposal: Some(proposal),
                evidence: r.opt(8)?,
                status: r.opt(9)?,
                source: r.opt(10)?,
                table: Some(format!("{}.{}", r.text(11)?, r.text(12)?)),
                ..ActivityItem::default()
            }
        }
        Kind::Evidence => ActivityItem {
            kind: "evidence",
            capability: r.opt(2)?,
            tenant: r.opt(3)?,
            principal: r.opt(4)?,
            object: opt_join(r.opt(5)?, r.opt(6)?),
            evidence: r.opt(7)?,
            status: Some(EVIDENCE_RECORDED.into()),
            source: r.opt(8)?,
            table: r.opt(9)?,
            ..ActivityItem::default()
        },
        Kind::QueryAudit => ActivityItem {
            kind: "query-audit",
            capability: r.opt(2)?,
            tenant: r.opt(3)?,
            principal: r.opt(4)?,
            object: opt_join(r.opt(5)?, r.opt(6)?).or(r.opt(7)?),
            query_audit: Some(r.int(1)?.to_string()),
            status: Some(QUERY_AUDITED.into()),
            source: r.opt(8)?,
            table: r.opt(9)?,
            query_fingerprint: r.opt(10)?,
            ..ActivityItem::default()
        },
        Kind::Receipt => {
            let proposal = r.text(2)?;
            ActivityItem {
                kind: "receipt",
                receipt: Some(r.int(1)?),
                replay: Some(format!("replay_{proposal}")),
                proposal: Some(proposal),
                status: r.opt(3)?,
                source_database_mutated: Some(r.flag(4)?),
                ..ActivityItem::default()
            }
        }
    };
    let (created_at, id) = (r.text(0)?, r.int(1)?);
    Ok((id, ActivityItem { created_at, ..item }))
}

/// One page from every kind's rows: merged newest first and cut at `limit`. A text search
/// lists proposals only, in the index's order (see `kind_queries`): nothing to merge.
fn page(mut all: Vec<(ActivityCursor, ActivityItem)>, limit: usize, text: bool) -> ActivityPage {
    if !text {
        all.sort_by(|(a, _), (b, _)| {
            (b.created_at.as_str(), b.rank, b.id).cmp(&(a.created_at.as_str(), a.rank, a.id))
        });
    }
    let next = (all.len() > limit).then(|| all[limit - 1].0.clone());
    all.truncate(limit);
    ActivityPage {
        items: all.into_iter().map(|(_, item)| item).collect(),
        next,
    }
}

impl Ledger {
    /// One page of `activity search`. See the module documentation for what each kind shows.
    pub fn activity(&self, q: &ActivityQuery) -> Result<ActivityPage, LedgerError> {
        let link = self.activity_link(q)?;
        let limit = q.filter.limit.unwrap_or(20).clamp(1, MAX_ACTIVITY_LIMIT) as usize;
        let (all, text) = match self.pg() {
            Some(pg) => pg.activity(q, &link)?,
            None => self.sqlite_activity(q, &link)?,
        };
        Ok(page(all, limit, text))
    }

    /// Every kind's rows of one page on SQLite, and whether it is a text search.
    #[allow(clippy::type_complexity)]
    fn sqlite_activity(
        &self,
        q: &ActivityQuery,
        link: &Link,
    ) -> Result<(Vec<(ActivityCursor, ActivityItem)>, bool), LedgerError> {
        if q.text.as_deref().and_then(fts_query).is_some() {
            self.index_all_for_search()?;
        }
        let mut all: Vec<(ActivityCursor, ActivityItem)> = Vec::new();
        let conn = self.conn()?;
        for kq in kind_queries(q, link) {
            let mut stmt = conn.prepare(kq.sql())?;
            let kind = kq.kind;
            let rows = stmt.query_map(kq.params().as_slice(), |r| item_from_row(kind, r))?;
            for row in rows {
                let (id, item) = row?;
                let key = ActivityCursor {
                    created_at: item.created_at.clone(),
                    rank: kind as u8,
                    id,
                };
                all.push((key, item));
            }
        }
        Ok((all, q.text.as_deref().and_then(fts_query).is_some()))
    }

    /// Resolve `--proposal`, `--replay`, `--receipt` or `--evidence` to the proposal they name.
    fn activity_link(&self, q: &ActivityQuery) -> Result<Link, LedgerError> {
        let f = &q.filter;
        if let Some(p) = f.proposal.as_ref().filter(|p| !p.is_empty()) {
            return Ok(Some(Some(p.clone())));
        }
        if let Some(p) = q.replay_proposal.as_ref() {
            return Ok(Some(Some(p.clone())));
        }
        if let Some(n) = q.receipt {
            return Ok(Some(match self.receipt(n) {
                Ok(r) => Some(r.proposal_id),
                Err(LedgerError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            }));
        }
        if let Some(ev) = f.evidence.as_ref().filter(|e| !e.is_empty()) {
            // A read's bundle links no proposal: its own item is the answer.
            return Ok(Some(self.proposal_for_evidence(ev)?));
        }
        Ok(None)
    }
}
