//! Shared fixtures of the engine tests: a database on any of the three engines, a `Sources`
//! pointed at it, and the writeback story every engine must pass.
#![allow(dead_code)] // Each engine's tests use a different part of this module.

pub mod writeguard;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use sluicegate_core::call::ReadPlan;
use sluicegate_core::config::{Engine, MaintainedBy, Source};
use sluicegate_core::evidence::Row;
use sluicegate_core::json::hash_json;
use sluicegate_core::secrets::Secret;
use sluicegate_core::writeback::result_hash;
use sluicegate_source::privileges::TableNeed;
use sluicegate_source::{
    ConflictCheck, GuardedUpdate, ReceiptFix, SourceErrorKind, Sources, WriteStatus,
    apply_guarded_update, check_writer, create_receipt_table, lookup_writer, migration_body,
};
use sluicegate_test_support::engines::{
    EngineKind, TestDatabase, unused_local_port, url_with_password, url_with_port,
};

/// A throwaway database on one engine.
pub enum Db {
    Server(TestDatabase),
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
}

impl Db {
    pub async fn postgres(prefix: &str) -> Option<Db> {
        TestDatabase::create(EngineKind::Postgres, prefix)
            .await
            .map(Db::Server)
    }

    pub async fn mysql(prefix: &str) -> Option<Db> {
        TestDatabase::create(EngineKind::Mysql, prefix)
            .await
            .map(Db::Server)
    }

    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("source.db");
        rusqlite::Connection::open(&path).expect("create sqlite file");
        Db::Sqlite { _dir: dir, path }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Server(db) if db.kind() == EngineKind::Postgres => Engine::Postgres,
            Db::Server(_) => Engine::Mysql,
            Db::Sqlite { .. } => Engine::Sqlite,
        }
    }

    pub fn url(&self) -> String {
        match self {
            Db::Server(db) => db.url().to_string(),
            Db::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
        }
    }

    /// The schema a capability would name: `public`, the MySQL database, or `main`.
    pub fn schema(&self) -> String {
        match self {
            Db::Server(db) if db.kind() == EngineKind::Postgres => "public".into(),
            Db::Server(db) => db.name().to_string(),
            Db::Sqlite { .. } => "main".into(),
        }
    }

    pub async fn execute(&self, sql: &str) {
        match self {
            Db::Server(db) => db.execute(sql).await,
            Db::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open sqlite");
                conn.execute_batch(sql)
                    .unwrap_or_else(|e| panic!("sqlite: {e}\n{sql}"));
            }
        }
    }

    /// Every value of the result in text form (`None` = NULL).
    /// Create the receipt table as an admin does before direct writeback: the statements
    /// `sluicegate writeback migration` prints (apply never creates it).
    pub async fn migrate(&self) {
        let sql = migration_body(self.engine(), None).expect("migration");
        self.execute(&sql).await;
    }

    pub async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Db::Server(db) => db.query_text(sql).await,
            Db::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open sqlite");
                let mut stmt = conn.prepare(sql).expect("prepare");
                let n = stmt.column_count();
                let rows = stmt
                    .query_map([], |row| {
                        (0..n)
                            .map(|i| {
                                row.get_ref(i).map(|v| match v {
                                    rusqlite::types::ValueRef::Null => None,
                                    rusqlite::types::ValueRef::Integer(i) => Some(i.to_string()),
                                    rusqlite::types::ValueRef::Real(f) => Some(f.to_string()),
                                    rusqlite::types::ValueRef::Text(t)
                                    | rusqlite::types::ValueRef::Blob(t) => {
                                        Some(String::from_utf8_lossy(t).into_owned())
                                    }
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .expect("query");
                rows.collect::<Result<Vec<_>, _>>().expect("rows")
            }
        }
    }

    /// `SELECT <cols> FROM <schema>.<table> ... ` as one text row per result row.
    pub async fn rows(&self, table: &str, cols: &str, filter: &str) -> Vec<Vec<Option<String>>> {
        let sql = format!(
            "SELECT {cols} FROM {}.{table} {filter} ORDER BY id",
            self.schema()
        );
        self.query(&sql).await
    }

    /// Drop the database right away (server engines), so a failed assertion leaves no trace.
    pub async fn finish(self) {
        if let Db::Server(db) = self {
            db.drop_database().await;
        }
    }
}

pub const ENV: &str = "SOURCE_URL";

/// A source named `app` reading `url`.
pub fn sources(engine: Engine, url: &str, timeout_ms: Option<u64>) -> Sources {
    let url = url.to_string();
    Sources::from_sources(
        [Source {
            name: "app".into(),
            engine,
            read_url_env: ENV.into(),
            write_url_env: None,
            read_only: false,
            statement_timeout_ms: timeout_ms,
        }],
        Arc::new(move |name| (name == ENV).then(|| url.clone())),
    )
}

pub fn plan(
    db: &Db,
    table: &str,
    columns: &[&str],
    tenant: Option<&str>,
    lookup: Value,
) -> ReadPlan {
    ReadPlan {
        source: "app".into(),
        engine: db.engine(),
        schema: db.schema(),
        table: table.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        primary_key: "id".into(),
        tenant_column: tenant.map(|_| "tenant_id".to_string()),
        lookup_value: lookup,
        tenant_value: tenant.map(str::to_string),
        limit: 1,
    }
}

/// Read one row or fail.
pub async fn read_one(sources: &Sources, plan: &ReadPlan) -> Row {
    let rows = sources.read(plan).await.expect("read");
    assert_eq!(rows.len(), 1, "exactly one row for {plan:?}");
    rows.into_iter().next().expect("one row")
}

/// The `invoices` table of the writeback story, in each dialect. Rows:
/// INV-3001 (acme), INV-3002 (acme, sub-millisecond version), INV-3003 (acme, NULL version),
/// INV-3004 (acme), INV-4001 (globex); `dupes` has two rows with the same key and tenant.
pub fn invoices_ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "CREATE TABLE invoices (id text PRIMARY KEY, tenant_id text NOT NULL, status text NOT NULL,
                late_fee_cents integer NOT NULL, waiver_reason text, updated_at timestamp(6));
             CREATE TABLE dupes (id text, tenant_id text, status text);"
        }
        Engine::Mysql => {
            "CREATE TABLE invoices (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL,
                status varchar(32) NOT NULL, late_fee_cents int NOT NULL, waiver_reason text,
                updated_at datetime(6));
             CREATE TABLE dupes (id varchar(64), tenant_id varchar(64), status varchar(32));"
        }
        Engine::Sqlite => {
            "CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, status TEXT NOT NULL,
                late_fee_cents INTEGER NOT NULL, waiver_reason TEXT, updated_at DATETIME);
             CREATE TABLE dupes (id TEXT, tenant_id TEXT, status TEXT);"
        }
    }
}

pub const INVOICES_SEED: &str = "
INSERT INTO invoices (id, tenant_id, status, late_fee_cents, waiver_reason, updated_at) VALUES
  ('INV-3001', 'acme', 'open', 5500, NULL, '2026-06-20 14:31:08'),
  ('INV-3002', 'acme', 'open', 1000, NULL, '2026-06-20 14:31:08.123456'),
  ('INV-3003', 'acme', 'open', 200, NULL, NULL),
  ('INV-3004', 'acme', 'open', 300, NULL, '2026-06-20 14:31:08'),
  ('INV-4001', 'globex', 'open', 700, NULL, '2026-06-20 14:31:08');
INSERT INTO dupes (id, tenant_id, status) VALUES ('D-1', 'acme', 'open'), ('D-1', 'acme', 'open');
";

pub const READ_COLUMNS: &[&str] = &[
    "id",
    "status",
    "late_fee_cents",
    "waiver_reason",
    "tenant_id",
    "updated_at",
];

fn patch(pairs: &[(&str, Value)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A guarded update of `invoices` for tenant acme.
pub fn waiver(db: &Db, id: &str, key: &str, conflict: ConflictCheck) -> GuardedUpdate {
    GuardedUpdate {
        engine: db.engine(),
        schema: db.schema(),
        table: "invoices".into(),
        primary_key: ("id".into(), json!(id)),
        tenant_guard: Some(("tenant_id".into(), json!("acme"))),
        allowed_columns: vec!["late_fee_cents".into(), "waiver_reason".into()],
        patch: patch(&[
            ("late_fee_cents", json!(0)),
            ("waiver_reason", json!("approved support waiver")),
        ]),
        conflict,
        idempotency_key: format!("{key}:{id}"),
        job_id: format!("wbj_{key}"),
        proposal_id: key.into(),
    }
}

/// The `updated_at` version guard, advanced by Sluicegate (the default).
pub fn version(expected: &Value) -> ConflictCheck {
    ConflictCheck::Version {
        column: "updated_at".into(),
        expected: expected.clone(),
        maintained_by: MaintainedBy::Sluicegate,
    }
}

async fn receipt(db: &Db, key: &str) -> Option<(String, Option<String>)> {
    db.query(&format!(
        "SELECT status, result_hash FROM sluicegate_writeback_receipts WHERE idempotency_key = '{key}'"
    ))
    .await
    .into_iter()
    .next()
    .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone()))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// The writeback story of writeback.md §A.6, against `db` (seeded with [`invoices_ddl`] and
/// [`INVOICES_SEED`]). Every step checks both the outcome and the rows in the database.
pub async fn writeback_story(db: &Db) {
    let plain_url = db.url();
    let reader = sources(db.engine(), &plain_url, Some(5_000));
    let url = Secret::new(&plain_url);
    let read = |id: &str| plan(db, "invoices", READ_COLUMNS, Some("acme"), json!(id));
    let before_all = db.rows("invoices", "*", "").await;

    // 1. Applied: the version captured by a read guards the write; exactly one row changes.
    let row = read_one(&reader, &read("INV-3001")).await;
    let expected = row["updated_at"].clone();
    let u = waiver(db, "INV-3001", "wrp_a", version(&expected));
    let out = apply_guarded_update(&url, &u, false).await.expect("apply");
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
    assert_eq!(out.affected_rows, 1);
    assert_eq!(
        out.result_hash,
        Some(result_hash("wbj_wrp_a", "applied", Some(&expected)))
    );
    let after = db.rows("invoices", "*", "").await;
    let changed: Vec<_> = before_all
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "exactly one row changed: {changed:?}");
    assert_eq!(
        db.rows(
            "invoices",
            "late_fee_cents, waiver_reason",
            "WHERE id = 'INV-3001'"
        )
        .await,
        vec![vec![s("0"), s("approved support waiver")]]
    );
    assert_eq!(
        receipt(db, "wrp_a:INV-3001").await,
        Some(("applied".into(), out.result_hash.clone()))
    );

    // 2. Retry of the same key: already applied, no second write. The row is changed behind
    //    our back first, so a second UPDATE would be visible.
    db.execute(&format!(
        "UPDATE {}.invoices SET late_fee_cents = 42 WHERE id = 'INV-3001'",
        db.schema()
    ))
    .await;
    let again = apply_guarded_update(&url, &u, false).await.expect("retry");
    assert_eq!(again.status, WriteStatus::AlreadyApplied, "{again:?}");
    assert_eq!(again.affected_rows, 0);
    assert_eq!(again.result_hash, out.result_hash);
    assert_eq!(
        db.rows("invoices", "late_fee_cents", "WHERE id = 'INV-3001'")
            .await,
        vec![vec![s("42")]]
    );

    // 3. Sub-millisecond versions survive the round trip: the full value matches, the value
    //    cut to milliseconds does not.
    let row = read_one(&reader, &read("INV-3002")).await;
    let precise = row["updated_at"].clone();
    if db.engine() != Engine::Sqlite {
        assert_eq!(precise, json!("2026-06-20T14:31:08.123456Z"));
    }
    let cut = json!("2026-06-20T14:31:08.123Z");
    let stale = apply_guarded_update(&url, &waiver(db, "INV-3002", "wrp_b", version(&cut)), false)
        .await
        .expect("apply");
    assert_eq!(stale.status, WriteStatus::Conflict, "{stale:?}");
    assert_eq!(stale.error_code.as_deref(), Some("VERSION_CONFLICT"));
    assert_eq!(stale.current_version, Some(precise.clone()));
    assert_eq!(
        stale.result_hash,
        Some(result_hash("wbj_wrp_b", "VERSION_CONFLICT", Some(&precise)))
    );
    assert_eq!(
        db.rows(
            "invoices",
            "late_fee_cents, waiver_reason",
            "WHERE id = 'INV-3002'"
        )
        .await,
        vec![vec![s("1000"), None]],
        "a conflict leaves the row untouched"
    );
    assert_eq!(
        receipt(db, "wrp_b:INV-3002").await.map(|r| r.0),
        s("conflict")
    );
    // Retrying a conflicted key reports the stored conflict.
    let again = apply_guarded_update(&url, &waiver(db, "INV-3002", "wrp_b", version(&cut)), false)
        .await
        .expect("retry");
    assert_eq!(again.status, WriteStatus::Conflict);
    assert_eq!(again.error_code.as_deref(), Some("IDEMPOTENT_CONFLICT"));
    let exact = apply_guarded_update(
        &url,
        &waiver(db, "INV-3002", "wrp_c", version(&precise)),
        false,
    )
    .await
    .expect("apply");
    assert_eq!(exact.status, WriteStatus::Applied, "{exact:?}");

    // 4. The row changed after it was read: version conflict, nothing written.
    let row = read_one(&reader, &read("INV-3004")).await;
    db.execute(&format!(
        "UPDATE {}.invoices SET updated_at = '2026-06-21 09:00:00', status = 'paid' WHERE id = 'INV-3004'",
        db.schema()
    ))
    .await;
    let out = apply_guarded_update(
        &url,
        &waiver(db, "INV-3004", "wrp_d", version(&row["updated_at"])),
        false,
    )
    .await
    .expect("apply");
    assert_eq!(out.status, WriteStatus::Conflict);
    assert_eq!(out.error_code.as_deref(), Some("VERSION_CONFLICT"));
    assert_eq!(
        db.rows(
            "invoices",
            "late_fee_cents, status",
            "WHERE id = 'INV-3004'"
        )
        .await,
        vec![vec![s("300"), s("paid")]]
    );

    // 5. Row-hash guard, computed from a real read: matches, then stale after a change.
    let row = read_one(&reader, &read("INV-3004")).await;
    let rh = |row: &Row| ConflictCheck::RowHash {
        expected: hash_json(&Value::Object(row.clone())),
        before: row.clone(),
    };
    let mut stale_hash = waiver(db, "INV-3004", "wrp_e", rh(&row));
    stale_hash.patch.insert("late_fee_cents".into(), json!(1));
    db.execute(&format!(
        "UPDATE {}.invoices SET status = 'void' WHERE id = 'INV-3004'",
        db.schema()
    ))
    .await;
    let out = apply_guarded_update(&url, &stale_hash, false)
        .await
        .expect("apply");
    assert_eq!(out.status, WriteStatus::Conflict, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("VERSION_CONFLICT"));
    assert_eq!(
        db.rows("invoices", "late_fee_cents", "WHERE id = 'INV-3004'")
            .await,
        vec![vec![s("300")]]
    );
    let row = read_one(&reader, &read("INV-3004")).await;
    let fresh = waiver(db, "INV-3004", "wrp_f", rh(&row));
    let out = apply_guarded_update(&url, &fresh, false)
        .await
        .expect("apply");
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
    assert_eq!(
        out.result_hash,
        Some(result_hash("wbj_wrp_f", "applied", None))
    );

    // 6. Missing row and another tenant's row look the same: ROW_NOT_FOUND, committed.
    for (id, key) in [("INV-9999", "wrp_g"), ("INV-4001", "wrp_h")] {
        let out = apply_guarded_update(&url, &waiver(db, id, key, ConflictCheck::None), false)
            .await
            .expect("apply");
        assert_eq!(out.status, WriteStatus::Conflict, "{id}: {out:?}");
        assert_eq!(out.error_code.as_deref(), Some("ROW_NOT_FOUND"));
        assert_eq!(
            out.result_hash,
            Some(result_hash(&format!("wbj_{key}"), "ROW_NOT_FOUND", None))
        );
        assert_eq!(
            receipt(db, &format!("{key}:{id}")).await.map(|r| r.0),
            s("conflict")
        );
    }
    assert_eq!(
        db.rows(
            "invoices",
            "late_fee_cents, waiver_reason",
            "WHERE id = 'INV-4001'"
        )
        .await,
        vec![vec![s("700"), None]]
    );

    // 7. A NULL version is matched null-safely.
    let row = read_one(&reader, &read("INV-3003")).await;
    assert_eq!(row["updated_at"], Value::Null);
    let out = apply_guarded_update(
        &url,
        &waiver(db, "INV-3003", "wrp_i", version(&Value::Null)),
        false,
    )
    .await
    .expect("apply");
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");

    // 8. Writing the values the row already has still counts as the one guarded row.
    let out = apply_guarded_update(
        &url,
        &waiver(db, "INV-3003", "wrp_j", ConflictCheck::None),
        false,
    )
    .await
    .expect("apply");
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
    assert_eq!(out.affected_rows, 1);

    // 9. A failure inside the transaction rolls everything back, the claim included, so the
    //    same key can be retried once the cause is fixed.
    //    (A column the catalog does not know is not checked beforehand; the server refuses it.)
    let mut broken = waiver(db, "INV-4001", "wrp_k", ConflictCheck::None);
    broken.tenant_guard = Some(("tenant_id".into(), json!("globex")));
    broken.patch.insert("no_such_column".into(), json!(1));
    broken.allowed_columns.push("no_such_column".into());
    let out = apply_guarded_update(&url, &broken, false)
        .await
        .expect("apply");
    assert_eq!(out.status, WriteStatus::Failed, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("TRANSACTION_FAILED"));
    let detail = out.detail.clone().unwrap_or_default();
    assert!(!detail.contains(&plain_url), "{detail}");
    assert_eq!(
        receipt(db, "wrp_k:INV-4001").await,
        None,
        "claim rolled back"
    );
    // An approved value its column would not store as approved fails the same way, before
    // the UPDATE runs.
    let mut not_stored = waiver(db, "INV-4001", "wrp_k", ConflictCheck::None);
    not_stored.tenant_guard = Some(("tenant_id".into(), json!("globex")));
    not_stored
        .patch
        .insert("late_fee_cents".into(), json!("not a number"));
    let out = apply_guarded_update(&url, &not_stored, false)
        .await
        .expect("apply");
    assert_eq!(out.status, WriteStatus::Failed, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("PATCH_VALUE_INVALID"));
    assert_eq!(receipt(db, "wrp_k:INV-4001").await, None);
    let mut fixed = waiver(db, "INV-4001", "wrp_k", ConflictCheck::None);
    fixed.tenant_guard = Some(("tenant_id".into(), json!("globex")));
    let out = apply_guarded_update(&url, &fixed, false)
        .await
        .expect("retry");
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");

    // 10. Two rows under one key and tenant: the UPDATE is rolled back.
    let dupes = GuardedUpdate {
        table: "dupes".into(),
        primary_key: ("id".into(), json!("D-1")),
        allowed_columns: vec!["status".into()],
        patch: patch(&[("status", json!("closed"))]),
        ..waiver(db, "D-1", "wrp_l", ConflictCheck::None)
    };
    let out = apply_guarded_update(&url, &dupes, false)
        .await
        .expect("apply");
    assert_eq!(out.status, WriteStatus::Failed, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("MULTI_ROW_WRITE_BLOCKED"));
    assert_eq!(
        db.rows("dupes", "status", "").await,
        vec![vec![s("open")], vec![s("open")]]
    );
    assert_eq!(receipt(db, "wrp_l:D-1").await, None);

    // 11. The doctor's writer check leaves no receipt behind.
    let check = check_writer(&url, db.engine(), &[]).await.expect("check");
    assert_eq!(check.lookup.receipt_schema, Some(db.schema()), "{check:?}");
    assert!(
        check.lacks.is_empty() && check.troubles.is_empty(),
        "{check:?}"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM sluicegate_writeback_receipts WHERE status = 'doctor'")
            .await,
        vec![vec![s("0")]]
    );
}

/// Apply never creates the receipt table: on a database without one (seeded, not migrated)
/// the writer attempts nothing (`RECEIPT_TABLE_MISSING`; no row changed, no table created).
/// `doctor --fix` creates it through an admin URL where the writer looks, once; then apply
/// writes.
pub async fn receipt_table_story(db: &Db) {
    let url = Secret::new(db.url());
    let before = db.rows("invoices", "*", "").await;
    let found = lookup_writer(&url, db.engine()).await.expect("lookup");
    assert_eq!(found.receipt_schema, None, "{found:?}");
    assert_eq!(found.schema, Some(db.schema()), "{found:?}");
    let u = waiver(db, "INV-3001", "wrp_nr", ConflictCheck::None);
    let out = apply_guarded_update(&url, &u, false)
        .await
        .expect("outcome");
    assert_eq!(out.status, WriteStatus::Failed, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("RECEIPT_TABLE_MISSING"));
    assert_eq!(
        db.rows("invoices", "*", "").await,
        before,
        "nothing written"
    );
    let still = lookup_writer(&url, db.engine()).await.expect("lookup");
    assert_eq!(still.receipt_schema, None, "apply created nothing");

    let fix = create_receipt_table(&url, &url, db.engine())
        .await
        .expect("fix");
    assert!(
        matches!(&fix, ReceiptFix::Created { schema, .. } if *schema == db.schema()),
        "{fix:?}"
    );
    let found = lookup_writer(&url, db.engine()).await.expect("lookup");
    assert_eq!(found.receipt_schema, Some(db.schema()));
    assert_eq!(
        create_receipt_table(&url, &url, db.engine()).await,
        Ok(ReceiptFix::Present {
            schema: db.schema()
        })
    );
    let out = apply_guarded_update(&url, &u, false).await.expect("apply");
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
}

/// Two applies of the same key at once: exactly one applies, the other reports it as already
/// applied; the two claims race on both unique indexes (key and job id).
pub async fn concurrent_story(db: &Db) {
    let url = Secret::new(db.url());
    for round in 0..CONCURRENT_ROUNDS {
        let u = waiver(
            db,
            "INV-3001",
            &format!("wrp_same_{round}"),
            ConflictCheck::None,
        );
        let (a, b) = tokio::join!(
            apply_guarded_update(&url, &u, false),
            apply_guarded_update(&url, &u, false)
        );
        let (a, b) = (a.expect("first"), b.expect("second"));
        let mut statuses = vec![a.status, b.status];
        statuses.sort_by_key(|s| s.as_str());
        assert_eq!(
            statuses,
            vec![WriteStatus::AlreadyApplied, WriteStatus::Applied],
            "exactly one applies (round {round}): {a:?} {b:?}"
        );
    }
    assert_eq!(
        db.query("SELECT DISTINCT status FROM sluicegate_writeback_receipts")
            .await,
        vec![vec![s("applied")]]
    );
    assert_eq!(
        db.query("SELECT count(*) FROM sluicegate_writeback_receipts")
            .await,
        vec![vec![s(&CONCURRENT_ROUNDS.to_string())]]
    );
}

const CONCURRENT_ROUNDS: usize = 20;

/// The tenant guard and injection story on the seeded `invoices` table: a tenant sees its own
/// row and not another tenant's, injection-looking lookups (the common ones plus the engine's
/// own placeholder and quoting tricks in `engine_evil`) are plain data that match nothing and
/// change nothing, and an unsafe schema, table or column name never reaches the server.
pub async fn tenant_guard_story(db: &Db, engine_evil: &[&str]) {
    let sources = sources(db.engine(), &db.url(), Some(5_000));
    let cols = &["id", "tenant_id"];
    let own = sources
        .read(&plan(
            db,
            "invoices",
            cols,
            Some("globex"),
            json!("INV-4001"),
        ))
        .await
        .expect("read");
    assert_eq!(own.len(), 1);
    let other = sources
        .read(&plan(db, "invoices", cols, Some("acme"), json!("INV-4001")))
        .await
        .expect("read");
    assert!(other.is_empty(), "another tenant's row is invisible");
    let common = ["INV-3001' OR '1'='1", "INV-3001'; DROP TABLE invoices; --"];
    for evil in common.iter().chain(engine_evil) {
        let rows = sources
            .read(&plan(db, "invoices", cols, Some("acme"), json!(evil)))
            .await
            .expect("read");
        assert!(rows.is_empty(), "{evil} is plain data");
    }
    assert_eq!(
        db.query(&format!("SELECT count(*) FROM {}.invoices", db.schema()))
            .await,
        vec![vec![Some("5".into())]]
    );
    let unsafe_names: [fn(&mut ReadPlan); 3] = [
        |p| p.schema = "main\".\"invoices".into(),
        |p| p.table = "invoices; DROP TABLE invoices".into(),
        |p| p.columns.push("id`, `tenant_id".into()),
    ];
    for make_unsafe in unsafe_names {
        let mut bad = plan(db, "invoices", cols, Some("acme"), json!("INV-3001"));
        make_unsafe(&mut bad);
        assert!(
            matches!(
                sources.read(&bad).await,
                Err(e) if e.kind() == &SourceErrorKind::UnsafeIdentifier
            ),
            "{bad:?}"
        );
    }
}

/// Connection failures on a server engine, starting from its admin URL: a wrong password and a
/// closed port are redacted everywhere (no password, user, host, port or scheme), and the wrong
/// password is reported as an authentication failure.
pub async fn connection_errors_story(engine: Engine, admin: &str, scheme: &str) {
    let password = admin
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, pw)| pw.to_string())
        .unwrap_or_default();
    let port = admin
        .rsplit_once(':')
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let closed = unused_local_port();
    let bad = vec![
        url_with_password(admin, "wrong-pw-1234"),
        url_with_port(admin, closed),
    ];
    let closed = closed.to_string();
    let mut secrets = vec!["wrong-pw-1234", "sluicegate", "127.0.0.1", scheme, &closed];
    if !password.is_empty() {
        secrets.push(&password);
    }
    if !port.is_empty() {
        secrets.push(&port);
    }
    assert_redacted(engine, &bad, &secrets).await;
    let err = sources(engine, &bad[0], None)
        .read(&ReadPlan {
            source: "app".into(),
            engine,
            schema: "public".into(),
            table: "t".into(),
            columns: vec!["id".into()],
            primary_key: "id".into(),
            tenant_column: None,
            lookup_value: json!(1),
            tenant_value: None,
            limit: 1,
        })
        .await
        .expect_err("bad password");
    assert_eq!(err.category(), "authentication failed", "{err}");
}

/// Connection failures are of an unavailable kind and their messages carry no secret: checked with a
/// wrong password and with a closed port, for both the reader and the writer.
pub async fn assert_redacted(engine: Engine, bad_urls: &[String], secrets: &[&str]) {
    for url in bad_urls {
        let reader = sources(engine, url, Some(2_000));
        let read_err = reader
            .read(&ReadPlan {
                source: "app".into(),
                engine,
                schema: "public".into(),
                table: "invoices".into(),
                columns: vec!["id".into()],
                primary_key: "id".into(),
                tenant_column: None,
                lookup_value: json!("x"),
                tenant_value: None,
                limit: 1,
            })
            .await
            .expect_err("bad URL cannot read");
        let update = GuardedUpdate {
            engine,
            schema: "public".into(),
            table: "invoices".into(),
            primary_key: ("id".into(), json!("x")),
            tenant_guard: Some(("tenant_id".into(), json!("acme"))),
            allowed_columns: vec!["status".into()],
            patch: patch(&[("status", json!("paid"))]),
            conflict: ConflictCheck::None,
            idempotency_key: "k".into(),
            job_id: "j".into(),
            proposal_id: "p".into(),
        };
        let write_err = apply_guarded_update(&Secret::new(url), &update, false)
            .await
            .expect_err("bad URL cannot write");
        let probe_err = check_writer(&Secret::new(url), engine, &[])
            .await
            .expect_err("bad URL cannot probe");
        let lookup_err = lookup_writer(&Secret::new(url), engine)
            .await
            .expect_err("bad URL cannot look");
        for err in [&read_err, &write_err, &probe_err, &lookup_err] {
            assert!(
                err.kind().is_unavailable(),
                "connection failures are Unavailable: {err:?}"
            );
            let text = format!("{err} {err:?}");
            for secret in secrets {
                assert!(!text.contains(secret), "{secret:?} leaked into {text:?}");
            }
        }
    }
}

/// The doctor's writer check on the seeded, migrated `invoices` table: what the writer needs
/// passes; a missing column or table is named as "configured object not found"; an unsafe
/// identifier is refused; no row changes and no probe receipt stays.
pub async fn writer_check_story(db: &Db) {
    let url = Secret::new(db.url());
    let before = db.rows("invoices", "*", "").await;
    let need = |table: &str, update: &[&str]| TableNeed {
        schema: db.schema(),
        table: table.into(),
        select: ["id", "tenant_id", "updated_at"].map(String::from).to_vec(),
        update: update.iter().map(|c| c.to_string()).collect(),
    };
    let ok = check_writer(
        &url,
        db.engine(),
        &[need("invoices", &["late_fee_cents", "waiver_reason"])],
    )
    .await
    .expect("the real target passes");
    assert!(ok.lacks.is_empty() && ok.troubles.is_empty(), "{ok:?}");
    assert_eq!(ok.lookup.receipt_schema, Some(db.schema()));
    let bad = check_writer(
        &url,
        db.engine(),
        &[
            need("invoices", &["late_fee_cents", "no_such_column"]),
            need("no_such_table", &["late_fee_cents"]),
        ],
    )
    .await
    .expect("checked");
    assert!(bad.lacks.is_empty(), "{bad:?}");
    let schema = db.schema();
    let mut objects: Vec<(String, &str)> = bad
        .troubles
        .iter()
        .map(|t| (t.object.clone(), t.category))
        .collect();
    objects.sort();
    let nf = "configured object not found";
    assert_eq!(
        objects,
        vec![
            (format!("{schema}.invoices.no_such_column"), nf),
            (format!("{schema}.no_such_table.id"), nf),
            (format!("{schema}.no_such_table.late_fee_cents"), nf),
            (format!("{schema}.no_such_table.tenant_id"), nf),
            (format!("{schema}.no_such_table.updated_at"), nf),
        ]
    );
    let mut unsafe_need = need("invoices", &["late_fee_cents"]);
    unsafe_need.update.push("x = 1; --".into());
    assert!(matches!(
        check_writer(&url, db.engine(), &[unsafe_need]).await,
        Err(e) if e.kind() == &SourceErrorKind::UnsafeIdentifier
    ));
    assert_eq!(
        db.rows("invoices", "*", "").await,
        before,
        "nothing changed"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM sluicegate_writeback_receipts")
            .await,
        vec![vec![s("0")]]
    );
}
