//! Direct writeback (writeback.md §A.6–A.7, spec README §3.10): one guarded single-row UPDATE
//! in one transaction, made idempotent by a receipt table, plus the doctor probe.
//!
//! The receipt table is created before the transaction starts (MySQL commits DDL
//! implicitly), then a single transaction claims the idempotency key, locks the row under its
//! primary key and tenant, checks the conflict guard (version column or row hash) on the
//! locked row, updates exactly one row and records the receipt. Any error rolls the whole
//! transaction back, claim included, so nothing is ever half-written.

use serde_json::Value;
use sluicegate_core::config::Engine;
use sluicegate_core::evidence::Row;
use sluicegate_core::json::hash_json;
use sluicegate_core::writeback::{result_hash, versions_match};

use crate::error::{SourceError, refused};
use crate::mysql::{self, MyWriter};
use crate::postgres::{PgParam, PgWriter};
use crate::render::{self, Dialect, Projection, Select, Tail, Update};
use crate::sqlite::{self, LiteWriter};

mod probe;

pub use probe::{TargetProbe, probe_target, probe_writer};

/// The conflict guard of a writeback job.
#[derive(Debug, Clone, PartialEq)]
pub enum ConflictCheck {
    /// The live value of `column` must still equal `expected` (compared with
    /// [`versions_match`] after normalising the live value like a read).
    Version { column: String, expected: Value },
    /// `hash_json` of the live row's `columns` (in order, normalised like a read) must equal
    /// `expected`.
    RowHash {
        expected: String,
        columns: Vec<String>,
    },
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
    /// Tenant column and value. `None` (single-tenant development) is refused: direct
    /// writeback always needs a tenant guard.
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
        }
    }
}

/// The checked shape of an update, rendered before anything connects.
struct Prepared<'a> {
    tenant: (&'a str, &'a Value),
    /// Columns decoded from the locked row (the guard's columns, or the key alone).
    lock_columns: Vec<&'a str>,
    /// The version column whose stored value is bound back into the UPDATE.
    version: Option<&'a str>,
    update_sql: String,
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
    let d = Dialect::of(u.engine);
    let invalid = |m: String| Err(refused(&m));
    let Some((tenant_col, tenant_value)) = &u.tenant_guard else {
        return invalid(
            "direct writeback needs a tenant guard; single_tenant_dev capabilities cannot use sql_update".into(),
        );
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
        ConflictCheck::RowHash { columns, .. } if columns.is_empty() => {
            return invalid("a row-hash guard needs the columns it covers".into());
        }
        ConflictCheck::RowHash { columns, .. } => {
            (columns.iter().map(String::as_str).collect(), None)
        }
        ConflictCheck::None => (vec![u.primary_key.0.as_str()], None),
    };
    let set: Vec<&str> = u.patch.keys().map(String::as_str).collect();
    let update_sql = render::update(
        d,
        &Update {
            schema: &u.schema,
            table: &u.table,
            set: &set,
            key: &u.primary_key.0,
            tenant: tenant_col,
            version,
        },
    )?;
    let prepared = Prepared {
        tenant: (tenant_col.as_str(), tenant_value),
        lock_columns,
        version,
        update_sql,
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

/// The version value as stored, to be bound back into the UPDATE.
enum Native {
    Postgres(Option<String>),
    Mysql(mysql_async::Value),
    Sqlite(rusqlite::types::Value),
}

enum Writer {
    Postgres(PgWriter),
    Mysql(MyWriter),
    Sqlite(LiteWriter),
}

/// Values of the receipt table as read back.
struct Receipt {
    status: String,
    result_hash: Option<String>,
}

impl Writer {
    async fn connect(engine: Engine, url: &str) -> Result<Writer, SourceError> {
        Ok(match engine {
            Engine::Postgres => Writer::Postgres(PgWriter::connect(url).await?),
            Engine::Mysql => Writer::Mysql(MyWriter::connect(url).await?),
            Engine::Sqlite => Writer::Sqlite(LiteWriter::connect(url).await?),
        })
    }

    async fn close(self) {
        if let Writer::Mysql(w) = self {
            w.close().await;
        }
    }

    async fn ensure_receipt_table(&mut self) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => {
                // Two first-ever writebacks racing on CREATE TABLE IF NOT EXISTS can collide
                // in the catalog; the loser finds the table on its second try.
                match w.batch(render::postgres::RECEIPT_DDL).await {
                    Ok(()) => Ok(()),
                    Err(_) => w.batch(render::postgres::RECEIPT_DDL).await,
                }
            }
            Writer::Mysql(w) => w.batch(render::mysql::RECEIPT_DDL).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::RECEIPT_DDL).await,
        }
    }

    async fn begin(&mut self) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => w.batch(render::postgres::BEGIN).await,
            Writer::Mysql(w) => w.batch(render::mysql::BEGIN).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::BEGIN).await,
        }
    }

    async fn commit(&mut self) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => w.batch(render::postgres::COMMIT).await,
            Writer::Mysql(w) => w.batch(render::mysql::COMMIT).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::COMMIT).await,
        }
    }

    async fn rollback(&mut self) {
        // A failed rollback leaves nothing to undo: the connection is closed right after,
        // and the server discards an unfinished transaction with it.
        let _ = match self {
            Writer::Postgres(w) => w.batch(render::postgres::ROLLBACK).await,
            Writer::Mysql(w) => w.batch(render::mysql::ROLLBACK).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::ROLLBACK).await,
        };
    }

    /// Insert the `in_progress` receipt; false when the key already had one.
    async fn claim(&mut self, u: &GuardedUpdate) -> Result<bool, SourceError> {
        let (key, job, proposal) = (
            Value::String(u.idempotency_key.clone()),
            Value::String(u.job_id.clone()),
            Value::String(u.proposal_id.clone()),
        );
        Ok(match self {
            Writer::Postgres(w) => !w
                .query(
                    render::postgres::CLAIM_RECEIPT,
                    &[
                        PgParam::Json(&key),
                        PgParam::Json(&job),
                        PgParam::Json(&proposal),
                    ],
                )
                .await?
                .is_empty(),
            Writer::Mysql(w) => {
                w.execute(
                    render::mysql::CLAIM_RECEIPT,
                    vec![
                        mysql::param(&key),
                        mysql::param(&job),
                        mysql::param(&proposal),
                    ],
                )
                .await?
                    == 1
            }
            Writer::Sqlite(w) => {
                w.execute(
                    render::sqlite::CLAIM_RECEIPT.to_string(),
                    vec![
                        sqlite::param(&key),
                        sqlite::param(&job),
                        sqlite::param(&proposal),
                    ],
                )
                .await?
                    == 1
            }
        })
    }

    /// Lock and read the receipt of a key that was already claimed.
    async fn existing(&mut self, key: &str) -> Result<Option<Receipt>, SourceError> {
        let key_value = Value::String(key.to_string());
        let rows: Vec<(Option<String>, Option<String>)> = match self {
            Writer::Postgres(w) => w
                .query(
                    render::postgres::EXISTING_RECEIPT,
                    &[PgParam::Json(&key_value)],
                )
                .await?
                .iter()
                .map(|r| (r.try_get(0).ok(), r.try_get(1).ok().flatten()))
                .collect(),
            Writer::Mysql(w) => w
                .query(
                    render::mysql::EXISTING_RECEIPT,
                    vec![mysql::param(&key_value)],
                )
                .await?
                .into_iter()
                .map(|mut r| {
                    (
                        r.take_opt::<Option<String>, _>(0)
                            .and_then(Result::ok)
                            .flatten(),
                        r.take_opt::<Option<String>, _>(1)
                            .and_then(Result::ok)
                            .flatten(),
                    )
                })
                .collect(),
            Writer::Sqlite(w) => w
                .query_strings(
                    render::sqlite::EXISTING_RECEIPT,
                    vec![sqlite::param(&key_value)],
                )
                .await?
                .into_iter()
                .map(|mut r| {
                    let hash = r.pop().flatten();
                    (r.pop().flatten(), hash)
                })
                .collect(),
        };
        Ok(rows
            .into_iter()
            .next()
            .map(|(status, result_hash)| Receipt {
                status: status.unwrap_or_default(),
                result_hash,
            }))
    }

    /// Lock the target row and read the guard's columns (decoded like reads) and the stored
    /// version value.
    async fn lock_row(
        &mut self,
        u: &GuardedUpdate,
        p: &Prepared<'_>,
    ) -> Result<Option<(Row, Option<Native>)>, SourceError> {
        let projections: Vec<Projection<'_>> = p
            .lock_columns
            .iter()
            .map(|c| Projection::Column(c))
            .collect();
        let spec = p.lock_select(u, &projections);
        let key = &u.primary_key.1;
        let tenant = p.tenant.1;
        Ok(match self {
            Writer::Postgres(w) => w
                .lock_row(&spec, &p.lock_columns, p.version, key, tenant)
                .await?
                .map(|(row, v)| (row, p.version.map(|_| Native::Postgres(v)))),
            Writer::Mysql(w) => {
                let sql = render::select(Dialect::Mysql, &spec)?;
                w.lock_row(
                    &sql,
                    (&u.schema, &u.table),
                    &p.lock_columns,
                    p.version,
                    key,
                    tenant,
                )
                .await?
                .map(|(row, v)| (row, v.map(Native::Mysql)))
            }
            Writer::Sqlite(w) => {
                let sql = render::select(Dialect::Sqlite, &spec)?;
                let names = p.lock_columns.iter().map(|c| c.to_string()).collect();
                w.lock_row(sql, names, p.version.map(str::to_string), key, tenant)
                    .await?
                    .map(|(row, v)| (row, v.map(Native::Sqlite)))
            }
        })
    }

    /// Run the guarded UPDATE; returns the affected (matched) rows.
    async fn update(
        &mut self,
        u: &GuardedUpdate,
        p: &Prepared<'_>,
        native: Option<Native>,
    ) -> Result<u64, SourceError> {
        let key = &u.primary_key.1;
        let tenant = p.tenant.1;
        match self {
            Writer::Postgres(w) => {
                let mut params: Vec<PgParam<'_>> = u.patch.values().map(PgParam::Json).collect();
                params.push(PgParam::Json(key));
                params.push(PgParam::Json(tenant));
                let version = match native {
                    Some(Native::Postgres(v)) => v,
                    _ => None,
                };
                if p.version.is_some() {
                    params.push(PgParam::Text(version.as_deref()));
                }
                w.execute(&p.update_sql, &params).await
            }
            Writer::Mysql(w) => {
                let mut params: Vec<mysql_async::Value> =
                    u.patch.values().map(mysql::param).collect();
                params.push(mysql::param(key));
                params.push(mysql::param(tenant));
                if p.version.is_some() {
                    params.push(match native {
                        Some(Native::Mysql(v)) => v,
                        _ => mysql_async::Value::NULL,
                    });
                }
                w.execute(&p.update_sql, params).await
            }
            Writer::Sqlite(w) => {
                let mut params: Vec<rusqlite::types::Value> =
                    u.patch.values().map(sqlite::param).collect();
                params.push(sqlite::param(key));
                params.push(sqlite::param(tenant));
                if p.version.is_some() {
                    params.push(match native {
                        Some(Native::Sqlite(v)) => v,
                        _ => rusqlite::types::Value::Null,
                    });
                }
                w.execute(p.update_sql.clone(), params).await
            }
        }
    }

    /// Record the outcome on the claimed receipt; anything but one row is an error.
    async fn record(&mut self, status: &str, hash: &str, key: &str) -> Result<(), SourceError> {
        let (status, hash, key) = (
            Value::String(status.to_string()),
            Value::String(hash.to_string()),
            Value::String(key.to_string()),
        );
        let n = match self {
            Writer::Postgres(w) => {
                w.execute(
                    render::postgres::RECORD_RECEIPT,
                    &[
                        PgParam::Json(&status),
                        PgParam::Json(&hash),
                        PgParam::Json(&key),
                    ],
                )
                .await?
            }
            Writer::Mysql(w) => {
                w.execute(
                    render::mysql::RECORD_RECEIPT,
                    vec![
                        mysql::param(&status),
                        mysql::param(&hash),
                        mysql::param(&key),
                    ],
                )
                .await?
            }
            Writer::Sqlite(w) => {
                w.execute(
                    render::sqlite::RECORD_RECEIPT.to_string(),
                    vec![
                        sqlite::param(&status),
                        sqlite::param(&hash),
                        sqlite::param(&key),
                    ],
                )
                .await?
            }
        };
        if n == 1 {
            Ok(())
        } else {
            Err(SourceError::Query(
                "IDEMPOTENCY_RECEIPT_UNAVAILABLE: the claimed receipt row is gone".into(),
            ))
        }
    }
}

/// How the transaction ends.
enum Decision {
    Commit(WriteOutcome),
    Rollback(WriteOutcome),
}

/// Apply one guarded single-row UPDATE (writeback.md §A.6).
///
/// * Refuses without connecting (`Err(Query)` starting `writeback refused before connecting`,
///   or `Err(UnsafeIdentifier)`) when the update is
///   malformed: no tenant guard, an empty patch, a patch column outside `allowed_columns`,
///   the primary-key or tenant column inside it, or an unsafe identifier.
/// * `dry_run` validates and renders only: `Applied`, 0 rows, `H(job_id, "dry-run")`.
/// * An empty `writer_url` gives `Failed` / `DATABASE_UNAVAILABLE`.
/// * A failure to connect is `Err(Unavailable)`: nothing was attempted.
/// * Everything after connecting is an outcome: `Applied` (1 row), `AlreadyApplied`,
///   `Conflict` (`ROW_NOT_FOUND`, `VERSION_CONFLICT`, `IDEMPOTENT_CONFLICT`) or `Failed`
///   (`VERSION_CONFLICT` / `MULTI_ROW_WRITE_BLOCKED` when the UPDATE did not match exactly
///   one row, `TRANSACTION_FAILED`, `IDEMPOTENT_FAILED`, `IDEMPOTENCY_RECEIPT_*`).
pub async fn apply_guarded_update(
    writer_url: &str,
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
    if writer_url.trim().is_empty() {
        return Ok(WriteOutcome::failed(
            "DATABASE_UNAVAILABLE",
            Some("the writer URL env var is empty".into()),
        ));
    }
    let mut writer = Writer::connect(update.engine, writer_url).await?;
    let outcome = run(&mut writer, update, &prepared).await;
    writer.close().await;
    Ok(outcome)
}

async fn run(w: &mut Writer, u: &GuardedUpdate, p: &Prepared<'_>) -> WriteOutcome {
    let transaction_failed =
        |e: SourceError| WriteOutcome::failed("TRANSACTION_FAILED", Some(e.to_string()));
    if let Err(e) = w.ensure_receipt_table().await {
        return transaction_failed(e);
    }
    if let Err(e) = w.begin().await {
        return transaction_failed(e);
    }
    match decide(w, u, p).await {
        Ok(Decision::Commit(outcome)) => match w.commit().await {
            Ok(()) => outcome,
            Err(e) => {
                w.rollback().await;
                transaction_failed(e)
            }
        },
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
        ConflictCheck::Version { column, expected } => {
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
            let live = hash_json(&Value::Object(row));
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
    let affected = w.update(u, p, native).await?;
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
mod tests;
