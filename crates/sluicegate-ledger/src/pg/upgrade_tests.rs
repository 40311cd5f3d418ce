//! Every older PostgreSQL ledger upgrades to this build's schema with `store migrate`, and
//! what it held before stays findable: a proposal and a reviewer's reason recorded before the
//! search migration are found by the inbox's text search after it (the migration fills the
//! words of the rows it finds). Needs the test server (`SLUICEGATE_TEST_POSTGRES_URL`; with
//! CI=true a missing one fails).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use postgres::{Client, NoTls};
use sluicegate_core::config::Durability;
use sluicegate_test_support::app_db::block_on;
use sluicegate_test_support::engines::{EngineKind, TestDatabase};

use super::schema::{SCHEMA_VERSION, migrate, migrate_to};
use crate::{InboxQuery, Ledger};

/// The search migration's position: the first version whose proposals carry their words.
const SEARCH_VERSION: i64 = 3;

/// A blocking client of the test's own, on a thread of its own (the client runs a runtime).
/// Also used by `writer_tests`.
pub(super) fn on_client<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut Client) -> T + Send + 'static,
) -> T {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = url
            .parse::<postgres::Config>()
            .unwrap()
            .connect(NoTls)
            .unwrap();
        f(&mut c)
    })
    .join()
    .unwrap()
}

fn version(url: &str) -> i64 {
    on_client(url, |c| {
        c.query_one("SELECT MAX(version) FROM sluicegate_schema", &[])
            .unwrap()
            .get(0)
    })
}

#[test]
fn a_ledger_at_every_older_version_migrates_to_this_builds_and_opens() {
    for from in 0..SCHEMA_VERSION {
        let Some(db) = block_on(TestDatabase::create(
            EngineKind::Postgres,
            &format!("pg_upgrade_from_{from}"),
        )) else {
            return;
        };
        on_client(db.url(), move |c| migrate_to(c, from).unwrap());
        if from > 0 {
            assert_eq!(version(db.url()), from);
            // A server refuses the older ledger and names the fix.
            let Err(refused) = Ledger::open_postgres(db.url(), "$LEDGER", Durability::Full) else {
                panic!("a ledger at version {from} opened without `store migrate`");
            };
            assert_eq!(refused.code(), Some("LEDGER_SCHEMA_OUTDATED"), "{refused}");
        }
        let (before, after) = on_client(db.url(), |c| migrate(c).unwrap());
        assert_eq!((before, after), (from, SCHEMA_VERSION));
        Ledger::open_postgres(db.url(), "$LEDGER", Durability::Full).unwrap();
    }
}

#[test]
fn proposals_and_reasons_recorded_before_the_search_migration_are_found_after_it() {
    let Some(db) = block_on(TestDatabase::create(
        EngineKind::Postgres,
        "pg_upgrade_search",
    )) else {
        return;
    };
    on_client(db.url(), |c| {
        migrate_to(c, SEARCH_VERSION - 1).unwrap();
        // A proposal and a decision with its reason, as the schema before search held them.
        c.batch_execute(
            r#"INSERT INTO proposals (proposal_id, proposal_version, proposal_hash, action, state,
                 tenant_id, business_object, object_id, source_kind, source_id, source_schema,
                 source_table, change_set_json, created_at, updated_at, principal, capability)
               VALUES ('wrp_upgrade', 1, 'sha256:00', 'update', 'approved', 'acme', 'invoice',
                 'INV-1', 'postgres', 'billing', 'public', 'invoices',
                 '{"patch": {"note": "glacier moraine"}}', '2026-12-06T10:00:00.000Z',
                 '2026-12-06T10:00:00.000Z', 'agent', 'billing.propose_note');
               INSERT INTO approvals (proposal_id, proposal_version, proposal_hash, approver,
                 status, reason, created_at)
               VALUES ('wrp_upgrade', 1, 'sha256:00', 'ana', 'approved', 'tundra permafrost',
                 '2026-12-06T10:01:00.000Z');"#,
        )
        .unwrap();
        migrate(c).unwrap();
    });
    let ledger = Ledger::open_postgres(db.url(), "$LEDGER", Durability::Full).unwrap();
    let found = |words: &str| -> Vec<String> {
        let q = InboxQuery {
            search: Some(words.into()),
            ..InboxQuery::default()
        };
        let (page, _) = ledger.inbox_page(&q, None).unwrap();
        page.into_iter().map(|p| p.proposal_id).collect()
    };
    assert_eq!(found("moraine"), ["wrp_upgrade"], "a proposed value's word");
    assert_eq!(
        found("permafrost"),
        ["wrp_upgrade"],
        "the reviewer's reason"
    );
    assert_eq!(
        found("glacier tundra"),
        ["wrp_upgrade"],
        "both, in one search"
    );
    assert!(found("savanna").is_empty());
}
