//! SQLite: read-only file connections, the writer connection, parameters and decoding.
//!
//! Reads open the file with `SQLITE_OPEN_READ_ONLY`, so the engine itself refuses any write;
//! a progress handler interrupts a statement that outlives its deadline. rusqlite is
//! synchronous, so all work runs on tokio's blocking threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::types::{Value as Lite, ValueRef};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use sluicegate_core::call::ReadPlan;
use sluicegate_core::columns::{format_utc, parse_timestamp};
use sluicegate_core::evidence::Row;
use sluicegate_core::json::canonical;
use tokio::sync::oneshot::error::TryRecvError;

use crate::codes::{Stage, result_code_kind};
use crate::error::{EngineCode, Redactor, SourceError, SourceErrorKind, unavailable};
use crate::render::{self, Dialect, Projection, Select, Tail};
use crate::value;

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle read connections kept per source.
const IDLE_CONNECTIONS: usize = 4;

/// Virtual-machine steps between deadline checks: cheap, yet fine-grained enough that a
/// runaway statement stops within milliseconds of its deadline.
const PROGRESS_STEPS: i32 = 1000;

/// The file a SQLite URL names: `sqlite:///abs/path.db`, `sqlite:rel/path.db` or a plain path.
pub fn sqlite_path(url: &str) -> PathBuf {
    let url = url.trim();
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(path)
}

/// A JSON scalar as a SQLite value: text, integer (booleans as 0/1), real or NULL; arrays and
/// objects as their JSON text.
pub(crate) fn param(v: &Value) -> Lite {
    match v {
        Value::Null => Lite::Null,
        Value::Bool(b) => Lite::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Lite::Integer(i),
            None => Lite::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Lite::Text(s.clone()),
        other => Lite::Text(canonical(other)),
    }
}

/// Decode one value; `decl` is the column's declared type, which is how SQLite schemas say
/// "boolean" or "JSON".
pub(crate) fn decode(v: ValueRef<'_>, decl: Option<&str>) -> Value {
    let decl = decl.map(str::to_ascii_uppercase);
    let declared = |word: &str| decl.as_deref().is_some_and(|d| d.contains(word));
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i @ (0 | 1)) if declared("BOOL") => Value::Bool(i == 1),
        ValueRef::Integer(i) => value::int(i),
        ValueRef::Real(f) => value::float(f),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) if declared("JSON") => value::json_text(s),
            Ok(s) if declared("DATETIME") || declared("TIMESTAMP") => timestamp_text(s),
            Ok(s) => Value::String(s.to_string()),
            Err(_) => value::bytes(t),
        },
        ValueRef::Blob(b) => value::bytes(b),
    }
}

/// A timestamp column's text in the one form every engine reads: RFC 3339 UTC with
/// milliseconds (`2007-01-01 00:00:00` → `2007-01-01T00:00:00.000Z`). SQLite stores no zone,
/// so a zone-less text is read as UTC, as SQLite's own date functions read it; a text with
/// an offset is moved to UTC. Text that is not a timestamp, or that keeps more than
/// milliseconds (which SQLite's date functions cannot compare), stays as stored.
fn timestamp_text(s: &str) -> Value {
    let normalised = parse_timestamp(s)
        .filter(|t| t.fraction_digits <= 3)
        .and_then(|t| t.utc(Some(0)))
        .map(format_utc);
    Value::String(normalised.unwrap_or_else(|| s.to_string()))
}

/// Map a driver error raised while running a statement (or opening the file) to a
/// [`SourceError`]; see [`classify_prepare`] for errors of `prepare`.
pub(crate) fn classify(e: &rusqlite::Error, redactor: &Redactor) -> SourceError {
    classify_at(e, Stage::Run, redactor)
}

/// Map a driver error raised while preparing a statement to a [`SourceError`].
pub(crate) fn classify_prepare(e: &rusqlite::Error, redactor: &Redactor) -> SourceError {
    classify_at(e, Stage::Prepare, redactor)
}

fn classify_at(e: &rusqlite::Error, stage: Stage, redactor: &Redactor) -> SourceError {
    let extended = match e {
        rusqlite::Error::SqliteFailure(err, _)
        | rusqlite::Error::SqlInputError { error: err, .. } => Some(err.extended_code),
        _ => None,
    };
    let Some(extended) = extended else {
        // Not the engine's error: rusqlite could not convert a value or was misused.
        return SourceError::new(
            SourceErrorKind::QueryFailed,
            None,
            redactor.scrub(&e.to_string()),
        );
    };
    let kind = result_code_kind(extended, stage);
    // Opening failures get fixed text: the driver's names the file.
    let message = match (&kind, extended & 0xff) {
        (SourceErrorKind::Timeout, rusqlite::ffi::SQLITE_INTERRUPT) => {
            "the statement ran longer than statement_timeout_ms and was interrupted".to_string()
        }
        (SourceErrorKind::Timeout, _) => "the database stayed locked by another writer".to_string(),
        (SourceErrorKind::ConnectionFailed, _) => {
            "cannot open the database file named in the URL env var".to_string()
        }
        _ => redactor.scrub(&e.to_string()),
    };
    SourceError::new(kind, Some(EngineCode::Sqlite(extended)), message)
}

fn open(path: &Path, flags: OpenFlags, redactor: &Redactor) -> Result<Connection, SourceError> {
    let err = |e: rusqlite::Error| classify(&e, redactor);
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // By default SQLite reads a double-quoted name that matches no column as a string
    // literal, so a misspelt column would silently read (or guard on) its own name.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)
        .map_err(err)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DDL, false)
        .map_err(err)?;
    Ok(conn)
}

fn redactor_for(path: &Path) -> Redactor {
    Redactor::new([path.display().to_string()])
}

fn owned(v: ValueRef<'_>) -> Lite {
    match v {
        ValueRef::Null => Lite::Null,
        ValueRef::Integer(i) => Lite::Integer(i),
        ValueRef::Real(f) => Lite::Real(f),
        ValueRef::Text(t) => Lite::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Lite::Blob(b.to_vec()),
    }
}

/// Run `sql` with `params` and decode up to all returned rows with `names` as keys.
fn query_rows(
    conn: &Connection,
    sql: &str,
    params: &[Lite],
    names: &[&str],
    redactor: &Redactor,
) -> Result<Vec<(Row, Vec<Lite>)>, SourceError> {
    let err = |e: rusqlite::Error| classify(&e, redactor);
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| classify_prepare(&e, redactor))?;
    let decls: Vec<Option<String>> = stmt
        .columns()
        .map(|c| c.decl_type().map(str::to_string))
        .collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut decoded = Row::new();
        let mut raw = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let v = row.get_ref(i).map_err(err)?;
            decoded.insert(
                (*name).to_string(),
                decode(v, decls.get(i).and_then(|d| d.as_deref())),
            );
            raw.push(owned(v));
        }
        out.push((decoded, raw));
    }
    Ok(out)
}

/// How long a lone read's caller polls for the answer before it parks. A one-row read takes
/// microseconds, while waking a parked thread on an idle virtual CPU takes tens of them.
const READ_SPIN: Duration = Duration::from_micros(100);

/// Whether a read's caller polls for the answer before it parks: only when no other read of
/// this source is in flight and the caller knows of no other call of its process in progress.
/// Otherwise the poll would hold a CPU (and, on an async runtime's thread, every task queued
/// behind it) that the work in progress needs.
fn polls_first(reads_in_flight: usize, among_others: bool) -> bool {
    reads_in_flight == 0 && !among_others
}

/// Run `f` on one of tokio's blocking threads and wait for its answer (`None`: it panicked).
/// A lone caller ([`polls_first`]) polls for the answer for up to [`READ_SPIN`] before it
/// parks; otherwise it parks at once, leaving the CPU to the threads doing the work.
async fn on_blocking_thread<T: Send + 'static>(
    in_flight: &AtomicUsize,
    among_others: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    /// Counts one read in flight until dropped, even when the caller stops waiting.
    struct InFlight<'a>(&'a AtomicUsize);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let alone = polls_first(in_flight.fetch_add(1, Ordering::AcqRel), among_others);
    let _counted = InFlight(in_flight);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(f());
    });
    let start = Instant::now();
    while alone && start.elapsed() < READ_SPIN {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Closed) => return None,
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    rx.await.ok()
}

/// The read-only reader of one SQLite source: a few idle connections reused across calls.
pub(crate) struct LiteSource {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads handed to a blocking thread and not yet answered.
    reads: Arc<AtomicUsize>,
    timeout: Option<Duration>,
    pub(crate) redactor: Redactor,
}

impl LiteSource {
    pub(crate) fn new(url: &str, statement_timeout_ms: Option<u64>) -> LiteSource {
        let path = sqlite_path(url);
        let redactor = redactor_for(&path);
        LiteSource {
            path,
            idle: Mutex::new(Vec::new()),
            reads: Arc::new(AtomicUsize::new(0)),
            timeout: statement_timeout_ms.map(Duration::from_millis),
            redactor,
        }
    }

    fn take(&self) -> Result<Connection, SourceError> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        // Read-only at the engine: SQLite refuses every write on this connection, including
        // schema changes and journal mode switches, and never creates the file.
        open(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            &self.redactor,
        )
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_CONNECTIONS
        {
            idle.push(conn);
        }
    }

    /// Run `f` on a read connection with the statement deadline armed.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let mut conn = self.take()?;
        if let Some(timeout) = self.timeout {
            let deadline = Instant::now() + timeout;
            conn.progress_handler(PROGRESS_STEPS, Some(move || Instant::now() > deadline))
                .map_err(|e| classify(&e, &self.redactor))?;
        }
        let result = f(&conn);
        if self.timeout.is_some() {
            let _ = conn.progress_handler(PROGRESS_STEPS, None::<fn() -> bool>);
        }
        // A connection that failed for a reason other than the statement itself (or its
        // deadline) is not reused.
        let broken = result.as_ref().err().is_some_and(|e| {
            matches!(
                e.kind(),
                SourceErrorKind::ConnectionFailed | SourceErrorKind::AuthenticationFailed
            )
        });
        if !broken {
            self.give_back(conn);
        }
        result
    }

    /// Run the one-row read of `plan` on a blocking thread (`among_others`: other calls of
    /// this process are in progress, so the caller parks at once).
    pub(crate) async fn read(
        self: Arc<Self>,
        plan: &ReadPlan,
        among_others: bool,
    ) -> Result<Vec<Row>, SourceError> {
        let projections: Vec<Projection<'_>> =
            plan.columns.iter().map(|c| Projection::Column(c)).collect();
        let sql = render::select(
            Dialect::Sqlite,
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
                Some(t) => Lite::Text(t.clone()),
                None => Lite::Null,
            });
        }
        let names = plan.columns.clone();
        let this = self.clone();
        // On a blocking thread, never inline: a read may wait out another process's write lock
        // for the busy timeout, and a timeout around it must be able to fire.
        let reads = self.reads.clone();
        on_blocking_thread(&reads, among_others, move || {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            this.with_conn(|conn| query_rows(conn, &sql, &params, &names, &this.redactor))
                .map(|rows| rows.into_iter().map(|(row, _)| row).collect())
        })
        .await
        .ok_or_else(|| unavailable(SourceErrorKind::ConnectionFailed, "the read task failed"))?
    }

    /// Run `sql` as-is on a read connection (test hook: proves the connection is read-only
    /// at the engine).
    #[cfg(feature = "test-hooks")]
    pub(crate) async fn execute_raw(self: Arc<Self>, sql: &str) -> Result<(), SourceError> {
        let sql = sql.to_string();
        tokio::task::spawn_blocking(move || {
            self.with_conn(|conn| {
                conn.execute_batch(&sql)
                    .map_err(|e| classify(&e, &self.redactor))
            })
        })
        .await
        .map_err(|_| unavailable(SourceErrorKind::ConnectionFailed, "the task failed"))?
    }
}

/// A single writer connection for one guarded update or doctor probe. Operations run on
/// blocking threads; the connection is shared with them through a mutex.
pub(crate) struct LiteWriter {
    conn: Arc<Mutex<Connection>>,
    redactor: Redactor,
}

impl LiteWriter {
    /// Open the file read-write. It is never created: a typo in the URL must not produce an
    /// empty database that then "has no such table".
    pub(crate) async fn connect(url: &str) -> Result<LiteWriter, SourceError> {
        let path = sqlite_path(url);
        let redactor = redactor_for(&path);
        let r = redactor.clone();
        let conn = tokio::task::spawn_blocking(move || {
            open(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                &r,
            )
        })
        .await
        .map_err(|_| unavailable(SourceErrorKind::ConnectionFailed, "the open task failed"))??;
        Ok(LiteWriter {
            conn: Arc::new(Mutex::new(conn)),
            redactor,
        })
    }

    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Redactor) -> Result<T, SourceError> + Send + 'static,
    ) -> Result<T, SourceError> {
        let conn = self.conn.clone();
        let redactor = self.redactor.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| {
                unavailable(
                    SourceErrorKind::ConnectionFailed,
                    "the connection is poisoned",
                )
            })?;
            f(&conn, &redactor)
        })
        .await
        .map_err(|_| {
            unavailable(
                SourceErrorKind::ConnectionFailed,
                "the database task failed",
            )
        })?
    }

    /// Run fixed statement text (BEGIN IMMEDIATE, COMMIT, DDL).
    pub(crate) async fn batch(&self, sql: impl Into<String>) -> Result<(), SourceError> {
        let sql = sql.into();
        self.run(move |c, r| c.execute_batch(&sql).map_err(|e| classify(&e, r)))
            .await
    }

    /// Run a statement with parameters and return the number of changed rows.
    pub(crate) async fn execute(&self, sql: String, params: Vec<Lite>) -> Result<u64, SourceError> {
        self.run(move |c, r| {
            c.prepare(&sql)
                .map_err(|e| classify_prepare(&e, r))?
                .execute(rusqlite::params_from_iter(params.iter()))
                .map(|n| n as u64)
                .map_err(|e| classify(&e, r))
        })
        .await
    }

    /// Prepare and run one rendered statement that returns no rows (the doctor's probes), so
    /// a missing table or column is told apart from other failures.
    pub(crate) async fn probe(&self, sql: String) -> Result<(), SourceError> {
        self.run(move |c, r| {
            let mut stmt = c.prepare(&sql).map_err(|e| classify_prepare(&e, r))?;
            let mut rows = stmt.query([]).map_err(|e| classify(&e, r))?;
            rows.next().map_err(|e| classify(&e, r))?;
            Ok(())
        })
        .await
    }

    /// Run a query and return its rows as text-or-null values (receipts, version).
    pub(crate) async fn query_strings(
        &self,
        sql: &'static str,
        params: Vec<Lite>,
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        self.run(move |c, r| {
            let err = |e: rusqlite::Error| classify(&e, r);
            let mut stmt = c.prepare(sql).map_err(|e| classify_prepare(&e, r))?;
            let width = stmt.column_count();
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    values.push(match row.get_ref(i).map_err(err)? {
                        ValueRef::Null => None,
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Real(f) => Some(f.to_string()),
                        ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
                    });
                }
                out.push(values);
            }
            Ok(out)
        })
        .await
    }

    /// Read the row under the write lock: the decoded `names` columns, and the raw value of
    /// `version` (one of them) to bind back into the guarded UPDATE exactly as stored.
    pub(crate) async fn lock_row(
        &self,
        sql: String,
        names: Vec<String>,
        version: Option<String>,
        key: &Value,
        tenant: &Value,
    ) -> Result<Option<(Row, Option<Lite>)>, SourceError> {
        let params = vec![param(key), param(tenant)];
        self.run(move |c, r| {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut rows = query_rows(c, &sql, &params, &refs, r)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let (row, raw) = rows.swap_remove(0);
            let native = version
                .as_deref()
                .and_then(|v| refs.iter().position(|n| *n == v))
                .and_then(|i| raw.get(i).cloned());
            Ok(Some((row, native)))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_lone_read_polls_for_its_answer() {
        assert!(polls_first(0, false));
        assert!(
            !polls_first(0, true),
            "another call of the process is in progress"
        );
        assert!(
            !polls_first(1, false),
            "another read of this source is in flight"
        );
        assert!(!polls_first(3, true));
    }

    #[test]
    fn url_forms() {
        assert_eq!(
            sqlite_path("sqlite:///abs/path.db"),
            PathBuf::from("/abs/path.db")
        );
        assert_eq!(
            sqlite_path("sqlite:rel/path.db"),
            PathBuf::from("rel/path.db")
        );
        assert_eq!(sqlite_path("./plain.db"), PathBuf::from("./plain.db"));
        assert_eq!(sqlite_path(" /x/y.db "), PathBuf::from("/x/y.db"));
    }

    #[test]
    fn parameters_and_values() {
        assert_eq!(param(&json!(true)), Lite::Integer(1));
        assert_eq!(param(&json!(2.5)), Lite::Real(2.5));
        assert_eq!(param(&json!("a")), Lite::Text("a".into()));
        assert_eq!(param(&json!(null)), Lite::Null);
        assert_eq!(decode(ValueRef::Integer(1), Some("boolean")), json!(true));
        assert_eq!(decode(ValueRef::Integer(2), Some("BOOLEAN")), json!(2));
        assert_eq!(decode(ValueRef::Integer(1), Some("INTEGER")), json!(1));
        assert_eq!(
            decode(ValueRef::Text(b"[1,2]"), Some("JSON")),
            json!([1, 2])
        );
        assert_eq!(decode(ValueRef::Text(b"[1,2"), Some("json")), json!("[1,2"));
        assert_eq!(
            decode(ValueRef::Text(b"[1,2]"), Some("TEXT")),
            json!("[1,2]")
        );
        assert_eq!(decode(ValueRef::Blob(&[1, 2]), None), json!("\\x0102"));
        assert_eq!(
            decode(ValueRef::Integer(1 << 60), None),
            json!("1152921504606846976")
        );
    }
}
