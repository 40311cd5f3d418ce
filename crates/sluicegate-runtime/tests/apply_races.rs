//! Writes that race for one row, on SQLite, PostgreSQL and MariaDB through `ReviewApi`:
//! two proposals made from one read and both approved (a version column Sluicegate advances,
//! one a trigger advances, and the row-hash guard): the first applies, the second is a
//! conflict. And one approved proposal applied twice at once by two processes' worth of
//! handles on the same ledger file, 20 times per engine: exactly one write in the source,
//! every attempt with its own receipt, the write with an `applied` one, and a ledger that
//! verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::apply_support;

use apply_support::app::{App, Desk, config};
use sluicegate_core::config::Engine;
use sluicegate_protocol::ReceiptStatus;
use sluicegate_runtime::ApplyOptions;

/// Two proposals from the same read of T-1, both approved: only the first writes, and the
/// version moves exactly once (by Sluicegate, or by the trigger alone).
async fn two_proposals_from_one_read(engine: Engine) {
    let Some(app) = App::create(engine, "apply_one_read").await else {
        return;
    };
    for table in ["tickets", "triggered", "plain"] {
        let label = format!("{} {table}", app.name());
        let desk = Desk::open(
            &app.path(&format!("{table}.db")),
            config(&app.config_doc(table, None, &[])),
            app.env(&[]),
        );
        let (_, guard_before) = app.row(table, "T-1").await;
        // Proposal ids derive from the content: the notes name the table, so each table's
        // proposals (and idempotency keys in the one source database) are their own.
        let first = desk.approved("T-1", &format!("first {table}")).await;
        let second = desk.approved("T-1", &format!("second {table}")).await;
        let a = desk
            .review
            .apply(&first, &ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(
            a.result.status,
            ReceiptStatus::Applied,
            "{label}: {:?}",
            a.result
        );
        let b = desk
            .review
            .apply(&second, &ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(
            b.result.status,
            ReceiptStatus::Conflict,
            "{label}: {:?}",
            b.result
        );
        assert_eq!(
            b.result.error_code.as_deref(),
            Some("VERSION_CONFLICT"),
            "{label}"
        );
        let (note, guard_after) = app.row(table, "T-1").await;
        assert_eq!(
            note,
            Some(format!("first {table}")),
            "{label}: the first write stands"
        );
        let expected = match table {
            // Advanced once: by Sluicegate, or by the trigger alone (Sluicegate leaves a
            // column the app maintains to the app).
            "tickets" | "triggered" => Some("2".to_string()),
            // No version column: the row-hash guard changes nothing it does not patch.
            _ => guard_before,
        };
        assert_eq!(guard_after, expected, "{label}");
        assert_eq!(desk.ledger.proposal(&second).unwrap().state, "conflict");
        let report = desk.ledger.verify(&[]).unwrap();
        assert!(report.ok(), "{label}: {:?}", report.problems);
    }
}

/// 20 times: one approved proposal, two `apply` calls at once from separate handles on the
/// same ledger file (as two CLI processes would have).
async fn racing_applies(engine: Engine) {
    let Some(app) = App::create(engine, "apply_race").await else {
        return;
    };
    let ledger = app.path("ledger.db");
    let config = config(&app.config_doc("tickets", None, &[]));
    let one = Desk::open(&ledger, config.clone(), app.env(&[]));
    let other = Desk::open(&ledger, config, app.env(&[]));
    let mut reconciled = 0;
    for pair in 1..=20 {
        let label = format!("{} pair {pair}", app.name());
        let note = format!("race {pair}");
        let id = one.approved("T-1", &note).await;
        let (_, version) = app.row("tickets", "T-1").await;
        let version: i64 = version.unwrap().parse().unwrap();
        let run = |desk: &Desk| {
            let (review, id) = (desk.review.clone(), id.clone());
            tokio::spawn(async move { review.apply(&id, &ApplyOptions::default()).await })
        };
        let (a, b) = (run(&one), run(&other));
        let mut statuses: Vec<ReceiptStatus> = Vec::new();
        for outcome in [a.await.unwrap(), b.await.unwrap()] {
            let report = outcome.unwrap_or_else(|e| panic!("{label}: an apply failed: {e:?}"));
            statuses.push(report.result.status);
        }
        statuses.sort_by_key(|s| s.as_str());
        assert_eq!(
            statuses,
            [ReceiptStatus::AlreadyApplied, ReceiptStatus::Applied],
            "{label}"
        );

        // Exactly one write: the patch, the version advanced once, one source receipt.
        let (written, now) = app.row("tickets", "T-1").await;
        assert_eq!(written.as_deref(), Some(note.as_str()), "{label}");
        assert_eq!(now, Some((version + 1).to_string()), "{label}: one write");
        let source = app.source_receipts(&id).await;
        assert_eq!(source.len(), 1, "{label}: {source:?}");
        let (writer, status) = &source[0];
        assert_eq!(status, "applied", "{label}");

        // Each attempt has its own job and its own receipt; the one that wrote, `applied`.
        let jobs = one.ledger.jobs(&id).unwrap();
        let receipts = one.ledger.receipts(&id).unwrap();
        assert_eq!(jobs.len(), 2, "{label}: {jobs:?}");
        for job in &jobs {
            let mine: Vec<_> = receipts
                .iter()
                .filter(|r| r.writeback_job_id == job.writeback_job_id)
                .collect();
            assert_eq!(mine.len(), 1, "{label}: {job:?} {receipts:?}");
            let want = if job.writeback_job_id == *writer {
                "applied"
            } else {
                "already_applied"
            };
            assert_eq!(mine[0].status, want, "{label}: {receipts:?}");
        }
        assert_eq!(receipts.len(), 2, "{label}: {receipts:?}");
        assert_eq!(one.ledger.proposal(&id).unwrap().state, "applied");
        let events = one.ledger.events(&id).unwrap();
        if events.iter().any(|e| e.kind == "writeback_reconciled") {
            // The loser found the winner's write before the winner recorded it.
            reconciled += 1;
        }
    }
    let report = one.ledger.verify(&[]).unwrap();
    assert!(report.ok(), "{}: {:?}", app.name(), report.problems);
    assert_eq!(report.proposals, 20);
    eprintln!(
        "{}: 20 racing pairs, {reconciled} recorded by the loser on the winner's behalf",
        app.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proposals_from_one_read_on_sqlite() {
    two_proposals_from_one_read(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proposals_from_one_read_on_postgres() {
    two_proposals_from_one_read(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proposals_from_one_read_on_mariadb() {
    two_proposals_from_one_read(Engine::Mysql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_applies_write_once_on_sqlite() {
    racing_applies(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_applies_write_once_on_postgres() {
    racing_applies(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_applies_write_once_on_mariadb() {
    racing_applies(Engine::Mysql).await;
}

/// A row that goes back to the values a proposal was made from (the row-hash guard: no
/// version moves) proposes the same id again. The model is told that change is already
/// applied, not that a new proposal awaits review; no second proposal is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_change_after_it_was_applied_is_reported_as_applied() {
    let Some(app) = App::create(Engine::Sqlite, "apply_again").await else {
        return;
    };
    let desk = Desk::open(
        &app.path("again.db"),
        config(&app.config_doc("plain", None, &[])),
        app.env(&[]),
    );
    let args = serde_json::json!({"ticket_id": "T-2", "note": "again"})
        .as_object()
        .unwrap()
        .clone();
    let call = || desk.agent.call(apply_support::app::CAPABILITY, &args);
    let first = call().await.payload;
    assert_eq!(first["proposal"]["state"], "review_required", "{first}");
    let id = first["proposal"]["id"].as_str().unwrap().to_string();
    desk.decide(&id, sluicegate_core::decision::Verdict::Approve, None)
        .await
        .unwrap();
    desk.review
        .apply(&id, &ApplyOptions::default())
        .await
        .unwrap();
    app.execute("UPDATE plain SET note = NULL WHERE id = 'T-2'")
        .await;

    let again = call().await.payload;
    let proposal = &again["proposal"];
    assert_eq!(proposal["id"], id.as_str(), "{again}");
    assert_eq!(proposal["deduplicated"], true, "{again}");
    assert_eq!(proposal["state"], "applied", "{again}");
    assert_eq!(proposal["approval_required"], false, "{again}");
    assert_eq!(proposal["writeback"]["applied"], true, "{again}");
    assert!(
        again["summary"]
            .as_str()
            .unwrap()
            .contains("nothing new was recorded for review"),
        "{again}"
    );
    let all = desk
        .ledger
        .list_proposals(&sluicegate_ledger::Filter::default())
        .unwrap();
    assert_eq!(all.len(), 1);
}
