//! The JSON routes under `/api/`, in the reference's shapes (spec: onboarding.md §11.2), so
//! scripts written for it keep working; behind the same lock as the pages.
//!
//! - Every route needs the session cookie (`401`, code `UI_SESSION_REQUIRED`, without it).
//!   A script logs in once with the printed URL (keeping the cookie) and reads the session's
//!   CSRF token from `GET /api/session`.
//! - A POST needs that token in the header `x-sluicegate-csrf` (the reference's
//!   `x-synapsor-csrf` is accepted too; `403`, code `UI_CSRF_REQUIRED`, without it). Never as
//!   a form field: a browser cannot send a custom header cross-site without CORS, which this
//!   server never grants.
//! - Host and Origin are checked by the router's guard (`403`, code `UI_ORIGIN_REFUSED`).
//! - Every answer is pretty JSON with a newline, with control characters escaped
//!   (`display::inert_json`) and credentials redacted (`api_shapes::redacted`); an answer in
//!   which anything was redacted carries `"redacted": true`. A refusal is
//!   `{"ok": false, "error": <message>, "code": <stable code>}`: an unknown id is `404` with
//!   `NOT_FOUND`, a refused review action `409` with the refusal's own code.
//!
//! Where the reference differs: a decision is recorded under this UI's reviewer (and signed
//! with its key when one is configured), so a body's `actor`, when given, must be that
//! reviewer; a body may pin `proposal_hash`, the content hash the script reviewed.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sluicegate_core::decision::Verdict;
use sluicegate_core::display;
use sluicegate_ledger::Filter;
use sluicegate_runtime::{DecisionRequest, ReviewError, shown_for_decision};

use crate::App;
use crate::api_shapes::{self, redacted};
use crate::security::{Session, csrf_ok};

/// The largest decision body accepted (the reference's limit).
const MAX_BODY: usize = 64 * 1024;

/// The CSRF header scripts send, and the reference's name for it.
pub const CSRF_HEADER: &str = "x-sluicegate-csrf";
const CSRF_HEADER_REFERENCE: &str = "x-synapsor-csrf";

pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/session", get(session))
        .route("/summary", get(summary))
        .route("/tools", get(tools))
        .route("/proposals", get(proposals))
        .route("/proposals/{id}", get(proposal))
        .route("/proposals/{id}/approve", post(approve))
        .route("/proposals/{id}/reject", post(reject))
        .route("/replay/{id}", get(replay))
        .fallback(|| async { refusal(StatusCode::NOT_FOUND, "NOT_FOUND", "not found") })
}

/// A JSON answer: pretty, newline-terminated, credentials redacted, controls escaped. When
/// redacting changed anything, an object answer says so (`"redacted": true`): a script that
/// reviews through the API must know that a value it is shown is not the value a decision
/// binds to and `apply` writes (the pages show it whole).
pub(crate) fn reply(status: StatusCode, body: &Value) -> Response {
    let mut shown = redacted(body);
    if shown != *body
        && let Some(map) = shown.as_object_mut()
    {
        map.insert("redacted".into(), Value::Bool(true));
    }
    let text = serde_json::to_string_pretty(&shown)
        .unwrap_or_else(|_| r#"{"ok":false,"error":"unserialisable answer"}"#.into());
    let text = format!("{}\n", display::inert_json(&text));
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        text,
    )
        .into_response()
}

/// `{"ok": false, "error": message, "code": code}`.
pub(crate) fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    reply(
        status,
        &json!({"ok": false, "error": message, "code": code}),
    )
}

fn session_of(app: &App, headers: &HeaderMap) -> Result<Session, Box<Response>> {
    app.lock.session(headers).ok_or_else(|| {
        Box::new(refusal(
            StatusCode::UNAUTHORIZED,
            "UI_SESSION_REQUIRED",
            "local UI session required: log in with the URL `sluicegate ui` printed, and send its cookie",
        ))
    })
}

/// The session of a POST whose `x-sluicegate-csrf` header carries its CSRF token.
fn session_for_post(app: &App, headers: &HeaderMap) -> Result<Session, Box<Response>> {
    let session = session_of(app, headers)?;
    let presented = [CSRF_HEADER, CSRF_HEADER_REFERENCE]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .unwrap_or_default();
    if !csrf_ok(&session, presented) {
        return Err(Box::new(refusal(
            StatusCode::FORBIDDEN,
            "UI_CSRF_REQUIRED",
            "CSRF token required for proposal review actions: send the x-sluicegate-csrf header (GET /api/session gives it)",
        )));
    }
    Ok(session)
}

fn review_refusal(e: &ReviewError) -> Response {
    match e.code() {
        Some("NOT_FOUND") => refusal(StatusCode::NOT_FOUND, "NOT_FOUND", &e.to_string()),
        Some(code) => refusal(StatusCode::CONFLICT, code, &e.to_string()),
        None => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &e.to_string(),
        ),
    }
}

macro_rules! or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
}

/// `GET /api/session`: this session's CSRF token, and who decides.
async fn session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let s = or_return!(session_of(&app, &headers));
    reply(
        StatusCode::OK,
        &json!({
            "ok": true,
            "csrf_header": CSRF_HEADER,
            // Named so the redactor leaves it alone: this is the one answer that carries it.
            "csrf": s.csrf,
            "reviewer": app.reviewer,
            "signing": app.key.is_some(),
        }),
    )
}

async fn summary(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    or_return!(session_of(&app, &headers));
    reply(
        StatusCode::OK,
        &api_shapes::summary(
            app.config.as_deref(),
            app.config_path.as_deref(),
            &app.store_path,
        ),
    )
}

async fn tools(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    or_return!(session_of(&app, &headers));
    reply(
        StatusCode::OK,
        &json!({"ok": true, "tools": api_shapes::tools(app.config.as_deref())}),
    )
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/proposals[?state=S][&limit=N]`: newest first; every proposal unless `limit`.
async fn proposals(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    or_return!(session_of(&app, &headers));
    let filter = Filter {
        status: q.state.filter(|s| !s.is_empty()),
        limit: q.limit,
        ..Filter::default()
    };
    match app.read(move |l| Ok(l.list_proposals(&filter)?)).await {
        Ok(list) => {
            let summaries: Vec<Value> = list.iter().map(api_shapes::proposal_summary).collect();
            reply(StatusCode::OK, &json!({"ok": true, "proposals": summaries}))
        }
        Err(e) => review_refusal(&e),
    }
}

fn not_found(id: &str) -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("proposal not found: {id}"),
    )
}

/// `GET /api/proposals/:id`: the summary, review view, events, receipts and evidence.
async fn proposal(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    or_return!(session_of(&app, &headers));
    let selector = id.clone();
    let loaded = app
        .read(move |l| {
            let pid = l.resolve_proposal_id(&selector)?;
            let p = l.proposal(&pid)?;
            let events = l.events(&pid)?;
            let receipts = l.receipts(&pid)?;
            let evidence = l.evidence_for_proposal(&pid)?;
            Ok((p, events, receipts, evidence))
        })
        .await;
    match loaded {
        Ok((p, events, receipts, evidence)) => reply(
            StatusCode::OK,
            &json!({
                "ok": true,
                "proposal": api_shapes::proposal_summary(&p),
                "review_view": api_shapes::review_view(&p),
                "events": events,
                "receipts": receipts,
                "evidence": evidence.first(),
            }),
        ),
        Err(e) if e.code() == Some("NOT_FOUND") => not_found(&id),
        Err(e) => review_refusal(&e),
    }
}

/// `GET /api/replay/:id`: the proposal's replay, assembled from the ledger (read-only).
async fn replay(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    or_return!(session_of(&app, &headers));
    let selector = id.clone();
    let replay = app
        .read(move |l| Ok(l.replay(&l.resolve_proposal_id(&selector)?)?))
        .await;
    match replay {
        Ok(r) => reply(StatusCode::OK, &json!({"ok": true, "replay": r})),
        Err(e) if e.code() == Some("NOT_FOUND") => not_found(&id),
        Err(e) => review_refusal(&e),
    }
}

#[derive(Deserialize, Default)]
struct DecisionBody {
    #[serde(default)]
    confirm: String,
    actor: Option<String>,
    reason: Option<String>,
    /// The content hash the script reviewed; without it, the stored proposal's.
    proposal_hash: Option<String>,
}

async fn approve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(&app, &headers, &id, &body, Verdict::Approve).await
}

async fn reject(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(&app, &headers, &id, &body, Verdict::Reject).await
}

async fn decide(
    app: &App,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
    verdict: Verdict,
) -> Response {
    or_return!(session_for_post(app, headers));
    if body.len() > MAX_BODY {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "UI_BODY_TOO_LARGE",
            "the request body is over 64 KiB",
        );
    }
    // An object only: serde would also take the struct's fields as a positional array.
    let object = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(serde_json::Value::is_object);
    let Some(Ok(b)) = object.map(serde_json::from_value::<DecisionBody>) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "UI_BAD_REQUEST",
            "the body must be a JSON object",
        );
    };
    let (word, message) = match verdict {
        Verdict::Approve => ("approve", "approval requires confirm=approve"),
        Verdict::Reject => ("reject", "rejection requires confirm=reject"),
    };
    if b.confirm != word {
        return refusal(StatusCode::BAD_REQUEST, "UI_CONFIRM_REQUIRED", message);
    }
    if let Some(actor) = b.actor.as_deref().filter(|a| *a != app.reviewer) {
        return refusal(
            StatusCode::FORBIDDEN,
            "UI_ACTOR_MISMATCH",
            &format!(
                "this UI decides as {}, not {actor}; start `sluicegate ui --actor {actor}` to decide as them",
                app.reviewer
            ),
        );
    }
    let selector = id.to_string();
    let pinned = b.proposal_hash.clone();
    let shown = app
        .read(move |l| shown_for_decision(l, &selector, pinned.as_deref()))
        .await;
    let (p, shown) = match shown {
        Ok(found) => found,
        Err(e) if e.code() == Some("NOT_FOUND") => return not_found(id),
        Err(e) => return review_refusal(&e),
    };
    let decided = app
        .review
        .decide(DecisionRequest {
            proposal_id: p.proposal_id,
            shown_hash: shown,
            shown_version: p.proposal_version,
            verdict,
            reviewer: app.reviewer.clone(),
            reason: b.reason,
            key: app.key.clone(),
        })
        .await;
    match decided {
        Ok(p) => reply(
            StatusCode::OK,
            &json!({"ok": true, "proposal": api_shapes::proposal_summary(&p)}),
        ),
        Err(e) => review_refusal(&e),
    }
}
