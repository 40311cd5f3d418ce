//! `apply` on the app-owned handler path, through the built binary against a stub handler:
//! the human output and its next steps, `--json`, `--force-handler-retry`, exit codes, and that
//! the token, signing secret and URL (canaries) appear nowhere: not in stdout or stderr (with
//! debug logs on), not in the ledger files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::handler_support;

use handler_support::{Project, assert_no_secret};
use serde_json::{Value, json};
use sluicegate_test_support::{HttpStub, Reply};

const TOKEN: &str = "canary-cli-token-a41d";
const SECRET: &str = "canary-cli-secret-77b3";
const URL_CANARY: &str = "canary-cli-path-5e02";

/// A stub handler answering the n-th request with `answers[n]` (the last one repeats), at a
/// URL whose path carries a canary.
fn stub(answers: Vec<(u16, Value)>) -> (String, HttpStub) {
    let stub = HttpStub::replying(
        answers
            .iter()
            .map(|(status, body)| Reply::json(*status, body))
            .collect(),
    );
    (stub.url(&format!("/hook/{URL_CANARY}")), stub)
}

fn project(url: &str, app: &std::path::Path) -> Project {
    let config = json!({
        "version": 1, "mode": "review", "result_format": 2,
        "storage": {"sqlite_path": "./ledger/local.db"},
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "executors": {"billing_app": {
            "type": "http_handler", "url_env": "HOOK_URL",
            "auth": {"type": "bearer_env", "token_env": "HOOK_TOKEN"},
            "signing_secret_env": "HOOK_SECRET", "timeout_ms": 3000
        }},
        "capabilities": [{
            "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
            "executor": "billing_app",
            "target": {"table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let app_url = format!("sqlite://{}", app.display());
    Project::new(
        &config,
        &[
            ("APP_URL", &app_url),
            ("TENANT", "acme"),
            ("PRINCIPAL", "cli_agent"),
            ("HOOK_URL", url),
            ("HOOK_TOKEN", TOKEN),
            ("HOOK_SECRET", SECRET),
        ],
    )
}

#[test]
fn handler_apply_through_the_cli_keeps_secrets_out_of_everything() {
    let (url, seen) = stub(vec![
        (
            200,
            json!({"status": "applied", "rows_affected": 1, "source_database_mutated": true}),
        ),
        (
            200,
            json!({"status": "already_applied", "rows_affected": 0, "source_database_mutated": false}),
        ),
        (500, json!({"status": "applied"})),
    ]);
    let appdir = tempfile::tempdir().unwrap();
    let app = appdir.path().join("app.db");
    sluicegate_source::sample_app::create(&app).unwrap();
    let mut p = project(&url, &app);

    let id = p.propose(
        "billing.propose_late_fee_waiver",
        &json!({"invoice_id": "INV-3001", "reason": "first late payment"}),
    );
    let o = p.cli(&["apply", &id]);
    assert_eq!(o.status.code(), Some(1), "unapproved apply is refused");
    assert_eq!(seen.count(), 0);

    p.approve(&id);
    let out = p.ok(&["apply", &id]);
    assert!(out.contains("App-owned writeback applied."), "{out}");
    assert!(out.contains("execution authority: app-owned http_handler billing_app outside MCP"));
    assert!(
        out.contains("source database changed by handler: yes"),
        "{out}"
    );
    assert!(out.contains(&format!("sluicegate replay show {id}")));
    {
        let seen = seen.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(
            seen[0]
                .header("x-synapsor-signature")
                .is_some_and(|s| s.starts_with("sha256=")),
            "{:?}",
            seen[0].headers
        );
    }

    // Again: no call; the next step names the explicit retry.
    let out = p.ok(&["apply", &id]);
    assert!(
        out.contains("App-owned writeback already applied."),
        "{out}"
    );
    assert!(out.contains("handler called: no"), "{out}");
    assert!(out.contains("--force-handler-retry"), "{out}");
    let o = p.cli(&["apply", &id, "--json"]);
    let receipt: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(receipt["status"], json!("already_applied"));
    assert_eq!(
        receipt["schema_version"],
        json!("synapsor.execution-receipt.v1")
    );
    assert_eq!(seen.count(), 1);

    // Forced: the handler is asked again and confirms.
    let out = p.ok(&["apply", &id, "--force-handler-retry"]);
    assert!(
        out.contains("already applied") && out.contains("attempt 2"),
        "{out}"
    );
    assert_eq!(seen.count(), 2);

    // A failing handler: exit 1, the code, and a next step that keeps the proposal inspectable.
    let other = p.propose(
        "billing.propose_late_fee_waiver",
        &json!({"invoice_id": "INV-3002", "reason": "second"}),
    );
    p.approve(&other);
    let o = p.cli(&["apply", &other]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("App-owned writeback failed."), "{out}");
    assert!(out.contains("HANDLER_HTTP_500"), "{out}");
    assert!(out.contains("Next step:"), "{out}");
    assert!(
        out.contains(&format!("sluicegate apply {other} --force-handler-retry")),
        "{out}"
    );
    let shown = p.ok(&["proposals", "show", &other, "--json"]);
    assert!(shown.contains("\"failed\""), "{shown}");
    let replay = p.ok(&["replay", "show", &other, "--json"]);
    assert!(replay.contains("writeback_failed"), "{replay}");

    // Dry run: nothing sent.
    let third = p.propose(
        "billing.propose_late_fee_waiver",
        &json!({"invoice_id": "INV-3002", "reason": "third"}),
    );
    p.approve(&third);
    let out = p.ok(&["apply", &third, "--dry-run"]);
    assert!(
        out.contains("dry run passed; the handler was not called"),
        "{out}"
    );
    assert_eq!(seen.count(), 3);
    let shown = p.ok(&["proposals", "show", &third, "--json"]);
    assert!(
        shown.contains("\"approved\""),
        "a dry run changes no state: {shown}"
    );

    assert_no_secret(&p.everything_written(), &[TOKEN, SECRET, URL_CANARY]);
}
