//! `sluicegate demo --quick` and `demo inspect`: the whole safety model, for real, on an
//! embedded SQLite sample app. Nothing to install, no network, no credentials.
//!
//! The demo writes a sample billing app (`.sluicegate/demo/app.db`, invoices of two tenants), a
//! config for it, and a fresh ledger (`.sluicegate/quick-demo.db`). It then drives the same
//! `AgentApi` and `ReviewApi` that MCP and the CLI use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sluicegate_core::call::Args;
use sluicegate_core::config::{self, Config};
use sluicegate_core::envelope::{Outcome, render};
use sluicegate_ledger::Ledger;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{AgentApi, ApplyOptions, DecisionRequest, Env, ReviewApi};
use sluicegate_source::sample_app;

use crate::context::print_json;

const DEMO_DIR: &str = ".sluicegate/demo";
const APP_DB: &str = ".sluicegate/demo/app.db";
const CONFIG_FILE: &str = ".sluicegate/demo/sluicegate.json";
const LEDGER: &str = ".sluicegate/quick-demo.db";

/// `demo --quick` (the default) walks through read → proposal → approval → guarded apply →
/// retry → conflict → replay; `demo inspect` prints the commands that look at the result.
#[derive(clap::Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    cmd: Option<DemoCommand>,
    /// Run the zero-setup demo on an embedded SQLite sample app (the default)
    #[arg(long)]
    quick: bool,
    /// Machine-readable summary
    #[arg(long, global = true)]
    json: bool,
    /// Never pause between steps
    #[arg(long)]
    no_interactive: bool,
}

#[derive(clap::Subcommand)]
enum DemoCommand {
    /// Print the commands that inspect what the demo recorded
    Inspect,
}

/// The demo config: a SQLite source, environment-provided tenant and principal, one read and
/// one proposal capability. The env vars are supplied in-process by the demo.
fn demo_config_json() -> Value {
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

/// Env for the demo: the sample app's URLs and the trusted tenant, layered over the process.
fn demo_env(app_db: &Path) -> Env {
    let url = format!("sqlite://{}", app_db.display());
    Env::process().with_overrides(HashMap::from([
        ("DEMO_APP_READ_URL".to_string(), url.clone()),
        ("DEMO_APP_WRITE_URL".to_string(), url),
        ("DEMO_TENANT_ID".to_string(), "acme".to_string()),
        ("DEMO_PRINCIPAL".to_string(), "support.agent".to_string()),
    ]))
}

/// Everything the demo sets up: fresh sample app, config file and ledger.
struct Setup {
    config: Arc<Config>,
    agent: AgentApi,
    review: ReviewApi,
    app_db: PathBuf,
}

fn setup() -> anyhow::Result<Setup> {
    std::fs::create_dir_all(DEMO_DIR).with_context(|| format!("cannot create {DEMO_DIR}"))?;
    let app_db = std::fs::canonicalize(DEMO_DIR)?.join("app.db");
    sample_app::create(&app_db).context("cannot create the demo sample app")?;
    let config_text = serde_json::to_string_pretty(&demo_config_json())?;
    std::fs::write(CONFIG_FILE, format!("{config_text}\n"))?;
    let (validation, config) = config::load_str(&config_text);
    let Some(config) = config else {
        bail!("demo config is invalid: {:?}", validation.error_lines());
    };
    let config = Arc::new(config);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{LEDGER}{suffix}"));
    }
    let ledger = Ledger::open(Path::new(LEDGER))?;
    let env = demo_env(&app_db);
    Ok(Setup {
        agent: AgentApi::new(config.clone(), ledger.clone(), env.clone(), None),
        review: ReviewApi::new(Some(config.clone()), ledger, env),
        config,
        app_db,
    })
}

/// Prints the walk-through; paced only on an interactive terminal.
struct Narrator {
    json: bool,
    paced: bool,
    step: usize,
}

impl Narrator {
    fn section(&mut self, title: &str, body: &str) {
        if self.json {
            return;
        }
        self.step += 1;
        if self.paced {
            std::thread::sleep(Duration::from_millis(700));
        }
        println!("\n── Step {}: {title}", self.step);
        println!("{}", body.trim_end());
    }
}

fn args(v: Value) -> Args {
    v.as_object().cloned().unwrap_or_default()
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    match a.cmd {
        Some(DemoCommand::Inspect) => inspect(a.json),
        None => quick(&a),
    }
}

fn quick(a: &DemoArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let full = tty && !ci && !a.json;
    let mut n = Narrator {
        json: a.json,
        paced: full && !a.no_interactive,
        step: 0,
    };
    let s = setup()?;
    let rt = crate::context::runtime()?;
    let rf = s.agent.result_format();

    if full {
        println!("Sluicegate quick demo: an agent works on a real (embedded) billing database.");
        println!("It never gets execute_sql. It gets two reviewed capabilities:");
        for c in &s.config.capabilities {
            println!("  - {} ({})", c.name, c.kind.as_str());
        }
        println!("Tenant and principal come from trusted server-side context: tenant = acme.");
    }

    // 1. A scoped read, with evidence; columns outside visible_columns never leave the database.
    let read = rt.block_on(s.agent.invoke(
        "billing.inspect_invoice",
        &args(json!({"invoice_id": "INV-3001"})),
    ));
    let Outcome::Read {
        data,
        evidence_id: read_evidence,
        ..
    } = &read
    else {
        bail!("demo read failed: {}", pretty(&render(&read, rf).payload));
    };
    let hidden = sample_app::hidden_columns(&s.app_db, s.config.capabilities[0].read_columns())?;
    if full {
        n.section(
            "the agent inspects an invoice",
            &format!(
                "billing.inspect_invoice(invoice_id=\"INV-3001\") returned:\n{}\nhidden from the model: {}\nevidence recorded: {read_evidence}",
                pretty(&Value::Object(data.clone())),
                hidden.join(", ")
            ),
        );
    }

    // 2. Another tenant's invoice is indistinguishable from a missing one.
    let cross = rt.block_on(s.agent.call(
        "billing.inspect_invoice",
        &args(json!({"invoice_id": "INV-9001"})),
    ));
    let cross_code = cross
        .payload
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    // 3. An argument that tries to choose the tenant is refused before anything runs.
    let override_try = rt.block_on(s.agent.invoke(
        "billing.inspect_invoice",
        &args(json!({"invoice_id": "INV-9001", "tenant_id": "otherco"})),
    ));
    let override_code = match &override_try {
        Outcome::Refused { refusal, .. } => refusal.code.as_str().to_string(),
        _ => bail!("invariant violated: a tenant_id argument was accepted"),
    };
    if full {
        n.section(
            "tenant scope comes from trusted context, not the model",
            &format!(
                "INV-9001 belongs to otherco → {cross_code} (same answer as a missing row)\nan argument tenant_id=\"otherco\" → {override_code}"
            ),
        );
    }

    // 4. A proposal: exact diff, evidence, and the source row is unchanged.
    let before = sample_app::row(&s.app_db, "INV-3001")?;
    let proposal = rt.block_on(s.agent.invoke(
        "billing.propose_late_fee_waiver",
        &args(json!({"invoice_id": "INV-3001", "reason": "customer paid within the grace period"})),
    ));
    let Outcome::Proposal { change_set, .. } = &proposal else {
        bail!(
            "demo proposal failed: {}",
            pretty(&render(&proposal, rf).payload)
        );
    };
    let pid = change_set.proposal_id.clone();
    let unchanged = sample_app::row(&s.app_db, "INV-3001")? == before;
    if !unchanged {
        bail!("invariant violated: a proposal changed the source row");
    }
    let diff = sluicegate_core::proposal::diff(change_set);
    if full {
        n.section(
            "the agent proposes a late-fee waiver",
            &format!(
                "proposal {pid} (pending review)\ndiff:\n{}\nsource row unchanged: yes (re-read directly from the app database)",
                diff.iter()
                    .map(|(k, v)| format!("  {k}: {} -> {}", v["before"], v["proposed"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        );
    }

    // 5. A human approves outside MCP; the guarded apply changes exactly one row.
    rt.block_on(s.review.decide(approval(change_set, Some("within policy"))))?;
    let snapshot = sample_app::snapshot(&s.app_db)?;
    let applied = rt.block_on(s.review.apply(&pid, &ApplyOptions::default()))?;
    let changed = sample_app::changed_rows(&snapshot, &sample_app::snapshot(&s.app_db)?);
    if applied.result.status != ReceiptStatus::Applied || changed.len() != 1 {
        bail!(
            "demo apply did not change exactly one row: {:?} {changed:?}",
            applied.result.status
        );
    }
    if full {
        n.section(
            "a human approves outside MCP, then the guarded apply runs",
            &format!(
                "approved by demo.reviewer (bound to hash {})\nguarded UPDATE: tenant guard, allowed columns, version guard, one row\nstatus: applied, rows changed in the app database: {} ({})",
                applied.proposal.proposal_hash,
                changed.len(),
                changed.join(", ")
            ),
        );
    }

    // 6. A retry is recognised by its idempotency receipt: no second write.
    let snapshot = sample_app::snapshot(&s.app_db)?;
    let retry = rt.block_on(s.review.apply(&pid, &ApplyOptions::default()))?;
    let retry_changed = sample_app::changed_rows(&snapshot, &sample_app::snapshot(&s.app_db)?);
    if retry.result.status != ReceiptStatus::AlreadyApplied || !retry_changed.is_empty() {
        bail!("demo retry was not idempotent: {:?}", retry.result.status);
    }
    if full {
        n.section(
            "the same apply again",
            &format!(
                "status: already_applied (idempotency key {}), rows changed: 0",
                retry.idempotency_key
            ),
        );
    }

    // 7. The app changes a row after the agent saw it: the stale proposal is refused.
    let stale = rt.block_on(s.agent.invoke(
        "billing.propose_late_fee_waiver",
        &args(json!({"invoice_id": "INV-3002", "reason": "first-time late payment"})),
    ));
    let Outcome::Proposal {
        change_set: stale_cs,
        ..
    } = &stale
    else {
        bail!(
            "demo second proposal failed: {}",
            pretty(&render(&stale, rf).payload)
        );
    };
    let stale_id = stale_cs.proposal_id.clone();
    rt.block_on(s.review.decide(approval(stale_cs, None)))?;
    sample_app::app_edit(&s.app_db, "INV-3002")?;
    let snapshot = sample_app::snapshot(&s.app_db)?;
    let conflict = rt.block_on(s.review.apply(&stale_id, &ApplyOptions::default()))?;
    let conflict_changed = sample_app::changed_rows(&snapshot, &sample_app::snapshot(&s.app_db)?);
    if conflict.result.status != ReceiptStatus::Conflict || !conflict_changed.is_empty() {
        bail!(
            "demo stale apply was not refused: {:?}",
            conflict.result.status
        );
    }
    if full {
        n.section(
            "the row changed after the agent saw it",
            &format!(
                "proposal {stale_id} was approved, then the billing app edited INV-3002\napply → conflict ({}), rows changed: 0",
                conflict.result.error_code.as_deref().unwrap_or("VERSION_CONFLICT")
            ),
        );
    }

    // 8. Replay: the story, derived from the ledger.
    let replay = s.review.ledger().replay(&pid)?;
    let events: Vec<String> = replay["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if full {
        n.section(
            "replay",
            &format!("replay_{pid}\nevents: {}", events.join(" → ")),
        );
        println!("\nInspect it yourself:\n  sluicegate demo inspect");
    }

    if a.json {
        print_json(&json!({
            "mode": "embedded_sqlite",
            "app_database": APP_DB,
            "config": CONFIG_FILE,
            "store": LEDGER,
            "read": {"capability": "billing.inspect_invoice", "evidence_bundle_id": read_evidence, "hidden_columns": hidden},
            "cross_tenant": cross_code,
            "tenant_override": override_code,
            "proposal_id": pid,
            "proposed_change": diff,
            "source_unchanged_after_proposal": unchanged,
            "apply": {"status": "applied", "rows_changed": changed.len()},
            "retry": {"status": "already_applied", "rows_changed": 0},
            "stale_apply": {"proposal_id": stale_id, "status": "conflict", "error_code": conflict.result.error_code, "rows_changed": 0},
            "replay_id": format!("replay_{pid}"),
            "events": events,
        }))?;
    } else if !full {
        println!("Sluicegate quick demo complete (embedded SQLite sample app).\n");
        println!(
            "* read billing.inspect_invoice(INV-3001): evidence {read_evidence}; hidden columns: {}",
            hidden.join(", ")
        );
        println!("* other tenant's INV-9001: {cross_code}; tenant_id argument: {override_code}");
        println!("* proposal {pid}: late_fee_cents 5500 -> 0; source unchanged: yes");
        println!("* approved outside MCP; guarded apply: applied, 1 row changed");
        println!("* retry: already_applied, 0 rows changed");
        println!("* stale proposal {stale_id}: conflict, 0 rows changed");
        println!("* replay: {} events recorded\n", events.len());
        println!("Local ledger:\n{LEDGER}\n\nNext:\nsluicegate demo inspect");
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(json: bool) -> anyhow::Result<ExitCode> {
    if !Path::new(LEDGER).exists() {
        // Quietly run the demo first so there is something to inspect.
        let s = setup()?;
        let rt = crate::context::runtime()?;
        let out = rt.block_on(s.agent.invoke(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3001", "reason": "customer paid within the grace period"})),
        ));
        if let Outcome::Refused { refusal, .. } = out {
            bail!("demo setup failed: {refusal}");
        }
    }
    let store = format!("--store {LEDGER}");
    let config = format!("--config {CONFIG_FILE}");
    let commands = [
        (
            "Proposals",
            "every proposal the agent made, newest first",
            format!("sluicegate proposals list {store}"),
        ),
        (
            "Proposal summary",
            "the diff, evidence and approval state",
            format!("sluicegate proposals show latest {store}"),
        ),
        (
            "Reviewer details",
            "hashes, guards, fingerprints and events",
            format!("sluicegate proposals show latest --details {store}"),
        ),
        (
            "Evidence",
            "what the agent actually saw",
            format!("sluicegate evidence list {store}"),
        ),
        (
            "Query audit",
            "statement shapes, never parameter values",
            format!("sluicegate query-audit list --details {store}"),
        ),
        (
            "Receipts",
            "what writeback did, including the refused stale write",
            format!("sluicegate receipts list {store}"),
        ),
        (
            "Replay",
            "the whole story of one proposal",
            format!("sluicegate replay show latest {store}"),
        ),
        (
            "Tool boundary",
            "exactly what a model would be offered",
            format!("sluicegate tools preview {config}"),
        ),
    ];
    if json {
        print_json(&json!({
            "store": LEDGER,
            "config": CONFIG_FILE,
            "commands": commands.iter().map(|(l, d, c)| json!({"label": l, "description": d, "command": c})).collect::<Vec<_>>(),
        }))?;
    } else {
        println!("Quick demo inspection\n\nLocal ledger:\n{LEDGER}\n");
        for (i, (label, description, command)) in commands.iter().enumerate() {
            println!("{}. {label}\n   {description}\n   {command}\n", i + 1);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo reviewer's approval of the change set the demo just showed.
fn approval(cs: &sluicegate_protocol::ChangeSet, reason: Option<&str>) -> DecisionRequest {
    DecisionRequest {
        proposal_id: cs.proposal_id.clone(),
        shown_hash: sluicegate_core::proposal::content_hash(cs),
        shown_version: cs.proposal_version,
        verdict: sluicegate_core::decision::Verdict::Approve,
        reviewer: "demo.reviewer".into(),
        reason: reason.map(str::to_string),
        key: None,
    }
}
