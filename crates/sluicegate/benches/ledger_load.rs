//! The ledger load harness: `cargo bench -p sluicegate --bench ledger_load`.
//!
//! Starts the release `sluicegate` binary as a Streamable HTTP server on a throwaway SQLite
//! sample app, once with the durable default (the WAL fsynced after each commit group, before
//! its callers are answered) and once with `"storage": {"durability": "relaxed"}`, and drives
//! proposals (each one a distinct change, so none is deduplicated) and reads at several
//! concurrent sessions. While it runs, the WAL file's size is sampled; at the end the main
//! file's size per recorded call is reported. Figures are recorded in docs/performance.md.
//!
//! Options after `--`: `--seconds N` per level (3), `--sessions 1,4,16`, `--json`,
//! `--latencies DIR` (each call's send time and latency, in µs from the level's start, one
//! line per call, to `DIR/<durability>-<kind>-<sessions>.txt`: whether the slow calls come
//! together, as stalls that hold every call in flight, or one at a time).
//! `SLUICEGATE_BENCH_BIN=PATH` serves with another build of `sluicegate` (A/B comparisons).
//!
//! By default every session sends its next call as soon as the last one is answered (a closed
//! loop): that finds the most calls per second, but then the latency is set by the number of
//! sessions (16 sessions at 2,000 calls/s wait 8 ms on average, however the time is spent).
//! `--rate-proposals N` and `--rate-reads N` pace a kind instead: the sessions together send N
//! calls per second on a fixed schedule, and each call's latency counts from when it was due,
//! so a call held up by a slow answer before it carries that delay (no coordinated omission).
//! That is the latency at a given load.
//!
//! After its closed-loop levels the durable run also serves issue 17's goal rates, paced, at
//! 16 sessions (2,000 proposals/s, then 5,000 reads/s), and the report ends with the goal's
//! check: throughput from the closed loop, p99 at the goal rate. `--no-goal` leaves that out.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use support::{TOKEN, open_session, pct, post_message, start_http};

mod support;

const READ: &str = "billing.inspect_invoice";
const PROPOSE: &str = "billing.propose_late_fee_waiver";

struct Args {
    seconds: u64,
    sessions: Vec<usize>,
    json: bool,
    /// Calls per second (all sessions together) for proposals and reads; `None`: closed loop.
    rate_proposals: Option<f64>,
    rate_reads: Option<f64>,
    latencies: Option<PathBuf>,
    /// Serve the goal rates too (durable run only).
    goal: bool,
}

/// The goal: at 16 sessions, durable, at least this many calls per second of each kind, with
/// a p99 of at most [`GOAL_P99_US`].
const GOAL_SESSIONS: usize = 16;
const GOAL_RATES: [(&str, f64); 2] = [("proposals", 2_000.0), ("reads", 5_000.0)];
const GOAL_P99_US: f64 = 10_000.0;

impl Args {
    fn rate(&self, kind: &str) -> Option<f64> {
        if kind == "proposals" {
            self.rate_proposals
        } else {
            self.rate_reads
        }
    }

    fn parse() -> anyhow::Result<Args> {
        let mut a = Args {
            seconds: 3,
            sessions: vec![1, 4, 16],
            json: false,
            rate_proposals: None,
            rate_reads: None,
            latencies: None,
            goal: true,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--seconds" => a.seconds = it.next().context("--seconds N")?.parse()?,
                "--sessions" => {
                    a.sessions = it
                        .next()
                        .context("--sessions 1,4,16")?
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()?;
                }
                "--json" => a.json = true,
                "--no-goal" => a.goal = false,
                "--latencies" => a.latencies = Some(it.next().context("--latencies DIR")?.into()),
                "--rate-proposals" => {
                    a.rate_proposals = Some(it.next().context("--rate-proposals N")?.parse()?);
                }
                "--rate-reads" => {
                    a.rate_reads = Some(it.next().context("--rate-reads N")?.parse()?)
                }
                _ => {} // `cargo bench` adds `--bench`
            }
        }
        Ok(a)
    }
}

fn config_json(durability: &str) -> Value {
    let target = json!({"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"});
    json!({
        "version": 1,
        "mode": "review",
        "storage": {"durability": durability},
        "sources": {"billing_app": {"engine": "sqlite", "read_url_env": "BENCH_APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "BENCH_TENANT", "principal_env": "BENCH_PRINCIPAL"}},
        "capabilities": [
            {
                "name": READ, "kind": "read", "source": "billing_app", "target": target,
                "args": {"invoice_id": {"type": "string", "required": true, "max_length": 64}},
                "lookup": {"id_from_arg": "invoice_id"},
                "visible_columns": ["id", "customer_name", "status", "amount_cents", "late_fee_cents", "waiver_reason", "updated_at"]
            },
            {
                "name": PROPOSE, "kind": "proposal", "source": "billing_app", "target": target,
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

/// One level: calls of one kind from `sessions` concurrent sessions for a fixed time.
struct Level {
    kind: &'static str,
    sessions: usize,
    /// The paced rate asked for, or `None` for a closed loop.
    paced: Option<f64>,
    calls: usize,
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
}

/// One durability setting's run.
struct Run {
    durability: &'static str,
    levels: Vec<Level>,
    max_wal_bytes: u64,
    recorded_calls: u64,
    main_file_bytes: u64,
}

fn tool_call(id: u64, tool: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
        .to_string()
}

async fn call(
    client: &reqwest::Client,
    url: &str,
    session: &str,
    body: String,
) -> anyhow::Result<()> {
    let msg = post_message(client, url, session, body).await?;
    if msg.pointer("/result/isError") == Some(&json!(true)) || msg.get("error").is_some() {
        bail!("call failed: {msg}");
    }
    Ok(())
}

/// A unique change per call, so no proposal is deduplicated into another.
fn body_for(kind: &str, session: usize, i: u64) -> String {
    match kind {
        "proposals" => tool_call(
            i,
            PROPOSE,
            json!({"invoice_id": "INV-3001", "reason": format!("load test s{session} n{i}")}),
        ),
        _ => tool_call(i, READ, json!({"invoice_id": "INV-3001"})),
    }
}

/// When session `n` of `sessions` sends its `i`-th call (from 0) at `rate` calls per second in
/// all: each session every `sessions / rate` seconds, the sessions evenly staggered.
fn due(start: Instant, rate: f64, sessions: usize, n: usize, i: u64) -> Instant {
    let interval = sessions as f64 / rate;
    let offset = interval * n as f64 / sessions as f64;
    start + Duration::from_secs_f64(offset + interval * i as f64)
}

async fn level(
    url: &str,
    kind: &'static str,
    sessions: usize,
    seconds: u64,
    round: usize,
    paced: Option<f64>,
    latencies: Option<PathBuf>,
) -> anyhow::Result<Level> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let mut ids = Vec::new();
    for _ in 0..sessions {
        ids.push(open_session(&client, url).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (n, s) in ids.into_iter().enumerate() {
        let (client, url) = (client.clone(), url.to_string());
        // Session numbers are unique across rounds, so reasons never repeat in one ledger.
        let session = round * 1000 + n;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 1;
            let mut answered = Instant::now();
            loop {
                let sent_at = match paced {
                    None => Instant::now(),
                    Some(rate) => {
                        let due = due(start, rate, sessions, n, i - 1);
                        if due < answered {
                            // Held up by the previous answer: the wait counts.
                            due
                        } else {
                            tokio::time::sleep_until(due.into()).await;
                            // The timer's own lateness (up to a millisecond) is the harness's.
                            Instant::now()
                        }
                    }
                };
                if sent_at >= deadline {
                    break;
                }
                call(&client, &url, &s, body_for(kind, session, i)).await?;
                answered = Instant::now();
                lat.push((sent_at - start, answered - sent_at));
                i += 1;
            }
            anyhow::Ok(lat)
        }));
    }
    let mut calls = Vec::new();
    for t in tasks {
        calls.extend(t.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(path) = latencies {
        calls.sort();
        let lines: String = calls
            .iter()
            .map(|(at, l)| format!("{} {}\n", at.as_micros(), l.as_micros()))
            .collect();
        std::fs::write(path, lines)?;
    }
    let mut all: Vec<Duration> = calls.into_iter().map(|(_, l)| l).collect();
    all.sort();
    Ok(Level {
        kind,
        sessions,
        paced,
        calls: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50_us: pct(&all, 50.0),
        p99_us: pct(&all, 99.0),
    })
}

/// Samples the size of the WAL file until dropped, keeping the largest.
struct WalWatch {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WalWatch {
    fn start(store: &Path) -> WalWatch {
        let wal = PathBuf::from(format!("{}-wal", store.display()));
        let (stop, max) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(meta) = std::fs::metadata(&wal) {
                    m.fetch_max(meta.len(), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        WalWatch {
            stop,
            max,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.max.load(Ordering::Relaxed)
    }
}

fn server(exe: &Path, dir: &Path, config: &Path, store: &Path, app_db: &Path) -> Command {
    let mut c = Command::new(exe);
    c.args(["mcp", "serve-streamable-http", "--port", "0", "--config"])
        .arg(config)
        .arg("--store")
        .arg(store)
        .env("BENCH_APP_URL", format!("sqlite://{}", app_db.display()))
        .env("BENCH_TENANT", "acme")
        .env("BENCH_PRINCIPAL", "bench")
        .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
        .env_remove("SLUICEGATE_LOG")
        .current_dir(dir);
    c
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    // SIGTERM: the server stops cleanly (its writer thread drains) before the file is read.
    Command::new("kill").arg(child.id().to_string()).status()?;
    child.wait()?;
    Ok(())
}

/// Calls on record (evidence bundles, one per call here since every call differs or repeats
/// a read that shares its bundle, plus query-audit records) and the main file's size after a
/// full checkpoint.
fn ledger_size(store: &Path) -> anyhow::Result<(u64, u64)> {
    let conn = rusqlite::Connection::open(store)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let calls: i64 = conn.query_row("SELECT COUNT(*) FROM query_audit", [], |r| r.get(0))?;
    drop(conn);
    Ok((calls as u64, std::fs::metadata(store)?.len()))
}

fn run_one(
    durability: &'static str,
    a: &Args,
    dir: &Path,
    app_db: &Path,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Run> {
    // SLUICEGATE_BENCH_BIN serves with another build (an A/B of a change, run alternately).
    let exe = std::env::var_os("SLUICEGATE_BENCH_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_sluicegate")),
        PathBuf::from,
    );
    let config = dir.join(format!("sluicegate-{durability}.json"));
    std::fs::write(&config, config_json(durability).to_string())?;
    let store = dir.join(format!("ledger-{durability}.db"));
    let (child, url) = start_http(server(&exe, dir, &config, &store, app_db))?;
    let watch = WalWatch::start(&store);
    let mut levels = Vec::new();
    for (round, n) in a.sessions.iter().enumerate() {
        for kind in ["proposals", "reads"] {
            match a.rate(kind) {
                Some(rate) => eprintln!(
                    "bench: {durability} ledger, {kind} at {n} sessions, paced at {rate}/s…"
                ),
                None => eprintln!("bench: {durability} ledger, {kind} at {n} sessions…"),
            }
            let latencies = a
                .latencies
                .as_ref()
                .map(|d| d.join(format!("{durability}-{kind}-{n}.txt")));
            levels.push(rt.block_on(level(
                &url,
                kind,
                *n,
                a.seconds,
                round,
                a.rate(kind),
                latencies,
            ))?);
        }
    }
    if a.goal && durability == "full" {
        for (kind, rate) in GOAL_RATES {
            eprintln!(
                "bench: {durability} ledger, {kind} at {GOAL_SESSIONS} sessions, paced at the goal's {rate}/s…"
            );
            let round = a.sessions.len();
            let paced = level(
                &url,
                kind,
                GOAL_SESSIONS,
                a.seconds,
                round,
                Some(rate),
                None,
            );
            levels.push(rt.block_on(paced)?);
        }
    }
    let max_wal_bytes = watch.finish();
    stop(child)?;
    let (recorded_calls, main_file_bytes) = ledger_size(&store)?;
    Ok(Run {
        durability,
        levels,
        max_wal_bytes,
        recorded_calls,
        main_file_bytes,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger_load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let a = Args::parse()?;
    let dir = tempfile::tempdir()?;
    let app_db = dir.path().join("app.db");
    sluicegate_source::sample_app::create(&app_db)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let runs = [
        run_one("full", &a, dir.path(), &app_db, &rt)?,
        run_one("relaxed", &a, dir.path(), &app_db, &rt)?,
    ];
    if a.json {
        let doc: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "durability": r.durability,
                    "max_wal_bytes": r.max_wal_bytes,
                    "recorded_calls": r.recorded_calls,
                    "main_file_bytes": r.main_file_bytes,
                    "levels": r.levels.iter().map(|l| json!({"kind": l.kind, "sessions": l.sessions, "paced_per_second": l.paced, "calls": l.calls, "per_second": l.per_second, "p50_us": l.p50_us, "p99_us": l.p99_us})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    for r in &runs {
        println!(
            "\n{} ledger: WAL peak {:.1} MiB; main file {:.1} MiB for {} recorded calls = {} bytes/call",
            r.durability,
            r.max_wal_bytes as f64 / 1048576.0,
            r.main_file_bytes as f64 / 1048576.0,
            r.recorded_calls,
            r.main_file_bytes / r.recorded_calls.max(1)
        );
        for l in &r.levels {
            let paced = l
                .paced
                .map_or(String::new(), |rate| format!(" (paced at {rate:.0}/s)"));
            println!(
                "  {:>9} at {:>2} sessions: {:>7.0} calls/s  p50 {:>6.0} µs  p99 {:>6.0} µs  ({} calls){paced}",
                l.kind, l.sessions, l.per_second, l.p50_us, l.p99_us, l.calls
            );
        }
    }
    println!("\nfull / relaxed throughput (same run):");
    let closed = |l: &&Level| l.paced.is_none();
    for (f, r) in runs[0]
        .levels
        .iter()
        .filter(closed)
        .zip(runs[1].levels.iter().filter(closed))
    {
        println!(
            "  {:>9} at {:>2} sessions: {:.2}",
            f.kind,
            f.sessions,
            f.per_second / r.per_second.max(1e-9)
        );
    }
    if a.goal {
        print_goal(&runs[0].levels);
    }
    Ok(())
}

/// The goal's check from the durable run: each kind's closed loop at 16 sessions (its
/// throughput against the goal rate, and its p99) and the same kind paced at the goal rate
/// (its p99). Met when either serves at least the goal rate with a p99 within the goal.
fn print_goal(levels: &[Level]) {
    println!(
        "\ngoal at {GOAL_SESSIONS} sessions, durable (≥ rate with p99 ≤ {:.0} ms, closed loop or paced):",
        GOAL_P99_US / 1000.0
    );
    for (kind, rate) in GOAL_RATES {
        let at = |paced: bool| {
            levels.iter().find(|l| {
                l.kind == kind && l.sessions == GOAL_SESSIONS && l.paced.is_some() == paced
            })
        };
        let (Some(closed), Some(paced)) = (at(false), at(true)) else {
            println!(
                "  {kind:>9}: needs a closed-loop level at {GOAL_SESSIONS} sessions (--sessions)"
            );
            continue;
        };
        // A paced level that kept up sent its calls on schedule: within 2 % of the rate.
        let holds = |l: &Level, floor: f64| l.per_second >= floor && l.p99_us <= GOAL_P99_US;
        let met = holds(closed, rate) || holds(paced, rate * 0.98);
        println!(
            "  {kind:>9}: closed loop {:.0}/s, p99 {:.1} ms; paced at {rate:.0}/s, p99 {:.1} ms: {}",
            closed.per_second,
            closed.p99_us / 1000.0,
            paced.p99_us / 1000.0,
            if met { "met" } else { "NOT met" }
        );
    }
}
