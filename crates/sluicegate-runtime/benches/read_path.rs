//! The read path, measured against the bare query it wraps.
//!
//! For SQLite (always) and PostgreSQL (when `SLUICEGATE_TEST_POSTGRES_URL` is set) it times:
//! * `bare_query`: the same parameterized SELECT straight through the driver, prepared: for
//!   SQLite on one open connection, for PostgreSQL on the pooled read connection the read path
//!   uses (rows counted, not decoded);
//! * `source_read`: `Sources::read` (pool checkout, rendering, value normalisation);
//! * `agent_read`: `AgentApi::invoke` for a read capability: plan + query + evidence +
//!   query-audit write to the ledger (WAL, one transaction).
//!
//! and then prints per-call p50 / p99 from single timed calls: interleaved (all three kinds in
//! turn), and in runs of consecutive calls of one kind. The consecutive figure is the one the
//! read-path target is judged by (see the comment at that loop for why).
//!
//! Run: `bash scripts/test.sh --env-only -- cargo bench -p sluicegate-runtime --bench read_path`
//! (figures in docs/performance.md). The PostgreSQL part uses a scratch table
//! `sg_bench_invoices` in the test server's database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use sluicegate_core::call::{Args, TrustedContext, plan_read};
use sluicegate_core::config::{Config, Provider, validate};
use sluicegate_core::envelope::Outcome;
use sluicegate_ledger::Ledger;
use sluicegate_runtime::{AgentApi, Env};
use sluicegate_source::{Sources, sample_app};

const COLUMNS: &str =
    "id, customer_name, status, late_fee_cents, waiver_reason, updated_at, tenant_id";

fn config(engine: &str, schema: &str, table: &str) -> Arc<Config> {
    let doc = json!({
        "version": 1, "mode": "review", "result_format": 2,
        "sources": {"app": {"engine": engine, "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TENANT", "principal_env": "PRINCIPAL"}},
        "capabilities": [{
            "name": "billing.inspect_invoice", "kind": "read", "source": "app",
            "target": {"schema": schema, "table": table, "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "customer_name", "status", "late_fee_cents", "waiver_reason", "updated_at"]
        }]
    });
    Arc::new(validate(&doc).1.unwrap())
}

fn env(url: &str) -> Env {
    Env::from_map(HashMap::from([
        ("APP_URL".into(), url.to_string()),
        ("TENANT".into(), "acme".into()),
        ("PRINCIPAL".into(), "bench".into()),
    ]))
}

fn args() -> Args {
    json!({"invoice_id": "INV-3001"})
        .as_object()
        .unwrap()
        .clone()
}

fn bench_engine(
    c: &mut Criterion,
    name: &str,
    config: Arc<Config>,
    url: &str,
    bare: &mut dyn FnMut(&tokio::runtime::Runtime, &Sources),
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // SLUICEGATE_BENCH_DURABILITY=relaxed measures the ledger without its per-commit fsync
    // (the setting the figures before ledger schema 5 were taken with).
    let durability = match std::env::var("SLUICEGATE_BENCH_DURABILITY").as_deref() {
        Ok("relaxed") => sluicegate_ledger::Durability::Relaxed,
        _ => sluicegate_ledger::Durability::Full,
    };
    let ledger = Ledger::open_with(&dir.path().join("bench.db"), durability).unwrap();
    let env = env(url);
    let agent = AgentApi::new(config.clone(), ledger, env.clone(), None);
    let sources = Sources::new(&config, env.as_fn());
    let ctx = TrustedContext {
        tenant_id: "acme".into(),
        principal: "bench".into(),
        provenance: Provider::Environment,
    };
    let plan = plan_read(&config, &config.capabilities[0], &args(), &ctx).unwrap();
    // Warm the pools so connection setup is not measured.
    assert_eq!(rt.block_on(sources.read(&plan)).unwrap().len(), 1);
    let out = rt.block_on(agent.call("billing.inspect_invoice", &args()));
    assert_eq!(out.payload["ok"], json!(true), "{}", out.payload);

    // A refused call is cheaper than a recorded one: never let one pass as a measurement.
    let mut agent_read = || {
        let outcome = rt.block_on(agent.invoke("billing.inspect_invoice", &args()));
        assert!(matches!(outcome, Outcome::Read { .. }), "{outcome:?}");
    };

    let mut g = c.benchmark_group(name);
    g.bench_function("bare_query", |b| b.iter(|| bare(&rt, &sources)));
    g.bench_function("source_read", |b| {
        b.iter(|| rt.block_on(sources.read(&plan)).unwrap())
    });
    g.bench_function("agent_read", |b| b.iter(&mut agent_read));
    g.finish();

    // Criterion reports means over batches, which fold the rare slow call (a B-tree split, a
    // concurrent checkpoint) into every figure. The target is per-call p50, so time single calls
    // too: first interleaved, all three kinds in turn.
    let mut times: [Vec<Duration>; 3] = Default::default();
    // SLUICEGATE_BENCH_IDLE_US=150 sleeps that long before each interleaved call, so a SQLite
    // read starts from the same idle, cache-cold state as one that waited on a network answer.
    let idle = std::env::var("SLUICEGATE_BENCH_IDLE_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);
    let nap = || {
        if let Some(idle) = idle {
            std::thread::sleep(idle);
        }
    };
    for _ in 0..PER_CALL_SAMPLES {
        nap();
        let t = Instant::now();
        bare(&rt, &sources);
        times[0].push(t.elapsed());
        nap();
        let t = Instant::now();
        rt.block_on(sources.read(&plan)).unwrap();
        times[1].push(t.elapsed());
        nap();
        times[2].push(timed(&mut agent_read));
    }
    let [bare_t, source_t, agent_t] = times.map(Percentiles::of);
    println!(
        "{name} interleaved calls ({PER_CALL_SAMPLES} of each, p50 / p99): bare_query {bare_t}, source_read {source_t}, agent_read {agent_t}; difference p50 +{:.1} µs",
        agent_t.p50 - bare_t.p50
    );

    // On a network engine, interleaving flatters the read path: on one connection its query
    // follows `source_read` at once, while the bare query follows the previous call's recording
    // and absorbs timing effects of that gap (PostgreSQL: +5 to +15 µs interleaved against about
    // +105 µs in runs). So the target is judged on runs of consecutive calls of one kind. As a
    // control, bare queries also run each after a busy gap as long as the read path's own
    // work: what that gap alone adds to the next query is the server side, not our code.
    let (mut bare_run, mut agent_run, mut gap_run) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        for _ in 0..RUN_LENGTH {
            bare_run.push(timed(&mut || bare(&rt, &sources)));
        }
        for _ in 0..RUN_LENGTH {
            agent_run.push(timed(&mut agent_read));
        }
        for _ in 0..RUN_LENGTH {
            let gap = Instant::now();
            while gap.elapsed() < CONTROL_GAP {
                std::hint::spin_loop();
            }
            gap_run.push(timed(&mut || bare(&rt, &sources)));
        }
    }
    let [bare_r, agent_r, gap_r] = [bare_run, agent_run, gap_run].map(Percentiles::of);
    println!(
        "{name} consecutive calls ({RUNS} runs of {RUN_LENGTH}, p50 / p99): bare_query {bare_r}, agent_read {agent_r}; read path over the bare query p50 +{:.1} µs; control: bare_query after a {} µs busy gap {gap_r} (+{:.1} µs p50, the server's wake-up alone)",
        agent_r.p50 - bare_r.p50,
        CONTROL_GAP.as_micros(),
        gap_r.p50 - bare_r.p50
    );
}

const RUNS: usize = 5;
const RUN_LENGTH: usize = 2_000;
/// About what the read path's own work takes (the SQLite figure, where no network is involved).
const CONTROL_GAP: Duration = Duration::from_micros(60);

const PER_CALL_SAMPLES: usize = 20_000;

/// How long one call of `f` takes.
fn timed(f: &mut dyn FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

#[derive(Clone, Copy)]
struct Percentiles {
    p50: f64,
    p99: f64,
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} / {:.1} µs", self.p50, self.p99)
    }
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    sample_app::create(&db).unwrap();
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let sql =
        format!("SELECT {COLUMNS} FROM main.invoices WHERE id = ?1 AND tenant_id = ?2 LIMIT 1");
    let mut bare = |_: &tokio::runtime::Runtime, _: &Sources| {
        let mut stmt = conn.prepare_cached(&sql).unwrap();
        let row: Vec<rusqlite::types::Value> = stmt
            .query_row(["INV-3001", "acme"], |r| (0..7).map(|i| r.get(i)).collect())
            .unwrap();
        std::hint::black_box(row);
    };
    bench_engine(
        c,
        "sqlite",
        config("sqlite", "main", "invoices"),
        &format!("sqlite://{}", db.display()),
        &mut bare,
    );
}

fn postgres(c: &mut Criterion) {
    let Ok(admin) = std::env::var("SLUICEGATE_TEST_POSTGRES_URL") else {
        eprintln!("postgres read-path bench skipped: SLUICEGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(&admin, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(conn);
    rt.block_on(client.batch_execute(
        "DROP TABLE IF EXISTS sg_bench_invoices;
         CREATE TABLE sg_bench_invoices (id text PRIMARY KEY, tenant_id text NOT NULL, customer_name text NOT NULL,
           status text NOT NULL, late_fee_cents integer NOT NULL, waiver_reason text, updated_at timestamptz NOT NULL);
         INSERT INTO sg_bench_invoices VALUES ('INV-3001','acme','Acme Robotics','overdue',5500,NULL,'2026-06-20T14:31:08Z'),
                                     ('INV-9001','otherco','OtherCo','overdue',7500,NULL,'2026-06-20T14:31:08Z');",
    ))
    .unwrap();
    // The bare query runs on the pooled read connection the read path itself uses, so the
    // comparison is on the same connection (and the same runtime), as the target states.
    let sql = format!(
        "SELECT {COLUMNS} FROM public.sg_bench_invoices WHERE id = $1 AND tenant_id = $2 LIMIT 1"
    );
    let mut bare = |rt: &tokio::runtime::Runtime, sources: &Sources| {
        let rows = rt
            .block_on(sources.bare_query_on_read_connection("app", &sql, &["INV-3001", "acme"]))
            .unwrap();
        assert_eq!(rows, Some(1));
    };
    bench_engine(
        c,
        "postgres",
        config("postgres", "public", "sg_bench_invoices"),
        &admin,
        &mut bare,
    );
    rt.block_on(client.batch_execute("DROP TABLE IF EXISTS sg_bench_invoices"))
        .unwrap();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
