//! PostgreSQL engine tests: value conversion, tenant guard, injection, engine-enforced
//! read-only sessions, statement timeout, pooling, redacted errors and guarded writeback.
//! Needs `SLUICEGATE_TEST_POSTGRES_URL` (see `scripts/test.sh`); without it each test goes
//! through `skip_or_fail`, a failure with `CI=true`.

use crate::common;

use std::time::{Duration, Instant};

use common::{Db, plan, read_one, sources};
use serde_json::json;
use sluicegate_core::config::Engine;
use sluicegate_core::json::canonical;
use sluicegate_core::secrets::Secret;
use sluicegate_source::{EngineCode, SourceErrorKind};
use sluicegate_test_support::engines::{EngineKind, engine_url};

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

/// The app's tables and rows, without Sluicegate's receipt table.
async fn unmigrated(prefix: &str) -> Option<Db> {
    let db = Db::postgres(prefix).await?;
    db.execute(VALUES_DDL).await;
    db.execute(common::invoices_ddl(Engine::Postgres)).await;
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
    common::tenant_guard_story(&db, &["$1"]).await;
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
    // SQL errors carry their kind and SQLSTATE and name the problem, never the URL.
    let err = sources
        .read(&plan(&db, "invoices", &["id", "nope"], None, json!("x")))
        .await
        .expect_err("unknown column");
    assert_eq!(err.kind(), &SourceErrorKind::ObjectNotFound, "{err}");
    assert_eq!(err.engine_code(), EngineCode::sqlstate("42703"), "{err}");
    let text = err.to_string();
    assert!(text.contains("nope") && text.contains("42703"), "{text}");
    assert!(
        !text.contains("127.0.0.1") && !text.contains("postgres://"),
        "{text}"
    );
    db.finish().await;
}

#[tokio::test]
async fn connection_errors_are_redacted() {
    let Some(admin) = engine_url(EngineKind::Postgres) else {
        return;
    };
    common::connection_errors_story(Engine::Postgres, &admin, "postgres://").await;
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
async fn doctor_writer_check() {
    let Some(db) = seeded("pg_probe").await else {
        return;
    };
    common::writer_check_story(&db).await;
    missing_privileges_are_named(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn apply_never_creates_the_receipt_table() {
    let Some(db) = unmigrated("pg_receipts").await else {
        return;
    };
    common::receipt_table_story(&db).await;
    db.finish().await;
}

/// A role that may only read: the check names the UPDATE privileges it lacks on the business
/// table and the INSERT and UPDATE it lacks on the receipt table, and no password.
async fn missing_privileges_are_named(db: &Db) {
    use sluicegate_source::privileges::TableNeed;
    use sluicegate_source::{Lack, Privilege, check_writer};
    use sluicegate_test_support::engines::{unique_name, url_with_credentials};
    let role = unique_name("ro");
    db.execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'ro-pw-5678'; GRANT SELECT ON invoices, sluicegate_writeback_receipts TO {role};"
    ))
    .await;
    let url = url_with_credentials(&db.url(), &role, "ro-pw-5678");
    let need = TableNeed {
        schema: "public".into(),
        table: "invoices".into(),
        select: vec!["id".into(), "tenant_id".into()],
        update: vec!["late_fee_cents".into()],
    };
    let check = check_writer(
        &Secret::new(&url),
        Engine::Postgres,
        std::slice::from_ref(&need),
    )
    .await
    .expect("checked");
    assert_eq!(check.lookup.user.as_deref(), Some(role.as_str()));
    assert_eq!(
        check.lacks,
        vec![
            Lack::Columns(TableNeed {
                select: vec![],
                ..need
            }),
            Lack::Receipt {
                schema: "public".into(),
                privileges: vec![Privilege::Insert, Privilege::Update]
            },
        ]
    );
    assert!(check.troubles.is_empty(), "{check:?}");
    assert!(!format!("{check:?}").contains("ro-pw-5678"));
    db.execute(&format!(
        "REVOKE ALL ON invoices, sluicegate_writeback_receipts FROM {role}; DROP ROLE {role};"
    ))
    .await;
}

/// Runs `openssl` with `args` in `dir`; [`sluicegate_test_support::skip_or_fail`] when the
/// `openssl` program is missing.
fn openssl(dir: &std::path::Path, args: &[&str]) -> Option<()> {
    match std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) if out.status.success() => Some(()),
        Ok(out) => panic!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => sluicegate_test_support::skip_or_fail(format!(
            "cannot run openssl ({e}) to make test certificates; `apt-get install openssl` (scripts/test.sh does)"
        )),
    }
}

/// A throwaway CA and a server certificate for 127.0.0.1, as PEM files in `dir`.
fn make_certificates(dir: &std::path::Path) -> Option<()> {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=sluicegate test ca",
    ];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &ca)?;
    let mut csr = vec!["req", "-new", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr)?;
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    )
}

/// Write `text` to the absolute path `name` on the database server, readable by the server
/// only (a private key must not have group or world access). Uses a superuser's
/// `COPY … TO PROGRAM`, one row per line so nothing gets escaped.
fn copy_to_server(name: &str, text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| format!("'{}'", l.replace('\'', "''")))
        .collect();
    format!(
        "COPY (SELECT unnest(ARRAY[{}])) TO PROGRAM 'umask 077 && cat > \"{name}\"'",
        lines.join(", ")
    )
}

/// TLS end to end: the test server gets a certificate from a throwaway CA and `ssl = on`
/// (reset afterwards). With `sslmode=require` and that CA as `sslrootcert`, reads and the
/// writer probe run over TLS; without the CA the server is not trusted; a server without TLS
/// is refused rather than used in plain text.
#[tokio::test]
async fn tls_when_the_url_requires_it() {
    let Some(db) = seeded("pg_tls").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    if make_certificates(dir.path()).is_none() {
        db.finish().await;
        return;
    }
    // While the server has no TLS, require means refuse.
    let plain = format!("{}?sslmode=require", db.url());
    let who = plan(&db, "vals", &["id"], Some("acme"), json!("v1"));
    let err = sources(Engine::Postgres, &plain, None)
        .read(&who)
        .await
        .expect_err("no TLS on the server");
    assert_eq!(err.category(), "connection failed", "{err}");

    let data_dir = db.query("SHOW data_directory").await[0][0]
        .clone()
        .expect("data directory");
    let tag = format!(
        "{data_dir}/{}",
        sluicegate_test_support::engines::unique_name("tls")
    );
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect("read pem");
    // ALTER SYSTEM refuses to run in a multi-statement batch: one statement at a time.
    for sql in [
        copy_to_server(&format!("{tag}.crt"), &read("server.pem")),
        copy_to_server(&format!("{tag}.key"), &read("server.key")),
        format!("ALTER SYSTEM SET ssl_cert_file = '{tag}.crt'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{tag}.key'"),
        "ALTER SYSTEM SET ssl = on".to_string(),
        "SELECT pg_reload_conf()".to_string(),
    ] {
        db.execute(&sql).await;
    }
    let _ssl_off = SslOff(db.url().to_string());
    // `pg_reload_conf()` only sends SIGHUP to the postmaster and returns; PostgreSQL offers
    // no way to wait for the reload to finish. So this is a bounded poll of an external
    // process: ask new sessions until they see TLS on, and fail after the deadline.
    let deadline = Instant::now() + Duration::from_secs(5);
    while db.query("SHOW ssl").await != vec![vec![Some("on".to_string())]] {
        assert!(Instant::now() < deadline, "the server did not turn TLS on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.execute("CREATE VIEW tls_state AS SELECT 'x'::text AS id, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();")
        .await;
    let ca = dir.path().join("ca.pem");
    let trusted = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        db.url(),
        ca.display()
    );
    let reader = sources(Engine::Postgres, &trusted, Some(5_000));
    let row = read_one(
        &reader,
        &plan(&db, "tls_state", &["id", "ssl"], None, json!("x")),
    )
    .await;
    assert_eq!(row["ssl"], json!(true), "the read session is encrypted");
    let found = sluicegate_source::lookup_writer(&Secret::new(&trusted), Engine::Postgres)
        .await
        .expect("writer over TLS");
    assert_eq!(found.schema.as_deref(), Some("public"), "{found:?}");
    let untrusted = format!("{}?sslmode=require", db.url());
    let err = sources(Engine::Postgres, &untrusted, None)
        .read(&who)
        .await
        .expect_err("unknown CA");
    assert_eq!(err.category(), "connection failed", "{err}");
    db.finish().await;
}

/// Switches the server's TLS off again when dropped, even after a failed assertion.
struct SslOff(String);

impl Drop for SslOff {
    fn drop(&mut self) {
        let url = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                for sql in [
                    "ALTER SYSTEM RESET ssl",
                    "ALTER SYSTEM RESET ssl_cert_file",
                    "ALTER SYSTEM RESET ssl_key_file",
                    "SELECT pg_reload_conf()",
                ] {
                    let _ = sluicegate_test_support::engines::execute_on(
                        EngineKind::Postgres,
                        &url,
                        sql,
                    )
                    .await;
                }
            })
        })
        .join();
    }
}

async fn writeguard_db(prefix: &str) -> Option<Db> {
    let db = Db::postgres(prefix).await?;
    db.execute(common::writeguard::ddl(Engine::Postgres)).await;
    db.execute(common::writeguard::SEED).await;
    db.migrate().await;
    Some(db)
}

#[tokio::test]
async fn a_second_proposal_from_one_read_conflicts_once_sluicegate_advances_the_version() {
    let Some(db) = writeguard_db("pg_wg_version").await else {
        return;
    };
    common::writeguard::lost_update_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn a_trigger_maintained_version_is_left_to_the_app() {
    let Some(db) = writeguard_db("pg_wg_trigger").await else {
        return;
    };
    common::writeguard::app_maintained_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn the_row_hash_guard_is_enforced_in_sql() {
    let Some(db) = writeguard_db("pg_wg_rowhash").await else {
        return;
    };
    common::writeguard::row_hash_story(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn patch_values_are_checked_at_proposal_and_stored_as_approved() {
    let Some(db) = writeguard_db("pg_wg_values").await else {
        return;
    };
    common::writeguard::proposal_values_story(&db).await;
    db.finish().await;
}
