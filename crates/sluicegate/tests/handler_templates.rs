//! Each `handler template` starter, written by the binary and run unmodified against real
//! Sluicegate requests on real PostgreSQL: propose, approve, apply, retry, forced retry, a
//! stale proposal, and (HTTP templates) a request signed with the wrong secret, which the
//! template's own HMAC check (Node `crypto`, Python `hmac`) must refuse.
//!
//! Needs the handler toolchains (`SLUICEGATE_HANDLER_DEPS`) and `SLUICEGATE_TEST_POSTGRES_URL`,
//! both set by `scripts/test.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::handler_support;

use std::path::Path;
use std::process::Command;

use handler_support::{HandlerProcess, Project, assert_no_secret, deps, free_port};
use serde_json::{Value, json};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

const TOKEN: &str = "canary-template-token-4b1e";
const SECRET: &str = "canary-template-secret-83f0";

const FIXTURE: &str = "
CREATE TABLE public.invoices (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  status text NOT NULL,
  late_fee_cents integer NOT NULL,
  waiver_reason text,
  updated_at timestamptz NOT NULL
);
INSERT INTO public.invoices VALUES
  ('INV-3001', 'acme', 'overdue', 5500, NULL, '2026-06-20T14:31:08.123456Z'),
  ('INV-3002', 'acme', 'overdue', 2500, NULL, '2026-06-21T09:12:40Z'),
  ('INV-3003', 'acme', 'overdue', 1500, NULL, '2026-06-21T09:12:40Z'),
  ('INV-9001', 'otherco', 'overdue', 7500, NULL, '2026-06-20T14:31:08Z');
";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    NodeFastify,
    PythonFastapi,
    Command,
}

fn config(executor: Value) -> Value {
    json!({
        "version": 1,
        "mode": "review",
        "result_format": 2,
        "storage": {"sqlite_path": "./ledger/local.db"},
        "sources": {"app": {"engine": "postgres", "read_url_env": "APP_READ_URL", "statement_timeout_ms": 5000}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "executors": {"app_handler": executor},
        "capabilities": [{
            "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
            "executor": "app_handler",
            "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string", "max_length": 64}, "reason": {"type": "string", "max_length": 200}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            "conflict_guard": {"column": "updated_at"}
        }]
    })
}

async fn row(db: &TestDatabase, id: &str) -> Vec<Option<String>> {
    db.query_text(&format!(
        "SELECT late_fee_cents::text, waiver_reason, updated_at::text FROM public.invoices WHERE id = '{id}'"
    ))
    .await
    .remove(0)
}

async fn receipts(db: &TestDatabase) -> Vec<Vec<Option<String>>> {
    db.query_text(
        "SELECT idempotency_key, status FROM public.sluicegate_handler_receipts ORDER BY idempotency_key",
    )
    .await
}

/// Write the template with the binary, start it (HTTP) and return the executor config.
fn install(
    kind: Kind,
    deps: &Path,
    work: &Path,
    db_url: &str,
    p: &mut Project,
) -> (Value, Option<HandlerProcess>) {
    let (name, file) = match kind {
        Kind::NodeFastify => ("node-fastify", "handler.mjs"),
        Kind::PythonFastapi => ("python-fastapi", "handler.py"),
        Kind::Command => ("command", "handler.mjs"),
    };
    let path = work.join(file);
    let out = p.ok(&[
        "handler",
        "template",
        name,
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(out.contains("IMPORTANT: your app handler owns the final business write."));
    if kind != Kind::PythonFastapi {
        // ESM resolves packages next to the file: give it the installed node_modules.
        std::os::unix::fs::symlink(deps.join("node/node_modules"), work.join("node_modules"))
            .unwrap();
    }
    let http = json!({
        "type": "http_handler", "url_env": "HOOK_URL", "method": "POST",
        "auth": {"type": "bearer_env", "token_env": "HOOK_TOKEN"},
        "signing_secret_env": "HOOK_SECRET", "timeout_ms": 10000
    });
    match kind {
        Kind::Command => {
            p.set_env("HOOK_COMMAND", &format!("node '{}'", path.display()));
            // The command inherits Sluicegate's environment: that is how it finds its database.
            p.set_env("APP_DATABASE_URL", db_url);
            (
                json!({"type": "command_handler", "command_env": "HOOK_COMMAND", "timeout_ms": 10000}),
                None,
            )
        }
        _ => {
            let port = free_port();
            let mut cmd = if kind == Kind::NodeFastify {
                let mut c = Command::new("node");
                c.arg(&path);
                c
            } else {
                let mut c = Command::new(deps.join("venv/bin/python"));
                c.arg(&path);
                c
            };
            cmd.current_dir(work)
                .env("PORT", port.to_string())
                .env("SLUICEGATE_HANDLER_TOKEN", TOKEN)
                .env("SLUICEGATE_HANDLER_SIGNING_SECRET", SECRET)
                .env("APP_DATABASE_URL", db_url);
            let h = HandlerProcess::start(cmd, port, work.join("handler.log"));
            p.set_env("HOOK_URL", &h.url());
            (http, Some(h))
        }
    }
}

async fn template_story(kind: Kind) {
    let Some(deps) = deps() else { return };
    let Some(db) = TestDatabase::create(EngineKind::Postgres, "handler_tpl").await else {
        return;
    };
    db.execute(FIXTURE).await;
    let work = tempfile::tempdir().unwrap();
    let mut p = Project::new(
        &json!({}),
        &[
            ("APP_READ_URL", db.url()),
            ("TENANT", "acme"),
            ("PRINCIPAL", "agent_7"),
            ("HOOK_TOKEN", TOKEN),
            ("HOOK_SECRET", SECRET),
        ],
    );
    let (executor, handler) = install(kind, &deps, work.path(), db.url(), &mut p);
    std::fs::write(
        p.path().join("sluicegate.json"),
        serde_json::to_string_pretty(&config(executor)).unwrap(),
    )
    .unwrap();
    let log = || handler.as_ref().map(|h| h.log()).unwrap_or_default();

    // Propose: the source is unchanged.
    let before = row(&db, "INV-3001").await;
    let id = p.propose(
        "billing.propose_late_fee_waiver",
        &json!({"invoice_id": "INV-3001", "reason": "first late payment"}),
    );
    assert_eq!(row(&db, "INV-3001").await, before);

    // Unapproved: refused, the handler never sees it.
    let o = p.cli(&["apply", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(row(&db, "INV-3001").await, before);

    // Approve, apply: the template's transaction makes the write and records its receipt.
    p.approve(&id);
    let out = p.cli(&["apply", &id]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.contains("App-owned writeback applied."),
        "{text}\n{}\nhandler log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        log()
    );
    let after = row(&db, "INV-3001").await;
    assert_eq!(after[0].as_deref(), Some("0"));
    assert_eq!(after[1].as_deref(), Some("first late payment"));
    assert_ne!(after[2], before[2], "the template bumps the version column");
    let key = format!("{id}:INV-3001");
    assert_eq!(
        receipts(&db).await,
        vec![vec![Some(key.clone()), Some("applied".into())]]
    );

    // Retry: answered from the ledger; forced: the template answers already_applied.
    let again = p.ok(&["apply", &id]);
    assert!(again.contains("already applied"), "{again}");
    let forced = p.ok(&["apply", &id, "--force-handler-retry"]);
    assert!(
        forced.contains("App-owned writeback already applied.") && forced.contains("attempt 2"),
        "{forced}\n{}",
        log()
    );
    assert_eq!(row(&db, "INV-3001").await, after, "a retry wrote again");

    // A stale proposal: the app edits the row after the proposal; the template refuses.
    let stale = p.propose(
        "billing.propose_late_fee_waiver",
        &json!({"invoice_id": "INV-3002", "reason": "stale"}),
    );
    p.approve(&stale);
    db.execute(
        "UPDATE public.invoices SET status = 'paid', updated_at = now() WHERE id = 'INV-3002'",
    )
    .await;
    let edited = row(&db, "INV-3002").await;
    let o = p.cli(&["apply", &stale]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ROW_CHANGED_AFTER_PROPOSAL"),
        "{text}\n{}",
        log()
    );
    assert_eq!(row(&db, "INV-3002").await, edited);

    // HTTP templates check the signature themselves: the wrong secret is refused.
    if kind != Kind::Command {
        let forged = p.propose(
            "billing.propose_late_fee_waiver",
            &json!({"invoice_id": "INV-3003", "reason": "forged"}),
        );
        p.approve(&forged);
        let untouched = row(&db, "INV-3003").await;
        p.set_env("HOOK_SECRET", "not-the-handler-secret");
        let o = p.cli(&["apply", &forged]);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains("HANDLER_HTTP_401"), "{text}\n{}", log());
        assert_eq!(row(&db, "INV-3003").await, untouched);
        p.set_env("HOOK_SECRET", SECRET);
    }

    // The replay tells the whole story, and no secret was written or printed anywhere.
    let replay = p.ok(&["replay", "show", &id, "--json"]);
    for kind in [
        "proposal_approved",
        "handler_writeback_job_recorded",
        "writeback_applied",
    ] {
        assert!(replay.contains(kind), "replay lacks {kind}");
    }
    assert_no_secret(&p.everything_written(), &[TOKEN, SECRET]);
}

#[tokio::test(flavor = "multi_thread")]
async fn node_fastify_template_handles_real_requests() {
    template_story(Kind::NodeFastify).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_fastapi_template_handles_real_requests() {
    template_story(Kind::PythonFastapi).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn command_template_handles_real_requests() {
    template_story(Kind::Command).await;
}

#[test]
fn templates_are_listed_and_written_safely() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Project::new(&json!({}), &[]);
    let list = p.ok(&["handler", "template", "--list"]);
    for name in ["node-fastify", "python-fastapi", "command"] {
        assert!(list.contains(name), "{list}");
    }
    for phrase in [
        "cross-tenant writes",
        "lost updates",
        "duplicate writes",
        "idempotency",
        "transaction/rollback",
        "source_database_mutated",
    ] {
        assert!(list.contains(phrase), "--list lacks {phrase:?}");
    }
    let target = dir.path().join("h.mjs");
    let t = target.to_str().unwrap();
    p.ok(&["handler", "template", "fastify", "--output", t]);
    let body = std::fs::read_to_string(&target).unwrap();
    assert!(body.contains("Fastify") && body.contains("x-synapsor-signature"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let o = p.cli(&["handler", "template", "node", "--output", t]);
    assert_eq!(o.status.code(), Some(1), "no silent overwrite");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    p.ok(&["handler", "template", "node", "--output", t, "--force"]);
    let py = p.ok(&["handler", "template", "python", "--stdout"]);
    assert!(py.contains("FastAPI") && py.contains("hmac.compare_digest"));
    let o = p.cli(&["handler", "template", "ruby"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--list"));
}
