//! The event feed: `events tail` (newest first, then following), and the durable cursor and
//! dead letters of `events webhook`.
//!
//! Events are read by `event_id` (the primary key, so recording order): a tail is the newest
//! `n` matching events, following is "after the last one seen", and a webhook's cursor is the
//! last event id it delivered (or gave up on). A time range becomes an event-id range through
//! the `created_at` index, so every filter is one index search (`plan_tests`).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::query::{EventFilter, Where, limit_sql};
use crate::views::StoredEvent;
use crate::{Ledger, LedgerError, Pending};

/// Schema version 8 (appended to `schema::MIGRATIONS`). Self-contained: only new tables,
/// indexes and triggers, and the backfill of the text index from existing proposals.
pub(crate) const MIGRATION: &str = r#"
CREATE INDEX idx_proposal_events_kind ON proposal_events(kind);
CREATE INDEX idx_proposal_events_actor ON proposal_events(actor);
CREATE INDEX idx_proposal_events_created ON proposal_events(created_at);
CREATE INDEX idx_query_audit_orphan ON query_audit(created_at)
  WHERE evidence_bundle_id IS NULL AND proposal_id IS NULL;
CREATE TABLE webhook_cursors (
  cursor_name TEXT PRIMARY KEY,
  last_event_id INTEGER NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
);
CREATE TABLE webhook_dead_letters (
  dead_letter_id INTEGER PRIMARY KEY AUTOINCREMENT,
  cursor_name TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  proposal_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_webhook_dead_letters_created ON webhook_dead_letters(created_at, dead_letter_id);
CREATE INDEX idx_webhook_dead_letters_proposal ON webhook_dead_letters(proposal_id, created_at, dead_letter_id);
CREATE VIRTUAL TABLE activity_text USING fts5(words_capability, words_target, words_principal, words_reason);
CREATE TRIGGER activity_text_proposal AFTER INSERT ON proposals BEGIN
  INSERT INTO activity_text (rowid, words_capability, words_target, words_principal, words_reason) VALUES (
    NEW.rowid,
    NEW.action || ' ' || COALESCE(NEW.capability, ''),
    NEW.source_id || '/' || NEW.source_schema || '.' || NEW.source_table || '/' || NEW.object_id
      || ' ' || NEW.business_object || ' ' || NEW.tenant_id,
    COALESCE(NEW.principal, ''),
    COALESCE((SELECT group_concat(value, ' ') FROM json_each(NEW.change_set_json, '$.patch')
              WHERE type = 'text'), ''));
END;
CREATE TRIGGER activity_text_decision AFTER INSERT ON approvals
  WHEN NEW.reason IS NOT NULL AND NEW.reason <> '' BEGIN
  UPDATE activity_text SET words_reason = words_reason || ' ' || NEW.reason
    WHERE rowid = (SELECT rowid FROM proposals WHERE proposal_id = NEW.proposal_id);
END;
CREATE TRIGGER activity_text_forget AFTER DELETE ON proposals BEGIN
  DELETE FROM activity_text WHERE rowid = OLD.rowid;
END;
INSERT INTO activity_text (rowid, words_capability, words_target, words_principal, words_reason)
  SELECT rowid,
    action || ' ' || COALESCE(capability, ''),
    source_id || '/' || source_schema || '.' || source_table || '/' || object_id
      || ' ' || business_object || ' ' || tenant_id,
    COALESCE(principal, ''),
    COALESCE((SELECT group_concat(value, ' ') FROM json_each(change_set_json, '$.patch')
              WHERE type = 'text'), '')
      || COALESCE((SELECT ' ' || group_concat(a.reason, ' ') FROM approvals a
                   WHERE a.proposal_id = proposals.proposal_id AND a.reason <> ''), '')
  FROM proposals;
"#;

/// A delivery `events webhook` gave up on after its attempts (visible in `activity search`).
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub dead_letter_id: i64,
    pub cursor_name: String,
    pub event_id: i64,
    pub proposal_id: String,
    pub kind: String,
    pub attempts: u32,
    pub last_error: String,
    pub created_at: String,
}

/// What to record when a delivery is given up on.
#[derive(Debug, Clone)]
pub struct DeadLetterRecord {
    pub cursor_name: String,
    pub event_id: i64,
    pub proposal_id: String,
    pub kind: String,
    pub attempts: u32,
    pub last_error: String,
}

/// The filters shared by the tail and the follow query: proposal, kind and actor search their
/// index (each ends in the event id), a time range is an event-id range.
fn event_where(f: &EventFilter) -> Where {
    let mut w = Where::default();
    w.proposal_link(&f.proposal)
        .eq("kind", &f.kind)
        .eq("actor", &f.actor)
        .gt_i64("event_id", f.after_event_id)
        .rowids_in_time("proposal_events", &f.from, &f.to);
    w
}

/// `events tail`: the newest `limit` matching events (the inner query, newest first).
pub(crate) fn tail_query(f: &EventFilter) -> (String, Where) {
    let w = event_where(f);
    let sql = format!(
        "SELECT {} FROM proposal_events{} ORDER BY event_id DESC{}",
        StoredEvent::COLUMNS,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

/// Following and webhooks: the oldest `limit` matching events after `after_event_id`.
pub(crate) fn after_query(f: &EventFilter) -> (String, Where) {
    let w = event_where(f);
    let sql = format!(
        "SELECT {} FROM proposal_events{} ORDER BY event_id ASC{}",
        StoredEvent::COLUMNS,
        w.sql(),
        limit_sql(f.limit)
    );
    (sql, w)
}

impl Ledger {
    fn events_by(&self, (sql, w): (String, Where)) -> Result<Vec<StoredEvent>, LedgerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(w.params().as_slice(), StoredEvent::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `f.limit` matching events (after `f.after_event_id` if set), oldest first.
    pub fn tail_events(&self, f: &EventFilter) -> Result<Vec<StoredEvent>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.tail_events(f);
        }
        let mut events = self.events_by(tail_query(f))?;
        events.reverse();
        Ok(events)
    }

    /// The oldest `f.limit` matching events after `f.after_event_id`, oldest first: the next
    /// page of a follow or a webhook run.
    pub fn events_after(&self, f: &EventFilter) -> Result<Vec<StoredEvent>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.events_after(f);
        }
        self.events_by(after_query(f))
    }

    /// The last event id the webhook cursor `name` has delivered or given up on (0: none).
    pub fn webhook_cursor(&self, name: &str) -> Result<i64, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.webhook_cursor(name);
        }
        Ok(self
            .conn()?
            .query_row(
                "SELECT last_event_id FROM webhook_cursors WHERE cursor_name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Move the cursor `name` to `event_id` after a delivery was answered 2xx. A cursor only
    /// moves forward (a replay from an earlier `--since-event-id` leaves it where it was).
    /// On PostgreSQL, forward means later in the feed's order (`pg/webhook.rs`).
    pub fn advance_webhook_cursor(&self, name: &str, event_id: i64) -> Pending<()> {
        if let Some(pg) = self.pg() {
            return pg.advance_webhook_cursor(name, event_id);
        }
        let name = name.to_string();
        self.write(move |conn, now| {
            advance(conn, &name, event_id, 1, now)?;
            Ok(())
        })
    }

    /// Give up on one delivery: record the dead letter and move the cursor past it, in one
    /// transaction, so a restart neither retries it forever nor loses the record.
    pub fn record_dead_letter(&self, record: DeadLetterRecord) -> Pending<i64> {
        if let Some(pg) = self.pg() {
            return pg.record_dead_letter(record);
        }
        self.write(move |conn, now| {
            conn.execute(
                "INSERT INTO webhook_dead_letters (cursor_name, event_id, proposal_id, kind, attempts, last_error, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    record.cursor_name,
                    record.event_id,
                    record.proposal_id,
                    record.kind,
                    record.attempts,
                    record.last_error,
                    now
                ],
            )?;
            let id = conn.last_insert_rowid();
            advance(conn, &record.cursor_name, record.event_id, 0, now)?;
            Ok(id)
        })
    }

    /// Dead letters of one cursor, oldest first.
    pub fn dead_letters(&self, cursor_name: &str) -> Result<Vec<DeadLetter>, LedgerError> {
        if let Some(pg) = self.pg() {
            return pg.dead_letters(cursor_name);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters WHERE cursor_name = ?1 ORDER BY dead_letter_id"
        ))?;
        let rows = stmt.query_map([cursor_name], dead_letter_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

pub(crate) const DEAD_LETTER_COLUMNS: &str =
    "dead_letter_id, cursor_name, event_id, proposal_id, kind, attempts, last_error, created_at";

pub(crate) fn dead_letter_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeadLetter> {
    Ok(DeadLetter {
        dead_letter_id: r.get(0)?,
        cursor_name: r.get(1)?,
        event_id: r.get(2)?,
        proposal_id: r.get(3)?,
        kind: r.get(4)?,
        attempts: r.get(5)?,
        last_error: r.get(6)?,
        created_at: r.get(7)?,
    })
}

fn advance(
    conn: &rusqlite::Connection,
    name: &str,
    event_id: i64,
    delivered: i64,
    now: &str,
) -> Result<(), LedgerError> {
    conn.execute(
        "INSERT INTO webhook_cursors (cursor_name, last_event_id, delivered, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (cursor_name) DO UPDATE SET last_event_id = MAX(last_event_id, excluded.last_event_id),
           delivered = delivered + excluded.delivered, updated_at = excluded.updated_at",
        params![name, event_id, delivered, now],
    )?;
    Ok(())
}
