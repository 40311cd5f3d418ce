//! The doctor's rollback-only writer probes (writeback.md §A.11): the receipt table can be used,
//! and a capability's target columns may be locked and updated. Business rows are never read,
//! locked or changed; every probe transaction is rolled back.

use serde_json::{Value, json};
use sluicegate_core::config::Engine;

use super::Writer;
use crate::error::SourceError;
use crate::mysql;
use crate::postgres::PgParam;
use crate::render::{self, Dialect};
use crate::sqlite;

/// Doctor probe for direct writeback (writeback.md §A.11): connect, read the server version,
/// make sure the receipt table exists (this may create it), and insert a probe receipt inside
/// a transaction that is always rolled back. Business rows are never touched.
///
/// An empty URL gives `{"ok": false, "details": {"error": …}}`; any failure is an `Err`
/// whose [`SourceError::category`] is safe to print.
pub async fn probe_writer(writer_url: &str, engine: Engine) -> Result<Value, SourceError> {
    if writer_url.trim().is_empty() {
        return Ok(json!({
            "ok": false,
            "details": {"error": "database URL required; set the writer URL env var of this source"}
        }));
    }
    let probe_key = format!(
        "doctor-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let mut w = Writer::connect(engine, writer_url).await?;
    let result = probe(&mut w, &probe_key).await;
    w.close().await;
    let version = result?;
    Ok(json!({
        "ok": true,
        "details": {
            "version": version,
            "receipt_table": "ready",
            "write_permission_rollback": true
        }
    }))
}

async fn probe(w: &mut Writer, probe_key: &str) -> Result<String, SourceError> {
    let key = Value::String(probe_key.to_string());
    let version = match w {
        Writer::Postgres(pg) => pg
            .query(render::postgres::SERVER_VERSION, &[])
            .await?
            .first()
            .and_then(|r| r.try_get::<_, String>(0).ok()),
        Writer::Mysql(my) => my
            .query(render::mysql::SERVER_VERSION, vec![])
            .await?
            .into_iter()
            .next()
            .and_then(|mut r| r.take_opt::<String, _>(0).and_then(Result::ok)),
        Writer::Sqlite(lite) => lite
            .query_strings(render::sqlite::SERVER_VERSION, vec![])
            .await?
            .into_iter()
            .next()
            .and_then(|mut r| r.pop().flatten()),
    }
    .unwrap_or_default();
    w.ensure_receipt_table().await?;
    w.begin().await?;
    let inserted = match w {
        Writer::Postgres(pg) => {
            pg.execute(render::postgres::PROBE_RECEIPT, &[PgParam::Json(&key)])
                .await
        }
        Writer::Mysql(my) => {
            my.execute(
                render::mysql::PROBE_RECEIPT,
                vec![mysql::param(&key), mysql::param(&key)],
            )
            .await
        }
        Writer::Sqlite(lite) => {
            lite.execute(
                render::sqlite::PROBE_RECEIPT.to_string(),
                vec![sqlite::param(&key), sqlite::param(&key)],
            )
            .await
        }
    };
    w.rollback().await;
    inserted?;
    Ok(version)
}

/// One capability's target table as the doctor checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetProbe {
    pub schema: String,
    pub table: String,
    /// Columns the writeback reads: primary key, tenant key, conflict column, visible columns.
    pub columns: Vec<String>,
    /// Columns the writeback may update (allowed and patch columns).
    pub writable: Vec<String>,
}

/// Doctor's rollback-only target probe (writeback.md §A.11): inside a transaction that is
/// always rolled back, `SELECT <columns> … WHERE false FOR UPDATE` and, per writable column,
/// `UPDATE … SET c = c WHERE false`. No row is read, locked or changed; missing tables or
/// columns and missing privileges surface as errors whose [`SourceError::category`] is
/// `configured object not found` or `permission denied`.
pub async fn probe_target(
    writer_url: &str,
    engine: Engine,
    target: &TargetProbe,
) -> Result<(), SourceError> {
    let d = Dialect::of(engine);
    let columns: Vec<&str> = target.columns.iter().map(String::as_str).collect();
    let mut statements = vec![render::probe_select(
        d,
        &target.schema,
        &target.table,
        &columns,
    )?];
    for c in &target.writable {
        statements.push(render::probe_update(d, &target.schema, &target.table, c)?);
    }
    if writer_url.trim().is_empty() {
        return Err(SourceError::CredentialMissing {
            env: "the writer URL env var".into(),
        });
    }
    let mut w = Writer::connect(engine, writer_url).await?;
    let result = async {
        w.begin().await?;
        for sql in &statements {
            let r = match &mut w {
                Writer::Postgres(pg) => pg.batch(sql).await,
                Writer::Mysql(my) => my.batch(sql).await,
                Writer::Sqlite(lite) => lite.batch(sql.clone()).await,
            };
            if let Err(e) = r {
                w.rollback().await;
                return Err(e);
            }
        }
        w.rollback().await;
        Ok(())
    }
    .await;
    w.close().await;
    result
}
