//! `store export` on PostgreSQL: the same lines as on SQLite (`crate::export`), read through
//! the time indexes: proposals on `proposals_created`, bundles on `evidence_bundles_created`,
//! query-audit records on `query_audit_created` (in audit-id order, as SQLite writes them).
//!
//! A range ends at `to` inclusive when it is a whole timestamp, and before `to` with its last
//! character moved one up when it is a prefix (`2026-06-20` ends before `2026-06-21`), not at
//! SQLite's `to~`: timestamps of one shape compare the same under any collation the database's
//! `text` columns use, where a language collation does not compare punctuation such as `~`
//! first.

/// Where a range ending at `to` stops: a whole timestamp (`…Z`, what the CLI passes) is the
/// last instant in it; a prefix stops before the first text after every text starting with it.
/// `None`: no end.
pub(crate) fn range_end(to: Option<&str>) -> Option<(String, bool)> {
    let to = to.filter(|t| !t.is_empty())?;
    if to.ends_with('Z') {
        return Some((to.to_string(), true));
    }
    let mut end: Vec<char> = to.chars().collect();
    let last = end.pop()?;
    end.push(char::from_u32(u32::from(last) + 1).unwrap_or(char::MAX));
    Some((end.into_iter().collect(), false))
}

/// `created_at` in the range from `lo` to `end`: the clause and its parameters.
fn range(lo: &str, end: &Option<(String, bool)>) -> (&'static str, Vec<String>) {
    match end {
        Some((end, true)) => (
            "created_at >= $1 AND created_at <= $2",
            vec![lo.to_string(), end.clone()],
        ),
        Some((end, false)) => (
            "created_at >= $1 AND created_at < $2",
            vec![lo.to_string(), end.clone()],
        ),
        None => ("created_at >= $1", vec![lo.to_string()]),
    }
}

fn params(values: &[String]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

use super::{PgLedger, rows};
use crate::LedgerError;
use crate::pg::stmts::Prepared;
use crate::views::{StoredEvidence, StoredQueryAudit};

impl PgLedger {
    /// The proposals created in `[lo, hi]`, oldest first.
    pub(crate) fn export_proposal_ids(
        &self,
        lo: &str,
        end: Option<(String, bool)>,
    ) -> Result<Vec<String>, LedgerError> {
        let (clause, values) = range(lo, &end);
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT proposal_id FROM proposals WHERE {clause} ORDER BY created_at, seq"
            );
            c.rows(&sql, &params(&values))?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        })
    }

    /// The evidence bundles (with their items) created in `[lo, hi]`, in recording order.
    pub(crate) fn export_evidence(
        &self,
        lo: &str,
        end: Option<(String, bool)>,
    ) -> Result<Vec<StoredEvidence>, LedgerError> {
        let (clause, values) = range(lo, &end);
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM evidence_bundles WHERE {clause} ORDER BY seq",
                rows::EVIDENCE
            );
            rows::all(c.rows(&sql, &params(&values))?, |r| rows::evidence(r, true))
        })
    }

    /// The query-audit records created in `[lo, hi]`, in audit-id order.
    pub(crate) fn export_audits(
        &self,
        lo: &str,
        end: Option<(String, bool)>,
    ) -> Result<Vec<StoredQueryAudit>, LedgerError> {
        let (clause, values) = range(lo, &end);
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM query_audit WHERE {clause} ORDER BY audit_id",
                rows::AUDIT
            );
            rows::all(c.rows(&sql, &params(&values))?, rows::audit)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_range_ends_after_every_text_starting_with_its_end() {
        let end = |to| super::range_end(Some(to));
        assert_eq!(end("2026-06-20"), Some(("2026-06-21".into(), false)));
        assert_eq!(
            end("2026-06-20T14:31"),
            Some(("2026-06-20T14:32".into(), false))
        );
        assert_eq!(
            end("2026-06-20T14:31:00.000Z"),
            Some(("2026-06-20T14:31:00.000Z".into(), true))
        );
        assert_eq!(super::range_end(Some("")), None);
        assert_eq!(super::range_end(None), None);
    }
}
