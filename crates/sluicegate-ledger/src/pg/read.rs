//! Lookups, listings, stats and the records `store verify` checks, on PostgreSQL. Each runs
//! on a reader thread (`session.rs`); listings are `… WHERE … ORDER BY … LIMIT n` over an
//! index that serves the order (`schema.rs`), newest first by `(created_at, seq)` or id.

use postgres::{Client, IsolationLevel};
use sluicegate_core::decision::DecisionRecord;

use super::query;
use super::{PgLedger, rows};
use crate::pg::stmts::Prepared;
use crate::query::Filter;
use crate::verify::{ChainEvent, ProposalColumns, ProposalRecords};
use crate::views::{
    Stats, StoredEvidence, StoredJob, StoredProposal, StoredQueryAudit, StoredReceipt, parse,
};
use crate::{LedgerError, RefusalCode};

fn not_found(what: &'static str, id: impl Into<String>) -> LedgerError {
    LedgerError::NotFound {
        what,
        id: id.into(),
    }
}

impl PgLedger {
    pub(crate) fn proposal(&self, id: &str) -> Result<StoredProposal, LedgerError> {
        let id = id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM proposals WHERE proposal_id = $1",
                rows::PROPOSAL
            );
            match c.row_opt(&sql, &[&id])? {
                Some(row) => rows::proposal(&row),
                None => Err(not_found("proposal", id.as_str())),
            }
        })
    }

    pub(crate) fn latest_proposal_id(&self) -> Result<String, LedgerError> {
        self.readers.run(|c| {
            match c.row_opt(
                "SELECT proposal_id FROM proposals ORDER BY created_at DESC, seq DESC LIMIT 1",
                &[],
            )? {
                Some(row) => Ok(row.try_get(0)?),
                None => Err(LedgerError::refused(
                    RefusalCode::NoProposals,
                    "no proposals found in the local store",
                )),
            }
        })
    }

    pub(crate) fn list_proposals(&self, f: &Filter) -> Result<Vec<StoredProposal>, LedgerError> {
        let f = f.clone();
        self.readers.run(move |c| {
            let (sql, w) = query::proposals_sql(&f);
            rows::all(c.rows(&sql, &w.params())?, rows::proposal)
        })
    }

    pub(crate) fn receipts(&self, proposal_id: &str) -> Result<Vec<StoredReceipt>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM writeback_receipts WHERE proposal_id = $1 ORDER BY receipt_id",
                rows::RECEIPT
            );
            rows::all(c.rows(&sql, &[&id])?, rows::receipt)
        })
    }

    pub(crate) fn receipt(&self, receipt_id: i64) -> Result<StoredReceipt, LedgerError> {
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM writeback_receipts WHERE receipt_id = $1",
                rows::RECEIPT
            );
            match c.row_opt(&sql, &[&receipt_id])? {
                Some(row) => rows::receipt(&row),
                None => Err(not_found("writeback receipt", receipt_id.to_string())),
            }
        })
    }

    pub(crate) fn list_receipts(&self, f: &Filter) -> Result<Vec<StoredReceipt>, LedgerError> {
        let f = f.clone();
        self.readers.run(move |c| {
            let (sql, w) = query::receipts_sql(&f);
            rows::all(c.rows(&sql, &w.params())?, rows::receipt)
        })
    }

    pub(crate) fn evidence(&self, id: &str) -> Result<StoredEvidence, LedgerError> {
        let id = id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM evidence_bundles WHERE evidence_bundle_id = $1",
                rows::EVIDENCE
            );
            let Some(row) = c.row_opt(&sql, &[&id])? else {
                return Err(not_found("evidence bundle", id.as_str()));
            };
            let mut bundle = rows::evidence(&row, true)?;
            bundle.query_audit = audits_of_bundle(c, &bundle.evidence_bundle_id)?;
            Ok(bundle)
        })
    }

    pub(crate) fn evidence_for_proposal(
        &self,
        proposal_id: &str,
    ) -> Result<Vec<StoredEvidence>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM evidence_bundles WHERE proposal_id = $1 ORDER BY seq",
                rows::EVIDENCE
            );
            let mut bundles = rows::all(c.rows(&sql, &[&id])?, |r| rows::evidence(r, true))?;
            for b in &mut bundles {
                b.query_audit = audits_of_bundle(c, &b.evidence_bundle_id)?;
            }
            Ok(bundles)
        })
    }

    pub(crate) fn list_evidence(&self, f: &Filter) -> Result<Vec<StoredEvidence>, LedgerError> {
        let f = f.clone();
        self.readers.run(move |c| {
            let (sql, w) = query::evidence_sql(&f);
            rows::all(c.rows(&sql, &w.params())?, |r| rows::evidence(r, false))
        })
    }

    pub(crate) fn query_audit(&self, audit_id: i64) -> Result<StoredQueryAudit, LedgerError> {
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM query_audit WHERE audit_id = $1",
                rows::AUDIT
            );
            match c.row_opt(&sql, &[&audit_id])? {
                Some(row) => rows::audit(&row),
                None => Err(not_found("query audit record", audit_id.to_string())),
            }
        })
    }

    pub(crate) fn list_query_audit(
        &self,
        f: &Filter,
    ) -> Result<Vec<StoredQueryAudit>, LedgerError> {
        let f = f.clone();
        self.readers.run(move |c| {
            let (sql, w) = query::audits_sql(&f);
            rows::all(c.rows(&sql, &w.params())?, rows::audit)
        })
    }

    pub(crate) fn query_audit_for_proposal(
        &self,
        proposal_id: &str,
    ) -> Result<Vec<StoredQueryAudit>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM query_audit WHERE proposal_id = $1 ORDER BY audit_id",
                rows::AUDIT
            );
            rows::all(c.rows(&sql, &[&id])?, rows::audit)
        })
    }

    pub(crate) fn proposal_for_evidence(
        &self,
        evidence_id: &str,
    ) -> Result<Option<String>, LedgerError> {
        let id = evidence_id.to_string();
        self.readers.run(move |c| {
            let direct = c.row_opt(
                "SELECT proposal_id FROM evidence_bundles WHERE evidence_bundle_id = $1",
                &[&id],
            )?;
            if let Some(Some(p)) = direct.map(|r| r.try_get::<_, Option<String>>(0)).transpose()? {
                return Ok(Some(p));
            }
            Ok(c
                .row_opt(
                    "SELECT proposal_id FROM query_audit WHERE evidence_bundle_id = $1 AND proposal_id IS NOT NULL ORDER BY audit_id DESC LIMIT 1",
                    &[&id],
                )?
                .map(|r| r.try_get(0))
                .transpose()?)
        })
    }

    pub(crate) fn jobs(&self, proposal_id: &str) -> Result<Vec<StoredJob>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM writeback_jobs WHERE proposal_id = $1 ORDER BY created_at, seq",
                rows::JOB
            );
            rows::all(c.rows(&sql, &[&id])?, rows::job)
        })
    }

    pub(crate) fn job_for_proposal(
        &self,
        proposal_id: &str,
    ) -> Result<Option<(String, serde_json::Value)>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            let Some(row) = c.row_opt(
                "SELECT writeback_job_id, job_json FROM writeback_jobs WHERE proposal_id = $1 ORDER BY updated_at DESC, seq DESC LIMIT 1",
                &[&id],
            )?
            else {
                return Ok(None);
            };
            let json: String = row.try_get(1)?;
            Ok(Some((row.try_get(0)?, serde_json::from_str(&json)?)))
        })
    }

    pub(crate) fn decisions(&self, proposal_id: &str) -> Result<Vec<DecisionRecord>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| decisions_on(c, &id))
    }

    /// Exact counts (each a scan of its table's primary key) and the database's size.
    pub(crate) fn stats(&self, label: String) -> Result<Stats, LedgerError> {
        self.readers.run(move |c| {
            let mut count = |sql: &str| -> Result<i64, LedgerError> {
                Ok(c.row(sql, &[])?.try_get(0)?)
            };
            let proposals = count("SELECT COUNT(*) FROM proposals")?;
            let evidence_bundles = count("SELECT COUNT(*) FROM evidence_bundles")?;
            let evidence_items = count(
                "SELECT COALESCE(SUM(json_array_length(items_json::json)), 0)::bigint FROM evidence_bundles",
            )?;
            let query_audit = count("SELECT COUNT(*) FROM query_audit")?;
            let writeback_receipts = count("SELECT COUNT(*) FROM writeback_receipts")?;
            let writeback_jobs = count("SELECT COUNT(*) FROM writeback_jobs")?;
            let idempotency_receipts = count("SELECT COUNT(*) FROM idempotency_receipts")?;
            let replay_records = count("SELECT COUNT(*) FROM replay_records")?;
            let approvals = count("SELECT COUNT(*) FROM approvals")?;
            let proposal_events = count("SELECT COUNT(*) FROM proposal_events")?;
            let bytes = count("SELECT pg_database_size(current_database())")?;
            let page_size = count("SELECT current_setting('block_size')::bigint")?;
            Ok(Stats {
                path: label.clone(),
                proposals,
                evidence_bundles,
                evidence_items,
                query_audit,
                writeback_receipts,
                writeback_jobs,
                idempotency_receipts,
                replay_records,
                approvals,
                proposal_events,
                shadow_human_actions: 0,
                page_count: bytes / page_size.max(1),
                page_size,
                approx_bytes: bytes,
                wal_bytes: 0,
                bytes_per_call: match evidence_bundles {
                    0 => 0,
                    calls => bytes / calls,
                },
            })
        })
    }

    /// Every proposal id, in recording order (`store verify`).
    pub(crate) fn proposal_ids(&self) -> Result<Vec<String>, LedgerError> {
        self.readers.run(|c| {
            c.rows("SELECT proposal_id FROM proposals ORDER BY seq", &[])?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        })
    }

    /// Every record of one proposal that its chain covers, read in one snapshot (a writer
    /// committing in between would pair a state with events it has not caught up with).
    pub(crate) fn proposal_records(&self, id: &str) -> Result<ProposalRecords, LedgerError> {
        let id = id.to_string();
        self.readers.run(move |c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let sql = format!(
                "SELECT {}, change_set_json FROM proposals WHERE proposal_id = $1",
                rows::PROPOSAL
            );
            let Some(row) = tx.row_opt(&sql, &[&id])? else {
                return Err(not_found("proposal", id.as_str()));
            };
            let proposal = rows::proposal(&row)?;
            let change_set_json: String = row.try_get(18)?;
            let events = tx
                .rows(
                    "SELECT event_id, kind, actor, payload_json, created_at, prev_hash, chain_hash FROM proposal_events WHERE proposal_id = $1 ORDER BY event_id",
                    &[&id],
                )?
                .iter()
                .map(|r| {
                    Ok(ChainEvent {
                        id: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        actor: r.try_get(2)?,
                        // Unparseable payload JSON cannot hash to its link: kept as text.
                        payload: parse(r.try_get(3)?),
                        created_at: r.try_get(4)?,
                        prev_hash: r.try_get(5)?,
                        chain_hash: r.try_get(6)?,
                    })
                })
                .collect::<Result<Vec<_>, LedgerError>>()?;
            let pairs = |tx: &mut postgres::Transaction<'_>, sql: &str| {
                tx.rows(sql, &[&id])?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<Vec<(String, String)>, LedgerError>>()
            };
            let jobs = pairs(
                &mut tx,
                "SELECT writeback_job_id, job_json FROM writeback_jobs WHERE proposal_id = $1 ORDER BY seq",
            )?;
            let receipts = pairs(
                &mut tx,
                "SELECT writeback_job_id, receipt_json FROM writeback_receipts WHERE proposal_id = $1 ORDER BY receipt_id",
            )?;
            let sql = format!(
                "SELECT {} FROM approvals WHERE proposal_id = $1 ORDER BY approval_id",
                rows::DECISION
            );
            let decisions = rows::all(tx.rows(&sql, &[&id])?, rows::decision)?;
            tx.commit()?;
            Ok(ProposalRecords {
                columns: Some(ProposalColumns::of(&proposal)),
                proposal_id: id.clone(),
                proposal_version: proposal.proposal_version,
                proposal_hash: proposal.proposal_hash,
                state: proposal.state,
                created_at: proposal.created_at,
                change_set_json,
                events,
                decisions,
                jobs,
                receipts,
                shadow_actions: Vec::new(),
            })
        })
    }
}

fn audits_of_bundle(c: &mut Client, bundle_id: &str) -> Result<Vec<StoredQueryAudit>, LedgerError> {
    let sql = format!(
        "SELECT {} FROM query_audit WHERE evidence_bundle_id = $1 ORDER BY audit_id",
        rows::AUDIT
    );
    rows::all(c.rows(&sql, &[&bundle_id])?, rows::audit)
}

fn decisions_on(c: &mut Client, proposal_id: &str) -> Result<Vec<DecisionRecord>, LedgerError> {
    let sql = format!(
        "SELECT {} FROM approvals WHERE proposal_id = $1 ORDER BY approval_id",
        rows::DECISION
    );
    rows::all(c.rows(&sql, &[&proposal_id])?, rows::decision)
}
