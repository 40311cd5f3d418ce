//! The inbox page: proposals oldest first, pending first when every state is shown, filtered
//! by state, capability, tenant, principal and a time range (UTC), with a text search; one
//! page of `Ledger::inbox_page` (keyset paged, every walk on an index) per request.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{Value as Jinja, context};
use serde::Deserialize;
use sluicegate_ledger::{Filter, InboxCursor, InboxQuery};

use crate::App;
use crate::view;

/// Proposals per inbox page.
pub const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub(crate) struct InboxParams {
    state: Option<String>,
    #[serde(default)]
    capability: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    principal: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    after_at: Option<String>,
    after_id: Option<i64>,
    #[serde(default)]
    after_decided: bool,
}

/// The states the inbox filters by; `any` lists every proposal, the pending ones first.
const STATES: &[(&str, &str)] = &[
    ("pending_review", "Pending review"),
    ("approved", "Approved"),
    ("applied", "Applied"),
    ("rejected", "Rejected"),
    ("conflict", "Conflict"),
    ("failed", "Failed"),
    ("pending_worker", "Pending worker"),
    ("canceled", "Canceled"),
    ("any", "All states, pending first"),
];

/// A time bound as the ledger compares it (RFC 3339 UTC with milliseconds), from what a
/// reviewer types or a `datetime-local` input sends: `2026-06-20`, `2026-06-20T14:31`,
/// `2026-06-20T14:31:09`, or a full timestamp. `end` rounds a partial bound up (the whole day
/// or minute is included). `Err` for anything else.
pub(crate) fn time_bound(text: &str, end: bool) -> Result<Option<String>, ()> {
    let t = text.trim().trim_end_matches('Z');
    if t.is_empty() {
        return Ok(None);
    }
    let shape_ok = t.len() <= 23
        && t.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T' || c == ' ',
            13 | 16 => c == ':',
            19 => c == '.',
            _ => c.is_ascii_digit(),
        });
    let (start_fill, end_fill) = match t.len() {
        10 => ("T00:00:00.000", "T23:59:59.999"),
        16 => (":00.000", ":59.999"),
        19 => (".000", ".999"),
        23 => ("", ""),
        _ => return Err(()),
    };
    if !shape_ok {
        return Err(());
    }
    let t = t.replace(' ', "T");
    Ok(Some(format!(
        "{t}{}Z",
        if end { end_fill } else { start_fill }
    )))
}

pub(crate) async fn inbox(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<InboxParams>,
) -> Response {
    let session = match app.session(&headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let state = q
        .state
        .clone()
        .filter(|s| STATES.iter().any(|(v, _)| v == s))
        .unwrap_or_else(|| "pending_review".into());
    let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let (from, to) = match (time_bound(&q.from, false), time_bound(&q.to, true)) {
        (Ok(f), Ok(t)) => (f, t),
        _ => {
            return app.message(
                StatusCode::BAD_REQUEST,
                "Unreadable time",
                "Times are UTC, written 2026-06-20, 2026-06-20T14:31 or 2026-06-20T14:31:09.",
            );
        }
    };
    let query = InboxQuery {
        filter: Filter {
            status: Some(state.clone()).filter(|s| s != "any"),
            capability: some(&q.capability),
            tenant: some(&q.tenant),
            principal: some(&q.principal),
            from,
            to,
            limit: Some(PAGE),
            ..Filter::default()
        },
        search: some(&q.q),
        pending_first: true,
    };
    let after = q
        .after_at
        .clone()
        .zip(q.after_id)
        .map(|(created_at, rowid)| InboxCursor {
            created_at,
            rowid,
            decided: q.after_decided,
        });
    let page = app
        .read(move |l| Ok(l.inbox_page(&query, after.as_ref())?))
        .await;
    let (proposals, next) = match page {
        Ok(page) => page,
        Err(e) => return app.ledger_error(&e.to_string()),
    };
    let now = chrono::Utc::now();
    let rows: Vec<view::InboxRow> = proposals.iter().map(|p| view::inbox_row(p, now)).collect();
    let caption = STATES
        .iter()
        .find(|(v, _)| *v == state)
        .map(|(_, l)| *l)
        .unwrap_or("Proposals");
    let order = if q.q.trim().is_empty() {
        "oldest first"
    } else {
        "in recording order"
    };
    let states: Vec<Jinja> = STATES
        .iter()
        .map(|(v, l)| context! { value => v, label => l })
        .collect();
    app.render(
        StatusCode::OK,
        "inbox.html",
        context! {
            rows => rows,
            caption => caption,
            order => order,
            states => states,
            filter => context! {
                state => state,
                capability => q.capability,
                tenant => q.tenant,
                principal => q.principal,
                from => q.from,
                to => q.to,
                q => q.q,
            },
            next => next.map(|c| context! { at => c.created_at, id => c.rowid, decided => c.decided }),
            csrf => session.csrf,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_take_what_a_reviewer_types() {
        let b = |t: &str, end: bool| time_bound(t, end);
        assert_eq!(b("", false), Ok(None));
        assert_eq!(
            b("2026-06-20", false),
            Ok(Some("2026-06-20T00:00:00.000Z".into()))
        );
        assert_eq!(
            b("2026-06-20", true),
            Ok(Some("2026-06-20T23:59:59.999Z".into()))
        );
        assert_eq!(
            b("2026-06-20T14:31", true),
            Ok(Some("2026-06-20T14:31:59.999Z".into()))
        );
        assert_eq!(
            b("2026-06-20 14:31:09", false),
            Ok(Some("2026-06-20T14:31:09.000Z".into()))
        );
        assert_eq!(
            b("2026-06-20T14:31:09.123Z", true),
            Ok(Some("2026-06-20T14:31:09.123Z".into()))
        );
        for bad in [
            "yesterday",
            "2026-6-20",
            "2026-06-20T14",
            "2026-06-20'--",
            "2026-06-20T14:31:09.1234",
        ] {
            assert_eq!(b(bad, false), Err(()), "{bad}");
        }
    }
}
