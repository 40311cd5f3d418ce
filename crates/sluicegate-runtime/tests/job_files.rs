//! `proposals writeback-job` and `validate --job`: a job file is written only for an approved
//! direct-SQL proposal, and every edit of one (a value, the row, the hash, the capability's
//! target, an unknown or unapproved proposal) is refused with its own stable code: the same
//! checks `apply` runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::apply_support;

use apply_support::app::{App, Desk, config};
use serde_json::{Value, json};
use sluicegate_core::config::Engine;
use sluicegate_core::decision::Verdict;
use sluicegate_runtime::{JobFileOptions, ReviewApi, ReviewError};

/// An edit of a job document.
type JobEdit = Box<dyn Fn(&mut Value)>;

fn opts() -> JobFileOptions {
    JobFileOptions {
        project_id: "local".into(),
        runner_id: Some("runner_a".into()),
        lease_seconds: 300,
    }
}

/// Run a blocking review call off the async runtime, as the CLI runs it.
async fn blocking<T: Send + 'static>(
    review: &ReviewApi,
    f: impl FnOnce(&ReviewApi) -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ReviewError> {
    let review = review.clone();
    tokio::task::spawn_blocking(move || f(&review))
        .await
        .unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, ReviewError>) -> &'static str {
    r.unwrap_err().code().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_files_on_sqlite() {
    job_files_are_written_for_approved_proposals_and_every_edit_is_refused(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_files_on_postgres() {
    job_files_are_written_for_approved_proposals_and_every_edit_is_refused(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_files_on_mariadb() {
    job_files_are_written_for_approved_proposals_and_every_edit_is_refused(Engine::Mysql).await;
}

async fn job_files_are_written_for_approved_proposals_and_every_edit_is_refused(engine: Engine) {
    let Some(app) = App::create(engine, "job_files").await else {
        return;
    };
    let desk = Desk::open(
        &app.path("ledger.db"),
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let approved = desk.approved("T-1", "call back tomorrow").await;
    let pending = desk.propose("T-2", "escalate").await;

    // Not approved: no job, and nothing recorded.
    let p = pending.clone();
    assert_eq!(
        code(blocking(&desk.review, move |r| r.writeback_job_file(&p, &opts())).await),
        "PROPOSAL_NOT_APPROVED"
    );
    assert!(desk.ledger.jobs(&pending).unwrap().is_empty());
    assert_eq!(
        code(
            blocking(&desk.review, |r| r
                .writeback_job_file("wrp_unknown", &opts()))
            .await
        ),
        "PROPOSAL_NOT_FOUND"
    );

    let a = approved.clone();
    let job = blocking(&desk.review, move |r| r.writeback_job_file(&a, &opts()))
        .await
        .unwrap();
    let stored = desk.ledger.proposal(&approved).unwrap();
    assert_eq!(stored.state, "pending_worker");
    assert_eq!(job.proposal_id, approved);
    assert_eq!(job.runner_scope.project_id, "local");
    let events = desk.ledger.events(&approved).unwrap();
    assert_eq!(events.last().unwrap().kind, "writeback_job_recorded");
    assert_eq!(events.last().unwrap().actor, "runner_a");
    assert!(desk.ledger.verify(&[]).unwrap().ok());

    let doc = serde_json::to_value(&job).unwrap();
    let valid = blocking(&desk.review, {
        let doc = doc.clone();
        move |r| r.validate_job(&doc)
    })
    .await
    .unwrap();
    assert_eq!(valid.proposal_id, approved);
    assert_eq!(valid.approved_by, "ann");

    let cases: Vec<(&str, JobEdit, &str)> = vec![
        (
            "a changed value",
            Box::new(|j| j["patch"]["note"] = json!("refund everything")),
            "JOB_PATCH_MISMATCH",
        ),
        (
            "a changed row id",
            Box::new(|j| j["target"]["primary_key"]["value"] = json!("T-2")),
            "JOB_ROW_MISMATCH",
        ),
        (
            "a changed hash",
            Box::new(|j| j["proposal_hash"] = json!(format!("sha256:{}", "0".repeat(64)))),
            "JOB_HASH_MISMATCH",
        ),
        (
            "another tenant",
            Box::new(|j| j["tenant_guard"]["value"] = json!("otherco")),
            "JOB_TENANT_MISMATCH",
        ),
        (
            "a capability the config does not review",
            Box::new(|j| j["target"]["table"] = json!("plain")),
            "JOB_CAPABILITY_NOT_REVIEWED",
        ),
        (
            "a weakened guard",
            Box::new(|j| j["conflict_guard"] = json!({"kind": "none"})),
            "JOB_CONFLICT_GUARD_CHANGED",
        ),
        (
            "an expired lease",
            Box::new(|j| j["lease"]["expires_at"] = json!("2020-01-01T00:00:00.000Z")),
            "JOB_LEASE_EXPIRED",
        ),
        (
            "an unknown proposal",
            Box::new(|j| j["proposal_id"] = json!("wrp_00000000000000000000")),
            "PROPOSAL_NOT_FOUND",
        ),
        (
            "a proposal not approved",
            Box::new({
                let pending = pending.clone();
                move |j| j["proposal_id"] = json!(pending)
            }),
            "PROPOSAL_NOT_APPROVED",
        ),
        (
            "another job id",
            Box::new(|j| j["writeback_job_id"] = json!("wbj_other")),
            "JOB_NOT_RECORDED",
        ),
        (
            "another lease id",
            Box::new(|j| j["lease"]["lease_id"] = json!("lease_other")),
            "JOB_DIFFERS_FROM_RECORDED",
        ),
        (
            "not a job",
            Box::new(|j| j["schema_version"] = json!("synapsor.change-set.v1")),
            "JOB_INVALID",
        ),
    ];
    for (what, edit, want) in cases {
        let mut edited = doc.clone();
        edit(&mut edited);
        let got = code(blocking(&desk.review, move |r| r.validate_job(&edited)).await);
        assert_eq!(got, want, "{what}");
    }

    // A rejected proposal gets no job, and an applied one no second job file.
    let rejected = desk.propose("T-2", "close it").await;
    desk.decide(&rejected, Verdict::Reject, None).await.unwrap();
    let r2 = rejected.clone();
    assert_eq!(
        code(blocking(&desk.review, move |r| r.writeback_job_file(&r2, &opts())).await),
        "PROPOSAL_REJECTED"
    );
}

/// A config in another mode has no writeback: refused before anything is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_files_need_review_mode() {
    let Some(app) = App::create(Engine::Sqlite, "job_files_mode").await else {
        return;
    };
    let path = app.path("ledger.db");
    let desk = Desk::open(
        &path,
        config(&app.config_doc("tickets", None, &[])),
        app.env(&[]),
    );
    let id = desk.approved("T-1", "note").await;
    let mut doc = app.config_doc("tickets", None, &[]);
    doc["mode"] = json!("shadow");
    let shadow = ReviewApi::new(Some(config(&doc)), desk.ledger.clone(), app.env(&[]));
    assert_eq!(
        code(blocking(&shadow, move |r| r.writeback_job_file(&id, &opts())).await),
        "APPLY_REQUIRES_REVIEW_MODE"
    );
}
