//! PostgreSQL: the pooled read-only reader, the writer connection, text-format parameters and
//! faithful decoding of result columns.
//!
//! Every parameter is sent in text format with an unspecified type check, so the server
//! infers the type from the statement exactly as it does for untyped literals: `"5"` compares
//! with an integer column and `"2026-06-20T14:31:08Z"` with a `timestamptz`.
//!
//! Result columns of common types are decoded from the binary format. For every other type
//! the statement is prepared once more with a `::text` cast (or `to_jsonb` for arrays) on that
//! column, and the rewritten statement is remembered per source, so the steady-state read is
//! a single cached-statement round trip.

use std::error::Error as StdError;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use chrono::{Datelike, NaiveDate, TimeDelta, Timelike};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use postgres_types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use serde_json::Value;
use sluicegate_core::call::ReadPlan;
use sluicegate_core::evidence::Row;
use sluicegate_core::json::{canonical, js_number};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::codes::sqlstate_kind;
use crate::error::{EngineCode, Redactor, SourceError, SourceErrorKind, unavailable};
use crate::render::{self, Dialect, Projection, Select, Tail, postgres as sql};
use crate::{tls, value};

/// How long to wait for a connection (TCP, TLS and authentication) when the URL sets no
/// `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pooled connections per source; reads are short, so a handful serve many agents.
const POOL_SIZE: usize = 4;

/// A parameter sent as text for the server to parse as whatever type it inferred.
#[derive(Debug)]
pub(crate) enum PgParam<'a> {
    /// A JSON scalar: numbers in ECMAScript form, booleans `true`/`false`, null as NULL.
    /// Arrays and objects are sent as their canonical JSON text (for json/jsonb columns).
    Json(&'a Value),
    /// Text as read from the database (the version column's native form); `None` is NULL.
    Text(Option<&'a str>),
}

impl ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let text: std::borrow::Cow<'_, str> = match self {
            PgParam::Json(Value::Null) | PgParam::Text(None) => return Ok(IsNull::Yes),
            PgParam::Json(Value::Bool(b)) => (if *b { "true" } else { "false" }).into(),
            PgParam::Json(Value::Number(n)) => js_number(n).into(),
            PgParam::Json(Value::String(s)) => s.as_str().into(),
            PgParam::Json(other) => canonical(other).into(),
            PgParam::Text(Some(s)) => (*s).into(),
        };
        out.put_slice(text.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// Type OIDs decoded natively from the binary format (pg_type.dat).
mod oid {
    pub const BOOL: u32 = 16;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const JSONB: u32 = 3802;
}

fn is_native(ty: &Type) -> bool {
    use oid::*;
    matches!(
        ty.oid(),
        BOOL | NAME
            | INT8
            | INT2
            | INT4
            | TEXT
            | OID
            | JSON
            | FLOAT4
            | FLOAT8
            | UNKNOWN
            | BPCHAR
            | VARCHAR
            | DATE
            | TIME
            | TIMESTAMP
            | TIMESTAMPTZ
            | JSONB
    )
}

/// How a column of type `ty` is selected so that it decodes faithfully.
fn projection_for<'a>(name: &'a str, ty: &Type) -> Projection<'a> {
    if is_native(ty) {
        Projection::Column(name)
    } else if matches!(ty.kind(), Kind::Array(_)) {
        Projection::Json(name)
    } else {
        // numeric, uuid, inet, enums, bytea (hex), interval, timetz, domains, …
        Projection::Text(name)
    }
}

/// One decoded result value.
pub(crate) struct Cell(pub Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, Box<dyn StdError + Sync + Send>> {
        decode(ty, raw).map(Cell)
    }

    fn from_sql_null(_ty: &Type) -> Result<Cell, Box<dyn StdError + Sync + Send>> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], Box<dyn StdError + Sync + Send>> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

/// PostgreSQL's epoch for dates and timestamps.
fn pg_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("invariant: 2000-01-01 is a valid date")
}

fn decode(ty: &Type, raw: &[u8]) -> Result<Value, Box<dyn StdError + Sync + Send>> {
    use oid::*;
    Ok(match ty.oid() {
        BOOL => Value::Bool(fixed::<1>(raw)?[0] != 0),
        INT2 => value::int(i16::from_be_bytes(fixed(raw)?).into()),
        INT4 => value::int(i32::from_be_bytes(fixed(raw)?).into()),
        INT8 => value::int(i64::from_be_bytes(fixed(raw)?)),
        OID => value::uint(u32::from_be_bytes(fixed(raw)?).into()),
        FLOAT4 => value::float32(f32::from_be_bytes(fixed(raw)?)),
        FLOAT8 => value::float(f64::from_be_bytes(fixed(raw)?)),
        JSON => serde_json::from_slice(raw)?,
        JSONB => match raw.split_first() {
            Some((1, json)) => serde_json::from_slice(json)?,
            _ => return Err("unsupported jsonb version".into()),
        },
        TIMESTAMP | TIMESTAMPTZ => {
            // Microseconds since 2000-01-01 00:00:00 UTC; `timestamp` (no zone) is read as UTC.
            let micros = i64::from_be_bytes(fixed(raw)?);
            match micros {
                i64::MAX => Value::String("infinity".into()),
                i64::MIN => Value::String("-infinity".into()),
                _ => {
                    let dt = pg_epoch()
                        .and_hms_opt(0, 0, 0)
                        .and_then(|e| e.checked_add_signed(TimeDelta::microseconds(micros)))
                        .ok_or("timestamp out of range")?;
                    Value::String(value::timestamp(
                        dt.year(),
                        dt.month(),
                        dt.day(),
                        dt.hour(),
                        dt.minute(),
                        dt.second(),
                        dt.nanosecond() / 1000,
                    ))
                }
            }
        }
        DATE => {
            let days = i32::from_be_bytes(fixed(raw)?);
            match days {
                i32::MAX => Value::String("infinity".into()),
                i32::MIN => Value::String("-infinity".into()),
                _ => {
                    let d = pg_epoch()
                        .checked_add_signed(TimeDelta::days(days.into()))
                        .ok_or("date out of range")?;
                    Value::String(value::date(d.year(), d.month(), d.day()))
                }
            }
        }
        TIME => {
            let micros = u64::try_from(i64::from_be_bytes(fixed(raw)?))?;
            let secs = micros / 1_000_000;
            Value::String(value::time_of_day(
                false,
                secs / 3600,
                ((secs / 60) % 60) as u32,
                (secs % 60) as u32,
                (micros % 1_000_000) as u32,
            ))
        }
        // text, varchar, bpchar, name, unknown, and every `::text` projection.
        _ => Value::String(std::str::from_utf8(raw)?.to_string()),
    })
}

/// Decode `rows` into JSON rows keyed by `names` (one name per leading column).
pub(crate) fn decode_rows(
    rows: &[tokio_postgres::Row],
    names: &[&str],
    redactor: &Redactor,
) -> Result<Vec<Row>, SourceError> {
    rows.iter()
        .map(|row| {
            let mut out = Row::new();
            for (i, name) in names.iter().enumerate() {
                let Cell(v) = row.try_get(i).map_err(|e| {
                    SourceError::new(
                        SourceErrorKind::QueryFailed,
                        None,
                        redactor.scrub(&format!("cannot decode column {name}: {e}")),
                    )
                })?;
                out.insert((*name).to_string(), v);
            }
            Ok(out)
        })
        .collect()
}

/// Map a driver error to a [`SourceError`]: the kind from the SQLSTATE, or, without a server
/// error, from the I/O failure underneath; the message safe to show.
pub(crate) fn classify(e: &tokio_postgres::Error, redactor: &Redactor) -> SourceError {
    if let Some(db) = e.as_db_error() {
        let sqlstate = db.code().code();
        let kind = sqlstate_kind(sqlstate);
        // Connection-level failures get fixed text: the server's own words can name the user
        // or the database.
        let message = match (&kind, sqlstate) {
            (_, "3D000") => "the database named in the URL does not exist".to_string(),
            (SourceErrorKind::AuthenticationFailed, _) => {
                "the server rejected the user or password in the URL env var".to_string()
            }
            (SourceErrorKind::Timeout, "57014") => {
                "the statement ran longer than statement_timeout_ms and was cancelled".to_string()
            }
            (SourceErrorKind::ConnectionFailed, _) => {
                "the server refused or ended the session".to_string()
            }
            _ => redactor.scrub(db.message()),
        };
        return SourceError::new(kind, EngineCode::sqlstate(sqlstate), message);
    }
    if crate::error::timed_out(e) {
        unavailable(
            SourceErrorKind::Timeout,
            "no answer from the server in time",
        )
    } else if e.is_closed() {
        unavailable(
            SourceErrorKind::ConnectionFailed,
            "the connection was closed",
        )
    } else {
        unavailable(
            SourceErrorKind::ConnectionFailed,
            &redactor.scrub(&crate::error::chain(e)),
        )
    }
}

/// A parsed URL: driver config, the scrubber for its secrets, and the TLS configuration when
/// the URL requires TLS (`sslmode=require`, `verify-ca` or `verify-full`).
struct ParsedUrl {
    config: tokio_postgres::Config,
    redactor: Redactor,
    tls: Option<MakeRustlsConnect>,
}

/// Parse `url` and keep the parts that must never appear in messages.
fn parse_url(url: &str) -> Result<ParsedUrl, SourceError> {
    let split = tls::split_url(url, "sslrootcert");
    let config = tokio_postgres::Config::from_str(split.url.expose()).map_err(|_| {
        unavailable(
            SourceErrorKind::ConnectionFailed,
            "the URL is not a valid postgres:// connection string",
        )
    })?;
    let mut parts: Vec<String> = Vec::new();
    parts.extend(config.get_user().map(str::to_string));
    parts.extend(
        config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    );
    for (i, host) in config.get_hosts().iter().enumerate() {
        let name = match host {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        if let Some(port) = config.get_ports().get(i).or(config.get_ports().first()) {
            parts.push(format!("{name}:{port}"));
        }
        parts.push(name);
    }
    // Without `require` the connection stays plain, as libpq's `prefer` would against a
    // server without TLS; a verified handshake is only attempted when the URL asks for it.
    let tls = match config.get_ssl_mode() {
        SslMode::Require => Some(MakeRustlsConnect::new(tls::client_config(
            split.ca_file.as_deref(),
        )?)),
        _ => None,
    };
    Ok(ParsedUrl {
        config,
        redactor: Redactor::new(parts),
        tls,
    })
}

fn with_connect_timeout(config: &mut tokio_postgres::Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
}

/// The pooled, read-only reader of one source.
pub(crate) struct PgSource {
    pool: Pool,
    /// The SELECT text actually run for each read shape (with casts where needed). A source
    /// serves a handful of capabilities, so a list compared field by field finds a shape
    /// without rendering its SELECT on every call.
    shapes: Mutex<Vec<(ShapeKey, Arc<str>)>>,
    pub(crate) redactor: Redactor,
}

/// Everything a read's SELECT text depends on.
#[derive(Debug)]
struct ShapeKey {
    schema: String,
    table: String,
    columns: Vec<String>,
    key: String,
    tenant: Option<String>,
    limit: u64,
}

impl ShapeKey {
    fn of(plan: &ReadPlan) -> ShapeKey {
        ShapeKey {
            schema: plan.schema.clone(),
            table: plan.table.clone(),
            columns: plan.columns.clone(),
            key: plan.primary_key.clone(),
            tenant: plan.tenant_column.clone(),
            limit: plan.limit,
        }
    }

    fn matches(&self, plan: &ReadPlan) -> bool {
        self.schema == plan.schema
            && self.table == plan.table
            && self.columns == plan.columns
            && self.key == plan.primary_key
            && self.tenant == plan.tenant_column
            && self.limit == plan.limit
    }
}

impl PgSource {
    /// Build the pool; no connection is made until the first read.
    pub(crate) fn new(
        url: &str,
        statement_timeout_ms: Option<u64>,
    ) -> Result<PgSource, SourceError> {
        let ParsedUrl {
            mut config,
            redactor,
            tls,
        } = parse_url(url)?;
        let options = sql::read_options(config.get_options(), statement_timeout_ms);
        config.options(options);
        with_connect_timeout(&mut config);
        // Checking a connection with a query would double the round trips of a read; a
        // broken connection surfaces as an error on use instead.
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, tls, manager_config()),
            None => Manager::from_config(config, NoTls, manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(1)))
            .build()
            .map_err(|_| {
                unavailable(
                    SourceErrorKind::ConnectionFailed,
                    "cannot build the connection pool",
                )
            })?;
        Ok(PgSource {
            pool,
            shapes: Mutex::new(Vec::new()),
            redactor,
        })
    }

    fn pool_error(&self, e: PoolError) -> SourceError {
        match e {
            PoolError::Backend(e) => classify(&e, &self.redactor),
            PoolError::Timeout(_) => unavailable(
                SourceErrorKind::Timeout,
                "no connection to the server in time",
            ),
            _ => unavailable(
                SourceErrorKind::ConnectionFailed,
                "the connection pool is unavailable",
            ),
        }
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, SourceError> {
        self.pool.get().await.map_err(|e| self.pool_error(e))
    }

    /// Run the one-row read of `plan`.
    pub(crate) async fn read(&self, plan: &ReadPlan) -> Result<Vec<Row>, SourceError> {
        let client = self.client().await?;
        let names: Vec<&str> = plan.columns.iter().map(String::as_str).collect();
        let plain: Vec<Projection<'_>> = names.iter().map(|c| Projection::Column(c)).collect();
        let spec = Select {
            schema: &plan.schema,
            table: &plan.table,
            projections: &plain,
            key: &plan.primary_key,
            tenant: plan.tenant_column.as_deref(),
            tail: Tail::Limit(plan.limit),
        };
        let cached = self.shapes.lock().ok().and_then(|shapes| {
            shapes
                .iter()
                .find(|(key, _)| key.matches(plan))
                .map(|(_, sql)| sql.clone())
        });
        let sql = match cached {
            Some(sql) => sql,
            None => {
                let sql: Arc<str> = shape(&client, &spec, &self.redactor).await?.into();
                if let Ok(mut shapes) = self.shapes.lock()
                    && !shapes.iter().any(|(key, _)| key.matches(plan))
                {
                    shapes.push((ShapeKey::of(plan), sql.clone()));
                }
                sql
            }
        };
        let tenant = plan.tenant_value.as_deref();
        let lookup = PgParam::Json(&plan.lookup_value);
        let tenant_param = PgParam::Text(tenant);
        let params: Vec<&(dyn ToSql + Sync)> = if plan.tenant_column.is_some() {
            vec![&lookup, &tenant_param]
        } else {
            vec![&lookup]
        };
        let stmt = client
            .prepare_cached(&sql)
            .await
            .map_err(|e| classify(&e, &self.redactor))?;
        let rows = match client.query(&stmt, &params).await {
            Ok(rows) => rows,
            Err(e) => {
                // A table altered since the statement was cached answers "cached plan must
                // not change result type": forget every cached shape so the next read
                // inspects the table again.
                if e.code() == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED) {
                    if let Ok(mut m) = self.shapes.lock() {
                        m.clear();
                    }
                    self.pool.manager().statement_caches.clear();
                }
                return Err(classify(&e, &self.redactor));
            }
        };
        decode_rows(&rows, &names, &self.redactor)
    }

    /// Run a prepared `sql` on a pooled read connection and count its rows (bench hook: the
    /// bare query, on the connection reads use).
    #[cfg(feature = "test-hooks")]
    pub(crate) async fn bare_query(
        &self,
        sql: &str,
        params: &[&str],
    ) -> Result<usize, SourceError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| classify(&e, &self.redactor))?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = client
            .query(&stmt, &refs)
            .await
            .map_err(|e| classify(&e, &self.redactor))?;
        Ok(rows.len())
    }

    /// Run `sql` as-is on a pooled read connection (test hook: proves the session is
    /// read-only at the engine).
    #[cfg(feature = "test-hooks")]
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<(), SourceError> {
        let client = self.client().await?;
        client
            .batch_execute(sql)
            .await
            .map_err(|e| classify(&e, &self.redactor))
    }
}

/// Prepare `spec` once to learn its column types, and return the SELECT text whose columns
/// all decode faithfully (the same text when no column needs a cast).
async fn shape(
    client: &Client,
    spec: &Select<'_>,
    redactor: &Redactor,
) -> Result<String, SourceError> {
    let projections = shaped_projections(client, spec, redactor).await?;
    render::select(
        Dialect::Postgres,
        &Select {
            projections: &projections,
            ..spec.clone()
        },
    )
}

/// Run a writer connection until its client is dropped.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!(
            closed = e.is_closed(),
            "writer connection ended with an error"
        );
    }
}

/// A single writer connection for one guarded update or doctor probe.
pub(crate) struct PgWriter {
    pub(crate) client: Client,
    pub(crate) redactor: Redactor,
}

impl PgWriter {
    pub(crate) async fn connect(url: &str) -> Result<PgWriter, SourceError> {
        let ParsedUrl {
            mut config,
            redactor,
            tls,
        } = parse_url(url)?;
        let options = sql::write_options(config.get_options());
        config.options(options);
        with_connect_timeout(&mut config);
        let failed = |e: tokio_postgres::Error| classify(&e, &redactor);
        let client = match tls {
            Some(tls) => {
                let (client, connection) = config.connect(tls).await.map_err(failed)?;
                tokio::spawn(drive(connection));
                client
            }
            None => {
                let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
                tokio::spawn(drive(connection));
                client
            }
        };
        Ok(PgWriter { client, redactor })
    }

    fn err(&self, e: &tokio_postgres::Error) -> SourceError {
        classify(e, &self.redactor)
    }

    /// Run fixed statement text (BEGIN, COMMIT, DDL).
    pub(crate) async fn batch(&self, sql: &str) -> Result<(), SourceError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| self.err(&e))
    }

    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: &[PgParam<'_>],
    ) -> Result<u64, SourceError> {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client
            .execute(sql, &refs)
            .await
            .map_err(|e| self.err(&e))
    }

    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[PgParam<'_>],
    ) -> Result<Vec<tokio_postgres::Row>, SourceError> {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client
            .query(sql, &refs)
            .await
            .map_err(|e| self.err(&e))
    }

    /// Read the locked row: the decoded `spec` columns, then (when `version` is set) that
    /// column's text exactly as stored, to bind back into the guarded UPDATE.
    pub(crate) async fn lock_row(
        &self,
        spec: &Select<'_>,
        names: &[&str],
        version: Option<&str>,
        key: &Value,
        tenant: &Value,
    ) -> Result<Option<(Row, Option<String>)>, SourceError> {
        let mut projections = shaped_projections(&self.client, spec, &self.redactor).await?;
        let decoded = projections.len();
        if let Some(v) = version {
            projections.push(Projection::VersionText(v));
        }
        let sql = render::select(
            Dialect::Postgres,
            &Select {
                projections: &projections,
                ..spec.clone()
            },
        )?;
        let rows = self
            .query(&sql, &[PgParam::Json(key), PgParam::Json(tenant)])
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let row = decode_rows(std::slice::from_ref(first), names, &self.redactor)?
            .pop()
            .unwrap_or_default();
        let native = match version {
            Some(_) => first.try_get::<_, Option<String>>(decoded).map_err(|e| {
                SourceError::new(
                    SourceErrorKind::QueryFailed,
                    None,
                    self.redactor.scrub(&e.to_string()),
                )
            })?,
            None => None,
        };
        Ok(Some((row, native)))
    }
}

/// The projections of `spec` with the casts its column types need.
async fn shaped_projections<'a>(
    client: &Client,
    spec: &Select<'a>,
    redactor: &Redactor,
) -> Result<Vec<Projection<'a>>, SourceError> {
    let probe_sql = render::select(Dialect::Postgres, spec)?;
    let probe = client
        .prepare(&probe_sql)
        .await
        .map_err(|e| classify(&e, redactor))?;
    Ok(spec
        .projections
        .iter()
        .zip(probe.columns())
        .map(|(p, col)| match *p {
            Projection::Column(name) => projection_for(name, col.type_()),
            other => other,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(p: PgParam<'_>) -> Option<String> {
        let mut buf = BytesMut::new();
        match p.to_sql(&Type::TEXT, &mut buf) {
            Ok(IsNull::Yes) => None,
            Ok(IsNull::No) => Some(String::from_utf8(buf.to_vec()).expect("utf8")),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parameters_are_text() {
        assert_eq!(text(PgParam::Json(&json!(5500))), Some("5500".into()));
        assert_eq!(text(PgParam::Json(&json!(5500.0))), Some("5500".into()));
        assert_eq!(text(PgParam::Json(&json!(0.5))), Some("0.5".into()));
        assert_eq!(text(PgParam::Json(&json!(true))), Some("true".into()));
        assert_eq!(text(PgParam::Json(&json!(null))), None);
        assert_eq!(
            text(PgParam::Json(&json!("INV-1' OR '1'='1"))),
            Some("INV-1' OR '1'='1".into())
        );
        assert_eq!(
            text(PgParam::Json(&json!({"a": [1]}))),
            Some(r#"{"a":[1]}"#.into())
        );
        assert_eq!(text(PgParam::Text(None)), None);
        assert!(matches!(
            PgParam::Json(&json!(1)).encode_format(&Type::INT4),
            Format::Text
        ));
        assert!(<PgParam<'_> as ToSql>::accepts(&Type::UUID));
    }

    #[test]
    fn binary_decoding() {
        let d = |ty: &Type, raw: &[u8]| decode(ty, raw).expect("decodes");
        assert_eq!(d(&Type::BOOL, &[1]), json!(true));
        assert_eq!(
            d(&Type::INT8, &(1_i64 << 60).to_be_bytes()),
            json!("1152921504606846976")
        );
        assert_eq!(
            d(&Type::TIMESTAMPTZ, &0_i64.to_be_bytes()),
            json!("2000-01-01T00:00:00.000Z")
        );
        assert_eq!(
            d(&Type::TIMESTAMP, &1_i64.to_be_bytes()),
            json!("2000-01-01T00:00:00.000001Z")
        );
        assert_eq!(
            d(&Type::TIMESTAMP, &i64::MAX.to_be_bytes()),
            json!("infinity")
        );
        assert_eq!(d(&Type::DATE, &(-1_i32).to_be_bytes()), json!("1999-12-31"));
        assert_eq!(
            d(&Type::TIME, &86_400_000_000_i64.to_be_bytes()),
            json!("24:00:00")
        );
        assert_eq!(d(&Type::JSONB, b"\x01{\"a\":1}"), json!({"a": 1}));
        assert!(decode(&Type::INT4, &[0, 1]).is_err());
    }

    #[test]
    fn projections_by_type() {
        assert_eq!(projection_for("a", &Type::INT4), Projection::Column("a"));
        assert_eq!(projection_for("a", &Type::NUMERIC), Projection::Text("a"));
        assert_eq!(projection_for("a", &Type::UUID), Projection::Text("a"));
        assert_eq!(
            projection_for("a", &Type::INT4_ARRAY),
            Projection::Json("a")
        );
        assert_eq!(projection_for("a", &Type::BYTEA), Projection::Text("a"));
    }
}
