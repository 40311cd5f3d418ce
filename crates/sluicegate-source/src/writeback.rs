//! Direct writeback (writeback.md §A.6–A.7, spec README §3.10): one guarded single-row UPDATE
//! in one transaction, made idempotent by a receipt table, plus the writer's checks
//! ([`check`]: apply's look for the receipt table, the doctor's privilege probes, `--fix`).
//!
//! The receipt table is never created here: an admin creates it (`writeback migration`, or
//! `doctor --fix`), so the writer needs no DDL right; when the writer's statements do not find
//! it, nothing is attempted (`RECEIPT_TABLE_MISSING`). Then a single transaction claims the
//! idempotency key, locks the row under its primary key and tenant, checks the conflict guard
//! (version column or row hash) on the locked row, updates exactly one row and records the
//! receipt. Any error rolls the whole transaction back, claim included, so nothing is ever
//! half-written.
//!
//! The UPDATE itself enforces the guard too ([`guard`]): it advances a version column that
//! Sluicegate maintains, compares every reviewed column under a row-hash guard, and binds
//! each value in the form its live column stores.

mod check;
mod guard;
mod writer;

use serde_json::Value;
use sluicegate_core::config::{Engine, MaintainedBy};
use sluicegate_core::evidence::Row;
use sluicegate_core::json::hash_json;
use sluicegate_core::secrets::Secret;
use sluicegate_core::writeback::{result_hash, versions_match};

use crate::error::{SourceError, SourceErrorKind, refused};
use crate::render::{self, Dialect, Projection, RECEIPT_TABLE, Select, Tail, Update};
pub use check::{
    Lack, ReceiptFix, Trouble, WriterCheck, WriterLookup, check_writer, create_receipt_table,
    lookup_writer,
};
use writer::Writer;

/// The conflict guard of a writeback job.
#[derive(Debug, Clone, PartialEq)]
pub enum ConflictCheck {
    /// The live value of `column` must still equal `expected` (compared with
    /// [`versions_match`] after normalising the live value like a read, and again in the
    /// UPDATE's WHERE clause). When Sluicegate maintains the column, the UPDATE also advances
    /// it, so every later proposal made from the same read conflicts.
    Version {
        column: String,
        expected: Value,
        maintained_by: MaintainedBy,
    },
    /// `hash_json` of the live row's columns (the keys of `before`, in order, normalised like
    /// a read) must equal `expected`, and the UPDATE's WHERE clause compares every one of
    /// them with the reviewed `before` value.
    RowHash { expected: String, before: Row },
    /// No guard beyond primary key and tenant.
    None,
}

/// One approved change: everything the guarded UPDATE needs, with identifiers from the
/// validated config and values from the reviewed proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardedUpdate {
    pub engine: Engine,
    pub schema: String,
    pub table: String,
    /// Primary-key column and value.
    pub primary_key: (String, Value),
    /// Tenant column and value; `None` for a single-tenant development target (a
    /// `single_tenant_dev` capability, which the tamper checks insist on), whose row the
    /// primary key alone picks.
    pub tenant_guard: Option<(String, Value)>,
    pub allowed_columns: Vec<String>,
    /// Column → new value, applied in this order.
    pub patch: Row,
    pub conflict: ConflictCheck,
    pub idempotency_key: String,
    pub job_id: String,
    pub proposal_id: String,
}

/// The result status of a guarded update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStatus {
    /// Exactly one row was changed (or, in a dry run, would be attempted).
    Applied,
    /// The idempotency key was applied before; nothing was written this time.
    AlreadyApplied,
    /// The row is gone or changed since it was reviewed; nothing was written.
    Conflict,
    /// Nothing was written; `error_code` says why.
    Failed,
}

impl WriteStatus {
    /// The wire spelling (`applied`, `already_applied`, `conflict`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            WriteStatus::Applied => "applied",
            WriteStatus::AlreadyApplied => "already_applied",
            WriteStatus::Conflict => "conflict",
            WriteStatus::Failed => "failed",
        }
    }
}

/// What a guarded update did.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    pub status: WriteStatus,
    pub affected_rows: u64,
    /// `H(job_id, status, version?)` (writeback.md §A.6); absent for failures.
    pub result_hash: Option<String>,
    /// A safe error code (`ROW_NOT_FOUND`, `VERSION_CONFLICT`, `TRANSACTION_FAILED`, …).
    pub error_code: Option<String>,
    /// For a conflict on the guard: the live version value, or the live row hash.
    pub current_version: Option<Value>,
    /// For operators (logs, stderr): why a write failed, scrubbed of URLs and credentials.
    /// Never shown to a model.
    pub detail: Option<String>,
    /// For `AlreadyApplied`: the job id of the attempt that wrote, as the receipt table
    /// recorded it, so the caller can tell which of its attempts the write belongs to.
    pub written_by: Option<String>,
}

impl WriteOutcome {
    fn applied(affected_rows: u64, hash: String) -> WriteOutcome {
        WriteOutcome {
            status: WriteStatus::Applied,
            affected_rows,
            result_hash: Some(hash),
            error_code: None,
            current_version: None,
            detail: None,
            written_by: None,
        }
    }

    fn conflict(code: &str, hash: String, current: Option<Value>) -> WriteOutcome {
        WriteOutcome {
            status: WriteStatus::Conflict,
            affected_rows: 0,
            result_hash: Some(hash),
            error_code: Some(code.to_string()),
            current_version: current,
            detail: None,
            written_by: None,
        }
    }

    fn failed(code: &str, detail: Option<String>) -> WriteOutcome {
        WriteOutcome {
            status: WriteStatus::Failed,
            affected_rows: 0,
            result_hash: None,
            error_code: Some(code.to_string()),
            current_version: None,
            detail,
            written_by: None,
        }
    }
}

fn dialect(engine: Engine) -> Dialect {
    match engine {
        Engine::Postgres => Dialect::Postgres,
        Engine::Mysql => Dialect::Mysql,
        Engine::Sqlite => Dialect::Sqlite,
    }
}

/// The checked shape of an update, rendered before anything connects.
struct Prepared<'a> {
    tenant: (&'a str, &'a Value),
    /// Columns decoded from the locked row (the guard's columns, or the key alone).
    lock_columns: Vec<&'a str>,
    /// The version column whose stored value is bound back into the UPDATE.
    version: Option<&'a str>,
}

impl Prepared<'_> {
    fn lock_select<'b>(
        &'b self,
        u: &'b GuardedUpdate,
        projections: &'b [Projection<'b>],
    ) -> Select<'b> {
        Select {
            schema: &u.schema,
            table: &u.table,
            projections,
            key: &u.primary_key.0,
            tenant: Some(self.tenant.0),
            tail: Tail::ForUpdate,
        }
    }
}

/// Re-check everything the config validator and the tamper checks already checked, so that
/// a bug upstream cannot widen what a single UPDATE touches.
fn prepare(u: &GuardedUpdate) -> Result<Prepared<'_>, SourceError> {
    let d = dialect(u.engine);
    let invalid = |m: String| Err(refused(&m));
    // Without a tenant column the row key stands in for it, so every statement keeps its
    // one shape (`… WHERE key = ? AND key = ?`) and still picks exactly one row.
    let (tenant_col, tenant_value) = match &u.tenant_guard {
        Some((column, value)) => (column, value),
        None => (&u.primary_key.0, &u.primary_key.1),
    };
    if u.idempotency_key.is_empty() || u.job_id.is_empty() {
        return invalid("the idempotency key and job id must not be empty".into());
    }
    if u.patch.is_empty() {
        return invalid("the patch is empty".into());
    }
    for col in u.allowed_columns.iter().chain(u.patch.keys()) {
        d.ident(col)?;
    }
    if let Some(col) = u.patch.keys().find(|c| !u.allowed_columns.contains(c)) {
        return invalid(format!("patch column {col} is not in allowed_columns"));
    }
    for guard in [&u.primary_key.0, tenant_col] {
        if u.allowed_columns.contains(guard) {
            return invalid(format!(
                "{guard} guards the row and must not be in allowed_columns"
            ));
        }
    }
    let (lock_columns, version): (Vec<&str>, Option<&str>) = match &u.conflict {
        ConflictCheck::Version { column, .. } => (vec![column.as_str()], Some(column.as_str())),
        ConflictCheck::RowHash { before, .. } if before.is_empty() => {
            return invalid("a row-hash guard needs the columns it covers".into());
        }
        ConflictCheck::RowHash { before, .. } => {
            (before.keys().map(String::as_str).collect(), None)
        }
        ConflictCheck::None => (vec![u.primary_key.0.as_str()], None),
    };
    let set: Vec<&str> = u.patch.keys().map(String::as_str).collect();
    // Rendered here only to validate every identifier before anything connects; the UPDATE
    // that runs is planned under the row lock (`guard::plan`).
    render::update(
        d,
        &Update {
            schema: &u.schema,
            table: &u.table,
            set: &set,
            key: &u.primary_key.0,
            tenant: tenant_col,
            version,
            advance: None,
            compare: &[],
        },
    )?;
    let prepared = Prepared {
        tenant: (tenant_col.as_str(), tenant_value),
        lock_columns,
        version,
    };
    // Render the lock statement too, so a dry run validates every identifier it would use.
    let projections: Vec<Projection<'_>> = prepared
        .lock_columns
        .iter()
        .map(|c| Projection::Column(c))
        .collect();
    render::select(d, &prepared.lock_select(u, &projections))?;
    Ok(prepared)
}

/// How the transaction ends.
enum Decision {
    Commit(WriteOutcome),
    Rollback(WriteOutcome),
}

/// Apply one guarded single-row UPDATE (writeback.md §A.6).
///
/// * Refuses without connecting (an error of kind `WritebackRefused` or `UnsafeIdentifier`)
///   when the update is malformed: no tenant guard, an empty patch, a patch column outside `allowed_columns`,
///   the primary-key or tenant column inside it, or an unsafe identifier.
/// * `dry_run` validates and renders only: `Applied`, 0 rows, `H(job_id, "dry-run")`.
/// * An empty `writer_url` gives `Failed` / `DATABASE_UNAVAILABLE`.
/// * A failure to connect is an error whose kind `is_unavailable()`: nothing was attempted.
/// * Everything after connecting is an outcome: `Applied` (1 row), `AlreadyApplied`,
///   `Conflict` (`ROW_NOT_FOUND`, `VERSION_CONFLICT`, `IDEMPOTENT_CONFLICT`) or `Failed`
///   (`RECEIPT_TABLE_MISSING` when the writer's statements find no receipt table, which is
///   never created here; `VERSION_CONFLICT` / `MULTI_ROW_WRITE_BLOCKED` when the UPDATE did
///   not match exactly one row; `WRITER_PRIVILEGE_MISSING` when the database refused a
///   statement for want of a grant; `TRANSACTION_FAILED`, `IDEMPOTENT_FAILED`,
///   `IDEMPOTENCY_RECEIPT_*`).
pub async fn apply_guarded_update(
    writer_url: &Secret,
    update: &GuardedUpdate,
    dry_run: bool,
) -> Result<WriteOutcome, SourceError> {
    let prepared = prepare(update)?;
    if dry_run {
        return Ok(WriteOutcome::applied(
            0,
            result_hash(&update.job_id, "dry-run", None),
        ));
    }
    if writer_url.is_blank() {
        return Ok(WriteOutcome::failed(
            "DATABASE_UNAVAILABLE",
            Some("the writer URL env var is empty".into()),
        ));
    }
    let mut writer = Writer::connect(update.engine, writer_url.expose()).await?;
    let outcome = run(&mut writer, update, &prepared).await;
    writer.close().await;
    Ok(outcome)
}

async fn run(w: &mut Writer, u: &GuardedUpdate, p: &Prepared<'_>) -> WriteOutcome {
    let transaction_failed = |e: SourceError| {
        let code = if e.kind() == &SourceErrorKind::PermissionDenied {
            "WRITER_PRIVILEGE_MISSING"
        } else {
            "TRANSACTION_FAILED"
        };
        WriteOutcome::failed(code, Some(e.to_string()))
    };
    match check::lookup(w).await {
        Ok(found) if found.receipt_schema.is_none() => {
            return WriteOutcome::failed(
                "RECEIPT_TABLE_MISSING",
                Some(format!(
                    "the writer finds no {RECEIPT_TABLE} table (it looks in {}); apply never creates it",
                    found.schema.as_deref().unwrap_or("no schema")
                )),
            );
        }
        Ok(_) => {}
        Err(e) => return transaction_failed(e),
    }
    if let Err(e) = w.begin().await {
        return transaction_failed(e);
    }
    match decide(w, u, p).await {
        Ok(Decision::Commit(outcome)) => {
            // Crash tests (sluicegate-runtime's `failpoints` feature): stop before COMMIT.
            #[cfg(feature = "failpoints")]
            fail::fail_point!("writeback.before_commit");
            match w.commit().await {
                Ok(()) => outcome,
                Err(e) => {
                    w.rollback().await;
                    transaction_failed(e)
                }
            }
        }
        Ok(Decision::Rollback(outcome)) => {
            w.rollback().await;
            outcome
        }
        Err(e) => {
            w.rollback().await;
            transaction_failed(e)
        }
    }
}

/// The decision steps of writeback.md §A.6, inside the open transaction.
async fn decide(
    w: &mut Writer,
    u: &GuardedUpdate,
    p: &Prepared<'_>,
) -> Result<Decision, SourceError> {
    if !w.claim(u).await? {
        let outcome = match w.existing(&u.idempotency_key).await? {
            None => WriteOutcome::failed("IDEMPOTENCY_RECEIPT_UNAVAILABLE", None),
            Some(r) => {
                let hash = r
                    .result_hash
                    .unwrap_or_else(|| result_hash(&u.job_id, "idempotent", None));
                match r.status.as_str() {
                    "applied" | "already_applied" => WriteOutcome {
                        status: WriteStatus::AlreadyApplied,
                        written_by: r.job_id,
                        ..WriteOutcome::applied(0, hash)
                    },
                    "conflict" => WriteOutcome::conflict("IDEMPOTENT_CONFLICT", hash, None),
                    "failed" => WriteOutcome::failed("IDEMPOTENT_FAILED", None),
                    _ => WriteOutcome::failed("IDEMPOTENCY_RECEIPT_IN_PROGRESS", None),
                }
            }
        };
        return Ok(Decision::Commit(outcome));
    }
    let Some((row, native)) = w.lock_row(u, p).await? else {
        let hash = result_hash(&u.job_id, "ROW_NOT_FOUND", None);
        w.record("conflict", &hash, &u.idempotency_key).await?;
        return Ok(Decision::Commit(WriteOutcome::conflict(
            "ROW_NOT_FOUND",
            hash,
            None,
        )));
    };
    let expected_version = match &u.conflict {
        ConflictCheck::Version {
            column, expected, ..
        } => {
            let current = row.get(column).cloned().unwrap_or(Value::Null);
            if !versions_match(&current, expected) {
                let hash = result_hash(&u.job_id, "VERSION_CONFLICT", Some(&current));
                w.record("conflict", &hash, &u.idempotency_key).await?;
                return Ok(Decision::Commit(WriteOutcome::conflict(
                    "VERSION_CONFLICT",
                    hash,
                    Some(current),
                )));
            }
            Some(expected)
        }
        ConflictCheck::RowHash { expected, .. } => {
            let live = hash_json(&Value::Object(row.clone()));
            if &live != expected {
                let live = Value::String(live);
                let hash = result_hash(&u.job_id, "VERSION_CONFLICT", Some(&live));
                w.record("conflict", &hash, &u.idempotency_key).await?;
                return Ok(Decision::Commit(WriteOutcome::conflict(
                    "VERSION_CONFLICT",
                    hash,
                    Some(live),
                )));
            }
            None
        }
        ConflictCheck::None => None,
    };
    let columns = w.columns(u).await?;
    let plan = match guard::plan(u, p, &columns, &row, native.as_ref()) {
        Ok(plan) => plan,
        Err(failure) => return Ok(Decision::Rollback(failure.outcome())),
    };
    let affected = w.update(u, p, native, &plan).await?;
    if affected != 1 {
        let code = if affected == 0 {
            "VERSION_CONFLICT"
        } else {
            "MULTI_ROW_WRITE_BLOCKED"
        };
        return Ok(Decision::Rollback(WriteOutcome::failed(
            code,
            Some(format!(
                "the guarded UPDATE matched {affected} rows; rolled back"
            )),
        )));
    }
    let hash = result_hash(&u.job_id, "applied", expected_version);
    w.record("applied", &hash, &u.idempotency_key).await?;
    Ok(Decision::Commit(WriteOutcome::applied(1, hash)))
}

#[cfg(test)]
mod plan_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
                maintained_by: MaintainedBy::Sluicegate,
            },
            idempotency_key: "wrp_1:INV-3001".into(),
            job_id: "wbj_wrp_1".into(),
            proposal_id: "wrp_1".into(),
        }
    }

    #[tokio::test]
    async fn dry_run_renders_without_connecting() {
        // The URL points nowhere: a dry run must not even try it.
        let out = apply_guarded_update(&"postgres://u:p@192.0.2.1:1/x".into(), &update(), true)
            .await
            .expect("dry run");
        assert_eq!(out.status, WriteStatus::Applied);
        assert_eq!(out.affected_rows, 0);
        assert_eq!(
            out.result_hash,
            Some(result_hash("wbj_wrp_1", "dry-run", None))
        );
    }

    #[tokio::test]
    async fn empty_url_is_database_unavailable() {
        let out = apply_guarded_update(&" ".into(), &update(), false)
            .await
            .expect("outcome");
        assert_eq!(out.status, WriteStatus::Failed);
        assert_eq!(out.error_code.as_deref(), Some("DATABASE_UNAVAILABLE"));
        for e in [
            lookup_writer(&"".into(), Engine::Mysql).await.err(),
            check_writer(&" ".into(), Engine::Postgres, &[]).await.err(),
            create_receipt_table(&"sqlite:///x".into(), &"".into(), Engine::Sqlite)
                .await
                .err(),
        ] {
            assert!(
                matches!(
                    e.as_ref().map(SourceError::kind),
                    Some(SourceErrorKind::CredentialMissing { .. })
                ),
                "{e:?}"
            );
        }
    }

    #[tokio::test]
    async fn malformed_updates_are_refused_before_connecting() {
        type Mutate = Box<dyn Fn(&mut GuardedUpdate)>;
        let cases: Vec<(Mutate, &str)> = vec![
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
                        before: Row::new(),
                    }
                }),
                "row-hash",
            ),
        ];
        for (mutate, needle) in cases {
            let mut u = update();
            mutate(&mut u);
            match apply_guarded_update(&"postgres://u:p@192.0.2.1:1/x".into(), &u, false).await {
                Err(e) if e.kind() == &SourceErrorKind::WritebackRefused => {
                    assert_eq!(e.category(), "invalid writeback");
                    assert!(e.to_string().contains(needle), "{e}");
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
        let mut u = update();
        u.table = "invoices; DROP TABLE x".into();
        assert_eq!(
            apply_guarded_update(&"".into(), &u, true).await,
            Err(SourceError::unsafe_identifier("invoices; DROP TABLE x"))
        );
        let mut u = update();
        u.patch.insert("bad-col".into(), json!(1));
        u.allowed_columns.push("bad-col".into());
        assert!(matches!(
            apply_guarded_update(&"".into(), &u, true).await,
            Err(e) if e.kind() == &SourceErrorKind::UnsafeIdentifier
        ));
        let mut u = update();
        u.conflict = ConflictCheck::Version {
            column: "updated at".into(),
            expected: json!(1),
            maintained_by: MaintainedBy::App,
        };
        assert!(matches!(
            apply_guarded_update(&"".into(), &u, true).await,
            Err(e) if e.kind() == &SourceErrorKind::UnsafeIdentifier
        ));
    }
}
