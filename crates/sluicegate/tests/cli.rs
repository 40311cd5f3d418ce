//! The built binary: the demo, config validation, and the review loop driven through the CLI
//! exactly as a user types it, on a SQLite sample app. Exit codes and refusals are asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sluicegate_test_support::shown_proposal_id;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
    c.env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .env("CI", "true");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

#[test]
fn demo_quick_runs_the_whole_loop_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["demo", "--quick"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("quick demo complete"), "{text}");
    assert!(text.contains("already_applied"), "{text}");
    assert!(text.contains("conflict"), "{text}");
    assert!(dir.path().join(".sluicegate/quick-demo.db").exists());

    let o = run(dir.path(), &["demo", "--quick", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_out(&o);
    assert_eq!(v["cross_tenant"], json!("NOT_FOUND_IN_TENANT"));
    assert_eq!(v["tenant_override"], json!("MODEL_CANNOT_OVERRIDE_BINDING"));
    assert_eq!(v["source_unchanged_after_proposal"], json!(true));
    assert_eq!(v["apply"]["rows_changed"], json!(1));
    assert_eq!(v["retry"]["status"], json!("already_applied"));
    assert_eq!(v["stale_apply"]["status"], json!("conflict"));
    assert!(
        v["read"]["hidden_columns"]
            .as_array()
            .unwrap()
            .contains(&json!("internal_risk_note"))
    );

    // The inspect commands it prints work against what the demo recorded.
    let o = run(dir.path(), &["demo", "inspect", "--json"]);
    assert!(o.status.success());
    for cmd in json_out(&o)["commands"].as_array().unwrap() {
        let line = cmd["command"].as_str().unwrap();
        // Spelt the way the binary was started: `cargo run --` for this workspace build.
        let words: Vec<&str> = line
            .strip_prefix("cargo run --")
            .unwrap_or_else(|| panic!("`{line}` is not spelt as this build's invocation"))
            .split_whitespace()
            .collect();
        if words[0] == "ui" {
            review_ui_starts(dir.path(), &words, line);
            continue;
        }
        let o = run(dir.path(), &words);
        assert!(o.status.success(), "`{line}` failed: {}", stderr(&o));
    }
    // The summary's last lines are the same commands.
    let o = run(dir.path(), &["demo", "--quick"]);
    let text = stdout(&o);
    assert!(
        text.trim_end().ends_with("ui --port 0 --config .sluicegate/demo/sluicegate.json --store .sluicegate/quick-demo.db"),
        "{text}"
    );
}

/// A printed `ui` command serves until stopped: it prints its login URL first and stops
/// cleanly on SIGTERM.
fn review_ui_starts(dir: &Path, words: &[&str], line: &str) {
    use sluicegate_test_support::process::{self, Signal};
    use std::io::{BufRead, BufReader};
    let mut child = bin()
        .current_dir(dir)
        .args(words)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    process::signal(child.id(), Signal::TERM);
    let status = process::wait_within(&mut child, std::time::Duration::from_secs(10)).unwrap();
    assert!(
        first.starts_with("http://127.0.0.1:") && first.contains("/login?token="),
        "`{line}` printed {first:?}"
    );
    assert!(status.success(), "`{line}` did not stop cleanly: {status}");
}

/// A project directory with the sample app, a config pointing at it, and env for the calls.
struct Project {
    dir: tempfile::TempDir,
    app: PathBuf,
}

impl Project {
    fn new(mode: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app.db");
        sluicegate_source::sample_app::create(&app).unwrap();
        let config = json!({
            "version": 1, "mode": mode, "result_format": 2,
            "storage": {"sqlite_path": "./ledger/local.db"},
            "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
            "capabilities": [
                {"name": "billing.inspect_invoice", "kind": "read", "source": "app",
                 "target": {"table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                 "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
                 "visible_columns": ["id", "status", "late_fee_cents"]},
                {"name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
                 "target": {"table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                 "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string"}},
                 "lookup": {"id_from_arg": "invoice_id"},
                 "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
                 "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
                 "allowed_columns": ["late_fee_cents", "waiver_reason"],
                 "conflict_guard": {"column": "updated_at"}}
            ]
        });
        std::fs::write(dir.path().join("sluicegate.json"), config.to_string()).unwrap();
        // The id `--sample` sends, as `onboard db --smoke-id` records it.
        std::fs::create_dir_all(dir.path().join(".sluicegate")).unwrap();
        std::fs::write(
            dir.path().join(".sluicegate/smoke-input.json"),
            json!({"invoice_id": "INV-3001"}).to_string(),
        )
        .unwrap();
        Project { dir, app }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.current_dir(self.dir.path())
            .env("APP_URL", format!("sqlite://{}", self.app.display()))
            .env("TENANT", "acme")
            .env("PRINCIPAL", "cli_agent")
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// The newest proposal's id: what a reviewer approves by name (`approve latest --yes`
    /// is refused, since `latest` may have moved on since it was shown).
    fn latest_id(&self) -> String {
        shown_proposal_id(&self.run(&["proposals", "show", "latest", "--json"]).stdout)
    }
}

/// `propose --id-only` prints the new proposal's id and nothing else, in either result
/// envelope; a refusal prints nothing on stdout (a script's `$(…)` gets no id) and exits 1.
#[test]
fn propose_id_only_prints_just_the_id_in_either_envelope() {
    let p = Project::new("review");
    let path = p.dir.path().join("sluicegate.json");
    for format in [1, 2] {
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["result_format"] = json!(format);
        std::fs::write(&path, config.to_string()).unwrap();
        let args = format!(r#"{{"invoice_id":"INV-3001","reason":"format {format}"}}"#);
        let o = p.run(&[
            "propose",
            "billing.propose_late_fee_waiver",
            "--args",
            &args,
            "--id-only",
        ]);
        assert!(o.status.success(), "format {format}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!("{}\n", p.latest_id()),
            "format {format}"
        );

        let o = p.run(&[
            "propose",
            "billing.propose_late_fee_waiver",
            "--args",
            r#"{"invoice_id":"NOPE","reason":"x"}"#,
            "--id-only",
        ]);
        assert_eq!(o.status.code(), Some(1), "format {format}");
        assert_eq!(stdout(&o), "", "format {format}");
        assert!(stderr(&o).contains("Proposal refused"), "{}", stderr(&o));
    }
}

/// A decision is recorded under `--actor`, else `SLUICEGATE_ACTOR`, else `$USER`, else
/// `local_operator`.
#[test]
fn the_deciding_human_comes_from_the_flag_then_the_environment() {
    let p = Project::new("review");
    // (--actor, SLUICEGATE_ACTOR, USER, who is recorded)
    let cases = [
        (Some("ann"), Some("bea"), Some("cy"), "ann"),
        (None, Some("bea"), Some("cy"), "bea"),
        (None, None, Some("cy"), "cy"),
        (None, None, None, "local_operator"),
    ];
    for (n, (flag, env_actor, user, expected)) in cases.into_iter().enumerate() {
        let reason = format!(r#"{{"invoice_id":"INV-3001","reason":"case {n}"}}"#);
        let o = p.run(&[
            "propose",
            "billing.propose_late_fee_waiver",
            "--args",
            &reason,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let id = p.latest_id();
        let mut c = p.cmd(&["proposals", "approve", &id, "--yes", "--json"]);
        c.env_remove("SLUICEGATE_ACTOR").env_remove("USER");
        if let Some(a) = flag {
            c.args(["--actor", a]);
        }
        if let Some(a) = env_actor {
            c.env("SLUICEGATE_ACTOR", a);
        }
        if let Some(u) = user {
            c.env("USER", u);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let shown = json_out(&p.run(&["proposals", "show", &id, "--json"]));
        let approved = shown["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == json!("proposal_approved"))
            .unwrap_or_else(|| panic!("no approval event: {shown}"));
        assert_eq!(approved["actor"], json!(expected), "case {n}: {approved}");
    }
}

#[test]
fn the_review_loop_through_the_cli() {
    let p = Project::new("review");
    let o = p.run(&["config", "validate", "--json"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(json_out(&o)["ok"], json!(true));

    let o = p.run(&["tools", "preview", "--alias-mode", "openai", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_out(&o);
    assert_eq!(
        v["exposed_to_mcp"],
        json!([
            "billing__inspect_invoice",
            "billing__propose_late_fee_waiver"
        ])
    );
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == json!(true))
    );

    let o = p.run(&[
        "smoke",
        "call",
        "billing.inspect_invoice",
        "--args",
        r#"{"invoice_id":"INV-3001"}"#,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        json_out(&o)["result"]["data"]["late_fee_cents"],
        json!(5500)
    );

    // A refused call exits 1 with the safe code.
    let o = p.run(&[
        "smoke",
        "call",
        "billing.inspect_invoice",
        "--args",
        r#"{"invoice_id":"INV-9001"}"#,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json_out(&o)["result"]["error"]["code"],
        json!("NOT_FOUND_IN_TENANT")
    );

    // propose needs explicit input.
    let o = p.run(&["propose", "billing.propose_late_fee_waiver"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sample"), "{}", stderr(&o));
    let o = p.run(&["propose", "billing.propose_late_fee_waiver", "--sample"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("Proposal created."));

    // Applying before approval is refused (exit 1), nothing is written.
    let o = p.run(&["apply", "latest"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("PROPOSAL_NOT_APPROVED"),
        "{}",
        stderr(&o)
    );

    // Approval without a terminal needs --yes.
    let o = p.run(&["proposals", "approve", "latest"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
    // `latest` with --yes would approve whatever is newest by then, unseen: it needs the
    // content hash that was reviewed (or the id).
    let o = p.run(&["proposals", "approve", "latest", "--yes", "--actor", "ana"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("LATEST_NEEDS_HASH"), "{}", stderr(&o));
    let shown = json_out(&p.run(&["proposals", "show", "latest", "--json"]));
    assert_eq!(shown["proposal"]["state"], json!("pending_review"));
    let hash = shown["proposal"]["proposal_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let o = p.run(&[
        "proposals",
        "approve",
        "latest",
        "--yes",
        "--actor",
        "ana",
        "--hash",
        &hash,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = p.run(&["apply", "latest", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("dry run passed"));
    let o = p.run(&["proposals", "show", "latest", "--json"]);
    assert_eq!(json_out(&o)["verified"], json!(true));
    assert_eq!(
        json_out(&o)["proposal"]["state"],
        json!("approved"),
        "a dry run changes no state"
    );

    let o = p.run(&["apply", "latest", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_out(&o);
    assert_eq!(v["status"], json!("applied"));
    assert_eq!(v["affected_rows"], json!(1));

    let o = p.run(&["apply", "latest"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("already applied"), "{}", stdout(&o));

    let o = p.run(&["receipts", "list", "--json"]);
    let receipts = json_out(&o)["receipts"].as_array().unwrap().clone();
    let statuses: Vec<&str> = receipts
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["already_applied", "applied"],
        "every attempt keeps its own receipt (newest first)"
    );
    let o = p.run(&["receipts", "show", "rct_000001"]);
    assert!(stdout(&o).contains("Status: applied"), "{}", stdout(&o));

    let o = p.run(&["replay", "show", "latest"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("late_fee_cents: 5500 -> 0"),
        "{}",
        stdout(&o)
    );
    let o = p.run(&[
        "replay",
        "export",
        "latest",
        "--output",
        "out/replay.md",
        "--format",
        "markdown",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(p.dir.path().join("out/replay.md")).unwrap();
    assert!(md.starts_with("# Sluicegate Replay"));
    assert!(md.contains("## Guarded Writeback"));

    let o = p.run(&["evidence", "list", "--json"]);
    let ev = json_out(&o)["evidence"][0]["evidence_bundle_id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = p.run(&["evidence", "export", &ev, "--output", "out/ev.json"]);
    assert!(o.status.success());
    let o = p.run(&["query-audit", "list", "--json"]);
    let audits = json_out(&o)["query_audit"].as_array().unwrap().clone();
    assert!(
        audits
            .iter()
            .all(|a| a["payload"]["parameters_redacted"] == json!(true))
    );
    for a in &audits {
        assert!(
            !a["payload"].to_string().contains("INV-3001"),
            "bound values must not be in audit payloads: {a}"
        );
    }
}

#[test]
fn config_validation_reports_codes_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sluicegate.json"),
        r#"{"version": 2, "mode": "review", "sources": {"a": {"engine": "postgres", "read_url_env": "X", "url": "postgres://u:p@h/d"}}, "trusted_context": {"provider": "environment"}, "capabilities": []}"#,
    )
    .unwrap();
    let o = run(dir.path(), &["config", "validate"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("error $.version UNSUPPORTED_CONFIG_VERSION"),
        "{text}"
    );
    assert!(
        text.contains("error $.sources.a.url INLINE_DATABASE_URL_FORBIDDEN"),
        "{text}"
    );
    assert!(
        text.contains("error $.capabilities CAPABILITIES_REQUIRED"),
        "{text}"
    );

    // show redacts the inline URL by default
    let o = run(dir.path(), &["config", "show"]);
    assert!(!stdout(&o).contains("u:p@h"), "{}", stdout(&o));

    // A command that needs a valid config refuses it and lists the errors.
    let o = run(dir.path(), &["tools", "preview"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("UNSUPPORTED_CONFIG_VERSION"));

    let o = run(
        dir.path(),
        &["config", "validate", "--config", "missing.json"],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn read_commands_never_create_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["proposals", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no Sluicegate ledger"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join(".sluicegate").exists());
}

#[test]
fn reject_and_shadow_refusals() {
    let p = Project::new("shadow");
    let o = p.run(&[
        "propose",
        "billing.propose_late_fee_waiver",
        "--args",
        r#"{"invoice_id":"INV-3001","reason":"x"}"#,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        json_out(&o)["proposal"]["state"],
        json!("shadow_proposal_created")
    );
    let o = p.run(&["proposals", "approve", &p.latest_id(), "--yes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("shadow"), "{}", stderr(&o));
    let o = p.run(&[
        "proposals",
        "reject",
        "latest",
        "--yes",
        "--reason",
        "not now",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = p.run(&[
        "proposals",
        "reject",
        "latest",
        "--yes",
        "--reason",
        "again",
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn smoke_boundary_checks_the_tools_a_model_would_see() {
    let p = Project::new("review");
    for cmd in [["smoke", "boundary"], ["mcp", "smoke"]] {
        let o = p.run(&[cmd[0], cmd[1], "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v = json_out(&o);
        assert_eq!(v["ok"], json!(true));
        assert_eq!(
            v["tools"],
            json!(["billing.inspect_invoice", "billing.propose_late_fee_waiver"])
        );
        assert!(v["checks"].as_array().unwrap().len() >= 6);
        let text = stdout(&p.run(&cmd));
        assert!(text.starts_with("Sluicegate MCP smoke: ok"), "{text}");
        assert!(text.contains("  - billing.inspect_invoice"), "{text}");
        assert!(text.contains("PASS approval tools absent"), "{text}");
    }

    // A capability whose name offers approval to the model fails the boundary (exit 1).
    let path = p.dir.path().join("sluicegate.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["capabilities"][0]["name"] = json!("billing.approve_invoice");
    std::fs::write(&path, config.to_string()).unwrap();
    let o = p.run(&["smoke", "boundary"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("Sluicegate MCP smoke: failed"));
    assert!(
        stdout(&o).contains("FAIL approval tools absent"),
        "{}",
        stdout(&o)
    );
}

/// Reviewer keys, signed decisions and `store verify`, as a reviewer types them.
#[test]
fn signed_reviews_and_store_verify_through_the_cli() {
    let p = Project::new("review");
    let o = p.run(&["propose", "billing.propose_late_fee_waiver", "--sample"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let key = p.dir.path().join("keys/ann.key");
    let key_arg = key.display().to_string();
    let o = p.run(&[
        "reviewer", "init", "--name", "ann", "--key", &key_arg, "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let public_key = json_out(&o)["public_key"].as_str().unwrap().to_string();
    assert!(public_key.starts_with("ed25519:"));
    let o = p.run(&["reviewer", "init", "--name", "ann", "--key", &key_arg]);
    assert_eq!(o.status.code(), Some(2), "a key is never overwritten");

    // Trust ann's key: from now on only approvals she signed count.
    let path = p.dir.path().join("sluicegate.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["reviewers"] = json!([{"name": "ann", "public_key": public_key}]);
    std::fs::write(&path, config.to_string()).unwrap();

    let o = p.run(&["proposals", "approve", &p.latest_id(), "--yes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("REVIEWER_KEY_REQUIRED"),
        "{}",
        stderr(&o)
    );
    let o = p.run(&[
        "proposals",
        "approve",
        "latest",
        "--yes",
        "--hash",
        "sha256:00",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("PROPOSAL_HASH_MISMATCH"),
        "{}",
        stderr(&o)
    );
    let id = p.latest_id();
    let approve = ["proposals", "approve", &id, "--yes", "--key", &key_arg];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = p.run(&approve);
        assert_ne!(o.status.code(), Some(0));
        assert!(stderr(&o).contains("readable by others"), "{}", stderr(&o));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = p.run(&approve);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = p.run(&["store", "verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("(1 signed)"), "{}", stdout(&o));
    let o = p.run(&["apply", "latest", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_out(&o)["status"], json!("applied"));

    // An edit of the decision behind Sluicegate's back is found, and exits 1.
    let ledger = rusqlite::Connection::open(p.dir.path().join("ledger/local.db")).unwrap();
    ledger
        .execute_batch("DROP TRIGGER approvals_no_update; UPDATE approvals SET reason = 'x'")
        .unwrap();
    let o = p.run(&["store", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("BROKEN: 1 proposal(s)"),
        "{}",
        stdout(&o)
    );
    let o = p.run(&["store", "verify", "--json"]);
    assert_eq!(json_out(&o)["problems"][0]["record"], json!("decision"));
    // What `proposals show` prints first, and says in JSON, about that proposal.
    let o = p.run(&["proposals", "show", "latest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("WARNING: this proposal's records do not verify"),
        "{}",
        stdout(&o)
    );
    let shown = json_out(&p.run(&["proposals", "show", "latest", "--json"]));
    assert_eq!(shown["verified"], json!(false), "{shown}");
    assert_eq!(shown["problem"]["record"], json!("decision"), "{shown}");
}

/// `--sample` never guesses an id: without a recorded one it says what to pass instead.
#[test]
fn sample_without_a_recorded_id_says_what_to_pass() {
    let p = Project::new("review");
    std::fs::remove_file(p.dir.path().join(".sluicegate/smoke-input.json")).unwrap();
    let o = p.run(&["smoke", "call", "billing.inspect_invoice", "--sample"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("--args '{\"invoice_id\":\"<a real id>\"}'"),
        "{err}"
    );
    assert!(err.contains(".sluicegate/smoke-input.json"), "{err}");
}

/// `store stats`: counts and bytes per recorded call, as text and JSON; a missing ledger is
/// refused (exit 2), never created.
#[test]
fn store_stats_reports_counts_and_bytes_per_call() {
    let p = Project::new("review");
    let o = p.run(&["store", "stats"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!p.dir.path().join("ledger/local.db").exists());
    let o = p.run(&["propose", "billing.propose_late_fee_waiver", "--sample"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = p.run(&["store", "stats", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_out(&o);
    assert_eq!(v["proposals"], json!(1));
    assert_eq!(v["evidence_bundles"], json!(1));
    assert!(v["bytes_per_call"].as_i64().unwrap() > 0, "{v}");
    let o = p.run(&["store", "stats"]);
    assert!(
        stdout(&o).contains("bytes per recorded call"),
        "{}",
        stdout(&o)
    );
}

/// The README's "Using it" commands, run as written (with `sluicegate` being this build) in a
/// project whose `sluicegate.json` is the billing config, with its env set.
#[test]
fn the_readme_using_it_commands_run_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let block = readme
        .split("## Using it")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("README has a Using it block");
    let p = Project::new("review");
    let mut ran = 0;
    // `<id>` is what the last `proposals show` named, as a reader would copy it.
    let mut shown = None;
    for line in block.lines() {
        let command = line.split(" #").next().unwrap().trim();
        if command.is_empty() {
            continue;
        }
        let words = shell_words::split(command).unwrap();
        assert_eq!(words[0], "sluicegate", "{line}");
        let args: Vec<String> = words[1..]
            .iter()
            .map(|w| match (w.as_str(), &shown) {
                ("<id>", Some(id)) => String::clone(id),
                ("<id>", None) => panic!("`{command}`: <id> before any `proposals show`"),
                _ => w.clone(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = p.run(&args);
        if command.starts_with("sluicegate proposals show") {
            let first = stdout(&o).lines().next().unwrap_or_default().to_string();
            shown = first.strip_prefix("Proposal ").map(str::to_string);
        }
        assert!(
            o.status.success(),
            "`{command}` failed: {}{}",
            stdout(&o),
            stderr(&o)
        );
        ran += 1;
    }
    assert!(ran >= 9, "{ran} commands");
}
