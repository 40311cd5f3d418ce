//! Engine stories for "what is approved is exactly what gets written": two proposals made
//! from one read never both apply (a version column Sluicegate advances, one a trigger
//! advances, and the row-hash guard enforced in SQL), patch values are checked and
//! normalised against the live column types at proposal time, and what is stored reads back
//! exactly as the change set says.

use serde_json::{Value, json};
use sluicegate_core::columns::{ColumnType, check_proposal};
use sluicegate_core::config::{Capability, Engine, MaintainedBy, load_str};
use sluicegate_core::evidence::Row;
use sluicegate_core::json::hash_json;
use sluicegate_core::refusal::Code;
use sluicegate_core::secrets::Secret;
use sluicegate_source::{ConflictCheck, GuardedUpdate, WriteStatus, apply_guarded_update};

use super::{Db, plan, read_one, sources};

/// Three tables of the stories in `engine`'s dialect: `versioned` (version columns nothing
/// but Sluicegate advances), `triggered` (a trigger bumps `version` on every update) and
/// `plain` (no version column: the row-hash guard).
pub fn ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "CREATE TABLE versioned (id text PRIMARY KEY, tenant_id text NOT NULL,
                balance numeric(10,2) NOT NULL, note varchar(10),
                updated_at timestamp(3) with time zone, stamp0 timestamp(0), version bigint NOT NULL);
             CREATE TABLE triggered (id text PRIMARY KEY, tenant_id text NOT NULL,
                balance numeric(10,2) NOT NULL, version bigint NOT NULL);
             CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$;
             CREATE TRIGGER triggered_version BEFORE UPDATE ON triggered
                FOR EACH ROW EXECUTE FUNCTION bump_version();
             CREATE TABLE plain (id text PRIMARY KEY, tenant_id text NOT NULL,
                balance numeric(10,2) NOT NULL, note varchar(10), code char(4),
                due_at timestamp(6) with time zone, local_at timestamp(3), flag boolean, payload jsonb,
                big bigint);"
        }
        Engine::Mysql => {
            "CREATE TABLE versioned (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL,
                balance decimal(10,2) NOT NULL, note varchar(10),
                updated_at datetime(3) NULL, stamp0 datetime NULL, version bigint NOT NULL)
                DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
             CREATE TABLE triggered (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL,
                balance decimal(10,2) NOT NULL, version bigint NOT NULL);
             CREATE TRIGGER triggered_version BEFORE UPDATE ON triggered
                FOR EACH ROW SET NEW.version = OLD.version + 1;
             CREATE TABLE plain (id varchar(64) PRIMARY KEY, tenant_id varchar(64) NOT NULL,
                balance decimal(10,2) NOT NULL, note varchar(10), code char(4),
                due_at timestamp(6) NULL, local_at datetime(3) NULL, flag boolean, payload json,
                big bigint) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;"
        }
        Engine::Sqlite => {
            "CREATE TABLE versioned (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,
                balance DECIMAL(10,2) NOT NULL, note VARCHAR(10),
                updated_at TEXT, stamp0 DATETIME, version INTEGER NOT NULL);
             CREATE TABLE triggered (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,
                balance DECIMAL(10,2) NOT NULL, version INTEGER NOT NULL);
             CREATE TRIGGER triggered_version AFTER UPDATE OF balance ON triggered
                BEGIN UPDATE triggered SET version = OLD.version + 1 WHERE id = NEW.id; END;
             CREATE TABLE plain (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,
                balance DECIMAL(10,2) NOT NULL, note VARCHAR(10), code CHAR(4),
                due_at DATETIME, local_at DATETIME, flag BOOLEAN, payload JSON, big INTEGER);"
        }
    }
}

pub const SEED: &str = "
INSERT INTO versioned (id, tenant_id, balance, note, updated_at, stamp0, version) VALUES
  ('A-1', 'acme', 10.00, NULL, '2026-06-20 14:31:08', '2999-01-01 00:00:00', 1),
  ('A-2', 'acme', 20.00, NULL, '2026-06-20 14:31:08', '2999-01-01 00:00:00', 1);
INSERT INTO triggered (id, tenant_id, balance, version) VALUES ('T-1', 'acme', 10.00, 1);
INSERT INTO plain (id, tenant_id, balance, note, code, due_at, local_at, flag, payload, big) VALUES
  ('P-1', 'acme', 1.99, NULL, 'ab', '2026-06-20 14:31:08.123456', '2026-06-20 14:31:08.5', true, '\"x\"', 9007199254740993),
  ('P-2', 'acme', 5.00, 'Open', NULL, NULL, NULL, false, NULL, NULL);
";

fn row(v: Value) -> Row {
    v.as_object().cloned().unwrap_or_default()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A guarded update of `table` for tenant acme.
fn update(
    db: &Db,
    table: &str,
    id: &str,
    key: &str,
    patch: Row,
    conflict: ConflictCheck,
) -> GuardedUpdate {
    GuardedUpdate {
        engine: db.engine(),
        schema: db.schema(),
        table: table.into(),
        primary_key: ("id".into(), json!(id)),
        tenant_guard: Some(("tenant_id".into(), json!("acme"))),
        allowed_columns: patch.keys().cloned().collect(),
        patch,
        conflict,
        idempotency_key: format!("{key}:{id}"),
        job_id: format!("wbj_{key}"),
        proposal_id: key.into(),
    }
}

fn version(column: &str, expected: &Value, maintained_by: MaintainedBy) -> ConflictCheck {
    ConflictCheck::Version {
        column: column.into(),
        expected: expected.clone(),
        maintained_by,
    }
}

/// The balance a change set for `engine` carries: an exact string, or on SQLite the number
/// SQLite keeps.
fn balance(engine: Engine, text: &str) -> Value {
    match engine {
        Engine::Sqlite => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.fract() != 0.0)
            .map(Value::from)
            .unwrap_or_else(|| json!(text.parse::<f64>().unwrap_or(0.0) as i64)),
        _ => json!(text),
    }
}

async fn apply(db: &Db, u: &GuardedUpdate) -> sluicegate_source::WriteOutcome {
    apply_guarded_update(&Secret::new(db.url()), u, false)
        .await
        .expect("apply")
}

/// Finding 1: two proposals made from the same read, both approved, on a table with no
/// trigger. Sluicegate advances the version column, so the first applies and the second is a
/// conflict, for a timestamp version and an integer version. A version already ahead of the
/// clock still moves forward by one tick of the column's precision.
pub async fn lost_update_story(db: &Db) {
    let engine = db.engine();
    let reader = sources(engine, &db.url(), Some(5_000));
    let cols = [
        "id",
        "tenant_id",
        "balance",
        "note",
        "updated_at",
        "stamp0",
        "version",
    ];
    let read = |id: &str| plan(db, "versioned", &cols, Some("acme"), json!(id));
    for (column, id) in [("updated_at", "A-1"), ("version", "A-2")] {
        let before = read_one(&reader, &read(id)).await;
        let expected = before[column].clone();
        let first = update(
            db,
            "versioned",
            id,
            &format!("wrp_{column}_1"),
            row(json!({"balance": balance(engine, "11.00"), "note": "first"})),
            version(column, &expected, MaintainedBy::Sluicegate),
        );
        let second = update(
            db,
            "versioned",
            id,
            &format!("wrp_{column}_2"),
            row(json!({"balance": balance(engine, "99.00"), "note": "second"})),
            version(column, &expected, MaintainedBy::Sluicegate),
        );
        let out = apply(db, &first).await;
        assert_eq!(out.status, WriteStatus::Applied, "{column}: {out:?}");
        let out = apply(db, &second).await;
        assert_eq!(out.status, WriteStatus::Conflict, "{column}: {out:?}");
        assert_eq!(out.error_code.as_deref(), Some("VERSION_CONFLICT"));
        let after = read_one(&reader, &read(id)).await;
        assert_eq!(
            after["note"],
            json!("first"),
            "{column}: the first write stands"
        );
        assert_eq!(after["balance"], balance(engine, "11.00"));
        assert_ne!(after[column], expected, "{column} advanced");
        if column == "version" {
            assert_eq!(after["version"], json!(2));
        }
    }
    // A version ahead of the clock (2999) moves one tick of its precision (seconds here).
    let before = read_one(&reader, &read("A-1")).await;
    let stamp = before["stamp0"].clone();
    let out = apply(
        db,
        &update(
            db,
            "versioned",
            "A-1",
            "wrp_stamp0",
            row(json!({"note": "third"})),
            version("stamp0", &stamp, MaintainedBy::Sluicegate),
        ),
    )
    .await;
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
    let after = read_one(&reader, &read("A-1")).await;
    // Read back in the one form every engine shows (SQLite stores `2999-01-01 00:00:01`).
    assert_eq!(
        after["stamp0"],
        json!("2999-01-01T00:00:01.000Z"),
        "{engine:?}"
    );
}

/// Finding 1 with a trigger: the app advances `version` and the config says so
/// (`maintained_by: "app"`), so Sluicegate leaves the column to the trigger (it moves by
/// exactly one) and the second proposal from the same read is still a conflict.
pub async fn app_maintained_story(db: &Db) {
    let engine = db.engine();
    let reader = sources(engine, &db.url(), Some(5_000));
    let read = plan(
        db,
        "triggered",
        &["id", "balance", "version"],
        Some("acme"),
        json!("T-1"),
    );
    let before = read_one(&reader, &read).await;
    assert_eq!(before["version"], json!(1));
    let from_read = |key: &str, amount: &str| {
        update(
            db,
            "triggered",
            "T-1",
            key,
            row(json!({"balance": balance(engine, amount)})),
            version("version", &before["version"], MaintainedBy::App),
        )
    };
    let out = apply(db, &from_read("wrp_t1", "12.00")).await;
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
    let out = apply(db, &from_read("wrp_t2", "13.00")).await;
    assert_eq!(out.status, WriteStatus::Conflict, "{out:?}");
    let after = read_one(&reader, &read).await;
    assert_eq!(after["version"], json!(2), "the trigger alone advanced it");
    assert_eq!(after["balance"], balance(engine, "12.00"));
}

/// Finding 1 without a version column: the row-hash guard. The reviewed `before` row (with
/// NULLs, a decimal, timestamps with and without zone, a boolean, a padded CHAR, a JSON
/// scalar and an integer beyond 2^53, read as a string) is compared column by column in the UPDATE itself: the faithful values match the
/// live row, the second proposal from the same read conflicts, and a `before` value that
/// differs from the live row by a single character case matches zero rows in SQL even when
/// the hash on the locked row is satisfied.
pub async fn row_hash_story(db: &Db) {
    let engine = db.engine();
    let reader = sources(engine, &db.url(), Some(5_000));
    let cols = [
        "id",
        "tenant_id",
        "balance",
        "note",
        "code",
        "due_at",
        "local_at",
        "flag",
        "payload",
    ];
    let read = |id: &str| plan(db, "plain", &cols, Some("acme"), json!(id));
    let before = read_one(&reader, &read("P-1")).await;
    assert_eq!(before["note"], Value::Null);
    let guard = |before: &Row| ConflictCheck::RowHash {
        expected: hash_json(&Value::Object(before.clone())),
        before: before.clone(),
    };
    let first = update(
        db,
        "plain",
        "P-1",
        "wrp_h1",
        row(json!({"note": "first"})),
        guard(&before),
    );
    let second = update(
        db,
        "plain",
        "P-1",
        "wrp_h2",
        row(json!({"note": "second"})),
        guard(&before),
    );
    let out = apply(db, &first).await;
    assert_eq!(out.status, WriteStatus::Applied, "{before:?}: {out:?}");
    let out = apply(db, &second).await;
    assert_eq!(out.status, WriteStatus::Conflict, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("VERSION_CONFLICT"));
    let after = read_one(&reader, &read("P-1")).await;
    assert_eq!(after["note"], json!("first"));

    // The SQL comparison on its own: the hash matches the live row, but the reviewed value
    // says "OPEN" where the row holds "Open". Case-insensitive collations must not hide it.
    let live = read_one(&reader, &read("P-2")).await;
    let mut reviewed = live.clone();
    reviewed.insert("note".into(), json!("OPEN"));
    let tampered = update(
        db,
        "plain",
        "P-2",
        "wrp_h3",
        row(json!({"flag": true})),
        ConflictCheck::RowHash {
            expected: hash_json(&Value::Object(live.clone())),
            before: reviewed,
        },
    );
    let out = apply(db, &tampered).await;
    assert_eq!(out.status, WriteStatus::Failed, "{out:?}");
    assert_eq!(out.error_code.as_deref(), Some("VERSION_CONFLICT"));
    assert_eq!(
        read_one(&reader, &read("P-2")).await,
        live,
        "nothing written"
    );
    let honest = update(
        db,
        "plain",
        "P-2",
        "wrp_h4",
        row(json!({"flag": true})),
        guard(&live),
    );
    let out = apply(db, &honest).await;
    assert_eq!(out.status, WriteStatus::Applied, "{live:?}: {out:?}");
}

/// A proposal capability over `plain`, its patch bound from arguments.
fn capability(db: &Db) -> Capability {
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": db.engine().as_str(), "read_url_env": "R", "write_url_env": "W"}},
        "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "p"}},
        "capabilities": [{
            "name": "ledger.propose_adjustment", "kind": "proposal", "source": "app",
            "target": {"schema": db.schema(), "table": "plain", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"id": {"type": "string"}, "amount": {"type": "number"}, "note": {"type": "string"},
                     "due": {"type": "string"}, "local": {"type": "string"}, "code": {"type": "string"}},
            "lookup": {"id_from_arg": "id"},
            "visible_columns": ["id", "balance", "note", "code", "due_at", "local_at", "flag"],
            "patch": {"balance": {"from_arg": "amount"}, "note": {"from_arg": "note"},
                      "due_at": {"from_arg": "due"}, "local_at": {"from_arg": "local"},
                      "code": {"from_arg": "code"}},
            "allowed_columns": ["balance", "note", "due_at", "local_at", "code"],
            "conflict_guard": {"weak_guard_ack": true}
        }]
    });
    let (v, config) = load_str(&doc.to_string());
    assert!(v.ok, "{:?}", v.errors);
    config.expect("valid").capabilities.remove(0)
}

/// Finding 2, on the engine: patch values are checked against the live column types at
/// proposal time. A value too long for `varchar(10)`, a zone-less timestamp and `yesterday`
/// are refused; `3.99` for a `numeric(10,2)` becomes `"3.99"` and a `+02:00` timestamp its
/// UTC instant; a proposal that changes nothing is refused. After apply, the row reads back
/// exactly as the normalised patch said.
pub async fn proposal_values_story(db: &Db) {
    let engine = db.engine();
    let reader = sources(engine, &db.url(), Some(5_000));
    let columns = reader
        .columns("app", &db.schema(), "plain")
        .await
        .expect("catalog");
    let info = |c: &str| {
        columns
            .get(c)
            .cloned()
            .unwrap_or_else(|| panic!("{c} in catalog"))
    };
    assert!(matches!(
        info("note").column_type,
        ColumnType::Text {
            max_chars: Some(10),
            ..
        }
    ));
    assert!(matches!(
        info("balance").column_type,
        ColumnType::Decimal {
            precision: Some(10),
            scale: Some(2)
        }
    ));
    assert!(matches!(
        info("due_at").column_type,
        ColumnType::Timestamp { .. }
    ));
    assert!(!info("balance").nullable && info("note").nullable);
    // Cached: the second call is the same table.
    let again = reader
        .columns("app", &db.schema(), "plain")
        .await
        .expect("catalog");
    assert_eq!(*again, *columns);

    let cap = capability(db);
    let cols = [
        "id",
        "tenant_id",
        "balance",
        "note",
        "code",
        "due_at",
        "local_at",
        "flag",
        "payload",
    ];
    let read = plan(db, "plain", &cols, Some("acme"), json!("P-1"));
    let before = read_one(&reader, &read).await;
    let patch = |amount: Value, note: &str, due: &str| {
        row(json!({
            "balance": amount, "note": note, "due_at": due,
            "local_at": "2026-06-21T09:00:00.25Z", "code": "xy"
        }))
    };
    let refused = |p: Row| {
        check_proposal(&cap, &before, &p, &columns)
            .map(|_| ())
            .map_err(|r| (r.code, r.message))
    };
    let due = "2026-06-20T16:31:08.5+02:00";
    let (code, message) = refused(patch(json!(3.99), "0123456789X", due)).expect_err("too long");
    assert_eq!(code, Code::PatchValueTooLong);
    assert!(
        message.starts_with("argument note (column note)"),
        "{message}"
    );
    let (code, _) =
        refused(patch(json!(3.99), "ok", "2026-06-20T14:31:08")).expect_err("zone-less");
    assert_eq!(code, Code::PatchValueInvalid);
    let (code, message) = refused(patch(json!(3.99), "ok", "yesterday")).expect_err("yesterday");
    assert_eq!(code, Code::PatchValueInvalid);
    assert!(
        message.starts_with("argument due (column due_at)"),
        "{message}"
    );
    let (code, _) = refused(patch(json!(3.999), "ok", due)).expect_err("rounded");
    assert_eq!(code, Code::PatchValueInvalid);
    let (code, _) = refused(patch(json!(123456789), "ok", due)).expect_err("precision");
    assert_eq!(code, Code::PatchValueOutOfRange);

    let normalised =
        check_proposal(&cap, &before, &patch(json!(3.99), "ok", due), &columns).expect("valid");
    // PostgreSQL pads char(4); MySQL trims CHAR; SQLite stores text as given.
    let code = match engine {
        Engine::Postgres => json!("xy  "),
        _ => json!("xy"),
    };
    assert_eq!(
        Value::Object(normalised.clone()),
        json!({
            "balance": balance(engine, "3.99"), "note": "ok",
            "due_at": "2026-06-20T14:31:08.500Z", "local_at": "2026-06-21T09:00:00.250Z",
            "code": code
        })
    );
    let u = update(
        db,
        "plain",
        "P-1",
        "wrp_v1",
        normalised.clone(),
        ConflictCheck::RowHash {
            expected: hash_json(&Value::Object(before.clone())),
            before: before.clone(),
        },
    );
    let out = apply(db, &u).await;
    assert_eq!(out.status, WriteStatus::Applied, "{out:?}");
    let stored = read_one(&reader, &read).await;
    for (col, value) in &normalised {
        assert_eq!(&stored[col], value, "{col}: stored equals the change set");
    }
    // Proposing what the row now holds changes nothing.
    let (code, _) = check_proposal(&cap, &stored, &normalised, &columns)
        .map_err(|r| (r.code, r.message))
        .expect_err("no change");
    assert_eq!(code, Code::PatchNoChange);
    assert_eq!(
        db.query(&format!(
            "SELECT count(*) FROM {}.plain WHERE note = 'ok'",
            db.schema()
        ))
        .await,
        vec![vec![s("1")]]
    );
}

/// Every story of this module on a database seeded with [`ddl`] and [`SEED`].
pub async fn all(db: &Db) {
    lost_update_story(db).await;
    app_maintained_story(db).await;
    row_hash_story(db).await;
    proposal_values_story(db).await;
}
