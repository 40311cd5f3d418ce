//! The review UI over plain HTTP, on proposals made by real MCP calls: the JSON routes under
//! `/api/` (the reference's shapes, the session and CSRF rules, every refusal with its code)
//! and the read-only pages (activity, receipts, a proposal's evidence, the tools a model sees,
//! which never show a connection URL, a handler URL, a secret or SQL).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use mcp_support::{Fixture, PROPOSE, StdioClient, config_json};
use serde_json::{Value, json};
use sluicegate_ledger::{Filter, Ledger};
use sluicegate_test_support::process::{self, Signal};
use sluicegate_test_support::{HttpStub, Reply};

/// A handler URL, its token and a write URL only the trusted side may know.
const HOOK_URL: &str = "http://hook-canary.internal:9/hook-path-canary";
const HOOK_TOKEN: &str = "hook-token-canary-7d1e";
const HOOKED: &str = "billing.propose_hooked_waiver";

/// The sample fixture's config plus an app-owned handler executor and a capability using it.
fn fixture() -> Fixture {
    let f = Fixture::new(2);
    let mut config = config_json(2);
    config["executors"] = json!({"billing_hook": {
        "type": "http_handler", "url_env": "HOOK_URL",
        "auth": {"type": "bearer_env", "token_env": "HOOK_TOKEN"}
    }});
    let mut hooked = config["capabilities"][1].clone();
    hooked["name"] = json!(HOOKED);
    hooked["executor"] = json!("billing_hook");
    config["capabilities"].as_array_mut().unwrap().push(hooked);
    std::fs::write(&f.config, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    f
}

fn cmd(f: &Fixture) -> std::process::Command {
    let mut c = f.cmd();
    c.env("HOOK_URL", HOOK_URL).env("HOOK_TOKEN", HOOK_TOKEN);
    c
}

fn propose(f: &Fixture, invoice: &str, reason: &str) -> String {
    propose_with(f, PROPOSE, invoice, reason)
}

fn propose_with(f: &Fixture, capability: &str, invoice: &str, reason: &str) -> String {
    let mut c = cmd(f);
    c.args(["mcp", "serve"]).args(f.paths());
    let mut client = StdioClient::start(c);
    let result = client.call(capability, json!({"invoice_id": invoice, "reason": reason}));
    assert_ne!(result["result"]["isError"], json!(true), "{result}");
    assert!(client.finish().success());
    let ledger = Ledger::open_existing(&f.store).unwrap();
    let found = ledger
        .list_proposals(&Filter {
            object_id: Some(invoice.into()),
            ..Filter::default()
        })
        .unwrap();
    found[0].proposal_id.clone()
}

/// A running `sluicegate ui`, stopped with SIGTERM when dropped.
struct Ui(Child);

impl Drop for Ui {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            process::signal(self.0.id(), Signal::TERM);
            let _ = process::wait_within(&mut self.0, Duration::from_secs(10));
        }
    }
}

/// An HTTP client logged in to a fresh `sluicegate ui`.
struct Session {
    _ui: Ui,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    cookie: String,
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Session {
    fn start(f: &Fixture) -> Session {
        Session::start_with(f, &[])
    }

    /// `sluicegate ui` with `envs` on top of the fixture's.
    fn start_with(f: &Fixture, envs: &[(&str, &str)]) -> Session {
        let mut child = cmd(f)
            .envs(envs.iter().copied())
            .args(["ui", "--port", "0"])
            .args(f.paths())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut login = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut login)
            .unwrap();
        let ui = Ui(child);
        let login = login.trim().to_string();
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
        Session {
            _ui: ui,
            rt,
            client,
            base,
            cookie,
        }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        self.rt.block_on(async {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            Answer {
                status,
                content_type,
                body: resp.text().await.unwrap(),
            }
        })
    }

    fn get(&self, path: &str) -> Answer {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie),
        )
    }

    fn get_without_cookie(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    /// A JSON POST with the given headers (the cookie only when `cookie`).
    fn post(&self, path: &str, cookie: bool, headers: &[(&str, &str)], body: &Value) -> Answer {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if cookie {
            req = req.header("cookie", &self.cookie);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req)
    }
}

fn refused(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    let v = a.json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
}

#[test]
fn the_api_answers_in_the_reference_shapes_behind_the_session() {
    let f = fixture();
    let first = propose(&f, "INV-3001", "customer paid within the grace period");
    let second = propose(&f, "INV-3002", "duplicate fee");
    let s = Session::start(&f);

    // No session: every route is refused, reads included.
    for path in [
        "/api/summary",
        "/api/tools",
        "/api/proposals",
        "/api/session",
    ] {
        refused(&s.get_without_cookie(path), 401, "UI_SESSION_REQUIRED");
    }
    refused(
        &s.get_without_cookie(&format!("/api/proposals/{first}")),
        401,
        "UI_SESSION_REQUIRED",
    );

    let summary = s.get("/api/summary");
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert!(summary.body.ends_with("}\n") && summary.body.contains("\n  \"ok\": true"));
    let summary = summary.json();
    assert_eq!(summary["setup"]["mode"], "review");
    assert_eq!(
        summary["setup"]["sources"]["billing_app"],
        json!({"engine": "sqlite", "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL", "statement_timeout_ms": null})
    );
    assert_eq!(
        summary["setup"]["capabilities"][1]["executor"],
        "sql_update"
    );
    assert_eq!(
        summary["setup"]["capabilities"][2]["executor"],
        "http_handler"
    );
    assert_eq!(
        summary["setup"]["trusted_context"]["values"]["tenant_id_env"],
        "APP_TENANT_ID"
    );
    assert_eq!(summary["doctor"]["config_ok"], true, "{summary}");
    assert_eq!(summary["doctor"]["no_raw_sql_exposed"], true);
    assert_eq!(summary["doctor"]["forbidden_model_tools"], json!([]));

    let tools = s.get("/api/tools").json();
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing.inspect_invoice", PROPOSE, HOOKED]);
    let t = &tools["tools"][1];
    assert_eq!(t["kind"], "proposal");
    assert_eq!(t["target_business_object"], "main.invoices");
    assert_eq!(t["input_schema"]["additionalProperties"], false);
    assert_eq!(
        t["input_schema"]["required"],
        json!(["invoice_id", "reason"])
    );
    assert_eq!(
        t["hidden_trusted_bindings"],
        json!({"tenant_id_env": "APP_TENANT_ID", "principal_env": "APP_PRINCIPAL"})
    );
    assert_eq!(t["lookup"], json!({"id_from_arg": "invoice_id"}));
    assert_eq!(
        t["allowed_patch_columns"],
        json!(["late_fee_cents", "waiver_reason"])
    );
    assert_eq!(t["conflict_guard"]["column"], "updated_at");
    assert_eq!(t["no_raw_sql_exposed"], true);
    assert_eq!(t["approval_or_commit_exposed"], false);

    // Newest first, every proposal; the summary's shape.
    let list = s.get("/api/proposals").json();
    let ids: Vec<&str> = list["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["proposal_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    let p = &list["proposals"][1];
    for key in [
        "proposal_id",
        "action",
        "state",
        "tenant_id",
        "principal",
        "target",
        "approval",
        "source_database_changed",
        "expected_version",
        "evidence",
        "writeback_status",
        "writeback_mode",
        "executor",
        "diff",
        "created_at",
        "updated_at",
    ] {
        assert!(p.get(key).is_some(), "summary lacks {key}: {p}");
    }
    assert_eq!(
        p["principal"],
        json!({"id": "support_agent_17", "source": "environment"})
    );
    assert_eq!(p["target"]["object_id"], "INV-3001");
    assert_eq!(
        p["target"]["primary_key"],
        json!({"column": "id", "value": "INV-3001"})
    );
    assert_eq!(
        p["diff"]["late_fee_cents"],
        json!({"before": 5500, "proposed": 0})
    );
    assert_eq!(p["executor"], "sql_update");
    assert_eq!(p["source_database_changed"], false);
    let none = s.get("/api/proposals?state=applied").json();
    assert_eq!(none["proposals"], json!([]));
    let one = s.get("/api/proposals?limit=1").json();
    assert_eq!(one["proposals"].as_array().unwrap().len(), 1);

    let detail = s.get(&format!("/api/proposals/{first}")).json();
    assert_eq!(detail["ok"], true);
    assert_eq!(detail["proposal"]["proposal_id"], first.as_str());
    let review = &detail["review_view"];
    assert_eq!(review["source_database_changed"], false);
    assert_eq!(
        review["guard_checklist"]["idempotency_key"],
        format!("{first}:INV-3001")
    );
    assert_eq!(review["guard_checklist"]["affected_row_count_required"], 1);
    assert_eq!(review["guard_checklist"]["tenant_guard"]["value"], "acme");
    assert_eq!(review["writeback"]["status"], "pending_review");
    assert_eq!(review["proposed_patch"]["late_fee_cents"], 0);
    assert_eq!(review["source_row_before"]["late_fee_cents"], 5500);
    assert_eq!(detail["events"][0]["kind"], "proposal_created");
    assert_eq!(detail["receipts"], json!([]));
    assert!(
        detail["evidence"]["evidence_bundle_id"].is_string(),
        "{detail}"
    );

    let replay = s.get(&format!("/api/replay/{first}")).json();
    assert_eq!(replay["replay"]["replay_id"], format!("replay_{first}"));

    // Unknown ids and routes: 404 with a code.
    let missing = s.get("/api/proposals/wrp_nope");
    refused(&missing, 404, "NOT_FOUND");
    assert_eq!(missing.json()["error"], "proposal not found: wrp_nope");
    refused(&s.get("/api/replay/wrp_nope"), 404, "NOT_FOUND");
    refused(&s.get("/api/nothing/here"), 404, "NOT_FOUND");

    // The session's CSRF token, and what every decision needs.
    let session = s.get("/api/session").json();
    let csrf = session["csrf"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64, "{session}");
    assert_eq!(session["csrf_header"], "x-sluicegate-csrf");
    let approve = format!("/api/proposals/{first}/approve");
    let ok_body = json!({"confirm": "approve"});
    let with_csrf = [("x-sluicegate-csrf", csrf.as_str())];
    refused(
        &s.post(&approve, false, &with_csrf, &ok_body),
        401,
        "UI_SESSION_REQUIRED",
    );
    refused(
        &s.post(&approve, true, &[], &ok_body),
        403,
        "UI_CSRF_REQUIRED",
    );
    refused(
        &s.post(
            &approve,
            true,
            &[("x-sluicegate-csrf", &csrf[1..])],
            &ok_body,
        ),
        403,
        "UI_CSRF_REQUIRED",
    );
    refused(
        &s.post(
            &approve,
            true,
            &[],
            &json!({"confirm": "approve", "csrf": csrf}),
        ),
        403,
        "UI_CSRF_REQUIRED",
    );
    refused(
        &s.post(
            &approve,
            true,
            &[
                ("x-sluicegate-csrf", &csrf),
                ("origin", "http://evil.example"),
            ],
            &ok_body,
        ),
        403,
        "UI_ORIGIN_REFUSED",
    );
    refused(
        &s.post(&approve, true, &with_csrf, &json!({})),
        400,
        "UI_CONFIRM_REQUIRED",
    );
    refused(
        &s.post(&approve, true, &with_csrf, &json!({"confirm": "reject"})),
        400,
        "UI_CONFIRM_REQUIRED",
    );
    refused(
        &s.post(
            &approve,
            true,
            &with_csrf,
            &json!({"confirm": "approve", "actor": "mallory"}),
        ),
        403,
        "UI_ACTOR_MISMATCH",
    );
    let raw = |body: String| {
        s.send(
            s.client
                .post(format!("{}{approve}", s.base))
                .header("cookie", &s.cookie)
                .header("x-sluicegate-csrf", &csrf)
                .header("content-type", "application/json")
                .body(body),
        )
    };
    refused(&raw("not json".into()), 400, "UI_BAD_REQUEST");
    refused(&raw("[\"approve\"]".into()), 400, "UI_BAD_REQUEST");
    // The struct's fields as a positional array are not an object either.
    refused(
        &raw("[\"approve\", null, null, null]".into()),
        400,
        "UI_BAD_REQUEST",
    );
    let huge = json!({"confirm": "approve", "reason": "x".repeat(70 * 1024)}).to_string();
    refused(&raw(huge), 413, "UI_BODY_TOO_LARGE");
    // A Host that is not this server (DNS rebinding) gets the JSON refusal too.
    refused(
        &s.send(
            s.client
                .get(format!("{}/api/summary", s.base))
                .header("cookie", &s.cookie)
                .header("host", "evil.example"),
        ),
        403,
        "UI_ORIGIN_REFUSED",
    );
    let stale = format!("sha256:{}", "0".repeat(64));
    refused(
        &s.post(
            &approve,
            true,
            &with_csrf,
            &json!({"confirm": "approve", "proposal_hash": stale}),
        ),
        409,
        "PROPOSAL_HASH_MISMATCH",
    );
    refused(
        &s.post(
            "/api/proposals/wrp_nope/approve",
            true,
            &with_csrf,
            &ok_body,
        ),
        404,
        "NOT_FOUND",
    );
    let reject = format!("/api/proposals/{second}/reject");
    refused(
        &s.post(&reject, true, &with_csrf, &json!({"confirm": "reject"})),
        409,
        "REJECTION_REASON_REQUIRED",
    );
    let ledger = Ledger::open_existing(&f.store).unwrap();
    for id in [&first, &second] {
        assert!(
            ledger.decisions(id).unwrap().is_empty(),
            "nothing decided yet"
        );
    }

    // Approve, pinned to the hash the script read; reject with the reference's header name.
    let hash = ledger.proposal(&first).unwrap().proposal_hash;
    let approved = s.post(
        &approve,
        true,
        &with_csrf,
        &json!({"confirm": "approve", "proposal_hash": hash, "reason": "checked"}),
    );
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.json()["proposal"]["state"], "approved");
    let rejected = s.post(
        &reject,
        true,
        &[("x-synapsor-csrf", &csrf)],
        &json!({"confirm": "reject", "reason": "not a duplicate"}),
    );
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert_eq!(rejected.json()["proposal"]["state"], "rejected");
    assert_eq!(ledger.decisions(&first).unwrap().len(), 1);
    assert_eq!(ledger.decisions(&second).unwrap().len(), 1);
    // Deciding again is refused with the ledger's code.
    refused(
        &s.post(&approve, true, &with_csrf, &ok_body),
        409,
        "PROPOSAL_NOT_PENDING_REVIEW",
    );
    assert!(ledger.verify(&[]).unwrap().ok());

    // A credential-looking value: the API cuts it out of what it shows, and says so, since a
    // decision binds to (and apply writes) the whole value.
    let secretive = propose(
        &f,
        "INV-3001",
        "refund to https://acct:4111@pay.example/ ok",
    );
    let shown = s.get(&format!("/api/proposals/{secretive}")).json();
    assert_eq!(shown["redacted"], json!(true), "{shown}");
    assert!(!shown.to_string().contains("4111"), "{shown}");
    let plain = s.get(&format!("/api/proposals/{first}")).json();
    assert!(plain.get("redacted").is_none(), "{plain}");

    // The row's tenant column edited in the file (what the pages show), its change set not:
    // no decision is recorded through the API either.
    let conn = rusqlite::Connection::open(&f.store).unwrap();
    let guards: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'proposals'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for g in guards {
        conn.execute_batch(&format!("DROP TRIGGER \"{g}\""))
            .unwrap();
    }
    conn.execute(
        "UPDATE proposals SET tenant_id = 'otherco' WHERE proposal_id = ?1",
        [&secretive],
    )
    .unwrap();
    refused(
        &s.post(
            &format!("/api/proposals/{secretive}/approve"),
            true,
            &with_csrf,
            &json!({"confirm": "approve"}),
        ),
        409,
        "LEDGER_TAMPERED",
    );
    assert!(ledger.decisions(&secretive).unwrap().is_empty());
}

#[test]
fn activity_receipts_evidence_and_tools_pages() {
    let f = fixture();
    // A handler job the worker gives up on (its token is not in the worker's env): its dead
    // letter is an event the activity page lists.
    let hooked = propose_with(&f, HOOKED, "INV-3002", "fee charged in error");
    let approve = cmd(&f)
        .args(["proposals", "approve", hooked.as_str(), "--yes"])
        .args(f.paths())
        .output()
        .unwrap();
    assert!(approve.status.success(), "{approve:?}");
    let worker = f
        .cmd()
        .args(["worker", "--once", "--max-attempts", "1"])
        .args(f.paths())
        .output()
        .unwrap();
    assert_eq!(worker.status.code(), Some(1), "{worker:?}");
    let id = propose(&f, "INV-3001", "customer paid within the grace period");
    for args in [
        vec!["proposals", "approve", id.as_str(), "--yes"],
        vec!["apply", id.as_str()],
    ] {
        let out = cmd(&f).args(&args).args(f.paths()).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let s = Session::start(&f);
    for path in [
        "/activity",
        "/receipts",
        "/tools",
        &format!("/proposals/{id}/evidence"),
    ] {
        assert_eq!(s.get_without_cookie(path).status, 401, "{path}");
    }

    let inbox = s.get("/").body;
    for link in [
        "href=\"/activity\"",
        "href=\"/receipts\"",
        "href=\"/tools\"",
    ] {
        assert!(inbox.contains(link), "the nav links {link}: {inbox}");
    }

    let activity = s.get("/activity");
    assert_eq!(activity.status, 200);
    let kinds = ["writeback_applied", "proposal_approved", "proposal_created"];
    for k in kinds {
        assert!(activity.body.contains(k), "{k}: {}", activity.body);
    }
    assert!(
        activity.body.contains("writeback_dead_lettered")
            && activity.body.contains("HANDLER_ENV_MISSING"),
        "{}",
        activity.body
    );
    // Newest first.
    let at = |k: &str| activity.body.find(k).unwrap();
    assert!(
        at(kinds[0]) < at(kinds[1]) && at(kinds[1]) < at(kinds[2]),
        "{}",
        activity.body
    );

    let receipts = s.get("/receipts");
    assert_eq!(receipts.status, 200);
    assert!(
        receipts.body.contains(&format!("{id}:INV-3001")),
        "{}",
        receipts.body
    );
    assert!(
        receipts.body.contains("<td>applied</td>"),
        "{}",
        receipts.body
    );
    let conflicts = s.get("/receipts?status=conflict").body;
    assert!(conflicts.contains("No receipts"), "{conflicts}");

    let ledger = Ledger::open_existing(&f.store).unwrap();
    let bundle = &ledger.evidence_for_proposal(&id).unwrap()[0];
    let evidence = s.get(&format!("/proposals/{id}/evidence"));
    assert_eq!(evidence.status, 200);
    assert!(
        evidence.body.contains(&bundle.evidence_bundle_id),
        "{}",
        evidence.body
    );
    assert!(
        evidence
            .body
            .contains(&bundle.query_audit[0].query_fingerprint),
        "{}",
        evidence.body
    );
    assert!(
        evidence.body.contains("late_fee_cents"),
        "{}",
        evidence.body
    );
    assert_eq!(s.get("/proposals/wrp_nope/evidence").status, 404);
    let page = s.get(&format!("/proposals/{id}")).body;
    assert!(page.contains("id=\"evidence-link\""), "{page}");

    let tools = s.get("/tools");
    assert_eq!(tools.status, 200);
    for name in ["billing.inspect_invoice", PROPOSE, HOOKED] {
        assert!(tools.body.contains(name), "{name}: {}", tools.body);
    }
    assert!(
        tools
            .body
            .contains("Inspect one invoice of the current tenant")
    );
    assert!(
        tools
            .body
            .contains("&quot;additionalProperties&quot;: false"),
        "{}",
        tools.body
    );

    // Nothing the trusted side keeps: no connection URL, handler URL or token, no SQL.
    let app_url = format!("sqlite://{}", f.app_db.display());
    let api_summary = s.get("/api/summary").body;
    let api_tools = s.get("/api/tools").body;
    for (what, body) in [
        ("tools page", &tools.body),
        ("/api/tools", &api_tools),
        ("/api/summary", &api_summary),
    ] {
        let unescaped = body.replace("&#x2f;", "/");
        for secret in [app_url.as_str(), HOOK_URL, "hook-path-canary", HOOK_TOKEN] {
            assert!(!unescaped.contains(secret), "{what} shows {secret}: {body}");
        }
        for sql in ["SELECT ", "UPDATE ", "WHERE "] {
            assert!(
                !body.to_uppercase().contains(sql),
                "{what} shows SQL ({sql}): {body}"
            );
        }
    }
}

/// The inbox page's state, time and text filters, and pending first across every state.
#[test]
fn the_inbox_filters_by_time_and_text_and_puts_pending_first() {
    let f = fixture();
    propose(&f, "INV-3001", "customer paid within the grace period");
    propose(&f, "INV-3002", "duplicate charge");
    let out = cmd(&f)
        .args(["proposals", "approve"])
        .arg(propose(
            &f,
            "INV-3001",
            "customer paid within the grace period",
        ))
        .arg("--yes")
        .args(f.paths())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s = Session::start(&f);
    let rows = |path: &str| -> Vec<String> {
        let page = s.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        page.body
            .split("<td>invoices ")
            .skip(1)
            .map(|rest| rest.split('<').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(rows("/"), ["INV-3002"], "pending only by default");
    assert_eq!(rows("/?state=approved"), ["INV-3001"]);
    assert_eq!(
        rows("/?state=any"),
        ["INV-3002", "INV-3001"],
        "the pending proposal first, though it is newer"
    );
    assert_eq!(rows("/?state=any&q=GRACE+period"), ["INV-3001"]);
    assert_eq!(rows("/?state=any&q=support_agent_17+3002"), ["INV-3002"]);
    assert!(rows("/?state=any&q=nothing-like-this").is_empty());
    assert_eq!(rows("/?state=any&from=2000-01-01&to=2999-12-31").len(), 2);
    assert!(rows("/?state=any&from=2999-01-01").is_empty());
    assert!(rows("/?state=any&to=2000-01-01T00:00").is_empty());
    let bad = s.get("/?from=yesterday");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Unreadable time"), "{}", bad.body);
}

/// Apply through the UI on an app-owned handler capability: the page offers Apply (a handler
/// is a writer), the handler is called once with its token, and the receipt is recorded.
#[test]
fn apply_through_the_ui_calls_the_app_owned_handler_once() {
    let f = fixture();
    let stub = HttpStub::replying(vec![Reply::json(
        200,
        &json!({"status": "applied", "rows_affected": 1, "source_database_mutated": true}),
    )]);
    let hook = stub.url("/hook");
    let id = propose_with(&f, HOOKED, "INV-3001", "first late payment");
    let out = cmd(&f)
        .args(["proposals", "approve", &id, "--yes"])
        .args(f.paths())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let before = f.snapshot();
    let s = Session::start_with(&f, &[("HOOK_URL", &hook)]);
    let page = s.get(&format!("/proposals/{id}")).body;
    assert!(page.contains("id=\"apply\""), "an Apply button: {page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let applied = s.send(
        s.client
            .post(format!("{}/proposals/{id}/apply", s.base))
            .header("cookie", &s.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}")),
    );
    assert_eq!(applied.status, 303, "{}", applied.body);
    let seen = stub.requests();
    assert_eq!(seen.len(), 1, "the handler is called once");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {HOOK_TOKEN}").as_str())
    );
    let ledger = Ledger::open_existing(&f.store).unwrap();
    assert_eq!(ledger.proposal(&id).unwrap().state, "applied");
    let receipts = ledger.receipts(&id).unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].status, "applied");
    assert_eq!(
        f.snapshot(),
        before,
        "the app's handler writes, not Sluicegate"
    );
    let shown = s
        .get(&format!("/proposals/{id}?notice=applied"))
        .body
        .replace("&#x2f;", "/");
    assert!(shown.contains("Applied: the guarded write ran"), "{shown}");
    assert!(
        !shown.contains(&hook) && !shown.contains(HOOK_TOKEN),
        "{shown}"
    );
}
