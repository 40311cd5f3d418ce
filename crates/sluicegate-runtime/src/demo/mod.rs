//! The zero-setup demo (`sluicegate demo`): a real embedded SQLite billing app, a config for it
//! and a fresh ledger, then the whole safety model driven through the same `AgentApi` and
//! `ReviewApi` that MCP and the CLI use: a scoped read, a refused cross-tenant read and tenant
//! override, a proposal, approval and guarded apply, an idempotent retry, a refused stale write
//! and the replay.
//!
//! Every step checks what it demonstrates (exactly one row changed, none on retry or conflict)
//! and fails the demo otherwise. The front end narrates each step as it is reported and prints
//! the summary ([`report`]).

pub mod report;

/// The demo reviewer's approval of the change set the demo just showed.
fn approval(cs: &sluicegate_protocol::ChangeSet, reason: Option<&str>) -> crate::DecisionRequest {
    crate::DecisionRequest {
        proposal_id: cs.proposal_id.clone(),
        shown_hash: sluicegate_core::proposal::content_hash(cs),
        shown_version: cs.proposal_version,
        verdict: sluicegate_core::decision::Verdict::Approve,
        reviewer: "demo.reviewer".into(),
        reason: reason.map(str::to_string),
        key: None,
    }
}

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use sluicegate_core::call::Args;
use sluicegate_core::config::{self, Config};
use sluicegate_core::display::value;
use sluicegate_core::envelope::{Outcome, render};
use sluicegate_ledger::Ledger;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_source::sample_app;

use crate::{AgentApi, ApplyOptions, Env, ReviewApi};

/// Where the demo keeps its files, relative to the working directory.
pub const DEMO_DIR: &str = ".sluicegate/demo";
/// The sample app's database.
pub const APP_DB: &str = ".sluicegate/demo/app.db";
/// The demo's config file.
pub const CONFIG_FILE: &str = ".sluicegate/demo/sluicegate.json";
/// The demo's ledger (recreated on every run).
pub const LEDGER: &str = ".sluicegate/quick-demo.db";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the demo stopped. Each step says what it expected; causes keep their own chain.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A step did not show what it demonstrates.
    #[error("{0}")]
    Failed(String),
    /// A step could not run, with what it was doing.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: BoxError,
    },
    /// A step could not run.
    #[error(transparent)]
    Other(BoxError),
}

fn other(e: impl Into<BoxError>) -> DemoError {
    DemoError::Other(e.into())
}

/// The demo config: a SQLite source, environment-provided tenant and principal, one read and
/// one proposal capability. The env vars are supplied in-process by the demo.
pub fn config_json() -> Value {
    json!({
        "version": 1,
        "mode": "review",
        "result_format": 2,
        "storage": {"sqlite_path": LEDGER},
        "sources": {
            "billing_app": {
                "engine": "sqlite",
                "read_url_env": "DEMO_APP_READ_URL",
                "write_url_env": "DEMO_APP_WRITE_URL",
                "statement_timeout_ms": 2000
            }
        },
        "trusted_context": {
            "provider": "environment",
            "values": {"tenant_id_env": "DEMO_TENANT_ID", "principal_env": "DEMO_PRINCIPAL"}
        },
        "capabilities": [
            {
                "name": "billing.inspect_invoice",
                "kind": "read",
                "source": "billing_app",
                "description": "Inspect one invoice of the current tenant before proposing a waiver.",
                "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string", "required": true, "max_length": 64, "description": "Invoice id, e.g. INV-3001."}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "customer_name", "status", "amount_cents", "late_fee_cents", "waiver_reason", "updated_at"],
                "evidence": "required"
            },
            {
                "name": "billing.propose_late_fee_waiver",
                "kind": "proposal",
                "source": "billing_app",
                "description": "Propose waiving the late fee of one overdue invoice. Nothing is written until a human approves.",
                "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {
                    "invoice_id": {"type": "string", "required": true, "max_length": 64},
                    "reason": {"type": "string", "required": true, "max_length": 300}
                },
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
                "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
                "allowed_columns": ["late_fee_cents", "waiver_reason"],
                "numeric_bounds": {"late_fee_cents": {"minimum": 0, "maximum": 10000}},
                "conflict_guard": {"column": "updated_at"},
                "approval": {"mode": "human", "required_role": "billing_lead"}
            }
        ]
    })
}

/// The object ids `smoke call --sample` sends on the demo config: the demo's own invoice.
pub fn sample_ids() -> Map<String, Value> {
    let mut ids = Map::new();
    ids.insert("invoice_id".into(), json!("INV-3001"));
    ids
}

/// Env for the demo: the sample app's URLs and the trusted tenant, layered over `base`.
pub fn env(base: &Env, app_db: &Path) -> Env {
    let url = format!("sqlite://{}", app_db.display());
    base.with_overrides(HashMap::from([
        ("DEMO_APP_READ_URL".to_string(), url.clone()),
        ("DEMO_APP_WRITE_URL".to_string(), url),
        ("DEMO_TENANT_ID".to_string(), "acme".to_string()),
        ("DEMO_PRINCIPAL".to_string(), "support.agent".to_string()),
    ]))
}

/// Everything the demo sets up: fresh sample app, config file and ledger.
pub struct Setup {
    pub config: Arc<Config>,
    pub agent: AgentApi,
    pub review: ReviewApi,
    pub app_db: PathBuf,
}

/// Write a fresh sample app, the config and an empty ledger under the working directory.
pub fn setup(base_env: &Env) -> Result<Setup, DemoError> {
    setup_in(Path::new(""), base_env)
}

/// [`setup`] under `root` instead of the working directory.
pub fn setup_in(root: &Path, base_env: &Env) -> Result<Setup, DemoError> {
    let dir = root.join(DEMO_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| DemoError::Context {
        context: format!("cannot create {}", dir.display()),
        source: e.into(),
    })?;
    let app_db = std::fs::canonicalize(&dir).map_err(other)?.join("app.db");
    sample_app::create(&app_db).map_err(|e| DemoError::Context {
        context: "cannot create the demo sample app".into(),
        source: e.into(),
    })?;
    let config_text = serde_json::to_string_pretty(&config_json()).map_err(other)?;
    std::fs::write(root.join(CONFIG_FILE), format!("{config_text}\n")).map_err(other)?;
    let (validation, config) = config::load_str(&config_text);
    let Some(config) = config else {
        return Err(DemoError::Failed(format!(
            "demo config is invalid: {:?}",
            validation.error_lines()
        )));
    };
    let config = Arc::new(config);
    let ledger_path = root.join(LEDGER);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = ledger_path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let ledger = Ledger::open(&ledger_path).map_err(other)?;
    let env = env(base_env, &app_db);
    Ok(Setup {
        agent: AgentApi::new(config.clone(), ledger.clone(), env.clone(), None),
        review: ReviewApi::new(Some(config.clone()), ledger, env),
        config,
        app_db,
    })
}

fn args(v: Value) -> Args {
    v.as_object().cloned().unwrap_or_default()
}

/// Rows and results as the narration shows them: inert JSON (see `core::display`).
fn pretty(v: &Value) -> String {
    crate::view::pretty(v)
}

/// What the demo showed, step by step.
#[derive(Debug, Clone)]
pub struct Run {
    /// The scoped read: what it returned and what it recorded.
    pub read_data: Map<String, Value>,
    pub read_evidence: String,
    /// Columns of the row the model never saw.
    pub hidden: Vec<String>,
    /// Another tenant's invoice: the same code as a missing row.
    pub cross_code: String,
    /// An argument that tried to choose the tenant.
    pub override_code: String,
    pub proposal_id: String,
    pub proposal_hash: String,
    pub diff: Map<String, Value>,
    pub unchanged_after_proposal: bool,
    /// Rows the guarded apply changed (exactly one).
    pub changed: Vec<String>,
    pub retry_idempotency_key: String,
    pub stale_id: String,
    pub stale_error_code: Option<String>,
    /// The replay's event kinds, in order.
    pub events: Vec<String>,
}

/// Run the demo on `s`. After each step `narrate(title, body)` is told what it showed.
pub async fn run(s: &Setup, mut narrate: impl FnMut(&str, &str)) -> Result<Run, DemoError> {
    let rf = s.agent.result_format();

    // 1. A scoped read, with evidence; columns outside visible_columns never leave the database.
    let read = s
        .agent
        .invoke(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-3001"})),
        )
        .await;
    let Outcome::Read {
        data,
        evidence_id: read_evidence,
        ..
    } = &read
    else {
        return Err(DemoError::Failed(format!(
            "demo read failed: {}",
            pretty(&render(&read, rf).payload)
        )));
    };
    let hidden = sample_app::hidden_columns(&s.app_db, s.config.capabilities[0].read_columns())
        .map_err(other)?;
    narrate(
        "the agent inspects an invoice",
        &format!(
            "billing.inspect_invoice(invoice_id=\"INV-3001\") returned:\n{}\nhidden from the model: {}\nevidence recorded: {read_evidence}",
            pretty(&Value::Object(data.clone())),
            hidden.join(", ")
        ),
    );

    // 2. Another tenant's invoice is indistinguishable from a missing one.
    let cross = s
        .agent
        .call(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-9001"})),
        )
        .await;
    let cross_code = cross
        .payload
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    // 3. An argument that tries to choose the tenant is refused before anything runs.
    let override_try = s
        .agent
        .invoke(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-9001", "tenant_id": "otherco"})),
        )
        .await;
    let override_code = match &override_try {
        Outcome::Refused { refusal, .. } => refusal.code.as_str().to_string(),
        _ => {
            return Err(DemoError::Failed(
                "invariant violated: a tenant_id argument was accepted".into(),
            ));
        }
    };
    narrate(
        "tenant scope comes from trusted context, not the model",
        &format!(
            "INV-9001 belongs to otherco → {cross_code} (same answer as a missing row)\nan argument tenant_id=\"otherco\" → {override_code}"
        ),
    );

    // 4. A proposal: exact diff, evidence, and the source row is unchanged.
    let before = sample_app::row(&s.app_db, "INV-3001").map_err(other)?;
    let proposal = s
        .agent
        .invoke(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3001", "reason": "customer paid within the grace period"})),
        )
        .await;
    let Outcome::Proposal { change_set, .. } = &proposal else {
        return Err(DemoError::Failed(format!(
            "demo proposal failed: {}",
            pretty(&render(&proposal, rf).payload)
        )));
    };
    let pid = change_set.proposal_id.clone();
    let unchanged = sample_app::row(&s.app_db, "INV-3001").map_err(other)? == before;
    if !unchanged {
        return Err(DemoError::Failed(
            "invariant violated: a proposal changed the source row".into(),
        ));
    }
    let diff = sluicegate_core::proposal::diff(change_set);
    narrate(
        "the agent proposes a late-fee waiver",
        &format!(
            "proposal {pid} (pending review)\ndiff:\n{}\nsource row unchanged: yes (re-read directly from the app database)",
            diff.iter()
                .map(|(k, v)| format!(
                    "  {k}: {} -> {}",
                    value(&v["before"]),
                    value(&v["proposed"])
                ))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    );

    // 5. A human approves outside MCP; the guarded apply changes exactly one row.
    s.review
        .decide(approval(change_set, Some("within policy")))
        .await
        .map_err(other)?;
    let snapshot = sample_app::snapshot(&s.app_db).map_err(other)?;
    let applied = s
        .review
        .apply(&pid, &ApplyOptions::default())
        .await
        .map_err(other)?;
    let changed =
        sample_app::changed_rows(&snapshot, &sample_app::snapshot(&s.app_db).map_err(other)?);
    if applied.result.status != ReceiptStatus::Applied || changed.len() != 1 {
        return Err(DemoError::Failed(format!(
            "demo apply did not change exactly one row: {:?} {changed:?}",
            applied.result.status
        )));
    }
    narrate(
        "a human approves outside MCP, then the guarded apply runs",
        &format!(
            "approved by demo.reviewer (bound to hash {})\nguarded UPDATE: tenant guard, allowed columns, version guard, one row\nstatus: applied, rows changed in the app database: {} ({})",
            applied.proposal.proposal_hash,
            changed.len(),
            changed.join(", ")
        ),
    );

    // 6. A retry is recognised by its idempotency receipt: no second write.
    let snapshot = sample_app::snapshot(&s.app_db).map_err(other)?;
    let retry = s
        .review
        .apply(&pid, &ApplyOptions::default())
        .await
        .map_err(other)?;
    let retry_changed =
        sample_app::changed_rows(&snapshot, &sample_app::snapshot(&s.app_db).map_err(other)?);
    if retry.result.status != ReceiptStatus::AlreadyApplied || !retry_changed.is_empty() {
        return Err(DemoError::Failed(format!(
            "demo retry was not idempotent: {:?}",
            retry.result.status
        )));
    }
    narrate(
        "the same apply again",
        &format!(
            "status: already_applied (idempotency key {}), rows changed: 0",
            retry.idempotency_key
        ),
    );

    // 7. The app changes a row after the agent saw it: the stale proposal is refused.
    let stale = s
        .agent
        .invoke(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3002", "reason": "first-time late payment"})),
        )
        .await;
    let Outcome::Proposal {
        change_set: stale_cs,
        ..
    } = &stale
    else {
        return Err(DemoError::Failed(format!(
            "demo second proposal failed: {}",
            pretty(&render(&stale, rf).payload)
        )));
    };
    let stale_id = stale_cs.proposal_id.clone();
    s.review
        .decide(approval(stale_cs, None))
        .await
        .map_err(other)?;
    sample_app::app_edit(&s.app_db, "INV-3002").map_err(other)?;
    let snapshot = sample_app::snapshot(&s.app_db).map_err(other)?;
    let conflict = s
        .review
        .apply(&stale_id, &ApplyOptions::default())
        .await
        .map_err(other)?;
    let conflict_changed =
        sample_app::changed_rows(&snapshot, &sample_app::snapshot(&s.app_db).map_err(other)?);
    if conflict.result.status != ReceiptStatus::Conflict || !conflict_changed.is_empty() {
        return Err(DemoError::Failed(format!(
            "demo stale apply was not refused: {:?}",
            conflict.result.status
        )));
    }
    narrate(
        "the row changed after the agent saw it",
        &format!(
            "proposal {stale_id} was approved, then the billing app edited INV-3002\napply → conflict ({}), rows changed: 0",
            conflict
                .result
                .error_code
                .as_deref()
                .unwrap_or("VERSION_CONFLICT")
        ),
    );

    // 8. Replay: the story, derived from the ledger.
    let replay = s.review.ledger().replay(&pid).map_err(other)?;
    let events: Vec<String> = replay["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    narrate(
        "replay",
        &format!("replay_{pid}\nevents: {}", events.join(" → ")),
    );

    Ok(Run {
        read_data: data.clone(),
        read_evidence: read_evidence.clone(),
        hidden,
        cross_code,
        override_code,
        proposal_id: pid,
        proposal_hash: applied.proposal.proposal_hash,
        diff,
        unchanged_after_proposal: unchanged,
        changed,
        retry_idempotency_key: retry.idempotency_key,
        stale_id,
        stale_error_code: conflict.result.error_code,
        events,
    })
}

/// Record one proposal, so `demo inspect` has something to point at without running the demo.
pub async fn seed(s: &Setup) -> Result<(), DemoError> {
    let out = s
        .agent
        .invoke(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3001", "reason": "customer paid within the grace period"})),
        )
        .await;
    if let Outcome::Refused { refusal, .. } = out {
        return Err(DemoError::Failed(format!("demo setup failed: {refusal}")));
    }
    Ok(())
}
