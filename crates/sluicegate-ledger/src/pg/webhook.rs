//! The durable cursors and dead letters of `events webhook` on PostgreSQL: the SQLite tables
//! (`crate::feed`), with one difference. A cursor is an event id, but the feed here runs in
//! `(tx_id, event_id)` order (`mod.rs`), so "a cursor only moves forward" compares feed
//! positions, not ids: an event committed by a later transaction may carry a smaller id.
//! Two runs on one cursor take turns on its row lock.

use super::PgLedger;
use super::writer::Fail;
use crate::feed::{DeadLetter, DeadLetterRecord};
use crate::pg::stmts::Prepared;
use crate::{LedgerError, Pending};

/// The migration (appended to `schema::MIGRATIONS`): the two tables and their indexes.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE webhook_cursors (
  cursor_name text PRIMARY KEY,
  last_event_id bigint NOT NULL,
  delivered bigint NOT NULL DEFAULT 0,
  updated_at text NOT NULL
);
CREATE TABLE webhook_dead_letters (
  dead_letter_id bigserial PRIMARY KEY,
  cursor_name text NOT NULL,
  event_id bigint NOT NULL,
  proposal_id text NOT NULL,
  kind text NOT NULL,
  attempts integer NOT NULL,
  last_error text NOT NULL,
  created_at text NOT NULL
);
CREATE INDEX webhook_dead_letters_created ON webhook_dead_letters (created_at, dead_letter_id);
CREATE INDEX webhook_dead_letters_proposal ON webhook_dead_letters (proposal_id, created_at, dead_letter_id);
CREATE INDEX webhook_dead_letters_cursor ON webhook_dead_letters (cursor_name, dead_letter_id);
CREATE TRIGGER webhook_dead_letters_append_only BEFORE UPDATE OR DELETE ON webhook_dead_letters
  FOR EACH ROW EXECUTE FUNCTION sluicegate_refuse_change('dead letters are append-only');
"#;

/// The columns of a dead letter, in [`dead_letter`]'s order.
pub(crate) const DEAD_LETTER_COLUMNS: &str =
    "dead_letter_id, cursor_name, event_id, proposal_id, kind, attempts, last_error, created_at";

pub(crate) fn dead_letter(r: &postgres::Row) -> Result<DeadLetter, LedgerError> {
    let attempts: i32 = r.try_get(5)?;
    Ok(DeadLetter {
        dead_letter_id: r.try_get(0)?,
        cursor_name: r.try_get(1)?,
        event_id: r.try_get(2)?,
        proposal_id: r.try_get(3)?,
        kind: r.try_get(4)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

/// Whether event `to` comes after event `from` in feed order (`from` 0: the start). An id
/// without an event (a cursor set by `--since-event-id` past the end) compares by id.
const FORWARD: &str = "SELECT CASE WHEN $2::bigint = $1::bigint THEN false WHEN $1::bigint = 0 THEN true ELSE COALESCE((SELECT (n.tx_id, n.event_id) > (o.tx_id, o.event_id) FROM proposal_events n, proposal_events o WHERE n.event_id = $2 AND o.event_id = $1), $2::bigint > $1::bigint) END";

/// Move the cursor `name` to `event_id` when that is forward, counting `delivered`.
fn advance(
    tx: &mut postgres::Transaction<'_>,
    name: &str,
    event_id: i64,
    delivered: i64,
    now: &str,
) -> Result<(), Fail> {
    tx.exec(
        "INSERT INTO webhook_cursors (cursor_name, last_event_id, delivered, updated_at) VALUES ($1, 0, 0, $2) ON CONFLICT (cursor_name) DO NOTHING",
        &[&name, &now],
    )?;
    let current: i64 = tx
        .row(
            "SELECT last_event_id FROM webhook_cursors WHERE cursor_name = $1 FOR UPDATE",
            &[&name],
        )?
        .try_get(0)
        .map_err(LedgerError::from)?;
    let forward: bool = tx
        .row(FORWARD, &[&current, &event_id])?
        .try_get(0)
        .map_err(LedgerError::from)?;
    let to = if forward { event_id } else { current };
    tx.exec(
        "UPDATE webhook_cursors SET last_event_id = $2, delivered = delivered + $3, updated_at = $4 WHERE cursor_name = $1",
        &[&name, &to, &delivered, &now],
    )?;
    Ok(())
}

impl PgLedger {
    pub(crate) fn webhook_cursor(&self, name: &str) -> Result<i64, LedgerError> {
        let name = name.to_string();
        self.readers.run(move |c| {
            Ok(c.row_opt(
                "SELECT last_event_id FROM webhook_cursors WHERE cursor_name = $1",
                &[&name],
            )?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0))
        })
    }

    pub(crate) fn advance_webhook_cursor(&self, name: &str, event_id: i64) -> Pending<()> {
        let name = name.to_string();
        self.writer
            .submit(move |tx, now| advance(tx, &name, event_id, 1, now))
    }

    pub(crate) fn record_dead_letter(&self, record: DeadLetterRecord) -> Pending<i64> {
        self.writer.submit(move |tx, now| {
            let attempts = i32::try_from(record.attempts).unwrap_or(i32::MAX);
            let id: i64 = tx
                .row(
                    "INSERT INTO webhook_dead_letters (cursor_name, event_id, proposal_id, kind, attempts, last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING dead_letter_id",
                    &[
                        &record.cursor_name,
                        &record.event_id,
                        &record.proposal_id,
                        &record.kind,
                        &attempts,
                        &record.last_error,
                        &now,
                    ],
                )?
                .try_get(0)
                .map_err(LedgerError::from)?;
            advance(tx, &record.cursor_name, record.event_id, 0, now)?;
            Ok(id)
        })
    }

    pub(crate) fn dead_letters(&self, cursor_name: &str) -> Result<Vec<DeadLetter>, LedgerError> {
        let name = cursor_name.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters WHERE cursor_name = $1 ORDER BY dead_letter_id"
            );
            c.rows(&sql, &[&name])?.iter().map(dead_letter).collect()
        })
    }
}
