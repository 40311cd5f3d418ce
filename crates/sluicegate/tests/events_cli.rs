//! `activity search`, `events tail` and `events webhook` through the built binary: refusals
//! of bad flags (exit 2), paging by the printed cursor, a follow that sees another process's
//! decision within a second, and webhook deliveries against receivers that answer 200, 500,
//! hang, answer garbage or close the connection. Signatures are checked by Python's `hmac`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluicegate_test_support::http_stub::{HttpStub, Reply};
use sluicegate_test_support::process::{Signal, signal, wait_within};
use sluicegate_test_support::shown_proposal_id;

const SECRET: &str = "whsec-test-6f1e2d";
const TOKEN: &str = "hook-token-91ab";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A project on the SQLite sample app with two pending proposals (four events).
struct Project {
    dir: tempfile::TempDir,
    app: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app.db");
        sluicegate_source::sample_app::create(&app).unwrap();
        let config = json!({
            "version": 1, "mode": "review",
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
        let p = Project { dir, app };
        for (id, reason) in [
            ("INV-3001", "goodwill credit"),
            ("INV-3002", "duplicate fee"),
        ] {
            let args = json!({"invoice_id": id, "reason": reason}).to_string();
            let o = p.run(&[
                "propose",
                "billing.propose_late_fee_waiver",
                "--args",
                &args,
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        p
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
        c.env_remove("SLUICEGATE_CONFIG")
            .env_remove("SLUICEGATE_STORE")
            .env("CI", "true")
            .current_dir(self.dir.path())
            .env("APP_URL", format!("sqlite://{}", self.app.display()))
            .env("TENANT", "acme")
            .env("PRINCIPAL", "cli_agent")
            .env("HOOK_SECRET", SECRET)
            .env("HOOK_TOKEN", TOKEN)
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

    fn json(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)))
    }

    fn event_ids(&self) -> Vec<i64> {
        self.json(&["events", "tail", "--json", "--limit", "200"])["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_i64().unwrap())
            .collect()
    }

    fn dead_letters(&self) -> Vec<Value> {
        self.json(&[
            "activity",
            "search",
            "--status",
            "webhook_dead_letter",
            "--json",
        ])["interactions"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// Exit 2 with `message` on stderr.
fn refused(o: &Output, message: &str) {
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(o), stderr(o));
    assert!(
        stderr(o).contains(message),
        "wanted {message:?}, got {}",
        stderr(o)
    );
}

#[test]
fn activity_search_refuses_bad_filters_and_pages_by_its_cursor() {
    let p = Project::new();
    for (args, message) in [
        (
            vec!["--limit", "0"],
            "--limit must be a positive integer no greater than 200",
        ),
        (
            vec!["--limit", "201"],
            "--limit must be a positive integer no greater than 200",
        ),
        (
            vec!["--from", "last tuesday"],
            "--from must be a date (2026-06-20) or an RFC 3339 time",
        ),
        (vec!["--to", "2026-02-30"], "--to must be a date"),
        (
            vec!["--status", "approvedd"],
            "unknown status \"approvedd\"; --status takes one of:",
        ),
        (vec!["--state", "nope"], "unknown status \"nope\""),
        (
            vec!["--after", "a1.zz.1.1"],
            "--after takes the cursor a previous page printed",
        ),
        (vec!["--object", "INV-3001"], "--object must use type:id"),
        (vec!["--replay", "wrp_1"], "invalid replay id"),
        (
            vec!["--receipt", "-3"],
            "--receipt must be a positive receipt id",
        ),
    ] {
        let mut all = vec!["activity", "search"];
        all.extend(args);
        refused(&p.run(&all), message);
    }
    let long = "w".repeat(501);
    refused(
        &p.run(&["activity", "search", "--text", &long]),
        "--text is limited to 500 bytes",
    );
    let o = p.run(&["activity", "search", "--store", "missing.db"]);
    refused(&o, "no Sluicegate ledger was found");

    // Two proposals, one per page; the printed cursor leads to the second, then the end.
    let o = p.run(&["activity", "search", "--limit", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("Found 1 local interaction\n"), "{text}");
    assert!(text.contains("sluicegate proposals show wrp_"), "{text}");
    let cursor = text
        .lines()
        .find_map(|l| l.strip_prefix("More: repeat this search with --after "))
        .unwrap_or_else(|| panic!("no cursor printed: {text}"))
        .to_string();
    let first: Vec<String> = text
        .lines()
        .filter(|l| l.contains("proposal: "))
        .map(String::from)
        .collect();
    let next = p.json(&[
        "activity", "search", "--limit", "1", "--after", &cursor, "--json",
    ]);
    let items = next["interactions"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(!first[0].contains(items[0]["proposal"].as_str().unwrap()));
    assert!(next["next_cursor"].is_null(), "{next}");

    // The "Next:" commands the first page printed run as written.
    for line in text.lines().filter(|l| l.starts_with("sluicegate ")) {
        let words = shell_words::split(line).unwrap();
        let o = p.run(&words[1..].iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{line}: {}", stderr(&o));
    }

    let found = p.json(&["activity", "search", "--text", "duplicate", "--json"]);
    assert_eq!(found["interactions"].as_array().unwrap().len(), 1);
    assert_eq!(found["interactions"][0]["object"], "invoices:INV-3002");
}

#[test]
fn events_tail_prints_and_refuses_bad_flags() {
    let p = Project::new();
    let o = p.run(&["events", "tail", "--details"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("  proposal_created\n").count(), 2, "{text}");
    assert!(text.contains("  actor: cli_agent\n"), "{text}");
    assert!(text.contains("  payload: {\"proposal_hash\""), "{text}");
    let o = p.run(&["events", "tail", "--kind", "proposal_approved"]);
    assert_eq!(stdout(&o), "No local events found.\n");
    refused(
        &p.run(&["events", "tail", "--limit", "0"]),
        "--limit must be a positive integer",
    );
    refused(
        &p.run(&["events", "tail", "--interval-ms", "100", "--follow"]),
        "--interval-ms must be at least 250",
    );
    refused(
        &p.run(&["events", "tail", "--from", "soon"]),
        "--from must be a date",
    );
}

/// Lines of a child's pipe, sent as they arrive.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line `pred` accepts, waiting at most until `deadline`.
fn line_until(
    rx: &mpsc::Receiver<String>,
    deadline: Instant,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return Some(line),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn events_tail_follow_sees_another_processs_decision_within_a_second() {
    let p = Project::new();
    let mut tail = p
        .cmd(&[
            "events",
            "tail",
            "--follow",
            "--json",
            "--interval-ms",
            "500",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(tail.stdout.take().unwrap());
    let err = lines_of(tail.stderr.take().unwrap());
    // Ready: the tail printed what was there and says it is following.
    let ready = line_until(&err, Instant::now() + Duration::from_secs(20), |l| {
        l.starts_with("following events after event ")
    });
    assert!(
        ready.is_some(),
        "events tail --follow never said it was following"
    );
    // It first prints what is recorded: the two proposals' four events.
    let start = Instant::now() + Duration::from_secs(10);
    for n in 0..4 {
        let line = line_until(&out, start, |_| true);
        let event: Value =
            serde_json::from_str(&line.unwrap_or_else(|| panic!("{n} of 4 events"))).unwrap();
        assert!(event["event_id"].is_i64(), "{event}");
    }

    let id = p.latest_id();
    let o = p.run(&[
        "proposals",
        "approve",
        &id,
        "--yes",
        "--actor",
        "ana",
        "--reason",
        "ok",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recorded = Instant::now();
    let seen = line_until(&out, recorded + Duration::from_secs(1), |l| {
        l.contains("\"proposal_approved\"")
    });
    let waited = recorded.elapsed();
    let line = seen.unwrap_or_else(|| panic!("no proposal_approved line within 1 s"));
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["actor"], "ana");
    assert!(waited < Duration::from_secs(1), "seen after {waited:?}");

    signal(tail.id(), Signal::TERM);
    let status =
        wait_within(&mut tail, Duration::from_secs(10)).expect("tail did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// Python's `hmac` module checks `signature` over `body` with [`SECRET`].
fn python_verifies(body: &[u8], signature: &str) -> bool {
    let python = std::env::var("SLUICEGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import hmac,hashlib,sys\nbody=sys.stdin.buffer.read()\nmac=hmac.new(sys.argv[1].encode(),body,hashlib.sha256).hexdigest()\nsys.exit(0 if hmac.compare_digest('sha256='+mac, sys.argv[2]) else 1)\n";
    let child = Command::new(&python)
        .args(["-c", script, SECRET, signature])
        .stdin(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return sluicegate_test_support::skip_or_fail(format!("{python} is not available"))
            .unwrap_or(true);
    };
    child.stdin.take().unwrap().write_all(body).unwrap();
    child.wait().unwrap().success()
}

fn webhook(p: &Project, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["events", "webhook", "--url", url];
    args.extend(extra);
    p.run(&args)
}

#[test]
fn deliveries_are_signed_carry_no_credential_and_approve_nothing() {
    let p = Project::new();
    // The receiver answers as if it could approve: nothing reads that.
    let stub =
        HttpStub::start(|_, _| Reply::json(200, &json!({"approve": true, "status": "applied"})));
    let url = stub.url("/hooks/sluicegate?key=abc");
    let o = webhook(
        &p,
        &url,
        &[
            "--secret-env",
            "HOOK_SECRET",
            "--auth-token-env",
            "HOOK_TOKEN",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("pushed event ").count(), 4, "{text}");
    assert!(
        !text.contains("key=abc"),
        "the URL's query is never printed: {text}"
    );
    let requests = stub.wait_for(4, Duration::from_secs(10));
    let mut ids = Vec::new();
    for r in &requests {
        let sig = r.header("x-synapsor-signature").unwrap();
        assert!(python_verifies(&r.body, sig), "python hmac rejected {sig}");
        let mut tampered = r.body.clone();
        tampered.push(b' ');
        assert!(
            !python_verifies(&tampered, sig),
            "a changed body must not verify"
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("user-agent"), Some("sluicegate-events-webhook"));
        let body = String::from_utf8(r.body.clone()).unwrap();
        for secret in [SECRET, TOKEN, "sqlite://", p.app.to_str().unwrap()] {
            assert!(!body.contains(secret), "{secret} in {body}");
        }
        let v = r.json().unwrap();
        assert_eq!(v["schema_version"], "synapsor.local-event-webhook.v1");
        assert_eq!(v["source"]["kind"], "local_store");
        assert_eq!(
            r.header("idempotency-key"),
            Some(format!("event-{}", v["event"]["event_id"]).as_str())
        );
        ids.push(v["event"]["event_id"].as_i64().unwrap());
    }
    assert_eq!(ids, p.event_ids(), "every event once, oldest first");
    let proposals = p.json(&["proposals", "list", "--json"]);
    for prop in proposals["proposals"].as_array().unwrap() {
        assert_eq!(
            prop["state"], "pending_review",
            "a webhook answer approved nothing"
        );
    }
    // Delivered: a second run sends nothing.
    let o = webhook(&p, &url, &[]);
    assert_eq!(stdout(&o), "No local events matched.\n", "{}", stderr(&o));
    assert_eq!(stub.count(), 4);
}

#[test]
fn a_restart_resumes_after_the_last_delivered_event_and_dry_runs_send_nothing() {
    let p = Project::new();
    let stub = HttpStub::start(|_, _| Reply::status(204));
    let url = stub.url("/h");
    let o = webhook(&p, &url, &["--dry-run", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["events"].as_array().unwrap().len(), 4);
    assert_eq!(stub.count(), 0, "a dry run sends nothing");

    for _ in 0..2 {
        let o = webhook(&p, &url, &["--limit", "2"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = p.run(&["proposals", "approve", &p.latest_id(), "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = webhook(&p, &url, &["--limit", "2", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["delivered"],
        1
    );
    let sent: Vec<i64> = stub
        .requests()
        .iter()
        .map(|r| r.json().unwrap()["event"]["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sent,
        p.event_ids(),
        "no event lost or repeated across three runs"
    );
    // --since-event-id replays from an earlier point without moving the cursor back.
    let o = webhook(&p, &url, &["--since-event-id", "3", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["delivered"],
        2
    );
    let o = webhook(&p, &url, &[]);
    assert_eq!(stdout(&o), "No local events matched.\n");
}

/// A raw TCP receiver: `garbage` answers bytes that are not HTTP, otherwise it closes the
/// connection as soon as the request has arrived. Counts connections.
fn raw_receiver(garbage: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/h", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 8192];
            let _ = conn.read(&mut buf);
            if garbage {
                let _ = conn.write_all(b"\x00\x01 this is not HTTP at all\r\n\r\n");
            }
        }
    });
    (url, count)
}

#[test]
fn failing_receivers_are_retried_then_dead_lettered_and_the_cursor_moves_on() {
    let p = Project::new();
    let fail = [
        "--max-attempts",
        "2",
        "--retry-backoff-ms",
        "10",
        "--timeout-ms",
        "250",
        "--cursor",
        "ops",
    ];

    let stub = HttpStub::start(|_, _| Reply::text(500, "text/plain", "database on fire"));
    let o = webhook(&p, &stub.url("/h"), &fail);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("webhook returned HTTP 500: database on fire"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("gave up after 2 attempts, dead letter 1 recorded"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stub.count(), 2, "one retry");

    let hang = HttpStub::start(|_, _| Reply::Hang);
    let o = webhook(&p, &hang.url("/h"), &fail);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("webhook did not answer within 250 ms"),
        "{}",
        stderr(&o)
    );

    let (url, garbage) = raw_receiver(true);
    let o = webhook(&p, &url, &fail);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("webhook request failed: no valid HTTP answer"),
        "{}",
        stderr(&o)
    );
    assert_eq!(garbage.load(Ordering::SeqCst), 2);

    let (url, closed) = raw_receiver(false);
    let o = webhook(&p, &url, &fail);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("webhook request failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(closed.load(Ordering::SeqCst), 2);

    let dead = p.dead_letters();
    assert_eq!(dead.len(), 4, "{dead:?}");
    let ids = p.event_ids();
    let mut dead_ids: Vec<i64> = dead
        .iter()
        .map(|d| d["event_id"].as_i64().unwrap())
        .collect();
    dead_ids.sort();
    assert_eq!(dead_ids, ids, "each failure gave up on the next event");
    assert!(
        dead.iter()
            .all(|d| d["attempts"] == 2 && d["webhook"] == "ops")
    );

    // Past every dead letter: a healthy receiver on the same cursor gets only what is new.
    let ok = HttpStub::start(|_, _| Reply::status(200));
    let o = webhook(&p, &ok.url("/h"), &["--cursor", "ops"]);
    assert_eq!(stdout(&o), "No local events matched.\n", "{}", stderr(&o));
    assert_eq!(ok.count(), 0);
}

#[test]
fn webhook_flags_are_checked_before_anything_is_sent() {
    let p = Project::new();
    let w = |args: &[&str]| {
        let mut all = vec!["events", "webhook"];
        all.extend(args);
        p.run(&all)
    };
    refused(
        &w(&[]),
        "events webhook requires --url <https://...> or --url-env <ENV>",
    );
    refused(
        &w(&["--url", "ftp://example.com/x"]),
        "events webhook URL must use http or https",
    );
    refused(
        &w(&["--url-env", "NO_SUCH_HOOK_URL"]),
        "--url-env NO_SUCH_HOOK_URL is not set",
    );
    let url = "http://127.0.0.1:9/h";
    refused(
        &w(&["--url", url, "--secret-env", "NO_SUCH_SECRET"]),
        "--secret-env NO_SUCH_SECRET is not set",
    );
    refused(
        &w(&["--url", url, "--auth-token-env", "NO_SUCH_TOKEN"]),
        "--auth-token-env NO_SUCH_TOKEN is not set",
    );
    refused(
        &w(&["--url", url, "--timeout-ms", "100"]),
        "--timeout-ms must be at least 250",
    );
    refused(
        &w(&["--url", url, "--interval-ms", "10"]),
        "--interval-ms must be at least 250",
    );
    refused(
        &w(&["--url", url, "--max-attempts", "0"]),
        "--max-attempts must be 1 to 20",
    );
    refused(
        &w(&["--url", url, "--since-event-id", "-1"]),
        "--since-event-id must be a non-negative integer",
    );
    refused(
        &w(&["--url", url, "--max-attempts", "21"]),
        "--max-attempts must be 1 to 20",
    );
    refused(
        &w(&["--url", url, "--retry-backoff-ms", "60001"]),
        "--retry-backoff-ms must be at most 60000",
    );
    refused(
        &w(&["--url", url, "--cursor", " "]),
        "--cursor needs a name",
    );
    refused(
        &w(&["--url", url, "--limit", "0"]),
        "--limit must be a positive integer",
    );
    refused(
        &w(&["--url", url, "--to", "tomorrow"]),
        "--to must be a date",
    );
    // `push` is the same command.
    refused(&p.run(&["events", "push"]), "events webhook requires --url");
}

/// docs/activity-and-events.md's "Try it" block runs as written, each command exiting 0.
#[test]
fn the_docs_commands_run_as_written() {
    let doc = std::fs::read_to_string(
        sluicegate_test_support::workspace_root().join("docs/activity-and-events.md"),
    )
    .unwrap();
    let block = doc
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let words = shell_words::split(line).unwrap();
        assert_eq!(words[0], "sluicegate", "{line}");
        let o = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .env_remove("SLUICEGATE_CONFIG")
            .env_remove("SLUICEGATE_STORE")
            .env("CI", "true")
            .current_dir(dir.path())
            .args(&words[1..])
            .output()
            .unwrap();
        assert!(o.status.success(), "{line}: {}{}", stdout(&o), stderr(&o));
        ran += 1;
    }
    assert_eq!(ran, 6);
}

/// An actor and a reason that would steer a terminal (ESC, CR, a bidi override) reach the
/// screen as visible escapes in every view these commands print.
#[test]
fn hostile_text_in_events_stays_inert_on_screen() {
    let p = Project::new();
    let id = p.latest_id();
    let o = p.run(&[
        "proposals",
        "approve",
        &id,
        "--yes",
        "--actor",
        "ann\x1b[2J",
        "--reason",
        "ok\r\u{202e}fee 0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for args in [
        vec!["events", "tail", "--details"],
        vec!["events", "tail", "--json"],
        vec!["activity", "search", "--details"],
        vec![
            "events",
            "webhook",
            "--url",
            "http://127.0.0.1:9/h",
            "--dry-run",
        ],
    ] {
        let o = p.run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let text = stdout(&o);
        for raw in ['\x1b', '\r', '\u{202e}'] {
            assert!(!text.contains(raw), "{args:?} printed {raw:?} raw: {text}");
        }
        if args[1] == "tail" {
            assert!(
                text.contains("2J"),
                "{args:?}: the text is kept, made visible: {text}"
            );
        }
    }
}

/// `--follow` delivers what is recorded, then what another process records while it runs,
/// and stops on SIGTERM with exit 0.
#[test]
fn webhook_follow_delivers_new_events_as_they_are_recorded() {
    let p = Project::new();
    let stub = HttpStub::start(|_, _| Reply::status(200));
    let mut follow = p
        .cmd(&[
            "events",
            "webhook",
            "--url",
            &stub.url("/h"),
            "--follow",
            "--interval-ms",
            "250",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(follow.stdout.take().unwrap());
    stub.wait_for(4, Duration::from_secs(20));
    let o = p.run(&[
        "proposals",
        "reject",
        "latest",
        "--yes",
        "--reason",
        "not now",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let requests = stub.wait_for(5, Duration::from_secs(20));
    assert_eq!(
        requests[4].json().unwrap()["event"]["kind"],
        "proposal_rejected"
    );
    let delivered = line_until(&out, Instant::now() + Duration::from_secs(10), |l| {
        l.contains("proposal_rejected")
    })
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&delivered).unwrap()["delivered"],
        true
    );
    signal(follow.id(), Signal::TERM);
    let status = wait_within(&mut follow, Duration::from_secs(10)).expect("did not stop");
    assert!(status.success(), "{status:?}");
    assert_eq!(stub.count(), 5, "nothing sent twice");
}

/// SIGTERM during a delivery that hangs ends the run at once (exit 1, one-shot) and leaves
/// the cursor where it was: the next run sends the same event.
#[test]
fn a_stop_during_a_hanging_delivery_keeps_the_cursor() {
    let p = Project::new();
    let hang = HttpStub::start(|_, _| Reply::Hang);
    let mut run = p
        .cmd(&[
            "events",
            "webhook",
            "--url",
            &hang.url("/h"),
            "--timeout-ms",
            "60000",
            "--cursor",
            "c",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    hang.wait_for(1, Duration::from_secs(20));
    signal(run.id(), Signal::TERM);
    let status = wait_within(&mut run, Duration::from_secs(10)).expect("did not stop");
    assert_eq!(status.code(), Some(1));
    let ok = HttpStub::start(|_, _| Reply::status(200));
    let o = webhook(&p, &ok.url("/h"), &["--cursor", "c", "--limit", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = p.event_ids()[0];
    assert_eq!(ok.last().json().unwrap()["event"]["event_id"], first);
}
