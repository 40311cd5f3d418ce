//! The fleet load harness: `bash scripts/test.sh --env-only -- cargo bench -p sluicegate
//! --bench fleet_load`.
//!
//! Proposals per second over Streamable HTTP from real `sluicegate mcp serve` processes, in
//! one run: the SQLite ledger on one server (durable, then relaxed), then 1, 2 and 3 servers
//! sharing one PostgreSQL ledger (a fresh database for each on the test server
//! `SLUICEGATE_TEST_POSTGRES_URL` names, prepared by `sluicegate store migrate`; the ledger's
//! durability is the default, `synchronous_commit = on`, but `scripts/test.sh` starts that
//! server with `fsync=off`, so its commits never wait for the disk). The sessions (16 by default) are opened round-robin across
//! the servers and each sends proposals, every one a distinct change (so none is
//! deduplicated), for a fixed time. Every server reads the same SQLite sample app: a proposal
//! only reads its row, so the source is not what is measured, and a PostgreSQL source would
//! share the ledger's database server and blur the ledger's figures.
//!
//! Afterwards the servers are stopped, `sluicegate store stats --json` must count exactly the
//! proposals the clients were answered with, and each answered id must read back through the
//! ledger API: a run that lost a record fails.
//!
//! Options after `--`: `--seconds N` per configuration (5), `--sessions N` (16), `--json`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use sluicegate_test_support::engines::{EngineKind, TestDatabase};
use support::{TOKEN, cpu_time, open_session, pct, post_message, start_http};

mod support;

const PROPOSE: &str = "billing.propose_late_fee_waiver";
const LEDGER_ENV: &str = "BENCH_LEDGER_URL";

struct Args {
    seconds: u64,
    sessions: usize,
    json: bool,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let mut a = Args {
            seconds: 5,
            sessions: 16,
            json: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--seconds" => a.seconds = it.next().context("--seconds N")?.parse()?,
                "--sessions" => a.sessions = it.next().context("--sessions N")?.parse()?,
                "--json" => a.json = true,
                _ => {} // `cargo bench` adds `--bench`
            }
        }
        ensure!(a.sessions > 0, "--sessions must be at least 1");
        Ok(a)
    }
}

fn config_json(storage: Value) -> Value {
    let target = json!({"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"});
    json!({
        "version": 1,
        "mode": "review",
        "storage": storage,
        "sources": {"billing_app": {"engine": "sqlite", "read_url_env": "BENCH_APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "BENCH_TENANT", "principal_env": "BENCH_PRINCIPAL"}},
        "capabilities": [
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

/// Where one configuration's ledger lives (a SQLite file with its durability, or a URL).
enum LedgerAt<'a> {
    Sqlite(PathBuf, &'static str),
    Postgres(&'a TestDatabase),
}

/// One configuration's figures.
struct Run {
    name: String,
    servers: usize,
    proposals: usize,
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
    recorded: u64,
    /// CPU time of all the servers per proposal, in µs.
    server_cpu_us: f64,
    /// Ledger connections open on the database at the end of the load (PostgreSQL only).
    connections: Option<u64>,
    /// Transactions committed on the ledger's database per proposal (PostgreSQL only).
    commits_per_proposal: Option<f64>,
}

/// Transactions committed in the ledger's database so far (the statistics a backend reports
/// when it ends or at most about once a second, so read after the servers stopped).
fn commits(db: &TestDatabase, rt: &tokio::runtime::Runtime) -> anyhow::Result<u64> {
    count(
        db,
        rt,
        "SELECT xact_commit::text FROM pg_stat_database WHERE datname = current_database()",
    )
}

/// A query's single number.
fn count(db: &TestDatabase, rt: &tokio::runtime::Runtime, sql: &str) -> anyhow::Result<u64> {
    let rows = rt.block_on(db.query_text(sql));
    let text = rows.first().and_then(|r| r.first().cloned().flatten());
    Ok(text.context("no row")?.parse()?)
}

/// What the sessions saw: each answered proposal's id and every call's latency.
struct Seen {
    ids: Vec<String>,
    latencies: Vec<Duration>,
}

async fn drive(urls: &[String], sessions: usize, seconds: u64) -> anyhow::Result<(Seen, f64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let mut opened = Vec::new();
    for n in 0..sessions {
        let url = urls[n % urls.len()].clone();
        let session = open_session(&client, &url).await?;
        opened.push((url, session));
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (n, (url, session)) in opened.into_iter().enumerate() {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Seen {
                ids: Vec::new(),
                latencies: Vec::new(),
            };
            let mut i = 1u64;
            while Instant::now() < deadline {
                let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                    "name": PROPOSE,
                    "arguments": {"invoice_id": "INV-3001", "reason": format!("fleet load s{n} n{i}")}
                }})
                .to_string();
                let t = Instant::now();
                let msg = post_message(&client, &url, &session, body).await?;
                let took = t.elapsed();
                // The default result format (v1): a recorded proposal awaits review.
                let content = msg.pointer("/result/structuredContent");
                let id = content
                    .filter(|c| c["status"] == json!("review_required"))
                    .and_then(|c| c["proposal_id"].as_str())
                    .filter(|_| msg.pointer("/result/isError") != Some(&json!(true)));
                let Some(id) = id else {
                    bail!("proposal not recorded: {msg}");
                };
                seen.ids.push(id.to_string());
                seen.latencies.push(took);
                i += 1;
            }
            anyhow::Ok(seen)
        }));
    }
    let mut all = Seen {
        ids: Vec::new(),
        latencies: Vec::new(),
    };
    for t in tasks {
        let seen = t.await??;
        all.ids.extend(seen.ids);
        all.latencies.extend(seen.latencies);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

fn sluicegate(exe: &Path, dir: &Path, ledger: &LedgerAt) -> Command {
    let mut c = Command::new(exe);
    c.env(
        "BENCH_APP_URL",
        format!("sqlite://{}", dir.join("app.db").display()),
    )
    .env("BENCH_TENANT", "acme")
    .env("BENCH_PRINCIPAL", "bench")
    .env("SLUICEGATE_HTTP_TOKEN", TOKEN)
    .env_remove("SLUICEGATE_LOG")
    .env_remove("SLUICEGATE_STORE")
    .env_remove("SLUICEGATE_CONFIG")
    .current_dir(dir);
    if let LedgerAt::Postgres(db) = ledger {
        c.env(LEDGER_ENV, db.url());
    }
    c
}

/// Runs a CLI command with the config (and `--store` on SQLite) and returns its stdout.
fn cli(
    exe: &Path,
    dir: &Path,
    config: &Path,
    ledger: &LedgerAt,
    args: &[&str],
) -> anyhow::Result<String> {
    let mut c = sluicegate(exe, dir, ledger);
    c.args(args).arg("--config").arg(config);
    if let LedgerAt::Sqlite(store, _) = ledger {
        c.arg("--store").arg(store);
    }
    let out = c.output()?;
    ensure!(
        out.status.success(),
        "sluicegate {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    // SIGTERM: the server stops cleanly (its writer drains) before the ledger is counted.
    Command::new("kill").arg(child.id().to_string()).status()?;
    child.wait()?;
    Ok(())
}

fn run_one(
    name: &str,
    servers: usize,
    ledger: LedgerAt,
    a: &Args,
    dir: &Path,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Run> {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sluicegate"));
    let postgres = matches!(ledger, LedgerAt::Postgres(_));
    let storage = match &ledger {
        LedgerAt::Sqlite(_, durability) => json!({"durability": durability}),
        LedgerAt::Postgres(_) => json!({"engine": "postgres", "url_env": LEDGER_ENV}),
    };
    let config = dir.join(format!("sluicegate-{}.json", name.replace(' ', "-")));
    std::fs::write(&config, config_json(storage).to_string())?;
    if postgres {
        cli(&exe, dir, &config, &ledger, &["store", "migrate"])?;
    }
    let commits_before = match &ledger {
        LedgerAt::Postgres(db) => Some(commits(db, rt)?),
        LedgerAt::Sqlite(..) => None,
    };
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..servers {
        let mut c = sluicegate(&exe, dir, &ledger);
        c.args([
            "mcp",
            "serve",
            "--transport",
            "streamable-http",
            "--port",
            "0",
            "--config",
        ])
        .arg(&config);
        if let LedgerAt::Sqlite(store, _) = &ledger {
            c.arg("--store").arg(store);
        }
        let (child, url) = start_http(c)?;
        children.push(child);
        urls.push(url);
    }
    eprintln!(
        "bench: {name}: {} sessions on {servers} server(s)…",
        a.sessions
    );
    let driven = rt.block_on(drive(&urls, a.sessions, a.seconds));
    let server_cpu: Duration = children.iter().map(|c| cpu_time(c.id())).sum();
    let connections = match &ledger {
        LedgerAt::Postgres(db) => Some(count(
            db,
            rt,
            "SELECT count(*)::text FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'sluicegate-ledger'",
        )?),
        LedgerAt::Sqlite(..) => None,
    };
    for child in children {
        stop(child)?;
    }
    let (mut seen, elapsed) = driven?;
    let stats: Value = serde_json::from_str(&cli(
        &exe,
        dir,
        &config,
        &ledger,
        &["store", "stats", "--json"],
    )?)?;
    let recorded = stats["proposals"]
        .as_u64()
        .context("store stats: no proposals")?;
    let distinct: HashSet<&String> = seen.ids.iter().collect();
    ensure!(
        distinct.len() == seen.ids.len(),
        "{name}: {} proposal ids answered twice",
        seen.ids.len() - distinct.len()
    );
    ensure!(
        recorded == seen.ids.len() as u64,
        "{name}: clients were answered with {} proposals, the ledger holds {recorded}",
        seen.ids.len()
    );
    let commits_per_proposal = match (&ledger, commits_before) {
        (LedgerAt::Postgres(db), Some(before)) => {
            Some((commits(db, rt)? - before) as f64 / recorded.max(1) as f64)
        }
        _ => None,
    };
    // And each answered id is that proposal, read back through the ledger API.
    let opened = match &ledger {
        LedgerAt::Sqlite(store, _) => sluicegate_ledger::Ledger::open_existing(store)?,
        LedgerAt::Postgres(db) => sluicegate_ledger::Ledger::open_postgres(
            db.url(),
            LEDGER_ENV,
            sluicegate_ledger::Durability::Full,
        )?,
    };
    for id in &seen.ids {
        let stored = opened
            .proposal(id)
            .with_context(|| format!("{name}: answered proposal {id} is not in the ledger"))?;
        ensure!(
            stored.proposal_id == *id,
            "{name}: {id} read back as {}",
            stored.proposal_id
        );
    }
    drop(opened);
    seen.latencies.sort();
    Ok(Run {
        name: name.to_string(),
        servers,
        proposals: seen.ids.len(),
        per_second: seen.ids.len() as f64 / elapsed,
        p50_us: pct(&seen.latencies, 50.0),
        p99_us: pct(&seen.latencies, 99.0),
        recorded,
        server_cpu_us: server_cpu.as_secs_f64() * 1e6 / recorded.max(1) as f64,
        commits_per_proposal,
        connections,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let a = Args::parse()?;
    let dir = tempfile::tempdir()?;
    sluicegate_source::sample_app::create(&dir.path().join("app.db"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut runs = Vec::new();
    for durability in ["full", "relaxed"] {
        let store = dir.path().join(format!("ledger-{durability}.db"));
        let name = format!("sqlite {durability}");
        let ledger = LedgerAt::Sqlite(store, durability);
        runs.push(run_one(&name, 1, ledger, &a, dir.path(), &rt)?);
    }
    for servers in 1..=3 {
        let db = rt
            .block_on(TestDatabase::create(EngineKind::Postgres, "fleet_bench"))
            .with_context(|| {
                format!(
                    "{} is not set: run through `bash scripts/test.sh --env-only -- cargo bench -p sluicegate --bench fleet_load`",
                    EngineKind::Postgres.env_var()
                )
            })?;
        let run = run_one(
            &format!("postgres x{servers}"),
            servers,
            LedgerAt::Postgres(&db),
            &a,
            dir.path(),
            &rt,
        );
        rt.block_on(db.drop_database());
        runs.push(run?);
    }
    // Ratios against the one-server SQLite ledger (durable) and the one-server PostgreSQL one.
    let base = runs[0].per_second.max(1e-9);
    let pg1 = runs[2].per_second.max(1e-9);
    if a.json {
        let doc: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "ledger": r.name, "servers": r.servers, "sessions": a.sessions,
                    "seconds": a.seconds, "proposals": r.proposals, "recorded": r.recorded,
                    "per_second": r.per_second, "p50_us": r.p50_us, "p99_us": r.p99_us,
                    "server_cpu_us_per_proposal": r.server_cpu_us,
                    "commits_per_proposal": r.commits_per_proposal,
                    "ledger_connections": r.connections,
                    "ratio_to_sqlite_full": r.per_second / base,
                    "ratio_to_postgres_x1": r.per_second / pg1,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!(
        "\n{} sessions round-robin over the servers, {} s each; every answered proposal found in the ledger:",
        a.sessions, a.seconds
    );
    for r in &runs {
        println!(
            "  {:>13}, {} server(s): {:>6.0} proposals/s  p50 {:>5.1} ms  p99 {:>5.1} ms  ({} recorded)  {:.2} of sqlite full, {:.2} of postgres x1",
            r.name,
            r.servers,
            r.per_second,
            r.p50_us / 1000.0,
            r.p99_us / 1000.0,
            r.recorded,
            r.per_second / base,
            r.per_second / pg1
        );
        let commits = r.commits_per_proposal.map_or(String::new(), |c| {
            format!(", {c:.3} ledger commits per proposal")
        });
        let conns = r
            .connections
            .map_or(String::new(), |c| format!(", {c} ledger connections"));
        println!(
            "  {:>13}  server CPU {:.0} µs per proposal{commits}{conns}",
            "", r.server_cpu_us
        );
    }
    Ok(())
}
