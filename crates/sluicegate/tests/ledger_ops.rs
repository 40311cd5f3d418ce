//! The ledger operations through the built binary, as docs/operations.md prints them: job
//! files and `validate --job`, store maintenance, shadow mode and `doctor --first-run`.
//! Every refusal exits 1 with its stable code; could-not-run exits 2.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use sluicegate_ledger::lease::Lease;

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

/// A project directory with the sample app and a config over it in `mode`.
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
        Project { dir, app }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .env_remove("SLUICEGATE_CONFIG")
            .env_remove("SLUICEGATE_STORE")
            .env("CI", "true")
            .current_dir(self.dir.path())
            .env("APP_URL", format!("sqlite://{}", self.app.display()))
            .env("TENANT", "acme")
            .env("PRINCIPAL", "cli_agent")
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap()
    }

    /// Propose a waiver for `invoice`; returns the proposal id.
    fn propose(&self, invoice: &str, reason: &str) -> String {
        let args = json!({"invoice_id": invoice, "reason": reason}).to_string();
        let o = self.run(&[
            "propose",
            "billing.propose_late_fee_waiver",
            "--args",
            &args,
        ]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let o = self.run(&["proposals", "list", "--json", "--limit", "1"]);
        json_out(&o)["proposals"][0]["proposal_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    }

    /// Runs `args`, expecting a refusal (exit 1) naming `code` on stderr.
    fn refused(&self, args: &[&str], code: &str) {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(&format!("refused: {code}")),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn job_files_are_written_for_approved_proposals_and_checked_like_apply() {
    let p = Project::new("review");
    let pending = p.propose("INV-3001", "goodwill");
    p.refused(
        &["proposals", "writeback-job", &pending],
        "PROPOSAL_NOT_APPROVED",
    );
    p.ok(&["proposals", "approve", &pending, "--yes"]);

    let text = p.ok(&[
        "proposals",
        "writeback-job",
        "latest",
        "--output",
        "jobs/job.json",
        "--runner",
        "worker_1",
    ]);
    assert!(
        text.starts_with(&format!(
            "created writeback job wbj_{pending} for {pending} at jobs/job.json\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("Next: sluicegate validate --job jobs/job.json\n"),
        "{text}"
    );
    let valid = p.ok(&["validate", "--job", "jobs/job.json"]);
    assert!(
        valid.starts_with(&format!("job valid: wbj_{pending} for proposal {pending}")),
        "{valid}"
    );

    let job: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("jobs/job.json")).unwrap()).unwrap();
    let edits: [(&str, Value, &str); 3] = [
        ("/patch/late_fee_cents", json!(1), "JOB_PATCH_MISMATCH"),
        (
            "/target/primary_key/value",
            json!("INV-3002"),
            "JOB_ROW_MISMATCH",
        ),
        ("/proposal_id", json!("wrp_nope"), "PROPOSAL_NOT_FOUND"),
    ];
    for (pointer, value, code) in edits {
        let mut edited = job.clone();
        *edited.pointer_mut(pointer).unwrap() = value;
        std::fs::write(p.path("edited.json"), edited.to_string()).unwrap();
        p.refused(&["validate", "--job", "edited.json"], code);
    }
    std::fs::write(p.path("garbage.json"), "{not json").unwrap();
    p.refused(&["validate", "--job", "garbage.json"], "JOB_INVALID");
    let o = p.run(&["validate", "--job", "missing.json"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a file that is not there could not be checked"
    );
}

#[test]
fn store_maintenance_keeps_every_kept_chain_and_refuses_beside_a_server() {
    let p = Project::new("review");
    let old = p.propose("INV-3001", "goodwill");
    p.ok(&["proposals", "reject", &old, "--reason", "no", "--yes"]);
    let kept = p.propose("INV-3002", "late");

    let dry = p.ok(&["store", "prune", "--older-than", "0d"]);
    assert!(dry.starts_with("Local store prune dry run\n"), "{dry}");
    assert!(
        dry.contains("  proposals: 1\n") && dry.contains(&format!("  - {kept} (pending_review)")),
        "{dry}"
    );
    assert!(
        dry.ends_with("No rows were deleted. Rerun with --yes to apply this prune.\n"),
        "{dry}"
    );
    let o = p.run(&["store", "prune", "--older-than", "30x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--older-than must use a duration such as 30d"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        p.run(&["store", "prune", "--older-than", "0d", "--yes", "--dry-run"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(p.run(&["store", "prune"]).status.code(), Some(2));

    // Export before the prune, then check the file (and a tampered copy).
    let text = p.ok(&["store", "export", "--output", "backup/ledger.jsonl"]);
    assert!(text.contains("exported 2 proposal(s)"), "{text}");
    // Times take the forms `activity search` takes, in any offset; anything else is named.
    let since = p.ok(&["store", "export", "--from", "2000-01-01T05:00:00+05:00"]);
    assert!(since.contains("\"record\":\"proposal\""), "{since}");
    let later = p.ok(&[
        "store",
        "export",
        "--from",
        "2999-01-01",
        "--to",
        "2999-12-31",
    ]);
    assert!(!later.contains("\"record\":\"proposal\""), "{later}");
    let o = p.run(&["store", "export", "--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--from must be a date"),
        "{}",
        stderr(&o)
    );
    assert!(
        p.ok(&["store", "verify-export", "backup/ledger.jsonl"])
            .contains("OK: every hash chain links")
    );
    let file = std::fs::read_to_string(p.path("backup/ledger.jsonl")).unwrap();
    // The reason inside the first proposal's change set (a JSON string in the line).
    let tampered = file.replacen(r#"\"goodwill\""#, r#"\"generous\""#, 1);
    assert_ne!(tampered, file);
    std::fs::write(p.path("tampered.jsonl"), tampered).unwrap();
    let o = p.run(&["store", "verify-export", "tampered.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // A file that is not an export, or an empty one, is never "OK": part of it could not be
    // checked at all. A device is refused before it is read.
    std::fs::write(p.path("not-an-export.txt"), "root:x:0:0\nnot json\n").unwrap();
    std::fs::write(p.path("empty.jsonl"), "").unwrap();
    for (file, lines) in [("not-an-export.txt", 3), ("empty.jsonl", 1)] {
        let o = p.run(&["store", "verify-export", file]);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stdout(&o));
        let out = stdout(&o);
        assert!(
            out.starts_with(&format!(
                "NOT VERIFIED: {lines} line(s) of {file} cannot be checked"
            )),
            "{file}: {out}"
        );
        assert!(!out.contains("OK:"), "{file}: {out}");
    }
    let o = p.run(&["store", "verify-export", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a file"), "{}", stderr(&o));

    // While a server holds the lease, prune --yes, vacuum and reset are refused.
    let store = p.path("ledger/local.db");
    let (lease, _) = Lease::acquire(&store, "stdio", false, "2026-06-20T00:00:00.000Z").unwrap();
    p.refused(
        &["store", "prune", "--older-than", "0d", "--yes"],
        "STORE_LEASE_ACTIVE",
    );
    p.refused(&["store", "vacuum"], "STORE_LEASE_ACTIVE");
    p.refused(&["store", "reset", "--yes"], "STORE_LEASE_ACTIVE");
    let o = p.run(&["store", "vacuum", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("Warning: Local store appears active"),
        "{}",
        stderr(&o)
    );
    drop(lease);

    let done = p.ok(&["store", "prune", "--older-than", "0d", "--yes"]);
    assert!(done.starts_with("Local store prune complete\n"), "{done}");
    assert!(done.ends_with("Next: sluicegate store verify\n"), "{done}");
    assert!(p.ok(&["store", "verify"]).contains("1 proposal(s)"));
    assert!(
        p.ok(&["store", "vacuum"])
            .starts_with("vacuumed local store ")
    );

    // Reset needs --yes (stdin is not a terminal here), then deletes the ledger files.
    p.refused(&["store", "reset"], "CONFIRMATION_REQUIRED");
    assert!(store.exists());
    let out = p.ok(&["store", "reset", "--yes", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["source_database_changed"], json!(false));
    assert!(!store.exists());
    let o = p.run(&["store", "stats"]);
    assert_eq!(o.status.code(), Some(2), "the ledger is gone");
}

#[test]
fn shadow_mode_records_what_a_person_did_and_replay_shows_it() {
    let p = Project::new("shadow");
    let id = p.propose("INV-3001", "goodwill");
    assert!(p.ok(&["shadow", "list"]).starts_with(&id));
    let none = p.ok(&["shadow", "compare", &id]);
    assert!(none.contains("status: no_human_action"), "{none}");

    std::fs::write(
        p.path("did.json"),
        r#"{"late_fee_cents": 0, "waiver_reason": "goodwill"}"#,
    )
    .unwrap();
    let text = p.ok(&[
        "shadow",
        "record-human-action",
        &id,
        "--patch",
        "did.json",
        "--actor",
        "ann",
        "--notes",
        "waived in the billing UI",
    ]);
    assert!(
        text.starts_with(&format!("recorded human action 1 for {id}\n")),
        "{text}"
    );
    let cmp = p.ok(&["shadow", "compare", &id]);
    assert!(
        cmp.contains("status: exact_match\nmatching columns: late_fee_cents, waiver_reason\n"),
        "{cmp}"
    );
    let report = p.run(&["shadow", "report", "--json"]);
    assert_eq!(json_out(&report)["exact_matches"], json!(1));
    let replay = p.ok(&["replay", "show", &id]);
    assert!(
        replay.contains("What a person did by hand (shadow mode):\n1 by ann at "),
        "{replay}"
    );
    p.ok(&[
        "replay",
        "export",
        &id,
        "--output",
        "replay.md",
        "--format",
        "markdown",
    ]);
    let md = std::fs::read_to_string(p.path("replay.md")).unwrap();
    assert!(
        md.contains("## What A Person Did (Shadow Mode)\n\n- 1 by ann at "),
        "{md}"
    );
    assert!(
        md.contains(r#"late_fee_cents = 0, waiver_reason = "goodwill" (waived in the billing UI)"#),
        "{md}"
    );
    assert!(p.ok(&["store", "verify"]).contains("OK"));

    // Refusals: an unknown id, a patch that is not an object, a proposal Sluicegate applied
    // itself (review mode: not a shadow proposal).
    p.refused(
        &[
            "shadow",
            "record-human-action",
            "wrp_unknown",
            "--patch",
            "did.json",
        ],
        "NOT_FOUND",
    );
    std::fs::write(p.path("list.json"), "[1, 2]").unwrap();
    p.refused(
        &["shadow", "record-human-action", &id, "--patch", "list.json"],
        "SHADOW_PATCH_INVALID",
    );
    let review = Project::new("review");
    let applied = review.propose("INV-3001", "goodwill");
    review.ok(&["proposals", "approve", &applied, "--yes"]);
    assert!(review.ok(&["apply", &applied]).contains("applied"));
    std::fs::write(review.path("did.json"), r#"{"late_fee_cents": 0}"#).unwrap();
    review.refused(
        &[
            "shadow",
            "record-human-action",
            &applied,
            "--patch",
            "did.json",
        ],
        "NOT_SHADOW_PROPOSAL",
    );
    review.refused(&["shadow", "compare", &applied], "NOT_SHADOW_PROPOSAL");
}

#[test]
fn doctor_first_run_fails_on_a_leaky_client_snippet() {
    let p = Project::new("review");
    let clean = p.path("clean.json");
    std::fs::write(
        &clean,
        r#"{"mcpServers":{"billing":{"command":"sluicegate","args":["mcp","serve"]}}}"#,
    )
    .unwrap();
    let o = p.run(&[
        "doctor",
        "--first-run",
        "--json",
        "--client-config",
        "clean.json",
    ]);
    let v = json_out(&o);
    let failed: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    // The project reads and writes through one variable: the split check says so. (A busy
    // default port is the machine's business, not this test's.)
    let names: Vec<&str> = failed.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"credential-split-app"), "{v}");
    assert!(
        names
            .iter()
            .all(|n| *n == "credential-split-app" || n.starts_with("port-")),
        "{v}"
    );
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "mcp-client-config:clean.json" && c["status"] == "pass"),
        "{v}"
    );
    std::fs::write(
        p.path("leaky.json"),
        r#"{"env":{"APP_URL":"postgres://app:pw@db/app"}}"#,
    )
    .unwrap();
    let o = p.run(&["doctor", "--first-run", "--client-config", "leaky.json"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.starts_with("Sluicegate first-run doctor: needs attention\n"),
        "{text}"
    );
    assert!(
        text.contains("FAIL leaky.json holds a PostgreSQL URL\n"),
        "{text}"
    );
    assert!(!text.contains("app:pw"), "{text}");
}

/// docs/operations.md's demo block runs as printed, line by line, in a fresh directory.
#[test]
fn the_operations_page_demo_block_runs_as_printed() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .unwrap();
    let section = doc.split("## Try it on the demo's ledger").nth(1).unwrap();
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 8, "{block}");
    for line in lines {
        let words = shell_words::split(line).unwrap();
        assert_eq!(words[0], "sluicegate", "{line}");
        let o = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .env_remove("SLUICEGATE_CONFIG")
            .env_remove("SLUICEGATE_STORE")
            .env("CI", "true")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .args(&words[1..])
            .output()
            .unwrap();
        // The first-run doctor may find the machine's port 8766 taken; nothing else may fail.
        let port_only = stdout(&o)
            .lines()
            .filter(|l| l.starts_with("FAIL "))
            .all(|l| l.starts_with("FAIL 127.0.0.1:"));
        let ok = o.status.success() || (line.contains("--first-run") && port_only);
        assert!(ok, "`{line}`: {}{}", stdout(&o), stderr(&o));
    }
    assert!(dir.path().join("backup/ledger.jsonl").exists());
}
