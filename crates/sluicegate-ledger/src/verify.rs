//! `store verify`: check every proposal's hash chain, every record against the digest its
//! event carries, every decision against its event and signature, and the `state` column
//! against what the records say.
//!
//! It reports the first broken link of each proposal: after one break, later links of the
//! same chain prove nothing.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluicegate_core::chain;
use sluicegate_core::config::Reviewer;
use sluicegate_core::decision::{DecisionRecord, Verdict, parse_public_key};
use sluicegate_core::lifecycle::{ReceiptOutcome, State, Transition, transition};
use sluicegate_core::proposal::{content_hash, proposal_hash};
use sluicegate_protocol::ChangeSet;

use crate::read::decisions_on;
use crate::views::StoredProposal;
use crate::write::{action_digest, load_proposal_opt};
use crate::{Ledger, LedgerError};

/// What `store verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub proposals: u64,
    pub events: u64,
    pub decisions: u64,
    pub signed_decisions: u64,
    /// Broken links: the ledger was changed outside Sluicegate.
    pub problems: Vec<Problem>,
    /// Things worth knowing that prove no tampering (unsigned decisions while reviewers are
    /// configured, records from before the chain existed).
    pub notes: Vec<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One finding, located as precisely as the ledger allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub proposal_id: String,
    /// The event where the chain breaks, when the finding is about one.
    pub event_id: Option<i64>,
    /// `proposal`, `event`, `decision`, `job`, `receipt`, `shadow_action`, `state` or `link`.
    pub record: &'static str,
    pub message: String,
}

/// One chained event as stored. `payload` is the parsed `payload_json` (text that does not
/// parse is kept as a string, which cannot hash to its recorded link).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainEvent {
    #[serde(rename = "event_id")]
    pub id: i64,
    pub kind: String,
    pub actor: String,
    pub payload: Value,
    pub created_at: String,
    pub prev_hash: String,
    pub chain_hash: String,
}

impl Ledger {
    /// Verify every proposal. `reviewers` are the configured reviewers (empty: signatures are
    /// checked against the key recorded beside them only).
    pub fn verify(&self, reviewers: &[Reviewer]) -> Result<VerifyReport, LedgerError> {
        if let Some(pg) = self.pg() {
            let mut report = VerifyReport::default();
            for id in pg.proposal_ids()? {
                check_records(&pg.proposal_records(&id)?, reviewers, &mut report);
            }
            return Ok(report);
        }
        // Read as bytes: an id that is not UTF-8 (an edit) is reported, not a failed run.
        let ids: Vec<String> = {
            let conn = self.conn()?;
            let mut stmt =
                conn.prepare("SELECT CAST(proposal_id AS BLOB) FROM proposals ORDER BY rowid")?;
            stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?
                .map(|id| id.map(|id| String::from_utf8_lossy(&id).into_owned()))
                .collect::<Result<_, _>>()?
        };
        let mut report = VerifyReport::default();
        for id in ids {
            // One record that cannot even be read (a column edited to a value of the wrong
            // type) is a finding about its proposal; the rest are still checked.
            if let Err(e) = self.verify_into(&id, reviewers, &mut report) {
                report.proposals += 1;
                report.problems.push(Problem {
                    proposal_id: id,
                    event_id: None,
                    record: "proposal",
                    message: format!("its records cannot be read ({e}): they were edited"),
                });
            }
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(crate::links::MISLINKED)?;
        let mislinked = stmt.query_map([], |r| {
            Ok(Problem {
                proposal_id: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(0)?).into_owned(),
                event_id: None,
                record: "link",
                message: format!(
                    "{} row {} names this proposal but is linked to another one's records (its proposal_seq was edited)",
                    r.get::<_, String>(1)?,
                    String::from_utf8_lossy(&r.get::<_, Vec<u8>>(2)?)
                ),
            })
        })?;
        for problem in mislinked {
            report.problems.push(problem?);
        }
        Ok(report)
    }

    /// Verify one proposal.
    pub fn verify_proposal(
        &self,
        proposal_id: &str,
        reviewers: &[Reviewer],
    ) -> Result<VerifyReport, LedgerError> {
        if let Some(pg) = self.pg() {
            let mut report = VerifyReport::default();
            check_records(&pg.proposal_records(proposal_id)?, reviewers, &mut report);
            return Ok(report);
        }
        let mut report = VerifyReport::default();
        self.verify_into(proposal_id, reviewers, &mut report)?;
        Ok(report)
    }

    fn verify_into(
        &self,
        id: &str,
        reviewers: &[Reviewer],
        report: &mut VerifyReport,
    ) -> Result<(), LedgerError> {
        let records = self.proposal_records(id)?;
        check_records(&records, reviewers, report);
        Ok(())
    }

    /// Every record of one proposal that its chain covers, as of one commit. Read one by one,
    /// a writer committing in between (another process applying it) would pair a `state`
    /// column with events it has not caught up with, and look like an edit.
    pub(crate) fn proposal_records(&self, id: &str) -> Result<ProposalRecords, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.proposal_records(id);
        }
        let conn = self.conn()?;
        let snapshot = conn.unchecked_transaction()?;
        let proposal = load_proposal_opt(&snapshot, id)?.ok_or_else(|| LedgerError::NotFound {
            what: "proposal",
            id: id.to_string(),
        })?;
        let change_set_json: String = snapshot.query_row(
            "SELECT change_set_json FROM proposals WHERE proposal_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let records = ProposalRecords {
            columns: Some(ProposalColumns::of(&proposal)),
            proposal_id: id.to_string(),
            proposal_version: proposal.proposal_version,
            proposal_hash: proposal.proposal_hash,
            state: proposal.state,
            created_at: proposal.created_at,
            change_set_json,
            events: chain_events(&snapshot, id)?,
            decisions: decisions_on(&snapshot, id)?,
            jobs: raw_rows(
                &snapshot,
                "SELECT writeback_job_id, job_json FROM writeback_jobs WHERE proposal_id = ?1 ORDER BY rowid",
                id,
            )?,
            receipts: raw_rows(
                &snapshot,
                "SELECT writeback_job_id, receipt_json FROM writeback_receipts WHERE proposal_id = ?1 ORDER BY receipt_id",
                id,
            )?,
            shadow_actions: shadow_rows(&snapshot, id)?,
        };
        drop(snapshot);
        Ok(records)
    }
}

/// Everything about one proposal that its hash chain vouches for, exactly as stored (texts
/// whose digests events carry stay text). `store verify` checks it read from the ledger, and
/// `store verify --export` checks it read back from an export line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProposalRecords {
    pub proposal_id: String,
    pub proposal_version: u32,
    pub proposal_hash: String,
    pub state: String,
    pub created_at: String,
    pub change_set_json: String,
    pub events: Vec<ChainEvent>,
    pub decisions: Vec<DecisionRecord>,
    /// `(writeback_job_id, job_json)`.
    pub jobs: Vec<(String, String)>,
    /// `(writeback_job_id, receipt_json)`.
    pub receipts: Vec<(String, String)>,
    #[serde(default)]
    pub shadow_actions: Vec<ShadowRow>,
    /// The row's columns that views and filters read (absent from exports written before
    /// they were checked).
    #[serde(default)]
    pub columns: Option<ProposalColumns>,
}

/// The columns of a proposal's row that `proposals list` and `show`, replay, the review UI
/// and the filters read: the tenant, the target row, who proposed what. They are stored
/// beside the change set and its hash does not cover them, so a ledger edit could show a
/// reviewer one row while the change set (what is signed and applied) targets another.
/// `store verify`, every decision and every apply compare them with the change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalColumns {
    pub action: String,
    pub tenant_id: String,
    /// `None` in rows recorded before the column existed: nothing to compare.
    pub principal: Option<String>,
    pub capability: Option<String>,
    pub business_object: String,
    pub object_id: String,
    pub source_kind: String,
    pub source_id: String,
    pub source_schema: String,
    pub source_table: String,
}

impl ProposalColumns {
    pub(crate) fn of(p: &StoredProposal) -> ProposalColumns {
        ProposalColumns {
            action: p.action.clone(),
            tenant_id: p.tenant_id.clone(),
            principal: p.principal.clone(),
            capability: p.capability.clone(),
            business_object: p.business_object.clone(),
            object_id: p.object_id.clone(),
            source_kind: p.source_kind.clone(),
            source_id: p.source_id.clone(),
            source_schema: p.source_schema.clone(),
            source_table: p.source_table.clone(),
        }
    }

    /// The first column that disagrees with what recording `cs` writes (both ledgers), as
    /// `(column, stored, from the change set)`.
    fn disagreement(&self, cs: &ChangeSet) -> Option<(&'static str, String, String)> {
        let mut pairs: Vec<(&'static str, &str, &str)> = vec![
            ("action", &self.action, &cs.action),
            ("tenant_id", &self.tenant_id, &cs.scope.tenant_id),
            (
                "business_object",
                &self.business_object,
                &cs.scope.business_object,
            ),
            ("object_id", &self.object_id, &cs.scope.object_id),
            ("source_kind", &self.source_kind, &cs.source.kind),
            ("source_id", &self.source_id, &cs.source.source_id),
            ("source_schema", &self.source_schema, &cs.source.schema),
            ("source_table", &self.source_table, &cs.source.table),
        ];
        if let Some(principal) = &self.principal {
            pairs.push(("principal", principal, &cs.principal.id));
        }
        if let Some(capability) = &self.capability {
            pairs.push(("capability", capability, &cs.action));
        }
        pairs
            .into_iter()
            .find(|(_, stored, want)| stored != want)
            .map(|(column, stored, want)| (column, stored.to_string(), want.to_string()))
    }
}

/// A human action of shadow mode, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShadowRow {
    pub action_id: i64,
    pub actor: String,
    pub patch_json: String,
    pub notes: Option<String>,
    pub created_at: String,
}

/// Check one proposal's records; its first problem (if any) goes into `report`.
pub fn check_records(r: &ProposalRecords, reviewers: &[Reviewer], report: &mut VerifyReport) {
    let id = r.proposal_id.as_str();
    let events = &r.events;
    report.proposals += 1;
    report.events += events.len() as u64;
    report.decisions += r.decisions.len() as u64;
    report.signed_decisions += r.decisions.iter().filter(|d| d.signature.is_some()).count() as u64;
    let mut check = Check {
        id,
        problems: Vec::new(),
        notes: &mut report.notes,
    };
    let cs: Option<ChangeSet> = serde_json::from_str(&r.change_set_json).ok();
    match &cs {
        None => check.problem(
            None,
            "proposal",
            "the stored change set is not valid JSON for a change set",
        ),
        Some(cs) => {
            let hash = content_hash(cs);
            if hash != r.proposal_hash || hash != proposal_hash(cs) {
                check.problem(
                    None,
                    "proposal",
                    "the change set no longer hashes to its recorded hash: it was edited",
                );
            }
        }
    }
    check.chain(events);
    check.created(events, &r.change_set_json);
    check.decisions(events, &r.decisions, &r.proposal_hash, reviewers);
    check.digests(events, &r.jobs, "job", "job_sha256");
    check.digests(events, &r.receipts, "receipt", "receipt_sha256");
    check.shadow(events, &r.shadow_actions);
    let initial = match cs.as_ref().map(|c| c.approval.status.as_str()) {
        Some("approved") => State::Approved,
        Some("rejected") => State::Rejected,
        Some("canceled") => State::Canceled,
        _ => State::PendingReview,
    };
    check.state(events, initial, &r.state);
    // Last, so an edit the chain or the decisions already show is reported as such.
    if let Some(cs) = &cs {
        check.columns(r, cs);
    }
    // One broken link per proposal: after it, later links prove nothing.
    if let Some(first) = check.problems.into_iter().next() {
        report.problems.push(first);
    }
}

fn shadow_rows(conn: &Connection, id: &str) -> Result<Vec<ShadowRow>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT action_id, actor, patch_json, notes, created_at FROM shadow_human_actions WHERE proposal_id = ?1 ORDER BY action_id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(ShadowRow {
            action_id: r.get(0)?,
            actor: r.get(1)?,
            patch_json: r.get(2)?,
            notes: r.get(3)?,
            created_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn chain_events(conn: &Connection, id: &str) -> Result<Vec<ChainEvent>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT event_id, kind, actor, payload_json, created_at, prev_hash, chain_hash FROM proposal_events WHERE proposal_seq = {} ORDER BY event_id",
        crate::links::SEQ_OF
    ))?;
    let rows = stmt.query_map(params![id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, kind, actor, payload, created_at, prev_hash, chain_hash) = row?;
        out.push(ChainEvent {
            id,
            kind,
            actor,
            // Unparseable payload JSON cannot hash to the recorded link: leave it as text.
            payload: serde_json::from_str(&payload).unwrap_or(Value::String(payload)),
            created_at,
            prev_hash,
            chain_hash,
        });
    }
    Ok(out)
}

/// `(id, exact stored text)` pairs of one proposal's jobs or receipts.
fn raw_rows(conn: &Connection, sql: &str, id: &str) -> Result<Vec<(String, String)>, LedgerError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The findings about one proposal.
struct Check<'a> {
    id: &'a str,
    problems: Vec<Problem>,
    notes: &'a mut Vec<Problem>,
}

impl Check<'_> {
    fn problem(&mut self, event_id: Option<i64>, record: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            proposal_id: self.id.to_string(),
            event_id,
            record,
            message: message.into(),
        });
    }

    fn note(&mut self, event_id: Option<i64>, record: &'static str, message: impl Into<String>) {
        self.notes.push(Problem {
            proposal_id: self.id.to_string(),
            event_id,
            record,
            message: message.into(),
        });
    }

    /// The row's version and the columns views read agree with the change set.
    fn columns(&mut self, r: &ProposalRecords, cs: &ChangeSet) {
        if r.proposal_version != cs.proposal_version {
            self.problem(
                None,
                "proposal",
                format!(
                    "the proposal's row says version {} where its change set says {}: it was edited",
                    r.proposal_version, cs.proposal_version
                ),
            );
        }
        if let Some((column, stored, want)) = r.columns.as_ref().and_then(|c| c.disagreement(cs)) {
            self.problem(
                None,
                "proposal",
                format!(
                    "the proposal's row says {column} {stored:?} where its change set says {want:?}: it was edited, and what a reviewer is shown is not what would be applied"
                ),
            );
        }
    }

    fn chain(&mut self, events: &[ChainEvent]) {
        let links: Vec<chain::Link> = events
            .iter()
            .map(|e| chain::Link {
                kind: &e.kind,
                actor: &e.actor,
                payload: &e.payload,
                created_at: &e.created_at,
                prev_hash: &e.prev_hash,
                hash: &e.chain_hash,
            })
            .collect();
        if let Err(b) = chain::verify(self.id, &links) {
            let e = &events[b.index];
            self.problem(
                Some(e.id),
                "event",
                format!("event {} ({}) {}", e.id, e.kind, b.reason),
            );
        }
    }

    fn created(&mut self, events: &[ChainEvent], cs_json: &str) {
        let Some(first) = events.first().filter(|e| e.kind == "proposal_created") else {
            self.problem(None, "event", "the proposal has no creation event");
            return;
        };
        match first
            .payload
            .get("change_set_sha256")
            .and_then(Value::as_str)
        {
            Some(d) if d == chain::digest(cs_json) => {}
            Some(_) => self.problem(
                Some(first.id),
                "proposal",
                "the stored change set is not the one recorded at creation",
            ),
            None => self.note(
                Some(first.id),
                "proposal",
                "created before schema version 4: no digest of the change set to compare",
            ),
        }
    }

    fn decisions(
        &mut self,
        events: &[ChainEvent],
        decisions: &[DecisionRecord],
        stored_hash: &str,
        reviewers: &[Reviewer],
    ) {
        let decided: Vec<&ChainEvent> = events
            .iter()
            .filter(|e| matches!(e.kind.as_str(), "proposal_approved" | "proposal_rejected"))
            .collect();
        if decided.len() != decisions.len() {
            self.problem(
                decided.first().map(|e| e.id),
                "decision",
                format!(
                    "{} decision records but {} decision events: a decision was added or removed",
                    decisions.len(),
                    decided.len()
                ),
            );
            return;
        }
        for (event, d) in decided.iter().zip(decisions) {
            let verdict_kind = match d.verdict {
                Verdict::Approve => "proposal_approved",
                Verdict::Reject => "proposal_rejected",
            };
            match event
                .payload
                .get("decision")
                .cloned()
                .map(serde_json::from_value::<DecisionRecord>)
            {
                Some(Ok(recorded)) if recorded == *d && event.kind == verdict_kind => {}
                Some(_) => {
                    self.problem(
                        Some(event.id),
                        "decision",
                        "the decision record differs from the decision its event recorded",
                    );
                    continue;
                }
                None => self.note(
                    Some(event.id),
                    "decision",
                    "decided before schema version 4: the event holds no copy of the decision",
                ),
            }
            if d.content_hash != stored_hash {
                self.problem(
                    Some(event.id),
                    "decision",
                    "the decision is bound to other content than the proposal's",
                );
            }
            self.signature(event.id, d, reviewers);
        }
    }

    fn signature(&mut self, event_id: i64, d: &DecisionRecord, reviewers: &[Reviewer]) {
        let configured = reviewers.iter().find(|r| r.name == d.reviewer);
        let key = match (&d.signature, &d.reviewer_key, configured) {
            (None, _, _) if reviewers.is_empty() => return,
            (None, _, _) => {
                self.note(
                    Some(event_id),
                    "decision",
                    format!(
                        "{} decision by {} is not signed",
                        d.verdict.status(),
                        d.reviewer
                    ),
                );
                return;
            }
            (Some(_), Some(k), Some(r)) if *k != r.public_key => {
                self.problem(
                    Some(event_id),
                    "decision",
                    format!(
                        "signed with a key that is not {}'s configured key",
                        d.reviewer
                    ),
                );
                return;
            }
            (Some(_), _, None) if !reviewers.is_empty() => {
                self.problem(
                    Some(event_id),
                    "decision",
                    format!("signed by {}, who is not a configured reviewer", d.reviewer),
                );
                return;
            }
            (Some(_), Some(k), _) => k.clone(),
            (Some(_), None, _) => {
                self.problem(Some(event_id), "decision", "signed without a recorded key");
                return;
            }
        };
        let ok = parse_public_key(&key)
            .ok()
            .is_some_and(|k| d.verify(&k).is_ok());
        if !ok {
            self.problem(
                Some(event_id),
                "decision",
                "the decision's signature does not verify",
            );
        }
    }

    /// Each stored job or receipt matches the digest of one event that recorded it.
    fn digests(
        &mut self,
        events: &[ChainEvent],
        rows: &[(String, String)],
        record: &'static str,
        key: &str,
    ) {
        for (job_id, text) in rows {
            let digest = chain::digest(text);
            let mut recorded = events.iter().filter(|e| {
                e.payload.get("writeback_job_id").and_then(Value::as_str) == Some(job_id.as_str())
                    && e.payload.get(key).is_some()
            });
            let matched = recorded
                .clone()
                .any(|e| e.payload.get(key).and_then(Value::as_str) == Some(digest.as_str()));
            if matched {
                continue;
            }
            match recorded.next() {
                Some(e) => self.problem(Some(e.id), record, format!("{record} {job_id} is not the one its event recorded")),
                None => self.note(None, record, format!("{record} {job_id} has no event with its digest (recorded before schema version 4, or added outside Sluicegate)")),
            }
        }
    }

    /// Each shadow-mode human action matches the digest its event recorded.
    fn shadow(&mut self, events: &[ChainEvent], rows: &[ShadowRow]) {
        for row in rows {
            let digest = action_digest(&row.actor, &row.patch_json, row.notes.as_deref());
            let recorded = events.iter().find(|e| {
                e.kind == "shadow_human_action_recorded"
                    && e.payload.get("action_id").and_then(Value::as_i64) == Some(row.action_id)
            });
            match recorded {
                Some(e)
                    if e.payload.get("action_sha256").and_then(Value::as_str)
                        == Some(digest.as_str()) => {}
                Some(e) => self.problem(
                    Some(e.id),
                    "shadow_action",
                    format!(
                        "human action {} is not the one its event recorded",
                        row.action_id
                    ),
                ),
                None => self.problem(
                    None,
                    "shadow_action",
                    format!(
                        "human action {} has no event: it was added outside Sluicegate",
                        row.action_id
                    ),
                ),
            }
        }
    }

    /// The `state` column is what the recorded transitions lead to.
    fn state(&mut self, events: &[ChainEvent], initial: State, column: &str) {
        let mut state = initial;
        for e in events {
            let t = match e.kind.as_str() {
                "proposal_approved" => Transition::Approve,
                "proposal_rejected" => Transition::Reject,
                "writeback_job_recorded" | "handler_writeback_job_recorded" => {
                    Transition::QueueForWorker
                }
                "writeback_applied" | "writeback_already_applied" => {
                    Transition::Receipt(ReceiptOutcome::Applied)
                }
                "writeback_conflict" => Transition::Receipt(ReceiptOutcome::Conflict),
                "writeback_failed" => Transition::Receipt(ReceiptOutcome::Failed),
                "writeback_canceled" => Transition::Receipt(ReceiptOutcome::Canceled),
                _ => continue,
            };
            match transition(state, t) {
                Ok(next) => state = next,
                Err(_) => {
                    self.problem(
                        Some(e.id),
                        "state",
                        format!(
                            "event {} ({}) is not a legal step from {}",
                            e.id,
                            e.kind,
                            state.as_str()
                        ),
                    );
                    return;
                }
            }
        }
        if state.as_str() != column {
            self.problem(
                None,
                "state",
                format!(
                    "the state column says {column} but the records say {}",
                    state.as_str()
                ),
            );
        }
    }
}
