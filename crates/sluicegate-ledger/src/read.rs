//! Lookups and listings. Every list is filtered and limited in SQL over an index.

use rusqlite::{OptionalExtension, params};

use sluicegate_core::decision::{DecisionRecord, Verdict};

use crate::links::SEQ_OF;
use crate::query::{
    AUDIT_IDS_OF_BUNDLE, EventFilter, Filter, Where, limit_sql, proposals_query, receipts_query,
};
use crate::views::*;
use crate::{Ledger, LedgerError, RefusalCode};

impl Ledger {
    pub fn proposal(&self, id: &str) -> Result<StoredProposal, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.proposal(id);
        }
        self.conn()?
            .query_row(
                &format!(
                    "SELECT {} FROM proposals WHERE proposal_id = ?1",
                    StoredProposal::COLUMNS
                ),
                [id],
                StoredProposal::from_row,
            )
            .optional()?
            .ok_or_else(|| LedgerError::NotFound {
                what: "proposal",
                id: id.to_string(),
            })
    }

    /// The most recently created proposal.
    pub fn latest_proposal_id(&self) -> Result<String, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.latest_proposal_id();
        }
        self.conn()?
            .query_row(
                "SELECT proposal_id FROM proposals ORDER BY created_at DESC, rowid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                LedgerError::refused(
                    RefusalCode::NoProposals,
                    "no proposals found in the local store",
                )
            })
    }

    /// Resolve `latest` or pass an id through.
    pub fn resolve_proposal_id(&self, selector: &str) -> Result<String, LedgerError> {
        if selector == "latest" {
            self.latest_proposal_id()
        } else {
            Ok(selector.to_string())
        }
    }

    pub fn list_proposals(&self, f: &Filter) -> Result<Vec<StoredProposal>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.list_proposals(f);
        }
        let (sql, w) = proposals_query(f);
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(w.params().as_slice(), StoredProposal::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The id of the newest proposal event (0 for none): it changes whenever any proposal is
    /// created or changes, in this process or another. One lookup on the primary key.
    pub fn last_event_id(&self) -> Result<i64, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.last_event_id();
        }
        Ok(self.conn()?.query_row(
            "SELECT COALESCE(MAX(event_id), 0) FROM proposal_events",
            [],
            |r| r.get(0),
        )?)
    }

    /// Events of one proposal, oldest first.
    pub fn events(&self, proposal_id: &str) -> Result<Vec<StoredEvent>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.events(proposal_id);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM proposal_events WHERE proposal_seq = {SEQ_OF} ORDER BY event_id",
            StoredEvent::COLUMNS
        ))?;
        let rows = stmt.query_map([proposal_id], StoredEvent::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest matching events, returned oldest first.
    pub fn list_events(&self, f: &EventFilter) -> Result<Vec<StoredEvent>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.tail_events(f);
        }
        let mut w = Where::default();
        w.proposal_link(&f.proposal)
            .eq("kind", &f.kind)
            .eq("actor", &f.actor)
            .gt_i64("event_id", f.after_event_id)
            .range("created_at", &f.from, &f.to);
        let sql = format!(
            "SELECT * FROM (SELECT {} FROM proposal_events{} ORDER BY event_id DESC{}) ORDER BY event_id",
            StoredEvent::COLUMNS,
            w.sql(),
            limit_sql(f.limit)
        );
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(w.params().as_slice(), StoredEvent::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Receipts of one proposal, oldest first.
    pub fn receipts(&self, proposal_id: &str) -> Result<Vec<StoredReceipt>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.receipts(proposal_id);
        }
        self.list_receipts_sql(
            "WHERE proposal_id = ?1 ORDER BY receipt_id",
            params![proposal_id],
        )
    }

    pub fn receipt(&self, receipt_id: i64) -> Result<StoredReceipt, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.receipt(receipt_id);
        }
        self.list_receipts_sql("WHERE receipt_id = ?1", params![receipt_id])?
            .pop()
            .ok_or_else(|| LedgerError::NotFound {
                what: "writeback receipt",
                id: receipt_id.to_string(),
            })
    }

    pub fn list_receipts(&self, f: &Filter) -> Result<Vec<StoredReceipt>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.list_receipts(f);
        }
        let (sql, w) = receipts_query(f);
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(w.params().as_slice(), StoredReceipt::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_receipts_sql(
        &self,
        tail: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<StoredReceipt>, LedgerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM writeback_receipts {tail}",
            StoredReceipt::COLUMNS
        ))?;
        let rows = stmt.query_map(params, StoredReceipt::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One evidence bundle with its items and the query-audit records that name it.
    pub fn evidence(&self, id: &str) -> Result<StoredEvidence, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.evidence(id);
        }
        let mut bundle = self
            .conn()?
            .query_row(
                &format!(
                    "SELECT {}, items_json FROM evidence_bundles WHERE evidence_bundle_id = ?1",
                    StoredEvidence::COLUMNS
                ),
                [id],
                StoredEvidence::from_row_with_items,
            )
            .optional()?
            .ok_or_else(|| LedgerError::NotFound {
                what: "evidence bundle",
                id: id.to_string(),
            })?;
        self.fill_audits(&mut bundle)?;
        Ok(bundle)
    }

    fn fill_audits(&self, bundle: &mut StoredEvidence) -> Result<(), LedgerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM query_audit WHERE audit_id IN ({AUDIT_IDS_OF_BUNDLE}) ORDER BY audit_id",
            StoredQueryAudit::COLUMNS
        ))?;
        let audits = stmt.query_map([&bundle.evidence_bundle_id], StoredQueryAudit::from_row)?;
        bundle.query_audit = audits.collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Evidence bundles linked to a proposal, oldest first, with items and audit records.
    pub fn evidence_for_proposal(
        &self,
        proposal_id: &str,
    ) -> Result<Vec<StoredEvidence>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.evidence_for_proposal(proposal_id);
        }
        let mut bundles: Vec<StoredEvidence> = {
            let conn = self.conn()?;
            let mut stmt = conn.prepare(&format!(
                "SELECT {}, items_json FROM evidence_bundles WHERE proposal_seq = {SEQ_OF} ORDER BY rowid",
                StoredEvidence::COLUMNS
            ))?;
            let rows = stmt.query_map([proposal_id], StoredEvidence::from_row_with_items)?;
            rows.collect::<Result<_, _>>()?
        };
        for b in &mut bundles {
            self.fill_audits(b)?;
        }
        Ok(bundles)
    }

    /// Evidence bundles, newest first, without items (use [`Ledger::evidence`] for detail).
    pub fn list_evidence(&self, f: &Filter) -> Result<Vec<StoredEvidence>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.list_evidence(f);
        }
        let conn = self.conn()?;
        let mark = crate::evidence_keys::mark(&conn)?;
        let mut found = Vec::new();
        for (sql, w) in crate::evidence_keys::evidence_queries(f, mark) {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(w.params().as_slice(), StoredEvidence::from_row)?;
            for row in rows {
                found.push(row?);
            }
            if f.limit.is_some_and(|n| found.len() >= n as usize) {
                found.truncate(f.limit.unwrap_or(0) as usize);
                break;
            }
        }
        Ok(found)
    }

    pub fn query_audit(&self, audit_id: i64) -> Result<StoredQueryAudit, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.query_audit(audit_id);
        }
        self.conn()?
            .query_row(
                &format!(
                    "SELECT {} FROM query_audit WHERE audit_id = ?1",
                    StoredQueryAudit::COLUMNS
                ),
                [audit_id],
                StoredQueryAudit::from_row,
            )
            .optional()?
            .ok_or_else(|| LedgerError::NotFound {
                what: "query audit record",
                id: audit_id.to_string(),
            })
    }

    pub fn list_query_audit(&self, f: &Filter) -> Result<Vec<StoredQueryAudit>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.list_query_audit(f);
        }
        let mut w = Where::default();
        w.eq("tenant_id", &f.tenant)
            .eq("principal", &f.principal)
            .eq("capability", &f.capability)
            .proposal_link(&f.proposal)
            .audits_of_bundle(&f.evidence)
            .eq("source_id", &f.source)
            .table("table_name", &f.table)
            .object_type("business_object", "table_name", &f.object_type)
            .eq("object_id", &f.object_id)
            .eq("primary_key_value", &f.primary_key)
            .eq("query_fingerprint", &f.query_fingerprint)
            .range("created_at", &f.from, &f.to);
        let sql = format!(
            "SELECT {} FROM query_audit{} ORDER BY audit_id DESC{}",
            StoredQueryAudit::COLUMNS,
            w.sql(),
            limit_sql(f.limit)
        );
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(w.params().as_slice(), StoredQueryAudit::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Query-audit records that name a proposal, oldest first.
    pub fn query_audit_for_proposal(
        &self,
        proposal_id: &str,
    ) -> Result<Vec<StoredQueryAudit>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.query_audit_for_proposal(proposal_id);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM query_audit WHERE proposal_seq = {SEQ_OF} ORDER BY audit_id",
            StoredQueryAudit::COLUMNS
        ))?;
        let rows = stmt.query_map([proposal_id], StoredQueryAudit::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The proposal an evidence bundle supports, if any.
    pub fn proposal_for_evidence(&self, evidence_id: &str) -> Result<Option<String>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.proposal_for_evidence(evidence_id);
        }
        let conn = self.conn()?;
        let direct: Option<Option<String>> = conn
            .query_row(
                "SELECT proposal_id FROM evidence_bundles WHERE evidence_bundle_id = ?1",
                [evidence_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(Some(p)) = direct {
            return Ok(Some(p));
        }
        Ok(conn
            .query_row(
                &format!("SELECT proposal_id FROM query_audit WHERE audit_id IN ({AUDIT_IDS_OF_BUNDLE}) AND proposal_id IS NOT NULL ORDER BY audit_id DESC LIMIT 1"),
                [evidence_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every job recorded for a proposal, oldest first.
    pub fn jobs(&self, proposal_id: &str) -> Result<Vec<StoredJob>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.jobs(proposal_id);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM writeback_jobs WHERE proposal_id = ?1 ORDER BY created_at, rowid",
            StoredJob::COLUMNS
        ))?;
        let rows = stmt.query_map([proposal_id], StoredJob::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The most recent job recorded for a proposal.
    pub fn job_for_proposal(
        &self,
        proposal_id: &str,
    ) -> Result<Option<(String, serde_json::Value)>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.job_for_proposal(proposal_id);
        }
        let row: Option<(String, String)> = self
            .conn()?
            .query_row(
                "SELECT writeback_job_id, job_json FROM writeback_jobs WHERE proposal_id = ?1 ORDER BY updated_at DESC LIMIT 1",
                [proposal_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((id, json)) => Some((id, serde_json::from_str(&json)?)),
            None => None,
        })
    }

    /// Counts come from `ledger_counts` plus the rows above its marks (`counts.rs`), so this
    /// costs a backlog, not the ledger.
    pub fn stats(&self) -> Result<Stats, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.stats(self.path.display().to_string());
        }
        let conn = self.conn()?;
        let kept = crate::counts::counts(&conn)?;
        let count = |name: &str| -> i64 { kept.get(name).copied().unwrap_or(0) };
        let page_count: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let bundles = count("evidence_bundles");
        Ok(Stats {
            path: self.path.display().to_string(),
            proposals: count("proposals"),
            evidence_bundles: bundles,
            evidence_items: count("evidence_items"),
            query_audit: count("query_audit"),
            writeback_receipts: count("writeback_receipts"),
            writeback_jobs: count("writeback_jobs"),
            idempotency_receipts: count("idempotency_receipts"),
            replay_records: conn
                .query_row("SELECT COUNT(*) FROM replay_records", [], |r| r.get(0))?,
            approvals: count("approvals"),
            proposal_events: count("proposal_events"),
            shadow_human_actions: conn.query_row(
                "SELECT COUNT(*) FROM shadow_human_actions",
                [],
                |r| r.get(0),
            )?,
            page_count,
            page_size,
            approx_bytes: page_count * page_size,
            wal_bytes: std::fs::metadata(format!("{}-wal", self.path.display()))
                .map(|m| m.len())
                .unwrap_or(0),
            bytes_per_call: match bundles {
                0 => 0,
                calls => page_count * page_size / calls,
            },
        })
    }

    /// Every decision recorded for a proposal, oldest first.
    pub fn decisions(&self, proposal_id: &str) -> Result<Vec<DecisionRecord>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.decisions(proposal_id);
        }
        let conn = self.conn()?;
        decisions_on(&conn, proposal_id)
    }
}

/// [`Ledger::decisions`] on a given connection (inside a caller's read transaction).
pub(crate) fn decisions_on(
    conn: &rusqlite::Connection,
    proposal_id: &str,
) -> Result<Vec<DecisionRecord>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT proposal_id, proposal_version, proposal_hash, status, approver, reason, created_at, signature, reviewer_key FROM approvals WHERE proposal_id = ?1 ORDER BY approval_id",
    )?;
    let rows = stmt.query_map([proposal_id], decision_from_row)?;
    rows.collect::<Result<Result<Vec<_>, _>, _>>()?
}

/// A decision row, or `Corrupt` when its status is not a decision.
fn decision_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<DecisionRecord, LedgerError>> {
    let status: String = r.get(3)?;
    let Some(verdict) = Verdict::from_status(&status) else {
        return Ok(Err(LedgerError::Corrupt(format!(
            "decision status {status:?} is neither approved nor rejected"
        ))));
    };
    Ok(Ok(DecisionRecord {
        proposal_id: r.get(0)?,
        proposal_version: r.get(1)?,
        content_hash: r.get(2)?,
        verdict,
        reviewer: r.get(4)?,
        reason: r.get(5)?,
        decided_at: r.get(6)?,
        signature: r.get(7)?,
        reviewer_key: r.get(8)?,
    }))
}
