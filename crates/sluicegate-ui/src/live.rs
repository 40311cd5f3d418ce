//! Live inbox updates: `GET /events` is a server-sent event stream that says `changed` when
//! the ledger's newest proposal event moves (a proposal arrived or changed, from this UI, an
//! MCP server or the CLI). The inbox's script then fetches the page again and swaps it in,
//! without a reload. Other processes write the ledger, so the stream looks at the ledger's
//! newest event id once a second (one primary-key lookup); it ends when the browser leaves or the
//! server stops. Its first event, `ready`, says the stream has read where the ledger stands: a
//! change after it is announced (the page's script listens to `changed` only).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio_stream::wrappers::ReceiverStream;

use crate::App;

/// How often the stream looks at the ledger.
const EVERY: Duration = Duration::from_secs(1);

pub(crate) async fn events(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = app.session(&headers) {
        return *r;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, std::convert::Infallible>>(4);
    let ledger = app.ledger.clone();
    let stopping = app.stopping.clone();
    tokio::spawn(async move {
        let newest = |ledger: sluicegate_ledger::Ledger| async move {
            tokio::task::spawn_blocking(move || ledger.last_event_id().ok())
                .await
                .ok()
                .flatten()
        };
        let mut seen = newest(ledger.clone()).await;
        let ready = Event::default().event("ready").data("inbox");
        if tx.send(Ok(ready)).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                // Dropping the sender ends the stream, so a graceful shutdown is not held open.
                _ = stopping.cancelled() => return,
            }
            if tx.is_closed() {
                return;
            }
            let now = newest(ledger.clone()).await;
            if now != seen {
                seen = now;
                let event = Event::default().event("changed").data("inbox");
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        }
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}
