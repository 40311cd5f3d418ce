//! Fuzz target: the JSON-RPC handling a request gets before (and around) a tool call, through
//! the bridge's own entry point (`sluicegate_mcp::answer_bridge_message`: parse, route,
//! `Surface::call`, wrap, scrub) over a real `Surface` and `AgentApi`: the demo's SQLite
//! billing app in a temp dir (invoices of the trusted tenant `acme` and of `otherco`), the demo
//! config, in-memory ledgers, tool names in both alias styles.
//!
//! Every message goes to two surfaces, one per result format, whose answers are compared.
//! Input that starts like JSON is the request body as sent; other input builds a request from
//! the tool names, argument names, invoice ids and URIs the surface knows.
//!
//! Properties, for every body:
//! - answering never panics, and the answer is one JSON-RPC 2.0 response: the request's `id`,
//!   exactly one of `result` and `error`, a known error code with a message, HTTP 400 only for
//!   an invalid request;
//! - routing is as documented: parse error, invalid request, unknown method, missing name and
//!   unknown tool are errors with their codes; a known tool always gives a tool result;
//! - a tool result is well formed (text content that is the structured content, `isError`
//!   only ever `true`, the source never reported changed); arguments the runtime's validator
//!   refuses are an `isError` refusal with that validator's code, in both formats; formats 1 and
//!   2 agree on the outcome and v2 shows each code's model-safe mapping;
//! - a tool call never succeeds for a tenant other than the trusted one: a success names
//!   tenant `acme` and one of its invoices, and shows only the capability's visible columns;
//!   a valid read of an `acme` invoice succeeds, of any other id is "not found";
//! - neither the bearer token nor the source database's location appears in an answer.

#![no_main]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use sluicegate_core::call::{refuse_binding_overrides, validate_args};
use sluicegate_core::config::{Config, Kind, validate};
use sluicegate_core::refusal::Code;
use sluicegate_core::tools::AliasMode;
use sluicegate_fuzz::{Gen, is_screaming_snake, looks_like_json};
use sluicegate_ledger::{Ledger, MEMORY};
use sluicegate_mcp::{HttpSecurity, Surface, answer_bridge_message};
use sluicegate_runtime::{AgentApi, Env, demo};

/// The bearer token the bridge is configured with; it must never be echoed.
const TOKEN: &str = "fuzz-bridge-token-4f1c9a";
/// The trusted tenant and its invoices in the sample app (`otherco` owns INV-9001).
const TENANT: &str = "acme";
const TENANT_INVOICES: &[&str] = &["INV-3001", "INV-3002"];
/// Fresh ledgers after this many messages, so a long run does not grow without bound.
const REBUILD_EVERY: u32 = 2_000;

struct Fixture {
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    /// The sample app's directory: the source database's location, never to be shown.
    app_dir: String,
    config: Arc<Config>,
    env: Env,
    security: HttpSecurity,
    /// Result format 1 and 2, fed the same messages.
    surfaces: [Surface; 2],
    /// Exposed tool names (canonical and OpenAI aliases) → canonical capability.
    tools: HashMap<String, String>,
    messages: u32,
}

fn surfaces(config: &Arc<Config>, env: &Env) -> [Surface; 2] {
    [1, 2].map(|format| {
        let ledger = Ledger::open(std::path::Path::new(MEMORY))
            .unwrap_or_else(|e| panic!("in-memory ledger: {e}"));
        let api = AgentApi::new(config.clone(), ledger, env.clone(), Some(format));
        Surface::new(api, AliasMode::Both)
    })
}

fn fixture() -> &'static Mutex<Fixture> {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let app_db: PathBuf = dir.path().join("app.db");
        sluicegate_source::sample_app::create(&app_db)
            .unwrap_or_else(|e| panic!("sample app: {e}"));
        let (v, config) = validate(&demo::config_json());
        let config = Arc::new(config.unwrap_or_else(|| panic!("demo config: {v:?}")));
        let env = demo::env(&Env::from_map(HashMap::new()), &app_db);
        let surfaces = surfaces(&config, &env);
        let tools = surfaces[0]
            .exposed_names()
            .map(|(e, c)| (e.to_string(), c.to_string()))
            .collect();
        let security = HttpSecurity::new(Some(TOKEN.into()), "127.0.0.1", &[], &[])
            .unwrap_or_else(|e| panic!("security: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        Mutex::new(Fixture {
            rt,
            app_dir: dir.path().display().to_string(),
            _dir: dir,
            config,
            env,
            security,
            surfaces,
            tools,
            messages: 0,
        })
    })
}

/// The JSON-RPC error codes the bridge answers with.
const ERROR_CODES: &[i64] = &[-32700, -32600, -32601, -32602, -32603];

/// A well-formed answer: returns its `result` or its `(code, message)`.
fn envelope(request_id: &Value, status: u16, body: &Value) -> std::result::Result<Value, i64> {
    let obj = body.as_object().expect("answer must be a JSON object");
    assert_eq!(obj.get("jsonrpc"), Some(&json!("2.0")), "{body}");
    assert_eq!(
        obj.get("id"),
        Some(request_id),
        "answer must echo the id: {body}"
    );
    match (obj.get("result"), obj.get("error")) {
        (Some(result), None) => {
            assert_eq!(status, 200, "{body}");
            Ok(result.clone())
        }
        (None, Some(error)) => {
            let code = error["code"]
                .as_i64()
                .expect("error code must be an integer");
            assert!(ERROR_CODES.contains(&code), "unknown error code: {body}");
            let message = error["message"].as_str().expect("error message");
            assert!(!message.is_empty(), "{body}");
            assert_eq!(status, if code == -32600 { 400 } else { 200 }, "{body}");
            Err(code)
        }
        _ => panic!("answer must carry exactly one of result and error: {body}"),
    }
}

/// A tool result's payload and `isError`, after checking its shape.
fn tool_result(result: &Value) -> (Value, bool) {
    let payload = result
        .get("structuredContent")
        .cloned()
        .expect("tool result has structuredContent");
    let text = result["content"][0]["text"]
        .as_str()
        .expect("tool result has text content");
    assert_eq!(result["content"][0]["type"], json!("text"));
    let parsed: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("text content is JSON: {e}: {text:?}"));
    assert_eq!(parsed, payload, "text and structuredContent must agree");
    let is_error = match result.get("isError") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(other) => panic!("isError is only ever true, got {other}"),
    };
    assert_ne!(
        payload.get("source_database_changed"),
        Some(&json!(true)),
        "a tool call never changes the source: {payload}"
    );
    (payload, is_error)
}

/// What one format says about a tool call.
#[derive(Debug)]
enum Verdict {
    Success,
    /// The refusal code as the payload shows it (v1: runtime code, v2: model-safe code).
    Refused(String),
}

/// Check a payload of format `format` and return its verdict; successes are checked against
/// the trusted tenant here.
fn verdict(fx: &Fixture, format: u8, canonical: &str, payload: &Value, is_error: bool) -> Verdict {
    let cap = fx
        .config
        .capability(canonical)
        .expect("routed to a capability");
    let succeeded = if format == 1 {
        payload.get("ok") != Some(&json!(false))
    } else {
        payload["ok"] == json!(true)
    };
    if !succeeded {
        // Every refusal is an isError result, in both formats (a model must be able to tell).
        assert!(
            is_error,
            "v{format} refusals are isError results: {payload}"
        );
        let code = if format == 1 {
            payload["code"].as_str()
        } else {
            assert_eq!(payload["ok"], json!(false), "{payload}");
            assert!(
                payload["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
            payload["error"]["code"].as_str()
        }
        .expect("refusal code");
        assert!(is_screaming_snake(code), "{payload}");
        return Verdict::Refused(code.to_string());
    }
    assert!(!is_error, "a success is not an isError result: {payload}");
    let (tenant, object_id, data) = match (format, cap.kind) {
        (1, Kind::Read) => (
            &payload["trusted_context"]["tenant_id"],
            payload["business_object"]["id"].as_str(),
            Some(&payload["data"]),
        ),
        (1, Kind::Proposal) => (
            &payload["target"]["tenant_id"],
            payload["target"]["id"].as_str(),
            None,
        ),
        (_, Kind::Read) => (
            &payload["_meta"]["tenant_id"],
            payload["data"]["id"].as_str(),
            Some(&payload["data"]),
        ),
        (_, Kind::Proposal) => (
            &payload["_meta"]["tenant_id"],
            payload["proposal"]["target"]
                .as_str()
                .and_then(|t| t.rsplit(':').next()),
            None,
        ),
    };
    assert_eq!(
        tenant,
        &json!(TENANT),
        "success outside the trusted tenant: {payload}"
    );
    assert!(
        object_id.is_some_and(|id| TENANT_INVOICES.contains(&id)),
        "success on an object the tenant does not own: {payload}"
    );
    if let Some(data) = data {
        let data = data.as_object().expect("read data is an object");
        let visible = cap.read_columns();
        for column in data.keys() {
            assert!(
                visible.iter().any(|v| v == column),
                "column {column} is not visible to the model: {payload}"
            );
        }
        assert_eq!(data.get("customer_name"), Some(&json!("Acme Robotics")));
    }
    Verdict::Success
}

/// The documented outcome of `tools/call` with `params`, checked against both answers.
fn check_tool_call(
    fx: &Fixture,
    params: &Map<String, Value>,
    answers: &[(u16, Value); 2],
    id: &Value,
) {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        for (status, body) in answers {
            assert_eq!(envelope(id, *status, body), Err(-32602), "{body}");
        }
        return;
    };
    let canonical = match fx.tools.get(name) {
        Some(c) => c.clone(),
        None if fx.config.capability(name).is_some() => name.to_string(),
        None => {
            for (status, body) in answers {
                assert_eq!(
                    envelope(id, *status, body),
                    Err(-32602),
                    "unknown tool: {body}"
                );
            }
            return;
        }
    };
    let cap = fx.config.capability(&canonical).expect("known capability");
    let arguments = params.get("arguments").or_else(|| params.get("args"));
    let expected_refusal: Option<Code> = match arguments {
        None | Some(Value::Null) => validate_args(cap, &Map::new()).err().map(|r| r.code),
        Some(Value::Object(args)) => refuse_binding_overrides(args, None)
            .and_then(|()| validate_args(cap, args))
            .err()
            .map(|r| r.code),
        Some(_) => Some(Code::ArgumentTypeInvalid),
    };
    let mut verdicts = Vec::new();
    for (format, (status, body)) in [1u8, 2].into_iter().zip(answers) {
        let result = envelope(id, *status, body)
            .unwrap_or_else(|code| panic!("a known tool gives a tool result, got {code}: {body}"));
        let (payload, is_error) = tool_result(&result);
        let v = verdict(fx, format, &canonical, &payload, is_error);
        if let Some(code) = expected_refusal {
            let shown = if format == 1 {
                code.as_str()
            } else {
                code.safe().code
            };
            assert!(
                is_error && matches!(&v, Verdict::Refused(c) if c == shown),
                "v{format}: arguments refused by validate_args ({code:?}) must be an isError \
                 {shown} refusal: {payload}"
            );
        }
        verdicts.push(v);
    }
    // Both formats reach the same outcome; v2 shows v1's code through its safe mapping.
    match (&verdicts[0], &verdicts[1]) {
        (Verdict::Success, Verdict::Success) => {}
        (Verdict::Refused(c1), Verdict::Refused(c2)) => {
            if let Some(code) = Code::ALL.iter().find(|c| c.as_str() == c1) {
                assert_eq!(code.safe().code, c2, "v1 {c1} shows as v2 {c2}");
            }
        }
        (a, b) => panic!("formats disagree on {name}: v1 {a:?}, v2 {b:?}"),
    }
    if expected_refusal.is_none() && cap.kind == Kind::Read {
        let args = arguments
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let id = args.get(&cap.lookup_arg).and_then(Value::as_str);
        let own = id.is_some_and(|id| TENANT_INVOICES.contains(&id));
        match &verdicts[0] {
            Verdict::Success => assert!(own),
            Verdict::Refused(code) => assert!(
                !own && code == "ROW_NOT_FOUND",
                "a valid read of {id:?} is found exactly when {TENANT} owns it, got {code}"
            ),
        }
    }
}

/// Every string of `v`, object keys included, as decoded. A string that is itself a JSON
/// document (a tool result's text content) is decoded too, not searched as JSON text: there an
/// echoed form feed before "uzz-bridge-token-…" reads `\fuzz-bridge-token-…`.
fn decoded_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => decoded_strings(&inner, out),
            _ => out.push(s.clone()),
        },
        Value::Array(items) => items.iter().for_each(|i| decoded_strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                decoded_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Check both answers to one body.
fn check(fx: &Fixture, data: &[u8], answers: &[(u16, Value); 2]) {
    let input = String::from_utf8_lossy(data);
    for (_, body) in answers {
        // The request's own id is echoed as sent; everything else is ours.
        let mut ours = body.clone();
        if let Some(obj) = ours.as_object_mut() {
            obj.remove("id");
        }
        // The answer's strings as decoded, not its JSON text: an echoed form feed followed by
        // "uzz-bridge-token-…" is written `\fuzz-bridge-token-…`, which is not the token.
        // A real echo of the token is caught in the decoded strings, nested documents included.
        let text = ours.to_string();
        let mut strings = Vec::new();
        decoded_strings(&ours, &mut strings);
        assert!(
            !strings.iter().any(|s| s.contains(TOKEN)),
            "bearer token in an answer: {text}"
        );
        if !input.contains(&fx.app_dir) {
            assert!(
                !strings.iter().any(|s| s.contains(&fx.app_dir)),
                "source location in an answer: {text}"
            );
        }
    }
    let message: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(_) => {
            for (status, body) in answers {
                assert_eq!(envelope(&Value::Null, *status, body), Err(-32700), "{body}");
            }
            return;
        }
    };
    let Some(message) = message.as_object() else {
        for (status, body) in answers {
            assert_eq!(envelope(&Value::Null, *status, body), Err(-32600), "{body}");
        }
        return;
    };
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        for (status, body) in answers {
            assert_eq!(envelope(&id, *status, body), Err(-32600), "{body}");
        }
        return;
    };
    let params = match message.get("params") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    match method {
        "tools/call" => check_tool_call(fx, &params, answers, &id),
        "tools/list" => {
            for (status, body) in answers {
                let result = envelope(&id, *status, body).expect("tools/list answers");
                let tools = result["tools"].as_array().expect("a tool array");
                assert_eq!(tools.len(), fx.tools.len());
            }
        }
        "resources/templates/list" => {
            for (status, body) in answers {
                let result = envelope(&id, *status, body).expect("templates answer");
                assert_eq!(
                    result["resourceTemplates"].as_array().map(Vec::len),
                    Some(3)
                );
            }
        }
        "resources/read" => {
            for (status, body) in answers {
                match envelope(&id, *status, body) {
                    Ok(result) => assert_eq!(result["contents"][0]["uri"], params["uri"]),
                    Err(code) => assert!(code == -32602 || code == -32603, "{body}"),
                }
            }
        }
        _ => {
            for (status, body) in answers {
                assert_eq!(envelope(&id, *status, body), Err(-32601), "{body}");
            }
        }
    }
}

const METHODS: &[&str] = &[
    "tools/call",
    "tools/call",
    "tools/call",
    "tools/call",
    "tools/list",
    "resources/read",
    "resources/templates/list",
    "initialize",
    "Tools/Call",
];
const TOOL_NAMES: &[&str] = &[
    "billing.inspect_invoice",
    "billing.propose_late_fee_waiver",
    "billing__inspect_invoice",
    "billing__propose_late_fee_waiver",
    "billing.inspect_invoice ",
    "billing.approve",
    "",
];
const ARG_KEYS: &[&str] = &[
    "invoice_id",
    "invoice_id",
    "reason",
    "reason",
    "tenant_id",
    "tenantId",
    "principal",
    "late_fee_cents",
    "limit",
];
const ARG_VALUES: &[&str] = &[
    "INV-3001",
    "INV-3002",
    "INV-9001",
    "inv-3001",
    "INV-3001 ",
    "INV-3001' OR '1'='1",
    "%",
    "customer asked nicely",
    "acme",
    "otherco",
];
const URIS: &[&str] = &[
    "synapsor://proposals/wrp_1",
    "synapsor://evidence/ev_1",
    "synapsor://replay/replay_wrp_1",
    "synapsor://proposals/",
    "synapsor://other/x",
];

/// A request built from what the surface knows.
fn structured(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let g = Gen {
        keys: ARG_KEYS,
        strings: ARG_VALUES,
        max_depth: 3,
    };
    let mut message = Map::new();
    if u.ratio(9, 10)? {
        message.insert("jsonrpc".into(), json!("2.0"));
    }
    match u.int_in_range(0..=4)? {
        0 => {}
        1 => {
            message.insert("id".into(), json!(u.arbitrary::<i64>()?));
        }
        2 => {
            message.insert("id".into(), json!(g.string(u)?));
        }
        _ => {
            message.insert("id".into(), g.value(u)?);
        }
    }
    let method = if u.ratio(1, 10)? {
        g.value(u)?
    } else {
        json!(*u.choose(METHODS)?)
    };
    message.insert("method".into(), method);
    let mut params = Map::new();
    match u.int_in_range(0..=5)? {
        0 => {}
        1 => {
            params.insert(
                "uri".into(),
                json!(format!("{}{}", u.choose(URIS)?, g.string(u)?)),
            );
        }
        _ => {
            let name = if u.ratio(1, 8)? {
                g.value(u)?
            } else {
                json!(*u.choose(TOOL_NAMES)?)
            };
            params.insert("name".into(), name);
            let arguments = match u.int_in_range(0..=7)? {
                0 => g.value(u)?,
                1 => Value::Null,
                _ => Value::Object(g.object(u)?),
            };
            let key = *u.choose(&["arguments", "arguments", "args", "none"])?;
            if key != "none" {
                params.insert(key.into(), arguments);
            }
        }
    }
    if u.ratio(1, 12)? {
        message.insert("params".into(), g.value(u)?);
    } else {
        message.insert("params".into(), Value::Object(params));
    }
    Ok(serde_json::to_vec(&message).expect("invariant: JSON serialises"))
}

fuzz_target!(|data: &[u8]| {
    let body = if looks_like_json(data) {
        data.to_vec()
    } else {
        match structured(&mut Unstructured::new(data)) {
            Ok(body) => body,
            Err(_) => return,
        }
    };
    let mut fx = fixture().lock().unwrap_or_else(|e| e.into_inner());
    fx.messages += 1;
    if fx.messages.is_multiple_of(REBUILD_EVERY) {
        fx.surfaces = surfaces(&fx.config, &fx.env);
    }
    let fx = &*fx;
    let answers = [0, 1].map(|i| {
        let (status, body) =
            fx.rt
                .block_on(answer_bridge_message(&fx.surfaces[i], &fx.security, &body));
        (status.as_u16(), body)
    });
    check(fx, &body, &answers);
});
