//! The MCP transports of the built binary, driven with small raw clients: the HTTP lock
//! (401/403, `/healthz`), refusing to start unlocked, the bridge, identical output on every
//! path including `smoke call`, graceful shutdown with the store lease, client snippets and
//! `up`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::time::Duration;

use mcp_support::*;
use serde_json::{Value, json};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Status and body of a raw POST to `/mcp` with the given headers (no token unless given).
async fn raw_post(
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let (status, h) = (r.status().as_u16(), r.headers().clone());
    (status, h, r.text().await.unwrap())
}

/// 401 without or with a wrong token, 403 for a foreign Origin or Host, /healthz open but
/// silent: on both HTTP transports.
#[test]
fn http_lock_on_streamable_http_and_bridge() {
    let fx = Fixture::new(1);
    for sub in ["serve-streamable-http", "serve-http"] {
        let server = fx.spawn_http(sub, &["--allowed-origin", "http://localhost:6274"]);
        let url = server.url.clone();
        let port = server.port();
        rt().block_on(async {
            let bearer = format!("Bearer {TOKEN}");
            for auth in [
                None,
                Some("Bearer wrong-token"),
                Some("bearer test-token-5f1c2a9e77d04b1b"),
                Some(TOKEN),
            ] {
                let headers: Vec<(&str, &str)> =
                    auth.map(|a| ("authorization", a)).into_iter().collect();
                let (status, h, body) = raw_post(&url, &headers).await;
                assert_eq!(status, 401, "{sub} {auth:?}: {body}");
                assert_eq!(h["www-authenticate"], "Bearer realm=\"sluicegate\"");
                assert!(!body.contains(TOKEN));
            }
            let (status, _, body) = raw_post(&url, &[("authorization", &bearer)]).await;
            assert_ne!(status, 401, "{sub}: right token refused: {body}");
            assert_ne!(status, 403, "{sub}: {body}");

            // Foreign Origin (a browser page elsewhere) → 403, even with the right token.
            for origin in ["http://evil.example", "http://localhost:6275", "null"] {
                let (status, _, _) =
                    raw_post(&url, &[("authorization", &bearer), ("origin", origin)]).await;
                assert_eq!(status, 403, "{sub} origin {origin}");
            }
            let (status, h, _) = raw_post(
                &url,
                &[
                    ("authorization", &bearer),
                    ("origin", "http://localhost:6274"),
                ],
            )
            .await;
            assert_ne!(status, 403, "{sub}: allowed origin refused");
            assert_eq!(h["access-control-allow-origin"], "http://localhost:6274");

            // Wrong Host (DNS rebinding) → 403.
            let (status, _, _) = raw_post(
                &url,
                &[
                    ("authorization", &bearer),
                    ("host", &format!("evil.example:{port}")),
                ],
            )
            .await;
            assert_eq!(status, 403, "{sub} wrong host");

            // /healthz needs no token and reveals nothing.
            let r = reqwest::get(format!("{}/healthz", server.base()))
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.unwrap(), "{\n  \"ok\": true\n}\n");
            let r = reqwest::get(format!("{}/other", server.base()))
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
        });
    }
}

#[test]
fn http_servers_refuse_to_start_unlocked() {
    let fx = Fixture::new(1);
    for sub in ["serve-streamable-http", "serve-http"] {
        let out = fx
            .cmd()
            .env_remove("SLUICEGATE_HTTP_TOKEN")
            .args(["mcp", sub, "--port", "0"])
            .args(fx.paths())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("SLUICEGATE_HTTP_TOKEN is not set. Streamable HTTP MCP requires bearer auth by default."), "{err}");

        let out = fx
            .cmd()
            .args([
                "mcp",
                sub,
                "--port",
                "0",
                "--dev-no-auth",
                "--host",
                "0.0.0.0",
            ])
            .args(fx.paths())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("--dev-no-auth is only allowed with localhost")
        );

        let out = fx
            .cmd()
            .args([
                "mcp",
                sub,
                "--port",
                "0",
                "--auth-token-env",
                "NOT_SET_ANYWHERE_X",
            ])
            .args(fx.paths())
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("NOT_SET_ANYWHERE_X is not set"));
    }
    // --dev-no-auth on loopback is the one unauthenticated mode.
    let server = fx.spawn_http("serve-streamable-http", &["--dev-no-auth"]);
    assert!(
        server
            .stderr
            .contains("Auth: disabled for localhost development only")
    );
}

#[test]
fn bridge_speaks_json_schema_honours_alias_modes_and_refuses_like_mcp() {
    let fx = Fixture::new(1);
    let before = fx.snapshot();
    let server = fx.spawn_http("serve-http", &["--alias-mode", "both"]);
    assert!(server.stderr.contains("legacy JSON-RPC bridge"));
    rt().block_on(async {
        let url = &server.url;
        let list = bridge(url, json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).await;
        let tools = list["result"]["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, [READ, "billing__inspect_invoice", PROPOSE, "billing__propose_late_fee_waiver"]);
        for t in tools {
            assert_eq!(t["inputSchema"]["type"], "object");
            assert_eq!(t["inputSchema"]["additionalProperties"], json!(false));
        }

        let unknown = bridge(url, json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "execute_sql", "arguments": {"sql": "drop table invoices"}}})).await;
        assert_eq!(unknown["id"], 7);
        assert_eq!(unknown["error"]["code"], -32602);
        assert!(unknown.get("result").is_none());

        let call = |name: &str, args: Value| json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": args}});
        for (args, code) in [
            (json!({"invoice_id": 42}), "ARGUMENT_TYPE_INVALID"),
            (json!({}), "ARGUMENT_REQUIRED"),
            (json!({"invoice_id": "INV-3001", "limit": 5}), "ARGUMENT_UNKNOWN"),
            (json!({"invoice_id": "INV-9001", "tenant_id": "otherco"}), "MODEL_CANNOT_OVERRIDE_BINDING"),
            (json!({"invoice_id": "INV-9001", "tenantId": "otherco"}), "MODEL_CANNOT_OVERRIDE_BINDING"),
        ] {
            for name in [READ, "billing__inspect_invoice"] {
                let r = bridge(url, call(name, args.clone())).await;
                assert_eq!(r["result"]["isError"], json!(true), "{name} {args}: {r}");
                assert_eq!(r["result"]["structuredContent"]["code"], code, "{name} {args}");
            }
        }
        // A read by alias answers as the canonical capability.
        let r = bridge(url, call("billing__inspect_invoice", json!({"invoice_id": "INV-3001"}))).await;
        assert_eq!(r["result"]["structuredContent"]["action"], READ);
        assert!(r["result"].get("isError").is_none());

        let r = bridge(url, call(PROPOSE, json!({"invoice_id": "INV-3001", "reason": "paid in grace period"}))).await;
        let proposal_id = r["result"]["structuredContent"]["proposal_id"].as_str().unwrap().to_string();
        let read = bridge(url, json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": format!("synapsor://proposals/{proposal_id}")}})).await;
        let text = read["result"]["contents"][0]["text"].as_str().unwrap();
        let doc: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc["proposal"]["state"], "pending_review");
        let replay = bridge(url, json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": format!("synapsor://replay/replay_{proposal_id}")}})).await;
        assert!(replay["result"]["contents"][0]["text"].as_str().unwrap().contains(&proposal_id));
        let bad = bridge(url, json!({"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": "synapsor://other/x"}})).await;
        assert!(bad["error"]["message"].as_str().unwrap().contains("not found"));

        let not_rpc = reqwest::Client::new().post(url).bearer_auth(TOKEN).body("[1,2]").send().await.unwrap();
        assert_eq!(not_rpc.status(), 400);
        let get = reqwest::Client::new().get(url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(get.status(), 405);
    });
    assert_eq!(
        fx.snapshot(),
        before,
        "a proposal over the bridge changed the source"
    );
}

/// One runtime: the same read (and the same refusals) over stdio, Streamable HTTP, the
/// bridge and `smoke call` give the same payload once ledger ids are normalised.
#[test]
fn served_output_is_identical_on_every_path() {
    for format in [1u8, 2] {
        let fx = Fixture::new(format);
        let cases = [
            json!({"invoice_id": "INV-3001"}),
            json!({"invoice_id": "INV-9001"}),
            json!({"invoice_id": "INV-3001", "tenant_id": "otherco"}),
        ];
        let mut paths: Vec<(&str, Vec<Value>)> = Vec::new();

        let mut stdio = {
            let mut c = fx.cmd();
            c.args(["mcp", "serve"]).args(fx.paths());
            StdioClient::start(c)
        };
        paths.push((
            "stdio",
            cases
                .iter()
                .map(|a| stdio.call(READ, a.clone())["result"]["structuredContent"].clone())
                .collect(),
        ));
        assert!(
            stdio.finish().success(),
            "stdio server exits 0 when the client closes stdin"
        );

        let http = fx.spawn_http("serve-streamable-http", &[]);
        let bridge_server = fx.spawn_http("serve-http", &["--allow-concurrent-store"]);
        rt().block_on(async {
            let mut client = HttpMcp::connect(&http.url).await;
            let mut out = Vec::new();
            for a in &cases {
                out.push(client.call(READ, a.clone()).await["result"]["structuredContent"].clone());
            }
            paths.push(("streamable-http", out));
            let mut out = Vec::new();
            for a in &cases {
                let r = bridge(&bridge_server.url, json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": READ, "arguments": a}})).await;
                out.push(r["result"]["structuredContent"].clone());
            }
            paths.push(("bridge", out));
        });

        let mut out = Vec::new();
        for a in &cases {
            let o = fx
                .cmd()
                .args(["smoke", "call", READ, "--json", "--args", &a.to_string()])
                .args(fx.paths())
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
                panic!("smoke call: {e}: {}", String::from_utf8_lossy(&o.stderr))
            });
            out.push(v["result"].clone());
        }
        paths.push(("smoke call", out));

        let (first, reference) = &paths[0];
        assert_eq!(reference[0]["source_database_changed"], json!(false));
        for (name, results) in &paths[1..] {
            for (i, (a, b)) in reference.iter().zip(results).enumerate() {
                assert_eq!(
                    normalize(a),
                    normalize(b),
                    "v{format} case {i}: {first} vs {name}"
                );
            }
        }
    }
}

#[test]
fn sigterm_stops_cleanly_and_the_lease_guards_the_store() {
    let fx = Fixture::new(1);
    let lease = {
        let mut p = fx.store.clone().into_os_string();
        p.push(".lease.json");
        std::path::PathBuf::from(p)
    };
    let mut server = fx.spawn_http("serve-streamable-http", &[]);
    let held: Value = serde_json::from_str(&std::fs::read_to_string(&lease).unwrap()).unwrap();
    assert_eq!(held["pid"], json!(server.child.id()));
    assert_eq!(held["mode"], "mcp");
    assert_eq!(held["transport"], "streamable-http");

    // A second server on the same store is refused while the first is alive…
    let out = fx
        .cmd()
        .args(["mcp", "serve"])
        .args(fx.paths())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Local store appears active for mcp/streamable-http"),
        "{err}"
    );
    assert!(err.contains("Refusing serve"), "{err}");
    // …unless explicitly allowed, with a warning. The forced server takes nothing, so its
    // exit leaves the first server's lease in place.
    let mut second = fx.spawn_http("serve-http", &["--allow-concurrent-store"]);
    assert!(
        second
            .stderr
            .contains("Warning: Local store appears active"),
        "{}",
        second.stderr
    );
    assert!(second.stop(), "the forced server stops cleanly");
    let still: Value = serde_json::from_str(&std::fs::read_to_string(&lease).unwrap()).unwrap();
    assert_eq!(still, held);
    assert!(matches!(
        sluicegate_ledger::lease::holder(&fx.store),
        Ok(sluicegate_ledger::lease::Holder::Live(Some(_)))
    ));

    // SIGTERM: exit 0, the listener closes, and the lease is released.
    assert!(server.stop(), "exit status 0 after SIGTERM");
    assert!(!lease.exists(), "lease released on shutdown");
    assert_eq!(
        sluicegate_ledger::lease::holder(&fx.store).unwrap(),
        sluicegate_ledger::lease::Holder::Free
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err());
}

/// The lease dies with its process: a server killed with SIGKILL runs no cleanup and leaves
/// its label behind, yet the next server takes the lease without being forced.
#[test]
fn a_killed_server_does_not_hold_the_store() {
    use sluicegate_ledger::lease::{Holder, holder};
    use sluicegate_test_support::process::{self, Signal};

    let fx = Fixture::new(1);
    let mut first = fx.spawn_http("serve-streamable-http", &[]);
    let pid = first.child.id();
    process::signal(pid, Signal::KILL);
    let status = process::wait_within(&mut first.child, Duration::from_secs(10));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    match holder(&fx.store).unwrap() {
        Holder::Stale(label) => assert_eq!(label.pid, pid),
        other => panic!("expected the killed server's label, unlocked: {other:?}"),
    }

    let second = fx.spawn_http("serve-streamable-http", &[]);
    assert!(!second.stderr.contains("Warning"), "{}", second.stderr);
    match holder(&fx.store).unwrap() {
        Holder::Live(Some(label)) => assert_eq!(label.pid, second.child.id()),
        other => panic!("expected the new server to hold the lease: {other:?}"),
    }
}

#[test]
fn client_snippets_name_env_vars_never_values() {
    let fx = Fixture::new(1);
    let snippet = |args: &[&str]| -> Value {
        let o = fx.cmd().args(args).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        for secret in [
            TOKEN,
            "sqlite://",
            "postgres://",
            "mysql://",
            "acme",
            "support_agent_17",
        ] {
            assert!(!text.contains(secret), "{args:?} leaked {secret}: {text}");
        }
        serde_json::from_str(&text).unwrap()
    };
    let c = fx.config.display().to_string();
    // Absolute by default (a desktop client starts the server from /), relative on request.
    let dir = fx.dir.path().canonicalize().unwrap();
    let v = snippet(&["mcp", "config", "--config", &c, "--store", "s.db"]);
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_sluicegate")).unwrap();
    assert_eq!(
        v["mcpServers"]["sluicegate"]["command"],
        json!(exe.display().to_string())
    );
    assert_eq!(
        v["mcpServers"]["sluicegate"]["args"],
        json!([
            "mcp",
            "serve",
            "--config",
            std::fs::canonicalize(&fx.config)
                .unwrap()
                .display()
                .to_string(),
            "--store",
            dir.join("s.db").display().to_string(),
            "--env-file",
            dir.join(".env").display().to_string()
        ])
    );
    assert_eq!(
        v["mcpServers"]["sluicegate"]["env"],
        json!({"SLUICEGATE_LOG": "info"})
    );
    let v = snippet(&[
        "mcp",
        "config",
        "--config",
        "sluicegate.json",
        "--store",
        "s.db",
        "--relative-paths",
        "--no-env-file",
        "--command",
        "sluicegate",
    ]);
    assert_eq!(v["mcpServers"]["sluicegate"]["command"], "sluicegate");
    assert_eq!(
        v["mcpServers"]["sluicegate"]["args"],
        json!([
            "mcp",
            "serve",
            "--config",
            "sluicegate.json",
            "--store",
            "s.db"
        ])
    );
    let v = snippet(&["mcp", "config", "cursor", "--config", &c]);
    assert!(v["mcpServers"]["sluicegate"].is_object());
    let v = snippet(&[
        "mcp",
        "config",
        "vscode",
        "--config",
        &c,
        "--alias-mode",
        "both",
    ]);
    assert_eq!(v["servers"]["sluicegate"]["type"], "stdio");
    assert!(
        v["servers"]["sluicegate"]["args"]
            .as_array()
            .unwrap()
            .contains(&json!("both"))
    );
    let v = snippet(&["mcp", "config", "generic", "--config", &c]);
    assert_eq!(v["command"], json!(exe.display().to_string()));
    let v = snippet(&[
        "mcp",
        "client-config",
        "--client",
        "openai-agents",
        "--config",
        &c,
        "--include-instructions",
    ]);
    assert_eq!(v["transport"], "streamable-http");
    // The token goes in the env file (the snippet's env block would win over it).
    assert!(
        v["start_server"]["env"]
            .get("SLUICEGATE_HTTP_TOKEN")
            .is_none()
    );
    assert_eq!(
        v["openai_agents_sdk"]["headers_from_env"]["Authorization"],
        "Bearer $SLUICEGATE_HTTP_TOKEN"
    );
    assert_eq!(
        v["tool_names"]["model_visible_with_alias_mode_openai"],
        "billing__inspect_invoice"
    );
    let args = v["start_server"]["args"].as_array().unwrap();
    assert!(args.contains(&json!("serve-streamable-http")) && args.contains(&json!("openai")));
    assert!(
        v["agent_instructions"]["recommended_system_prompt"]
            .as_str()
            .unwrap()
            .contains("source_database_changed")
    );

    // --write merges into an existing client file (other servers and keys kept), after a backup.
    let dest = fx.dir.path().join("claude_desktop_config.json");
    std::fs::write(
        &dest,
        r#"{"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}"#,
    )
    .unwrap();
    let d = dest.display().to_string();
    let o = fx
        .cmd()
        .args([
            "mcp",
            "configure",
            "--client",
            "claude-desktop",
            "--config",
            &c,
            "--write",
            "--destination",
            &d,
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
    assert_eq!(merged["mcpServers"]["other"]["command"], "x");
    assert_eq!(merged["theme"], "dark");
    assert_eq!(merged["mcpServers"]["sluicegate"]["args"][1], "serve");
    let backups = std::fs::read_dir(fx.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("claude_desktop_config.json.bak.")
        })
        .count();
    assert_eq!(backups, 1);

    let o = fx.cmd().args(["mcp", "client-config"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = fx
        .cmd()
        .args(["mcp", "config", "claude-desktop", "--transport", "http"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn up_dry_run_prints_the_checklist_without_serving() {
    let fx = Fixture::new(2);
    let o = fx
        .cmd()
        .args(["up", "--serve", "--dry-run", "--alias-mode", "openai"])
        .args(fx.paths())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "Sluicegate review-mode up",
        "Transport: streamable-http",
        "Serve now: no",
        "Alias mode: openai",
        "Result format: v2",
        "  - billing__inspect_invoice -> billing.inspect_invoice",
        "direct guarded one-row UPDATE via APP_WRITE_URL (set)",
        "Auth token env: SLUICEGATE_HTTP_TOKEN (set)",
        "Status: dry run only; server not started.",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains(TOKEN) && !text.contains("sqlite://"));
    let o = fx
        .cmd()
        .args(["up", "--serve", "--transport", "stdio"])
        .args(fx.paths())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// 2025-06-18 is served with a session, like 2025-11-25 (the Python SDK covers 2025-11-25 and
/// 2026-07-28); an unknown session id is refused.
#[test]
fn streamable_http_serves_2025_06_18_in_a_session() {
    let fx = Fixture::new(1);
    let server = fx.spawn_http("serve-streamable-http", &[]);
    rt().block_on(async {
        let mut c = HttpMcp::connect_version(&server.url, "2025-06-18").await;
        let r = c.call(READ, json!({"invoice_id": "INV-3001"})).await;
        assert_eq!(r["result"]["structuredContent"]["status"], "ok", "{r}");
        let unknown = c.call("billing.delete_invoice", json!({})).await;
        assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
        c.session = Some("not-a-session".into());
        let r = c
            .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
            .await;
        assert!(
            r.status().is_client_error(),
            "unknown session: {}",
            r.status()
        );
    });
}
