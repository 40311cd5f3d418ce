//! App-owned handler executors against stub handlers: what each failure becomes, the retry
//! lifecycle, the wire (checked by Python's `hmac`, not our signing code), and that no secret
//! reaches the ledger. After every case the proposal and the ledger must agree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluicegate_core::config::{Config, validate};
use sluicegate_ledger::Ledger;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::{AgentApi, ApplyOptions, ApplyReport, Env, ReviewApi, ReviewError};
use sluicegate_source::sample_app;
use sluicegate_test_support::process::wait_for_exit;
use sluicegate_test_support::{HttpStub, Reply as StubReply};

const TOKEN: &str = "canary-token-7f3a9e";
const SIGNING_SECRET: &str = "canary-signing-secret-51c2";
const URL_CANARY: &str = "canary-url-path-9d0b";

// ---------------------------------------------------------------------------------------------
// A stub HTTP handler (the shared `HttpStub`): records every request and answers as told.
// ---------------------------------------------------------------------------------------------

type Captured = sluicegate_test_support::http_stub::Request;

#[derive(Clone)]
enum Reply {
    Respond(u16, String),
    Hang,
}

type Behaviour = Arc<dyn Fn(&Captured, usize) -> Reply + Send + Sync>;

struct Stub {
    url: String,
    http: HttpStub,
}

impl Stub {
    async fn start(behaviour: Behaviour) -> Stub {
        let http = HttpStub::start(move |req, n| match behaviour(req, n) {
            Reply::Respond(status, body) => StubReply::text(status, "application/json", body),
            Reply::Hang => StubReply::Hang,
        });
        Stub {
            url: http.url(&format!("/synapsor/writeback?{URL_CANARY}=1")),
            http,
        }
    }

    fn count(&self) -> usize {
        self.http.count()
    }

    fn last(&self) -> Captured {
        self.http.last()
    }
}

fn answer(status: u16, body: Value) -> Behaviour {
    Arc::new(move |_, _| Reply::Respond(status, body.to_string()))
}

/// Python's `hmac`, an implementation independent of ours: does `signature` sign `body`?
fn python_hmac_ok(secret: &str, body: &[u8], signature: &str) -> bool {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, os, sys\n\
             body = sys.stdin.buffer.read()\n\
             want = 'sha256=' + hmac.new(os.environ['K'].encode(), body, hashlib.sha256).hexdigest()\n\
             sys.exit(0 if hmac.compare_digest(want, os.environ['SIG']) else 1)",
        ])
        .env("K", secret)
        .env("SIG", signature)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to check signatures independently");
    child.stdin.take().unwrap().write_all(body).unwrap();
    child.wait().unwrap().success()
}

// ---------------------------------------------------------------------------------------------
// A billing app (SQLite) whose proposal capability is routed to the executor under test.
// ---------------------------------------------------------------------------------------------

struct Fixture {
    _dir: tempfile::TempDir,
    ledger_path: PathBuf,
    ledger: Ledger,
    agent: AgentApi,
    review: ReviewApi,
}

fn config(executor: Value) -> Arc<Config> {
    let doc = json!({
        "version": 1,
        "mode": "review",
        "result_format": 2,
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_WRITE_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "executors": {"billing_hook": executor},
        "capabilities": [{
            "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
            "executor": "billing_hook",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string", "max_length": 500}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    Arc::new(c.unwrap())
}

fn http_executor(timeout_ms: u64) -> Value {
    json!({
        "type": "http_handler", "url_env": "HOOK_URL", "method": "POST",
        "auth": {"type": "bearer_env", "token_env": "HOOK_TOKEN"},
        "signing_secret_env": "HOOK_SECRET", "timeout_ms": timeout_ms
    })
}

fn command_executor(timeout_ms: u64) -> Value {
    json!({"type": "command_handler", "command_env": "HOOK_COMMAND", "timeout_ms": timeout_ms})
}

impl Fixture {
    fn new(executor: Value, extra_env: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app.db");
        sample_app::create(&app).unwrap();
        let mut env: HashMap<String, String> = HashMap::from([
            ("APP_URL".into(), app.display().to_string()),
            ("APP_WRITE_URL".into(), app.display().to_string()),
            ("TENANT".into(), "acme".into()),
            ("PRINCIPAL".into(), "agent_7".into()),
            ("HOOK_TOKEN".into(), TOKEN.into()),
            ("HOOK_SECRET".into(), SIGNING_SECRET.into()),
        ]);
        for (k, v) in extra_env {
            env.insert(k.to_string(), v.to_string());
        }
        let env = Env::from_map(env);
        let config = config(executor);
        let ledger_path = dir.path().join("ledger.db");
        let ledger = Ledger::open(&ledger_path).unwrap();
        let agent = AgentApi::new(config.clone(), ledger.clone(), env.clone(), None);
        let review = ReviewApi::new(Some(config), ledger.clone(), env);
        Fixture {
            _dir: dir,
            ledger_path,
            ledger,
            agent,
            review,
        }
    }

    async fn propose(&self) -> String {
        let out = self
            .agent
            .call(
                "billing.propose_late_fee_waiver",
                json!({"invoice_id": "INV-3001", "reason": "first late payment"})
                    .as_object()
                    .unwrap(),
            )
            .await;
        assert_eq!(out.payload["ok"], json!(true), "{}", out.payload);
        out.payload["proposal"]["id"].as_str().unwrap().to_string()
    }

    async fn approved(&self) -> String {
        let pid = self.propose().await;
        common::approve(&self.review, &self.ledger, &pid, "reviewer_1", None)
            .await
            .unwrap();
        pid
    }

    async fn apply(&self, pid: &str) -> ApplyReport {
        self.review
            .apply(pid, &ApplyOptions::default())
            .await
            .unwrap()
    }

    async fn force(&self, pid: &str) -> ApplyReport {
        let opts = ApplyOptions {
            force_handler_retry: true,
            ..ApplyOptions::default()
        };
        self.review.apply(pid, &opts).await.unwrap()
    }

    fn state(&self, pid: &str) -> String {
        self.ledger.proposal(pid).unwrap().state
    }

    /// The proposal, its jobs, receipts and events tell one consistent story.
    fn assert_consistent(&self, pid: &str) {
        let proposal = self.ledger.proposal(pid).unwrap();
        let receipts = self.ledger.receipts(pid).unwrap();
        let jobs = self.ledger.jobs(pid).unwrap();
        let events: Vec<String> = self
            .ledger
            .events(pid)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(
            jobs.iter().all(|j| j.status != "pending_worker"),
            "every sent job has a receipt: {jobs:?}"
        );
        assert_eq!(
            jobs.len(),
            receipts.len(),
            "one receipt per handler call: {jobs:?} {receipts:?}"
        );
        if let Some(last) = receipts.last() {
            // Applied is final: once a receipt says the source changed, later attempts'
            // outcomes are recorded beside it and never make it look unchanged.
            let applied = receipts
                .iter()
                .any(|r| matches!(r.status.as_str(), "applied" | "already_applied"));
            let expected = if applied {
                "applied"
            } else {
                last.status.as_str()
            };
            assert_eq!(
                proposal.state, expected,
                "state: applied once any receipt applied, else the latest"
            );
        }
        let outcome_events: Vec<&String> = events
            .iter()
            .filter(|k| k.starts_with("writeback_") && *k != "writeback_dry_run")
            .collect();
        let statuses: Vec<String> = receipts
            .iter()
            .map(|r| format!("writeback_{}", r.status))
            .collect();
        assert_eq!(
            outcome_events,
            statuses.iter().collect::<Vec<_>>(),
            "one outcome event per receipt, in order"
        );
        for r in &receipts {
            assert!(r.writeback_job_id.starts_with("hwb_"));
            validate_schema("execution-receipt.v1.schema.json", &r.receipt);
        }
        let replay = self.ledger.replay(pid).unwrap();
        assert_eq!(replay["receipts"].as_array().unwrap().len(), receipts.len());
        assert!(events.contains(&"proposal_created".to_string()));
    }
}

fn validate_schema(schema: &str, doc: &Value) {
    let dir = sluicegate_test_support::conformance_dir();
    let s = sluicegate_test_support::read_json(&dir.join("schemas").join(schema));
    let v = jsonschema::validator_for(&s).unwrap();
    let errs: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "{schema}: {errs:?}\n{doc}");
}

fn code(r: &ApplyReport) -> Option<&str> {
    r.result.error_code.as_deref()
}

// ---------------------------------------------------------------------------------------------
// HTTP handler
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_request_is_the_documented_wire_and_signed_over_the_exact_body() {
    let stub = Stub::start(answer(
        200,
        json!({"status": "applied", "rows_affected": 1, "source_database_mutated": true, "new_version": "v2"}),
    ))
    .await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(r.result.status, ReceiptStatus::Applied);
    let receipt = r.receipt.clone().unwrap();
    assert!(receipt.source_database_mutated);
    assert_eq!(receipt.new_version, Some(json!("v2")));
    assert_eq!(fx.state(&pid), "applied");

    let req = stub.last();
    assert_eq!(req.method, "POST");
    let h = &req.headers;
    assert_eq!(h["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["accept"], "application/json");
    assert_eq!(h["idempotency-key"], format!("{pid}:INV-3001"));
    assert_eq!(h["x-synapsor-proposal-id"], pid);
    // Python's hmac, not ours, checks the signature over the bytes that arrived.
    let sig = &h["x-synapsor-signature"];
    assert!(python_hmac_ok(SIGNING_SECRET, &req.body, sig), "{sig}");
    assert!(!python_hmac_ok("another secret", &req.body, sig));

    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "protocol_version",
            "schema_version",
            "writeback_job_id",
            "proposal_id",
            "proposal_version",
            "proposal_hash",
            "action",
            "runner_hint",
            "idempotency_key",
            "source",
            "target",
            "tenant_guard",
            "allowed_columns",
            "before",
            "patch",
            "after",
            "guards",
            "evidence",
            "approval",
            "source_database_mutated",
            "issued_at",
            "executor",
            "dry_run",
            "change_set"
        ],
        "flat body in the reference's order, then the change_set mirror"
    );
    assert_eq!(body["protocol_version"], json!("1.0"));
    assert_eq!(
        body["schema_version"],
        json!("synapsor.handler-writeback.v1")
    );
    assert_eq!(body["writeback_job_id"], json!(format!("hwb_{pid}")));
    assert_eq!(
        body["issued_at"].as_str(),
        Some(h["x-synapsor-issued-at"].as_str())
    );
    assert_eq!(body["executor"], json!("billing_hook"));
    assert_eq!(body["dry_run"], json!(false));
    assert_eq!(body["source_database_mutated"], json!(false));
    assert_eq!(
        body["patch"],
        json!({"late_fee_cents": 0, "waiver_reason": "first late payment"})
    );
    assert_eq!(
        body["tenant_guard"],
        json!({"column": "tenant_id", "value": "acme"})
    );
    assert_eq!(
        body["change_set"]["scope"],
        json!({"tenant_id": "acme", "object_id": "INV-3001"})
    );
    assert_eq!(body["change_set"]["guards"], body["guards"]);
    assert_eq!(body["change_set"]["target"], body["target"]);
    // Compact JSON, exactly as sent: re-serialising changes nothing.
    assert!(!String::from_utf8_lossy(&req.body).contains(": "));
    // The published request schema (which requires `change_set`) accepts what we send.
    validate_schema("synapsor.app-handler-request.v1.json", &body);
    assert!(
        !String::from_utf8_lossy(&req.body).contains(TOKEN)
            && !String::from_utf8_lossy(&req.body).contains(SIGNING_SECRET),
        "the body carries no secret"
    );
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn handler_answering_500_gives_a_failed_receipt_and_no_silent_retry() {
    let stub = Stub::start(Arc::new(|_, n| {
        if n == 1 {
            Reply::Respond(500, r#"{"status":"applied"}"#.into())
        } else {
            Reply::Respond(200, r#"{"status":"applied","rows_affected":1}"#.into())
        }
    }))
    .await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(r.result.status, ReceiptStatus::Failed);
    assert_eq!(
        code(&r),
        Some("HANDLER_HTTP_500"),
        "the 500 body is ignored"
    );
    assert!(!r.receipt.as_ref().unwrap().source_database_mutated);
    assert_eq!(stub.count(), 1, "exactly one request: no automatic retry");
    assert_eq!(fx.state(&pid), "failed");
    fx.assert_consistent(&pid);

    // Applying again answers from the failed receipt; the handler is not called.
    let again = fx.apply(&pid).await;
    assert!(!again.handler.as_ref().unwrap().called);
    assert_eq!(again.result.status, ReceiptStatus::Failed);
    assert_eq!(stub.count(), 1);
    fx.assert_consistent(&pid);

    // The operator's explicit retry sends the same idempotency key as a new attempt.
    let retry = fx.force(&pid).await;
    assert_eq!(stub.count(), 2);
    assert_eq!(retry.result.status, ReceiptStatus::Applied);
    assert_eq!(retry.writeback_job_id, format!("hwb_{pid}-a2"));
    assert_eq!(
        stub.last().headers["idempotency-key"],
        format!("{pid}:INV-3001")
    );
    assert_eq!(fx.state(&pid), "applied");
    let events: Vec<String> = fx
        .ledger
        .events(&pid)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        events.contains(&"handler_writeback_retry_recorded".to_string()),
        "{events:?}"
    );
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn hanging_handler_fails_within_the_timeout() {
    let stub = Stub::start(Arc::new(|_, _| Reply::Hang)).await;
    let fx = Fixture::new(http_executor(700), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    let started = Instant::now();
    let r = fx.apply(&pid).await;
    let took = started.elapsed();
    assert_eq!(r.result.status, ReceiptStatus::Failed);
    assert_eq!(code(&r), Some("HANDLER_TIMEOUT"));
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(
        took < Duration::from_millis(1700),
        "timeout_ms + 1 s: {took:?}"
    );
    assert_eq!(fx.state(&pid), "failed");
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn invalid_json_and_odd_answers_are_coerced() {
    let stub = Stub::start(answer(200, json!(null))).await;
    let bad = Stub::start(Arc::new(|_, _| Reply::Respond(200, "{not json".into()))).await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &bad.url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(r.result.status, ReceiptStatus::Failed);
    assert_eq!(code(&r), Some("HANDLER_INVALID_JSON"));
    fx.assert_consistent(&pid);

    // A JSON `null` is not an object: no status, so failed with the generic code.
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(code(&r), Some("HANDLER_FAILED"));
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn handler_rejecting_the_signature_gives_a_failed_receipt() {
    // This handler expects another secret, and checks with Python's hmac.
    let stub = Stub::start(Arc::new(|req: &Captured, _| {
        let sig = req.headers.get("x-synapsor-signature").cloned().unwrap_or_default();
        if python_hmac_ok("the handler's own secret", &req.body, &sig) {
            Reply::Respond(200, r#"{"status":"applied"}"#.into())
        } else {
            Reply::Respond(
                401,
                r#"{"status":"failed","rows_affected":0,"source_database_mutated":false,"safe_error_code":"INVALID_SIGNATURE"}"#.into(),
            )
        }
    }))
    .await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(r.result.status, ReceiptStatus::Failed);
    assert_eq!(code(&r), Some("HANDLER_HTTP_401"));
    assert!(!r.receipt.unwrap().source_database_mutated);
    assert_eq!(fx.state(&pid), "failed");
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn unreachable_handler_is_a_request_failure() {
    let port = sluicegate_test_support::engines::unused_local_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let fx = Fixture::new(http_executor(2000), &[("HOOK_URL", &url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(code(&r), Some("HANDLER_REQUEST_FAILED"));
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn lifecycle_approval_idempotency_and_the_retry_contract() {
    let stub = Stub::start(Arc::new(|_, n| {
        let body = match n {
            1 => json!({"status": "applied", "rows_affected": 1, "new_version": "v2"}),
            2 => json!({"status": "already_applied", "rows_affected": 0, "source_database_mutated": false}),
            _ => json!({"status": "applied", "rows_affected": 1}),
        };
        Reply::Respond(200, body.to_string())
    }))
    .await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);

    // Not approved: refused, the handler is never called, nothing is recorded.
    let pid = fx.propose().await;
    let early = fx.review.apply(&pid, &ApplyOptions::default()).await;
    match early {
        Err(ReviewError::Refused { code, .. }) => assert_eq!(code, "PROPOSAL_NOT_APPROVED"),
        other => panic!("unapproved apply was not refused: {other:?}"),
    }
    assert_eq!(stub.count(), 0);
    assert!(fx.ledger.jobs(&pid).unwrap().is_empty());

    // A dry run builds the request but never calls the handler, and changes no state.
    common::approve(&fx.review, &fx.ledger, &pid, "reviewer_1", None)
        .await
        .unwrap();
    let dry = fx
        .review
        .apply(
            &pid,
            &ApplyOptions {
                dry_run: true,
                ..ApplyOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(dry.dry_run && dry.receipt.is_none());
    assert_eq!(stub.count(), 0);
    assert_eq!(fx.state(&pid), "approved");

    // Applied once.
    let first = fx.apply(&pid).await;
    assert_eq!(first.result.status, ReceiptStatus::Applied);
    assert_eq!(stub.count(), 1);

    // Again: answered from the receipt, no second call, nothing new recorded.
    let receipts_before = fx.ledger.receipts(&pid).unwrap().len();
    let again = fx.apply(&pid).await;
    assert_eq!(again.result.status, ReceiptStatus::AlreadyApplied);
    assert!(!again.handler.as_ref().unwrap().called);
    assert!(!again.receipt.as_ref().unwrap().source_database_mutated);
    assert_eq!(stub.count(), 1);
    assert_eq!(fx.ledger.receipts(&pid).unwrap().len(), receipts_before);
    fx.assert_consistent(&pid);

    // Forced: the handler is called with the same key and answers already_applied.
    let forced = fx.force(&pid).await;
    assert_eq!(stub.count(), 2);
    assert_eq!(forced.result.status, ReceiptStatus::AlreadyApplied);
    assert_eq!(fx.state(&pid), "applied");
    fx.assert_consistent(&pid);

    // Forced again, and this time the handler wrongly applies a second time: flagged.
    let broken = fx.force(&pid).await;
    assert_eq!(stub.count(), 3);
    assert_eq!(broken.result.status, ReceiptStatus::Failed);
    assert_eq!(code(&broken), Some("HANDLER_IDEMPOTENCY_VIOLATION"));
    assert!(broken.receipt.as_ref().unwrap().source_database_mutated);
    assert!(fx.ledger.proposal(&pid).unwrap().source_database_mutated);
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn missing_env_refuses_before_anything_is_recorded() {
    let fx = Fixture::new(http_executor(5000), &[]);
    let pid = fx.approved().await;
    match fx.review.apply(&pid, &ApplyOptions::default()).await {
        Err(ReviewError::Refused { message: m, .. }) => {
            assert!(m.contains("HOOK_URL is not set"), "{m}")
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    assert_eq!(fx.state(&pid), "approved");
    assert!(fx.ledger.jobs(&pid).unwrap().is_empty());
}

#[tokio::test]
async fn an_attempt_without_a_receipt_is_never_resent_silently() {
    let stub = Stub::start(answer(200, json!({"status": "applied"}))).await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    // As if a previous apply recorded its job and then died before the receipt.
    let cs = fx.ledger.proposal(&pid).unwrap().change_set().unwrap();
    let request = sluicegate_core::handler::build_request(
        &cs,
        1,
        "sha256:x",
        "local_runner",
        &format!("hwb_{pid}"),
    );
    let job = sluicegate_core::handler::job_record(
        &request,
        &sluicegate_core::handler::mirror(&cs),
        "billing_hook",
    );
    fx.ledger
        .queue_job(sluicegate_ledger::JobRecord {
            proposal_id: pid.clone(),
            job_id: format!("hwb_{pid}"),
            job: serde_json::to_value(job).unwrap(),
            kind: sluicegate_ledger::JobKind::Handler {
                executor: "billing_hook".into(),
            },
            actor: "local_runner".into(),
        })
        .await
        .unwrap();
    match fx.review.apply(&pid, &ApplyOptions::default()).await {
        Err(ReviewError::Refused { message: m, .. }) => {
            assert!(m.contains("--force-handler-retry"), "{m}")
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    assert_eq!(stub.count(), 0);
    let forced = fx.force(&pid).await;
    assert_eq!(forced.result.status, ReceiptStatus::Applied);
    assert_eq!(stub.count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Command handler
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn command_handler_reads_stdin_and_answers_on_stdout() {
    let script = "import sys, json\n\
                  d = json.loads(sys.stdin.read())\n\
                  assert d['change_set']['scope']['tenant_id'] == 'acme'\n\
                  assert 'issued_at' not in d and 'protocol_version' not in d\n\
                  print(json.dumps({'status': 'applied', 'rows_affected': 1, 'new_version': d['idempotency_key']}))";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handler.py");
    std::fs::write(&path, script).unwrap();
    let cmd = format!("python3 '{}'", path.display());
    let fx = Fixture::new(command_executor(5000), &[("HOOK_COMMAND", &cmd)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(r.result.status, ReceiptStatus::Applied, "{:?}", r.result);
    assert_eq!(r.result.new_version, Some(json!(format!("{pid}:INV-3001"))));
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn command_exiting_non_zero_gives_handler_exit_n() {
    let fx = Fixture::new(
        command_executor(5000),
        &[(
            "HOOK_COMMAND",
            r#"sh -c "cat >/dev/null; echo 'no such invoice' >&2; exit 3""#,
        )],
    );
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(r.result.status, ReceiptStatus::Failed);
    assert_eq!(code(&r), Some("HANDLER_EXIT_3"));
    assert_eq!(fx.state(&pid), "failed");
    let details: Vec<Value> = fx
        .ledger
        .events(&pid)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "handler_receipt_details")
        .map(|e| e.payload)
        .collect();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["details"]["stderr"], json!("no such invoice\n"));
    fx.assert_consistent(&pid);
}

/// The pid the command wrote first thing: by the time its apply has timed out, it is there.
fn written_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("the command never wrote its pid to {}", path.display()))
}

/// Signals are delivered asynchronously: wait (on a pidfd, not a sleep) until `pid` has
/// exited, for as long as a loaded machine could plausibly need.
fn exits(pid: u32) -> bool {
    wait_for_exit(pid, Duration::from_secs(5))
}

#[tokio::test]
async fn hanging_command_is_terminated_with_its_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("helper.pid");
    // The handler starts a helper and waits: SIGTERM to the group stops both.
    let cmd = format!(
        r#"sh -c "sleep 30 & echo $! > '{}'; wait""#,
        pidfile.display()
    );
    let fx = Fixture::new(command_executor(600), &[("HOOK_COMMAND", &cmd)]);
    let pid = fx.approved().await;
    let started = Instant::now();
    let r = fx.apply(&pid).await;
    let took = started.elapsed();
    assert_eq!(code(&r), Some("HANDLER_TIMEOUT"));
    assert!(took < Duration::from_millis(600 + 1500), "{took:?}");
    let helper = written_pid(&pidfile);
    assert!(exits(helper), "the helper {helper} survived the timeout");
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn command_ignoring_sigterm_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("self.pid");
    let cmd = format!(
        r#"sh -c "trap '' TERM; echo $$ > '{}'; while true; do sleep 0.1; done""#,
        pidfile.display()
    );
    let fx = Fixture::new(command_executor(500), &[("HOOK_COMMAND", &cmd)]);
    let pid = fx.approved().await;
    let started = Instant::now();
    let r = fx.apply(&pid).await;
    let took = started.elapsed();
    assert_eq!(code(&r), Some("HANDLER_TIMEOUT"));
    assert!(took < Duration::from_millis(500 + 1000 + 1000), "{took:?}");
    let handler = written_pid(&pidfile);
    assert!(exits(handler), "the handler {handler} survived SIGKILL");
    fx.assert_consistent(&pid);
}

#[tokio::test]
async fn command_that_cannot_start_is_a_request_failure() {
    let fx = Fixture::new(
        command_executor(2000),
        &[("HOOK_COMMAND", "/nonexistent/handler --flag")],
    );
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(code(&r), Some("HANDLER_REQUEST_FAILED"));
    fx.assert_consistent(&pid);
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_secret_reaches_the_ledger_file() {
    // A careless handler echoes what it received, headers included.
    let stub = Stub::start(Arc::new(|req: &Captured, _| {
        let echo = json!({
            "status": "failed",
            "safe_error_code": "ECHO",
            "details": {
                "authorization": req.headers.get("authorization"),
                "signature_was": req.headers.get("x-synapsor-signature"),
                "note": format!("token was {}", req.headers.get("authorization").cloned().unwrap_or_default().trim_start_matches("Bearer ")),
            }
        });
        Reply::Respond(200, echo.to_string())
    }))
    .await;
    let fx = Fixture::new(http_executor(5000), &[("HOOK_URL", &stub.url)]);
    let pid = fx.approved().await;
    let r = fx.apply(&pid).await;
    assert_eq!(code(&r), Some("ECHO"));
    let r2 = fx.force(&pid).await;
    assert_eq!(code(&r2), Some("ECHO"));
    let replay = fx.ledger.replay(&pid).unwrap().to_string();
    let mut stored = String::from_utf8_lossy(&std::fs::read(&fx.ledger_path).unwrap()).to_string();
    for suffix in ["-wal", "-shm"] {
        let mut p = fx.ledger_path.clone().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(PathBuf::from(p)) {
            stored.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    for canary in [TOKEN, SIGNING_SECRET, URL_CANARY] {
        assert!(!stored.contains(canary), "{canary} reached the ledger file");
        assert!(!replay.contains(canary), "{canary} reached the replay");
        assert!(!format!("{r:?}").contains(canary), "{canary} in the report");
    }
    fx.assert_consistent(&pid);
}
