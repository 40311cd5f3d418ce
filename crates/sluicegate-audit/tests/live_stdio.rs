//! Live stdio audits against a tiny fake MCP server written here (Python, standard library only):
//! a working server with a real handshake and pagination, and servers that never answer, answer
//! garbage, die mid-handshake or flood their output. Each failure must be a clear error within the
//! time limit; an MCP client config with one working and one broken server reports both.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use sluicegate_audit::live::stdio::{StdioServer, list_tools};
use sluicegate_audit::{
    Format, LiveErrorKind, Options, ServerOutcome, Target, audit, audit_target,
};

const FAKE_SERVER: &str = r#"
import json, sys, time

mode = sys.argv[1]

def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

if mode == "silent":
    time.sleep(60)
    sys.exit(0)

initialized = False
for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if method is None:
        continue  # a response to our own request
    if mode == "garbage":
        sys.stdout.write("Server starting... not JSON at all\n")
        sys.stdout.flush()
        time.sleep(60)
    if mode == "flood":
        while True:
            sys.stdout.write("x" * 65536)
    if method == "initialize":
        assert message["params"]["protocolVersion"] == "2025-11-25", message
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hello"}})
        send({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list"})
        send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "1"}}})
    elif method == "notifications/initialized":
        initialized = True
    elif method == "tools/list":
        if mode == "die":
            sys.stderr.write("fatal: lost the database connection\n")
            sys.stderr.flush()
            sys.stdout.write('{"jsonrpc": "2.0", "id": ')
            sys.stdout.flush()
            sys.exit(3)
        if not initialized:
            send({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32600, "message": "not initialized"}})
            continue
        cursor = message.get("params", {}).get("cursor")
        if cursor is None:
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": [
                {"name": "execute_sql", "description": "Run SQL", "inputSchema": {"type": "object",
                    "properties": {"sql": {"type": "string"}, "tenant_id": {"type": "string"}}}}],
                "nextCursor": "page-2"}})
        else:
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": [
                {"name": "approve_proposal", "description": "Approve proposal", "inputSchema": {"type": "object",
                    "properties": {"proposal_id": {"type": "string"}}}}]}})
"#;

/// Limit for servers expected to fail; generous enough that a slow interpreter start on a loaded
/// machine is not mistaken for a hang.
const TIMEOUT: Duration = Duration::from_millis(3000);
/// Limit for servers expected to succeed (a success never waits for it).
const OK_TIMEOUT: Duration = Duration::from_secs(15);

struct Fake {
    _dir: tempfile::TempDir,
    script: PathBuf,
}

fn fake() -> Fake {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("fake_mcp_server.py");
    std::fs::write(&script, FAKE_SERVER).expect("write fake server");
    Fake { _dir: dir, script }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn server(fake: &Fake, mode: &str) -> StdioServer {
    StdioServer {
        program: python(),
        args: vec![
            "-u".into(),
            fake.script.to_string_lossy().into_owned(),
            mode.into(),
        ],
        env: Vec::new(),
        cwd: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs one failing server and checks the error arrives in time.
fn failure(mode: &str) -> (sluicegate_audit::LiveError, Duration) {
    let fake = fake();
    let started = Instant::now();
    let err = runtime()
        .block_on(list_tools(&server(&fake, mode), TIMEOUT))
        .expect_err("the server must fail");
    let elapsed = started.elapsed();
    assert!(
        elapsed < TIMEOUT + Duration::from_secs(2),
        "{mode}: took {elapsed:?}"
    );
    (err, elapsed)
}

#[test]
fn working_server_is_audited_through_a_real_handshake() {
    let fake = fake();
    let listed = runtime()
        .block_on(list_tools(&server(&fake, "ok"), OK_TIMEOUT))
        .expect("handshake");
    // Both pages, merged into one response-shaped document.
    let names: Vec<_> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("execute_sql"), json!("approve_proposal")]);
    let result = audit(&listed);
    assert_eq!(result.tools_inspected, 2);
    let codes: Vec<_> = result
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.evidence[0].as_str()))
        .collect();
    assert!(codes.contains(&("GENERIC_SQL_TOOL", "path $.result.tools[0]")));
    assert!(codes.contains(&("MODEL_CONTROLLED_TRUST_SCOPE", "path $.result.tools[0]")));
    assert!(codes.contains(&(
        "MODEL_CALLABLE_COMMIT_OR_APPROVAL",
        "path $.result.tools[1]"
    )));
}

#[test]
fn stdio_target_label_and_report() {
    let fake = fake();
    let command = format!("{} -u '{}' ok", python(), fake.script.display());
    let report = runtime()
        .block_on(audit_target(
            &Target::Stdio(command.clone()),
            Options {
                timeout: OK_TIMEOUT,
                ..Options::default()
            },
            "t",
        ))
        .expect("report");
    assert_eq!(report.target, format!("stdio:{command}"));
    assert_eq!(report.summary.tools_inspected, 2);
    assert!(report.render(Format::Text).contains("Target: stdio:"));
}

#[test]
fn server_that_never_answers_times_out() {
    let (err, elapsed) = failure("silent");
    assert!(elapsed >= TIMEOUT, "{elapsed:?}");
    assert_eq!(
        err.kind,
        LiveErrorKind::Timeout {
            stage: "initialize",
            ms: 3000
        }
    );
    assert!(
        err.to_string()
            .contains("no answer to initialize within 3000 ms")
    );
}

#[test]
fn server_that_answers_garbage_fails_fast() {
    let (err, elapsed) = failure("garbage");
    assert!(elapsed < TIMEOUT, "garbage is detected before the timeout");
    match &err.kind {
        LiveErrorKind::Garbage { stage, snippet } => {
            assert_eq!(*stage, "initialize");
            assert!(snippet.contains("Server starting"), "{snippet}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("not JSON-RPC"));
}

#[test]
fn server_that_dies_mid_handshake_reports_exit_and_stderr() {
    let (err, elapsed) = failure("die");
    assert!(elapsed < TIMEOUT);
    match &err.kind {
        LiveErrorKind::Closed { stage, status } => {
            assert_eq!(*stage, "tools/list");
            assert!(
                status.as_deref().is_some_and(|s| s.contains('3')),
                "{status:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("server stderr: fatal: lost the database connection"),
        "{err}"
    );
}

#[test]
fn server_that_floods_output_is_cut_off() {
    let (err, _) = failure("flood");
    assert!(
        matches!(
            err.kind,
            LiveErrorKind::TooLarge { .. } | LiveErrorKind::Timeout { .. }
        ),
        "{err}"
    );
}

#[test]
fn missing_program_is_a_spawn_error() {
    let started = Instant::now();
    let missing = StdioServer {
        program: "/nonexistent/mcp-server".into(),
        args: Vec::new(),
        env: Vec::new(),
        cwd: None,
    };
    let err = runtime()
        .block_on(list_tools(&missing, TIMEOUT))
        .unwrap_err();
    assert!(started.elapsed() < TIMEOUT);
    assert!(
        err.to_string()
            .starts_with("could not start `/nonexistent/mcp-server`"),
        "{err}"
    );
}

#[test]
fn mcp_config_reports_working_and_broken_servers() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let script = fake.script.to_string_lossy().into_owned();
    let config = json!({"mcpServers": {
        "good": {"command": python(), "args": ["-u", script, "ok"], "env": {"FAKE_MCP": "1"}},
        "dies": {"command": python(), "args": ["-u", script, "die"]},
        "missing": {"command": "/nonexistent/mcp-server"},
        "off": {"command": "whatever", "disabled": true}
    }});
    let path = dir.path().join("claude_desktop_config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let path = path.to_string_lossy().into_owned();

    let started = Instant::now();
    let report = runtime()
        .block_on(audit_target(
            &Target::McpConfig {
                path: path.clone(),
                launch: true,
            },
            Options {
                timeout: TIMEOUT,
                ..Options::default()
            },
            "t",
        ))
        .expect("report");
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(2));
    assert_eq!(report.target, path);
    let outcomes: Vec<_> = report
        .servers
        .iter()
        .map(|s| (s.name.as_str(), &s.outcome))
        .collect();
    assert_eq!(
        outcomes[0],
        ("good", &ServerOutcome::Audited { tools_inspected: 2 })
    );
    assert!(
        matches!(outcomes[1], ("dies", ServerOutcome::Failed { error }) if error.contains("exited before answering tools/list"))
    );
    assert!(
        matches!(outcomes[2], ("missing", ServerOutcome::Failed { error }) if error.contains("could not start"))
    );
    assert_eq!(outcomes[3], ("off", &ServerOutcome::Skipped));
    assert_eq!(report.summary.tools_inspected, 2);
    let not_audited: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code.as_str() == "SERVER_NOT_AUDITED")
        .map(|f| f.server.as_deref().unwrap())
        .collect();
    assert_eq!(not_audited, ["dies", "missing"]);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code.as_str() == "GENERIC_SQL_TOOL" && f.server.as_deref() == Some("good"))
    );
    assert!(!report.audited_no_server());

    // --no-launch: the reference's static walk, which finds no tools in a client config.
    let report = runtime()
        .block_on(audit_target(
            &Target::McpConfig {
                path,
                launch: false,
            },
            Options::default(),
            "t",
        ))
        .expect("report");
    assert!(report.servers.is_empty());
    assert_eq!(report.summary.tools_inspected, 0);
    assert_eq!(report.findings[0].code.as_str(), "NO_TOOLS_FOUND");
}

#[test]
fn server_env_from_the_client_config_reaches_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("env_server.py");
    std::fs::write(
        &script,
        r#"
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("method") == "initialize":
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "env", "version": "1"}}}), flush=True)
    elif m.get("method") == "tools/list":
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"tools": [{"name": os.environ["TOOL_NAME"] + "|" + os.environ.get("HOME", "")[:1]}]}}), flush=True)
"#,
    )
    .unwrap();
    let server = StdioServer {
        program: python(),
        args: vec![script.to_string_lossy().into_owned()],
        env: vec![("TOOL_NAME".into(), "from_env".into())],
        cwd: None,
    };
    let listed = runtime().block_on(list_tools(&server, OK_TIMEOUT)).unwrap();
    let name = listed["result"]["tools"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    // The configured variable is set, and the inherited environment is still there.
    assert!(name.starts_with("from_env|"), "{name}");
    assert_eq!(
        name.len(),
        "from_env|".len() + usize::from(std::env::var("HOME").is_ok_and(|h| !h.is_empty()))
    );
}
