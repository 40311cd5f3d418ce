//! SQLite engine tests: value conversion, tenant guard, injection, read-only file handles
//! (the file is provably untouched), statement timeout, redacted errors and guarded
//! writeback. SQLite needs no server, so these always run.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{Db, plan, read_one, sources};
use serde_json::json;
use sluicegate_core::config::Engine;
use sluicegate_core::json::canonical;
use sluicegate_core::secrets::Secret;
use sluicegate_source::{SourceErrorKind, apply_guarded_update, check_writer};

const VALUES_DDL: &str = r#"
CREATE TABLE vals (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,
  i INTEGER, big INTEGER, r REAL, inf REAL, t TEXT, n TEXT,
  b BOOLEAN, b2 BOOL, b3 BOOLEAN, js JSON, jbad JSON, bl BLOB, ts TIMESTAMP, anyv
);
INSERT INTO vals VALUES (
  'v1', 'acme', 42, 9223372036854775807, 0.5, 9e999, 'héllo "q"', NULL,
  1, 0, 7, '{"b":1,"a":[1,2]}', 'not json', x'deadbeef', '2026-06-20 14:31:08', 'x'
);
CREATE TABLE nums (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT);
INSERT INTO nums VALUES (5, 'acme', 'five');
CREATE VIEW slow AS
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)
  SELECT 'x' AS id, max(x) AS s FROM c;
"#;

const VALUE_COLUMNS: &[&str] = &[
    "id", "i", "big", "r", "inf", "t", "n", "b", "b2", "b3", "js", "jbad", "bl", "ts", "anyv",
];

/// Declared BOOLEAN holding 0/1 becomes a boolean (7 stays a number); declared JSON is parsed
/// when it parses; a declared TIMESTAMP's text is read as RFC 3339 UTC (zone-less text as UTC),
/// like a timestamp on every other engine; other text is returned as stored.
const EXPECTED_VALUES: &str = concat!(
    r#"{"id":"v1","i":42,"big":"9223372036854775807","r":0.5,"inf":"Infinity","#,
    r#""t":"héllo \"q\"","n":null,"b":true,"b2":false,"b3":7,"js":{"b":1,"a":[1,2]},"#,
    r#""jbad":"not json","bl":"\\xdeadbeef","ts":"2026-06-20T14:31:08.000Z","anyv":"x"}"#
);

/// The app's tables and rows, without Sluicegate's receipt table.
async fn unmigrated() -> Db {
    let db = Db::sqlite();
    db.execute(VALUES_DDL).await;
    db.execute(common::invoices_ddl(Engine::Sqlite)).await;
    db.execute(common::INVOICES_SEED).await;
    db
}

/// The app's tables, and the receipt table an admin created with `writeback migration`.
async fn seeded() -> Db {
    let db = unmigrated().await;
    db.migrate().await;
    db
}

fn path_of(db: &Db) -> &Path {
    match db {
        Db::Sqlite { path, .. } => path,
        Db::Server(_) => panic!("not sqlite"),
    }
}

/// The file's bytes and modification time, and the names in its directory (no journal or
/// WAL file may appear).
fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime, Vec<String>) {
    let bytes = std::fs::read(path).expect("read db file");
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let mut names: Vec<String> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("list dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (bytes, mtime, names)
}

#[tokio::test]
async fn values_are_faithful_in_every_url_form() {
    let db = seeded().await;
    let path = path_of(&db).display().to_string();
    for url in [db.url(), path.clone(), format!("sqlite:{path}")] {
        let sources = sources(Engine::Sqlite, &url, Some(5_000));
        let row = read_one(
            &sources,
            &plan(&db, "vals", VALUE_COLUMNS, Some("acme"), json!("v1")),
        )
        .await;
        assert_eq!(canonical(&json!(row)), EXPECTED_VALUES, "{url}");
    }
    let sources = sources(Engine::Sqlite, &db.url(), None);
    for lookup in [json!(5), json!("5")] {
        let row = read_one(
            &sources,
            &plan(&db, "nums", &["id", "name"], Some("acme"), lookup),
        )
        .await;
        assert_eq!(canonical(&json!(row)), r#"{"id":5,"name":"five"}"#);
    }
}

#[tokio::test]
async fn tenant_guard_and_injection() {
    let db = seeded().await;
    common::tenant_guard_story(&db, &["?1"]).await;
}

#[tokio::test]
async fn reads_never_modify_the_file() {
    let db = seeded().await;
    let path = path_of(&db).to_path_buf();
    // Date the file an hour back, so any write now shows in its mtime, whatever the
    // filesystem's timestamp granularity (no waiting for the clock to tick).
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(an_hour_ago))
        .expect("set mtime");
    let before = fingerprint(&path);
    let sources = sources(Engine::Sqlite, &db.url(), Some(5_000));
    read_one(
        &sources,
        &plan(
            &db,
            "invoices",
            common::READ_COLUMNS,
            Some("acme"),
            json!("INV-3001"),
        ),
    )
    .await;
    for sql in [
        "INSERT INTO invoices (id, tenant_id, status, late_fee_cents) VALUES ('X', 'acme', 'open', 1)",
        "UPDATE invoices SET late_fee_cents = 0",
        "DELETE FROM invoices",
        "CREATE TABLE sneaky (a int)",
        "DROP TABLE dupes",
    ] {
        let err = sources
            .execute_on_read_connection("app", sql)
            .await
            .expect_err(sql);
        assert!(err.is_read_only_violation(), "{sql}: {err}");
    }
    read_one(
        &sources,
        &plan(
            &db,
            "invoices",
            common::READ_COLUMNS,
            Some("acme"),
            json!("INV-3002"),
        ),
    )
    .await;
    assert!(
        fingerprint(&path) == before,
        "the file and its directory are untouched"
    );

    // A URL naming a missing file is unavailable, and the file is not created.
    let missing = path.with_file_name("missing.db");
    let err = common::sources(Engine::Sqlite, &missing.display().to_string(), None)
        .read(&plan(&db, "invoices", &["id"], None, json!("INV-3001")))
        .await
        .expect_err("missing file");
    assert_eq!(err.category(), "connection failed", "{err}");
    assert!(!err.to_string().contains("missing.db"), "{err}");
    assert!(!missing.exists());
}

#[tokio::test]
async fn statement_timeout() {
    let db = seeded().await;
    let sources = sources(Engine::Sqlite, &db.url(), Some(300));
    let started = Instant::now();
    let err = sources
        .read(&plan(&db, "slow", &["id", "s"], None, json!("x")))
        .await
        .expect_err("times out");
    assert_eq!(err.category(), "timeout", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The connection is usable afterwards (the deadline is re-armed per read).
    read_one(
        &sources,
        &plan(&db, "invoices", &["id"], Some("acme"), json!("INV-3001")),
    )
    .await;
    let err = sources
        .read(&plan(&db, "invoices", &["id", "nope"], None, json!("x")))
        .await
        .expect_err("unknown column");
    assert_eq!(err.kind(), &SourceErrorKind::ObjectNotFound, "{err}");
    assert!(err.message().contains("nope"), "{err}");
}

#[tokio::test]
async fn guarded_writeback() {
    let db = seeded().await;
    common::writeback_story(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_of_one_key() {
    let db = seeded().await;
    common::concurrent_story(&db).await;
}

#[tokio::test]
async fn writer_errors_are_redacted_and_never_create_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("secret-name.db");
    let url = format!("sqlite://{}", missing.display());
    let db = Db::sqlite();
    let u = common::waiver(
        &db,
        "INV-3001",
        "wrp_x",
        sluicegate_source::ConflictCheck::None,
    );
    let err = apply_guarded_update(&Secret::new(&url), &u, false)
        .await
        .expect_err("missing file");
    assert_eq!(err.category(), "connection failed", "{err}");
    let err = check_writer(&Secret::new(&url), Engine::Sqlite, &[])
        .await
        .expect_err("missing file");
    for text in [format!("{err}"), format!("{err:?}")] {
        assert!(!text.contains("secret-name"), "{text}");
    }
    assert!(!missing.exists(), "the writer never creates a database");
}

#[tokio::test]
async fn a_misspelt_guard_column_fails_instead_of_guarding_a_literal() {
    let db = seeded().await;
    let guard = sluicegate_source::ConflictCheck::RowHash {
        // What hash_json would give if "nope" were read as the string literal 'nope'.
        expected: sluicegate_core::json::hash_json(&json!({"nope": "nope"})),
        before: json!({"nope": "nope"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let u = common::waiver(&db, "INV-3001", "wrp_typo", guard);
    let out = apply_guarded_update(&Secret::new(db.url()), &u, false)
        .await
        .expect("outcome");
    assert_eq!(
        out.status,
        sluicegate_source::WriteStatus::Failed,
        "{out:?}"
    );
    assert_eq!(out.error_code.as_deref(), Some("TRANSACTION_FAILED"));
    assert_eq!(
        db.rows("invoices", "late_fee_cents", "WHERE id = 'INV-3001'")
            .await,
        vec![vec![Some("5500".into())]]
    );
}

#[tokio::test]
async fn doctor_writer_check() {
    let db = seeded().await;
    common::writer_check_story(&db).await;
}

#[tokio::test]
async fn apply_never_creates_the_receipt_table() {
    common::receipt_table_story(&unmigrated().await).await;
}

#[tokio::test]
async fn limit_caps_the_rows() {
    let db = seeded().await;
    let sources = sources(Engine::Sqlite, &db.url(), None);
    let mut p = plan(&db, "dupes", &["id", "status"], Some("acme"), json!("D-1"));
    assert_eq!(sources.read(&p).await.expect("read").len(), 1);
    p.limit = 5;
    assert_eq!(sources.read(&p).await.expect("read").len(), 2);
    p.limit = 0; // read as 1: a read always asks for at least one row
    assert_eq!(sources.read(&p).await.expect("read").len(), 1);
}

async fn writeguard_db() -> Db {
    let db = Db::sqlite();
    db.execute(common::writeguard::ddl(Engine::Sqlite)).await;
    db.execute(common::writeguard::SEED).await;
    db.migrate().await;
    db
}

#[tokio::test]
async fn a_second_proposal_from_one_read_conflicts_once_sluicegate_advances_the_version() {
    common::writeguard::lost_update_story(&writeguard_db().await).await;
}

#[tokio::test]
async fn a_trigger_maintained_version_is_left_to_the_app() {
    common::writeguard::app_maintained_story(&writeguard_db().await).await;
}

#[tokio::test]
async fn the_row_hash_guard_is_enforced_in_sql() {
    common::writeguard::row_hash_story(&writeguard_db().await).await;
}

#[tokio::test]
async fn patch_values_are_checked_at_proposal_and_stored_as_approved() {
    common::writeguard::proposal_values_story(&writeguard_db().await).await;
}
