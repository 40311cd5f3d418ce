//! The review inbox: proposals oldest first, keyset paged, filtered by the list filters, a time
//! range and a text search, with the proposals waiting for review first when every state is
//! shown. Every page is one or two index walks that start at the cursor (`plan_tests`):
//!
//! - Without a search, a page walks `(filter column…, created_at)` from the cursor. The cursor
//!   is `(created_at, rowid)`; many proposals can share a `created_at` (a burst in one
//!   millisecond, or a bench), so the step past the cursor is two index ranges, `created_at =
//!   ? AND rowid > ?` then `created_at > ?`, each a seek. One row-value comparison
//!   `(created_at, rowid) > (?, ?)` seeks on `created_at` alone and then walks every proposal
//!   of that millisecond (at 100,000 proposals sharing one timestamp: 33 ms instead of 0.1).
//! - "Pending first" (no state filter) is two phases: the pending proposals on
//!   `idx_proposals_state_created`, then the decided ones on the partial index
//!   `idx_proposals_decided_created` (schema: rows whose state is not `pending_review`). The
//!   cursor says which phase it is in.
//! - A text search walks the `proposal_search` full-text index (`search.rs`: id, capability,
//!   target, principal, tenant, proposed values and reasons) in rowid order, which is
//!   recording order, so a search lists proposals in the order they were recorded. Recording
//!   never touches that index: a search first brings it up to date
//!   ([`Ledger::index_for_search`]).

use rusqlite::ToSql;

use crate::query::{Filter, Where, proposals_query};
use crate::views::StoredProposal;
use crate::{Ledger, LedgerError};

/// The state the inbox puts first.
pub(crate) const PENDING: &str = "pending_review";

/// What the inbox shows: the list filters (`status` `None` means every state), a text search,
/// and whether the pending proposals come first when every state is shown.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    pub filter: Filter,
    /// Words that must all occur in the proposal's id, capability, target, principal, tenant
    /// or proposed values (the last one may be the start of a word).
    pub search: Option<String>,
    pub pending_first: bool,
}

/// Where a page of the review inbox starts: after the proposal created at `created_at` with
/// this `rowid` (the last one of the previous page). `decided` says a pending-first walk is
/// past its pending proposals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboxCursor {
    pub created_at: String,
    pub rowid: i64,
    pub decided: bool,
}

/// Which proposals one walk covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Every proposal the filter matches.
    All,
    /// Only those waiting for review.
    Pending,
    /// Only the decided ones (every other state).
    Decided,
}

/// An FTS5 query matching every word of `text`, the last one also as the start of a word
/// (what a reviewer is still typing), each quoted (no operator a reviewer types is
/// interpreted). `None` when `text` has no word. Only the last word is a prefix: FTS5 reads a
/// prefix's whole doclist before it can intersect it, so a short common prefix on every word
/// (`INV` of `INV-099997`) cost 33 ms at 100,000 proposals, where a whole word is a seek.
pub(crate) fn match_expression(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .collect();
    let last = words.len().checked_sub(1)?;
    let quoted: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let star = if i == last { "*" } else { "" };
            format!("\"{}\"{star}", w.replace('"', "\"\""))
        })
        .collect();
    Some(quoted.join(" "))
}

/// The filter clauses of one walk (built once per use: parameters are not cloneable).
fn clauses(q: &InboxQuery, phase: Phase) -> Where {
    let status = match phase {
        Phase::All => q.filter.status.clone(),
        Phase::Pending => Some(PENDING.into()),
        Phase::Decided => None,
    };
    let (_, mut w) = proposals_query(&Filter {
        status,
        limit: None,
        ..q.filter.clone()
    });
    if phase == Phase::Decided {
        // The partial index's own condition, so the planner can use it.
        w.clauses.push(format!("state <> '{PENDING}'"));
    }
    w
}

fn push(w: &mut Where, clause: &str, params: Vec<Box<dyn ToSql>>) {
    w.clauses.push(clause.into());
    w.params.extend(params);
}

/// One walk of the inbox: the SQL and its parameters. Rows are [`StoredProposal::COLUMNS`]
/// then the rowid.
pub(crate) fn inbox_query(
    q: &InboxQuery,
    phase: Phase,
    after: Option<&InboxCursor>,
    limit: u32,
) -> (String, Where) {
    let columns = StoredProposal::COLUMNS;
    if let Some(expr) = q.search.as_deref().and_then(match_expression) {
        let mut w = clauses(q, phase);
        push(&mut w, "proposal_search MATCH ?", vec![Box::new(expr)]);
        if let Some(c) = after {
            push(&mut w, "proposal_search.rowid > ?", vec![Box::new(c.rowid)]);
        }
        let sql = format!(
            "SELECT {columns}, proposals.rowid FROM proposal_search CROSS JOIN proposals ON proposals.rowid = proposal_search.rowid{} ORDER BY proposal_search.rowid LIMIT {limit}",
            w.sql()
        );
        return (sql, w);
    }
    let Some(c) = after else {
        let w = clauses(q, phase);
        let sql = format!(
            "SELECT {columns}, rowid FROM proposals{} ORDER BY created_at, rowid LIMIT {limit}",
            w.sql()
        );
        return (sql, w);
    };
    // Past the cursor: the rest of its millisecond, then everything after it.
    let mut same = clauses(q, phase);
    push(
        &mut same,
        "created_at = ? AND rowid > ?",
        vec![Box::new(c.created_at.clone()), Box::new(c.rowid)],
    );
    let mut later = clauses(q, phase);
    push(
        &mut later,
        "created_at > ?",
        vec![Box::new(c.created_at.clone())],
    );
    let sql = format!(
        "SELECT * FROM (SELECT {columns}, rowid AS rid FROM proposals{} ORDER BY rowid LIMIT {limit}) \
         UNION ALL SELECT * FROM (SELECT {columns}, rowid AS rid FROM proposals{} ORDER BY created_at, rowid LIMIT {limit}) \
         ORDER BY created_at, rid LIMIT {limit}",
        same.sql(),
        later.sql()
    );
    let mut w = Where {
        params: same.params,
        ..Where::default()
    };
    w.params.extend(later.params);
    (sql, w)
}

impl Ledger {
    /// One page of the review inbox, oldest first, starting after `after`: the proposals
    /// and, when the page is full, the cursor of the next page. `f.limit` is the page size.
    pub fn inbox(
        &self,
        f: &Filter,
        after: Option<&InboxCursor>,
    ) -> Result<(Vec<StoredProposal>, Option<InboxCursor>), LedgerError> {
        self.inbox_page(
            &InboxQuery {
                filter: f.clone(),
                ..InboxQuery::default()
            },
            after,
        )
    }

    /// One page of the inbox `q` describes (page size: `q.filter.limit`, default 50).
    pub fn inbox_page(
        &self,
        q: &InboxQuery,
        after: Option<&InboxCursor>,
    ) -> Result<(Vec<StoredProposal>, Option<InboxCursor>), LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.inbox_page(q, after);
        }
        if q.search.as_deref().and_then(match_expression).is_some() {
            self.index_all_for_search()?;
        }
        let limit = q.filter.limit.unwrap_or(50).max(1);
        let two_phases = q.pending_first && q.filter.status.is_none();
        let mut rows: Vec<(StoredProposal, i64, bool)> = Vec::new();
        let phases: &[(Phase, bool)] = if two_phases {
            &[(Phase::Pending, false), (Phase::Decided, true)]
        } else {
            &[(Phase::All, false)]
        };
        for &(phase, decided) in phases {
            let from = match after {
                Some(c) if !two_phases => Some(c),
                // A cursor in the decided phase skips the pending one entirely.
                Some(c) if c.decided && !decided => continue,
                Some(c) if c.decided == decided => Some(c),
                _ => None,
            };
            let want = limit - rows.len() as u32;
            if want == 0 {
                break;
            }
            let (sql, w) = inbox_query(q, phase, from, want);
            let conn = self.conn()?;
            let mut stmt = conn.prepare(&sql)?;
            let found = stmt.query_map(w.params().as_slice(), |row| {
                let rowid: i64 = row.get(18)?;
                Ok((StoredProposal::from_row(row)?, rowid, decided))
            })?;
            for r in found {
                rows.push(r?);
            }
        }
        let full = rows.len() as u32 >= limit;
        let next = rows
            .last()
            .filter(|_| full)
            .map(|(p, rowid, decided)| InboxCursor {
                created_at: p.created_at.clone(),
                rowid: *rowid,
                decided: *decided,
            });
        Ok((rows.into_iter().map(|(p, _, _)| p).collect(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted_and_the_last_is_a_prefix() {
        assert_eq!(
            match_expression("late fee").as_deref(),
            Some("\"late\" \"fee\"*")
        );
        assert_eq!(
            match_expression("INV-3001 OR \"x\" NEAR(").as_deref(),
            Some("\"INV\" \"3001\" \"OR\" \"x\" \"NEAR\"*")
        );
        assert_eq!(match_expression(" -*- "), None);
    }
}
