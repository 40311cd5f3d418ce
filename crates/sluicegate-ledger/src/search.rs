//! The one full-text index of proposals, shared by the review inbox's search and `activity
//! search --text`: a proposal's id, capability, target (source, schema, table, row, object
//! type), principal, tenant, proposed values (the agent's reason among them) and every
//! reviewer's reason.
//!
//! Recording never touches it. Kept by triggers (schema 11 to 12), it cost every proposal an
//! FTS insert on the write path and about 70 bytes per recorded call of a ledger nobody had
//! searched. Instead a search first brings it up to date ([`Ledger::index_for_search`]), on
//! the writer, a chunk at a time, so the space and the work are spent only by ledgers that
//! are searched, and only once per proposal.
//!
//! The index is contentless (`content=''`) with `contentless_delete=1`, keyed by the
//! proposal's rowid. Two things move it forward:
//! - proposals past the index's largest rowid (they are only ever appended) are indexed with
//!   the reasons already decided on them;
//! - decisions recorded since the mark [`DECISIONS_MARK`] whose proposal is already indexed
//!   rewrite that proposal's entry (`INSERT OR REPLACE`, which contentless-delete tables
//!   allow), so a reviewer's reason given after the last search is found by the next one.
//!
//! `store prune` may let SQLite hand a deleted proposal's rowid out again, so it empties the
//! index and resets the mark ([`forget_all`]); the next search rebuilds it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Ledger, LedgerError, Pending};

/// What the index holds of one row of `proposals` (text and numbers of the patch, not its
/// keys: a column name would match every proposal of its capability). A change set that
/// does not parse is indexed without its values.
const BODY: &str = "proposal_id || ' ' || action || ' ' || COALESCE(capability, '') || ' ' || source_id || ' ' || source_schema || ' ' || source_table || ' ' || object_id || ' ' || business_object || ' ' || COALESCE(principal, '') || ' ' || tenant_id \
 || COALESCE((SELECT ' ' || group_concat(value, ' ') FROM json_each(CASE WHEN json_valid(change_set_json) THEN change_set_json ELSE '{}' END, '$.patch') WHERE type IN ('text', 'integer', 'real')), '') \
 || COALESCE((SELECT ' ' || group_concat(a.reason, ' ') FROM approvals a WHERE a.proposal_id = proposals.proposal_id AND a.reason <> ''), '')";

/// Rows handled per writer job: a few milliseconds of the write lock each, so a server
/// recording meanwhile is never kept waiting long.
pub(crate) const INDEX_CHUNK: usize = 2000;

/// The `runner_state` key holding the highest `approvals` rowid already reflected in the index.
const DECISIONS_MARK: &str = "proposal_search_decisions_upto";

/// Appended to `schema::MIGRATIONS` (version 13): the inbox's index and schema 11's
/// trigger-kept `activity_text` become this one lazily filled index. O(1): it starts empty.
pub(crate) const MIGRATION: &str = r#"
DROP TRIGGER activity_text_proposal;
DROP TRIGGER activity_text_decision;
DROP TRIGGER activity_text_forget;
DROP TABLE activity_text;
DROP TABLE proposal_search;
CREATE VIRTUAL TABLE proposal_search USING fts5(body, content='', contentless_delete=1, tokenize='unicode61');
"#;

fn decisions_mark(conn: &Connection) -> Result<i64, LedgerError> {
    let mark: Option<String> = conn
        .prepare_cached("SELECT value_json FROM runner_state WHERE key = ?1")?
        .query_row([DECISIONS_MARK], |r| r.get(0))
        .optional()?;
    Ok(mark.and_then(|m| m.parse().ok()).unwrap_or(0))
}

fn set_decisions_mark(conn: &Connection, upto: i64, now: &str) -> Result<(), LedgerError> {
    conn.prepare_cached(
        "INSERT INTO runner_state (key, value_json, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at",
    )?
    .execute(params![DECISIONS_MARK, upto.to_string(), now])?;
    Ok(())
}

/// One step of bringing the index up to date: at most [`INDEX_CHUNK`] decisions and
/// [`INDEX_CHUNK`] proposals. Answers how many entries it wrote (0: up to date).
pub(crate) fn index_chunk(conn: &Connection, now: &str) -> Result<usize, LedgerError> {
    let indexed: i64 = conn.query_row(
        "SELECT COALESCE((SELECT rowid FROM proposal_search ORDER BY rowid DESC LIMIT 1), 0)",
        [],
        |r| r.get(0),
    )?;
    let mark = decisions_mark(conn)?;
    // Decisions since the mark, with their proposal's rowid when it is already indexed and
    // the decision gives a reason (the others change nothing the index holds).
    let decisions: Vec<(i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT a.rowid, CASE WHEN a.reason <> '' THEN (SELECT p.rowid FROM proposals p WHERE p.proposal_id = a.proposal_id) END \
             FROM approvals a WHERE a.rowid > ?1 ORDER BY a.rowid LIMIT ?2",
        )?
        .query_map(params![mark, INDEX_CHUNK as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut written = 0;
    let mut rewrite = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO proposal_search (rowid, body) SELECT rowid, {BODY} FROM proposals WHERE rowid = ?1"
    ))?;
    for (_, proposal) in &decisions {
        if let Some(p) = proposal.filter(|p| *p <= indexed) {
            written += rewrite.execute([p])?;
        }
    }
    if let Some((last, _)) = decisions.last() {
        set_decisions_mark(conn, *last, now)?;
    }
    // New proposals carry every reason decided so far; a later decision is the step above.
    written += conn
        .prepare_cached(&format!(
            "INSERT INTO proposal_search (rowid, body) SELECT rowid, {BODY} FROM proposals WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
        ))?
        .execute(params![indexed, INDEX_CHUNK as i64])?;
    Ok(written)
}

/// Empty the index and forget the decisions mark (after `store prune` deleted proposals:
/// their rowids, and their decisions' rowids, may be handed out again).
pub(crate) fn forget_all(conn: &Connection) -> Result<(), LedgerError> {
    conn.execute(
        "INSERT INTO proposal_search (proposal_search) VALUES ('delete-all')",
        [],
    )?;
    conn.execute("DELETE FROM runner_state WHERE key = ?1", [DECISIONS_MARK])?;
    Ok(())
}

impl Ledger {
    /// One step of bringing the search index up to date (see the module documentation), on
    /// the writer. Answers how many entries it wrote; 0 means up to date.
    /// PostgreSQL keeps its search index in each writing transaction (`pg/search.rs`):
    /// nothing to catch up there, always 0.
    pub fn index_for_search(&self) -> Pending<usize> {
        if self.pg().is_some() {
            return Pending::ready(Ok(0));
        }
        let clock = self.clock.clone();
        self.submit(move |conn| index_chunk(conn, &clock()))
    }

    /// Bring the search index up to date, a chunk at a time. Synchronous, like every read:
    /// async callers run it on a blocking thread.
    pub(crate) fn index_all_for_search(&self) -> Result<(), LedgerError> {
        while self.index_for_search().wait()? > 0 {}
        Ok(())
    }
}
