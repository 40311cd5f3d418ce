//! The client snippets the CLI prints, launched the way a desktop client launches them: the
//! entry's command, args and env only, a GUI's `PATH=/usr/bin:/bin`, from `/`. For every stdio
//! client kind (claude-desktop, cursor, vscode, generic; printed, and merged into a client's
//! file by `mcp configure --write`) the server starts, lists its tools and reads a row of the
//! trusted tenant, its credentials coming from the env file the snippet names. The pinned
//! Python MCP SDK starts the same snippet through its own stdio client. And every command of
//! docs/mcp-clients.md's walkthrough runs as written, in order: Claude Desktop's file, the MCP
//! Inspector (CLI mode, and the web UI's proxy starting the server from that file and relaying
//! a read, as the UI's Connect and Run do), Cursor,
//! VS Code and the OpenAI Agents SDK over Streamable HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mcp_support::*;
use serde_json::{Value, json};

/// The `PATH` a macOS/Linux GUI app starts servers with: not the user's shell `PATH`.
const GUI_PATH: &str = "/usr/bin:/bin";

/// The CLI in `dir` with none of the fixture's credentials in its environment.
fn cli(dir: &Path) -> Command {
    let mut c = bin();
    c.current_dir(dir)
        .env_remove("SLUICEGATE_COMMAND_NAME")
        .env_remove("APP_READ_URL")
        .env_remove("APP_WRITE_URL")
        .env_remove("APP_TENANT_ID")
        .env_remove("APP_PRINCIPAL");
    c
}

fn ok(o: Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{what} failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Fill in an env file template the way a user edits it: every `NAME=` line the test has a
/// value for gets it, and every name the template lists must be one the test knows.
fn fill_env_file(path: &Path, values: &BTreeMap<&str, String>) {
    let template = std::fs::read_to_string(path).unwrap();
    let mut named = Vec::new();
    let filled: Vec<String> = template
        .lines()
        .map(|line| match line.strip_suffix('=') {
            Some(name) if !line.starts_with('#') => {
                named.push(name.to_string());
                let value = values.get(name).unwrap_or_else(|| {
                    panic!("the template names {name}, which serving does not need")
                });
                format!("{name}={value}")
            }
            _ => line.to_string(),
        })
        .collect();
    let mut want: Vec<&str> = values.keys().copied().collect();
    want.sort_unstable();
    named.sort();
    assert_eq!(
        named, want,
        "the template names exactly what serving needs:\n{template}"
    );
    std::fs::write(path, filled.join("\n") + "\n").unwrap();
}

/// The server entry in a client's config document.
fn entry<'a>(client: &str, doc: &'a Value) -> &'a Value {
    match client {
        "claude-desktop" | "cursor" => &doc["mcpServers"]["sluicegate"],
        "vscode" => {
            assert_eq!(doc["servers"]["sluicegate"]["type"], "stdio", "{doc}");
            &doc["servers"]["sluicegate"]
        }
        _ => doc,
    }
}

/// The entry as a desktop client starts it: nothing of ours in its environment, `/` as its
/// working directory.
fn launch(entry: &Value) -> Command {
    let mut c = Command::new(entry["command"].as_str().unwrap());
    c.env_clear().env("PATH", GUI_PATH).current_dir("/");
    for a in entry["args"].as_array().unwrap() {
        c.arg(a.as_str().unwrap());
    }
    for (k, v) in entry["env"].as_object().into_iter().flatten() {
        c.env(k, v.as_str().unwrap());
    }
    c
}

/// Start the entry like a desktop client, list its tools and read INV-3001 of tenant acme.
fn read_through(entry: &Value, tools: &[&str], read: &str, log: &Path) {
    let file = std::fs::File::create(log).unwrap();
    let mut client = StdioClient::start_with_stderr(launch(entry), Stdio::from(file));
    let listed = client.request("tools/list", json!({}));
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, tools, "{listed}");
    let r = client.call(read, json!({"invoice_id": "INV-3001"}));
    let s = &r["result"]["structuredContent"];
    assert_ne!(r["result"]["isError"], json!(true), "{r}");
    assert_eq!(s["data"]["id"], "INV-3001", "{r}");
    assert_eq!(s["_meta"]["tenant_id"], "acme", "{r}");
    assert!(client.finish().success());
    let logged = std::fs::read_to_string(log).unwrap();
    assert!(
        logged.contains("INFO sluicegate_mcp::stdio: serving MCP over stdio"),
        "the snippet's log level shows the start in the client's MCP log:\n{logged}"
    );
}

/// The fixture's values of what serving needs.
fn fixture_values(fx: &Fixture) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("APP_READ_URL", format!("sqlite://{}", fx.app_db.display())),
        ("APP_TENANT_ID", "acme".to_string()),
        ("APP_PRINCIPAL", "support_agent_17".to_string()),
    ])
}

#[test]
fn every_stdio_snippet_runs_unchanged_as_a_desktop_client_starts_it() {
    let fx = Fixture::new(2);
    let dir = fx.dir.path();
    let created = ok(
        cli(dir)
            .args(["mcp", "config", "--create-env-file"])
            .output()
            .unwrap(),
        "mcp config --create-env-file",
    );
    let env_file = dir.join(".env");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    fill_env_file(&env_file, &fixture_values(&fx));

    let mut snippets: Vec<(&str, Value)> =
        vec![("claude-desktop", serde_json::from_str(&created).unwrap())];
    for (client, args) in [
        ("cursor", vec!["mcp", "config", "cursor"]),
        ("vscode", vec!["mcp", "client-config", "--client", "vscode"]),
        ("generic", vec!["mcp", "configure", "--client", "generic"]),
        ("claude-desktop", vec!["mcp", "config", "claude"]),
    ] {
        let text = ok(cli(dir).args(&args).output().unwrap(), &args.join(" "));
        for secret in ["sqlite://", "acme", "support_agent_17", TOKEN] {
            assert!(!text.contains(secret), "{args:?} printed {secret}: {text}");
        }
        snippets.push((client, serde_json::from_str(&text).unwrap()));
    }
    // `configure --write` merges the same entry into a client's existing file.
    let dest = dir.join("home/Claude/claude_desktop_config.json");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, r#"{"mcpServers": {"other": {"command": "x"}}}"#).unwrap();
    let d = dest.display().to_string();
    ok(
        cli(dir)
            .args([
                "mcp",
                "configure",
                "--client",
                "claude-desktop",
                "--write",
                "--destination",
                &d,
                "--yes",
            ])
            .output()
            .unwrap(),
        "mcp configure --write",
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
    assert_eq!(written["mcpServers"]["other"]["command"], "x");
    snippets.push(("claude-desktop", written));

    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_sluicegate")).unwrap();
    for (i, (client, doc)) in snippets.iter().enumerate() {
        let e = entry(client, doc);
        assert_eq!(
            e["command"],
            json!(exe.display().to_string()),
            "{client}: {doc}"
        );
        assert_eq!(
            e["env"],
            json!({"SLUICEGATE_LOG": "info"}),
            "{client}: {doc}"
        );
        let args: Vec<&str> = e["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            args.windows(2)
                .any(|w| w == ["--env-file", env_file.to_str().unwrap()]),
            "{client}: {args:?}"
        );
        let log = dir.join(format!("client-{i}.log"));
        read_through(e, &[READ, PROPOSE], READ, &log);
    }

    // A relative snippet is what used to be printed: from `/` it cannot find its config.
    let relative = ok(
        cli(dir)
            .args([
                "mcp",
                "config",
                "generic",
                "--relative-paths",
                "--config",
                "sluicegate.json",
            ])
            .output()
            .unwrap(),
        "mcp config --relative-paths",
    );
    let o = launch(&serde_json::from_str(&relative).unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read config sluicegate.json"));
}

#[test]
fn the_python_mcp_sdk_starts_the_snippet_like_a_desktop_client() {
    let Some(python) = python() else { return };
    let fx = Fixture::new(1);
    let dir = fx.dir.path();
    ok(
        cli(dir)
            .args(["mcp", "config", "--create-env-file"])
            .output()
            .unwrap(),
        "mcp config --create-env-file",
    );
    fill_env_file(&dir.join(".env"), &fixture_values(&fx));
    for (client, keys) in [
        ("claude-desktop", vec!["mcpServers", "sluicegate"]),
        ("vscode", vec!["servers", "sluicegate"]),
        ("generic", vec![]),
    ] {
        let text = ok(
            cli(dir).args(["mcp", "config", client]).output().unwrap(),
            client,
        );
        let file = dir.join(format!("{client}.json"));
        std::fs::write(&file, text).unwrap();
        let out = Command::new(&python)
            .arg(client_script("snippet_client.py"))
            .arg(&file)
            .args(&keys)
            .env_clear()
            .env("PATH", GUI_PATH)
            .current_dir("/")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{client}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(doc["tools"], json!([READ, PROPOSE]), "{client}: {doc}");
        assert_eq!(doc["is_error"], json!(false), "{client}: {doc}");
        assert_eq!(
            doc["structured"]["data"]["id"], "INV-3001",
            "{client}: {doc}"
        );
        assert_eq!(
            doc["structured"]["trusted_context"]["tenant_id"], "acme",
            "{client}: {doc}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// docs/mcp-clients.md, run as written
// ---------------------------------------------------------------------------------------------

/// Where the walkthrough runs: a project directory, a home directory, the env its commands
/// export, and what they printed.
struct Walk {
    project: tempfile::TempDir,
    home: tempfile::TempDir,
    exports: BTreeMap<String, String>,
    inspector: PathBuf,
    python: PathBuf,
    printed: Vec<(String, String)>,
}

impl Walk {
    fn shell(&self, line: &str) -> Command {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_sluicegate"))
            .parent()
            .unwrap();
        let mut c = Command::new("/bin/bash");
        c.args(["-euo", "pipefail", "-c", line])
            .env_clear()
            .env("PATH", format!("{}:{GUI_PATH}", bin_dir.display()))
            .env("HOME", self.home.path())
            .env("MCP_AUTO_OPEN_ENABLED", "false")
            .envs(&self.exports)
            .current_dir(self.project.path());
        c
    }

    /// A command line of the doc, with the Inspector's `npx` replaced by the pinned install.
    fn line(&self, line: &str) -> String {
        match line.strip_prefix(INSPECTOR) {
            Some(rest) => format!("{} {rest}", self.inspector.display()),
            None => line.to_string(),
        }
    }

    fn run(&mut self, line: &str) {
        let o = self.shell(&self.line(line)).output().unwrap();
        let out = ok(o, line);
        self.printed.push((line.to_string(), out));
    }

    fn export(&mut self, assignment: &str) {
        let name = assignment.split('=').next().unwrap().to_string();
        let o = self
            .shell(&format!("export {assignment}; printf %s \"${name}\""))
            .output()
            .unwrap();
        let value = ok(o, assignment);
        assert!(!value.is_empty(), "{assignment}");
        self.exports.insert(name, value);
    }

    /// The Inspector's web UI: it comes up, and its proxy was handed the server entry of the
    /// client file (the command a desktop client runs, with the env file in its args).
    fn inspector_ui(&mut self, line: &str) {
        use std::os::unix::process::CommandExt as _;
        let (ui, proxy) = (free_port(), free_port());
        let mut child = self
            .shell(&format!("exec {}", self.line(line)))
            .env("CLIENT_PORT", ui.to_string())
            .env("SERVER_PORT", proxy.to_string())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let (mut token, mut seen) = (None, String::new());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut l = String::new();
            assert!(
                reader.read_line(&mut l).unwrap() > 0 && Instant::now() < deadline,
                "the Inspector UI did not come up:\n{seen}"
            );
            seen.push_str(&l);
            if let Some(t) = l.trim().strip_prefix("🔑 Session token: ") {
                token = Some(t.to_string());
            }
            if l.contains("MCP Inspector is up and running") {
                break;
            }
        }
        let auth = format!("Bearer {}", token.unwrap());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config: Value = rt.block_on(async {
            reqwest::Client::new()
                .get(format!("http://127.0.0.1:{proxy}/config"))
                .header("x-mcp-proxy-auth", &auth)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        // What the UI's Connect and then Tools → Run do: the proxy starts the server as
        // configured and relays the calls.
        let read = rt.block_on(call_through_proxy(proxy, &auth, &config));
        let s = &read["result"]["structuredContent"];
        assert_eq!(s["data"]["id"], "INV-3001", "{read}");
        assert_eq!(s["_meta"]["tenant_id"], "acme", "{read}");
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_sluicegate")).unwrap();
        assert_eq!(
            config["defaultCommand"],
            json!(exe.display().to_string()),
            "{config}"
        );
        let args = config["defaultArgs"].as_str().unwrap();
        assert!(
            args.starts_with("mcp serve --config /") && args.contains(" --env-file /"),
            "{args}"
        );
        assert_eq!(
            config["defaultEnvironment"]["SLUICEGATE_LOG"], "info",
            "{config}"
        );
        // The UI and its proxy are children of the Inspector: end the whole group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", child.id())])
            .status();
        assert!(
            sluicegate_test_support::process::wait_within(&mut child, Duration::from_secs(20))
                .is_some()
        );
        self.printed.push((line.to_string(), seen));
    }

    fn printed(&self, prefix: &str) -> Vec<&str> {
        self.printed
            .iter()
            .filter(|(l, _)| l.starts_with(prefix))
            .map(|(_, out)| out.as_str())
            .collect()
    }
}

/// An event stream read one event at a time.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    /// The next event's name and data.
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    event
                        .lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                return (field("event:"), field("data:"));
            }
            let chunk = self
                .response
                .chunk()
                .await
                .unwrap()
                .expect("the stream ended");
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// The message answering request `id` (the proxy relays the server's stderr too).
    async fn answer(&mut self, id: i64) -> Value {
        loop {
            let (event, data) = self.next().await;
            if event == "message" {
                let msg: Value = serde_json::from_str(&data).unwrap();
                if msg["id"] == json!(id) {
                    return msg;
                }
            }
        }
    }
}

/// Through the Inspector's proxy, start the server the UI was configured with, initialize and
/// read INV-3001; returns the `tools/call` answer.
async fn call_through_proxy(proxy: u16, auth: &str, config: &Value) -> Value {
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{proxy}");
    let env = config["defaultEnvironment"].to_string();
    let mut url = reqwest::Url::parse(&format!("{base}/stdio")).unwrap();
    url.query_pairs_mut()
        .append_pair("transportType", "stdio")
        .append_pair("command", config["defaultCommand"].as_str().unwrap())
        .append_pair("args", config["defaultArgs"].as_str().unwrap())
        .append_pair("env", &env);
    let response = http
        .get(url)
        .header("x-mcp-proxy-auth", auth)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mut sse = Sse {
        response,
        buffer: String::new(),
    };
    let (event, endpoint) = sse.next().await;
    assert_eq!(event, "endpoint", "{endpoint}");
    let post = |body: Value| {
        http.post(format!("{base}{endpoint}"))
            .header("x-mcp-proxy-auth", auth)
            .json(&body)
            .send()
    };
    post(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "inspector-ui", "version": "0.15.0"}}})).await.unwrap();
    let init = sse.answer(1).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "sluicegate", "{init}");
    post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await
        .unwrap();
    post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "billing.inspect_invoice", "arguments": {"invoice_id": "INV-3001"}}})).await.unwrap();
    sse.answer(2).await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_mcp_clients_walkthrough_runs_as_written() {
    let (Some(python), Some(inspector)) = (python(), inspector()) else {
        return;
    };
    let doc = std::fs::read_to_string(workspace_root().join("docs/mcp-clients.md")).unwrap();
    let mut walk = Walk {
        project: tempfile::tempdir().unwrap(),
        home: tempfile::tempdir().unwrap(),
        exports: BTreeMap::new(),
        inspector,
        python,
        printed: Vec::new(),
    };
    let mut server: Option<ServerProc> = None;
    let (mut commands, mut scripts) = (0, 0);
    for (info, body) in code_blocks(&doc) {
        match info.as_str() {
            "sh" => {
                // A server started by one block runs until the next one starts.
                if let Some(mut s) = server.take() {
                    assert!(s.stop(), "the server exits 0 on SIGTERM");
                }
                for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    commands += 1;
                    if let Some(assignment) = line.strip_prefix("export ") {
                        walk.export(assignment);
                    } else if line.contains(" mcp serve") {
                        server = Some(ServerProc::start(walk.shell(&format!("exec {line}"))));
                    } else if line.starts_with(INSPECTOR) && !line.contains(" --cli ") {
                        walk.inspector_ui(line);
                    } else {
                        walk.run(line);
                    }
                }
            }
            "python" => {
                scripts += 1;
                assert!(
                    server.is_some(),
                    "the agent needs the server of the block before"
                );
                let script = walk.project.path().join("agent.py");
                std::fs::write(&script, &body).unwrap();
                let out = Command::new(&walk.python)
                    .arg(&script)
                    .env_clear()
                    .env("PATH", GUI_PATH)
                    .envs(&walk.exports)
                    .current_dir(walk.project.path())
                    .output()
                    .unwrap();
                let text = ok(out, "the OpenAI Agents SDK script");
                assert!(
                    text.contains("'billing__inspect_invoice', 'billing__propose_late_fee_waiver'"),
                    "{text}"
                );
                assert!(
                    text.contains("'id': 'INV-3001'") && text.contains("'tenant_id': 'acme'"),
                    "{text}"
                );
            }
            _ => {}
        }
    }
    if let Some(mut s) = server.take() {
        assert!(s.stop());
    }
    assert!(
        commands >= 12 && scripts == 1,
        "{commands} commands, {scripts} scripts"
    );

    let project = walk.project.path();
    use std::os::unix::fs::PermissionsExt as _;
    let env_mode = std::fs::metadata(project.join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        env_mode & 0o777,
        0o600,
        "printf > .env keeps the template's mode"
    );
    let up = walk.printed("sluicegate up ");
    assert!(
        up[0].contains("  - DEMO_TENANT_ID (set): trusted context tenant of"),
        "{}",
        up[0]
    );
    let listed = walk.printed(&format!("{INSPECTOR}--cli"));
    assert!(
        listed[0].contains("\"name\": \"billing.inspect_invoice\""),
        "{}",
        listed[0]
    );
    assert!(
        listed[1].contains("\"id\": \"INV-3001\"") && listed[1].contains("\"tenant_id\": \"acme\""),
        "{}",
        listed[1]
    );
    let openai = walk.printed("sluicegate mcp client-config --client openai-agents");
    assert!(
        openai[0].contains("billing__inspect_invoice"),
        "{}",
        openai[0]
    );

    // Each client file the walkthrough wrote starts the server as its client would.
    let claude = walk
        .home
        .path()
        .join("Library/Application Support/Claude/claude_desktop_config.json");
    for (client, file) in [
        ("claude-desktop", claude),
        ("cursor", project.join(".cursor/mcp.json")),
        ("vscode", project.join(".vscode/mcp.json")),
    ] {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let log = project.join(format!("{client}.log"));
        read_through(
            entry(client, &doc),
            &["billing.inspect_invoice", "billing.propose_late_fee_waiver"],
            "billing.inspect_invoice",
            &log,
        );
    }
}
