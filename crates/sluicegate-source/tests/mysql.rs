//! MySQL / MariaDB engine tests: value conversion, tenant guard, injection, engine-enforced
//! read-only sessions, statement timeout, pooling, redacted errors and guarded writeback.
//! Needs `SLUICEGATE_TEST_MYSQL_URL` (see `scripts/test.sh`, which starts MariaDB); without it
//! each test goes through `skip_or_fail`, a failure with `CI=true`.

use crate::common;

use std::time::{Duration, Instant};

use common::{Db, plan, read_one, sources};
use serde_json::json;
use sluicegate_core::config::Engine;
use sluicegate_core::json::canonical;
use sluicegate_source::{EngineCode, SourceErrorKind};
use sluicegate_test_support::engines::{EngineKind, engine_url};

/// `ts` is written at +02:00 and must read back in UTC; `js` is JSON (MariaDB: LONGTEXT with
/// a json_valid check), `jt` is a plain LONGTEXT holding JSON-looking text.
const VALUES_DDL: &str = r#"
CREATE TABLE vals (
  id varchar(16) PRIMARY KEY, tenant_id varchar(16) NOT NULL,
  b tinyint(1), b2 boolean, ti tinyint, si smallint, i int, bi bigint, bibig bigint,
  ubig bigint unsigned, f float, d double, dec_ decimal(12,2),
  txt text, vc varchar(20), ch char(5), js json, jt longtext,
  dt datetime, dt6 datetime(6), ts timestamp(3) NULL, da date, tm time, tm6 time(6), y year,
  en enum('happy','sad'), st set('a','b'), bin varbinary(8), bl blob, bt bit(8), nul int
);
SET time_zone = '+02:00';
INSERT INTO vals VALUES (
  'v1', 'acme',
  1, 0, 5, -32768, 2147483647, 9007199254740991, 9223372036854775807,
  18446744073709551615, 0.1, 0.1, 5500.00,
  'héllo "q"', 'x', 'ab', '{"b": 1, "a": [1, 2]}', '{"x":1}',
  '2026-06-20 14:31:08', '2026-06-20 14:31:08.123456', '2026-06-20 16:31:08.250',
  '2026-06-20', '14:31:08', '-30:00:01.5', 2026,
  'happy', 'a,b', 0xDEADBEEF, 'abc', b'00000101', NULL
);
CREATE TABLE nums (id int PRIMARY KEY, tenant_id varchar(16) NOT NULL, name varchar(16));
INSERT INTO nums VALUES (5, 'acme', 'five');
CREATE VIEW slow AS SELECT 'x' AS id, SLEEP(3) AS s;
CREATE VIEW whoami AS SELECT 'x' AS id, CONNECTION_ID() AS pid;
"#;

const VALUE_COLUMNS: &[&str] = &[
    "id", "b", "b2", "ti", "si", "i", "bi", "bibig", "ubig", "f", "d", "dec_", "txt", "vc", "ch",
    "js", "jt", "dt", "dt6", "ts", "da", "tm", "tm6", "y", "en", "st", "bin", "bl", "bt", "nul",
];

const EXPECTED_VALUES: &str = concat!(
    r#"{"id":"v1","b":true,"b2":false,"ti":5,"si":-32768,"i":2147483647,"#,
    r#""bi":9007199254740991,"bibig":"9223372036854775807","ubig":"18446744073709551615","#,
    r#""f":0.1,"d":0.1,"dec_":"5500.00","txt":"héllo \"q\"","vc":"x","ch":"ab","#,
    r#""js":{"b":1,"a":[1,2]},"jt":"{\"x\":1}","#,
    r#""dt":"2026-06-20T14:31:08.000Z","dt6":"2026-06-20T14:31:08.123456Z","#,
    r#""ts":"2026-06-20T14:31:08.250Z","da":"2026-06-20","tm":"14:31:08","#,
    r#""tm6":"-30:00:01.500000","y":2026,"en":"happy","st":"a,b","bin":"\\xdeadbeef","#,
    r#""bl":"\\x616263","bt":5,"nul":null}"#
);

/// The app's tables and rows, without Sluicegate's receipt table.
async fn unmigrated(prefix: &str) -> Option<Db> {
    let db = Db::mysql(prefix).await?;
    db.execute(VALUES_DDL).await;
    db.execute(common::invoices_ddl(Engine::Mysql)).await;
    db.execute(common::INVOICES_SEED).await;
    Some(db)
}

/// The app's tables, and the receipt table an admin created with `writeback migration`.
async fn seeded(prefix: &str) -> Option<Db> {
    let db = unmigrated(prefix).await?;
    db.migrate().await;
    Some(db)
}

#[tokio::test]
async fn values_are_faithful() {
    let Some(db) = seeded("my_values").await else {
        return;
    };
    let sources = sources(Engine::Mysql, &db.url(), Some(5_000));
    let p = plan(&db, "vals", VALUE_COLUMNS, Some("acme"), json!("v1"));
    for _ in 0..2 {
        let row = read_one(&sources, &p).await;
        assert_eq!(canonical(&json!(row)), EXPECTED_VALUES);
    }
    for lookup in [json!(5), json!("5")] {
        let row = read_one(
            &sources,
            &plan(&db, "nums", &["id", "name"], Some("acme"), lookup),
        )
        .await;
        assert_eq!(canonical(&json!(row)), r#"{"id":5,"name":"five"}"#);
    }
    db.finish().await;
}

#[tokio::test]
async fn tenant_guard_and_injection() {
    let Some(db) = seeded("my_guard").await else {
        return;
    };
    common::tenant_guard_story(&db, &["INV-3001\\' OR 1=1 -- "]).await;
    db.finish().await;
}

#[tokio::test]
async fn read_connections_are_read_only() {
    let Some(db) = seeded("my_ro").await else {
        return;
    };
    let sources = sources(Engine::Mysql, &db.url(), Some(5_000));
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
    assert_eq!(
        db.query(&format!(
            "SELECT count(*), sum(late_fee_cents) FROM {}.invoices",
            db.schema()
        ))
        .await,
        vec![vec![Some("5".into()), Some("7700".into())]]
    );
    db.finish().await;
}

#[tokio::test]
async fn statement_timeout_and_pooling() {
    let Some(db) = seeded("my_timeout").await else {
        return;
    };
    let sources = sources(Engine::Mysql, &db.url(), Some(300));
    let started = Instant::now();
    let err = sources
        .read(&plan(&db, "slow", &["id", "s"], None, json!("x")))
        .await
        .expect_err("times out");
    assert_eq!(err.category(), "timeout", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let who = plan(&db, "whoami", &["id", "pid"], None, json!("x"));
    let mut pids = Vec::new();
    for _ in 0..10 {
        pids.push(read_one(&sources, &who).await["pid"].clone());
    }
    // A connection goes back to the pool asynchronously, so a sequential caller may
    // alternate between two sessions; a connection per read would give ten.
    pids.sort_by_key(|p| p.to_string());
    pids.dedup();
    assert!(pids.len() <= 2, "sessions are reused: {pids:?}");
    let err = sources
        .read(&plan(&db, "invoices", &["id", "nope"], None, json!("x")))
        .await
        .expect_err("unknown column");
    assert_eq!(err.kind(), &SourceErrorKind::ObjectNotFound, "{err}");
    assert_eq!(err.engine_code(), Some(EngineCode::MySql(1054)), "{err}");
    let text = err.to_string();
    assert!(text.contains("nope") && text.contains("1054"), "{text}");
    assert!(
        !text.contains("127.0.0.1") && !text.contains("mysql://"),
        "{text}"
    );
    db.finish().await;
}

#[tokio::test]
async fn connection_errors_are_redacted() {
    let Some(admin) = engine_url(EngineKind::Mysql) else {
        return;
    };
    common::connection_errors_story(Engine::Mysql, &admin, "mysql://").await;
}

#[tokio::test]
async fn guarded_writeback() {
    let Some(db) = seeded("my_write").await else {
        return;
    };
    common::writeback_story(&db).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_of_one_key() {
    let Some(db) = seeded("my_race").await else {
        return;
    };
    common::concurrent_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn doctor_writer_check() {
    let Some(db) = seeded("my_probe").await else {
        return;
    };
    common::writer_check_story(&db).await;
    missing_privileges_are_named(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn apply_never_creates_the_receipt_table() {
    let Some(db) = unmigrated("my_receipts").await else {
        return;
    };
    common::receipt_table_story(&db).await;
    db.finish().await;
}

/// An account that may only read: the check names the UPDATE privileges it lacks on the
/// business table and the INSERT and UPDATE it lacks on the receipt table, and no password.
async fn missing_privileges_are_named(db: &Db) {
    use sluicegate_source::privileges::TableNeed;
    use sluicegate_source::{Lack, Privilege, check_writer};
    use sluicegate_test_support::engines::{unique_name, url_with_credentials};
    let user = unique_name("ro").chars().take(32).collect::<String>();
    db.execute(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pw-5678'; GRANT SELECT ON `{}`.* TO '{user}'@'%';",
        db.schema()
    ))
    .await;
    let url = url_with_credentials(&db.url(), &user, "ro-pw-5678");
    let need = TableNeed {
        schema: db.schema(),
        table: "invoices".into(),
        select: vec!["id".into(), "tenant_id".into()],
        update: vec!["late_fee_cents".into()],
    };
    let check = check_writer(
        &sluicegate_core::secrets::Secret::new(&url),
        Engine::Mysql,
        std::slice::from_ref(&need),
    )
    .await
    .expect("checked");
    assert_eq!(check.lookup.user, Some(format!("{user}@%")));
    assert_eq!(
        check.lacks,
        vec![
            Lack::Columns(TableNeed {
                select: vec![],
                ..need
            }),
            Lack::Receipt {
                schema: db.schema(),
                privileges: vec![Privilege::Insert, Privilege::Update]
            },
        ]
    );
    assert!(check.troubles.is_empty(), "{check:?}");
    assert!(!format!("{check:?}").contains("ro-pw-5678"));
    db.execute(&format!("DROP USER '{user}'@'%';")).await;
}

/// `require_ssl=true` against a server without TLS is refused, never downgraded to plain
/// text; a CA file that cannot be read is reported as such. (The test server has no TLS, so
/// a successful handshake is covered on PostgreSQL only.)
#[tokio::test]
async fn tls_is_required_when_the_url_says_so() {
    let Some(db) = seeded("my_tls").await else {
        return;
    };
    let who = plan(&db, "whoami", &["id", "pid"], None, json!("x"));
    for url in [
        format!("{}?require_ssl=true", db.url()),
        format!("{}?ssl_ca=/nonexistent/ca.pem", db.url()),
    ] {
        let err = sources(Engine::Mysql, &url, None)
            .read(&who)
            .await
            .expect_err("no TLS");
        assert_eq!(err.category(), "connection failed", "{url}: {err}");
        assert!(!err.to_string().contains("127.0.0.1"), "{err}");
    }
    read_one(&sources(Engine::Mysql, &db.url(), None), &who).await;
    db.finish().await;
}

async fn writeguard_db(prefix: &str) -> Option<Db> {
    let db = Db::mysql(prefix).await?;
    db.execute(common::writeguard::ddl(Engine::Mysql)).await;
    db.execute(common::writeguard::SEED).await;
    db.migrate().await;
    Some(db)
}

#[tokio::test]
async fn a_second_proposal_from_one_read_conflicts_once_sluicegate_advances_the_version() {
    let Some(db) = writeguard_db("my_wg_version").await else {
        return;
    };
    common::writeguard::lost_update_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn a_trigger_maintained_version_is_left_to_the_app() {
    let Some(db) = writeguard_db("my_wg_trigger").await else {
        return;
    };
    common::writeguard::app_maintained_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn the_row_hash_guard_is_enforced_in_sql() {
    let Some(db) = writeguard_db("my_wg_rowhash").await else {
        return;
    };
    common::writeguard::row_hash_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn patch_values_are_checked_at_proposal_and_stored_as_approved() {
    let Some(db) = writeguard_db("my_wg_values").await else {
        return;
    };
    common::writeguard::proposal_values_story(&db).await;
    db.finish().await;
}
