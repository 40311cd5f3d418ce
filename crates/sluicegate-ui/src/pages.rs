//! The routes: login, the inbox, a proposal page, its decision and apply forms, and the
//! embedded assets. Every page is rendered by `templates()` (HTML autoescape, and a formatter
//! that makes control characters visible first); every POST needs the session and its CSRF
//! token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, Value as Jinja, context};
use serde::Deserialize;
use sluicegate_core::decision::Verdict;
use sluicegate_core::display;
use sluicegate_ledger::LedgerError;
use sluicegate_runtime::{ApplyOptions, DecisionRequest, ReviewError, shown_for_decision};

use crate::App;
use crate::security::{Session, csrf_ok, harden, session_cookie};

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");

/// The page templates. Strings are written with every control character made visible
/// (`display::text`, the CLI's rule) and then HTML-escaped: nothing a model or a database
/// wrote reaches the page as markup or as a control.
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // Set before the templates are added: a template's escaping is fixed when it is compiled.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, source) in [
        ("layout.html", include_str!("../templates/layout.html")),
        ("inbox.html", include_str!("../templates/inbox.html")),
        ("proposal.html", include_str!("../templates/proposal.html")),
        ("message.html", include_str!("../templates/message.html")),
        ("batch.html", include_str!("../templates/batch.html")),
        ("activity.html", include_str!("../templates/activity.html")),
        ("receipts.html", include_str!("../templates/receipts.html")),
        ("evidence.html", include_str!("../templates/evidence.html")),
        ("tools.html", include_str!("../templates/tools.html")),
    ] {
        env.add_template(name, source)
            .expect("invariant: the embedded templates parse");
    }
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(s) if !value.is_safe() => {
            let shown = Jinja::from(display::text(s).into_owned());
            minijinja::escape_formatter(out, state, &shown)
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(crate::inbox::inbox))
        .route("/login", get(login))
        .route("/proposals/{id}", get(proposal))
        .route("/proposals/{id}/decide", post(decide))
        .route("/proposals/{id}/apply", post(apply))
        .route("/proposals/{id}/evidence", get(crate::browse::evidence))
        .route("/activity", get(crate::browse::activity))
        .route("/receipts", get(crate::browse::receipts))
        .route("/tools", get(crate::browse::tools))
        .route("/batch/approve", post(crate::batch::approve))
        .route("/events", get(crate::live::events))
        .nest("/api", crate::api::router())
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Host and Origin first, then the hardening headers on whatever is answered.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut response = if app.lock.host_and_origin_ok(req.headers()) {
        next.run(req).await
    } else if req.uri().path().starts_with("/api/") {
        crate::api::refusal(
            StatusCode::FORBIDDEN,
            "UI_ORIGIN_REFUSED",
            "forbidden: this request's Host or Origin is not this server",
        )
    } else {
        plain(
            StatusCode::FORBIDDEN,
            "forbidden: this request's Host or Origin is not this server\n",
        )
    };
    harden(response.headers_mut());
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    app.message(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

impl App {
    pub(crate) fn render(&self, status: StatusCode, name: &str, ctx: Jinja) -> Response {
        let base = context! {
            reviewer => self.reviewer.clone(),
            signing => self.key.is_some(),
        };
        let rendered = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(context! { ..ctx, ..base }));
        match rendered {
            Ok(html) => (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Err(e) => {
                tracing::error!("rendering {name}: {e}");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed\n")
            }
        }
    }

    pub(crate) fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        self.render(
            status,
            "message.html",
            context! { heading => heading, message => message },
        )
    }

    /// The session of a page request, or the page that says how to log in.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Result<Session, Box<Response>> {
        self.lock.session(headers).ok_or_else(|| {
            let minutes = self.lock.idle().as_secs() / 60;
            Box::new(self.message(
                StatusCode::UNAUTHORIZED,
                "Log in first",
                &format!(
                    "Open the login URL `sluicegate ui` printed when it started. A session ends after {minutes} minutes without a request; the login URL works once, so restart `sluicegate ui` for a new one."
                ),
            ))
        })
    }

    /// The session of a POST whose form carries its CSRF token.
    pub(crate) fn session_for_post(
        &self,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<Session, Box<Response>> {
        let session = self
            .lock
            .session(headers)
            .ok_or_else(|| Box::new(plain(StatusCode::FORBIDDEN, "forbidden: no session\n")))?;
        if !csrf_ok(&session, csrf) {
            return Err(Box::new(plain(
                StatusCode::FORBIDDEN,
                "forbidden: missing or wrong CSRF token\n",
            )));
        }
        Ok(session)
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&sluicegate_ledger::Ledger) -> Result<T, ReviewError> + Send + 'static,
    ) -> Result<T, ReviewError> {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || f(&ledger))
            .await
            .map_err(|e| ReviewError::Ledger(LedgerError::Corrupt(e.to_string())))?
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    token: String,
}

async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if app.lock.session(&headers).is_some() {
        return Redirect::to("/").into_response();
    }
    match app.lock.login(&q.token) {
        Some((id, _)) => {
            let mut response = Redirect::to("/").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&id));
            response
        }
        None => app.message(
            StatusCode::FORBIDDEN,
            "This login link does not work",
            "The link works once; restart `sluicegate ui` for a new one.",
        ),
    }
}

#[derive(Deserialize, Default)]
struct Notice {
    notice: Option<String>,
}

/// Fixed notices a redirect may name (the query string never reaches the page as text).
fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "approved" => "Approved. The decision is recorded, bound to the content hash shown.",
        "rejected" => "Rejected. The decision is recorded with its reason.",
        "applied" => "Applied: the guarded write ran and its receipt is in the timeline.",
        "already_applied" => "Already applied: nothing was written again.",
        "conflict" => "Conflict: the row changed since the proposal was made; nothing was written.",
        "failed" => "The write failed; see the receipt in the timeline.",
        _ => return None,
    })
}

async fn proposal(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let session = match app.session(&headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    app.proposal_page(
        &session,
        &id,
        StatusCode::OK,
        notice_text(n.notice.as_deref()),
        None,
    )
    .await
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hash: String,
    #[serde(default)]
    version: u32,
    #[serde(default)]
    verdict: String,
    reason: Option<String>,
}

async fn decide(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<DecideForm>,
) -> Response {
    let session = match app.session_for_post(&headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let verdict = match form.verdict.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => {
            return plain(
                StatusCode::BAD_REQUEST,
                "verdict must be approve or reject\n",
            );
        }
    };
    let pinned = form.hash.clone();
    let selector = id.clone();
    // The hash on the page is the one decided on: refused when the proposal changed since.
    let shown = app
        .read(move |l| shown_for_decision(l, &selector, Some(&pinned)))
        .await;
    let decided = match shown {
        Ok((p, shown)) => {
            app.review
                .decide(DecisionRequest {
                    proposal_id: p.proposal_id,
                    shown_hash: shown,
                    shown_version: form.version,
                    verdict,
                    reviewer: app.reviewer.clone(),
                    reason: form.reason,
                    key: app.key.clone(),
                })
                .await
        }
        Err(e) => Err(e),
    };
    match decided {
        Ok(p) => Redirect::to(&format!(
            "/proposals/{}?notice={}",
            encode(&p.proposal_id),
            verdict.status()
        ))
        .into_response(),
        Err(e) => app.refused(&session, &id, &e).await,
    }
}

#[derive(Deserialize)]
struct ApplyForm {
    #[serde(default)]
    csrf: String,
}

async fn apply(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ApplyForm>,
) -> Response {
    let session = match app.session_for_post(&headers, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let selector = id.clone();
    let writer = app
        .read(move |l| Ok(l.proposal(&l.resolve_proposal_id(&selector)?)?))
        .await
        .ok()
        .and_then(|p| p.change_set().ok())
        .is_some_and(|cs| app.writer_ready(&cs));
    if !writer {
        return app
            .proposal_page(
                &session,
                &id,
                StatusCode::CONFLICT,
                None,
                Some(
                    "This UI has no writer configured for this proposal; apply it in a terminal."
                        .into(),
                ),
            )
            .await;
    }
    match app.review.apply(&id, &ApplyOptions::default()).await {
        Ok(report) => Redirect::to(&format!(
            "/proposals/{}?notice={}",
            encode(&report.proposal.proposal_id),
            report.result.status.as_str()
        ))
        .into_response(),
        Err(e) => app.refused(&session, &id, &e).await,
    }
}

impl App {
    /// The proposal page again, saying why an action was refused.
    async fn refused(&self, session: &Session, id: &str, e: &ReviewError) -> Response {
        let why = crate::proposal::refusal_text(e);
        self.proposal_page(session, id, StatusCode::CONFLICT, None, Some(why))
            .await
    }
}

/// A path segment: ids are `[A-Za-z0-9_-]` in practice; anything else is percent-encoded.
fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string a template writes is HTML-escaped after its controls are made visible.
    #[test]
    fn templates_escape_markup_and_show_controls() {
        let html = templates()
            .get_template("message.html")
            .expect("template")
            .render(context! {
                heading => "<script>alert(1)</script>",
                message => "a\r\u{1b}[1A<img src=x onerror=alert(1)>\u{202e}\"'",
                reviewer => "r",
            })
            .expect("render");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("a\\r\\x1b[1A&lt;img src=x onerror=alert(1)&gt;\\u{202e}&quot;&#x27;"),
            "{html}"
        );
        assert!(
            !html
                .chars()
                .any(|c| c == '\u{1b}' || c == '\r' || c == '\u{202e}')
        );
    }
}
