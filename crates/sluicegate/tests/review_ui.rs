//! The review UI end to end: proposals made by real MCP calls (stdio, the sample app), then
//! `sluicegate ui` driven in headless Chromium by the pinned playwright-core
//! (`tests/review_ui/browser.cjs`): login from the printed URL, the inbox, the exact diff, a
//! hostile proposal rendered inert, reject needing a reason, approve with the keyboard,
//! apply, the row changed exactly once; and, over plain HTTP, the refusals of a request
//! without the session cookie, without the CSRF token, from a foreign Origin or Host, with a
//! stale hash, and of a reused login token.
//!
//! `SLUICEGATE_UI_SCREENSHOTS=<dir>` saves the inbox and a proposal page there
//! (`SLUICEGATE_UI_SCREENSHOTS=docs` refreshes the ones docs/review-ui.md shows).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mcp_support::{Fixture, PROPOSE, StdioClient, workspace_root};
use serde_json::{Value, json};
use sluicegate_core::display;
use sluicegate_ledger::{Filter, Ledger};
use sluicegate_test_support::process::{self, Signal};
use sluicegate_test_support::skip_or_fail;

/// A reason a model could write: markup, a script, an event handler, a `javascript:` link,
/// a terminal cursor-up-and-erase and a bidi override.
const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(1)><a href=\"javascript:alert(1)\">open</a>\u{1b}[1A\u{1b}[2K late_fee_cents: 2500 -> 2500 \u{202e}evil";

/// The pinned playwright-core (`scripts/lib/test-deps.sh`) and the system's chromium.
fn browser_deps() -> Option<(PathBuf, PathBuf)> {
    let Some(modules) = std::env::var_os("SLUICEGATE_TEST_PLAYWRIGHT").filter(|p| !p.is_empty())
    else {
        return skip_or_fail(
            "SLUICEGATE_TEST_PLAYWRIGHT is not set, so the browser test cannot run; `eval \"$(bash scripts/lib/test-deps.sh target/test-deps)\"` installs playwright-core and sets it; scripts/test.sh does both",
        );
    };
    let chromium = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file());
    match chromium {
        Some(c) => Some((PathBuf::from(modules), c)),
        None => skip_or_fail(
            "chromium is not on PATH, so the browser test cannot run; Debian: apt-get install chromium (scripts/test.sh installs it)",
        ),
    }
}

/// Record one proposal through `mcp serve` over stdio, acting for `tenant`.
fn propose(f: &Fixture, tenant: &str, invoice: &str, reason: &str) {
    let mut cmd = f.cmd();
    cmd.env("APP_TENANT_ID", tenant)
        .args(["mcp", "serve"])
        .args(f.paths());
    let mut client = StdioClient::start(cmd);
    let result = client.call(PROPOSE, json!({"invoice_id": invoice, "reason": reason}));
    assert_ne!(result["result"]["isError"], json!(true), "{result}");
    assert!(client.finish().success());
}

fn proposal_id(ledger: &Ledger, invoice: &str) -> String {
    let found = ledger
        .list_proposals(&Filter {
            object_id: Some(invoice.into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1, "one proposal for {invoice}");
    found[0].proposal_id.clone()
}

/// A running `sluicegate ui`, sent SIGTERM when dropped (a failed test leaves no server).
struct Ui(Child);

impl Drop for Ui {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            process::signal(self.0.id(), Signal::TERM);
            let _ = process::wait_within(&mut self.0, Duration::from_secs(10));
        }
    }
}

/// `sluicegate ui` on a free port: the server and the login URL it printed first.
fn start_ui(f: &Fixture) -> (Ui, String) {
    start_ui_with(f, &[])
}

/// `sluicegate ui --port 0` with `extra` flags.
fn start_ui_with(f: &Fixture, extra: &[&str]) -> (Ui, String) {
    let mut child = f
        .cmd()
        .args(["ui", "--port", "0"])
        .args(f.paths())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let child = Ui(child);
    assert!(
        first.starts_with("http://127.0.0.1:") && first.contains("/login?token="),
        "first stdout line: {first:?}"
    );
    (child, first.trim().to_string())
}

/// Run the browser script; `on_ready` runs when it says the inbox is open (it then waits for
/// the live update that shows what `on_ready` recorded).
fn run_browser(
    modules: &PathBuf,
    chromium: &PathBuf,
    login: &str,
    ids: &Value,
    on_ready: impl FnOnce(),
) -> Value {
    let shots = std::env::var("SLUICEGATE_UI_SCREENSHOTS")
        .ok()
        .filter(|d| !d.is_empty())
        .map(|d| {
            let dir = workspace_root().join(d);
            std::fs::create_dir_all(&dir).unwrap();
            dir.display().to_string()
        })
        .unwrap_or_default();
    let script = workspace_root().join("crates/sluicegate/tests/review_ui/browser.cjs");
    let mut node = Command::new("node")
        .arg(script)
        .args([login, &ids.to_string(), &shots])
        .env("NODE_PATH", modules)
        .env("SLUICEGATE_TEST_CHROMIUM", chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut on_ready = Some(on_ready);
    let mut last = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("\"ready\":\"inbox\"") {
            (on_ready.take().expect("ready once"))();
        } else {
            last = line;
        }
    }
    let status = process::wait_within(&mut node, Duration::from_secs(120)).expect("node exits");
    assert!(status.success(), "browser script failed: {last}");
    assert!(
        on_ready.is_none(),
        "the script never said the inbox was open"
    );
    serde_json::from_str(last.trim()).unwrap_or_else(|e| panic!("{e}: {last}"))
}

#[test]
fn review_ui_in_a_real_browser() {
    let Some((modules, chromium)) = browser_deps() else {
        return;
    };
    let f = Fixture::new(2);
    propose(
        &f,
        "acme",
        "INV-3001",
        "customer paid within the grace period",
    );
    propose(&f, "acme", "INV-3002", HOSTILE);
    let ledger = Ledger::open_existing(&f.store).unwrap();
    let good = proposal_id(&ledger, "INV-3001");
    let hostile = proposal_id(&ledger, "INV-3002");
    let before = f.snapshot();

    // ann's key signs every decision made in this UI; the config trusts only her.
    let key = f.dir.path().join("keys/ann.key");
    let key_arg = key.display().to_string();
    let init = f
        .cmd()
        .args([
            "reviewer", "init", "--name", "ann", "--key", &key_arg, "--json",
        ])
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    let public_key: Value = serde_json::from_slice(&init.stdout).unwrap();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&f.config).unwrap()).unwrap();
    config["reviewers"] = json!([{"name": "ann", "public_key": public_key["public_key"]}]);
    std::fs::write(&f.config, config.to_string()).unwrap();

    let (mut ui, login) = start_ui_with(&f, &["--actor", "ann", "--key", &key_arg]);
    let base = login.split("/login").next().unwrap().to_string();
    let seen = run_browser(
        &modules,
        &chromium,
        &login,
        &json!({"good": good, "hostile": hostile}),
        // Arrives while the inbox is open: the live update must show it.
        || propose(&f, "otherco", "INV-9001", "stays pending"),
    );
    let pending = proposal_id(&ledger, "INV-9001");

    // Nothing the model wrote ran or reached out.
    assert_eq!(seen["dialogs"], json!([]), "{seen}");
    assert_eq!(seen["foreign"], json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], json!([]), "{seen}");
    assert_eq!(seen["hostileDom"]["scripts"], json!(["/assets/app.js"]));
    assert_eq!(seen["hostileDom"]["images"], 0);
    assert_eq!(seen["hostileDom"]["jsLinks"], 0);
    assert_eq!(seen["hostileDom"]["iframes"], 0);
    // The reason is shown as text, by the CLI's rule: quoted, escapes visible.
    let shown = display::value(&json!(HOSTILE));
    assert!(shown.contains("\\x1b[1A") && shown.contains("\\u{202e}"));
    assert_eq!(seen["hostile"]["after"], json!(shown), "{seen}");
    assert_eq!(seen["hostileState"], "rejected");

    // The inbox: the pending proposals, oldest first, with their short diffs; the one
    // proposed while it was open appeared without a reload.
    let ids_of = |rows: &Value| -> Vec<String> {
        let rows = rows.as_array().unwrap();
        rows.iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids_of(&seen["inboxRows"]), [good.clone(), hostile.clone()]);
    assert_eq!(
        ids_of(&seen["liveRows"]),
        [good.clone(), hostile.clone(), pending.clone()],
        "{seen}"
    );
    assert_eq!(seen["markerKept"], true, "updated in place, not reloaded");
    let rows = seen["inboxRows"].as_array().unwrap();
    assert_eq!(rows[0][1], "pending review");
    assert_eq!(rows[0][2], PROPOSE);
    assert_eq!(rows[0][3], "acme");
    assert_eq!(rows[0][4], "support_agent_17");
    assert_eq!(rows[0][5], "invoices INV-3001");
    assert_eq!(
        rows[0][7],
        "late_fee_cents: 5500 -> 0; waiver_reason: null -> \"customer paid within the grace period\""
    );
    assert_eq!(seen["focusedAfterJ"], json!(good));
    assert_eq!(
        seen["openedByEnter"],
        json!(format!("{base}/proposals/{good}"))
    );
    assert_eq!(
        seen["focusAfterR"], "reason",
        "r focuses the rejection reason"
    );
    assert_eq!(seen["activityHeading"], "Activity");
    assert_eq!(seen["receiptsHeading"], "Receipts");
    assert_eq!(seen["toolsHeading"], "Tools a model sees");
    assert_eq!(seen["signedBy"], "Reviewer: ann (decisions signed)");

    // The proposal page: the exact diff, its hash, verified; approved by keyboard, applied.
    assert_eq!(seen["goodFee"], json!({"before": "5500", "after": "0"}));
    assert_eq!(
        seen["goodReason"],
        json!({"before": "null", "after": "\"customer paid within the grace period\""})
    );
    assert_eq!(
        seen["goodHash"],
        json!(ledger.proposal(&good).unwrap().proposal_hash)
    );
    assert!(seen["goodVerify"].as_str().unwrap().starts_with("verify"));
    assert_eq!(seen["approvedState"], "approved");
    assert_eq!(seen["appliedState"], "applied");
    assert_eq!(
        seen["inboxAfter"], 1,
        "only the other tenant's stays pending"
    );
    assert_eq!(seen["cookie"]["httpOnly"], true);
    assert_eq!(seen["cookie"]["sameSite"], "Strict");

    // The source row changed exactly once, and only that row.
    let after = f.snapshot();
    for ((id, was), (_, now)) in before.iter().zip(&after) {
        if id == "INV-3001" {
            assert_eq!(now["late_fee_cents"], 0);
            assert_eq!(
                now["waiver_reason"],
                "customer paid within the grace period"
            );
        } else {
            assert_eq!(was, now, "{id} must be untouched");
        }
    }
    let receipts = ledger.receipts(&good).unwrap();
    let applied: Vec<_> = receipts.iter().filter(|r| r.status == "applied").collect();
    assert_eq!(applied.len(), 1, "{receipts:?}");
    // Both decisions made in the browser are ann's, signed, and verify.
    for id in [&good, &hostile] {
        let decisions = ledger.decisions(id).unwrap();
        assert_eq!(decisions.len(), 1, "{id}");
        assert_eq!(decisions[0].reviewer, "ann");
        assert!(decisions[0].signature.is_some(), "{id} is signed");
    }
    let verify = f
        .cmd()
        .args(["store", "verify"])
        .args(f.paths())
        .output()
        .unwrap();
    let verified = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{verified}");
    assert!(verified.contains("(2 signed)"), "{verified}");

    refusals(&base, &seen, &pending, &ledger, &login);

    process::signal(ui.0.id(), Signal::TERM);
    let status = process::wait_within(&mut ui.0, Duration::from_secs(10)).expect("ui stops");
    assert!(status.success(), "SIGTERM ends the UI cleanly: {status}");
}

/// Over plain HTTP, with the browser's session: each missing or wrong piece is refused and
/// nothing is decided.
fn refusals(base: &str, seen: &Value, pending: &str, ledger: &Ledger, login: &str) {
    let cookie = format!(
        "sluicegate_session={}",
        seen["cookie"]["value"].as_str().unwrap()
    );
    let csrf = seen["csrf"].as_str().unwrap().to_string();
    let hash = ledger.proposal(pending).unwrap().proposal_hash;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{base}/proposals/{pending}/decide");
    let form = |csrf: &str, hash: &str, verdict: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("hash", hash.to_string()),
            ("version", "1".to_string()),
            ("verdict", verdict.to_string()),
            ("reason", String::new()),
        ]
    };
    let post = |cookie: Option<&str>, origin: Option<&str>, fields: Vec<(&str, String)>| {
        // Every value here is hex, digits, letters or `sha256:`: nothing to percent-encode.
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut req = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        rt.block_on(async {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        })
    };
    let (status, body) = post(None, None, form(&csrf, &hash, "approve"));
    assert_eq!(status, 403, "no cookie: {body}");
    let (status, body) = post(Some(&cookie), None, form("", &hash, "approve"));
    assert_eq!(status, 403, "no CSRF token: {body}");
    let (status, body) = post(Some(&cookie), None, form(&csrf[1..], &hash, "approve"));
    assert_eq!(status, 403, "wrong CSRF token: {body}");
    let (status, body) = post(
        Some(&cookie),
        Some("http://evil.example"),
        form(&csrf, &hash, "approve"),
    );
    assert_eq!(status, 403, "foreign Origin: {body}");
    let stale = format!("sha256:{}", "0".repeat(64));
    let (status, body) = post(Some(&cookie), None, form(&csrf, &stale, "approve"));
    assert_eq!(status, 409, "stale hash: {body}");
    assert!(body.contains("PROPOSAL_HASH_MISMATCH"), "{body}");
    let (status, body) = post(Some(&cookie), None, form(&csrf, &hash, "reject"));
    assert_eq!(status, 409, "reject without a reason: {body}");
    assert!(body.contains("REJECTION_REASON_REQUIRED"), "{body}");
    assert_eq!(
        ledger.proposal(pending).unwrap().state,
        "pending_review",
        "nothing was decided"
    );
    assert!(ledger.decisions(pending).unwrap().is_empty());

    let get = |path: &str, host: Option<&str>, with_cookie: bool| {
        let mut req = client.get(format!("{base}{path}"));
        if with_cookie {
            req = req.header("cookie", &cookie);
        }
        if let Some(h) = host {
            req = req.header("host", h);
        }
        rt.block_on(async { req.send().await.unwrap().status().as_u16() })
    };
    assert_eq!(get("/", None, true), 200);
    assert_eq!(get("/", None, false), 401, "no session");
    assert_eq!(get("/", Some("evil.example"), true), 403, "DNS rebinding");
    let reused = login.split(base).nth(1).unwrap();
    assert_eq!(get(reused, None, false), 403, "the login token works once");
}

/// Without `--allow-remote-bind` the UI listens on loopback only; it says so and prints no URL.
#[test]
fn a_remote_bind_needs_the_flag() {
    let f = Fixture::new(2);
    propose(&f, "acme", "INV-3001", "any");
    let out = f
        .cmd()
        .args(["ui", "--host", "0.0.0.0", "--port", "0"])
        .args(f.paths())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote-bind"), "{stderr}");
}

/// With no writer for the capability (its `write_url_env` unset), an approved proposal's page
/// shows the terminal command instead of an Apply button.
#[test]
fn without_a_writer_the_page_gives_the_apply_command() {
    let f = Fixture::new(2);
    propose(&f, "acme", "INV-3001", "courtesy");
    let id = proposal_id(&Ledger::open_existing(&f.store).unwrap(), "INV-3001");
    let approve = f
        .cmd()
        .args(["proposals", "approve", id.as_str(), "--yes"])
        .args(f.paths())
        .output()
        .unwrap();
    assert!(approve.status.success(), "{approve:?}");
    let mut cmd = f.cmd();
    cmd.env_remove("APP_WRITE_URL")
        .args(["ui", "--port", "0"])
        .args(f.paths())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let mut login = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut login)
        .unwrap();
    let _ui = Ui(child);
    let base = login.trim().split("/login").next().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, page) = rt.block_on(async {
        let resp = client.get(login.trim()).send().await.unwrap();
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        let cookie = cookie.split(';').next().unwrap().to_string();
        let resp = client
            .get(format!("{base}/proposals/{id}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    });
    assert_eq!(status, 200);
    // The page escapes `/` too (`&#x2f;`).
    let page = page.replace("&#x2f;", "/");
    let store = f.store.display().to_string();
    let config = f.config.display().to_string();
    assert!(
        page.contains(&format!(
            "sluicegate apply {id} --config {config} --store {store}"
        )),
        "{page}"
    );
    assert!(!page.contains("id=\"apply\""), "no Apply button: {page}");
}

/// The values of every `<input name="NAME" value="…">` in a page, in order.
fn input_values(page: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    page.split(&marker)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

/// Batch approval records one decision per picked proposal, each bound to its row's hash; a
/// batch with a stale hash in it approves nothing.
#[test]
fn batch_approval_is_one_decision_per_proposal() {
    let f = Fixture::new(2);
    propose(&f, "acme", "INV-3001", "first");
    propose(&f, "acme", "INV-3002", "second");
    let (_ui, login) = start_ui(&f);
    let base = login.split("/login").next().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = rt.block_on(async {
        let resp = client.get(&login).send().await.unwrap();
        let c = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        c.split(';').next().unwrap().to_string()
    });
    let get = |path: &str| {
        rt.block_on(async {
            let r = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie);
            r.send().await.unwrap().text().await.unwrap()
        })
    };
    let post = |body: String| {
        rt.block_on(async {
            let resp = client
                .post(format!("{base}/batch/approve"))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    let inbox = get("/");
    let csrf = input_values(&inbox, "csrf").remove(0);
    let picks = input_values(&inbox, "pick");
    assert_eq!(picks.len(), 2, "{inbox}");
    // Form encoding: a space is `+`; ids, hashes and versions need nothing else.
    let field = |p: &str| format!("pick={}", p.replace(' ', "+"));
    let stale = picks[1].replace("sha256:", "sha256:0");
    let (status, body) = post(format!(
        "csrf={csrf}&{}&{}",
        field(&picks[0]),
        field(&stale)
    ));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("PROPOSAL_HASH_MISMATCH"), "{body}");
    let ledger = Ledger::open_existing(&f.store).unwrap();
    let ids = [
        proposal_id(&ledger, "INV-3001"),
        proposal_id(&ledger, "INV-3002"),
    ];
    for id in &ids {
        assert!(ledger.decisions(id).unwrap().is_empty(), "nothing decided");
    }
    let (status, body) = post(format!(
        "csrf={csrf}&{}&{}",
        field(&picks[0]),
        field(&picks[1])
    ));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Approved 2"), "{body}");
    for id in &ids {
        let decisions = ledger.decisions(id).unwrap();
        assert_eq!(decisions.len(), 1, "one decision for {id}");
        assert_eq!(decisions[0].proposal_id, *id);
        assert_eq!(
            decisions[0].verdict,
            sluicegate_core::decision::Verdict::Approve
        );
        assert_eq!(
            decisions[0].content_hash,
            ledger.proposal(id).unwrap().proposal_hash
        );
        assert_eq!(ledger.proposal(id).unwrap().state, "approved");
    }
    let (status, _) = post(format!("{}&{}", field(&picks[0]), field(&picks[1])));
    assert_eq!(status, 403, "no CSRF token");
}
