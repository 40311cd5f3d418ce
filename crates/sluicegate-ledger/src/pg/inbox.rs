//! The review inbox on PostgreSQL: the SQLite inbox's pages (`crate::inbox`: oldest first,
//! keyset paged, the pending proposals first when every state is shown, a time range and a
//! text search), with `seq` standing in for the rowid of the cursor.
//!
//! - Without a search, a page walks `(filter column…, created_at, seq)` from the cursor with one
//!   row-value comparison `(created_at, seq) > ($1, $2)`, which PostgreSQL turns into the
//!   index's start key (SQLite needs two ranges for the same walk).
//! - The decided phase of "pending first" walks the partial index `proposals_decided_created`
//!   (`search.rs`'s migration), whose condition the query repeats.
//! - A search matches the `proposals_search` GIN index (`search.rs`) and lists in `seq` order,
//!   which is recording order, as SQLite lists in rowid order.

use postgres::Client;

use super::query::{self, Where};
use super::{PgLedger, rows, search};
use crate::LedgerError;
use crate::inbox::{InboxCursor, InboxQuery, PENDING, Phase};
use crate::pg::stmts::Prepared;
use crate::query::Filter;
use crate::views::StoredProposal;

/// One walk of the inbox: the statement and its parameters. Rows are [`rows::PROPOSAL`] then
/// `seq`.
pub(crate) fn inbox_sql(
    q: &InboxQuery,
    phase: Phase,
    after: Option<&InboxCursor>,
    limit: u32,
) -> (String, Where) {
    let status = match phase {
        Phase::All => q.filter.status.clone(),
        Phase::Pending => Some(PENDING.into()),
        Phase::Decided => None,
    };
    let mut w = query::proposals(&Filter {
        status,
        limit: None,
        ..q.filter.clone()
    });
    if phase == Phase::Decided {
        // The partial index's own condition, so the planner can use it.
        w.clause(format!("state <> '{PENDING}'"));
    }
    let columns = rows::PROPOSAL;
    if let Some(expr) = q.search.as_deref().and_then(search::inbox_query) {
        let p = w.bind(expr);
        w.clause(format!("{} @@ {p}::text::tsquery", search::DOC));
        if let Some(c) = after {
            let p = w.bind(c.rowid);
            w.clause(format!("seq > {p}"));
        }
        let sql = format!(
            "SELECT {columns}, seq FROM proposals{} ORDER BY seq LIMIT {limit}",
            w.sql()
        );
        return (sql, w);
    }
    if let Some(c) = after {
        let (t, s) = (w.bind(c.created_at.clone()), w.bind(c.rowid));
        w.clause(format!("(created_at, seq) > ({t}, {s})"));
    }
    let sql = format!(
        "SELECT {columns}, seq FROM proposals{} ORDER BY created_at, seq LIMIT {limit}",
        w.sql()
    );
    (sql, w)
}

/// One walk's rows: each proposal with its `seq`.
fn walk(
    c: &mut Client,
    q: &InboxQuery,
    phase: Phase,
    after: Option<&InboxCursor>,
    limit: u32,
) -> Result<Vec<(StoredProposal, i64)>, LedgerError> {
    let (sql, w) = inbox_sql(q, phase, after, limit);
    c.rows(&sql, &w.params())?
        .iter()
        .map(|r| Ok((rows::proposal(r)?, r.try_get(18)?)))
        .collect()
}

impl PgLedger {
    /// One page of the inbox `q` describes (see `Ledger::inbox_page`).
    pub(crate) fn inbox_page(
        &self,
        q: &InboxQuery,
        after: Option<&InboxCursor>,
    ) -> Result<(Vec<StoredProposal>, Option<InboxCursor>), LedgerError> {
        let (q, after) = (q.clone(), after.cloned());
        self.readers.run(move |c| {
            let limit = q.filter.limit.unwrap_or(50).max(1);
            let two_phases = q.pending_first && q.filter.status.is_none();
            let phases: &[(Phase, bool)] = if two_phases {
                &[(Phase::Pending, false), (Phase::Decided, true)]
            } else {
                &[(Phase::All, false)]
            };
            let mut found: Vec<(StoredProposal, i64, bool)> = Vec::new();
            for &(phase, decided) in phases {
                let from = match after.as_ref() {
                    Some(c) if !two_phases => Some(c),
                    // A cursor in the decided phase skips the pending one entirely.
                    Some(c) if c.decided && !decided => continue,
                    Some(c) if c.decided == decided => Some(c),
                    _ => None,
                };
                let want = limit - found.len() as u32;
                if want == 0 {
                    break;
                }
                for (p, seq) in walk(c, &q, phase, from, want)? {
                    found.push((p, seq, decided));
                }
            }
            let full = found.len() as u32 >= limit;
            let next = found
                .last()
                .filter(|_| full)
                .map(|(p, seq, decided)| InboxCursor {
                    created_at: p.created_at.clone(),
                    rowid: *seq,
                    decided: *decided,
                });
            Ok((found.into_iter().map(|(p, _, _)| p).collect(), next))
        })
    }
}
