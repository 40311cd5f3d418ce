//! The writer connection of a guarded update: one enum over the three engines, with the steps
//! of the writeback transaction (receipt claim, row lock, the UPDATE, receipt record).

use serde_json::Value;
use sluicegate_core::config::Engine;
use sluicegate_core::evidence::Row;

use sluicegate_core::columns::TableColumns;

use super::guard::{GuardPlan, bind};
use super::{GuardedUpdate, Prepared};
use crate::error::{SourceError, SourceErrorKind};
use crate::mysql::{self, MyWriter};
use crate::postgres::{PgParam, PgWriter};
use crate::render::{self, Dialect, Projection};
use crate::sqlite::{self, LiteWriter};

/// The version value as stored, to be bound back into the UPDATE.
pub(super) enum Native {
    Postgres(Option<String>),
    Mysql(mysql_async::Value),
    Sqlite(rusqlite::types::Value),
}

pub(super) enum Writer {
    Postgres(PgWriter),
    Mysql(MyWriter),
    Sqlite(LiteWriter),
}

/// Values of the receipt table as read back.
pub(super) struct Receipt {
    pub(super) status: String,
    pub(super) result_hash: Option<String>,
    /// The job id of the attempt that claimed the key.
    pub(super) job_id: Option<String>,
}

impl Writer {
    pub(super) async fn connect(engine: Engine, url: &str) -> Result<Writer, SourceError> {
        Ok(match engine {
            Engine::Postgres => Writer::Postgres(PgWriter::connect(url).await?),
            Engine::Mysql => Writer::Mysql(MyWriter::connect(url).await?),
            Engine::Sqlite => Writer::Sqlite(LiteWriter::connect(url).await?),
        })
    }

    pub(super) async fn close(self) {
        if let Writer::Mysql(w) = self {
            w.close().await;
        }
    }

    /// Run one rendered statement without parameters and discard what it returns (the
    /// doctor's probes).
    pub(super) async fn probe(&mut self, sql: &str) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => w.batch(sql).await,
            Writer::Mysql(w) => w.batch(sql).await,
            Writer::Sqlite(w) => w.probe(sql.to_string()).await,
        }
    }

    /// A query's rows as text-or-NULL values; parameters are bound like every value.
    pub(super) async fn query_text(
        &mut self,
        sql: &'static str,
        params: &[Value],
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        Ok(match self {
            Writer::Postgres(w) => {
                let bound: Vec<PgParam<'_>> = params.iter().map(PgParam::Json).collect();
                w.query(sql, &bound)
                    .await?
                    .iter()
                    .map(|r| (0..r.len()).map(|i| r.try_get(i).ok().flatten()).collect())
                    .collect()
            }
            Writer::Mysql(w) => w
                .query(sql, params.iter().map(mysql::param).collect())
                .await?
                .into_iter()
                .map(|mut r| {
                    (0..r.len())
                        .map(|i| {
                            r.take_opt::<Option<String>, _>(i)
                                .and_then(Result::ok)
                                .flatten()
                        })
                        .collect()
                })
                .collect(),
            Writer::Sqlite(w) => {
                w.query_strings(sql, params.iter().map(sqlite::param).collect())
                    .await?
            }
        })
    }

    /// Run fixed statement text (DDL and grants of `doctor --fix`).
    pub(super) async fn batch(&mut self, sql: &str) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => w.batch(sql).await,
            Writer::Mysql(w) => w.batch(sql).await,
            Writer::Sqlite(w) => w.batch(sql).await,
        }
    }

    pub(super) async fn begin(&mut self) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => w.batch(render::postgres::BEGIN).await,
            Writer::Mysql(w) => w.batch(render::mysql::BEGIN).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::BEGIN).await,
        }
    }

    pub(super) async fn commit(&mut self) -> Result<(), SourceError> {
        match self {
            Writer::Postgres(w) => w.batch(render::postgres::COMMIT).await,
            Writer::Mysql(w) => w.batch(render::mysql::COMMIT).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::COMMIT).await,
        }
    }

    pub(super) async fn rollback(&mut self) {
        // A failed rollback leaves nothing to undo: the connection is closed right after,
        // and the server discards an unfinished transaction with it.
        let _ = match self {
            Writer::Postgres(w) => w.batch(render::postgres::ROLLBACK).await,
            Writer::Mysql(w) => w.batch(render::mysql::ROLLBACK).await,
            Writer::Sqlite(w) => w.batch(render::sqlite::ROLLBACK).await,
        };
    }

    /// Insert the `in_progress` receipt; false when the key already had one.
    pub(super) async fn claim(&mut self, u: &GuardedUpdate) -> Result<bool, SourceError> {
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
    pub(super) async fn existing(&mut self, key: &str) -> Result<Option<Receipt>, SourceError> {
        let key_value = Value::String(key.to_string());
        // status, result_hash, job_id
        let rows: Vec<Vec<Option<String>>> = match self {
            Writer::Postgres(w) => w
                .query(
                    render::postgres::EXISTING_RECEIPT,
                    &[PgParam::Json(&key_value)],
                )
                .await?
                .iter()
                .map(|r| (0..3).map(|i| r.try_get(i).ok().flatten()).collect())
                .collect(),
            Writer::Mysql(w) => w
                .query(
                    render::mysql::EXISTING_RECEIPT,
                    vec![mysql::param(&key_value)],
                )
                .await?
                .into_iter()
                .map(|mut r| {
                    (0..3)
                        .map(|i| {
                            r.take_opt::<Option<String>, _>(i)
                                .and_then(Result::ok)
                                .flatten()
                        })
                        .collect()
                })
                .collect(),
            Writer::Sqlite(w) => {
                w.query_strings(
                    render::sqlite::EXISTING_RECEIPT,
                    vec![sqlite::param(&key_value)],
                )
                .await?
            }
        };
        Ok(rows.into_iter().next().map(|mut r| {
            r.resize(3, None);
            let job_id = r.pop().flatten();
            let result_hash = r.pop().flatten();
            Receipt {
                status: r.pop().flatten().unwrap_or_default(),
                result_hash,
                job_id,
            }
        }))
    }

    /// Lock the target row and read the guard's columns (decoded like reads) and the stored
    /// version value.
    pub(super) async fn lock_row(
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

    /// The live columns of the target table, read on this connection inside the
    /// transaction: binding and comparing follow the table as it is now.
    pub(super) async fn columns(&mut self, u: &GuardedUpdate) -> Result<TableColumns, SourceError> {
        match self {
            Writer::Postgres(w) => {
                crate::columns::postgres(&w.client, &w.redactor, &u.schema, &u.table).await
            }
            Writer::Mysql(w) => {
                crate::columns::mysql(&mut w.conn, &w.redactor, &u.schema, &u.table).await
            }
            Writer::Sqlite(w) => {
                let (schema, table) = (u.schema.clone(), u.table.clone());
                w.run(move |c, r| crate::columns::sqlite(c, r, &schema, &table))
                    .await
            }
        }
    }

    /// Run the guarded UPDATE of `plan`; returns the affected (matched) rows. Parameters:
    /// the patch values, key, tenant, the version as read under the lock, then the values
    /// the row-hash guard compares.
    pub(super) async fn update(
        &mut self,
        u: &GuardedUpdate,
        p: &Prepared<'_>,
        native: Option<Native>,
        plan: &GuardPlan,
    ) -> Result<u64, SourceError> {
        let key = &u.primary_key.1;
        let tenant = p.tenant.1;
        match self {
            Writer::Postgres(w) => {
                let set: Vec<Value> = plan.set.iter().map(bind::pg).collect();
                let compare: Vec<Value> = plan.compare.iter().map(bind::pg).collect();
                let mut params: Vec<PgParam<'_>> = set.iter().map(PgParam::Json).collect();
                params.push(PgParam::Json(key));
                params.push(PgParam::Json(tenant));
                let version = match native {
                    Some(Native::Postgres(v)) => v,
                    _ => None,
                };
                if p.version.is_some() {
                    params.push(PgParam::Text(version.as_deref()));
                }
                params.extend(compare.iter().map(PgParam::Json));
                w.execute(&plan.sql, &params).await
            }
            Writer::Mysql(w) => {
                let mut params: Vec<mysql_async::Value> = plan.set.iter().map(bind::my).collect();
                params.push(mysql::param(key));
                params.push(mysql::param(tenant));
                if p.version.is_some() {
                    params.push(match native {
                        Some(Native::Mysql(v)) => v,
                        _ => mysql_async::Value::NULL,
                    });
                }
                params.extend(plan.compare.iter().map(bind::my));
                w.execute(&plan.sql, params).await
            }
            Writer::Sqlite(w) => {
                let mut params: Vec<rusqlite::types::Value> =
                    plan.set.iter().map(bind::lite).collect();
                params.push(sqlite::param(key));
                params.push(sqlite::param(tenant));
                if p.version.is_some() {
                    params.push(match native {
                        Some(Native::Sqlite(v)) => v,
                        _ => rusqlite::types::Value::Null,
                    });
                }
                params.extend(plan.compare.iter().map(bind::lite));
                w.execute(plan.sql.clone(), params).await
            }
        }
    }

    /// Record the outcome on the claimed receipt; anything but one row is an error.
    pub(super) async fn record(
        &mut self,
        status: &str,
        hash: &str,
        key: &str,
    ) -> Result<(), SourceError> {
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
            Err(SourceError::new(
                SourceErrorKind::QueryFailed,
                None,
                "IDEMPOTENCY_RECEIPT_UNAVAILABLE: the claimed receipt row is gone",
            ))
        }
    }
}
