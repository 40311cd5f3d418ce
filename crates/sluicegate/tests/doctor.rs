//! `sluicegate doctor`: env presence per context, source and executor; `--check-handlers`
//! probes without applying; exit 0 iff nothing failed; values, URLs and hosts never printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::handler_support;

use handler_support::{Project, assert_no_secret, free_port};
use serde_json::{Value, json};
use sluicegate_test_support::{HttpStub, Reply};

const URL_CANARY: &str = "canary-doctor-path-2c7e";
const TOKEN: &str = "canary-doctor-token-1f9a";

fn config() -> Value {
    json!({
        "version": 1,
        "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "executors": {
            "web": {"type": "http_handler", "url_env": "HOOK_URL", "auth": {"type": "bearer_env", "token_env": "HOOK_TOKEN"}, "timeout_ms": 2000},
            "script": {"type": "command_handler", "command_env": "HOOK_COMMAND"}
        },
        "capabilities": [{
            "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
            "executor": "web",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "late_fee_cents", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}},
            "allowed_columns": ["late_fee_cents"],
            "conflict_guard": {"column": "updated_at"}
        }]
    })
}

/// A server that answers 405, as most handlers answer OPTIONS.
fn listener() -> (u16, HttpStub) {
    let stub = HttpStub::start(|_, _| Reply::status(405));
    (stub.port(), stub)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn doctor_reports_env_presence_and_probes_handlers_without_applying() {
    let (port, seen) = listener();
    let url = format!("http://127.0.0.1:{port}/hook/{URL_CANARY}");
    // A real source: doctor also checks the read connection and the target's columns.
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("app.db").display().to_string();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT, late_fee_cents INTEGER, updated_at TEXT)")
        .unwrap();
    let mut p = Project::new(
        &config(),
        &[
            ("APP_READ_URL", &db),
            ("TENANT", "acme"),
            ("PRINCIPAL", "agent"),
            ("HOOK_URL", &url),
            ("HOOK_TOKEN", TOKEN),
            ("HOOK_COMMAND", "sh -c true"),
        ],
    );

    // Without --check-handlers: nothing is contacted; APP_WRITE_URL is not needed (no
    // direct-SQL proposal), the unsigned handler is a warning, so the doctor passes.
    let o = p.cli(&["doctor", "--json"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{r}");
    assert_eq!(r["ok"], json!(true));
    assert_eq!(check(&r, "config-valid")["level"], json!("pass"));
    assert_eq!(check(&r, "env:TENANT")["level"], json!("pass"));
    assert_eq!(
        check(&r, "env:HOOK_URL")["message"],
        json!("HOOK_URL is set.")
    );
    assert_eq!(check(&r, "env:HOOK_TOKEN")["level"], json!("pass"));
    assert_eq!(
        check(&r, "executor:web:handler-signing")["level"],
        json!("warn")
    );
    assert_eq!(
        check(&r, "executor:web:handler-reachability")["level"],
        json!("warn")
    );
    assert_eq!(seen.count(), 0, "probed without --check-handlers");

    // With it: one OPTIONS request, no body, no token, no signature.
    let o = p.cli(&["doctor", "--json", "--check-handlers"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{r}");
    assert_eq!(
        check(&r, "executor:web:handler-reachability")["level"],
        json!("pass")
    );
    assert_eq!(
        check(&r, "executor:script:handler-reachability")["level"],
        json!("pass")
    );
    let requests = seen.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "OPTIONS", "{:?}", requests[0]);
    assert!(requests[0].body.is_empty(), "{:?}", requests[0]);
    assert_eq!(requests[0].header("authorization"), None);
    assert_eq!(requests[0].header("x-synapsor-signature"), None);

    // Nothing listens, the program is missing, an env var is unset: failures, exit 1.
    p.set_env(
        "HOOK_URL",
        &format!("http://127.0.0.1:{}/{URL_CANARY}", free_port()),
    );
    p.set_env("HOOK_COMMAND", "/nonexistent/handler-program");
    p.env.remove("PRINCIPAL");
    let o = p.cli(&["doctor", "--check-handlers"]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.starts_with("Sluicegate doctor: failed"), "{text}");
    assert!(text.contains("x PRINCIPAL is required for"), "{text}");
    assert!(text.contains("connection failed"), "{text}");
    assert!(text.contains("not found or is not executable"), "{text}");

    // Env names only: never values, URLs or hosts.
    let all = p.outputs.join("\n");
    assert_no_secret(&all, &[URL_CANARY, TOKEN, "127.0.0.1", &db]);
}

#[test]
fn doctor_fails_on_an_invalid_config() {
    let mut p = Project::new(&json!({"version": 1, "mode": "review", "bogus": true}), &[]);
    let o = p.cli(&["doctor", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(check(&r, "config-valid")["level"], json!("fail"));
}

#[test]
fn up_with_handler_probes_handlers_and_fails_when_one_is_unreachable() {
    let (port, seen) = listener();
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("app.db").display().to_string();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT, late_fee_cents INTEGER, updated_at TEXT)")
        .unwrap();
    let mut p = Project::new(
        &config(),
        &[
            ("APP_READ_URL", &db),
            ("TENANT", "acme"),
            ("PRINCIPAL", "agent"),
            ("HOOK_URL", &format!("http://127.0.0.1:{port}/hook")),
            ("HOOK_TOKEN", TOKEN),
            ("HOOK_COMMAND", "sh -c true"),
        ],
    );
    let o = p.cli(&["up", "--dry-run", "--with-handler"]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("Handler check:"), "{text}");
    assert_eq!(seen.count(), 1, "one OPTIONS probe");

    p.set_env(
        "HOOK_URL",
        &format!("http://127.0.0.1:{}/hook", free_port()),
    );
    let o = p.cli(&["up", "--dry-run", "--with-handler"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_no_secret(&p.outputs.join("\n"), &[TOKEN, "127.0.0.1"]);
}
