//! Every refusal a model can meet, on every path: the in-process surface, and the built binary
//! over stdio, Streamable HTTP, the JSON-RPC bridge and `smoke call`, in both result formats.
//!
//! Each refusal is an `isError: true` result that names its runtime reason (v1 `code`, v2
//! `error.reason`) and the argument it is about (`argument`, `error.argument`), with a message
//! specific to the problem. A problem of the server's own (missing env, source down) also
//! carries a correlation id, which the server logs with the cause on stderr at the default log
//! level. An integer key (typed from its column) accepts `42` and `"42"`. A server whose env
//! lacks a source URL or trusted-context variable does not start at all (every call would be
//! refused), so those refusals are met in-process and through `smoke call`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::mcp_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use mcp_support::*;
use serde_json::{Value, json};
use sluicegate_core::tools::AliasMode;
use sluicegate_mcp::{Surface, wrap_result};
use sluicegate_runtime::Env;
use sluicegate_runtime::ledger_store::LedgerStore;
use sluicegate_runtime::startup::start_agent_api;

/// The environment a server runs in: complete, or missing what only the operator can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Complete,
    NoTenantEnv,
    NoSourceUrl,
    SourceDown,
}

/// What a call should get: a success, or a refusal with its v1 code, v2 code, runtime reason
/// and argument.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Ok,
    Refused {
        v1: &'static str,
        v2: &'static str,
        reason: &'static str,
        argument: Option<&'static str>,
    },
}

fn refused(reason: &'static str, v2: &'static str, argument: Option<&'static str>) -> Expect {
    let v1 = reason;
    Expect::Refused {
        v1,
        v2,
        reason,
        argument,
    }
}

/// The refusal kinds, each with the setup it needs.
fn cases() -> Vec<(&'static str, Setup, &'static str, Value, Expect)> {
    use Setup::*;
    let invalid = "INVALID_ARGUMENT";
    vec![
        (
            "integer id",
            Complete,
            INSPECT,
            json!({"item_id": 1}),
            Expect::Ok,
        ),
        (
            "digit string id",
            Complete,
            INSPECT,
            json!({"item_id": "2"}),
            Expect::Ok,
        ),
        (
            "non-numeric id",
            Complete,
            INSPECT,
            json!({"item_id": "abc"}),
            refused("ARGUMENT_TYPE_INVALID", invalid, Some("item_id")),
        ),
        (
            "fractional id",
            Complete,
            INSPECT,
            json!({"item_id": 4.2}),
            refused("ARGUMENT_TYPE_INVALID", invalid, Some("item_id")),
        ),
        (
            // The double next below 100000: a parser that is not correctly rounded (serde_json
            // without `float_roundtrip`) reads it as 100000, a whole number.
            "fractional id next to a whole number",
            Complete,
            INSPECT,
            json!({"item_id": 99_999.999_999_999_99}),
            refused("ARGUMENT_TYPE_INVALID", invalid, Some("item_id")),
        ),
        (
            "missing argument",
            Complete,
            INSPECT,
            json!({}),
            refused("ARGUMENT_REQUIRED", invalid, Some("item_id")),
        ),
        (
            "undeclared argument",
            Complete,
            INSPECT,
            json!({"item_id": 1, "sql": "select 1"}),
            refused("ARGUMENT_UNKNOWN", invalid, Some("sql")),
        ),
        (
            "tenant override",
            Complete,
            INSPECT,
            json!({"item_id": 3, "tenant_id": "otherco"}),
            refused("MODEL_CANNOT_OVERRIDE_BINDING", invalid, Some("tenant_id")),
        ),
        (
            "amount out of bounds",
            Complete,
            RESTOCK,
            json!({"item_id": 1, "amount": 501, "reason": "refill"}),
            refused("ARGUMENT_ABOVE_MAXIMUM", invalid, Some("amount")),
        ),
        (
            "another tenant's row",
            Complete,
            INSPECT,
            json!({"item_id": 3}),
            refused("ROW_NOT_FOUND", "NOT_FOUND_IN_TENANT", None),
        ),
        (
            "missing tenant env",
            NoTenantEnv,
            INSPECT,
            json!({"item_id": 1}),
            refused("TRUSTED_BINDING_MISSING", invalid, None),
        ),
        (
            "missing source url env",
            NoSourceUrl,
            INSPECT,
            json!({"item_id": "1"}),
            refused("SOURCE_CREDENTIAL_MISSING", "TEMPORARILY_UNAVAILABLE", None),
        ),
        (
            "source down",
            SourceDown,
            INSPECT,
            json!({"item_id": "1"}),
            // v1 reports a failure that is not a runtime refusal as MCP_TOOL_FAILED
            // (mcp-surface.md §6.3); v2 names the runtime reason.
            Expect::Refused {
                v1: "MCP_TOOL_FAILED",
                v2: "TEMPORARILY_UNAVAILABLE",
                reason: "SOURCE_UNAVAILABLE",
                argument: None,
            },
        ),
    ]
}

/// Reasons that are the server's own: logged with a correlation id.
const SERVER_SIDE: [&str; 3] = [
    "TRUSTED_BINDING_MISSING",
    "SOURCE_CREDENTIAL_MISSING",
    "SOURCE_UNAVAILABLE",
];

/// The stock app, and a ledger per path (the paths run side by side).
struct World {
    fx: Fixture,
}

impl World {
    fn new(format: u8) -> World {
        World {
            fx: Fixture::items(format),
        }
    }

    fn env(&self, setup: Setup) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            (
                "APP_READ_URL",
                format!("sqlite://{}", self.fx.app_db.display()),
            ),
            ("APP_TENANT_ID", "acme".into()),
            ("APP_PRINCIPAL", "agent_7".into()),
            ("SLUICEGATE_HTTP_TOKEN", TOKEN.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match setup {
            Setup::Complete => {}
            Setup::NoTenantEnv => {
                env.remove("APP_TENANT_ID");
            }
            Setup::NoSourceUrl => {
                env.remove("APP_READ_URL");
            }
            Setup::SourceDown => {
                let gone = self.fx.dir.path().join("gone/app.db");
                env.insert(
                    "APP_READ_URL".into(),
                    format!("sqlite://{}", gone.display()),
                );
            }
        }
        env
    }

    /// The binary with `setup`'s env (nothing else from ours) and its own ledger.
    fn cmd(&self, setup: Setup, store: &str, args: &[&str]) -> Command {
        let mut c = bin();
        c.current_dir(self.fx.dir.path())
            .env_remove("APP_READ_URL")
            .env_remove("APP_TENANT_ID")
            .env_remove("APP_PRINCIPAL")
            .envs(self.env(setup))
            .args(args)
            .args(["--config", &self.fx.config.display().to_string()])
            .args(["--store", &self.store(store).display().to_string()]);
        c
    }

    fn store(&self, name: &str) -> PathBuf {
        self.fx.dir.path().join(format!("ledger-{name}.db"))
    }
}

/// One answer: whether it was an `isError` result, and its structured payload.
type Answer = (bool, Value);

fn tool_result(r: &Value) -> Answer {
    let result = &r["result"];
    assert!(
        result.is_object(),
        "a tool result, not a protocol error: {r}"
    );
    (
        result["isError"] == json!(true),
        result["structuredContent"].clone(),
    )
}

fn in_process(world: &World, setup: Setup, calls: &[(&str, Value)]) -> Vec<Answer> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config =
        sluicegate_core::config::load_str(&std::fs::read_to_string(&world.fx.config).unwrap())
            .1
            .unwrap();
    // The server's own start: the ledger opens while the column types are read.
    let store = LedgerStore::Sqlite(world.store("in-process"));
    let env = Env::from_map(world.env(setup));
    let api = rt
        .block_on(start_agent_api(Arc::new(config), &store, &env, None))
        .unwrap();
    let surface = Surface::new(api, AliasMode::Canonical);
    if setup == Setup::Complete {
        let listed: Vec<&Value> = surface.tool_definitions().collect();
        assert_eq!(
            listed[0]["inputSchema"]["properties"]["item_id"]["type"], "integer",
            "typed from the INTEGER key"
        );
    }
    calls
        .iter()
        .map(|(tool, args)| {
            let result = rt.block_on(surface.call(tool, Some(args.clone()))).unwrap();
            let wrapped = wrap_result(&result);
            assert_eq!(wrapped["isError"] == json!(true), result.is_error);
            (result.is_error, result.payload)
        })
        .collect()
}

fn stdio(world: &World, setup: Setup, calls: &[(&str, Value)]) -> (Vec<Answer>, String) {
    let log = world.fx.dir.path().join(format!("stdio-{setup:?}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut client = StdioClient::start_with_stderr(
        world.cmd(setup, "stdio", &["mcp", "serve"]),
        Stdio::from(file),
    );
    let answers = calls
        .iter()
        .map(|(tool, args)| tool_result(&client.call(tool, args.clone())))
        .collect();
    assert!(client.finish().success());
    (answers, std::fs::read_to_string(&log).unwrap())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn streamable_http(world: &World, setup: Setup, calls: &[(&str, Value)]) -> (Vec<Answer>, String) {
    let server = ServerProc::start(world.cmd(
        setup,
        "http",
        &["mcp", "serve-streamable-http", "--port", "0"],
    ));
    let answers = rt().block_on(async {
        let mut client = HttpMcp::connect(&server.url).await;
        let mut out = Vec::new();
        for (tool, args) in calls {
            out.push(tool_result(&client.call(tool, args.clone()).await));
        }
        out
    });
    (answers, finished_log(server))
}

fn json_rpc_bridge(world: &World, setup: Setup, calls: &[(&str, Value)]) -> (Vec<Answer>, String) {
    let server =
        ServerProc::start(world.cmd(setup, "bridge", &["mcp", "serve-http", "--port", "0"]));
    let answers = rt().block_on(async {
        let mut out = Vec::new();
        for (tool, args) in calls {
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}});
            out.push(tool_result(&bridge(&server.url, body).await));
        }
        out
    });
    (answers, finished_log(server))
}

/// Everything the server wrote to stderr, once it has stopped and the pipe is drained.
fn finished_log(mut server: ServerProc) -> String {
    assert!(server.stop(), "the server exits 0 on SIGTERM");
    let mut last = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = server.log.lock().unwrap().clone();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

fn smoke_call(world: &World, setup: Setup, calls: &[(&str, Value)]) -> (Vec<Answer>, String) {
    let mut log = String::new();
    let answers = calls
        .iter()
        .map(|(tool, args)| {
            let args = args.to_string();
            let out = world
                .cmd(
                    setup,
                    "smoke",
                    &["smoke", "call", tool, "--json", "--args", &args],
                )
                .output()
                .unwrap();
            log.push_str(&String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "smoke call printed no JSON ({e}): {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            let is_error = v["isError"] == json!(true);
            assert_eq!(out.status.code(), Some(if is_error { 1 } else { 0 }), "{v}");
            (is_error, v["result"].clone())
        })
        .collect();
    (answers, log)
}

/// Every serve command refuses to start without the variable `setup` leaves out (exit 2),
/// naming it and where the config uses it.
fn refuses_to_serve(world: &World, setup: Setup) {
    let named = match setup {
        Setup::NoTenantEnv => "APP_TENANT_ID: trusted context tenant of stock.inspect_item",
        _ => "APP_READ_URL: read URL of source stock",
    };
    for serve in [
        &["mcp", "serve"][..],
        &["mcp", "serve-streamable-http", "--port", "0"],
        &["mcp", "serve-http", "--port", "0"],
    ] {
        let o = world
            .cmd(setup, "refused", serve)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{serve:?}: {err}");
        assert!(err.contains(named), "{serve:?}: {err}");
        assert!(err.contains("--env-file"), "{serve:?}: {err}");
        assert!(o.stdout.is_empty(), "{serve:?}");
    }
}

/// Check one answer against what its case expects.
fn check(
    format: u8,
    path: &str,
    label: &str,
    expect: Expect,
    (is_error, payload): &Answer,
    log: Option<&str>,
) {
    let at = format!("v{format} {path} {label}: {payload}");
    let Expect::Refused {
        v1,
        v2,
        reason,
        argument,
    } = expect
    else {
        assert!(!is_error, "{at}");
        // Both envelopes put the row under `data`; the key reads back as an integer.
        assert!(payload["data"]["id"].is_i64(), "{at}");
        return;
    };
    assert!(is_error, "every refusal is an isError result: {at}");
    let server_side = SERVER_SIDE.contains(&reason);
    let (named, correlation, detail) = if format == 2 {
        let e = &payload["error"];
        assert_eq!(e["code"], v2, "{at}");
        assert_eq!(e["reason"], reason, "{at}");
        assert_eq!(payload["ok"], json!(false), "{at}");
        assert_eq!(payload["summary"], e["message"], "{at}");
        (
            &e["argument"],
            &e["correlation_id"],
            e["detail"].as_str().unwrap_or(""),
        )
    } else {
        assert_eq!(payload["code"], v1, "{at}");
        (
            &payload["argument"],
            &payload["correlation_id"],
            payload["error"].as_str().unwrap_or(""),
        )
    };
    assert_eq!(named.as_str(), argument, "{at}");
    assert!(!detail.is_empty(), "{at}");
    if let Some(arg) = argument {
        assert!(
            detail.contains(arg),
            "the message says which argument: {at}"
        );
    }
    if server_side {
        let id = correlation
            .as_str()
            .unwrap_or_else(|| panic!("a correlation id: {at}"));
        assert!(id.starts_with("err_") && id.len() == 16, "{at}");
        if format == 2 {
            for leak in ["APP_", "sqlite://", "gone"] {
                assert!(
                    !detail.contains(leak),
                    "the v2 detail keeps the cause to the log: {at}"
                );
            }
        }
        if let Some(log) = log {
            let line = log
                .lines()
                .find(|l| l.contains(id))
                .unwrap_or_else(|| panic!("{at}: the log names {id}:\n{log}"));
            assert!(
                line.contains(reason),
                "{at}: the log line names the reason: {line}"
            );
            assert!(line.contains("WARN") || line.contains("ERROR"), "{line}");
        }
    } else {
        assert!(correlation.is_null(), "{at}");
    }
}

#[test]
fn every_refusal_is_an_error_result_naming_its_reason_on_every_path() {
    for format in [1u8, 2] {
        let world = World::new(format);
        for setup in [
            Setup::Complete,
            Setup::NoTenantEnv,
            Setup::NoSourceUrl,
            Setup::SourceDown,
        ] {
            let group: Vec<_> = cases().into_iter().filter(|c| c.1 == setup).collect();
            let calls: Vec<(&str, Value)> = group.iter().map(|c| (c.2, c.3.clone())).collect();
            let in_proc = in_process(&world, setup, &calls);
            let mut paths: Vec<(&str, Vec<Answer>, Option<String>)> =
                vec![("in-process", in_proc, None)];
            if matches!(setup, Setup::NoTenantEnv | Setup::NoSourceUrl) {
                refuses_to_serve(&world, setup);
            } else {
                let (a, log) = stdio(&world, setup, &calls);
                paths.push(("stdio", a, Some(log)));
                let (a, log) = streamable_http(&world, setup, &calls);
                paths.push(("streamable-http", a, Some(log)));
                let (a, log) = json_rpc_bridge(&world, setup, &calls);
                paths.push(("bridge", a, Some(log)));
            }
            let (a, log) = smoke_call(&world, setup, &calls);
            paths.push(("smoke call", a, Some(log)));
            for (path, answers, log) in &paths {
                for (case, answer) in group.iter().zip(answers) {
                    check(format, path, case.0, case.4, answer, log.as_deref());
                }
            }
            // One runtime: every path answers the same, once ledger ids are normalised.
            let (first, reference, _) = &paths[0];
            for (path, answers, _) in &paths[1..] {
                for ((case, a), b) in group.iter().zip(reference).zip(answers) {
                    assert_eq!(
                        normalize(&a.1),
                        normalize(&b.1),
                        "v{format} {}: {first} vs {path}",
                        case.0
                    );
                }
            }
        }
    }
}
