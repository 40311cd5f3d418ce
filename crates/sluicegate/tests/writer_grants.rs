//! The first real deployment of direct writeback, on PostgreSQL 15, MariaDB and SQLite: an
//! app's tables (integer keys, a store column as tenant, one `last_update` a trigger maintains
//! and one Sluicegate advances), a writer and a SELECT-only reader set up with exactly the
//! statements `sluicegate writeback grants` prints, and the setup commands of
//! docs/writeback.md run as printed. Then, through the binary:
//!
//! * before the receipt table exists, `apply` refuses with `RECEIPT_TABLE_MISSING` and the
//!   ledger holds nothing for the attempt (no job, no receipt, still approved);
//! * after the documented migration and grants, `doctor --check-writeback` passes, `apply`
//!   writes, and applying again answers `already_applied`;
//! * a writer missing any one printed grant fails the doctor, which names that exact line
//!   (and `apply` fails with `WRITER_PRIVILEGE_MISSING`, writing nothing);
//! * `doctor --fix --admin-url-env` creates a missing receipt table through the admin URL.
//!
//! The writer has no DDL right anywhere: PostgreSQL 15's default (no CREATE on `public` for
//! other roles) is asserted. Lines of the doc that run `psql`, `mariadb` or `sqlite3` are done
//! here by executing the printed SQL as the admin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::handler_support;

use std::path::Path;

use handler_support::Project;
use serde_json::{Value, json};
use sluicegate_test_support::app_db::{AppDatabase as App, block_on, statements};
use sluicegate_test_support::engines::{EngineKind, execute_on, query_text_on, unique_name};

const WRITER_PW: &str = "writer-pw-3c1e";
const READER_PW: &str = "reader-pw-9a7b";

/// The app's tables: `film`, whose `last_update` a trigger sets on every change, and
/// `payment`, whose `last_update` Sluicegate advances. Store 1 is ours, store 2 another
/// tenant's. `internal_note` is read by nobody.
fn app_ddl(engine: &str) -> &'static str {
    match engine {
        "postgres" => {
            "CREATE TABLE film (film_id integer PRIMARY KEY, store_id integer NOT NULL, title text NOT NULL,
                rental_rate numeric(4,2) NOT NULL, internal_note text, last_update timestamp(6) NOT NULL DEFAULT now());
             CREATE FUNCTION film_touch() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN NEW.last_update := clock_timestamp(); RETURN NEW; END $$;
             CREATE TRIGGER film_last_update BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION film_touch();
             CREATE TABLE payment (payment_id integer PRIMARY KEY, store_id integer NOT NULL,
                amount numeric(5,2) NOT NULL, last_update timestamp(6) with time zone NOT NULL);"
        }
        "mysql" => {
            "CREATE TABLE film (film_id int PRIMARY KEY, store_id int NOT NULL, title varchar(100) NOT NULL,
                rental_rate decimal(4,2) NOT NULL, internal_note text, last_update datetime(6) NOT NULL);
             CREATE TRIGGER film_last_update BEFORE UPDATE ON film FOR EACH ROW SET NEW.last_update = NOW(6);
             CREATE TABLE payment (payment_id int PRIMARY KEY, store_id int NOT NULL,
                amount decimal(5,2) NOT NULL, last_update datetime(6) NOT NULL);"
        }
        _ => {
            "CREATE TABLE film (film_id INTEGER PRIMARY KEY, store_id INTEGER NOT NULL, title TEXT NOT NULL,
                rental_rate NUMERIC(4,2) NOT NULL, internal_note TEXT, last_update TEXT NOT NULL);
             CREATE TRIGGER film_last_update AFTER UPDATE OF rental_rate ON film BEGIN
                UPDATE film SET last_update = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE film_id = NEW.film_id; END;
             CREATE TABLE payment (payment_id INTEGER PRIMARY KEY, store_id INTEGER NOT NULL,
                amount NUMERIC(5,2) NOT NULL, last_update TEXT NOT NULL);"
        }
    }
}

const SEED: &str = "
INSERT INTO film (film_id, store_id, title, rental_rate, internal_note, last_update) VALUES
  (1, 1, 'ACADEMY DINOSAUR', 0.99, 'licence ends soon', '2026-02-15 05:03:42'),
  (2, 1, 'ACE GOLDFINGER', 4.99, NULL, '2026-02-15 05:03:42'),
  (3, 2, 'ADAPTATION HOLES', 2.99, NULL, '2026-02-15 05:03:42');
INSERT INTO payment (payment_id, store_id, amount, last_update) VALUES
  (10, 1, 2.99, '2026-02-15 22:12:30'),
  (11, 2, 0.99, '2026-02-15 22:12:30');
";

fn config(engine: &str, schema: &str) -> Value {
    json!({
        "version": 1, "mode": "review", "result_format": 2,
        "storage": {"sqlite_path": "./ledger.db"},
        "sources": {"app": {"engine": engine, "read_url_env": "APP_READ_URL", "write_url_env": "APP_WRITE_URL"}},
        "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "STORE", "principal_env": "PRINCIPAL"}},
        "capabilities": [
            {"name": "films.show", "kind": "read", "source": "app",
             "target": {"schema": schema, "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
             "args": {"film_id": {"type": "number"}}, "lookup": {"id_from_arg": "film_id"},
             "visible_columns": ["film_id", "title", "rental_rate"]},
            {"name": "films.propose_rate", "kind": "proposal", "source": "app",
             "target": {"schema": schema, "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
             "args": {"film_id": {"type": "number"}, "rate": {"type": "number", "minimum": 0, "maximum": 9.99}},
             "lookup": {"id_from_arg": "film_id"},
             "visible_columns": ["film_id", "title", "rental_rate", "last_update"],
             "patch": {"rental_rate": {"from_arg": "rate"}},
             "allowed_columns": ["rental_rate"],
             "conflict_guard": {"column": "last_update", "maintained_by": "app"}},
            {"name": "payments.propose_amount", "kind": "proposal", "source": "app",
             "target": {"schema": schema, "table": "payment", "primary_key": "payment_id", "tenant_key": "store_id"},
             "args": {"payment_id": {"type": "number"}, "amount": {"type": "number", "minimum": 0, "maximum": 99}},
             "lookup": {"id_from_arg": "payment_id"},
             "visible_columns": ["payment_id", "amount", "last_update"],
             "patch": {"amount": {"from_arg": "amount"}},
             "allowed_columns": ["amount"],
             "conflict_guard": {"column": "last_update"}}
        ]
    })
}

/// The `sluicegate …` lines of docs/writeback.md's writer setup section, in order, that apply
/// to `engine` (a line naming another engine is skipped).
fn documented_commands(engine: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/writeback.md"),
    )
    .unwrap();
    let start = doc
        .find("\n## Setting up the writer")
        .expect("docs/writeback.md has a writer setup section");
    let section = &doc[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && l.starts_with("sluicegate ") => {
                let named = ["postgres", "mysql", "sqlite"]
                    .into_iter()
                    .find(|e| l.contains(&format!("--engine {e}")));
                if named.is_none_or(|e| e == engine) {
                    out.push(l.to_string());
                }
            }
            _ => {}
        }
    }
    assert!(
        out.iter().any(|l| l.contains("writeback grants"))
            && out.iter().any(|l| l.contains("doctor --check-writeback")),
        "{engine}: {out:?}"
    );
    out
}

/// Run one documented line as printed: its words, with a trailing `> FILE` written to FILE in
/// the project. Returns stdout.
fn run_documented(p: &mut Project, line: &str) -> String {
    let (command, file) = match line.split_once(" > ") {
        Some((c, f)) => (c, Some(f.trim())),
        None => (line, None),
    };
    let words: Vec<&str> = command
        .split("  #")
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    let out = p.ok(&words);
    if let Some(file) = file {
        let file = file.split_whitespace().next().unwrap();
        std::fs::write(p.path().join(file), &out).unwrap();
    }
    out
}

fn apply(p: &mut Project, id: &str) -> (i32, Value, String) {
    let o = p.cli(&["apply", id, "--json"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_str(&out).unwrap_or(Value::Null),
        format!("{out}\n{err}"),
    )
}

fn doctor(p: &mut Project) -> (i32, String) {
    let o = p.cli(&["doctor", "--check-writeback"]);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// (rental_rate, last_update) of film `id`.
fn film(app: &App, id: i64) -> (String, String) {
    let mut rows = app.query(&format!(
        "SELECT rental_rate, last_update FROM film WHERE film_id = {id}"
    ));
    let row = rows.pop().unwrap();
    (
        row[0].clone().unwrap().trim_end_matches('0').to_string(),
        row[1].clone().unwrap(),
    )
}

fn story(engine: &'static str) {
    let Some(mut app) = App::create(engine, "writer_grants") else {
        return;
    };
    app.admin(app_ddl(engine));
    app.admin(SEED);
    let schema = app.schema();
    // The documented default role names; a fresh server per test run, and only this story
    // creates them on its engine.
    app.create_role("sluicegate_writer", WRITER_PW);
    app.create_role("sluicegate_reader", READER_PW);
    let writer_url = app.url_of("sluicegate_writer", WRITER_PW, true);
    let reader_url = app.url_of("sluicegate_reader", READER_PW, false);
    let mut p = Project::new(
        &config(engine, &schema),
        &[
            ("APP_READ_URL", &reader_url),
            ("APP_WRITE_URL", &writer_url),
            ("SLUICEGATE_ADMIN_URL", &app.admin_url()),
            ("STORE", "1"),
            ("PRINCIPAL", "clerk_7"),
        ],
    );
    let commands = documented_commands(engine);
    let grants_line = commands
        .iter()
        .find(|l| l.contains("writeback grants"))
        .unwrap()
        .clone();

    // No DDL right for the writer anywhere (PostgreSQL 15: no CREATE on public).
    if let Some(kind) = app.kind() {
        let denied = block_on(execute_on(
            kind,
            &writer_url,
            "CREATE TABLE ddl_probe (i int)",
        ));
        assert!(denied.is_err(), "{engine}: the writer may create tables");
        if kind == EngineKind::Postgres {
            assert_eq!(
                block_on(query_text_on(
                    kind,
                    &writer_url,
                    "SELECT has_schema_privilege('public', 'CREATE')"
                ))
                .unwrap(),
                vec![vec![Some("f".to_string())]]
            );
        }
    }

    // 1. The grants as printed, except the receipt table's (it does not exist yet): apply
    //    refuses before anything is recorded or written.
    let printed = run_documented(&mut p, &grants_line);
    if engine == "sqlite" {
        assert!(printed.lines().all(|l| l.starts_with("-- ")), "{printed}");
    }
    for s in statements(&printed) {
        if !s.contains("sluicegate_writeback_receipts") {
            app.admin(&s);
        }
    }
    let id = p.propose("films.propose_rate", &json!({"film_id": 1, "rate": 2.49}));
    p.approve(&id);
    let before = film(&app, 1);
    let (code, _, text) = apply(&mut p, &id);
    assert_eq!(code, 1, "{engine}: {text}");
    assert!(text.contains("RECEIPT_TABLE_MISSING"), "{engine}: {text}");
    assert!(
        text.contains(&format!("sluicegate writeback migration --engine {engine}")),
        "{engine}: {text}"
    );
    assert_eq!(film(&app, 1), before, "{engine}: nothing written");
    let ledger = sluicegate_ledger::Ledger::open_existing(&p.path().join("ledger.db")).unwrap();
    assert!(
        ledger.jobs(&id).unwrap().is_empty(),
        "{engine}: a job was recorded"
    );
    assert!(
        ledger.receipts(&id).unwrap().is_empty(),
        "{engine}: a receipt was recorded"
    );
    assert_eq!(ledger.proposal(&id).unwrap().state, "approved");
    drop(ledger);
    let (code, out) = doctor(&mut p);
    assert_eq!(code, 1, "{engine}: {out}");
    assert!(
        out.contains("finds no sluicegate_writeback_receipts table"),
        "{engine}: {out}"
    );

    // 2. The documented setup, as printed: migration and grants run by the admin, then the
    //    doctor passes (every probe rolled back).
    for line in &commands {
        let out = run_documented(&mut p, line);
        if line.contains("writeback migration") || line.contains("writeback grants") {
            for s in statements(&out) {
                app.admin(&s);
            }
        }
    }
    let (code, out) = doctor(&mut p);
    assert_eq!(code, 0, "{engine}: {out}");
    assert_eq!(
        app.query("SELECT count(*) FROM sluicegate_writeback_receipts"),
        vec![vec![Some("0".to_string())]],
        "{engine}: the doctor leaves no probe receipt"
    );

    // 3. Apply writes once; again is already_applied. The trigger moved film's last_update;
    //    Sluicegate advanced payment's.
    let (code, result, text) = apply(&mut p, &id);
    assert_eq!(
        (code, &result["status"]),
        (0, &json!("applied")),
        "{engine}: {text}"
    );
    let after = film(&app, 1);
    assert_eq!(after.0, "2.49", "{engine}");
    assert_ne!(after.1, before.1, "{engine}: the trigger sets last_update");
    let (code, result, text) = apply(&mut p, &id);
    assert_eq!(
        (code, &result["status"]),
        (0, &json!("already_applied")),
        "{engine}: {text}"
    );
    let pay = p.propose(
        "payments.propose_amount",
        &json!({"payment_id": 10, "amount": 1.5}),
    );
    p.approve(&pay);
    let paid_before = app.query("SELECT last_update FROM payment WHERE payment_id = 10");
    let (code, result, text) = apply(&mut p, &pay);
    assert_eq!(
        (code, &result["status"]),
        (0, &json!("applied")),
        "{engine}: {text}"
    );
    assert_ne!(
        app.query("SELECT last_update FROM payment WHERE payment_id = 10"),
        paid_before,
        "{engine}: Sluicegate advanced the version"
    );
    assert_eq!(
        film(&app, 3).0,
        "2.99",
        "{engine}: the other store's row is untouched"
    );

    // 4. A writer missing any one printed grant: the doctor names that very line.
    if app.kind().is_some() {
        missing_grants(&mut app, &mut p, &writer_url);
    }

    // 5. `doctor --fix` creates a missing receipt table through the admin URL (and grants the
    //    writer its use); the doctor passes again and the next apply writes.
    app.admin("DROP TABLE sluicegate_writeback_receipts");
    let (code, out) = doctor(&mut p);
    assert_eq!(code, 1, "{engine}: {out}");
    let o = p.cli(&[
        "doctor",
        "--check-writeback",
        "--fix",
        "--admin-url-env",
        "SLUICEGATE_ADMIN_URL",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{engine}: {out}");
    assert!(
        out.contains("Created sluicegate_writeback_receipts in"),
        "{engine}: {out}"
    );
    let again = p.propose("films.propose_rate", &json!({"film_id": 2, "rate": 3.99}));
    p.approve(&again);
    let (code, result, text) = apply(&mut p, &again);
    assert_eq!(
        (code, &result["status"]),
        (0, &json!("applied")),
        "{engine}: {text}"
    );

    // Passwords and URLs never reach output.
    handler_support::assert_no_secret(
        &p.outputs.join("\n"),
        &[WRITER_PW, READER_PW, &app.admin_url()],
    );
    drop(p);
    app.finish();
}

/// For each writer grant `writeback grants` prints (but USAGE on `public`, which every role
/// holds), a new writer gets every other printed statement; the doctor fails and prints that
/// line. Without the grant on `film`, apply fails with `WRITER_PRIVILEGE_MISSING`.
fn missing_grants(app: &mut App, p: &mut Project, writer_url: &str) {
    let engine = app.engine();
    let role = unique_name("w").chars().take(30).collect::<String>();
    let to = if engine == "mysql" {
        format!("TO '{role}'@'%'")
    } else {
        format!("TO \"{role}\"")
    };
    let printed = p.ok(&[
        "writeback",
        "grants",
        "--engine",
        engine,
        "--writer-role",
        &role,
    ]);
    let lines: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("GRANT ") && l.ends_with(&format!("{to};")))
        .filter(|l| !l.starts_with("GRANT USAGE ON SCHEMA \"public\""))
        .collect();
    assert_eq!(lines.len(), 3, "{engine}: {printed}");
    for (i, left_out) in lines.iter().enumerate() {
        let name = format!("{role}{i}");
        app.create_role(&name, WRITER_PW);
        let own = printed.replace(&role, &name);
        let left_out = left_out.replace(&role, &name);
        for s in statements(&own) {
            if format!("{s};") != left_out {
                app.admin(&s);
            }
        }
        p.set_env("APP_WRITE_URL", &app.url_of(&name, WRITER_PW, true));
        let (code, out) = doctor(p);
        assert_eq!(code, 1, "{engine} without {left_out}: {out}");
        assert!(
            out.contains(&left_out),
            "{engine}: the doctor does not name {left_out}:\n{out}"
        );
        if left_out.contains("film") {
            let id = p.propose("films.propose_rate", &json!({"film_id": 2, "rate": 1.99}));
            p.approve(&id);
            let before = film(app, 2);
            let (code, result, text) = apply(p, &id);
            assert_eq!(code, 1, "{engine}: {text}");
            assert_eq!(
                result["error_code"],
                json!("WRITER_PRIVILEGE_MISSING"),
                "{engine}: {text}"
            );
            assert_eq!(film(app, 2), before, "{engine}: nothing written");
        }
    }
    p.set_env("APP_WRITE_URL", writer_url);
}

#[test]
fn writer_set_up_as_documented_on_postgres() {
    story("postgres");
}

#[test]
fn writer_set_up_as_documented_on_mariadb() {
    story("mysql");
}

#[test]
fn writer_set_up_as_documented_on_sqlite() {
    story("sqlite");
}
