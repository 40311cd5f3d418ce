//! "What a reviewer approves is exactly what gets written, and nothing else can be": someone
//! with write access to the ledger file (guard triggers dropped first) edits an approved or
//! undecided proposal, and `apply` refuses with a precise code before any executor runs, on
//! SQLite, PostgreSQL and MariaDB, for the guarded `UPDATE` and both app-owned handlers. The
//! source rows stay as they were, the handler is never called, and `store verify` reports the
//! edit. With reviewers configured, only an approval signed by a configured reviewer's key
//! applies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::apply_support;

use apply_support::app::{App, Desk, config};
use apply_support::{
    Cover, EXECUTORS, Exec, Executor, attacker, edit_change_set, edit_decision, set_state,
};
use rusqlite::Connection;
use serde_json::{Value, json};
use sluicegate_core::config::{Engine, Reviewer};
use sluicegate_core::decision::{SigningKey, Verdict, public_key_text, signing_key};
use sluicegate_core::proposal::content_hash;
use sluicegate_protocol::{ChangeSet, ReceiptStatus};
use sluicegate_runtime::ApplyOptions;

/// What a proposal went through before the ledger was edited.
#[derive(Debug, Clone, Copy)]
enum Decided {
    Approved,
    Pending,
    Rejected,
}

/// An edit of the ledger file, given the proposal id.
type LedgerEdit = Box<dyn Fn(&Connection, &str)>;

struct Case {
    what: String,
    decided: Decided,
    edit: LedgerEdit,
    code: &'static str,
    /// A phrase of the refusal's message that says what was found.
    says: &'static str,
}

type ChangeSetEdit = fn(&mut ChangeSet);

/// Retarget the change set at another row (`id`), and tenant when given.
fn retarget(cs: &mut ChangeSet, id: &str, tenant: Option<&str>) {
    cs.source.primary_key.value = json!(id);
    cs.scope.object_id = id.to_string();
    for row in [&mut cs.before, &mut cs.after] {
        row.insert("id".into(), json!(id));
    }
    if let Some(t) = tenant {
        cs.guards.tenant.value = json!(t);
        cs.scope.tenant_id = t.to_string();
    }
}

/// The edits of the change set an attacker would want: another row, another tenant's row,
/// another patch, another conflict guard.
fn change_set_edits() -> Vec<(&'static str, ChangeSetEdit)> {
    vec![
        ("target row", |cs| retarget(cs, "T-2", None)),
        ("tenant", |cs| retarget(cs, "O-1", Some("otherco"))),
        ("patch", |cs| {
            cs.patch
                .insert("note".into(), json!("rewritten by mallory"));
            cs.after
                .insert("note".into(), json!("rewritten by mallory"));
        }),
        ("guard", |cs| {
            cs.guards.expected_version.value = json!(41);
            cs.before.insert("version".into(), json!(41));
            cs.after.insert("version".into(), json!(41));
        }),
    ]
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (what, edit) in change_set_edits() {
        for (cover, says) in [
            // (a) the change set edited, its hashes stale.
            (Cover::Nothing, "no longer hashes to its recorded hash"),
            // (b) both stored copies of the hash recomputed: the creation event's digest of
            // the change set no longer matches.
            (Cover::Hashes, "not the one recorded at creation"),
            // (b) and the creation event and the whole chain recomputed too: the approval
            // is bound to the content the reviewer saw.
            (Cover::Chain, "bound to other content"),
        ] {
            cases.push(Case {
                what: format!("{what} edited, {cover:?} covered"),
                decided: Decided::Approved,
                edit: Box::new(move |c, id| edit_change_set(c, id, cover, edit)),
                code: "LEDGER_TAMPERED",
                says,
            });
        }
    }
    // (c) never approved, marked approved.
    cases.push(Case {
        what: "pending proposal marked approved".into(),
        decided: Decided::Pending,
        edit: Box::new(|c, id| set_state(c, id, "approved")),
        code: "LEDGER_TAMPERED",
        says: "records say pending_review",
    });
    // (d) rejected, marked approved.
    cases.push(Case {
        what: "rejected proposal marked approved".into(),
        decided: Decided::Rejected,
        edit: Box::new(|c, id| set_state(c, id, "approved")),
        code: "LEDGER_TAMPERED",
        says: "records say rejected",
    });
    cases
}

/// The executor under test, on one engine, over one ledger.
struct Bench<'a> {
    app: &'a App,
    exec: Executor,
    desk: Desk,
    ledger_path: std::path::PathBuf,
    label: String,
    notes: std::cell::Cell<u32>,
}

impl<'a> Bench<'a> {
    async fn new(app: &'a App, exec: Exec, ledger: &str, reviewers: &[Value]) -> Bench<'a> {
        let executor = Executor::start(exec, app.dir()).await;
        let ledger_path = app.path(ledger);
        let desk = Desk::open(
            &ledger_path,
            config(&app.config_doc("tickets", executor.doc(), reviewers)),
            app.env(&executor.env()),
        );
        Bench {
            app,
            label: format!("{} {exec:?}", app.name()),
            exec: executor,
            desk,
            ledger_path,
            notes: std::cell::Cell::new(0),
        }
    }

    /// Another desk on the same ledger, whose config lists `reviewers`.
    fn desk_with(&self, reviewers: &[Value]) -> Desk {
        Desk::open(
            &self.ledger_path,
            config(&self.app.config_doc("tickets", self.exec.doc(), reviewers)),
            self.app.env(&self.exec.env()),
        )
    }

    /// A proposal for T-1 with a note of its own.
    async fn propose(&self) -> String {
        self.notes.set(self.notes.get() + 1);
        let note = format!("{} note {}", self.label, self.notes.get());
        self.desk.propose("T-1", &note).await
    }

    /// The proposal applies: one row written (the guarded `UPDATE`) or one handler call.
    async fn applies(&self, id: &str, what: &str) {
        let calls = self.exec.calls();
        let before = self.app.row("tickets", "T-1").await;
        let report = self
            .desk
            .review
            .apply(id, &ApplyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {what}: {e:?}", self.label));
        assert_eq!(
            report.result.status,
            ReceiptStatus::Applied,
            "{}: {what}",
            self.label
        );
        if self.exec.exec == Exec::Sql {
            let after = self.app.row("tickets", "T-1").await;
            assert_ne!(
                after.0, before.0,
                "{}: {what}: the note was written",
                self.label
            );
            assert_eq!(self.exec.calls(), calls);
        } else {
            assert_eq!(self.exec.calls(), calls + 1, "{}: {what}", self.label);
        }
    }

    /// `apply` is refused with `code` (and a message saying `says`), before anything is
    /// recorded or any handler called (the rows are compared by the caller, once for a run
    /// of refusals: a new connection costs PostgreSQL's authentication each time).
    /// `tampered`: `store verify` reports the proposal.
    async fn refused(
        &self,
        id: &str,
        what: &str,
        code: &str,
        says: &str,
        reviewers: &[Reviewer],
        tampered: bool,
    ) {
        let label = format!("{}: {what}", self.label);
        let calls = self.exec.calls();
        let err = match self.desk.review.apply(id, &ApplyOptions::default()).await {
            Err(e) => e,
            Ok(r) => panic!("{label}: applied ({:?}) instead of refused", r.result),
        };
        assert_eq!(err.code(), Some(code), "{label}: {err}");
        assert!(err.to_string().contains(says), "{label}: {err}");
        assert_eq!(self.exec.calls(), calls, "{label}: the handler was called");
        assert!(
            self.desk.ledger.jobs(id).unwrap().is_empty(),
            "{label}: a job was recorded"
        );
        let report = self.desk.ledger.verify(reviewers).unwrap();
        let found = report.problems.iter().any(|p| p.proposal_id == id);
        assert_eq!(
            found, tampered,
            "{label}: store verify: {:?}",
            report.problems
        );
    }
}

/// (a)–(d) on one engine, for each executor.
async fn ledger_edits(engine: Engine) {
    let Some(app) = App::create(engine, "apply_tamper").await else {
        return;
    };
    for exec in EXECUTORS {
        let bench = Bench::new(&app, exec, &format!("{exec:?}.db"), &[]).await;
        // Untouched, the same kind of proposal applies: the refusals below are the edits'.
        let benign = bench.propose().await;
        bench
            .desk
            .decide(&benign, Verdict::Approve, None)
            .await
            .unwrap();
        bench.applies(&benign, "untouched").await;

        let conn = attacker(&bench.ledger_path);
        let rows = app.snapshot().await;
        for case in cases() {
            let id = bench.propose().await;
            match case.decided {
                Decided::Approved => bench.desk.decide(&id, Verdict::Approve, None).await,
                Decided::Rejected => bench.desk.decide(&id, Verdict::Reject, None).await,
                Decided::Pending => Ok(()),
            }
            .unwrap();
            (case.edit)(&conn, &id);
            bench
                .refused(&id, &case.what, case.code, case.says, &[], true)
                .await;
        }
        assert_eq!(
            app.snapshot().await,
            rows,
            "{}: a refused apply wrote",
            bench.label
        );
    }
}

fn reviewer(name: &str, key: &SigningKey) -> Value {
    json!({"name": name, "public_key": public_key_text(&key.verifying_key())})
}

/// (e) with reviewers configured, on one engine, for each executor.
async fn signatures(engine: Engine) {
    let Some(app) = App::create(engine, "apply_signed").await else {
        return;
    };
    let ann = signing_key(&[1; 32]);
    let mallory = signing_key(&[2; 32]);
    let configured = [Reviewer {
        name: "ann".into(),
        public_key: public_key_text(&ann.verifying_key()),
    }];
    for exec in EXECUTORS {
        let bench = Bench::new(
            &app,
            exec,
            &format!("{exec:?}-signed.db"),
            &[reviewer("ann", &ann)],
        )
        .await;
        let desk = &bench.desk;

        // Signed by ann: applies.
        let good = bench.propose().await;
        desk.decide(&good, Verdict::Approve, Some(ann.clone()))
            .await
            .unwrap();
        bench.applies(&good, "signed by ann").await;

        let rows = app.snapshot().await;
        // Approved while no reviewers were configured: unsigned. Not a ledger edit, so
        // `store verify` only notes it; apply refuses it.
        let unsigned = bench.propose().await;
        bench
            .desk_with(&[])
            .decide(&unsigned, Verdict::Approve, None)
            .await
            .unwrap();
        bench
            .refused(
                &unsigned,
                "unsigned approval",
                "APPROVAL_SIGNATURE_MISSING",
                "not signed",
                &configured,
                false,
            )
            .await;

        // Signed with a key the config does not list, under another name or under ann's.
        for (name, says) in [
            ("mallory", "not a configured reviewer"),
            ("ann", "not ann's configured key"),
        ] {
            let id = bench.propose().await;
            bench
                .desk_with(&[reviewer(name, &mallory)])
                .decide(&id, Verdict::Approve, Some(mallory.clone()))
                .await
                .unwrap();
            bench
                .refused(
                    &id,
                    &format!("signed by mallory as {name}"),
                    "APPROVAL_REVIEWER_UNKNOWN",
                    says,
                    &configured,
                    true,
                )
                .await;
        }

        let conn = attacker(&bench.ledger_path);
        // Ann's approval moved onto edited content: change set, both hashes, the creation
        // event, the approval's content hash and the whole chain rewritten. Only the
        // signature gives it away.
        let moved = bench.propose().await;
        desk.decide(&moved, Verdict::Approve, Some(ann.clone()))
            .await
            .unwrap();
        edit_change_set(&conn, &moved, Cover::Chain, |cs| {
            cs.patch
                .insert("note".into(), json!("rewritten by mallory"));
            cs.after
                .insert("note".into(), json!("rewritten by mallory"));
        });
        let hash = content_hash(&desk.ledger.proposal(&moved).unwrap().change_set().unwrap());
        edit_decision(&conn, &moved, |d| d.content_hash = hash);
        // A forged signature: mallory's, over ann's decision, with ann's key beside it.
        let forged = bench.propose().await;
        desk.decide(&forged, Verdict::Approve, Some(ann.clone()))
            .await
            .unwrap();
        edit_decision(&conn, &forged, |d| {
            let ann_key = d.reviewer_key.clone();
            d.sign(&mallory);
            d.reviewer_key = ann_key;
        });
        // A pending proposal retargeted at another tenant's row, its hashes and whole chain
        // recomputed, the row's tenant and target columns left as they were: every view
        // would show T-1 of the first tenant while ann signed the hash of otherco's O-1.
        // No decision is recorded, and apply refuses.
        let retargeted = bench.propose().await;
        edit_change_set(&conn, &retargeted, Cover::Chain, |cs| {
            retarget(cs, "O-1", Some("otherco"))
        });
        let err = desk
            .decide(&retargeted, Verdict::Approve, Some(ann.clone()))
            .await
            .expect_err("a decision on a retargeted proposal");
        assert_eq!(
            err.code(),
            Some("LEDGER_TAMPERED"),
            "{}: {err}",
            bench.label
        );
        assert!(
            err.to_string().contains("no decision was recorded"),
            "{}: {err}",
            bench.label
        );
        assert!(
            desk.ledger.decisions(&retargeted).unwrap().is_empty(),
            "{}: a decision was recorded",
            bench.label
        );
        bench
            .refused(
                &retargeted,
                "retargeted while pending",
                "LEDGER_TAMPERED",
                "the proposal's row says tenant_id",
                &configured,
                true,
            )
            .await;
        for (id, what) in [(&moved, "approval moved"), (&forged, "signature forged")] {
            bench
                .refused(
                    id,
                    what,
                    "LEDGER_TAMPERED",
                    "signature does not verify",
                    &configured,
                    true,
                )
                .await;
        }
        assert_eq!(
            app.snapshot().await,
            rows,
            "{}: a refused apply wrote",
            bench.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_edits_are_refused_on_sqlite() {
    ledger_edits(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_edits_are_refused_on_postgres() {
    ledger_edits(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_edits_are_refused_on_mariadb() {
    ledger_edits(Engine::Mysql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_configured_reviewers_signature_applies_on_sqlite() {
    signatures(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_configured_reviewers_signature_applies_on_postgres() {
    signatures(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_configured_reviewers_signature_applies_on_mariadb() {
    signatures(Engine::Mysql).await;
}
