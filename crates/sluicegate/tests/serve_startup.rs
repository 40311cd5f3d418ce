//! What a server checks before it starts, with the built binary: every serve command (stdio,
//! Streamable HTTP, the bridge) and `up` refuse to start without a source read URL or a
//! trusted-context variable, naming each missing variable, where the config uses it, and the
//! fix (exit 2, nothing on stdout, no ledger opened); the writer URL is not needed to serve. An
//! env file (`--env-file`) must be private to its owner, supplies what is missing, and loses to
//! variables already exported. A source that is down at call time is logged with its cause at
//! the default log level. A ledger that cannot open stops every serve command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mcp_support::*;
use serde_json::json;

const APP_VARS: [&str; 5] = [
    "APP_READ_URL",
    "APP_WRITE_URL",
    "APP_TENANT_ID",
    "APP_PRINCIPAL",
    "SLUICEGATE_HTTP_TOKEN",
];

/// The binary in the fixture's directory with the fixture's env less `without`.
fn cmd_without(fx: &Fixture, without: &[&str]) -> Command {
    let mut c = fx.cmd();
    for name in without {
        c.env_remove(name);
    }
    c
}

/// Every way to serve, each refusing before it binds or reads stdin.
fn serve_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["mcp", "serve"],
        vec![
            "mcp",
            "serve",
            "--transport",
            "streamable-http",
            "--port",
            "0",
        ],
        vec!["mcp", "serve-streamable-http", "--port", "0"],
        vec!["mcp", "serve-http", "--port", "0"],
        vec!["up", "--serve", "--port", "0"],
    ]
}

fn write_env_file(dir: &Path, body: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(".env");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn fixture_env_file(fx: &Fixture, tenant: &str) -> String {
    format!(
        "APP_READ_URL=sqlite://{}\nAPP_TENANT_ID={tenant}\nAPP_PRINCIPAL=support_agent_17\nSLUICEGATE_HTTP_TOKEN={TOKEN}\n",
        fx.app_db.display()
    )
}

#[test]
fn serving_refuses_to_start_naming_each_missing_variable_and_the_fix() {
    let fx = Fixture::new(2);
    let both = "billing.inspect_invoice, billing.propose_late_fee_waiver";
    for (gone, line) in [
        (
            "APP_READ_URL",
            "APP_READ_URL: read URL of source billing_app".to_string(),
        ),
        (
            "APP_TENANT_ID",
            format!("APP_TENANT_ID: trusted context tenant of {both}"),
        ),
        (
            "APP_PRINCIPAL",
            format!("APP_PRINCIPAL: trusted context principal of {both}"),
        ),
    ] {
        for serve in serve_commands() {
            let o = cmd_without(&fx, &[gone])
                .args(&serve)
                .args(fx.paths())
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{serve:?} without {gone}: {err}");
            assert!(
                err.contains("cannot serve: 1 env var the config needs is not set"),
                "{err}"
            );
            assert!(err.contains(&line), "{serve:?}: {err}");
            assert!(
                err.contains("pass --env-file <path>, or export it"),
                "{serve:?}: {err}"
            );
            if serve[0] == "mcp" {
                assert!(o.stdout.is_empty(), "{serve:?} printed on stdout");
            }
            assert!(!fx.store.exists(), "{serve:?} opened the ledger first");
        }
    }

    // `up` shows the same: the variable missing in its checklist, the message, not ready.
    let o = cmd_without(&fx, &["APP_TENANT_ID"])
        .args(["up", "--dry-run"])
        .args(fx.paths())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("Env vars the server needs:"), "{out}");
    assert!(
        out.contains(&format!(
            "  - APP_TENANT_ID (missing): trusted context tenant of {both}"
        )),
        "{out}"
    );
    assert!(
        out.contains("  - APP_READ_URL (set): read URL of source billing_app"),
        "{out}"
    );
    assert!(
        err.contains(&format!("APP_TENANT_ID: trusted context tenant of {both}")),
        "{err}"
    );
    assert!(!out.contains("sqlite://") && !out.contains("acme"), "{out}");

    // Several at once are listed together.
    let o = cmd_without(&fx, &APP_VARS)
        .args(["mcp", "serve"])
        .args(fx.paths())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot serve: 3 env vars the config needs are not set"),
        "{err}"
    );
    assert!(
        err.contains("APP_READ_URL, APP_TENANT_ID, APP_PRINCIPAL"),
        "{err}"
    );
}

#[test]
fn the_writer_url_is_not_needed_to_serve() {
    let fx = Fixture::new(1);
    let mut c = cmd_without(&fx, &["APP_WRITE_URL"]);
    c.args(["mcp", "serve"]).args(fx.paths());
    let mut client = StdioClient::start(c);
    let r = client.call(READ, json!({"invoice_id": "INV-3001"}));
    assert_eq!(
        r["result"]["structuredContent"]["data"]["id"], "INV-3001",
        "{r}"
    );
    assert!(client.finish().success());
}

#[test]
fn an_env_file_others_can_read_is_refused_naming_the_fix() {
    let fx = Fixture::new(1);
    let canary = "canary-5d1e-value";
    for mode in [0o644, 0o640, 0o604, 0o660] {
        let file = write_env_file(
            fx.dir.path(),
            &format!(
                "{}APP_SECRET_NOTE={canary}\n",
                fixture_env_file(&fx, "acme")
            ),
            mode,
        );
        for serve in serve_commands() {
            let o = cmd_without(&fx, &APP_VARS)
                .args(&serve)
                .args(fx.paths())
                .args(["--env-file", &file.display().to_string()])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{serve:?} mode {mode:o}: {err}");
            assert!(
                err.contains(&format!("env file {}", file.display())),
                "{err}"
            );
            assert!(
                err.contains(&format!("run `chmod 600 {}`", file.display())),
                "{err}"
            );
            assert!(!err.contains(canary) && !err.contains("sqlite://"), "{err}");
        }
    }
}

#[test]
fn an_env_file_supplies_what_serving_needs_and_exported_variables_win() {
    let fx = Fixture::new(2);
    // The file says otherco; the environment the client starts the server in says acme.
    let file = write_env_file(fx.dir.path(), &fixture_env_file(&fx, "otherco"), 0o600);
    let f = file.display().to_string();

    let mut c = cmd_without(&fx, &APP_VARS);
    c.env("APP_TENANT_ID", "acme")
        .args(["mcp", "serve"])
        .args(fx.paths())
        .args(["--env-file", &f]);
    let mut client = StdioClient::start(c);
    let r = client.call(READ, json!({"invoice_id": "INV-3001"}));
    let s = &r["result"]["structuredContent"];
    assert_eq!(s["data"]["id"], "INV-3001", "{r}");
    assert_eq!(
        s["_meta"]["tenant_id"], "acme",
        "the exported value wins: {r}"
    );
    assert!(client.finish().success());

    // Over HTTP the file supplies the bearer token too.
    let mut c = cmd_without(&fx, &APP_VARS);
    c.args(["mcp", "serve-streamable-http", "--port", "0"])
        .args(fx.paths())
        .args(["--env-file", &f]);
    let mut server = ServerProc::start(c);
    let r = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut mcp = HttpMcp::connect(&server.url).await;
            mcp.call(READ, json!({"invoice_id": "INV-9001"})).await
        });
    assert_eq!(
        r["result"]["structuredContent"]["data"]["id"], "INV-9001",
        "otherco's invoice, the tenant from the file: {r}"
    );
    assert!(server.stop());

    // A file that is not there is named.
    let o = cmd_without(&fx, &APP_VARS)
        .args(["mcp", "serve"])
        .args(fx.paths())
        .args(["--env-file", "/nonexistent/.env"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read env file /nonexistent/.env"));
}

#[test]
fn a_source_that_is_down_is_logged_with_its_cause_at_the_default_level() {
    let fx = Fixture::new(2);
    let gone = fx.dir.path().join("gone/app.db");
    let log = fx.dir.path().join("server.log");
    let mut c = fx.cmd();
    c.env("APP_READ_URL", format!("sqlite://{}", gone.display()))
        .args(["mcp", "serve"])
        .args(fx.paths());
    // `bin()` leaves SLUICEGATE_LOG unset: the default level.
    let mut client =
        StdioClient::start_with_stderr(c, Stdio::from(std::fs::File::create(&log).unwrap()));
    let r = client.call(READ, json!({"invoice_id": "INV-3001"}));
    assert!(client.finish().success());
    let e = &r["result"]["structuredContent"]["error"];
    assert_eq!(e["reason"], "SOURCE_UNAVAILABLE", "{r}");
    let id = e["correlation_id"].as_str().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no log line names {id}:\n{text}"));
    assert!(
        line.contains(" WARN ") || line.contains(" ERROR "),
        "{line}"
    );
    assert!(
        line.contains("SOURCE_UNAVAILABLE") && line.contains("cause="),
        "{line}"
    );
}

/// A ledger that cannot open stops every serve command before it answers anything: exit 2,
/// SQLite's reason on stderr, nothing on an MCP server's stdout (the ledger opens while the
/// column types are read, and its failure still ends the start).
#[test]
fn a_ledger_that_is_not_a_database_stops_the_server_before_it_answers() {
    let fx = Fixture::new(1);
    std::fs::create_dir_all(fx.store.parent().unwrap()).unwrap();
    std::fs::write(&fx.store, "not a ledger\n").unwrap();
    for args in serve_commands() {
        let o = fx
            .cmd()
            .args(&args)
            .args(fx.paths())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("file is not a database"), "{args:?}: {err}");
        // `up` prints its checklist first; an MCP server prints nothing.
        if args[0] == "mcp" {
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(out.is_empty(), "{args:?}: {out}");
        }
    }
}
