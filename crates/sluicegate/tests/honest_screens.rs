//! The model cannot rewrite the reviewer's screen: terminal control sequences sent through a
//! proposal's argument and stored in a source row's visible column reach every human view of
//! the built binary as visible escapes, never as raw control characters. And a reader that
//! leaves early (`| head -1`) stops the printing, not the command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use sluicegate_test_support::{markdown_as_rendered, shown_proposal_id};

/// The reason a model proposes: a carriage return and cursor moves that redraw the diff line
/// above as `5500 -> 5500`, a newline that forges a line of its own, an OSC-8 hyperlink, a bidi
/// override, C1 CSI, BEL and DEL.
const REASON: &str = "courtesy\r\u{1b}[1A\u{1b}[2K  late_fee_cents: 5500 -> 5500\n  late_fee_cents: 5500 -> 5500 \u{1b}]8;;https://evil.example\u{1b}\\details\u{1b}]8;;\u{1b}\\ \u{202e}0055\u{202c}\u{9b}31m\u{7}\u{7f}";

/// What the source row holds in visible columns (`status`, and `waiver_reason`, the diff's
/// "before").
const ROW_STATUS: &str = "overdue\r\u{1b}[2K\u{1b}[32mpaid\u{1b}[0m\u{2066}\u{9b}2J\u{7}";
const ROW_REASON: &str =
    "\u{1b}]8;;https://evil.example\u{1b}\\none\u{1b}]8;;\u{1b}\\\n  waiver_reason: null";

/// The line both hostile texts try to forge.
const FORGED_LINE: &str = "\n  late_fee_cents: 5500 -> 5500";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
    c.env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .env("CI", "true");
    c
}

/// A project directory with the sample app (its INV-3001 made hostile when asked), a review
/// config pointing at it, and env for the calls.
struct Project {
    dir: tempfile::TempDir,
    app: PathBuf,
}

impl Project {
    fn new(hostile_row: bool) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app.db");
        sluicegate_source::sample_app::create(&app).unwrap();
        if hostile_row {
            rusqlite::Connection::open(&app)
                .unwrap()
                .execute(
                    "UPDATE invoices SET status = ?1, waiver_reason = ?2 WHERE id = 'INV-3001'",
                    [ROW_STATUS, ROW_REASON],
                )
                .unwrap();
        }
        let config = json!({
            "version": 1, "mode": "review", "result_format": 2,
            "storage": {"sqlite_path": "./ledger/local.db"},
            "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
            "capabilities": [
                {"name": "billing.inspect_invoice", "kind": "read", "source": "app",
                 "target": {"table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                 "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
                 "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason"]},
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

    /// Run a command that must succeed; its stdout and stderr, checked for raw controls.
    fn view(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert!(
            o.status.success(),
            "`{}` failed:\n{out}\n{err}",
            args.join(" ")
        );
        assert_inert(&args.join(" "), &out);
        assert_inert(&format!("{} (stderr)", args.join(" ")), &err);
        out
    }

    fn propose(&self, reason: &str) -> Output {
        let args = json!({"invoice_id": "INV-3001", "reason": reason}).to_string();
        self.run(&[
            "propose",
            "billing.propose_late_fee_waiver",
            "--args",
            &args,
        ])
    }

    fn late_fee(&self) -> i64 {
        sluicegate_source::sample_app::row(&self.app, "INV-3001").unwrap()["late_fee_cents"]
            .as_i64()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// Characters that steer a terminal instead of being read, spelled out here (not taken from
/// the code under test): C0 but the views' own line breaks, DEL, C1, bidi controls, and the
/// line and paragraph separators.
fn is_raw_control(c: char) -> bool {
    let n = c as u32;
    (n < 0x20 && c != '\n')
        || (0x7f..=0x9f).contains(&n)
        || matches!(n, 0x061c | 0x200e | 0x200f | 0x2028 | 0x2029)
        || (0x202a..=0x202e).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

fn assert_inert(what: &str, shown: &str) {
    let raw: Vec<char> = shown.chars().filter(|c| is_raw_control(*c)).collect();
    assert!(raw.is_empty(), "`{what}` printed raw {raw:?}:\n{shown}");
    assert!(
        !shown.contains(FORGED_LINE),
        "`{what}` printed a forged line:\n{shown}"
    );
}

#[test]
fn hostile_arguments_and_rows_reach_every_view_inert() {
    let p = Project::new(true);
    // A read of the hostile row records it as evidence; a refused call echoes its input.
    let out = p.view(&[
        "smoke",
        "call",
        "billing.inspect_invoice",
        "--args",
        r#"{"invoice_id":"INV-3001"}"#,
    ]);
    assert!(out.starts_with("Sluicegate smoke call: ok"), "{out}");
    let hostile_id = json!({"invoice_id": format!("INV-3001{REASON}")}).to_string();
    let o = p.run(&[
        "smoke",
        "call",
        "billing.inspect_invoice",
        "--args",
        &hostile_id,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_inert("smoke call (refused)", &text(&o.stdout));
    assert!(
        text(&o.stdout).contains(r"\u202e0055"),
        "{}",
        text(&o.stdout)
    );

    let o = p.propose(REASON);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_inert("propose", &text(&o.stdout));
    assert!(text(&o.stdout).contains("Proposal created."));

    // The true change is on screen, the hostile reason is visible as escapes.
    let escaped_reason = r#""courtesy\r\x1b[1A\x1b[2K  late_fee_cents: 5500 -> 5500\n  late_fee_cents: 5500 -> 5500 \x1b]8;;https://evil.example\x1b\\details\x1b]8;;\x1b\\ \u{202e}0055\u{202c}\u{9b}31m\x07\x7f""#;
    let escaped_before =
        r#""\x1b]8;;https://evil.example\x1b\\none\x1b]8;;\x1b\\\n  waiver_reason: null""#;
    let diff =
        format!("late_fee_cents: 5500 -> 0\nwaiver_reason: {escaped_before} -> {escaped_reason}");
    p.view(&["proposals", "list"]);
    let show = p.view(&["proposals", "show", "latest"]);
    assert!(show.contains(&diff), "{show}");
    let details = p.view(&["proposals", "show", "latest", "--details"]);
    assert!(
        details.contains("  late_fee_cents: 5500 -> 0\n"),
        "{details}"
    );
    assert!(details.contains(escaped_reason), "{details}");
    // The approval prompt shows the proposal before the decision is recorded.
    let prompt = p.view(&[
        "proposals",
        "approve",
        &p.latest_id(),
        "--yes",
        "--actor",
        "ana",
    ]);
    assert!(prompt.contains(escaped_reason), "{prompt}");
    assert!(prompt.contains("content hash: sha256:"), "{prompt}");

    let applied = p.view(&["apply", "latest"]);
    assert!(
        applied.starts_with("Guarded writeback applied."),
        "{applied}"
    );
    assert_eq!(p.late_fee(), 0);

    let story = p.view(&["replay", "show", "latest"]);
    assert!(story.contains(&diff), "{story}");
    let details = p.view(&["replay", "show", "latest", "--details"]);
    assert!(details.contains(escaped_reason), "{details}");
    p.view(&[
        "replay",
        "export",
        "latest",
        "--output",
        "out/replay.md",
        "--format",
        "markdown",
    ]);
    let md = std::fs::read_to_string(p.dir.path().join("out/replay.md")).unwrap();
    assert_inert("replay export --format markdown", &md);
    // Rendered, the diff line reads as the terminal shows it; raw, no link, image, tag or
    // emphasis is left for a Markdown viewer to act on.
    let line = md
        .lines()
        .find(|l| l.starts_with("- waiver_reason: "))
        .unwrap_or_else(|| panic!("no diff line in {md}"));
    assert_eq!(
        markdown_as_rendered(line),
        format!("- waiver_reason: {escaped_before} -> {escaped_reason}"),
        "{md}"
    );
    assert!(line.contains(r"\\x1b\]8;;https://evil.example"), "{line}");

    let list = p.view(&["evidence", "list"]);
    assert!(list.contains("ev_"), "{list}");
    let o = p.run(&["evidence", "list", "--json"]);
    let evidence = serde_json::from_slice::<Value>(&o.stdout).unwrap()["evidence"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(evidence.len(), 2, "the read's bundle and the proposal's");
    for b in &evidence {
        let id = b["evidence_bundle_id"].as_str().unwrap();
        let shown = p.view(&["evidence", "show", id]);
        assert!(
            shown
                .contains(r#"  status: "overdue\r\x1b[2K\x1b[32mpaid\x1b[0m\u{2066}\u{9b}2J\x07""#),
            "{shown}"
        );
        p.view(&[
            "evidence",
            "export",
            id,
            "--output",
            "out/ev.md",
            "--format",
            "markdown",
        ]);
        let md = std::fs::read_to_string(p.dir.path().join("out/ev.md")).unwrap();
        assert_inert("evidence export --format markdown", &md);
    }
    p.view(&["receipts", "list"]);
    let receipt = p.view(&["receipts", "show", "1"]);
    assert!(receipt.contains("Status: applied"), "{receipt}");
    p.view(&["query-audit", "list", "--details"]);
}

/// JSON output is for programs: it stays valid JSON carrying the exact value, with what JSON
/// leaves raw (C1, DEL, bidi) escaped as `\uXXXX`, so even a person `cat`ing it sees escapes.
#[test]
fn json_output_is_exact_and_inert() {
    let p = Project::new(true);
    assert!(p.propose(REASON).status.success());
    for args in [
        &["proposals", "show", "latest", "--json"][..],
        &["proposals", "list", "--json"],
        &["replay", "show", "latest", "--json"],
    ] {
        let o = p.run(args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        assert_inert(&args.join(" "), &out);
        assert!(
            out.contains(r"\u202e0055\u202c\u009b31m\u0007\u007f"),
            "{out}"
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(holds(&v, REASON), "the exact reason is in: {out}");
    }
}

/// Whether `v` holds the string `s` anywhere.
fn holds(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(items) => items.iter().any(|i| holds(i, s)),
        Value::Object(map) => map.values().any(|i| holds(i, s)),
        _ => false,
    }
}

/// `sluicegate apply latest | head -1` when head has already gone: stdout's reader is closed
/// before the binary prints (the pipe's read end is dropped before it starts).
fn with_closed_stdout(p: &Project, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    p.cmd(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_reader_that_leaves_stops_the_printing_not_the_command() {
    let p = Project::new(false);
    assert!(
        p.propose("customer paid within the grace period")
            .status
            .success()
    );
    let id = p.latest_id();
    let approve = p.run(&["proposals", "approve", &id, "--yes"]);
    assert!(approve.status.success(), "{}", text(&approve.stderr));

    let o = with_closed_stdout(&p, &["apply", "latest"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "as without the pipe: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(p.late_fee(), 0, "the write was made");
    let o = p.run(&["receipts", "list", "--json"]);
    let receipts: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(receipts["receipts"][0]["status"], json!("applied"));

    // A failing answer keeps its status too: the retry is already applied (0), a refusal 1.
    for (args, code) in [
        (&["apply", "latest"][..], 0),
        (&["proposals", "list"], 0),
        (&["proposals", "show", "latest", "--json"], 0),
        (&["proposals", "approve", &id, "--yes"], 1),
    ] {
        let o = with_closed_stdout(&p, args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{}: {err}", args.join(" "));
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Output lost to anything but a reader that left (here a full disk) is an error: the command
/// must not look as if its answer arrived.
#[test]
fn output_lost_to_a_full_disk_is_an_error() {
    let p = Project::new(false);
    assert!(p.propose("grace period").status.success());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open(Path::new("/dev/full"))
        .unwrap();
    let o = p
        .cmd(&["proposals", "list"])
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write output"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
