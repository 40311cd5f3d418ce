//! Each first-run check on both sides: what passes, and what warns or fails.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use serde_json::json;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

fn write_config(dir: &Path, mode: &str) -> PathBuf {
    let doc = json!({
        "version": 1, "mode": mode,
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [{
            "name": "billing.propose_waiver", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "late_fee_cents", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}},
            "allowed_columns": ["late_fee_cents"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let path = dir.join("sluicegate.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn status(checks: &[FirstRunCheck], name: &str) -> Level {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
        .status
}

#[test]
fn disk_and_memory_warn_below_their_thresholds() {
    assert_eq!(disk_space(Some(10 * GIB)).status, Level::Pass);
    assert_eq!(disk_space(Some(GIB)).status, Level::Warn);
    assert_eq!(disk_space(None).status, Level::Warn);
    assert_eq!(memory(Some(8 * GIB)).status, Level::Pass);
    assert_eq!(memory(Some(2 * GIB)).status, Level::Warn);
    assert!(memory(Some(2 * GIB)).checked.contains("2048 MiB"));
}

#[test]
fn a_busy_port_fails_and_a_free_one_passes() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let busy = listener.local_addr().unwrap().port();
    let c = port_free(busy, port_busy(busy));
    assert_eq!(
        (c.name.as_str(), c.status),
        (format!("port-{busy}").as_str(), Level::Fail)
    );
    drop(listener);
    assert_eq!(port_free(busy, port_busy(busy)).status, Level::Pass);
}

#[test]
fn config_checks_cover_missing_invalid_env_and_shared_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let missing = config_checks(&dir.path().join("nope.json"), &env(&[]));
    assert_eq!(status(&missing, "config"), Level::Warn);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"version": 1, "mode": "sideways"}"#).unwrap();
    let invalid = config_checks(&bad, &env(&[]));
    assert_eq!(status(&invalid, "config"), Level::Pass);
    assert_eq!(status(&invalid, "config-valid"), Level::Fail);

    let path = write_config(dir.path(), "review");
    let unset = config_checks(&path, &env(&[]));
    assert_eq!(status(&unset, "config-valid"), Level::Pass);
    assert_eq!(status(&unset, "env:TENANT"), Level::Warn);
    assert_eq!(status(&unset, "env:APP_WRITE_URL"), Level::Warn);

    let shared = env(&[
        ("TENANT", "acme"),
        ("PRINCIPAL", "a"),
        ("APP_READ_URL", "/x.db"),
        ("APP_WRITE_URL", "/x.db"),
    ]);
    let checks = config_checks(&path, &shared);
    assert_eq!(status(&checks, "env:TENANT"), Level::Pass);
    assert_eq!(status(&checks, "credential-split-app"), Level::Fail);
    assert!(
        checks.iter().all(|c| !c.checked.contains("/x.db")),
        "values never shown"
    );

    let split = env(&[
        ("TENANT", "acme"),
        ("PRINCIPAL", "a"),
        ("APP_READ_URL", "/r.db"),
        ("APP_WRITE_URL", "/w.db"),
    ]);
    assert_eq!(
        status(&config_checks(&path, &split), "credential-split-app"),
        Level::Pass
    );
}

#[test]
fn the_store_warns_until_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    assert_eq!(store(&path).status, Level::Warn);
    std::fs::write(&path, "").unwrap();
    assert_eq!(store(&path).status, Level::Pass);
}

#[test]
fn snippets_with_credentials_fail_and_none_warns() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(snippets(&[])[0].status, Level::Warn);
    let clean = dir.path().join("clean.json");
    std::fs::write(
        &clean,
        r#"{"mcpServers":{"s":{"command":"sluicegate","env":{"SLUICEGATE_LOG":"info"}}}}"#,
    )
    .unwrap();
    assert_eq!(
        snippets(std::slice::from_ref(&clean))[0].status,
        Level::Pass
    );
    for (text, what) in [
        (
            r#"{"env":{"URL":"postgresql://u:p@h/db"}}"#,
            "a PostgreSQL URL",
        ),
        (r#"{"env":{"URL":"mysql://u@h/db"}}"#, "a MySQL URL"),
        (r#"{"env":{"DB_PASSWORD": "hunter2"}}"#, "a password"),
        (
            r#"{"headers":{"Authorization":"Bearer abc123"}}"#,
            "a bearer token",
        ),
        (r#"{"env":{"T":"syn_wbr_123"}}"#, "a runner token"),
    ] {
        let f = dir.path().join("leaky.json");
        std::fs::write(&f, text).unwrap();
        let c = &snippets(std::slice::from_ref(&f))[0];
        assert_eq!(c.status, Level::Fail, "{text}");
        assert!(c.checked.ends_with(what), "{}", c.checked);
        assert!(!c.checked.contains("hunter2") && !c.checked.contains("abc123"));
    }
    assert_eq!(
        credential_in(r#"{"password_env": "DB_PASSWORD_VAR"}"#),
        None,
        "naming a variable is fine"
    );
    assert_eq!(
        snippets(&[dir.path().join("missing.json")])[0].status,
        Level::Fail
    );
}

#[test]
fn the_whole_report_is_ok_only_without_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let snippet_dir = dir.path().join("mcp");
    std::fs::create_dir_all(&snippet_dir).unwrap();
    let options = FirstRunOptions {
        config_path: write_config(dir.path(), "review"),
        store_path: dir.path().join(".sluicegate/local.db"),
        client_config: None,
        snippet_dir: snippet_dir.clone(),
        ports: Vec::new(),
    };
    let report = first_run(&options, &env(&[]));
    assert!(report.ok, "{report:?}");
    let text = first_run_text(&report);
    assert!(
        text.starts_with("Sluicegate first-run doctor: ok\n\n"),
        "{text}"
    );
    assert!(text.contains("WARN no ledger at "), "{text}");
    assert!(text.contains("Why it matters: ") && text.contains("Fix: "));

    std::fs::write(
        snippet_dir.join("claude.json"),
        r#"{"env":{"U":"postgres://x"}}"#,
    )
    .unwrap();
    let report = first_run(&options, &env(&[]));
    assert!(!report.ok);
    assert!(first_run_text(&report).starts_with("Sluicegate first-run doctor: needs attention"));
}
