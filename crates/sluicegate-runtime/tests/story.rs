//! The trust loop end to end, on SQLite, PostgreSQL and MariaDB with our own fixture:
//! read → propose (source unchanged) → approve → apply (exactly one row changed) → re-apply (no
//! second write) → stale-row conflict (row untouched) → replay. Plus the refusals: another
//! tenant's id is not found, a tenant argument is refused, injection-looking strings are data,
//! and no other tenant's values reach the output or the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::call::Args;
use sluicegate_core::config::{Config, Engine, validate};
use sluicegate_ledger::Ledger;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{AgentApi, ApplyOptions, Env, ReviewApi};
use sluicegate_source::{migration_body, sample_app};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

/// Values that belong to the other tenant's row only: none may ever appear in our output.
const OTHER_TENANT_MARKERS: [&str; 3] = ["OtherCo", "enterprise contract", "INV-9001"];

const PG_FIXTURE: &str = "
CREATE TABLE invoices (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  customer_name text NOT NULL,
  status text NOT NULL,
  amount_cents integer NOT NULL,
  late_fee_cents integer NOT NULL,
  waiver_reason text,
  internal_risk_note text,
  updated_at timestamptz NOT NULL
);
INSERT INTO invoices VALUES
  ('INV-3001', 'acme', 'Acme Robotics', 'overdue', 25000, 5500, NULL, 'watchlist', '2026-06-20T14:31:08.123456Z'),
  ('INV-3002', 'acme', 'Acme Robotics', 'overdue', 12000, 2500, NULL, NULL, '2026-06-21T09:12:40Z'),
  ('INV-9001', 'otherco', 'OtherCo Labs', 'overdue', 99000, 7500, NULL, 'enterprise contract', '2026-06-20T14:31:08Z');
";

const MYSQL_FIXTURE: &str = "
CREATE TABLE invoices (
  id VARCHAR(64) PRIMARY KEY,
  tenant_id VARCHAR(64) NOT NULL,
  customer_name VARCHAR(200) NOT NULL,
  status VARCHAR(32) NOT NULL,
  amount_cents INT NOT NULL,
  late_fee_cents INT NOT NULL,
  waiver_reason TEXT,
  internal_risk_note TEXT,
  updated_at DATETIME(6) NOT NULL
);
INSERT INTO invoices VALUES
  ('INV-3001', 'acme', 'Acme Robotics', 'overdue', 25000, 5500, NULL, 'watchlist', '2026-06-20 14:31:08.123456'),
  ('INV-3002', 'acme', 'Acme Robotics', 'overdue', 12000, 2500, NULL, NULL, '2026-06-21 09:12:40'),
  ('INV-9001', 'otherco', 'OtherCo Labs', 'overdue', 99000, 7500, NULL, 'enterprise contract', '2026-06-20 14:31:08');
";

/// Where the story's business data lives.
enum App {
    Sqlite(std::path::PathBuf),
    Server(TestDatabase),
}

impl App {
    /// Every invoice as text, ordered by id: the ground truth for "what changed".
    async fn snapshot(&self) -> Vec<String> {
        match self {
            App::Sqlite(path) => sample_app::snapshot(path)
                .unwrap()
                .into_iter()
                .map(|(id, row)| format!("{id} {}", Value::Object(row)))
                .collect(),
            App::Server(db) => db
                .query_text("SELECT id, tenant_id, status, late_fee_cents, waiver_reason, updated_at FROM invoices ORDER BY id")
                .await
                .into_iter()
                .map(|r| format!("{r:?}"))
                .collect(),
        }
    }

    /// The billing app itself edits a row (a payment lands) behind the agent's back.
    async fn app_edit(&self, id: &str) {
        match self {
            App::Sqlite(path) => sample_app::app_edit(path, id).unwrap(),
            App::Server(db) => {
                db.execute(&format!(
                    "UPDATE invoices SET status = 'paid', updated_at = '2026-06-22 08:00:00' WHERE id = '{id}'"
                ))
                .await
            }
        }
    }

    async fn table_exists(&self) -> bool {
        self.snapshot().await.len() == 3
    }
}

fn config(engine: &str, schema: &str) -> Arc<Config> {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "result_format": 2,
        "sources": {"app": {"engine": engine, "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL", "statement_timeout_ms": 5000}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [
            {
                "name": "billing.inspect_invoice", "kind": "read", "source": "app",
                "target": {"schema": schema, "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string", "max_length": 128}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "customer_name", "status", "late_fee_cents", "waiver_reason", "updated_at"]
            },
            {
                "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
                "target": {"schema": schema, "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string", "max_length": 500}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
                "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
                "allowed_columns": ["late_fee_cents", "waiver_reason"],
                "numeric_bounds": {"late_fee_cents": {"minimum": 0, "maximum": 10000}},
                "conflict_guard": {"column": "updated_at"},
                "approval": {"mode": "human", "required_role": "billing_lead"}
            }
        ]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

fn args(v: Value) -> Args {
    v.as_object().unwrap().clone()
}

fn assert_no_other_tenant(text: &str, what: &str) {
    for marker in OTHER_TENANT_MARKERS {
        assert!(
            !text.contains(marker),
            "{what} leaked another tenant's value {marker:?}"
        );
    }
}

async fn story(app: App, engine: &str, schema: &str, url: &str, ledger_dir: &Path) {
    let config = config(engine, schema);
    let env = Env::from_map(HashMap::from([
        ("APP_READ_URL".into(), url.to_string()),
        ("APP_WRITE_URL".into(), url.to_string()),
        ("TENANT".into(), "acme".into()),
        ("PRINCIPAL".into(), "agent_7".into()),
    ]));
    let ledger_path = ledger_dir.join(format!("{engine}.db"));
    let ledger = Ledger::open(&ledger_path).unwrap();
    let agent = AgentApi::new(config.clone(), ledger.clone(), env.clone(), None);
    let review = ReviewApi::new(Some(config.clone()), ledger.clone(), env);
    let mut outputs = Vec::new();

    // Read: the tenant's row, visible columns only, with evidence.
    let read = agent
        .call(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-3001"})),
        )
        .await;
    assert_eq!(
        read.payload["ok"],
        json!(true),
        "{engine}: {}",
        read.payload
    );
    assert_eq!(
        read.payload["data"]["late_fee_cents"],
        json!(5500),
        "{engine}"
    );
    assert!(
        read.payload["data"].get("internal_risk_note").is_none(),
        "{engine}: hidden column leaked"
    );
    assert_eq!(
        read.payload["data"]["updated_at"],
        json!("2026-06-20T14:31:08.123456Z"),
        "{engine}: timestamps keep their precision"
    );
    let ev = read.payload["evidence"]["bundle_id"].as_str().unwrap();
    assert!(ledger.evidence(ev).is_ok());
    outputs.push(read.payload.to_string());

    // Another tenant's id is indistinguishable from a missing one.
    let cross = agent
        .call(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-9001"})),
        )
        .await;
    assert_eq!(
        cross.payload["error"]["code"],
        json!("NOT_FOUND_IN_TENANT"),
        "{engine}"
    );
    assert_eq!(cross.payload["data"], Value::Null);
    outputs.push(cross.payload.to_string());

    // An argument that tries to set the tenant is refused before any read.
    let override_try = agent
        .invoke(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-9001", "tenant_id": "otherco"})),
        )
        .await;
    match &override_try {
        sluicegate_core::envelope::Outcome::Refused { refusal, .. } => {
            assert_eq!(
                refusal.code.as_str(),
                "MODEL_CANNOT_OVERRIDE_BINDING",
                "{engine}"
            )
        }
        other => panic!("{engine}: tenant override was not refused: {other:?}"),
    }

    // Injection-looking strings are plain data: no row, no error, table intact.
    let inj = agent
        .call(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "INV-3001' OR '1'='1"})),
        )
        .await;
    assert_eq!(
        inj.payload["error"]["code"],
        json!("NOT_FOUND_IN_TENANT"),
        "{engine}: {}",
        inj.payload
    );
    let inj2 = agent
        .call(
            "billing.inspect_invoice",
            &args(json!({"invoice_id": "x\"; DROP TABLE invoices; --"})),
        )
        .await;
    assert_eq!(
        inj2.payload["error"]["code"],
        json!("NOT_FOUND_IN_TENANT"),
        "{engine}"
    );
    assert!(app.table_exists().await, "{engine}: the table survived");

    // Propose: exact diff, and the source is unchanged.
    let before = app.snapshot().await;
    let reason = "goodwill'); DELETE FROM invoices; --";
    let proposed = agent
        .call(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3001", "reason": reason})),
        )
        .await;
    assert_eq!(
        proposed.payload["ok"],
        json!(true),
        "{engine}: {}",
        proposed.payload
    );
    let diff = &proposed.payload["proposal"]["diff"];
    assert_eq!(
        diff["late_fee_cents"],
        json!({"before": 5500, "proposed": 0}),
        "{engine}"
    );
    assert_eq!(
        diff["waiver_reason"],
        json!({"before": null, "proposed": reason}),
        "{engine}"
    );
    let pid = proposed.payload["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.snapshot().await,
        before,
        "{engine}: a proposal changed the source"
    );
    outputs.push(proposed.payload.to_string());

    // Applying before approval is refused, and writes nothing.
    let early = review.apply(&pid, &ApplyOptions::default()).await;
    assert!(early.is_err(), "{engine}: unapproved apply was not refused");
    assert_eq!(app.snapshot().await, before);

    // Approve, apply: exactly one row changes, to exactly the approved values.
    common::approve(&review, &ledger, &pid, "reviewer_1", Some("policy ok"))
        .await
        .unwrap();
    let applied = review.apply(&pid, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        applied.result.status,
        ReceiptStatus::Applied,
        "{engine}: {:?}",
        applied.result
    );
    assert_eq!(applied.result.affected_rows, 1);
    let after = app.snapshot().await;
    let changed: Vec<_> = before.iter().zip(&after).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "{engine}: exactly one row must change");
    assert!(
        changed[0].1.contains("INV-3001") && changed[0].1.contains("DELETE FROM invoices"),
        "{engine}: {}",
        changed[0].1
    );
    assert!(app.table_exists().await);

    // Re-apply: the idempotency receipt answers; no second write.
    let again = review.apply(&pid, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        again.result.status,
        ReceiptStatus::AlreadyApplied,
        "{engine}"
    );
    assert_eq!(app.snapshot().await, after, "{engine}: a retry wrote again");

    // Stale row: approved, then the app edits the row; the apply is a conflict and writes nothing.
    let stale = agent
        .call(
            "billing.propose_late_fee_waiver",
            &args(json!({"invoice_id": "INV-3002", "reason": "first time"})),
        )
        .await;
    let stale_id = stale.payload["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    common::approve(&review, &ledger, &stale_id, "reviewer_1", None)
        .await
        .unwrap();
    app.app_edit("INV-3002").await;
    let edited = app.snapshot().await;
    let conflict = review
        .apply(&stale_id, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        conflict.result.status,
        ReceiptStatus::Conflict,
        "{engine}: {:?}",
        conflict.result
    );
    assert_eq!(
        conflict.result.error_code.as_deref(),
        Some("VERSION_CONFLICT")
    );
    assert_eq!(
        app.snapshot().await,
        edited,
        "{engine}: the stale row was touched"
    );
    assert_eq!(ledger.proposal(&stale_id).unwrap().state, "conflict");

    // Replay: the whole path, from the ledger.
    let replay = ledger.replay(&pid).unwrap();
    let kinds: Vec<&str> = replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "proposal_created",
            "evidence_recorded",
            "proposal_approved",
            "proposal_pending_worker",
            "writeback_job_recorded",
            "writeback_applied",
            "writeback_job_recorded",
            "writeback_already_applied"
        ],
        "{engine}: every attempt records its job and its receipt"
    );
    assert_eq!(replay["receipts"][0]["receipt"]["rows_affected"], json!(1));
    outputs.push(replay.to_string());

    // What we produced is valid protocol: change set, writeback job and receipts.
    {
        let dir = sluicegate_test_support::conformance_dir();
        let validate = |schema: &str, doc: &Value| {
            let s = sluicegate_test_support::read_json(&dir.join("schemas").join(schema));
            let v = jsonschema::validator_for(&s).unwrap();
            let errs: Vec<String> = v
                .iter_errors(doc)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errs.is_empty(), "{engine}: {schema}: {errs:?}");
        };
        for r in replay["receipts"].as_array().unwrap() {
            validate("execution-receipt.v1.schema.json", &r["receipt"]);
        }
        // SQLite is our extension: its change sets say `external_sqlite`, which the published
        // schema (written for Postgres and MySQL only) does not list.
        if engine != "sqlite" {
            validate(
                "change-set.v1.schema.json",
                &ledger.proposal(&pid).unwrap().change_set,
            );
            let (_, job) = ledger.job_for_proposal(&pid).unwrap().unwrap();
            validate("writeback-job.v1.schema.json", &job);
        }
    }

    // No other tenant's value anywhere: outputs, and every byte of the ledger files.
    for out in &outputs {
        assert_no_other_tenant(out, "tool output");
    }
    drop((agent, review, ledger));
    for suffix in ["", "-wal"] {
        let mut p = ledger_path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            assert_no_other_tenant(&String::from_utf8_lossy(&bytes), "the ledger");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    sample_app::create(&db).unwrap();
    // The sample app's INV-3001 carries millisecond precision; give it microseconds like the
    // server fixtures so one assertion covers all engines.
    let conn_fix = format!("sqlite://{}", db.display());
    sluicegate_source::sample_app::set_updated_at(&db, "INV-3001", "2026-06-20T14:31:08.123456Z")
        .unwrap();
    story(
        App::Sqlite(db.clone()),
        "sqlite",
        "main",
        &conn_fix,
        dir.path(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_postgres() {
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "story").await else {
        return;
    };
    db.execute(PG_FIXTURE).await;
    db.execute(&migration_body(Engine::Postgres, None).unwrap())
        .await;
    let url = db.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    story(App::Server(db), "postgres", "public", &url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_on_mariadb() {
    let Some(db) = TestDatabase::create(EngineKind::Mysql, "story").await else {
        return;
    };
    db.execute(MYSQL_FIXTURE).await;
    db.execute(&migration_body(Engine::Mysql, None).unwrap())
        .await;
    let url = db.url().to_string();
    let schema = db.name().to_string();
    let dir = tempfile::tempdir().unwrap();
    story(App::Server(db), "mysql", &schema, &url, dir.path()).await;
}

/// A ledger deleted, or replaced by another file, while the runtime holds it open refuses the
/// next call (LOCAL_STORE_UNAVAILABLE, shown to the model as TEMPORARILY_UNAVAILABLE) instead of recording into a file nobody can read.
#[tokio::test]
async fn a_deleted_or_replaced_ledger_refuses_calls() {
    for replace in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        sample_app::create(&db).unwrap();
        let env = Env::from_map(HashMap::from([
            ("APP_READ_URL".into(), format!("sqlite://{}", db.display())),
            ("TENANT".into(), "acme".into()),
            ("PRINCIPAL".into(), "agent_7".into()),
        ]));
        let ledger_path = dir.path().join("ledger.db");
        let agent = AgentApi::new(
            config("sqlite", "main"),
            Ledger::open(&ledger_path).unwrap(),
            env,
            None,
        );
        let lookup = args(json!({"invoice_id": "INV-3001"}));
        let read = || agent.call("billing.inspect_invoice", &lookup);
        assert_eq!(read().await.payload["ok"], json!(true));
        if replace {
            let other = dir.path().join("other.db");
            std::fs::write(&other, b"").unwrap();
            std::fs::rename(&other, &ledger_path).unwrap();
        } else {
            std::fs::remove_file(&ledger_path).unwrap();
        }
        let refused = read().await;
        assert_eq!(
            refused.payload["error"]["code"],
            json!("TEMPORARILY_UNAVAILABLE"),
            "replace={replace}: {}",
            refused.payload
        );
        assert_eq!(refused.payload["error"]["retryable"], json!(true));
    }
}
