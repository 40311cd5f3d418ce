//! Shared fixtures of the MCP end-to-end tests: a SQLite sample app with two tenants and a
//! config over it, the built binary as stdio or HTTP server, small raw MCP clients, and the
//! pinned Python clients (installed by `scripts/lib/test-deps.sh`, found through
//! `SLUICEGATE_TEST_PYTHON`).

// Children are reaped in `ServerProc::drop` and `StdioClient::finish`, which clippy cannot see.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::zombie_processes
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sluicegate_test_support::process::{self, Signal};
use sluicegate_test_support::skip_or_fail;

pub const TOKEN: &str = "test-token-5f1c2a9e77d04b1b";
pub const READ: &str = "billing.inspect_invoice";
pub const PROPOSE: &str = "billing.propose_late_fee_waiver";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
    c.env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .env_remove("SLUICEGATE_LOG")
        .env_remove("SLUICEGATE_HTTP_TOKEN");
    c
}

/// A temp dir holding the sample app (tenants acme and otherco), a config and a ledger path.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub app_db: PathBuf,
    pub config: PathBuf,
    pub store: PathBuf,
}

pub fn config_json(result_format: u8) -> Value {
    json!({
        "version": 1,
        "mode": "review",
        "result_format": result_format,
        "sources": {
            "billing_app": {"engine": "sqlite", "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}
        },
        "trusted_context": {
            "provider": "environment",
            "values": {"tenant_id_env": "APP_TENANT_ID", "principal_env": "APP_PRINCIPAL"}
        },
        "capabilities": [
            {
                "name": READ,
                "kind": "read",
                "source": "billing_app",
                "description": "Inspect one invoice of the current tenant before proposing a waiver.",
                "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"invoice_id": {"type": "string", "required": true, "max_length": 64}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "customer_name", "status", "amount_cents", "late_fee_cents", "waiver_reason", "updated_at"]
            },
            {
                "name": PROPOSE,
                "kind": "proposal",
                "source": "billing_app",
                "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {
                    "invoice_id": {"type": "string", "required": true, "max_length": 64},
                    "reason": {"type": "string", "required": true, "max_length": 300}
                },
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "status", "late_fee_cents", "waiver_reason", "updated_at"],
                "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
                "allowed_columns": ["late_fee_cents", "waiver_reason"],
                "conflict_guard": {"column": "updated_at"}
            }
        ]
    })
}

pub const INSPECT: &str = "stock.inspect_item";
pub const RESTOCK: &str = "stock.propose_restock";

/// A stock app whose key is an INTEGER column (as most public sample schemas have), two
/// tenants.
const ITEMS_APP: &str = "
CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  qty INTEGER NOT NULL,
  note TEXT,
  updated_at TEXT NOT NULL
);
INSERT INTO items VALUES
  (1, 'acme', 'bolts', 40, NULL, '2026-06-20T14:31:08.000Z'),
  (2, 'acme', 'nuts', 12, NULL, '2026-06-20T14:31:08.000Z'),
  (3, 'otherco', 'gears', 7, 'do not show', '2026-06-20T14:31:08.000Z');
";

/// Config over [`ITEMS_APP`]: a read and a bounded proposal, keys declared `string` the way
/// generated configs declare them.
pub fn items_config(format: u8) -> Value {
    json!({
        "version": 1,
        "mode": "review",
        "result_format": format,
        "sources": {"stock": {"engine": "sqlite", "read_url_env": "APP_READ_URL"}},
        "trusted_context": {
            "provider": "environment",
            "values": {"tenant_id_env": "APP_TENANT_ID", "principal_env": "APP_PRINCIPAL"}
        },
        "capabilities": [
            {
                "name": INSPECT, "kind": "read", "source": "stock",
                "target": {"schema": "main", "table": "items", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {"item_id": {"type": "string", "max_length": 64}},
                "lookup": {"id_from_arg": "item_id"},
                "visible_columns": ["id", "name", "qty"]
            },
            {
                "name": RESTOCK, "kind": "proposal", "source": "stock",
                "target": {"schema": "main", "table": "items", "primary_key": "id", "tenant_key": "tenant_id"},
                "args": {
                    "item_id": {"type": "string", "max_length": 64},
                    "amount": {"type": "number", "minimum": 1, "maximum": 500},
                    "reason": {"type": "string", "max_length": 200}
                },
                "lookup": {"id_from_arg": "item_id"},
                "visible_columns": ["id", "qty", "note", "updated_at"],
                "patch": {"qty": {"from_arg": "amount"}, "note": {"from_arg": "reason"}},
                "allowed_columns": ["qty", "note"],
                "conflict_guard": {"column": "updated_at"}
            }
        ]
    })
}

impl Fixture {
    /// Point the fixture's config at a shared PostgreSQL ledger whose URL the commands of
    /// [`Fixture::on_ledger`] find in `SG_LEDGER_URL`.
    pub fn use_postgres_ledger(&self) {
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&self.config).unwrap()).unwrap();
        config["storage"] = json!({"engine": "postgres", "url_env": "SG_LEDGER_URL"});
        std::fs::write(&self.config, config.to_string()).unwrap();
    }

    /// The fixture's binary running `args --config <config>` on the PostgreSQL ledger at `url`.
    pub fn on_ledger(&self, url: &str, args: &[&str]) -> Command {
        let mut c = self.cmd();
        c.args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("SLUICEGATE_STORE")
            .env("SG_LEDGER_URL", url);
        c
    }

    /// The stock app of [`ITEMS_APP`] with [`items_config`].
    pub fn items(result_format: u8) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let app_db = dir.path().join("app.db");
        rusqlite::Connection::open(&app_db)
            .unwrap()
            .execute_batch(ITEMS_APP)
            .unwrap();
        let config = dir.path().join("sluicegate.json");
        std::fs::write(&config, items_config(result_format).to_string()).unwrap();
        let store = dir.path().join("ledger/local.db");
        Fixture {
            dir,
            app_db,
            config,
            store,
        }
    }

    pub fn new(result_format: u8) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let app_db = dir.path().join("app.db");
        sluicegate_source::sample_app::create(&app_db).unwrap();
        let config = dir.path().join("sluicegate.json");
        std::fs::write(
            &config,
            serde_json::to_string_pretty(&config_json(result_format)).unwrap(),
        )
        .unwrap();
        let store = dir.path().join("ledger/local.db");
        Fixture {
            dir,
            app_db,
            config,
            store,
        }
    }

    pub fn envs(&self) -> Vec<(String, String)> {
        let url = format!("sqlite://{}", self.app_db.display());
        vec![
            ("APP_READ_URL".into(), url.clone()),
            ("APP_WRITE_URL".into(), url),
            ("APP_TENANT_ID".into(), "acme".into()),
            ("APP_PRINCIPAL".into(), "support_agent_17".into()),
            ("SLUICEGATE_HTTP_TOKEN".into(), TOKEN.into()),
        ]
    }

    /// The binary with this fixture's env, run from its directory.
    pub fn cmd(&self) -> Command {
        let mut c = bin();
        c.current_dir(self.dir.path()).envs(self.envs());
        c
    }

    /// `--config C --store S`.
    pub fn paths(&self) -> Vec<String> {
        vec![
            "--config".into(),
            self.config.display().to_string(),
            "--store".into(),
            self.store.display().to_string(),
        ]
    }

    /// Every row of the sample app, for before/after comparisons.
    pub fn snapshot(&self) -> Vec<(String, Map<String, Value>)> {
        sluicegate_source::sample_app::snapshot(&self.app_db).unwrap()
    }

    /// Start an HTTP server (`serve-streamable-http` or `serve-http`) on a free port.
    pub fn spawn_http(&self, sub: &str, extra: &[&str]) -> ServerProc {
        let mut c = self.cmd();
        c.args(["mcp", sub])
            .args(self.paths())
            .args(["--port", "0"])
            .args(extra);
        ServerProc::start(c)
    }
}

/// A running HTTP server; SIGTERM on drop.
pub struct ServerProc {
    pub child: Child,
    pub url: String,
    /// stderr up to the "Press Ctrl+C" line.
    pub stderr: String,
    /// Everything written to stderr so far, startup included (log lines of calls).
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn sigterm(pid: u32) {
    process::signal(pid, Signal::TERM);
}

impl ServerProc {
    pub fn start(mut cmd: Command) -> ServerProc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stderr.take().unwrap());
        let mut stderr = String::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
                let status = child.wait().unwrap();
                panic!("server did not start ({status}):\n{stderr}");
            }
            stderr.push_str(&line);
            if line.starts_with("Press Ctrl+C to stop.") {
                let url = stderr
                    .split("listening on ")
                    .nth(1)
                    .and_then(|rest| rest.lines().next())
                    .unwrap()
                    .trim()
                    .to_string();
                // Keep draining stderr so the server never blocks on a full pipe.
                let log = std::sync::Arc::new(std::sync::Mutex::new(stderr.clone()));
                let sink = log.clone();
                std::thread::spawn(move || {
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        sink.lock().unwrap().push_str(&line);
                        line.clear();
                    }
                });
                return ServerProc {
                    child,
                    url,
                    stderr,
                    log,
                };
            }
        }
    }

    pub fn base(&self) -> String {
        self.url.trim_end_matches("/mcp").to_string()
    }

    pub fn port(&self) -> u16 {
        self.base().rsplit(':').next().unwrap().parse().unwrap()
    }

    /// SIGTERM and wait for the exit; returns whether it exited successfully (a server still
    /// running after 10 s is killed and counts as a failure).
    pub fn stop(&mut self) -> bool {
        sigterm(self.child.id());
        process::wait_within(&mut self.child, Duration::from_secs(10))
            .is_some_and(|status| status.success())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// A raw newline-delimited JSON-RPC client over a `mcp serve` child.
pub struct StdioClient {
    pub child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
}

impl StdioClient {
    pub fn start(cmd: Command) -> StdioClient {
        StdioClient::start_with_stderr(cmd, Stdio::null())
    }

    /// [`StdioClient::start`] with the server's stderr going to `stderr` (a log file).
    pub fn start_with_stderr(mut cmd: Command, stderr: Stdio) -> StdioClient {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut c = StdioClient {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        let init = c.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "sluicegate-tests", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "sluicegate", "{init}");
        c.notify("notifications/initialized");
        c
    }

    pub fn notify(&mut self, method: &str) {
        writeln!(
            self.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": method})
        )
        .unwrap();
    }

    /// Send one request and return the whole response message.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        loop {
            let msg = self.next_message();
            if msg["id"] == json!(id) {
                return msg;
            }
        }
    }

    /// Send one request without waiting for its answer; returns its id.
    pub fn send(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        writeln!(
            self.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        )
        .unwrap();
        self.stdin.flush().unwrap();
        id
    }

    /// The next message the server writes, whatever it answers.
    pub fn next_message(&mut self) -> Value {
        let mut line = String::new();
        assert!(
            self.stdout.read_line(&mut line).unwrap() > 0,
            "server closed stdout"
        );
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout is not JSON-RPC ({e}): {line}"))
    }

    pub fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
    }

    /// Close stdin and wait for the server to exit.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin);
        self.child.wait().unwrap()
    }
}

/// A raw Streamable HTTP client (handshake-era session).
pub struct HttpMcp {
    pub http: reqwest::Client,
    pub url: String,
    pub session: Option<String>,
    pub version: String,
    next_id: i64,
}

/// The JSON-RPC message in a response body that is either JSON or an SSE stream.
pub fn parse_body(content_type: &str, body: &str) -> Value {
    if content_type.starts_with("text/event-stream") {
        for line in body.lines() {
            if let Some(data) = line.strip_prefix("data:") {
                let data = data.trim();
                if let Ok(v) = serde_json::from_str::<Value>(data)
                    && (v.get("result").is_some() || v.get("error").is_some())
                {
                    return v;
                }
            }
        }
        panic!("no JSON-RPC response in SSE body: {body}");
    }
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

impl HttpMcp {
    pub async fn connect(url: &str) -> HttpMcp {
        Self::connect_version(url, "2025-11-25").await
    }

    /// Handshake with `version`; the server must agree to it and open a session.
    pub async fn connect_version(url: &str, version: &str) -> HttpMcp {
        let mut c = HttpMcp {
            http: reqwest::Client::new(),
            url: url.into(),
            session: None,
            version: version.into(),
            next_id: 1,
        };
        let init = c
            .request(
                "initialize",
                json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "sluicegate-tests", "version": "1"}}),
            )
            .await;
        assert_eq!(init["result"]["serverInfo"]["name"], "sluicegate", "{init}");
        assert_eq!(init["result"]["protocolVersion"], version, "{init}");
        assert!(c.session.is_some(), "handshake-era versions get a session");
        let r = c
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(r.status(), 202);
        c
    }

    pub async fn post(&self, body: Value) -> reqwest::Response {
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(s) = &self.session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", &self.version);
        }
        req.send().await.unwrap()
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let r = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert!(r.status().is_success(), "{method}: HTTP {}", r.status());
        if let Some(s) = r.headers().get("mcp-session-id") {
            self.session = Some(s.to_str().unwrap().to_string());
        }
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        parse_body(&ct, &r.text().await.unwrap())
    }

    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }
}

/// POST one JSON-RPC message to the bridge.
pub async fn bridge(url: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(TOKEN)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    assert!(
        text.ends_with("}\n"),
        "bridge output is pretty JSON plus a newline: {text:?}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Replace the values that differ between otherwise identical calls (ledger ids and hashes).
pub fn normalize(v: &Value) -> Value {
    const VOLATILE: [&str; 8] = [
        "evidence_bundle_id",
        "evidence_resource",
        "bundle_id",
        "proposal_id",
        "proposal_resource",
        "replay_resource",
        "proposal_hash",
        "correlation_id",
    ];
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if VOLATILE.contains(&k.as_str()) {
                        json!("<volatile>")
                    } else {
                        normalize(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// The pinned Python clients
// ---------------------------------------------------------------------------------------------

/// The client versions these tests were written against; `scripts/lib/test-deps.sh` installs
/// exactly these, and [`python`] checks that is what it was given.
pub const PINS: [(&str, &str); 2] = [("mcp", "2.3.0"), ("openai-agents", "0.24.0")];
/// The python already checked against [`PINS`] by an earlier test in this binary.
static CHECKED: OnceLock<PathBuf> = OnceLock::new();
/// How to get the clients, for every message that finds them missing.
const INSTALL: &str = "`eval \"$(bash scripts/lib/test-deps.sh target/test-deps)\"` installs them and sets it; scripts/test.sh does both";

/// The venv python holding the pinned clients, from `SLUICEGATE_TEST_PYTHON` (set by
/// `scripts/test.sh`). Unset goes through [`skip_or_fail`] in every test that asks; set to
/// anything but a python with exactly the pinned versions fails. Tests never install packages.
pub fn python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("SLUICEGATE_TEST_PYTHON").filter(|p| !p.is_empty()) else {
        return skip_or_fail(format!(
            "SLUICEGATE_TEST_PYTHON is not set, so the pinned Python MCP clients cannot run; {INSTALL}"
        ));
    };
    Some(
        CHECKED
            .get_or_init(|| check_pins(PathBuf::from(python)))
            .clone(),
    )
}

/// `python`, after checking it has exactly the [`PINS`] installed.
fn check_pins(python: PathBuf) -> PathBuf {
    let names: Vec<&str> = PINS.iter().map(|(name, _)| *name).collect();
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys, importlib.metadata as m; print(' '.join(m.version(n) for n in sys.argv[1:]))",
        ])
        .args(&names)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "SLUICEGATE_TEST_PYTHON={} cannot run ({e}); {INSTALL}",
                python.display()
            )
        });
    let want: Vec<&str> = PINS.iter().map(|(_, version)| *version).collect();
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && got.split_whitespace().eq(want.iter().copied()),
        "SLUICEGATE_TEST_PYTHON={} should have {PINS:?}, has {got:?} ({}); {INSTALL}",
        python.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    python
}

pub fn client_script(name: &str) -> PathBuf {
    workspace_root()
        .join("crates/sluicegate-mcp/tests/clients")
        .join(name)
}

/// Run a client script with the fixture's env and parse the JSON it prints.
pub fn run_client(python: &Path, fixture: &Fixture, script: &str, args: &[String]) -> Value {
    let out = Command::new(python)
        .arg(client_script(script))
        .args(args)
        .current_dir(fixture.dir.path())
        .envs(fixture.envs())
        .env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .env("PYTHONUNBUFFERED", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

// ---------------------------------------------------------------------------------------------
// Walkthroughs in the docs, run as written
// ---------------------------------------------------------------------------------------------

/// The fenced blocks of a markdown document, as (info string, body).
pub fn code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.push(open.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// How the docs start the MCP Inspector; tests run the pinned install ([`inspector`]) instead.
pub const INSPECTOR: &str = "npx @modelcontextprotocol/inspector@0.15.0 ";

/// The pinned MCP Inspector (`scripts/lib/test-deps.sh`), from `SLUICEGATE_TEST_INSPECTOR`.
pub fn inspector() -> Option<PathBuf> {
    match std::env::var_os("SLUICEGATE_TEST_INSPECTOR").filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => skip_or_fail(
            "SLUICEGATE_TEST_INSPECTOR is not set, so the MCP Inspector cannot run; `eval \"$(bash scripts/lib/test-deps.sh target/test-deps)\"` installs it and sets it; scripts/test.sh does both",
        ),
    }
}
