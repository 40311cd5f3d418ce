//! Fixtures shared by the ledger's integration tests: a config, a trusted context, a
//! deterministic clock, rows, and proposals recorded the way the runtime records them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use sluicegate_core::call::{Args, TrustedContext};
use sluicegate_core::config::{Config, Engine, Provider, validate};
use sluicegate_core::decision::{DecisionRecord, Verdict};
use sluicegate_core::evidence::{Row, link_to_proposal, record_read};
use sluicegate_core::proposal::{ProposalInput, build_change_set};
use sluicegate_ledger::{Clock, Ledger, LedgerError, ProposalCall, StoredProposal};
use sluicegate_protocol::ChangeSet;

pub fn config(mode: &str) -> Config {
    let doc = json!({
        "version": 1, "mode": mode,
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment"},
        "capabilities": [{
            "name": "billing.propose_waiver", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "late_fee_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"}},
            "allowed_columns": ["late_fee_cents", "waiver_reason"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    c.unwrap()
}

pub fn ctx() -> TrustedContext {
    TrustedContext {
        tenant_id: "acme".into(),
        principal: "agent_1".into(),
        provenance: Provider::Environment,
    }
}

/// A deterministic clock: every call is one millisecond later.
pub fn clock() -> Clock {
    let n = Arc::new(AtomicU64::new(0));
    Arc::new(move || {
        let i = n.fetch_add(1, Ordering::SeqCst);
        format!(
            "2026-06-20T14:{:02}:{:02}.{:03}Z",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        )
    })
}

pub fn row(id: &str, fee: i64) -> Row {
    json!({"id": id, "late_fee_cents": fee, "waiver_reason": null, "updated_at": "2026-06-20T14:31:08.000Z", "tenant_id": "acme"})
        .as_object()
        .unwrap()
        .clone()
}

/// Record one proposal call for `row` with `reason`, as the runtime does.
pub fn propose(
    ledger: &Ledger,
    cfg: &Config,
    row: &Row,
    reason: &str,
    at: &str,
) -> Result<(ChangeSet, bool), sluicegate_ledger::LedgerError> {
    let (cs, pending) = propose_pending(ledger, cfg, row, reason, at);
    let rec = pending.wait()?;
    Ok((cs, rec.deduplicated))
}

/// [`propose`] without waiting: the change set and the writer's answer to come (benches
/// keep many in flight, as a server's callers do).
pub fn propose_pending(
    ledger: &Ledger,
    cfg: &Config,
    row: &Row,
    reason: &str,
    at: &str,
) -> (
    ChangeSet,
    sluicegate_ledger::Pending<sluicegate_ledger::ProposalRecorded>,
) {
    propose_edited(ledger, cfg, row, reason, at, |_| {})
}

/// [`propose_pending`] with the change set edited by `edit` before it is recorded.
pub fn propose_edited(
    ledger: &Ledger,
    cfg: &Config,
    row: &Row,
    reason: &str,
    at: &str,
    edit: impl FnOnce(&mut ChangeSet),
) -> (
    ChangeSet,
    sluicegate_ledger::Pending<sluicegate_ledger::ProposalRecorded>,
) {
    let cap = &cfg.capabilities[0];
    let args: Args = json!({"invoice_id": row["id"], "reason": reason})
        .as_object()
        .unwrap()
        .clone();
    let read = record_read(cap, &ctx(), row, 1, &row["id"], at);
    let built = build_change_set(&ProposalInput {
        mode: cfg.mode,
        engine: Engine::Sqlite,
        cap,
        args: &args,
        ctx: &ctx(),
        before: row,
        read: &read,
        now: at,
        columns: None,
    })
    .unwrap();
    let mut built = built;
    edit(&mut built.change_set);
    let (linked, audit2) = link_to_proposal(
        &read,
        cap,
        &built.change_set.proposal_id,
        row,
        &built.patch,
        &built.after,
    );
    let item = linked.items.last().unwrap().clone();
    let pending = ledger.record_proposal(ProposalCall {
        read_bundle: read.bundle,
        read_audit: read.audit,
        change_set: built.change_set.clone(),
        proposal_item: item,
        proposal_audit: audit2,
    });
    (built.change_set, pending)
}

/// Record a decision and wait for it, as the CLI does.
pub fn decide(
    ledger: &Ledger,
    id: &str,
    verdict: Verdict,
    actor: &str,
    reason: Option<&str>,
    hash: &str,
    version: u32,
) -> Result<StoredProposal, LedgerError> {
    ledger
        .decide(DecisionRecord {
            proposal_id: id.into(),
            proposal_version: version,
            content_hash: hash.into(),
            verdict,
            reviewer: actor.into(),
            reason: reason.map(str::to_string),
            decided_at: "2026-06-20T14:35:00.000Z".into(),
            signature: None,
            reviewer_key: None,
        })
        .wait()
}

/// The engine a story test runs its ledger on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What keeps a test's ledger alive: its SQLite file's directory or its own PostgreSQL
/// database (dropped with the guard).
pub enum Guard {
    Dir(tempfile::TempDir),
    Database(sluicegate_test_support::engines::TestDatabase),
}

impl Guard {
    /// The PostgreSQL URL of the test's database (Postgres only).
    pub fn url(&self) -> &str {
        match self {
            Guard::Dir(_) => panic!("a SQLite ledger has no URL"),
            Guard::Database(db) => db.url(),
        }
    }
}

/// A fresh, migrated PostgreSQL database of its own for one test, or `None` when no test
/// server is configured outside CI (`skip_or_fail`: with CI=true a missing URL fails).
pub fn postgres_database() -> Option<sluicegate_test_support::engines::TestDatabase> {
    let db = sluicegate_test_support::app_db::block_on(
        sluicegate_test_support::engines::TestDatabase::create(
            sluicegate_test_support::engines::EngineKind::Postgres,
            "ledger",
        ),
    )?;
    Ledger::migrate_postgres(db.url()).expect("migrate the test ledger");
    Some(db)
}

/// A fresh ledger on `engine` with the deterministic clock; `None` only for a PostgreSQL test
/// outside CI without a server (it then prints the skip marker).
pub fn open(engine: Backend) -> Option<(Guard, Ledger)> {
    match engine {
        Backend::Sqlite => {
            let (dir, ledger) = open_temp();
            Some((Guard::Dir(dir), ledger))
        }
        Backend::Postgres => {
            let db = postgres_database()?;
            let ledger = Ledger::open_postgres_with_clock(
                db.url(),
                "$TEST_LEDGER_URL",
                sluicegate_ledger::Durability::Full,
                clock(),
            )
            .expect("open the test ledger");
            Some((Guard::Database(db), ledger))
        }
    }
}

/// One story test, run on each engine: `both!(name, …)` makes `sqlite::name` and
/// `postgres::name` from `fn name(engine: Backend)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name($crate::common::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name($crate::common::Backend::Postgres)
            })*
        }
    };
}

pub fn open_temp() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        Ledger::open_with_clock(&dir.path().join("nested/dir/ledger.db"), clock()).unwrap();
    (dir, ledger)
}
