//! The MCP serving load harness: `cargo bench -p sluicegate --bench mcp_serving`.
//!
//! It builds a throwaway SQLite sample app and config, starts the release `sluicegate` binary as
//! a server over stdio and over Streamable HTTP, and measures what a client sees: cold start to
//! the first response, read-call latency, throughput at several concurrent sessions and the
//! server's peak RSS. The same query also runs bare through rusqlite, and in-process through
//! `AgentApi`/`Surface` without MCP, so each layer's overhead is visible. Figures are recorded
//! in docs/performance.md.
//!
//! Options after `--`: `--calls N` (stdio calls, default 5000), `--cold-starts N` (30),
//! `--seconds N` per HTTP level (3), `--sessions 1,4,16`, `--json`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use support::{TOKEN, cpu_time, open_session, pct, post_message, start_http};

mod support;

/// Harness options (parsed by hand: `cargo bench` passes its own `--bench` flag too).
struct McpBenchArgs {
    calls: usize,
    cold_starts: usize,
    seconds: u64,
    sessions: Vec<usize>,
    json: bool,
    /// The ledger's `storage.durability` for every part of the run: `full` (the default, an
    /// fsync before a recorded call is answered) or `relaxed` (what runs C–E measured).
    durability: sluicegate_ledger::Durability,
}

impl McpBenchArgs {
    fn parse() -> anyhow::Result<McpBenchArgs> {
        let mut a = McpBenchArgs {
            calls: 5000,
            cold_starts: 30,
            seconds: 3,
            sessions: vec![1, 4, 16],
            json: false,
            durability: sluicegate_ledger::Durability::Full,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().context("missing value");
            match arg.as_str() {
                "--calls" => a.calls = value()?.parse()?,
                "--cold-starts" => a.cold_starts = value()?.parse()?,
                "--seconds" => a.seconds = value()?.parse()?,
                "--sessions" => {
                    a.sessions = value()?
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()?
                }
                "--json" => a.json = true,
                "--durability" => {
                    let v = value()?;
                    a.durability = sluicegate_ledger::Durability::parse(&v)
                        .with_context(|| format!("--durability full|relaxed, not {v:?}"))?;
                }
                // `cargo bench` adds `--bench`; a name filter may follow it.
                _ => {}
            }
        }
        Ok(a)
    }
}

const READ: &str = "billing.inspect_invoice";
/// What the source crate renders for the read capability below (SQLite dialect).
const BARE_SQL: &str = "SELECT id, customer_name, status, amount_cents, late_fee_cents, waiver_reason, updated_at, tenant_id FROM main.invoices WHERE id = ?1 AND tenant_id = ?2 LIMIT 1";

fn config_json(durability: sluicegate_ledger::Durability) -> Value {
    json!({
        "version": 1,
        "mode": "review",
        "storage": {"durability": durability.as_str()},
        "sources": {"billing_app": {"engine": "sqlite", "read_url_env": "BENCH_APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "BENCH_TENANT", "principal_env": "BENCH_PRINCIPAL"}},
        "capabilities": [{
            "name": READ,
            "kind": "read",
            "source": "billing_app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string", "required": true, "max_length": 64}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "customer_name", "status", "amount_cents", "late_fee_cents", "waiver_reason", "updated_at"]
        }]
    })
}

struct Setup {
    dir: PathBuf,
    app_db: PathBuf,
    config: PathBuf,
    exe: PathBuf,
}

impl Setup {
    fn new(durability: sluicegate_ledger::Durability) -> anyhow::Result<Setup> {
        let path = std::env::temp_dir().join(format!("sluicegate-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        let app_db = path.join("app.db");
        sluicegate_source::sample_app::create(&app_db)?;
        let config = path.join("sluicegate.json");
        std::fs::write(
            &config,
            serde_json::to_string_pretty(&config_json(durability))?,
        )?;
        // The server is the built `sluicegate` binary, never this harness itself (which would
        // start itself again, recursively).
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_sluicegate"));
        if exe == std::env::current_exe()? {
            bail!("the harness must drive the sluicegate binary, not itself");
        }
        Ok(Setup {
            dir: path,
            app_db,
            config,
            exe,
        })
    }

    fn server(&self, store: &str, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(["mcp"])
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--store")
            .arg(self.dir.join(store))
            .env(
                "BENCH_APP_URL",
                format!("sqlite://{}", self.app_db.display()),
            )
            .env("BENCH_TENANT", "acme")
            .env("BENCH_PRINCIPAL", "bench")
            .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
            .env_remove("SLUICEGATE_LOG")
            .current_dir(&self.dir);
        c
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Resident memory of a process in KiB (Linux `/proc`): peak, current, and the current split
/// into anonymous memory (heap, stacks) and file pages (mostly this binary's mapped code).
#[derive(Default, Clone, Copy)]
struct Rss {
    peak: u64,
    now: u64,
    anon: u64,
    file: u64,
}

fn rss_kib(pid: u32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Rss {
        peak: field("VmHWM:"),
        now: field("VmRSS:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Stdio2 {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Stdio2 {
    fn spawn(mut cmd: Command) -> anyhow::Result<Stdio2> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?);
        Ok(Stdio2 {
            child,
            stdin,
            stdout,
            line: String::new(),
        })
    }

    fn send(&mut self, msg: &str) -> anyhow::Result<()> {
        self.stdin.write_all(msg.as_bytes())?;
        self.stdin.write_all(b"\n")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn recv(&mut self) -> anyhow::Result<&str> {
        self.line.clear();
        if self.stdout.read_line(&mut self.line)? == 0 {
            bail!("server closed stdout");
        }
        Ok(&self.line)
    }

    fn initialize(&mut self) -> anyhow::Result<()> {
        self.send(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"sluicegate-bench","version":"1"}}}"#)?;
        let line = self.recv()?;
        if !line.contains("\"serverInfo\"") {
            bail!("unexpected initialize response: {line}");
        }
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
    }

    fn finish(mut self) -> anyhow::Result<()> {
        drop(self.stdin);
        self.child.wait()?;
        Ok(())
    }
}

fn read_call(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{READ}","arguments":{{"invoice_id":"INV-3001"}}}}}}"#
    )
}

fn cold_start(s: &Setup, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    // One throwaway run creates the ledger, as a first install would; the measured runs open
    // an existing ledger, which is the everyday case.
    for i in 0..=runs {
        let start = Instant::now();
        let mut server = Stdio2::spawn(s.server("cold.db", &["serve"]))?;
        server.initialize()?;
        if i > 0 {
            times.push(start.elapsed());
        }
        server.finish()?;
    }
    times.sort();
    Ok(times)
}

struct StdioResult {
    latencies: Vec<Duration>,
    /// `ping` round trips: the floor of MCP framing, pipes and process wake-ups.
    pings: Vec<Duration>,
    cpu_per_call_us: f64,
    rss: Rss,
    evidence_recorded: i64,
    audit_recorded: i64,
}

fn stdio_latency(s: &Setup, calls: usize) -> anyhow::Result<StdioResult> {
    let mut server = Stdio2::spawn(s.server("stdio.db", &["serve"]))?;
    server.initialize()?;
    for id in 1..=200u64 {
        server.send(&read_call(id))?;
        server.recv()?;
    }
    let mut latencies = Vec::with_capacity(calls);
    let cpu_before = cpu_time(server.child.id());
    for id in 0..calls as u64 {
        let msg = read_call(1000 + id);
        let start = Instant::now();
        server.send(&msg)?;
        let line = server.recv()?;
        latencies.push(start.elapsed());
        if !line.contains("\"status\":\"ok\"") {
            bail!("read call failed: {line}");
        }
    }
    let cpu = cpu_time(server.child.id()).saturating_sub(cpu_before);
    let mut pings = Vec::with_capacity(calls);
    for id in 0..calls as u64 {
        let msg = format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"ping"}}"#,
            100_000 + id
        );
        let start = Instant::now();
        server.send(&msg)?;
        server.recv()?;
        pings.push(start.elapsed());
    }
    pings.sort();
    let cpu_per_call_us = cpu.as_secs_f64() * 1e6 / calls.max(1) as f64;
    let rss = rss_kib(server.child.id());
    server.finish()?;
    latencies.sort();
    let ledger = sluicegate_ledger::Ledger::open_existing(&s.dir.join("stdio.db"))?;
    let stats = ledger.stats()?;
    Ok(StdioResult {
        latencies,
        pings,
        cpu_per_call_us,
        rss,
        evidence_recorded: stats.evidence_bundles,
        audit_recorded: stats.query_audit,
    })
}

fn bare_query(app_db: &Path, calls: usize) -> anyhow::Result<Vec<Duration>> {
    let conn =
        rusqlite::Connection::open_with_flags(app_db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(BARE_SQL)?;
    let mut run = || -> anyhow::Result<()> {
        let mut rows = stmt.query(["INV-3001", "acme"])?;
        let row = rows.next()?.context("no row")?;
        for i in 0..8 {
            let _ = row.get_ref(i)?;
        }
        Ok(())
    };
    for _ in 0..200 {
        run()?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        run()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

/// The same read in-process, without MCP: `AgentApi::call` (plan, source read, evidence and
/// audit written to the ledger) and `Surface::call` (plus routing and schema validation).
fn in_process(s: &Setup, calls: usize) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    use std::collections::HashMap;
    use std::sync::Arc;

    let text = std::fs::read_to_string(&s.config)?;
    let (validation, config) = sluicegate_core::config::load_str(&text);
    let config = match config {
        Some(c) if validation.ok => Arc::new(c),
        _ => bail!("bench config is invalid"),
    };
    let env = sluicegate_runtime::Env::from_map(HashMap::from([
        (
            "BENCH_APP_URL".to_string(),
            format!("sqlite://{}", s.app_db.display()),
        ),
        ("BENCH_TENANT".to_string(), "acme".to_string()),
        ("BENCH_PRINCIPAL".to_string(), "bench".to_string()),
    ]));
    let ledger = sluicegate_ledger::Ledger::open_with(&s.dir.join("inproc.db"), config.durability)?;
    let api = sluicegate_runtime::AgentApi::new(config, ledger, env, None);
    let surface =
        sluicegate_mcp::Surface::new(api.clone(), sluicegate_core::tools::AliasMode::Canonical);
    let args = json!({"invoice_id": "INV-3001"});
    let map = args.as_object().cloned().unwrap_or_default();
    // The same runtime flavour `mcp serve` uses for stdio.
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        for _ in 0..200 {
            api.call(READ, &map).await;
        }
        let mut runtime = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            api.call(READ, &map).await;
            runtime.push(t.elapsed());
        }
        let mut served = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            let _ = surface.call(READ, Some(args.clone())).await;
            served.push(t.elapsed());
        }
        runtime.sort();
        served.sort();
        Ok((runtime, served))
    })
}

struct HttpLevel {
    sessions: usize,
    cpu_per_call_us: f64,
    calls: u64,
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn http_call(
    client: &reqwest::Client,
    url: &str,
    session: &str,
    id: u64,
) -> anyhow::Result<()> {
    let msg = post_message(client, url, session, read_call(id)).await?;
    if msg.pointer("/result/structuredContent/status") != Some(&json!("ok")) {
        bail!("read call failed: {msg}");
    }
    Ok(())
}

async fn http_level(
    url: &str,
    pid: u32,
    sessions: usize,
    seconds: u64,
) -> anyhow::Result<HttpLevel> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let mut ids = Vec::new();
    for _ in 0..sessions {
        ids.push(open_session(&client, url).await?);
    }
    // Warm up every session once.
    for s in &ids {
        http_call(&client, url, s, 1).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let cpu_before = cpu_time(pid);
    let mut tasks = Vec::new();
    for s in ids {
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut id = 10;
            while Instant::now() < deadline {
                let t = Instant::now();
                http_call(&client, &url, &s, id).await?;
                lat.push(t.elapsed());
                id += 1;
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    all.sort();
    Ok(HttpLevel {
        sessions,
        cpu_per_call_us: cpu.as_secs_f64() * 1e6 / all.len().max(1) as f64,
        calls: all.len() as u64,
        per_second: all.len() as f64 / elapsed,
        p50_us: pct(&all, 50.0),
        p99_us: pct(&all, 99.0),
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mcp_serving: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let a = McpBenchArgs::parse()?;
    let setup = Setup::new(a.durability)?;
    eprintln!("bench: cold start ({} runs)…", a.cold_starts);
    let cold = cold_start(&setup, a.cold_starts)?;
    eprintln!("bench: stdio read latency ({} calls)…", a.calls);
    let stdio = stdio_latency(&setup, a.calls)?;
    let bare = bare_query(&setup.app_db, a.calls)?;
    let (agent, surface) = in_process(&setup, a.calls)?;
    eprintln!(
        "bench: Streamable HTTP throughput ({:?} sessions, {} s each)…",
        a.sessions, a.seconds
    );
    let (mut server, url) =
        start_http(setup.server("http.db", &["serve-streamable-http", "--port", "0"]))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut levels = Vec::new();
    for n in &a.sessions {
        levels.push(rt.block_on(http_level(&url, server.id(), *n, a.seconds))?);
    }
    let http_rss = rss_kib(server.id());
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    server.wait()?;

    let stdio_p50 = pct(&stdio.latencies, 50.0);
    let bare_p50 = pct(&bare, 50.0);
    let report = json!({
        "durability": a.durability.as_str(),
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)},
        "cold_start_ms": {
            "min": cold.first().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            "p50": pct(&cold, 50.0) / 1e3,
            "p90": pct(&cold, 90.0) / 1e3,
        },
        "stdio_ping_us": {"p50": pct(&stdio.pings, 50.0), "p99": pct(&stdio.pings, 99.0)},
        "stdio_read_us": {"p50": stdio_p50, "p99": pct(&stdio.latencies, 99.0), "calls": stdio.latencies.len(), "server_cpu_per_call": stdio.cpu_per_call_us},
        "bare_query_us": {"p50": bare_p50, "p99": pct(&bare, 99.0)},
        "in_process_us": {
            "agent_api_call_p50": pct(&agent, 50.0),
            "agent_api_call_p99": pct(&agent, 99.0),
            "surface_call_p50": pct(&surface, 50.0),
            "surface_call_p99": pct(&surface, 99.0),
        },
        "stdio_overhead_p50_us": stdio_p50 - bare_p50,
        "ledger": {"query_audit_records": stdio.audit_recorded, "evidence_bundles": stdio.evidence_recorded},
        "stdio_rss_mib": {"peak": mib(stdio.rss.peak), "anon": mib(stdio.rss.anon), "file": mib(stdio.rss.file)},
        "http": levels.iter().map(|l| json!({
            "sessions": l.sessions, "calls": l.calls, "calls_per_second": l.per_second, "p50_us": l.p50_us, "p99_us": l.p99_us, "server_cpu_per_call_us": l.cpu_per_call_us,
        })).collect::<Vec<_>>(),
        "http_rss_mib": {"peak": mib(http_rss.peak), "now": mib(http_rss.now), "anon": mib(http_rss.anon), "file": mib(http_rss.file)},
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let f = |p: &str| report.pointer(p).and_then(Value::as_f64).unwrap_or(0.0);
    println!(
        "Sluicegate MCP serving benchmark (SQLite source, one read capability, {} ledger)\n",
        a.durability.as_str()
    );
    println!(
        "cold start to first response: p50 {:.1} ms, min {:.1} ms, p90 {:.1} ms",
        f("/cold_start_ms/p50"),
        f("/cold_start_ms/min"),
        f("/cold_start_ms/p90")
    );
    println!(
        "stdio read call: p50 {:.0} µs, p99 {:.0} µs, server CPU {:.0} µs/call ({} calls; ledger: {} query-audit records, {} evidence bundles)",
        f("/stdio_read_us/p50"),
        f("/stdio_read_us/p99"),
        f("/stdio_read_us/server_cpu_per_call"),
        stdio.latencies.len(),
        stdio.audit_recorded,
        stdio.evidence_recorded
    );
    println!(
        "stdio ping (MCP framing, pipes, wake-ups; no tool work): p50 {:.0} µs, p99 {:.0} µs",
        f("/stdio_ping_us/p50"),
        f("/stdio_ping_us/p99")
    );
    println!(
        "bare query (rusqlite, prepared, open connection): p50 {:.1} µs, p99 {:.1} µs",
        f("/bare_query_us/p50"),
        f("/bare_query_us/p99")
    );
    println!(
        "in-process, no MCP: AgentApi::call p50 {:.0} µs (p99 {:.0}), Surface::call (+ routing, schema validation) p50 {:.0} µs (p99 {:.0})",
        f("/in_process_us/agent_api_call_p50"),
        f("/in_process_us/agent_api_call_p99"),
        f("/in_process_us/surface_call_p50"),
        f("/in_process_us/surface_call_p99")
    );
    println!(
        "stdio overhead above the bare query (p50): {:.0} µs",
        f("/stdio_overhead_p50_us")
    );
    println!(
        "stdio server peak RSS: {:.1} MiB (at the end: {:.1} MiB anonymous, {:.1} MiB file-backed)",
        f("/stdio_rss_mib/peak"),
        f("/stdio_rss_mib/anon"),
        f("/stdio_rss_mib/file")
    );
    println!("\nStreamable HTTP (sessions, read calls):");
    for l in &levels {
        println!(
            "  {:>2} sessions: {:>7.0} calls/s  p50 {:>6.0} µs  p99 {:>6.0} µs  server CPU {:>4.0} µs/call  ({} calls)",
            l.sessions, l.per_second, l.p50_us, l.p99_us, l.cpu_per_call_us, l.calls
        );
    }
    println!(
        "HTTP server peak RSS: {:.1} MiB (after the last level: {:.1} MiB anonymous, {:.1} MiB file-backed)",
        f("/http_rss_mib/peak"),
        f("/http_rss_mib/anon"),
        f("/http_rss_mib/file")
    );
    Ok(ExitCode::SUCCESS)
}
