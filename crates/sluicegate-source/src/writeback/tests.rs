//! Guarded updates refused or rendered before anything connects.
use serde_json::json;

use super::*;

fn update() -> GuardedUpdate {
    let mut patch = Row::new();
    patch.insert("late_fee_cents".into(), json!(0));
    patch.insert("waiver_reason".into(), json!("approved support waiver"));
    GuardedUpdate {
        engine: Engine::Postgres,
        schema: "public".into(),
        table: "invoices".into(),
        primary_key: ("id".into(), json!("INV-3001")),
        tenant_guard: Some(("tenant_id".into(), json!("acme"))),
        allowed_columns: vec!["late_fee_cents".into(), "waiver_reason".into()],
        patch,
        conflict: ConflictCheck::Version {
            column: "updated_at".into(),
            expected: json!("2026-06-20T14:31:08Z"),
        },
        idempotency_key: "wrp_1:INV-3001".into(),
        job_id: "wbj_wrp_1".into(),
        proposal_id: "wrp_1".into(),
    }
}

#[tokio::test]
async fn dry_run_renders_without_connecting() {
    // The URL points nowhere: a dry run must not even try it.
    let out = apply_guarded_update("postgres://u:p@192.0.2.1:1/x", &update(), true)
        .await
        .expect("dry run");
    assert_eq!(out.status, WriteStatus::Applied);
    assert_eq!(out.affected_rows, 0);
    assert_eq!(
        out.result_hash,
        Some(result_hash("wbj_wrp_1", "dry-run", None))
    );
    let p = update();
    let prepared = prepare(&p).expect("valid");
    assert_eq!(
        prepared.update_sql,
        r#"UPDATE "public"."invoices" SET "late_fee_cents" = $1, "waiver_reason" = $2 WHERE "id" = $3 AND "tenant_id" = $4 AND "updated_at" IS NOT DISTINCT FROM $5"#
    );
}

#[tokio::test]
async fn empty_url_is_database_unavailable() {
    let out = apply_guarded_update(" ", &update(), false)
        .await
        .expect("outcome");
    assert_eq!(out.status, WriteStatus::Failed);
    assert_eq!(out.error_code.as_deref(), Some("DATABASE_UNAVAILABLE"));
    let probe = probe_writer("", Engine::Mysql).await.expect("probe");
    assert_eq!(probe["ok"], json!(false));
}

#[tokio::test]
async fn malformed_updates_are_refused_before_connecting() {
    type Mutate = Box<dyn Fn(&mut GuardedUpdate)>;
    let cases: Vec<(Mutate, &str)> = vec![
        (Box::new(|u| u.tenant_guard = None), "tenant guard"),
        (Box::new(|u| u.patch.clear()), "empty"),
        (
            Box::new(|u| {
                u.patch.insert("status".into(), json!("paid"));
            }),
            "status is not in allowed_columns",
        ),
        (
            Box::new(|u| {
                u.allowed_columns.push("tenant_id".into());
            }),
            "tenant_id guards the row",
        ),
        (
            Box::new(|u| {
                u.allowed_columns.push("id".into());
            }),
            "id guards the row",
        ),
        (
            Box::new(|u| {
                u.conflict = ConflictCheck::RowHash {
                    expected: "sha256:x".into(),
                    columns: vec![],
                }
            }),
            "row-hash",
        ),
    ];
    for (mutate, needle) in cases {
        let mut u = update();
        mutate(&mut u);
        match apply_guarded_update("postgres://u:p@192.0.2.1:1/x", &u, false).await {
            Err(e @ SourceError::Query(_)) => {
                assert_eq!(e.category(), "invalid writeback");
                assert!(e.to_string().contains(needle), "{e}");
            }
            other => panic!("{needle}: {other:?}"),
        }
    }
    let mut u = update();
    u.table = "invoices; DROP TABLE x".into();
    assert_eq!(
        apply_guarded_update("", &u, true).await,
        Err(SourceError::UnsafeIdentifier(
            "invoices; DROP TABLE x".into()
        ))
    );
    let mut u = update();
    u.patch.insert("bad-col".into(), json!(1));
    u.allowed_columns.push("bad-col".into());
    assert!(matches!(
        apply_guarded_update("", &u, true).await,
        Err(SourceError::UnsafeIdentifier(_))
    ));
    let mut u = update();
    u.conflict = ConflictCheck::Version {
        column: "updated at".into(),
        expected: json!(1),
    };
    assert!(matches!(
        apply_guarded_update("", &u, true).await,
        Err(SourceError::UnsafeIdentifier(_))
    ));
}
