//! MySQL / MariaDB: the pooled read-only reader, the writer connection, parameter conversion
//! and faithful decoding of binary-protocol values.
//!
//! Read connections are made read-only at the engine (`SET SESSION TRANSACTION READ ONLY`)
//! and switched to UTC when they are opened. The pool does not reset connections when they
//! are returned, because a reset would wipe those session settings; nothing but the reads of
//! this crate ever runs on them.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Column, Conn, Opts, OptsBuilder, Pool};
use serde_json::Value;
use sluicegate_core::call::ReadPlan;
use sluicegate_core::evidence::Row;
use sluicegate_core::json::canonical;

use crate::codes::server_code_kind;
use crate::error::{EngineCode, Redactor, SourceError, SourceErrorKind, unavailable};
use crate::render::{self, Dialect, Projection, Select, Tail, mysql as sql};
use crate::{tls, value};

/// How long to wait for a connection when none is idle.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `binary` collation id: string columns with it hold bytes, not text.
const BINARY_CHARSET: u16 = 63;

/// A JSON scalar as a MySQL parameter: strings as bytes, integers as integers, floats as
/// doubles, booleans as 0/1, null as NULL; arrays and objects as their JSON text.
pub(crate) fn param(v: &Value) -> mysql_async::Value {
    use mysql_async::Value as M;
    match v {
        Value::Null => M::NULL,
        Value::Bool(b) => M::Int(i64::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                M::Int(i)
            } else if let Some(u) = n.as_u64() {
                M::UInt(u)
            } else {
                M::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => M::Bytes(s.as_bytes().to_vec()),
        other => M::Bytes(canonical(other).into_bytes()),
    }
}

/// Whether values of `col` are text that might be a MariaDB JSON column (LONGTEXT).
fn is_text_blob(col: &Column) -> bool {
    matches!(
        col.column_type(),
        ColumnType::MYSQL_TYPE_BLOB
            | ColumnType::MYSQL_TYPE_TINY_BLOB
            | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
            | ColumnType::MYSQL_TYPE_LONG_BLOB
    ) && col.character_set() != BINARY_CHARSET
}

/// Decode one binary-protocol value of column `col`. `json_columns` names the text columns
/// known to hold JSON (MariaDB).
pub(crate) fn decode(v: mysql_async::Value, col: &Column, json_columns: &HashSet<String>) -> Value {
    use mysql_async::Value as M;
    let ty = col.column_type();
    match v {
        M::NULL => Value::Null,
        // TINYINT(1) is how both engines spell BOOLEAN.
        M::Int(i @ (0 | 1)) if ty == ColumnType::MYSQL_TYPE_TINY && col.column_length() == 1 => {
            Value::Bool(i == 1)
        }
        M::UInt(u @ (0 | 1)) if ty == ColumnType::MYSQL_TYPE_TINY && col.column_length() == 1 => {
            Value::Bool(u == 1)
        }
        M::Int(i) => value::int(i),
        M::UInt(u) => value::uint(u),
        M::Float(f) => value::float32(f),
        M::Double(d) => value::float(d),
        M::Date(y, mo, d, h, mi, s, us) => {
            if matches!(
                ty,
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE
            ) {
                Value::String(value::date(y.into(), mo.into(), d.into()))
            } else {
                // DATETIME is read as UTC; TIMESTAMP arrives in the session zone, which is UTC.
                Value::String(value::timestamp(
                    y.into(),
                    mo.into(),
                    d.into(),
                    h.into(),
                    mi.into(),
                    s.into(),
                    us,
                ))
            }
        }
        M::Time(negative, days, h, mi, s, us) => Value::String(value::time_of_day(
            negative,
            u64::from(days) * 24 + u64::from(h),
            mi.into(),
            s.into(),
            us,
        )),
        M::Bytes(b) => match ty {
            ColumnType::MYSQL_TYPE_JSON => match std::str::from_utf8(&b) {
                Ok(text) => value::json_text(text),
                Err(_) => value::bytes(&b),
            },
            ColumnType::MYSQL_TYPE_BIT if b.len() <= 8 => value::uint(
                b.iter()
                    .fold(0_u64, |acc, byte| (acc << 8) | u64::from(*byte)),
            ),
            ColumnType::MYSQL_TYPE_GEOMETRY => value::bytes(&b),
            _ if col.character_set() == BINARY_CHARSET
                && !matches!(
                    ty,
                    ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL
                ) =>
            {
                value::bytes(&b)
            }
            // DECIMAL keeps its exact text; strings, ENUM and SET are their text.
            _ => match String::from_utf8(b) {
                Ok(text)
                    if is_text_blob(col) && json_columns.contains(col.org_name_str().as_ref()) =>
                {
                    value::json_text(&text)
                }
                Ok(text) => Value::String(text),
                Err(e) => value::bytes(e.as_bytes()),
            },
        },
    }
}

/// Map a driver error to a [`SourceError`]: the kind from the server's error number, or from
/// the client-side failure; the message safe to show.
pub(crate) fn classify(e: &mysql_async::Error, redactor: &Redactor) -> SourceError {
    match e {
        mysql_async::Error::Server(s) => {
            let kind = server_code_kind(s.code);
            // Connection-level failures get fixed text: the server's own words name the user
            // and the host (`Access denied for user 'x'@'host'`).
            let message = match (&kind, s.code) {
                (_, 1049) => "the database named in the URL does not exist".to_string(),
                (SourceErrorKind::AuthenticationFailed, _) => {
                    "the server rejected the user or password in the URL env var".to_string()
                }
                (SourceErrorKind::Timeout, 3024 | 1969) => {
                    "the statement ran longer than statement_timeout_ms and was cancelled"
                        .to_string()
                }
                (SourceErrorKind::ConnectionFailed, _) => {
                    "the server refused the connection".to_string()
                }
                _ => redactor.scrub(&s.message),
            };
            SourceError::new(kind, Some(EngineCode::MySql(s.code)), message)
        }
        mysql_async::Error::Url(_) => unavailable(
            SourceErrorKind::ConnectionFailed,
            "the URL is not a valid mysql:// connection string",
        ),
        mysql_async::Error::Io(io) => {
            if crate::error::timed_out(io) {
                unavailable(
                    SourceErrorKind::Timeout,
                    "no answer from the server in time",
                )
            } else {
                unavailable(
                    SourceErrorKind::ConnectionFailed,
                    &redactor.scrub(&io.to_string()),
                )
            }
        }
        mysql_async::Error::Driver(d) => unavailable(
            SourceErrorKind::ConnectionFailed,
            &redactor.scrub(&d.to_string()),
        ),
        mysql_async::Error::Other(_) => {
            unavailable(SourceErrorKind::ConnectionFailed, "the driver failed")
        }
    }
}

/// Parse `url` (taking out our `ssl_ca=<path>` parameter, which names a CA file and implies
/// TLS) and keep the parts that must never appear in messages.
fn parse_url(url: &str) -> Result<(Opts, Redactor), SourceError> {
    tls::ensure_default_provider();
    let split = tls::split_url(url, "ssl_ca");
    let invalid = || {
        unavailable(
            SourceErrorKind::ConnectionFailed,
            "the URL is not a valid mysql:// connection string",
        )
    };
    let mut opts = Opts::from_url(split.url.expose()).map_err(|_| invalid())?;
    if let Some(ca) = split.ca_file {
        let ssl = opts
            .ssl_opts()
            .cloned()
            .unwrap_or_default()
            .with_root_certs(vec![ca.into()]);
        opts = OptsBuilder::from_opts(opts).ssl_opts(ssl).into();
    }
    let host = opts.ip_or_hostname().to_string();
    let mut parts = vec![format!("{host}:{}", opts.tcp_port()), host];
    parts.extend(opts.user().map(str::to_string));
    parts.extend(opts.pass().map(str::to_string));
    Ok((opts, Redactor::new(parts)))
}

/// Names of the text columns of one table that hold JSON.
type JsonColumns = Arc<HashSet<String>>;

type SetupFuture<'a> = Pin<Box<dyn Future<Output = mysql_async::Result<()>> + Send + 'a>>;

/// The pooled, read-only reader of one source.
pub(crate) struct MySource {
    pool: Pool,
    /// `(schema, table)` → text columns holding JSON (MariaDB check constraints).
    json_columns: Mutex<HashMap<(String, String), JsonColumns>>,
    pub(crate) redactor: Redactor,
}

impl MySource {
    /// Build the pool; no connection is made until the first read.
    pub(crate) fn new(
        url: &str,
        statement_timeout_ms: Option<u64>,
    ) -> Result<MySource, SourceError> {
        let (opts, redactor) = parse_url(url)?;
        let pool_opts = opts.pool_opts().clone().with_reset_connection(false);
        let builder = OptsBuilder::from_opts(opts)
            // Skips the extra round trip that looks for a local socket.
            .prefer_socket(false)
            .pool_opts(pool_opts)
            .setup(vec![sql::SESSION_READ_ONLY, sql::SESSION_UTC])
            .after_connect(move |conn: &mut Conn| -> SetupFuture<'_> {
                Box::pin(async move {
                    if let Some(ms) = statement_timeout_ms {
                        // MySQL knows max_execution_time, MariaDB max_statement_time:
                        // try both and keep whichever the server accepts.
                        if conn.query_drop(sql::max_execution_time(ms)).await.is_err()
                            && conn.query_drop(sql::max_statement_time(ms)).await.is_err()
                        {
                            tracing::warn!("the server accepts no statement timeout setting");
                        }
                    }
                    Ok(())
                })
            });
        Ok(MySource {
            pool: Pool::new(builder),
            json_columns: Mutex::new(HashMap::new()),
            redactor,
        })
    }

    pub(crate) async fn conn(&self) -> Result<Conn, SourceError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(classify(&e, &self.redactor)),
            Err(_) => Err(unavailable(
                SourceErrorKind::Timeout,
                "no connection to the server in time",
            )),
        }
    }

    /// Run the one-row read of `plan`.
    pub(crate) async fn read(&self, plan: &ReadPlan) -> Result<Vec<Row>, SourceError> {
        let projections: Vec<Projection<'_>> =
            plan.columns.iter().map(|c| Projection::Column(c)).collect();
        let sql = render::select(
            Dialect::Mysql,
            &Select {
                schema: &plan.schema,
                table: &plan.table,
                projections: &projections,
                key: &plan.primary_key,
                tenant: plan.tenant_column.as_deref(),
                tail: Tail::Limit(plan.limit),
            },
        )?;
        let mut params = vec![param(&plan.lookup_value)];
        if plan.tenant_column.is_some() {
            params.push(match &plan.tenant_value {
                Some(t) => mysql_async::Value::Bytes(t.as_bytes().to_vec()),
                None => mysql_async::Value::NULL,
            });
        }
        let mut conn = self.conn().await?;
        let rows: Vec<mysql_async::Row> = conn
            .exec(sql, params)
            .await
            .map_err(|e| classify(&e, &self.redactor))?;
        let json = match rows.first() {
            Some(r) if r.columns_ref().iter().any(is_text_blob) => {
                self.json_columns_of(&mut conn, &plan.schema, &plan.table)
                    .await
            }
            _ => Arc::new(HashSet::new()),
        };
        Ok(decode_rows(rows, &plan.columns, &json))
    }

    async fn json_columns_of(
        &self,
        conn: &mut Conn,
        schema: &str,
        table: &str,
    ) -> Arc<HashSet<String>> {
        let key = (schema.to_string(), table.to_string());
        if let Some(found) = self
            .json_columns
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return found;
        }
        let found = Arc::new(json_columns(conn, schema, table).await);
        if let Ok(mut m) = self.json_columns.lock() {
            m.insert(key, found.clone());
        }
        found
    }

    /// Run `sql` as-is on a pooled read connection (test hook: proves the session is
    /// read-only at the engine).
    #[cfg(feature = "test-hooks")]
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<(), SourceError> {
        let mut conn = self.conn().await?;
        conn.query_drop(sql)
            .await
            .map_err(|e| classify(&e, &self.redactor))
    }
}

/// Text columns of `schema.table` that MariaDB declared as JSON. Empty when the server has no
/// such metadata (MySQL, whose JSON type is recognised from the column type instead).
pub(crate) async fn json_columns(conn: &mut Conn, schema: &str, table: &str) -> HashSet<String> {
    let clauses: Vec<String> = conn
        .exec(sql::JSON_CHECKS, (schema, table))
        .await
        .unwrap_or_default();
    clauses
        .iter()
        .filter_map(|c| sql::json_check_column(c))
        .map(str::to_string)
        .collect()
}

/// Decode rows into JSON rows keyed by `names` (one name per leading column).
pub(crate) fn decode_rows<S: AsRef<str>>(
    rows: Vec<mysql_async::Row>,
    names: &[S],
    json: &HashSet<String>,
) -> Vec<Row> {
    rows.into_iter()
        .map(|row| {
            let columns = row.columns();
            let values = row.unwrap();
            let mut out = Row::new();
            for ((name, v), col) in names.iter().zip(values).zip(columns.iter()) {
                out.insert(name.as_ref().to_string(), decode(v, col, json));
            }
            out
        })
        .collect()
}

/// A single writer connection for one guarded update or doctor probe. It reports matched
/// rows as affected (`CLIENT_FOUND_ROWS`), so an UPDATE that writes identical values still
/// counts as the one row it guards.
pub(crate) struct MyWriter {
    pub(crate) conn: Conn,
    pub(crate) redactor: Redactor,
}

impl MyWriter {
    pub(crate) async fn connect(url: &str) -> Result<MyWriter, SourceError> {
        let (opts, redactor) = parse_url(url)?;
        let builder = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .client_found_rows(true)
            .init(vec![sql::SESSION_UTC]);
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(builder)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(classify(&e, &redactor)),
            Err(_) => {
                return Err(unavailable(
                    SourceErrorKind::Timeout,
                    "no connection to the server in time",
                ));
            }
        };
        Ok(MyWriter { conn, redactor })
    }

    pub(crate) fn err(&self, e: &mysql_async::Error) -> SourceError {
        classify(e, &self.redactor)
    }

    /// Run fixed statement text (START TRANSACTION, COMMIT, DDL).
    pub(crate) async fn batch(&mut self, sql: &str) -> Result<(), SourceError> {
        let r = self.conn.query_drop(sql).await;
        r.map_err(|e| self.err(&e))
    }

    /// Run a statement with parameters and return the affected (matched) rows.
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        params: Vec<mysql_async::Value>,
    ) -> Result<u64, SourceError> {
        let r = self.conn.exec_drop(sql, params).await;
        r.map_err(|e| self.err(&e))?;
        Ok(self.conn.affected_rows())
    }

    pub(crate) async fn query(
        &mut self,
        sql: &str,
        params: Vec<mysql_async::Value>,
    ) -> Result<Vec<mysql_async::Row>, SourceError> {
        let r = self.conn.exec(sql, params).await;
        r.map_err(|e| self.err(&e))
    }

    /// Read the locked row: the decoded `names` columns, and the raw value of `version` (one
    /// of them) to bind back into the guarded UPDATE exactly as stored.
    pub(crate) async fn lock_row(
        &mut self,
        sql: &str,
        (schema, table): (&str, &str),
        names: &[&str],
        version: Option<&str>,
        key: &Value,
        tenant: &Value,
    ) -> Result<Option<(Row, Option<mysql_async::Value>)>, SourceError> {
        let rows = self.query(sql, vec![param(key), param(tenant)]).await?;
        let Some(first) = rows.into_iter().next() else {
            return Ok(None);
        };
        let native = version
            .and_then(|v| names.iter().position(|n| *n == v))
            .and_then(|i| first.as_ref(i).cloned());
        let json = if first.columns_ref().iter().any(is_text_blob) {
            json_columns(&mut self.conn, schema, table).await
        } else {
            HashSet::new()
        };
        let row = decode_rows(vec![first], names, &json)
            .pop()
            .unwrap_or_default();
        Ok(Some((row, native)))
    }

    pub(crate) async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::Value as M;
    use serde_json::json;

    #[test]
    fn parameters_keep_their_kind() {
        assert_eq!(param(&json!("INV-1")), M::Bytes(b"INV-1".to_vec()));
        assert_eq!(param(&json!(7)), M::Int(7));
        assert_eq!(param(&json!(u64::MAX)), M::UInt(u64::MAX));
        assert_eq!(param(&json!(0.5)), M::Double(0.5));
        assert_eq!(param(&json!(true)), M::Int(1));
        assert_eq!(param(&json!(null)), M::NULL);
        assert_eq!(param(&json!([1, "a"])), M::Bytes(br#"[1,"a"]"#.to_vec()));
    }
}
