//! PostgreSQL engine tests: value conversion, tenant guard, injection, engine-enforced
//! read-only sessions, statement timeout, pooling, redacted errors and guarded writeback.
//! Needs `SLUICEGATE_TEST_POSTGRES_URL` (see `scripts/test.sh`); skipped without it, except
//! in CI, where its absence fails.

mod common;

use std::time::{Duration, Instant};

use common::{Db, plan, read_one, sources};
use serde_json::json;
use sluicegate_core::config::Engine;
use sluicegate_core::json::canonical;
use sluicegate_source::SourceError;
use sluicegate_test_support::engines::{
    EngineKind, engine_url, unused_local_port, url_with_password, url_with_port,
};

const VALUES_DDL: &str = r#"
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE vals (
  id text PRIMARY KEY, tenant_id text NOT NULL,
  b boolean, i2 smallint, i4 integer, i8 bigint, i8big bigint, i8neg bigint,
  f4 real, f8 double precision, f8nan double precision, f8inf double precision,
  num numeric(12,2), num_big numeric,
  txt text, vc varchar(20), ch char(5), nm name,
  js json, jsb jsonb, arr integer[], tarr text[],
  ts timestamp, ts_us timestamp(6), tstz timestamptz, tstz_inf timestamptz,
  d date, t time, t_us time, tz timetz, iv interval,
  u uuid, ip inet, en mood, by bytea, o oid, nul text
);
INSERT INTO vals VALUES (
  'v1', 'acme',
  true, -32768, 2147483647, 9007199254740991, 9223372036854775807, -9007199254740992,
  0.1, 0.1, 'NaN', '-Infinity',
  5500.00, 123456789012345678901234567890.123456789,
  'héllo "q"', 'x', 'ab', 'nm',
  '{"b":1,"a":[1,2]}', '{"b":1,"a":[1,2]}', '{1,2,3}', '{"a","b c"}',
  '2026-06-20 14:31:08', '2026-06-20 14:31:08.123456', '2026-06-20 16:31:08.5+02', 'infinity',
  '2026-06-20', '14:31:08', '14:31:08.25', '14:31:08+02', '1 day 02:00:00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', 'happy', '\xdeadbeef', 42, NULL
);
CREATE TABLE nums (id integer PRIMARY KEY, tenant_id text NOT NULL, name text);
INSERT INTO nums VALUES (5, 'acme', 'five');
CREATE VIEW slow AS SELECT 'x'::text AS id, pg_sleep(3)::text AS s;
CREATE VIEW whoami AS SELECT 'x'::text AS id, pg_backend_pid() AS pid;
"#;

const VALUE_COLUMNS: &[&str] = &[
    "id", "b", "i2", "i4", "i8", "i8big", "i8neg", "f4", "f8", "f8nan", "f8inf", "num", "num_big",
    "txt", "vc", "ch", "nm", "js", "jsb", "arr", "tarr", "ts", "ts_us", "tstz", "tstz_inf", "d",
    "t", "t_us", "tz", "iv", "u", "ip", "en", "by", "o", "nul",
];

/// Every column's JSON value, compared as canonical text so key order and number formatting
/// count too.
const EXPECTED_VALUES: &str = concat!(
    r#"{"id":"v1","b":true,"i2":-32768,"i4":2147483647,"i8":9007199254740991,"#,
    r#""i8big":"9223372036854775807","i8neg":"-9007199254740992","#,
    r#""f4":0.1,"f8":0.1,"f8nan":"NaN","f8inf":"-Infinity","#,
    r#""num":"5500.00","num_big":"123456789012345678901234567890.123456789","#,
    r#""txt":"héllo \"q\"","vc":"x","ch":"ab   ","nm":"nm","#,
    r#""js":{"b":1,"a":[1,2]},"jsb":{"a":[1,2],"b":1},"arr":[1,2,3],"tarr":["a","b c"],"#,
    r#""ts":"2026-06-20T14:31:08.000Z","ts_us":"2026-06-20T14:31:08.123456Z","#,
    r#""tstz":"2026-06-20T14:31:08.500Z","tstz_inf":"infinity","#,
    r#""d":"2026-06-20","t":"14:31:08","t_us":"14:31:08.250000","tz":"14:31:08+02","#,
    r#""iv":"1 day 02:00:00","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","ip":"192.168.0.1/24","#,
    r#""en":"happy","by":"\\xdeadbeef","o":42,"nul":null}"#
);

async fn seeded(prefix: &str) -> Option<Db> {
    let db = Db::postgres(prefix).await?;
    db.execute(VALUES_DDL).await;
    db.execute(common::invoices_ddl(Engine::Postgres)).await;
    db.execute(common::INVOICES_SEED).await;
    Some(db)
}

#[tokio::test]
async fn values_are_faithful() {
    let Some(db) = seeded("pg_values").await else {
        return;
    };
    let sources = sources(Engine::Postgres, &db.url(), Some(5_000));
    let p = plan(&db, "vals", VALUE_COLUMNS, Some("acme"), json!("v1"));
    // Twice: the second read runs the remembered statement shape from the cache.
    for _ in 0..2 {
        let row = read_one(&sources, &p).await;
        assert_eq!(canonical(&json!(row)), EXPECTED_VALUES);
    }
    // Lookup values are typed by the server: a number and its text both find an integer key.
    for lookup in [json!(5), json!("5")] {
        let row = read_one(
            &sources,
            &plan(&db, "nums", &["id", "name"], Some("acme"), lookup),
        )
        .await;
        assert_eq!(
            row,
            json!({"id": 5, "name": "five"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
    }
    db.finish().await;
}

#[tokio::test]
async fn tenant_guard_and_injection() {
    let Some(db) = seeded("pg_guard").await else {
        return;
    };
    let sources = sources(Engine::Postgres, &db.url(), Some(5_000));
    let cols = &["id", "tenant_id"];
    let own = sources
        .read(&plan(
            &db,
            "invoices",
            cols,
            Some("globex"),
            json!("INV-4001"),
        ))
        .await
        .expect("read");
    assert_eq!(own.len(), 1);
    let other = sources
        .read(&plan(
            &db,
            "invoices",
            cols,
            Some("acme"),
            json!("INV-4001"),
        ))
        .await
        .expect("read");
    assert!(other.is_empty(), "another tenant's row is invisible");
    for evil in [
        "INV-3001' OR '1'='1",
        "INV-3001'; DROP TABLE invoices; --",
        "$1",
    ] {
        let rows = sources
            .read(&plan(&db, "invoices", cols, Some("acme"), json!(evil)))
            .await
            .expect("read");
        assert!(rows.is_empty(), "{evil} is plain data");
    }
    assert_eq!(
        db.query("SELECT count(*) FROM invoices").await,
        vec![vec![Some("5".into())]]
    );
    // An unsafe identifier never reaches the server.
    let mut bad = plan(&db, "invoices", cols, Some("acme"), json!("INV-3001"));
    bad.table = "invoices; DROP TABLE invoices".into();
    assert!(matches!(
        sources.read(&bad).await,
        Err(SourceError::UnsafeIdentifier(_))
    ));
    db.finish().await;
}

#[tokio::test]
async fn read_connections_are_read_only() {
    let Some(db) = seeded("pg_ro").await else {
        return;
    };
    let sources = sources(Engine::Postgres, &db.url(), Some(5_000));
    for sql in [
        "INSERT INTO invoices (id, tenant_id, status, late_fee_cents) VALUES ('X', 'acme', 'open', 1)",
        "UPDATE invoices SET late_fee_cents = 0",
        "DELETE FROM invoices",
        "CREATE TABLE sneaky (a int)",
        "CREATE TABLE IF NOT EXISTS sluicegate_writeback_receipts (a int)",
    ] {
        let err = sources
            .execute_on_read_connection("app", sql)
            .await
            .expect_err(sql);
        assert!(err.is_read_only_violation(), "{sql}: {err}");
    }
    assert_eq!(
        db.query("SELECT count(*), sum(late_fee_cents) FROM invoices")
            .await,
        vec![vec![Some("5".into()), Some("7700".into())]]
    );
    db.finish().await;
}

#[tokio::test]
async fn statement_timeout_and_pooling() {
    let Some(db) = seeded("pg_timeout").await else {
        return;
    };
    let sources = sources(Engine::Postgres, &db.url(), Some(300));
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
    // The session survives the timeout and is reused: the same backend answers every read.
    let who = plan(&db, "whoami", &["id", "pid"], None, json!("x"));
    let first = read_one(&sources, &who).await;
    for _ in 0..3 {
        assert_eq!(read_one(&sources, &who).await["pid"], first["pid"]);
    }
    // SQL errors are Query errors naming the problem, never the URL.
    let err = sources
        .read(&plan(&db, "invoices", &["id", "nope"], None, json!("x")))
        .await
        .expect_err("unknown column");
    match &err {
        SourceError::Query(m) => {
            assert!(m.contains("nope") && m.contains("42703"), "{m}");
            assert!(
                !m.contains("127.0.0.1") && !m.contains("postgres://"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    db.finish().await;
}

#[tokio::test]
async fn connection_errors_are_redacted() {
    let Some(admin) = engine_url(EngineKind::Postgres) else {
        return;
    };
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
        url_with_password(&admin, "wrong-pw-1234"),
        url_with_port(&admin, closed),
    ];
    let closed = closed.to_string();
    let mut secrets = vec![
        "wrong-pw-1234",
        "sluicegate",
        "127.0.0.1",
        "postgres://",
        &closed,
    ];
    if !password.is_empty() {
        secrets.push(&password);
    }
    if !port.is_empty() {
        secrets.push(&port);
    }
    common::assert_redacted(Engine::Postgres, &bad, &secrets).await;
    // And the wrong password is reported as such.
    let err = sources(Engine::Postgres, &bad[0], None)
        .read(&sluicegate_core::call::ReadPlan {
            source: "app".into(),
            engine: Engine::Postgres,
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

#[tokio::test]
async fn guarded_writeback() {
    let Some(db) = seeded("pg_write").await else {
        return;
    };
    common::writeback_story(&db).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_of_one_key() {
    let Some(db) = seeded("pg_race").await else {
        return;
    };
    common::concurrent_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn doctor_target_probe() {
    let Some(db) = seeded("pg_probe").await else {
        return;
    };
    common::target_probe_story(&db).await;
    permission_denied_is_reported(&db).await;
    db.finish().await;
}

/// A role that may only read: the probe reports "permission denied" and names no secret.
async fn permission_denied_is_reported(db: &Db) {
    use sluicegate_source::{TargetProbe, probe_target};
    use sluicegate_test_support::engines::{unique_name, url_with_credentials};
    let role = unique_name("ro");
    db.execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'ro-pw-5678'; GRANT SELECT ON invoices TO {role};"
    ))
    .await;
    let url = url_with_credentials(&db.url(), &role, "ro-pw-5678");
    let err = probe_target(
        &url,
        Engine::Postgres,
        &TargetProbe {
            schema: "public".into(),
            table: "invoices".into(),
            columns: vec!["id".into(), "tenant_id".into()],
            writable: vec!["late_fee_cents".into()],
        },
    )
    .await
    .expect_err("read-only role");
    assert_eq!(err.category(), "permission denied", "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(&role) && !text.contains("ro-pw-5678"),
        "{text}"
    );
    db.execute(&format!(
        "REVOKE ALL ON invoices FROM {role}; DROP ROLE {role};"
    ))
    .await;
}
