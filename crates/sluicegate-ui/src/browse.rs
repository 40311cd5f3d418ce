//! The read-only pages beside the inbox: recent activity across proposals, writeback
//! receipts, a proposal's evidence bundles, and the tools a model sees. Each is one indexed
//! ledger query (or the config alone), and every shown string goes through
//! `sluicegate_core::display` here and the template formatter again.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluicegate_core::display;
use sluicegate_ledger::{EventFilter, Filter};

use crate::App;
use crate::view;

/// Rows per activity or receipts page.
const LIMIT: u32 = 100;

/// One event of the activity page.
#[derive(Serialize)]
struct ActivityRow {
    id: i64,
    at: String,
    proposal: String,
    kind: String,
    actor: String,
    detail: String,
}

/// `GET /activity`: the newest events across every proposal, newest first (a walk of the
/// events' primary key backwards).
pub(crate) async fn activity(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = app.session(&headers) {
        return *r;
    }
    let filter = EventFilter {
        limit: Some(LIMIT),
        ..EventFilter::default()
    };
    let events = match app.read(move |l| Ok(l.list_events(&filter)?)).await {
        Ok(e) => e,
        Err(e) => return app.ledger_error(&e.to_string()),
    };
    let rows: Vec<ActivityRow> = events
        .iter()
        .rev()
        .map(|e| ActivityRow {
            id: e.event_id,
            at: display::text(&e.created_at).into_owned(),
            proposal: display::text(&e.proposal_id).into_owned(),
            kind: display::text(&e.kind).into_owned(),
            actor: display::text(&e.actor).into_owned(),
            detail: display::value(&e.payload),
        })
        .collect();
    app.render(
        StatusCode::OK,
        "activity.html",
        context! { rows => rows, limit => LIMIT },
    )
}

/// One receipt of the receipts page.
#[derive(Serialize)]
struct ReceiptRow {
    id: String,
    at: String,
    proposal: String,
    status: String,
    runner: String,
    job: String,
    idempotency_key: String,
    mutated: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct ReceiptsQuery {
    #[serde(default)]
    status: String,
}

const RECEIPT_STATUSES: &[&str] = &[
    "applied",
    "already_applied",
    "conflict",
    "failed",
    "canceled",
];

/// `GET /receipts[?status=S]`: the newest writeback receipts, newest first.
pub(crate) async fn receipts(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ReceiptsQuery>,
) -> Response {
    if let Err(r) = app.session(&headers) {
        return *r;
    }
    let status = RECEIPT_STATUSES
        .iter()
        .find(|s| **s == q.status)
        .map(|s| s.to_string());
    let filter = Filter {
        status: status.clone(),
        limit: Some(LIMIT),
        ..Filter::default()
    };
    let list = match app.read(move |l| Ok(l.list_receipts(&filter)?)).await {
        Ok(r) => r,
        Err(e) => return app.ledger_error(&e.to_string()),
    };
    let rows: Vec<ReceiptRow> = list
        .iter()
        .map(|r| ReceiptRow {
            id: display::text(&r.display_id()).into_owned(),
            at: display::text(&r.created_at).into_owned(),
            proposal: display::text(&r.proposal_id).into_owned(),
            status: display::text(&r.status).into_owned(),
            runner: display::text(&r.runner_id).into_owned(),
            job: display::text(&r.writeback_job_id).into_owned(),
            idempotency_key: display::text(&r.idempotency_key).into_owned(),
            mutated: r.source_database_mutated,
        })
        .collect();
    app.render(
        StatusCode::OK,
        "receipts.html",
        context! {
            rows => rows,
            statuses => RECEIPT_STATUSES,
            status => status.unwrap_or_default(),
            limit => LIMIT,
        },
    )
}

/// One query-audit record of an evidence bundle: what was read, never the statement.
#[derive(Serialize)]
struct AuditRow {
    id: i64,
    at: String,
    source: String,
    table: String,
    fingerprint: String,
    rows: i64,
}

/// `GET /proposals/:id/evidence`: every evidence bundle of the proposal, its items (the
/// visible columns the agent's read returned) and the query-audit records behind them.
pub(crate) async fn evidence(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = app.session(&headers) {
        return *r;
    }
    let selector = id.clone();
    let loaded = app
        .read(move |l| {
            let pid = l.resolve_proposal_id(&selector)?;
            l.proposal(&pid)?;
            Ok((pid.clone(), l.evidence_for_proposal(&pid)?))
        })
        .await;
    let (pid, bundles) = match loaded {
        Ok(found) => found,
        Err(e) if e.code() == Some("NOT_FOUND") => {
            return app.message(
                StatusCode::NOT_FOUND,
                "No such proposal",
                "The ledger has no proposal with this id.",
            );
        }
        Err(e) => return app.ledger_error(&e.to_string()),
    };
    let audits: Vec<Vec<AuditRow>> = bundles
        .iter()
        .map(|b| {
            b.query_audit
                .iter()
                .map(|a| AuditRow {
                    id: a.audit_id,
                    at: display::text(&a.created_at).into_owned(),
                    source: display::text(&a.source_id).into_owned(),
                    table: display::text(&a.table_name).into_owned(),
                    fingerprint: display::text(&a.query_fingerprint).into_owned(),
                    rows: a.row_count,
                })
                .collect()
        })
        .collect();
    app.render(
        StatusCode::OK,
        "evidence.html",
        context! {
            id => display::text(&pid).into_owned(),
            bundles => view::evidence(&bundles),
            audits => audits,
        },
    )
}

/// One tool as the tools page shows it.
#[derive(Serialize)]
struct ToolView {
    name: String,
    kind: String,
    /// One shown line each (a description may span lines).
    description: Vec<String>,
    target: String,
    /// The pretty-printed schema, one shown line each.
    input_schema: Vec<String>,
    visible_columns: String,
    allowed_columns: String,
    executor: String,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => display::text(s).into_owned(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        Value::Null => "-".into(),
        other => display::text(&other.to_string()).into_owned(),
    }
}

/// `GET /tools`: the tools a model is offered, by their canonical names: the description and
/// input schema it sees, and which columns it sees and may propose changes to. Built from the
/// config's capabilities alone: no SQL, no connection or handler URL, no secret.
pub(crate) async fn tools(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = app.session(&headers) {
        return *r;
    }
    let tools: Vec<ToolView> = crate::api_shapes::tools(app.config.as_deref())
        .iter()
        .map(|t| ToolView {
            name: text_of(&t["name"]),
            kind: text_of(&t["kind"]),
            description: t["description"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .map(|l| display::text(l).into_owned())
                .collect(),
            target: text_of(&t["target_business_object"]),
            input_schema: serde_json::to_string_pretty(&t["input_schema"])
                .unwrap_or_default()
                .lines()
                .map(|l| display::text(l).into_owned())
                .collect(),
            visible_columns: text_of(&t["visible_columns"]),
            allowed_columns: text_of(&t["allowed_patch_columns"]),
            executor: text_of(&t["executor"]),
        })
        .collect();
    app.render(
        StatusCode::OK,
        "tools.html",
        context! { tools => tools, configured => app.config.is_some() },
    )
}

impl App {
    pub(crate) fn ledger_error(&self, message: &str) -> Response {
        self.message(StatusCode::INTERNAL_SERVER_ERROR, "Ledger error", message)
    }
}
