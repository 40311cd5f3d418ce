//! Unit tests of the doctor's check groups and renderings, on configs, env maps and SQLite
//! files built here.

use std::collections::HashMap;

use serde_json::{Value, json};
use sluicegate_core::config::{Config, validate};

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

fn doc(executors: Option<Value>, trusted: Value) -> Value {
    let mut doc = json!({
        "version": 1,
        "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}},
        "trusted_context": trusted,
        "capabilities": [
            {
                "name": "billing.inspect_invoice", "kind": "read", "source": "app",
                "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string"}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "status", "late_fee_cents"]
            },
            {
                "name": "billing.propose_late_fee_waiver", "kind": "proposal", "source": "app",
                "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string"}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "late_fee_cents", "updated_at"],
                "patch": {"late_fee_cents": {"fixed": 0}},
                "allowed_columns": ["late_fee_cents"],
                "conflict_guard": {"column": "updated_at"}
            }
        ]
    });
    if let Some(e) = executors {
        doc["executors"] = e;
        doc["capabilities"][1]["executor"] = json!("hook");
    }
    doc
}

fn environment_context() -> Value {
    json!({"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}})
}

fn config(doc: &Value) -> Config {
    let (v, c) = validate(doc);
    c.unwrap_or_else(|| panic!("{:?}", v.errors))
}

fn run(config: &Config, env: &Env, group: impl Fn(&Ctx<'_>, &mut Checks)) -> Vec<Check> {
    let ctx = Ctx {
        config,
        env,
        check_handlers: false,
    };
    let mut checks = Checks::default();
    group(&ctx, &mut checks);
    checks.into_vec()
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {checks:?}"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// A SQLite app database with an `invoices` table (and a view of it).
fn app_db(dir: &std::path::Path) -> String {
    let path = dir.join("app.db");
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch(
            "CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT, status TEXT, late_fee_cents INTEGER, updated_at TEXT);
             CREATE VIEW invoice_view AS SELECT * FROM invoices;",
        )
        .expect("schema");
    format!("sqlite://{}", path.display())
}

#[test]
fn the_first_verdict_for_a_name_stands() {
    let mut checks = Checks::default();
    checks.fail("env:X", "first");
    checks.pass("env:X", "second");
    checks.warn("other", "w");
    let list = checks.into_vec();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].message, "first");
    assert!(!list[0].ok);
    assert!(list[1].ok, "a warning is not a failure");
    assert_eq!(list[1].level, Level::Warn);
}

#[test]
fn environment_context_env_vars_are_required() {
    let c = config(&doc(None, environment_context()));
    let checks = run(&c, &env(&[("TENANT", "acme")]), config::trusted_context_env);
    assert!(find(&checks, "env:TENANT").ok);
    let principal = find(&checks, "env:PRINCIPAL");
    assert!(!principal.ok);
    assert_eq!(
        principal.message,
        "PRINCIPAL is required for trusted_context (principal_env)."
    );
}

#[test]
fn static_dev_context_accepts_literals_or_set_env() {
    let trusted =
        json!({"provider": "static_dev", "values": {"tenant_id": "acme", "principal_env": "WHO"}});
    let c = config(&doc(None, trusted));
    let checks = run(&c, &env(&[]), config::trusted_context_env);
    assert!(find(&checks, "trusted_context:tenant_id").ok);
    assert_eq!(
        find(&checks, "env:WHO").message,
        "WHO is required for trusted_context."
    );
    let checks = run(&c, &env(&[("WHO", "me")]), config::trusted_context_env);
    assert!(find(&checks, "env:WHO").ok);
}

#[test]
fn sources_need_their_read_and_writer_env() {
    let c = config(&doc(None, environment_context()));
    let checks = run(&c, &env(&[("APP_READ_URL", "x")]), config::source_env);
    assert!(find(&checks, "env:APP_READ_URL").ok);
    assert_eq!(
        find(&checks, "env:APP_WRITE_URL").message,
        "APP_WRITE_URL is required for guarded writeback to source app."
    );
    // Without a direct-SQL proposal the writer is not needed.
    let mut read_only = doc(None, environment_context());
    read_only["mode"] = json!("read_only");
    read_only["capabilities"]
        .as_array_mut()
        .expect("array")
        .truncate(1);
    let checks = run(&config(&read_only), &env(&[]), config::source_env);
    assert_eq!(checks.len(), 1);
}

#[test]
fn shared_reader_and_writer_credentials() {
    let c = config(&doc(None, environment_context()));
    let same = env(&[("APP_READ_URL", "u"), ("APP_WRITE_URL", "u")]);
    let check = "source:app:credential-separation";
    let failed = run(&c, &same, |ctx, ch| {
        db::credential_separation(ctx, false, ch)
    });
    assert!(!find(&failed, check).ok);
    let allowed = run(&c, &same, |ctx, ch| {
        db::credential_separation(ctx, true, ch)
    });
    assert_eq!(find(&allowed, check).level, Level::Warn);
    let apart = env(&[("APP_READ_URL", "r"), ("APP_WRITE_URL", "w")]);
    let passed = run(&c, &apart, |ctx, ch| {
        db::credential_separation(ctx, false, ch)
    });
    assert_eq!(
        find(&passed, check).message,
        "Reads and writeback of app use separate credentials."
    );
    // Nothing to compare while one of them is unset.
    assert!(
        run(&c, &env(&[("APP_READ_URL", "u")]), |ctx, ch| {
            db::credential_separation(ctx, false, ch)
        })
        .is_empty()
    );
}

#[test]
fn unsigned_http_handlers_warn_and_command_env_is_required() {
    let executors = json!({
        "hook": {"type": "http_handler", "url_env": "HOOK_URL", "auth": {"type": "bearer_env", "token_env": "HOOK_TOKEN"}},
        "script": {"type": "command_handler", "command_env": "HOOK_COMMAND"}
    });
    let c = config(&doc(Some(executors), environment_context()));
    let checks = run(&c, &env(&[("HOOK_URL", "x")]), config::executor_env);
    assert!(find(&checks, "env:HOOK_URL").ok);
    assert!(!find(&checks, "env:HOOK_TOKEN").ok);
    assert_eq!(
        find(&checks, "executor:hook:handler-signing").level,
        Level::Warn
    );
    assert_eq!(
        find(&checks, "env:HOOK_COMMAND").message,
        "HOOK_COMMAND is required for executor script (command_env)."
    );
}

#[test]
fn command_handlers_are_found_on_path_but_never_run() {
    let executors = json!({"hook": {"type": "command_handler", "command_env": "HOOK_COMMAND"}});
    let c = config(&doc(Some(executors), environment_context()));
    let reach = |env: &Env, check_handlers: bool| {
        let ctx = Ctx {
            config: &c,
            env,
            check_handlers,
        };
        let mut checks = Checks::default();
        block_on(config::handler_reachability(&ctx, &mut checks));
        checks.into_vec()
    };
    let name = "executor:hook:handler-reachability";
    let unprobed = reach(&env(&[]), false);
    assert_eq!(
        find(&unprobed, name).message,
        "Handler hook was not probed; run doctor --check-handlers."
    );
    assert!(reach(&env(&[]), true).is_empty(), "no command to look at");
    let found = reach(
        &env(&[
            ("HOOK_COMMAND", "sh -c 'exit 1'"),
            ("PATH", "/usr/bin:/bin"),
        ]),
        true,
    );
    assert!(find(&found, name).ok, "{found:?}");
    let missing = reach(
        &env(&[("HOOK_COMMAND", "no-such-program-7f3a"), ("PATH", "/bin")]),
        true,
    );
    assert!(!find(&missing, name).ok);
    let unsplittable = reach(&env(&[("HOOK_COMMAND", "node 'open")]), true);
    assert_eq!(
        find(&unsplittable, name).message,
        "unterminated quote in stdio command."
    );
}

#[test]
fn source_connectivity_reads_the_catalog_of_a_sqlite_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = app_db(dir.path());
    let mut d = doc(None, environment_context());
    d["capabilities"][0]["visible_columns"] = json!(["id", "status", "missing_col"]);
    d["capabilities"][1]["target"]["table"] = json!("invoice_view");
    let c = config(&d);
    let e = env(&[("APP_READ_URL", url.as_str())]);
    let ctx = Ctx {
        config: &c,
        env: &e,
        check_handlers: false,
    };
    let mut checks = Checks::default();
    block_on(db::source_connectivity(&ctx, &mut checks));
    let checks = checks.into_vec();
    assert!(find(&checks, "source:app:read-connectivity:main").ok);
    assert!(find(&checks, "capability:billing.inspect_invoice:column:status").ok);
    assert_eq!(
        find(
            &checks,
            "capability:billing.inspect_invoice:column:missing_col"
        )
        .message,
        "main.invoices.missing_col (billing.inspect_invoice) is not visible to the read user: it does not exist, or the reader holds no privilege on it (see `sluicegate writeback grants`)."
    );
    assert_eq!(
        find(
            &checks,
            "capability:billing.propose_late_fee_waiver:writable-target"
        )
        .message,
        "main.invoice_view is a view; proposal billing.propose_late_fee_waiver needs a base table."
    );
    assert!(checks.iter().all(|c| !c.message.contains(&url)));
}

#[test]
fn writeback_probes_roll_back_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = app_db(dir.path());
    let c = config(&doc(None, environment_context()));
    let probe = |e: &Env, run: bool, fix: Option<&str>| {
        let ctx = Ctx {
            config: &c,
            env: e,
            check_handlers: false,
        };
        let mut checks = Checks::default();
        block_on(writer::writeback_probes(&ctx, run, fix, &mut checks));
        checks.into_vec()
    };
    let skipped = probe(&env(&[]), false, None);
    assert_eq!(
        find(&skipped, "source:app:writeback-probe").level,
        Level::Warn
    );
    let unset = probe(&env(&[]), true, None);
    assert_eq!(
        find(&unset, "source:app:writeback-probe").message,
        "Writer of app cannot be probed: APP_WRITE_URL is not set."
    );
    // No receipt table: the doctor says so and how to create it; it creates nothing itself.
    let writer = env(&[("APP_WRITE_URL", url.as_str())]);
    let missing = probe(&writer, true, None);
    let receipt = find(&missing, "source:app:receipt-table-probe");
    assert!(!receipt.ok);
    assert_eq!(
        receipt.message,
        "The writer of source app (APP_WRITE_URL) finds no sluicegate_writeback_receipts table in its database file, and apply never creates it: run the SQL that `sluicegate writeback migration --engine sqlite` prints on that file (or let `sluicegate doctor --check-writeback --fix --admin-url-env <VAR>` do it through the admin URL in VAR)."
    );
    assert!(
        find(
            &missing,
            "capability:billing.propose_late_fee_waiver:writeback-target-probe"
        )
        .ok,
        "{missing:?}"
    );
    let again = probe(&writer, true, None);
    assert!(
        !find(&again, "source:app:receipt-table-probe").ok,
        "the doctor created nothing"
    );
    // --fix without the admin variable set changes nothing; with it, the table is created.
    let unfixed = probe(&writer, true, Some("APP_ADMIN_URL"));
    assert_eq!(
        find(&unfixed, "source:app:receipt-table-fix").message,
        "--fix needs APP_ADMIN_URL set to the URL of an admin of app's database."
    );
    let admin = env(&[
        ("APP_WRITE_URL", url.as_str()),
        ("APP_ADMIN_URL", url.as_str()),
    ]);
    let fixed = probe(&admin, true, Some("APP_ADMIN_URL"));
    assert_eq!(
        find(&fixed, "source:app:receipt-table-fix").message,
        "Created sluicegate_writeback_receipts in main through APP_ADMIN_URL."
    );
    let probed = probe(&writer, true, None);
    assert_eq!(
        find(&probed, "source:app:receipt-table-probe").message,
        "Writer of app finds sluicegate_writeback_receipts in main and may select, insert and update it (probe row rolled back)."
    );
    assert!(probed.iter().all(|c| c.ok), "{probed:?}");
    assert!(
        probed.iter().all(|c| !c.message.contains(&url)),
        "{probed:?}"
    );
}

#[test]
fn the_tool_boundary_lists_the_exposed_tools() {
    let c = config(&doc(None, environment_context()));
    let mut checks = Checks::default();
    let ctx = Ctx {
        config: &c,
        env: &env(&[]),
        check_handlers: false,
    };
    let tools = db::mcp_boundary(&ctx, &mut checks);
    assert_eq!(
        tools,
        ["billing.inspect_invoice", "billing.propose_late_fee_waiver"]
    );
    let checks = checks.into_vec();
    assert_eq!(
        find(&checks, "mcp-runtime").message,
        "2 MCP tool(s) would be listed."
    );
    assert!(find(&checks, "mcp-tool-boundary").ok);
}

#[test]
fn a_missing_config_fails_and_the_store_is_still_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options {
        config_path: dir.path().join("missing.json"),
        store_path: dir.path().join("local.db"),
        ..Options::default()
    };
    let report = block_on(collect(&options, &env(&[])));
    assert!(!report.ok);
    assert_eq!(report.mode, None);
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["config-valid", "store", "store-lease"]);
    assert_eq!(report.checks[1].level, Level::Warn);
}

#[test]
fn an_invalid_config_lists_its_error_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.json");
    std::fs::write(&path, r#"{"version": 1}"#).expect("write");
    let mut checks = Checks::default();
    assert!(config::config_valid(&path, &mut checks).is_none());
    let list = checks.into_vec();
    assert!(
        list[0].message.starts_with("Config is invalid: $"),
        "{list:?}"
    );
}

#[test]
fn an_existing_ledger_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("local.db");
    sluicegate_ledger::Ledger::open(&store).expect("ledger");
    let mut checks = Checks::default();
    db::store(&store, &mut checks);
    let list = checks.into_vec();
    assert!(
        list[0].message.contains(
            "opens: 0 proposals, 0 evidence bundles, 0 receipts; 0 bytes per recorded call, WAL "
        ),
        "{list:?}"
    );
    assert_eq!(list[1].message, "No server holds the store lease.");
}

/// The lease check reads the lock, not a pid: held → warn naming the holder; released with
/// its label left behind (a holder that died) → stale.
#[test]
fn the_store_lease_is_reported_from_its_lock() {
    use sluicegate_ledger::lease::{Lease, lease_path};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("local.db");
    let lease_check = || {
        let mut checks = Checks::default();
        db::store(&store, &mut checks);
        checks.into_vec().remove(1)
    };
    let (held, _) = Lease::acquire(&store, "stdio", false, "t0").expect("lease");
    let label = std::fs::read(lease_path(&store).expect("path")).expect("label");
    let live = lease_check();
    assert_eq!(live.level, Level::Warn);
    assert!(
        live.message.starts_with(&format!(
            "A live stdio server (pid {}) holds the store lease",
            std::process::id()
        )),
        "{}",
        live.message
    );
    drop(held);
    std::fs::write(lease_path(&store).expect("path"), label).expect("leave the label");
    let stale = lease_check();
    assert_eq!(stale.level, Level::Pass);
    assert!(stale.message.starts_with("The store lease is stale"));
}

fn report() -> Report {
    let check = |name: &str, level, message: &str| Check {
        name: name.into(),
        ok: level != Level::Fail,
        level,
        message: message.into(),
    };
    Report {
        ok: false,
        mode: Some("review"),
        config_path: "sluicegate.json".into(),
        checks: vec![
            check("config-valid", Level::Pass, "Config is valid."),
            check("store", Level::Warn, "Ledger x does not exist yet."),
            check("env:T", Level::Fail, "T is required for y."),
            check("mcp-tool-boundary", Level::Pass, "No SQL tool."),
        ],
        tools: vec!["billing.inspect_invoice".into()],
        store_path: ".sluicegate/local.db".into(),
    }
}

#[test]
fn text_marks_each_check() {
    assert_eq!(
        text(&report()),
        "Sluicegate doctor: failed\nConfig: sluicegate.json\nMode: review\n✓ Config is valid.\n! Ledger x does not exist yet.\nx T is required for y.\n✓ No SQL tool."
    );
}

#[test]
fn markdown_report_layout() {
    assert_eq!(
        markdown(&report(), "9.9.9"),
        "# Sluicegate Doctor Report\n\n- sluicegate 9.9.9\n- config: sluicegate.json\n- mode: review\n- status: needs attention\n\n## Semantic Tools\n\n- billing.inspect_invoice\n\n## Safety Boundary\n\n- raw SQL / approval / commit tools: none detected\n- database URLs, passwords, tokens and keys are never included in this report\n\n## Local Store\n\n- path: .sluicegate/local.db\n\n## Checks\n\n- PASS config-valid: Config is valid.\n- WARN store: Ledger x does not exist yet.\n- FAIL env:T: T is required for y.\n- PASS mcp-tool-boundary: No SQL tool.\n\n## Redaction Note\n\nEnv vars are named, never shown. Connection failures are reported as categories (connection failed, authentication failed, permission denied, not found, timeout).\n"
    );
}

#[test]
fn markdown_redacts_what_slipped_into_a_message() {
    let mut r = report();
    r.checks[0].message = "see postgres://app:hunter2@db.internal/x".into();
    assert!(!markdown(&r, "1").contains("hunter2"));
}

#[test]
fn unsigned_decisions_are_a_warning_and_configured_reviewers_pass() {
    let env = env(&[]);
    let verdict = |config: &Config| {
        let mut checks = Checks::default();
        let ctx = Ctx {
            config,
            env: &env,
            check_handlers: false,
        };
        config::decision_signatures(&ctx, &mut checks);
        let mut list = checks.into_vec();
        assert_eq!(list.len(), 1);
        list.remove(0)
    };
    let unsigned = verdict(&config(&doc(None, environment_context())));
    assert_eq!(unsigned.name, "decision-signatures");
    assert_eq!(unsigned.level, Level::Warn);
    assert!(
        unsigned
            .message
            .contains("anyone who can write the ledger file")
    );
    let key = sluicegate_core::decision::signing_key(&[1; 32]).verifying_key();
    let mut signed_doc = doc(None, environment_context());
    signed_doc["reviewers"] =
        json!([{"name": "ann", "public_key": sluicegate_core::decision::public_key_text(&key)}]);
    let signed = verdict(&config(&signed_doc));
    assert_eq!(signed.level, Level::Pass);
    assert!(signed.message.contains("(ann)"), "{}", signed.message);
}
