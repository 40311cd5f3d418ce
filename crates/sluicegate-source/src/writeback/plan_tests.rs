//! The exact UPDATE each engine runs for each guard kind, planned from catalog columns as the
//! writer reads them, plus the plan's refusals (a version column it cannot advance, an
//! approved value its column would not store as approved).

use serde_json::{Value, json};
use sluicegate_core::columns::{ColumnInfo, ColumnType, Padding, TableColumns};
use sluicegate_core::config::{Engine, MaintainedBy};
use sluicegate_core::evidence::Row;

use super::guard::{self, GuardPlan, PlanFailure};
use super::writer::Native;
use super::{ConflictCheck, GuardedUpdate, prepare};

fn row(v: Value) -> Row {
    v.as_object().cloned().unwrap_or_default()
}

fn text(max: Option<u64>) -> ColumnType {
    ColumnType::Text {
        max_chars: max,
        max_bytes: None,
        padding: Padding::None,
    }
}

/// `invoices(id, tenant_id, late_fee numeric(10,2), reason varchar(40), updated_at, version)`
/// as each engine's catalog describes it.
fn columns(engine: Engine) -> TableColumns {
    let decimal = ColumnType::Decimal {
        precision: Some(10),
        scale: Some(2),
    };
    let (ts_decl, ts, int_decl) = match engine {
        Engine::Postgres => (
            "timestamp(3) with time zone",
            ColumnType::Timestamp {
                with_zone: true,
                precision: Some(3),
                range: None,
            },
            "bigint",
        ),
        Engine::Mysql => (
            "datetime(6)",
            ColumnType::Timestamp {
                with_zone: false,
                precision: Some(6),
                range: None,
            },
            "bigint(20)",
        ),
        Engine::Sqlite => ("TEXT", text(None), "INTEGER"),
    };
    let dynamic = engine == Engine::Sqlite;
    let c = |name: &str, decl: &str, t: ColumnType| ColumnInfo {
        dynamic,
        ..ColumnInfo::new(name, decl, t)
    };
    TableColumns::new([
        c("id", "varchar(64)", text(Some(64))),
        c("tenant_id", "varchar(64)", text(Some(64))),
        c("late_fee", "decimal(10,2)", decimal),
        c("reason", "varchar(40)", text(Some(40))),
        c("updated_at", ts_decl, ts),
        c(
            "version",
            int_decl,
            ColumnType::Integer {
                min: i128::from(i64::MIN),
                max: i128::from(i64::MAX),
            },
        ),
    ])
}

fn schema(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "public",
        Engine::Mysql => "app",
        Engine::Sqlite => "main",
    }
}

fn update(engine: Engine, conflict: ConflictCheck) -> GuardedUpdate {
    GuardedUpdate {
        engine,
        schema: schema(engine).into(),
        table: "invoices".into(),
        primary_key: ("id".into(), json!("INV-1")),
        tenant_guard: Some(("tenant_id".into(), json!("acme"))),
        allowed_columns: vec!["late_fee".into(), "reason".into()],
        // Normalised as at proposal time: SQLite keeps NUMERIC values as numbers.
        patch: if engine == Engine::Sqlite {
            row(json!({"late_fee": 0, "reason": "waived"}))
        } else {
            row(json!({"late_fee": "0.00", "reason": "waived"}))
        },
        conflict,
        idempotency_key: "wrp_1:INV-1".into(),
        job_id: "wbj_1".into(),
        proposal_id: "wrp_1".into(),
    }
}

fn version(column: &str, maintained_by: MaintainedBy) -> ConflictCheck {
    ConflictCheck::Version {
        column: column.into(),
        expected: json!("2026-06-20T14:31:08.000Z"),
        maintained_by,
    }
}

fn before() -> Row {
    row(json!({
        "id": "INV-1", "tenant_id": "acme", "late_fee": "55.00", "reason": null,
        "updated_at": "2026-06-20T14:31:08.000Z"
    }))
}

fn plan_for(
    u: &GuardedUpdate,
    live: &Row,
    native: Option<&Native>,
) -> Result<GuardPlan, PlanFailure> {
    let p = prepare(u).expect("valid update");
    guard::plan(u, &p, &columns(u.engine), live, native)
}

fn sql(u: &GuardedUpdate, live: &Row, native: Option<&Native>) -> String {
    plan_for(u, live, native).expect("plans").sql
}

#[test]
fn version_guard_advances_a_timestamp_with_the_database_clock() {
    let live = before();
    assert_eq!(
        sql(
            &update(
                Engine::Postgres,
                version("updated_at", MaintainedBy::Sluicegate)
            ),
            &live,
            None
        ),
        r#"UPDATE "public"."invoices" SET "late_fee" = $1, "reason" = $2, "updated_at" = GREATEST(clock_timestamp(), "updated_at" + interval '1000 microseconds') WHERE "id" = $3 AND "tenant_id" = $4 AND "updated_at" IS NOT DISTINCT FROM $5"#
    );
    assert_eq!(
        sql(
            &update(
                Engine::Mysql,
                version("updated_at", MaintainedBy::Sluicegate)
            ),
            &live,
            None
        ),
        "UPDATE `app`.`invoices` SET `late_fee` = ?, `reason` = ?, `updated_at` = GREATEST(CURRENT_TIMESTAMP(6), COALESCE(`updated_at` + INTERVAL 1 MICROSECOND, CURRENT_TIMESTAMP(6))) WHERE `id` = ? AND `tenant_id` = ? AND `updated_at` <=> ?"
    );
    // SQLite: ISO text in the shape the column holds.
    let native = Native::Sqlite(rusqlite::types::Value::Text("2026-06-20 14:31:08".into()));
    let mut lite_row = live.clone();
    lite_row.insert("updated_at".into(), json!("2026-06-20 14:31:08"));
    assert_eq!(
        sql(
            &update(
                Engine::Sqlite,
                version("updated_at", MaintainedBy::Sluicegate)
            ),
            &lite_row,
            Some(&native)
        ),
        r#"UPDATE "main"."invoices" SET "late_fee" = ?, "reason" = ?, "updated_at" = max(strftime('%Y-%m-%d %H:%M:%S', 'now'), coalesce(strftime('%Y-%m-%d %H:%M:%S', "updated_at", '+1 seconds'), '')) WHERE "id" = ? AND "tenant_id" = ? AND "updated_at" IS ?"#
    );
}

#[test]
fn version_guard_increments_an_integer() {
    let mut live = before();
    live.insert("version".into(), json!(7));
    for (engine, want) in [
        (
            Engine::Postgres,
            r#"UPDATE "public"."invoices" SET "late_fee" = $1, "reason" = $2, "version" = COALESCE("version", 0) + 1 WHERE "id" = $3 AND "tenant_id" = $4 AND "version" IS NOT DISTINCT FROM $5"#,
        ),
        (
            Engine::Mysql,
            "UPDATE `app`.`invoices` SET `late_fee` = ?, `reason` = ?, `version` = COALESCE(`version`, 0) + 1 WHERE `id` = ? AND `tenant_id` = ? AND `version` <=> ?",
        ),
        (
            Engine::Sqlite,
            r#"UPDATE "main"."invoices" SET "late_fee" = ?, "reason" = ?, "version" = COALESCE("version", 0) + 1 WHERE "id" = ? AND "tenant_id" = ? AND "version" IS ?"#,
        ),
    ] {
        assert_eq!(
            sql(
                &update(engine, version("version", MaintainedBy::Sluicegate)),
                &live,
                None
            ),
            want
        );
    }
}

#[test]
fn an_app_maintained_version_is_left_alone() {
    assert_eq!(
        sql(
            &update(Engine::Postgres, version("updated_at", MaintainedBy::App)),
            &before(),
            None
        ),
        r#"UPDATE "public"."invoices" SET "late_fee" = $1, "reason" = $2 WHERE "id" = $3 AND "tenant_id" = $4 AND "updated_at" IS NOT DISTINCT FROM $5"#
    );
}

#[test]
fn a_version_column_that_cannot_advance_fails_the_write() {
    // SQLite TEXT holding something that is neither an integer nor a timestamp.
    let mut live = before();
    live.insert("updated_at".into(), json!("v7"));
    let out = plan_for(
        &update(
            Engine::Sqlite,
            version("updated_at", MaintainedBy::Sluicegate),
        ),
        &live,
        None,
    )
    .expect_err("cannot advance");
    assert_eq!(out.code, "CONFLICT_GUARD_NOT_ADVANCEABLE");
    let out = plan_for(
        &update(
            Engine::Postgres,
            version("no_such", MaintainedBy::Sluicegate),
        ),
        &live,
        None,
    )
    .expect_err("not in the catalog");
    assert_eq!(out.code, "CONFLICT_GUARD_NOT_ADVANCEABLE");
}

#[test]
fn row_hash_guard_compares_every_reviewed_column() {
    let guard = || ConflictCheck::RowHash {
        expected: "sha256:x".into(),
        before: before(),
    };
    let want = [
        (
            Engine::Postgres,
            r#"UPDATE "public"."invoices" SET "late_fee" = $1, "reason" = $2 WHERE "id" = $3 AND "tenant_id" = $4 AND "late_fee" IS NOT DISTINCT FROM $5 AND "reason" IS NOT DISTINCT FROM $6 AND "updated_at" IS NOT DISTINCT FROM $7"#,
        ),
        (
            Engine::Mysql,
            "UPDATE `app`.`invoices` SET `late_fee` = ?, `reason` = ? WHERE `id` = ? AND `tenant_id` = ? AND `late_fee` <=> CAST(? AS DECIMAL(10,2)) AND CAST(CONVERT(`reason` USING utf8mb4) AS BINARY) <=> CAST(? AS BINARY) AND `updated_at` <=> ?",
        ),
        (
            Engine::Sqlite,
            r#"UPDATE "main"."invoices" SET "late_fee" = ?, "reason" = ? WHERE "id" = ? AND "tenant_id" = ? AND "late_fee" IS ? AND "reason" IS ? COLLATE BINARY AND "updated_at" IS ? COLLATE BINARY"#,
        ),
    ];
    for (engine, sql_text) in want {
        let u = update(engine, guard());
        let plan = plan_for(&u, &before(), None).expect("plans");
        assert_eq!(plan.sql, sql_text);
        let bound: Vec<&Value> = plan.compare.iter().map(|t| &t.value).collect();
        assert_eq!(
            bound,
            [
                &json!("55.00"),
                &Value::Null,
                &json!("2026-06-20T14:31:08.000Z")
            ]
        );
    }
}

#[test]
fn approved_values_must_be_what_the_column_stores() {
    let mut u = update(Engine::Postgres, ConflictCheck::None);
    u.patch.insert("late_fee".into(), json!(3.99));
    let out = plan_for(&u, &before(), None).expect_err("a number for a decimal");
    assert_eq!(out.code, "PATCH_VALUE_INVALID");
    assert!(out.detail.contains("\"3.99\""), "{out:?}");
    u.patch.insert("late_fee".into(), json!("1.999"));
    let out = plan_for(&u, &before(), None).expect_err("rounded");
    assert_eq!(out.code, "PATCH_VALUE_INVALID");
    u.patch.insert("late_fee".into(), json!("1.99"));
    u.patch.insert("reason".into(), json!("x".repeat(41)));
    let out = plan_for(&u, &before(), None).expect_err("too long");
    assert_eq!(out.code, "PATCH_VALUE_TOO_LONG");
}
