//! The event feed on PostgreSQL: per proposal in event-id (chain) order, and across the
//! ledger in `(tx_id, event_id)` order below the horizon of finished transactions, so a
//! follower never passes over an event another server commits late (see `mod.rs`).

use postgres::Client;

use super::query;
use super::{PgLedger, rows};
use crate::LedgerError;
use crate::pg::stmts::Prepared;
use crate::query::EventFilter;
use crate::views::StoredEvent;

/// The feed position of event `after` (the last event at or below it): `(tx_id, event_id)`.
fn position(c: &mut Client, after: i64) -> Result<Option<(String, i64)>, LedgerError> {
    c.row_opt(
        "SELECT tx_id::text, event_id FROM proposal_events WHERE event_id <= $1 ORDER BY event_id DESC LIMIT 1",
        &[&after],
    )?
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .transpose()
}

/// The events matching `f` past its cursor, in feed order (`newest_first` reverses it).
fn feed(
    c: &mut Client,
    f: &EventFilter,
    newest_first: bool,
) -> Result<Vec<StoredEvent>, LedgerError> {
    let after = match f.after_event_id {
        Some(after) => position(c, after)?,
        None => None,
    };
    let (sql, w) = query::feed_sql(f, after, newest_first);
    rows::all(c.rows(&sql, &w.params())?, rows::event)
}

impl PgLedger {
    /// One proposal's events, oldest first (chain order).
    pub(crate) fn events(&self, proposal_id: &str) -> Result<Vec<crate::StoredEvent>, LedgerError> {
        let id = proposal_id.to_string();
        self.readers.run(move |c| {
            let sql = format!(
                "SELECT {} FROM proposal_events WHERE proposal_id = $1 ORDER BY event_id",
                rows::EVENT
            );
            rows::all(c.rows(&sql, &[&id])?, rows::event)
        })
    }

    /// The newest `f.limit` final events matching `f`, oldest first.
    pub(crate) fn tail_events(&self, f: &EventFilter) -> Result<Vec<StoredEvent>, LedgerError> {
        let f = f.clone();
        self.readers.run(move |c| {
            let mut events = feed(c, &f, true)?;
            events.reverse();
            Ok(events)
        })
    }

    /// The next `f.limit` final events after `f.after_event_id`'s place in the feed.
    pub(crate) fn events_after(&self, f: &EventFilter) -> Result<Vec<StoredEvent>, LedgerError> {
        let f = f.clone();
        self.readers.run(move |c| feed(c, &f, false))
    }

    /// The id of the last final event in feed order (0: none): a cursor to follow from that
    /// misses nothing.
    pub(crate) fn last_event_id(&self) -> Result<i64, LedgerError> {
        self.readers.run(|c| {
            let sql = format!(
                "SELECT event_id FROM proposal_events WHERE {} ORDER BY tx_id DESC, event_id DESC LIMIT 1",
                query::HORIZON
            );
            Ok(match c.row_opt(&sql, &[])? {
                Some(row) => row.try_get(0)?,
                None => 0,
            })
        })
    }
}
