//! `sluicegate worker` through the built binary, on a SQLite app database (the races and the
//! kill trials on PostgreSQL and MariaDB too): `--once` applies what is approved (beside a
//! server holding the store lease) and prints a JSON line per job; two worker processes share
//! the same jobs and write each once; a job that keeps failing exits 1 and its dead letter is
//! found by the printed `Next:` command; a worker killed (-9) at each step of a job (20 trials
//! with the SQLite ledger and with a PostgreSQL ledger, 4 with each server engine as the app's
//! database) is taken over by another once its lease runs out,
//! leaving exactly one write and one `applied` receipt; a running worker picks up new work;
//! SIGTERM stops an idle worker, or one mid-job after it finishes the job; docs/worker.md's
//! demo block runs as printed.
//!
//! The binary cargo builds for these tests carries the fail points (dev-dependency feature
//! `failpoints`): `SLUICEGATE_FAILPOINTS` stops the worker at a named step of `apply`, where
//! it prints a marker and blocks until the test kills it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::app;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use app::{App, Desk, config};
use serde_json::Value;
use sluicegate_core::config::Engine;
use sluicegate_ledger::lease::Lease;
use sluicegate_runtime::failpoint::MARKER;
use sluicegate_test_support::process::{Signal, signal, wait_within};

/// Far beyond a normal run; only reached when something hangs.
const DEADLINE: Duration = Duration::from_secs(60);

struct Cli {
    config: PathBuf,
    store: PathBuf,
    url: String,
    /// A PostgreSQL ledger (the config's `storage` names `SG_LEDGER_URL`) instead of `store`.
    ledger_url: Option<String>,
}

impl Cli {
    fn new(app: &App) -> Cli {
        let config = app.path("sluicegate.json");
        std::fs::write(&config, app.config_doc("tickets", None, &[]).to_string()).unwrap();
        Cli {
            config,
            store: app.path("ledger.db"),
            url: app.url.clone(),
            ledger_url: None,
        }
    }

    /// The same on the PostgreSQL ledger at `ledger_url` (migrated).
    fn on_postgres_ledger(app: &App, ledger_url: &str) -> Cli {
        let config = app.path("sluicegate.json");
        let mut doc = app.config_doc("tickets", None, &[]);
        doc["storage"] = serde_json::json!({"engine": "postgres", "url_env": "SG_LEDGER_URL"});
        std::fs::write(&config, doc.to_string()).unwrap();
        Cli {
            config,
            store: app.path("unused-ledger.db"),
            url: app.url.clone(),
            ledger_url: Some(ledger_url.to_string()),
        }
    }

    /// The ledger the commands use, opened in the test.
    fn ledger(&self) -> sluicegate_ledger::Ledger {
        match &self.ledger_url {
            Some(url) => sluicegate_ledger::Ledger::open_postgres(
                url,
                "$SG_LEDGER_URL",
                sluicegate_ledger::Durability::Full,
            )
            .unwrap(),
            None => sluicegate_ledger::Ledger::open(&self.store).unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluicegate"));
        cmd.args(args).arg("--config").arg(&self.config);
        match &self.ledger_url {
            Some(url) => cmd.env("SG_LEDGER_URL", url),
            None => cmd.arg("--store").arg(&self.store),
        };
        cmd.env("APP_URL", &self.url)
            .env_remove("SLUICEGATE_FAILPOINTS")
            .env_remove("SLUICEGATE_STORE")
            .env_remove("SLUICEGATE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let child = self.command(args).spawn().unwrap();
        output_within(child)
    }
}

fn output_within(mut child: std::process::Child) -> Output {
    let status = wait_within(&mut child, DEADLINE).expect("finished before the deadline");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_once_applies_what_is_approved_beside_a_server() {
    let app = App::create(Engine::Sqlite, "worker_once").await.unwrap();
    let cli = Cli::new(&app);
    let desk = Desk::open(
        &cli.store,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let a = desk.approved("T-1", "by the worker").await;
    let b = desk.approved("T-2", "by the worker too").await;
    let pending = desk.propose("T-1", "not approved").await;

    // A server holds the store lease; the worker runs beside it.
    let (lease, _) =
        Lease::acquire(&cli.store, "stdio", false, "2026-06-20T15:00:00.000Z").unwrap();
    let out = cli.run(&["worker", "--once", "--json", "--worker-id", "w1"]);
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(lease.is_held());
    let jobs = lines(&out);
    let mut done: Vec<(String, String, String)> = jobs
        .iter()
        .map(|j| {
            (
                j["proposal_id"].as_str().unwrap().to_string(),
                j["outcome"].as_str().unwrap().to_string(),
                j["worker_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    done.sort();
    let mut want = vec![
        (a.clone(), "applied".to_string(), "w1".to_string()),
        (b.clone(), "applied".to_string(), "w1".to_string()),
    ];
    want.sort();
    assert_eq!(done, want);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("worker w1 started"), "{stderr}");
    assert!(
        stderr.contains("worker w1 stopped: 2 jobs, 0 not applied"),
        "{stderr}"
    );
    assert_eq!(
        app.row("tickets", "T-1").await.0.as_deref(),
        Some("by the worker")
    );
    assert_eq!(app.source_receipts(&a).await.len(), 1);
    // What is not approved is not touched.
    assert_eq!(
        desk.ledger.proposal(&pending).unwrap().state,
        "pending_review"
    );
    assert!(app.source_receipts(&pending).await.is_empty());

    // Nothing left: no line, exit 0. Text output names the outcome.
    let again = cli.run(&["worker", "--once"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(again.stdout.is_empty(), "{}", text(&again.stdout));

    // A bad flag is refused before anything runs.
    let bad = cli.run(&["worker", "--once", "--lease-seconds", "0"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let blank = cli.run(&["worker", "--once", "--worker-id", " "]);
    assert_eq!(blank.status.code(), Some(2), "{}", text(&blank.stderr));
    assert!(
        text(&blank.stderr).contains("--worker-id must be"),
        "{}",
        text(&blank.stderr)
    );
    // A worker id is recorded, so it is scanned like every record.
    let secret = cli.run(&[
        "worker",
        "--once",
        "--worker-id",
        "postgres://app:pw@db/app",
    ]);
    assert_eq!(secret.status.code(), Some(1), "{}", text(&secret.stderr));
    assert!(
        text(&secret.stderr).contains("refused: SECRET_MATERIAL_REJECTED: "),
        "{}",
        text(&secret.stderr)
    );
    assert!(
        !text(&secret.stderr).contains("pw@"),
        "{}",
        text(&secret.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_exits_1_and_its_dead_letter_is_found_by_the_hint() {
    let app = App::create(Engine::Sqlite, "worker_fail").await.unwrap();
    let cli = Cli::new(&app);
    let desk = Desk::open(
        &cli.store,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let id = desk.approved("T-1", "never written").await;
    // Without the writer's URL, apply refuses: retried at once (0 s backoff), then given up.
    let out = cli
        .command(&[
            "worker",
            "--once",
            "--worker-id",
            "w1",
            "--max-attempts",
            "2",
            "--retry-seconds",
            "0",
        ])
        .env_remove("APP_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let shown: Vec<&str> = stdout.lines().collect();
    assert_eq!(shown.len(), 2, "{stdout}");
    assert!(
        shown[0].starts_with(&format!("retry {id} (attempt 1, fence 1)")),
        "{stdout}"
    );
    assert!(shown[0].contains("WRITER_URL_MISSING"), "{stdout}");
    assert!(
        shown[1].starts_with(&format!("dead letter {id} (attempt 2, fence 2)")),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    let next = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Next: sluicegate "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let args: Vec<&str> = next.split_whitespace().collect();
    // The hint, run as printed.
    let found = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(&args)
        .output()
        .unwrap();
    assert!(found.status.success(), "{}", text(&found.stderr));
    let page = text(&found.stdout);
    assert!(page.contains("kind: worker-dead-letter"), "{page}");
    assert!(page.contains(&format!("proposal: {id}")), "{page}");
    assert!(page.contains("worker: w1"), "{page}");
    assert!(page.contains("status: worker dead letter"), "{page}");
    assert!(app.source_receipts(&id).await.is_empty());
}

/// On a PostgreSQL ledger the dead letter's `Next:` line is `events tail --kind
/// writeback_dead_lettered` (`activity search` is not built for it), and it works as printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_on_a_postgres_ledger_is_found_by_the_hint() {
    let app = App::create(Engine::Sqlite, "worker_fail_pgl")
        .await
        .unwrap();
    let Some(db) = sluicegate_test_support::engines::TestDatabase::create(
        sluicegate_test_support::engines::EngineKind::Postgres,
        "worker_fail_ledger",
    )
    .await
    else {
        return;
    };
    sluicegate_ledger::Ledger::migrate_postgres(db.url()).unwrap();
    let cli = Cli::on_postgres_ledger(&app, db.url());
    let desk = Desk::with_ledger(
        cli.ledger(),
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let id = desk.approved("T-1", "never written").await;
    let out = cli
        .command(&[
            "worker",
            "--once",
            "--worker-id",
            "w1",
            "--max-attempts",
            "1",
        ])
        .env_remove("APP_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("dead letter {id} (attempt 1, fence 1)")),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    let next = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Next: sluicegate "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let args: Vec<&str> = next.split_whitespace().collect();
    assert_eq!(&args[..3], ["events", "tail", "--kind"], "{next}");
    let found = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(&args)
        .env("SG_LEDGER_URL", db.url())
        .output()
        .unwrap();
    assert!(found.status.success(), "{}", text(&found.stderr));
    let page = text(&found.stdout);
    assert!(page.contains("writeback_dead_lettered"), "{page}");
    assert!(page.contains(&id), "{page}");
    assert_eq!(desk.ledger.worker_dead_letters(&id).unwrap().len(), 1);
    assert!(app.source_receipts(&id).await.is_empty());
}

/// Start a worker with `step` armed; wait for its marker, then kill -9.
fn killed_at(cli: &Cli, step: &str) {
    let mut child = cli
        .command(&[
            "worker",
            "--once",
            "--worker-id",
            "doomed",
            "--lease-seconds",
            "1",
        ])
        .env("SLUICEGATE_FAILPOINTS", step)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(DEADLINE.saturating_sub(started.elapsed())) {
            Ok(line) if line == format!("{MARKER} {step}") => break,
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("the worker never reached {step} ({e}); stderr: {seen:?}");
            }
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{step}: {status}");
}

/// Run `worker --once` until `done` says the job is finished (its lease must run out first).
/// A bounded poll: the lease is wall-clock time in another process, which offers no signal.
fn take_over(cli: &Cli, ledger: &sluicegate_ledger::Ledger, id: &str) -> Vec<Value> {
    let started = Instant::now();
    let mut printed = Vec::new();
    loop {
        let out = cli.run(&["worker", "--once", "--json", "--worker-id", "heir"]);
        printed.extend(lines(&out));
        let item = ledger.work_item(id).unwrap().unwrap();
        if item.status == "done" {
            return printed;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "never taken over: {item:?}, {printed:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The steps a worker is killed at, one per trial in turn.
const KILL_STEPS: [&str; 4] = [
    "apply.after_job_queued",
    "writeback.before_commit",
    "apply.after_source_commit",
    "apply.after_receipt",
];

async fn kill_trials(engine: Engine, trials: usize) {
    let Some(app) = App::create(engine, "worker_kill").await else {
        return;
    };
    let cli = Cli::new(&app);
    kill_trials_on(&app, &cli, trials).await;
}

/// The kill trials with the ledger on PostgreSQL (its own database; the app on `engine`).
async fn kill_trials_on_a_postgres_ledger(engine: Engine, trials: usize) {
    let Some(app) = App::create(engine, "worker_kill_pgl").await else {
        return;
    };
    let Some(db) = sluicegate_test_support::engines::TestDatabase::create(
        sluicegate_test_support::engines::EngineKind::Postgres,
        "worker_kill_ledger",
    )
    .await
    else {
        return;
    };
    sluicegate_ledger::Ledger::migrate_postgres(db.url()).unwrap();
    let cli = Cli::on_postgres_ledger(&app, db.url());
    kill_trials_on(&app, &cli, trials).await;
}

async fn kill_trials_on(app: &App, cli: &Cli, trials: usize) {
    let desk = Desk::with_ledger(
        cli.ledger(),
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let started = Instant::now();
    for trial in 0..trials {
        let step = KILL_STEPS[trial % KILL_STEPS.len()];
        let label = format!("{} trial {trial} killed at {step}", app.name());
        let note = format!("kill trial {trial}");
        let id = desk.approved("T-1", &note).await;
        let (_, version) = app.row("tickets", "T-1").await;
        let version: i64 = version.unwrap().parse().unwrap();
        killed_at(cli, step);
        let item = desk.ledger.work_item(&id).unwrap().unwrap();
        assert_eq!(
            (item.status.as_str(), item.holder.as_deref()),
            ("claimed", Some("doomed")),
            "{label}"
        );

        let printed = take_over(cli, &desk.ledger, &id);
        let wrote_before = matches!(step, "apply.after_source_commit" | "apply.after_receipt");
        match step {
            // The receipt was recorded: the proposal is applied, the heir only closes the row.
            "apply.after_receipt" => assert!(printed.is_empty(), "{label}: {printed:?}"),
            _ => {
                assert_eq!(printed.len(), 1, "{label}: {printed:?}");
                let job = &printed[0];
                let want = if wrote_before {
                    "already_applied"
                } else {
                    "applied"
                };
                assert_eq!(job["outcome"], want, "{label}: {job}");
                assert_eq!(job["taken_over"], true, "{label}: {job}");
                assert_eq!(
                    (job["fence"].as_i64(), job["attempt"].as_i64()),
                    (Some(2), Some(2)),
                    "{label}"
                );
            }
        }

        // Exactly one write, one source receipt, and its attempt's `applied` receipt.
        let (written, now) = app.row("tickets", "T-1").await;
        assert_eq!(written.as_deref(), Some(note.as_str()), "{label}");
        assert_eq!(now, Some((version + 1).to_string()), "{label}: one write");
        let source = app.source_receipts(&id).await;
        assert_eq!(source.len(), 1, "{label}: {source:?}");
        let applied: Vec<String> = desk
            .ledger
            .receipts(&id)
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "applied")
            .map(|r| r.writeback_job_id)
            .collect();
        assert_eq!(applied, [source[0].0.clone()], "{label}");
        assert_eq!(
            desk.ledger.proposal(&id).unwrap().state,
            "applied",
            "{label}"
        );
        let report = desk.ledger.verify(&[]).unwrap();
        assert!(report.ok(), "{label}: {:?}", report.problems);
    }
    eprintln!(
        "{}{}: {trials} kill trials in {:?}",
        app.name(),
        if cli.ledger_url.is_some() {
            " on a PostgreSQL ledger"
        } else {
            ""
        },
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_is_taken_over_after_its_lease_and_writes_once_on_sqlite() {
    kill_trials(Engine::Sqlite, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_is_taken_over_after_its_lease_and_writes_once_on_postgres() {
    kill_trials(Engine::Postgres, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_is_taken_over_after_its_lease_and_writes_once_on_mariadb() {
    kill_trials(Engine::Mysql, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_on_a_postgres_ledger_is_taken_over_and_writes_once() {
    kill_trials_on_a_postgres_ledger(Engine::Sqlite, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_an_idle_worker_cleanly() {
    let app = App::create(Engine::Sqlite, "worker_term").await.unwrap();
    let cli = Cli::new(&app);
    let _desk = Desk::open(
        &cli.store,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let mut child = cli
        .command(&["worker", "--worker-id", "w1"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("worker w1 started"), "{first}");
    signal(child.id(), Signal::TERM);
    let status = wait_within(&mut child, DEADLINE).expect("stopped before the deadline");
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("worker w1 stopped: 0 jobs"), "{rest}");
}

/// A running worker (no `--once`) picks up a proposal approved after it started: the poll
/// finds it, and the job's line is the signal the test waits on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_applies_what_is_approved_after_it_started() {
    let app = App::create(Engine::Sqlite, "worker_poll").await.unwrap();
    let cli = Cli::new(&app);
    let desk = Desk::open(
        &cli.store,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let mut child = cli
        .command(&[
            "worker",
            "--json",
            "--worker-id",
            "w1",
            "--poll-max-seconds",
            "1",
        ])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("worker w1 started"), "{first}");
    let id = desk.approved("T-1", "picked up").await;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(DEADLINE).expect("a job line");
    let job: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (job["proposal_id"].as_str(), job["outcome"].as_str()),
        (Some(id.as_str()), Some("applied"))
    );
    signal(child.id(), Signal::TERM);
    let status = wait_within(&mut child, DEADLINE).expect("stopped");
    assert!(status.success(), "{status}");
    assert_eq!(
        app.row("tickets", "T-1").await.0.as_deref(),
        Some("picked up")
    );
}

/// SIGTERM while a job is in hand: the worker lets it finish and records its result, then
/// exits 0. The job is an app-owned command handler that announces itself on one FIFO and
/// waits on another, so the signal arrives mid-job without any timing guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_job_finishes_the_job_in_hand_then_stops() {
    let app = App::create(Engine::Sqlite, "worker_term_busy")
        .await
        .unwrap();
    let handler = serde_json::json!({"type": "command_handler", "command_env": "HOOK_COMMAND", "timeout_ms": 60000});
    let doc = app.config_doc("tickets", Some(handler), &[]);
    let cli = Cli::new(&app);
    std::fs::write(&cli.config, doc.to_string()).unwrap();
    let (started, go) = (app.path("started.fifo"), app.path("go.fifo"));
    for fifo in [&started, &go] {
        assert!(Command::new("mkfifo").arg(fifo).status().unwrap().success());
    }
    let script = app.path("handler.sh");
    std::fs::write(
        &script,
        "cat >/dev/null\necho started > \"$1\"\nread go < \"$2\"\necho '{\"status\":\"applied\",\"rows_affected\":1,\"source_database_mutated\":true}'\n",
    )
    .unwrap();
    let hook = format!(
        "sh '{}' '{}' '{}'",
        script.display(),
        started.display(),
        go.display()
    );
    let desk = Desk::open(&cli.store, config(&doc), app.env(&[]));
    let id = desk.approved("T-1", "handled").await;

    let child = cli
        .command(&["worker", "--json", "--worker-id", "w1"])
        .env("HOOK_COMMAND", &hook)
        .spawn()
        .unwrap();
    let pid = child.id();
    // The handler opens `started` for writing once the job is in hand.
    let (tx, rx) = mpsc::channel();
    let fifo = started.clone();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read_to_string(fifo));
    });
    let line = rx
        .recv_timeout(DEADLINE)
        .expect("the handler was called")
        .unwrap();
    assert_eq!(line.trim(), "started");
    signal(pid, Signal::TERM);
    std::fs::write(&go, "go\n").unwrap();
    let out = output_within(child);
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        text(&out.stderr)
    );
    let jobs = lines(&out);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["proposal_id"], id.as_str());
    assert_eq!(jobs[0]["outcome"], "applied", "{}", jobs[0]);
    assert!(
        text(&out.stderr).contains("worker w1 stopped: 1 job, 0 not applied"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(desk.ledger.proposal(&id).unwrap().state, "applied");
    assert_eq!(desk.ledger.work_item(&id).unwrap().unwrap().status, "done");
}

/// Two worker processes drain the same jobs at once: each job reported once, written once,
/// with one `applied` receipt.
async fn two_processes_race(engine: Engine) {
    const JOBS: usize = 20;
    let Some(app) = App::create(engine, "worker_procs").await else {
        return;
    };
    let label = app.name();
    let values: Vec<String> = (0..JOBS)
        .map(|i| format!("('P-{i}', 'acme', NULL, 1)"))
        .collect();
    app.execute(&format!("INSERT INTO tickets VALUES {}", values.join(", ")))
        .await;
    let cli = Cli::new(&app);
    let desk = Desk::open(
        &cli.store,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let mut ids = Vec::new();
    for i in 0..JOBS {
        ids.push(desk.approved(&format!("P-{i}"), &format!("race {i}")).await);
    }
    let started = Instant::now();
    let a = cli
        .command(&["worker", "--once", "--json", "--worker-id", "wa"])
        .spawn()
        .unwrap();
    let b = cli
        .command(&["worker", "--once", "--json", "--worker-id", "wb"])
        .spawn()
        .unwrap();
    let (a, b) = (output_within(a), output_within(b));
    let elapsed = started.elapsed();
    for o in [&a, &b] {
        assert!(o.status.success(), "{label}: {}", text(&o.stderr));
    }
    eprintln!(
        "{label}: {JOBS} jobs in {elapsed:?}, worker wa applied {}, wb {}",
        lines(&a).len(),
        lines(&b).len()
    );
    let mut reported: Vec<(String, String)> = lines(&a)
        .into_iter()
        .chain(lines(&b))
        .map(|j| {
            (
                j["proposal_id"].as_str().unwrap().to_string(),
                j["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reported.sort();
    let mut want: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.clone(), "applied".into()))
        .collect();
    want.sort();
    assert_eq!(reported, want, "{label}");
    for (i, id) in ids.iter().enumerate() {
        let (note, version) = app.row("tickets", &format!("P-{i}")).await;
        assert_eq!(note, Some(format!("race {i}")), "{label}");
        assert_eq!(version.as_deref(), Some("2"), "{label} P-{i}: one write");
        let source = app.source_receipts(id).await;
        assert_eq!(source.len(), 1, "{label}: {source:?}");
        let applied = desk
            .ledger
            .receipts(id)
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "applied")
            .count();
        assert_eq!(applied, 1, "{label} {id}");
    }
    assert!(desk.ledger.verify(&[]).unwrap().ok(), "{label}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_write_each_job_once_on_sqlite() {
    two_processes_race(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_write_each_job_once_on_postgres() {
    two_processes_race(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_write_each_job_once_on_mariadb() {
    two_processes_race(Engine::Mysql).await;
}

/// docs/worker.md's demo block runs as printed, in a fresh directory, through a shell (it
/// exports the demo's env): every command exits 0 but the dead-letter run, which exits 1.
#[test]
fn the_worker_page_demo_block_runs_as_printed() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/worker.md"))
        .unwrap();
    let block = doc
        .split("## Try it on the demo's ledger")
        .nth(1)
        .unwrap()
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let commands: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    let script: String = commands
        .iter()
        .map(|l| format!("{l}\necho \"[exit $?]\"\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_sluicegate"))
        .parent()
        .unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env_remove("SLUICEGATE_CONFIG")
        .env_remove("SLUICEGATE_STORE")
        .env_remove("SLUICEGATE_FAILPOINTS")
        .env("CI", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let exits: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[exit "))
        .collect();
    let mut want = vec!["0]"; commands.len()];
    let dead = commands
        .iter()
        .position(|c| c.contains("--max-attempts 1"))
        .unwrap();
    want[dead] = "1]";
    assert_eq!(exits, want, "{stdout}\n{stderr}");
    assert!(stdout.contains("\napplied wrp_"), "{stdout}");
    assert!(stdout.contains("\ndead letter wrp_"), "{stdout}");
    assert!(stdout.contains("WRITER_URL_MISSING"), "{stdout}");
    assert!(stdout.contains("kind: worker-dead-letter"), "{stdout}");
    assert!(
        stderr.contains("Next: sluicegate activity search --status worker_dead_letter --config .sluicegate/demo/sluicegate.json"),
        "{stderr}"
    );
}
