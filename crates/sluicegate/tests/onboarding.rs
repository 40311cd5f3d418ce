//! Onboarding through the built binary: from a database URL in an env var to a reviewed
//! config, the tools a model would see, and a first smoke call that returns the tenant's row
//! and hides the other tenant's, on SQLite, PostgreSQL and MariaDB fixtures. Also: every
//! missing decision at once (exit 2), no secret in any output or file (canary grep), the
//! README's three commands followed literally, and one full wizard run in a pseudo-terminal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
    for var in [
        "SLUICEGATE_CONFIG",
        "SLUICEGATE_STORE",
        "DATABASE_URL",
        "SLUICEGATE_TENANT_ID",
        "SLUICEGATE_PRINCIPAL",
        "SLUICEGATE_DATABASE_WRITE_URL",
    ] {
        c.env_remove(var);
    }
    c.env("CI", "true");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A project directory, the env the commands get, and everything they printed.
struct Project {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    outputs: Vec<String>,
}

impl Project {
    fn new(url: &str) -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
            env: vec![
                ("DATABASE_URL".into(), url.into()),
                ("SLUICEGATE_TENANT_ID".into(), "acme".into()),
                ("SLUICEGATE_PRINCIPAL".into(), "support.agent".into()),
            ],
            outputs: Vec::new(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = bin();
        c.current_dir(self.dir.path())
            .envs(self.env.iter().cloned());
        c
    }

    fn run(&mut self, args: &[&str]) -> Output {
        let o = self.cmd().args(args).output().unwrap();
        self.outputs.push(text(&o));
        o
    }

    fn ok(&mut self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "`{}` failed:\n{}",
            args.join(" "),
            text(&o)
        );
        o
    }

    fn json(&mut self, args: &[&str]) -> Value {
        let o = self.run(args);
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("`{}` is not JSON ({e}):\n{}", args.join(" "), text(&o)))
    }

    /// Every file under the project, as text.
    fn files(&self) -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    let bytes = std::fs::read(&p).unwrap();
                    out.push((p, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }

    /// No output and no file holds any canary.
    fn assert_no_canary(&self, canaries: &[&str]) {
        for c in canaries.iter().filter(|c| c.len() >= 4) {
            for o in &self.outputs {
                assert!(!o.contains(c), "output leaks {c}:\n{o}");
            }
            for (p, body) in self.files() {
                assert!(!body.contains(c), "{} leaks {c}", p.display());
            }
        }
    }
}

const INVOICE_ROWS: &str = "INSERT INTO invoices (id, tenant_id, customer_name, late_fee_cents, waiver_reason, api_token, updated_at) VALUES
  ('INV-1', 'acme', 'Acme Corp', 5500, NULL, 'tok-canary-acme', '2026-01-01 00:00:00'),
  ('INV-2', 'globex', 'Globex Inc', 4200, NULL, 'tok-canary-globex', '2026-01-02 00:00:00')";

fn sqlite_fixture(dir: &Path) -> PathBuf {
    let path = dir.join("app.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, customer_name TEXT, late_fee_cents INTEGER NOT NULL, waiver_reason TEXT, api_token TEXT, updated_at TEXT NOT NULL);
         CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT);
         {INVOICE_ROWS};"
    ))
    .unwrap();
    path
}

const ONBOARD: &[&str] = &[
    "onboard",
    "db",
    "--from-env",
    "DATABASE_URL",
    "--table",
    "invoices",
    "--mode",
    "review",
    "--namespace",
    "billing",
    "--object-name",
    "invoice",
    "--id-arg",
    "invoice_id",
    "--patch",
    "late_fee_cents=fixed:0,waiver_reason=arg:reason",
    "--patch-bounds",
    "late_fee_cents=0:5500",
    "--smoke-id",
    "INV-1",
    "--yes",
];

/// The whole prompt-free story on one database; returns the project for further checks.
fn onboard_story(url: &str, canaries: &[&str]) -> Project {
    let mut p = Project::new(url);
    let o = p.ok(ONBOARD);
    let out = text(&o);
    assert!(out.contains("config valid: sluicegate.json"), "{out}");
    assert!(out.contains("Smoke call ran successfully."), "{out}");
    assert!(out.contains("PASS execute_sql absent"), "{out}");

    // The generated config validates and names env vars only.
    p.ok(&["config", "validate", "--config", "sluicegate.json"]);
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.path().join("sluicegate.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["result_format"], json!(2));
    let caps = config["capabilities"].as_array().unwrap();
    assert!(
        !caps[0]["visible_columns"]
            .as_array()
            .unwrap()
            .contains(&json!("api_token")),
        "sensitive columns are not visible by default"
    );
    for f in [
        ".env.example",
        ".sluicegate/mcp/claude-desktop.json",
        ".sluicegate/mcp/cursor.json",
        ".sluicegate/mcp/vscode.json",
        ".sluicegate/mcp/generic-stdio.json",
        ".sluicegate/smoke-input.json",
        ".sluicegate/local.db",
    ] {
        assert!(p.dir.path().join(f).exists(), "{f} missing");
    }
    let env_example = std::fs::read_to_string(p.dir.path().join(".env.example")).unwrap();
    assert!(env_example.contains("DATABASE_URL="), "{env_example}");
    assert!(
        env_example.contains("SLUICEGATE_TENANT_ID="),
        "{env_example}"
    );

    // The tools a model would see.
    let preview = p.json(&["tools", "preview", "--json"]);
    assert_eq!(preview["ok"], json!(true), "{preview}");
    assert_eq!(
        preview["exposed_to_mcp"],
        json!(["billing.inspect_invoice", "billing.propose_invoice_update"])
    );

    // The first smoke call stored its evidence; another call shows the tenant's row...
    let own = p.json(&[
        "smoke",
        "call",
        "billing.inspect_invoice",
        "--args",
        r#"{"invoice_id":"INV-1"}"#,
        "--json",
    ]);
    assert_eq!(own["ok"], json!(true), "{own}");
    let body = own["result"].to_string();
    assert!(
        body.contains("Acme Corp") && body.contains("5500"),
        "{body}"
    );
    assert!(!body.contains("tok-canary"), "hidden column leaked: {body}");
    // ...and answers for the other tenant's row exactly like a missing one.
    let other = p.json(&[
        "smoke",
        "call",
        "billing.inspect_invoice",
        "--args",
        r#"{"invoice_id":"INV-2"}"#,
        "--json",
    ]);
    assert_eq!(other["ok"], json!(false), "{other}");
    let body = other["result"].to_string();
    assert!(body.contains("NOT_FOUND_IN_TENANT"), "{body}");
    assert!(!body.contains("Globex") && !body.contains("4200"), "{body}");
    let evidence = p.json(&["evidence", "list", "--json"]);
    assert!(
        evidence.to_string().contains("billing.inspect_invoice"),
        "{evidence}"
    );

    // Diagnostics that touch the database, for the canary grep below.
    p.run(&["inspect", "--from-env", "DATABASE_URL"]);
    p.json(&["inspect", "--from-env", "DATABASE_URL", "--json"]);
    p.run(&["doctor", "--config", "sluicegate.json"]);
    // The report is written whatever the verdict (the writer env is unset here: exit 1).
    let o = p.run(&[
        "doctor",
        "--config",
        "sluicegate.json",
        "--report",
        "--redact",
        "--output",
        "doctor-report.md",
    ]);
    assert!(text(&o).contains("wrote redacted doctor report"));
    let report = std::fs::read_to_string(p.dir.path().join("doctor-report.md")).unwrap();
    assert!(report.contains("read-connectivity"), "{report}");
    assert!(report.contains("billing.inspect_invoice"), "{report}");
    p.assert_no_canary(canaries);
    p
}

#[test]
fn sqlite_prompt_free_onboarding_serves_the_tenants_row_only() {
    let data = tempfile::tempdir().unwrap();
    let db = sqlite_fixture(data.path());
    let url = format!("sqlite://{}", db.display());
    let p = onboard_story(&url, &[&url, &db.display().to_string()]);
    // The smoke input names the lookup argument.
    let input = std::fs::read_to_string(p.dir.path().join(".sluicegate/smoke-input.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({"invoice_id": "INV-1"})
    );
}

fn password_of(url: &str) -> String {
    let after = url.split("://").nth(1).unwrap_or_default();
    let userinfo = after.rsplit_once('@').map(|(u, _)| u).unwrap_or_default();
    userinfo
        .split_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default()
}

fn engine_story(kind: EngineKind) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(db) = rt.block_on(TestDatabase::create(kind, "onboard")) else {
        return;
    };
    let (pk, ts) = match kind {
        EngineKind::Postgres => ("text", "timestamptz"),
        EngineKind::Mysql => ("varchar(64)", "timestamp"),
    };
    rt.block_on(db.execute(&format!(
        "CREATE TABLE invoices (id {pk} PRIMARY KEY, tenant_id {pk} NOT NULL, customer_name text, late_fee_cents integer NOT NULL, waiver_reason text, api_token text, updated_at {ts} NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )));
    rt.block_on(db.execute(INVOICE_ROWS));
    let url = db.url().to_string();
    let password = password_of(&url);
    assert!(password.len() >= 4, "the test URL carries a password");
    let mut p = onboard_story(&url, &[&url, &password]);

    // The inspection found the keys and classified the columns.
    let inspection = p.json(&["inspect", "--from-env", "DATABASE_URL", "--json"]);
    let table = inspection["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "invoices")
        .unwrap_or_else(|| panic!("{inspection}"))
        .clone();
    assert_eq!(table["primary_key"], json!(["id"]), "{table}");
    assert_eq!(table["suggestions"]["tenant_columns"], json!(["tenant_id"]));
    assert_eq!(
        table["suggestions"]["conflict_columns"],
        json!(["updated_at"])
    );
    assert_eq!(
        table["suggestions"]["sensitive_columns"],
        json!(["api_token"])
    );

    // After the receipt table's migration (run as an admin), the rollback-only writer probes
    // pass and change no business row.
    let migration = p.ok(&["writeback", "migration", "--engine", kind.name()]);
    rt.block_on(db.execute(&String::from_utf8_lossy(&migration.stdout)));
    let rows = "SELECT id, late_fee_cents, waiver_reason, updated_at FROM invoices ORDER BY id";
    let before = rt.block_on(db.query_text(rows));
    p.env
        .push(("SLUICEGATE_DATABASE_WRITE_URL".into(), url.clone()));
    let report = p.json(&[
        "doctor",
        "--config",
        "sluicegate.json",
        "--check-writeback",
        "--allow-shared-credential",
        "--json",
    ]);
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name}: {report}"))
    };
    assert_eq!(
        check(
            "source:local_{e}:receipt-table-probe"
                .replace("{e}", kind.name())
                .as_str()
        )["level"],
        "pass",
        "{report}"
    );
    assert_eq!(
        check("capability:billing.propose_invoice_update:writeback-target-probe")["level"],
        "pass",
        "{report}"
    );
    assert_eq!(
        check(
            "source:local_{e}:credential-separation"
                .replace("{e}", kind.name())
                .as_str()
        )["level"],
        "warn"
    );
    assert_eq!(
        check(
            "source:local_{e}:read-connectivity:{s}"
                .replace("{e}", kind.name())
                .replace("{s}", table["schema"].as_str().unwrap())
                .as_str()
        )["level"],
        "pass"
    );
    assert_eq!(
        rt.block_on(db.query_text(rows)),
        before,
        "business rows unchanged"
    );
    p.assert_no_canary(&[&url, &password]);

    // Connection problems are reported as categories, never with the URL or password.
    let bad_password = "wrong-canary-pw";
    p.env[0].1 = sluicegate_test_support::engines::url_with_password(&url, bad_password);
    let o = p.run(&["inspect", "--from-env", "DATABASE_URL"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("authentication failed"), "{}", text(&o));
    let closed = sluicegate_test_support::engines::url_with_port(
        &url,
        sluicegate_test_support::engines::unused_local_port(),
    );
    p.env[0].1 = closed.clone();
    let o = p.run(&["inspect", "--from-env", "DATABASE_URL"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("connection failed"), "{}", text(&o));
    p.assert_no_canary(&[bad_password, &closed, &password]);
}

#[test]
fn postgres_prompt_free_onboarding_serves_the_tenants_row_only() {
    engine_story(EngineKind::Postgres);
}

#[test]
fn mariadb_prompt_free_onboarding_serves_the_tenants_row_only() {
    engine_story(EngineKind::Mysql);
}

#[test]
fn missing_decisions_are_listed_together_with_exit_2() {
    let data = tempfile::tempdir().unwrap();
    let db = sqlite_fixture(data.path());
    let mut p = Project::new(&format!("sqlite://{}", db.display()));

    // No table: the error lists what exists; nothing is written and nothing waits for input.
    let o = p.run(&[
        "onboard",
        "db",
        "--from-env",
        "DATABASE_URL",
        "--non-interactive",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("--table <name>"), "{err}");
    assert!(err.contains("main.invoices"), "{err}");
    assert!(!p.dir.path().join("sluicegate.json").exists());

    // No flags at all and no terminal: the wizard is not started, nothing hangs.
    let o = p.run(&["onboard", "db", "--from-env", "DATABASE_URL"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--table <name>"), "{}", text(&o));
    let o = p.run(&["start"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--from-env"), "{}", text(&o));

    // A table without a tenant column, in review mode without a patch: both reported at once.
    let o = p.run(&[
        "onboard",
        "db",
        "--from-env",
        "DATABASE_URL",
        "--table",
        "notes",
        "--mode",
        "review",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("missing or invalid onboarding decisions"),
        "{err}"
    );
    assert!(err.contains("--tenant-column"), "{err}");
    assert!(err.contains("--patch"), "{err}");

    // Without any database: every decision the flags leave open.
    let o = p.run(&[
        "init",
        "--engine",
        "postgres",
        "--table",
        "things",
        "--mode",
        "review",
        "--non-interactive",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for needle in [
        "--primary-key",
        "--tenant-column",
        "--visible-columns",
        "--patch",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }

    // An env var that is not set is named, never guessed.
    let o = bin()
        .current_dir(p.dir.path())
        .args(["inspect", "--from-env", "NOT_SET_ANYWHERE"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("NOT_SET_ANYWHERE is not set"),
        "{}",
        text(&o)
    );
}

#[test]
fn answers_file_and_recipes_generate_valid_configs() {
    let mut p = Project::new("unused");
    std::fs::write(
        p.dir.path().join("answers.json"),
        json!({
            "engine": "postgres", "schema": "public", "table": "invoices", "primary_key": "id",
            "tenant_column": "tenant_id", "conflict_column": "updated_at",
            "visible_columns": ["id", "tenant_id", "late_fee_cents"],
            "patch": ["late_fee_cents=fixed:0", "waiver_reason=arg:reason"],
            "namespace": "billing", "object_name": "invoice", "id_arg": "invoice_id",
            "writeback": "http_handler", "handler_url_env": "APP_WRITEBACK_URL",
            "handler_signing_secret_env": "APP_WRITEBACK_SIGNING_SECRET"
        })
        .to_string(),
    )
    .unwrap();
    let o = p.ok(&[
        "init",
        "--answers",
        "answers.json",
        "--emit-handler",
        "--handler-output",
        "handler.mjs",
    ]);
    assert!(
        text(&o).contains("IMPORTANT: your app handler owns"),
        "{}",
        text(&o)
    );
    assert!(p.dir.path().join("handler.mjs").exists());
    p.ok(&["config", "validate"]);
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.path().join("sluicegate.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["sources"]["local_postgres"]["read_only"],
        json!(true)
    );
    assert_eq!(
        config["executors"]["billing_http_handler"]["signing_secret_env"],
        "APP_WRITEBACK_SIGNING_SECRET"
    );
    // Existing files are never overwritten silently.
    let o = p.run(&["init", "--answers", "answers.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--force"), "{}", text(&o));

    let list = p.json(&["recipes", "list", "--json"]);
    let ids: Vec<&str> = list["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    let show = p.json(&["recipes", "show", "billing.late_fee_waiver", "--json"]);
    assert_eq!(
        show["semantic_tools"],
        json!(["billing.inspect_invoice", "billing.propose_late_fee_waiver"])
    );
    for id in ids.iter().map(|s| s.to_string()).collect::<Vec<_>>() {
        let out = format!("{id}.json");
        p.ok(&["recipes", "init", &id, "--output", &out, "--force"]);
        let preview = p.json(&["tools", "preview", "--config", &out, "--json"]);
        let recipe = p.json(&["recipes", "show", &id, "--json"]);
        assert_eq!(preview["exposed_to_mcp"], recipe["semantic_tools"], "{id}");
    }
    let o = p.run(&["recipes", "show", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn config_migrate_and_writeback_sql() {
    let mut p = Project::new("unused");
    let data = tempfile::tempdir().unwrap();
    let db = sqlite_fixture(data.path());
    p.env[0].1 = format!("sqlite://{}", db.display());
    p.ok(&[
        "onboard",
        "db",
        "--from-env",
        "DATABASE_URL",
        "--table",
        "invoices",
        "--mode",
        "read_only",
        "--yes",
    ]);
    let o = p.ok(&["config", "migrate"]);
    assert!(text(&o).contains("No file written"), "{}", text(&o));
    let o = p.ok(&["config", "migrate", "--write", "--yes"]);
    assert!(text(&o).contains("Backup: "), "{}", text(&o));
    assert!(std::fs::read_dir(p.dir.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("sluicegate.json.bak.")
    }));
    // Without --yes and without a terminal it refuses instead of writing.
    let o = p.run(&["config", "migrate", "--output", "copy.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!p.dir.path().join("copy.json").exists());

    let o = p.ok(&[
        "writeback",
        "migration",
        "--engine",
        "postgres",
        "--schema",
        "ops",
    ]);
    let sql = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        sql.contains("CREATE SCHEMA IF NOT EXISTS \"ops\";"),
        "{sql}"
    );
    assert!(
        sql.contains("CREATE TABLE IF NOT EXISTS \"ops\".sluicegate_writeback_receipts"),
        "{sql}"
    );
    let o = p.ok(&["writeback", "migration", "mysql"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("varchar(255) PRIMARY KEY"));
    let o = p.ok(&[
        "writeback",
        "grants",
        "--engine",
        "postgres",
        "--writer-role",
        "sg_writer",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(
            "GRANT SELECT, INSERT, UPDATE ON TABLE \"public\".sluicegate_writeback_receipts TO \"sg_writer\";"
        )
    );
    let o = p.ok(&[
        "writeback",
        "grants",
        "--engine",
        "mysql",
        "--schema",
        "app",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("ON `app`.sluicegate_writeback_receipts TO 'sluicegate_writer'@'%';")
    );
    let o = p.run(&[
        "writeback",
        "migration",
        "--engine",
        "postgres",
        "--schema",
        "a;b",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = p.ok(&["writeback", "doctor"]);
    assert!(text(&o).contains("No direct SQL writeback sources found."));
}

/// The README's "Use your own database" commands, run as written (the URL exported by the
/// test points at a SQLite fixture), end with a served MCP tool.
#[test]
fn readme_own_database_commands_work_literally() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = readme
        .split("## Use your own database")
        .nth(1)
        .expect("README has a 'Use your own database' section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has a sh code block");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands.len(), 3, "three commands: {commands:?}");
    assert!(
        commands[0].starts_with("export DATABASE_URL="),
        "{commands:?}"
    );
    assert!(
        commands[2].starts_with("sluicegate mcp serve"),
        "{commands:?}"
    );

    let data = tempfile::tempdir().unwrap();
    let db = sqlite_fixture(data.path());
    let mut p = Project::new(&format!("sqlite://{}", db.display()));
    let words: Vec<&str> = commands[1].split_whitespace().collect();
    assert_eq!(words[0], "sluicegate");
    p.ok(&words[1..]);

    let words: Vec<&str> = commands[2].split_whitespace().collect();
    let mut child = p
        .cmd()
        .args(&words[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut request = |id: i64, method: &str, params: Value| -> Value {
        writeln!(
            stdin,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        )
        .unwrap();
        stdin.flush().unwrap();
        loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "server closed");
            let msg: Value = serde_json::from_str(&line).unwrap();
            if msg["id"] == json!(id) {
                return msg;
            }
        }
    };
    let init = request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "readme", "version": "1"}}),
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "sluicegate", "{init}");
    let tools = request(2, "tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["invoice.inspect_invoice"], "{tools}");
    let call = request(
        3,
        "tools/call",
        json!({"name": "invoice.inspect_invoice", "arguments": {"invoice_id": "INV-1"}}),
    );
    assert!(call["result"].to_string().contains("Acme Corp"), "{call}");
    drop(stdin);
    let _ = child.wait();
}

/// One full wizard run in a pseudo-terminal, in review mode: table, keys, tenant, trusted env
/// vars, visible fields, patch and bounds, names, a smoke id, the writeback path and the
/// approval role; then the preview, one revision of the capability names, and "write". The
/// config it writes validates and exposes the revised names.
#[test]
fn guided_wizard_in_a_pseudo_terminal_writes_a_valid_config() {
    use expectrl::{Eof, Expect, Session};
    use std::time::Duration;

    let data = tempfile::tempdir().unwrap();
    let db = sqlite_fixture(data.path());
    let p = Project::new(&format!("sqlite://{}", db.display()));
    let mut cmd = p.cmd();
    cmd.args(["init", "--wizard", "--output", "sluicegate.json"])
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut s = Session::spawn(cmd).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    let enter = "\r";
    let down = "\x1b[B";
    let twice_down = format!("{down}{down}\r");
    let steps: Vec<(&str, &str)> = vec![
        ("Engine", enter),
        ("database URL", enter),
        ("Table or view", enter),
        ("Primary-key column", enter),
        ("tenant/scope column", enter),
        ("tenant env var", enter),
        ("principal env var", enter),
        ("Capability mode", &twice_down),
        ("Conflict/version column", enter),
        ("Fields the model may see", enter),
        ("Business action setup", enter),
        (
            "Proposal patch",
            "late_fee_cents=fixed:0,waiver_reason=arg:reason\r",
        ),
        ("Numeric bounds", "late_fee_cents=0:5500\r"),
        ("Status transition guards", enter),
        ("Business object name", enter),
        ("Capability namespace", "billing\r"),
        ("object id argument", enter),
        ("Read capability name", enter),
        ("Proposal capability name", enter),
        ("smoke call", "INV-1\r"),
        ("result envelope", enter),
        ("Writeback path", enter),
        ("Writer URL env var", enter),
        ("Required approval role", enter),
        ("What I am about to write", ""),
        (
            "proposal patch: late_fee_cents = 0, waiver_reason = <reason>",
            "",
        ),
        ("late_fee_cents in [0..5500]", ""),
        // Revise the capability names, then write.
        ("Write these files?", &twice_down),
        ("Read capability name", "billing.look_up_invoice\r"),
        ("Proposal capability name", enter),
        ("read capability: billing.look_up_invoice", ""),
        ("Write these files?", enter),
    ];
    for (prompt, answer) in &steps {
        s.expect(*prompt)
            .unwrap_or_else(|e| panic!("waiting for `{prompt}`: {e}"));
        // No pause before typing: crossterm switches terminal modes with TCSANOW, which keeps
        // input already queued in the pty, and inquire reads it once the prompt is up.
        if !answer.is_empty() {
            s.send(*answer).unwrap();
        }
    }
    s.expect("created sluicegate.json").unwrap();
    s.expect(Eof).unwrap();
    let mut p = p;
    p.ok(&["config", "validate", "--config", "sluicegate.json"]);
    let preview = p.json(&["tools", "preview", "--json"]);
    assert_eq!(
        preview["exposed_to_mcp"],
        json!(["billing.look_up_invoice", "billing.propose_invoice_update"])
    );
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.path().join("sluicegate.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["capabilities"][1]["numeric_bounds"],
        json!({"late_fee_cents": {"minimum": 0, "maximum": 5500}})
    );
    assert_eq!(
        config["sources"]["local_sqlite"]["write_url_env"],
        "SLUICEGATE_DATABASE_WRITE_URL"
    );
    let input = std::fs::read_to_string(p.dir.path().join(".sluicegate/smoke-input.json")).unwrap();
    assert!(input.contains("INV-1"), "{input}");
}

/// A large catalog shows a progress bar on a terminal's stderr, and never in piped output.
#[test]
fn large_catalogs_show_progress_on_a_terminal_only() {
    use expectrl::{Eof, Expect, Session};
    use std::time::Duration;

    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("big.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ddl: String = (0..300)
        .map(|i| {
            format!("CREATE TABLE t{i:03} (id INTEGER PRIMARY KEY, tenant_id TEXT, note TEXT);")
        })
        .collect();
    conn.execute_batch(&ddl).unwrap();
    drop(conn);
    let mut p = Project::new(&format!("sqlite://{}", path.display()));
    let piped = p.ok(&["inspect", "--from-env", "DATABASE_URL"]);
    assert!(!text(&piped).contains("inspecting catalog"));
    assert!(text(&piped).contains("Found 300 tables/views"));

    let mut cmd = p.cmd();
    cmd.args(["inspect", "--from-env", "DATABASE_URL"])
        .env("TERM", "xterm");
    let mut s = Session::spawn(cmd).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s.expect("inspecting catalog").unwrap();
    s.expect("Found 300 tables/views").unwrap();
    s.expect(Eof).unwrap();
}
