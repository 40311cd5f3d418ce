//! `store export`: a time range of the ledger as JSON lines, and `store verify --export`, which
//! re-checks every proposal's hash chain from an export file alone.
//!
//! Line 1 is a header (`schema_version` = `LEDGER_EXPORT_V1`). Then one `proposal` line per
//! proposal created in the range, carrying every record its chain covers exactly as stored
//! ([`ProposalRecords`]: the change set and job and receipt texts whose digests its events
//! hold), then `evidence_bundle` and `query_audit` lines (the views `evidence show` and
//! `query-audit show` print). A proposal line is verified exactly as `store verify` verifies
//! the ledger ([`check_records`]); evidence and audit lines are carried, not chained.

use rusqlite::params;
use serde::Serialize;
use serde_json::{Value, json};
use sluicegate_core::config::Reviewer;
use sluicegate_protocol::LEDGER_EXPORT_V1;

use crate::verify::{ProposalRecords, check_records};
use crate::views::{StoredEvidence, StoredQueryAudit};
use crate::{Ledger, LedgerError, SCHEMA_VERSION, VerifyReport};

/// The `record` value of a proposal line.
pub const EXPORT_RECORD_PROPOSAL: &str = "proposal";

/// How many records an export wrote.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ExportCounts {
    pub proposals: u64,
    pub evidence_bundles: u64,
    pub query_audit: u64,
}

/// Proposals created in `[from, to]`, oldest first (served by `idx_proposals_created`).
pub(crate) const EXPORT_PROPOSALS: &str = "SELECT proposal_id FROM proposals WHERE created_at >= ?1 AND created_at <= ?2 ORDER BY created_at, rowid";
/// Evidence bundles created in `[from, to]`: a rowid range found through the time keys of
/// `evidence_keys` (bundles above its mark are the unindexed tail).
pub(crate) const EXPORT_EVIDENCE: &str = "SELECT evidence_bundle_id, proposal_id, tenant_id, principal, capability, source_id, source_table, business_object, object_id, query_fingerprint, payload_json, created_at, items_json FROM evidence_bundles WHERE rowid >= COALESCE((SELECT bundle_rowid FROM evidence_keys WHERE kind = 'd' AND value >= substr(?1, 1, 16) ORDER BY value, bundle_rowid LIMIT 1), (SELECT CAST(value_json AS INTEGER) + 1 FROM runner_state WHERE key = 'evidence_keys_upto'), 0) AND rowid < COALESCE((SELECT bundle_rowid FROM evidence_keys WHERE kind = 'd' AND value > substr(?2, 1, 16) ORDER BY value, bundle_rowid LIMIT 1), 9223372036854775807) AND created_at >= ?1 AND created_at <= ?2 ORDER BY rowid";
/// Query-audit records between two audit ids (a rowid range; audit ids follow recording time).
pub(crate) fn export_audit_sql() -> String {
    format!(
        "SELECT {} FROM query_audit WHERE audit_id >= ?1 AND audit_id < ?2 ORDER BY audit_id",
        StoredQueryAudit::COLUMNS
    )
}
/// The first audit record at or after a given audit id (a rowid search).
pub(crate) const AUDIT_AT: &str =
    "SELECT audit_id, created_at FROM query_audit WHERE audit_id >= ?1 ORDER BY audit_id LIMIT 1";

#[derive(Serialize)]
struct ProposalLine<'a> {
    record: &'static str,
    #[serde(flatten)]
    records: &'a ProposalRecords,
}

impl Ledger {
    /// Write the records created in `[from, to]` (RFC 3339 prefixes; open ends when `None`)
    /// through `line`, one JSON value per line, header first.
    pub fn export(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        exported_at: &str,
        line: &mut dyn FnMut(&Value) -> Result<(), LedgerError>,
    ) -> Result<ExportCounts, LedgerError> {
        let lo = from.unwrap_or("");
        // Every timestamp starts with a digit; `~` sorts after all of them.
        let hi = to.map_or_else(|| "~".to_string(), |t| format!("{t}~"));
        line(&json!({
            "schema_version": LEDGER_EXPORT_V1,
            "record": "export",
            "ledger_schema_version": match self.pg() {
                Some(_) => crate::POSTGRES_SCHEMA_VERSION,
                None => SCHEMA_VERSION,
            },
            "from": from,
            "to": to,
            "exported_at": exported_at,
        }))?;
        let mut counts = ExportCounts::default();
        let ids: Vec<String> = if let Some(pg) = self.pg() {
            pg.export_proposal_ids(lo, super::pg::range_end(to))?
        } else {
            let conn = self.conn()?;
            let mut stmt = conn.prepare(EXPORT_PROPOSALS)?;
            stmt.query_map(params![lo, hi], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for id in ids {
            let records = self.proposal_records(&id)?;
            line(&serde_json::to_value(ProposalLine {
                record: EXPORT_RECORD_PROPOSAL,
                records: &records,
            })?)?;
            counts.proposals += 1;
        }
        let bundles: Vec<StoredEvidence> = if let Some(pg) = self.pg() {
            pg.export_evidence(lo, super::pg::range_end(to))?
        } else {
            let conn = self.conn()?;
            let mut stmt = conn.prepare(EXPORT_EVIDENCE)?;
            stmt.query_map(params![lo, hi], StoredEvidence::from_row_with_items)?
                .collect::<Result<_, _>>()?
        };
        for b in bundles {
            let mut v = serde_json::to_value(&b)?;
            tag(&mut v, "evidence_bundle");
            line(&v)?;
            counts.evidence_bundles += 1;
        }
        let audits: Vec<StoredQueryAudit> = if let Some(pg) = self.pg() {
            pg.export_audits(lo, super::pg::range_end(to))?
        } else {
            let (first, end) = (self.audit_id_at(lo)?, self.audit_id_at(&hi)?);
            let conn = self.conn()?;
            let mut stmt = conn.prepare(&export_audit_sql())?;
            stmt.query_map(params![first, end], StoredQueryAudit::from_row)?
                .collect::<Result<_, _>>()?
        };
        for a in audits {
            let mut v = serde_json::to_value(&a)?;
            tag(&mut v, "query_audit");
            line(&v)?;
            counts.query_audit += 1;
        }
        Ok(counts)
    }

    /// The smallest audit id recorded at or after `at` (one past the last when none is): a
    /// binary search over audit ids, which follow recording time, so no index on time is
    /// needed for the few lookups an export makes.
    fn audit_id_at(&self, at: &str) -> Result<i64, LedgerError> {
        let conn = self.conn()?;
        let max: i64 = conn.query_row(
            "SELECT COALESCE(MAX(audit_id), 0) FROM query_audit",
            [],
            |r| r.get(0),
        )?;
        let (mut lo, mut hi) = (0_i64, max + 1);
        let mut stmt = conn.prepare_cached(AUDIT_AT)?;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let found: Option<(i64, String)> =
                stmt.query_row([mid], |r| Ok((r.get(0)?, r.get(1)?))).ok();
            match found {
                Some((id, created)) if created.as_str() < at => lo = id + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }
}

/// Put `"record": kind` first in a record's JSON object.
fn tag(v: &mut Value, kind: &str) {
    if let Value::Object(map) = v {
        let mut tagged = serde_json::Map::new();
        tagged.insert("record".into(), Value::String(kind.into()));
        tagged.append(map);
        *map = tagged;
    }
}

/// What `store verify --export` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportCheck {
    pub report: VerifyReport,
    /// Lines that are not JSON, or proposal lines that do not hold a proposal's records:
    /// `(line number, reason)`.
    pub unreadable: Vec<(usize, String)>,
    pub header_ok: bool,
    pub evidence_bundles: u64,
    pub query_audit: u64,
}

impl ExportCheck {
    pub fn ok(&self) -> bool {
        self.header_ok && self.unreadable.is_empty() && self.report.ok()
    }
}

/// Re-check every proposal line of an export (given as its lines) the way `store verify`
/// checks the ledger.
pub fn verify_export<'a>(
    lines: impl Iterator<Item = &'a str>,
    reviewers: &[Reviewer],
) -> ExportCheck {
    let mut check = ExportCheck::default();
    for (i, text) in lines.enumerate() {
        let n = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                check.unreadable.push((n, format!("not JSON: {e}")));
                continue;
            }
        };
        if n == 1 {
            check.header_ok =
                value.get("schema_version").and_then(Value::as_str) == Some(LEDGER_EXPORT_V1);
            continue;
        }
        match value.get("record").and_then(Value::as_str) {
            Some(EXPORT_RECORD_PROPOSAL) => {
                match serde_json::from_value::<ProposalRecords>(value) {
                    Ok(records) => check_records(&records, reviewers, &mut check.report),
                    Err(e) => check.unreadable.push((
                        n,
                        format!("proposal line does not hold a proposal's records: {e}"),
                    )),
                }
            }
            Some("evidence_bundle") => check.evidence_bundles += 1,
            Some("query_audit") => check.query_audit += 1,
            other => check
                .unreadable
                .push((n, format!("unknown record kind {other:?}"))),
        }
    }
    // An empty file, or one whose first line is not JSON, has no header either.
    if !check.header_ok {
        check.unreadable.insert(
            0,
            (
                1,
                format!("not a Sluicegate ledger export (no {LEDGER_EXPORT_V1} header)"),
            ),
        );
    }
    check
}
