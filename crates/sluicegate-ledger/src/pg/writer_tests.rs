//! The writer never answers a job as recorded when its records did not stay. A job whose
//! connection goes away after it ran and before its savepoint is released (here the job ends
//! its own session, as a restart of the database would) is answered with the error, nothing
//! of it is committed, and the next job is recorded on a new connection. Needs the test server
//! (`SLUICEGATE_TEST_POSTGRES_URL`; with CI=true a missing one fails).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sluicegate_core::config::Durability;
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

use super::session::Connector;
use super::upgrade_tests::on_client;
use super::writer::PgWriter;
use crate::system_clock;

/// `SELECT count(*) FROM cut` on a connection of the test's own.
fn rows(url: &str) -> i64 {
    on_client(url, |c| {
        c.query_one("SELECT count(*) FROM cut", &[]).unwrap().get(0)
    })
}

#[test]
fn a_job_whose_connection_is_cut_before_its_savepoint_is_released_is_not_answered_as_recorded() {
    let Some(db) = block_on(TestDatabase::create(EngineKind::Postgres, "pg_writer_cut")) else {
        return;
    };
    block_on(db.execute("CREATE TABLE cut (n integer NOT NULL)"));
    let connector = Arc::new(Connector::new(db.url(), Durability::Full).unwrap());
    let writer = PgWriter::start(connector, system_clock()).unwrap();

    let cut = writer
        .submit(|tx, _| {
            tx.execute("INSERT INTO cut VALUES (1)", &[])?;
            // The session ends under the job, which does not notice (its statement's error is
            // dropped): its savepoint can no longer be released.
            let _ = tx.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
            Ok(())
        })
        .wait();
    let err = cut.expect_err("a job whose records are gone is not answered as recorded");
    assert!(
        matches!(err, crate::LedgerError::Io(ref m) if m.starts_with("commit failed: ")),
        "{err:?}"
    );
    assert_eq!(rows(db.url()), 0);

    // The next job connects again and is recorded.
    writer
        .submit(|tx, _| {
            tx.execute("INSERT INTO cut VALUES (2)", &[])?;
            Ok(())
        })
        .wait()
        .unwrap();
    assert_eq!(rows(db.url()), 1);
}
