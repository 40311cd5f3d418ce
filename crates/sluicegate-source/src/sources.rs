//! [`Sources`]: the read side. One lazily created, reused connection pool per configured
//! source, and the one-row read of a [`ReadPlan`] on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluicegate_core::call::ReadPlan;
use sluicegate_core::columns::TableColumns;
use sluicegate_core::config::{Config, Engine, Source};
use sluicegate_core::evidence::Row;
use sluicegate_core::secrets::Secret;
use tokio::sync::OnceCell;

use crate::error::{SourceError, SourceErrorKind, unavailable, unknown_source};
use crate::mysql::MySource;
use crate::postgres::PgSource;
use crate::sqlite::LiteSource;

/// Resolves env var names to values. The config only names env vars; URLs are looked up
/// when a pool is first needed and never stored anywhere else.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Extra time on top of the statement timeout before a read is abandoned client-side, for
/// connecting and for servers that do not enforce the timeout themselves.
const CLIENT_GRACE: Duration = Duration::from_secs(10);

enum Pool {
    Postgres(PgSource),
    Mysql(MySource),
    Sqlite(Arc<LiteSource>),
}

struct Entry {
    source: Source,
    pool: OnceCell<Pool>,
    /// `(schema, table)` → its columns, read once from the catalog.
    columns: Mutex<HashMap<(String, String), Arc<TableColumns>>>,
}

/// Connection pools per source, created lazily on first use and reused across calls.
/// `Send + Sync`; share it behind an `Arc`.
pub struct Sources {
    entries: HashMap<String, Entry>,
    env: EnvLookup,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: URLs never reach Debug output.
        let mut names: Vec<&String> = self.entries.keys().collect();
        names.sort();
        f.debug_struct("Sources").field("sources", &names).finish()
    }
}

impl Sources {
    /// Pools for every source of `config`. `env` resolves env var names; nothing connects
    /// until the first read of a source.
    pub fn new(config: &Config, env: EnvLookup) -> Sources {
        Sources::from_sources(config.sources.values().cloned(), env)
    }

    /// Pools for `sources` (what [`Sources::new`] uses; handy where no whole config exists).
    pub fn from_sources(sources: impl IntoIterator<Item = Source>, env: EnvLookup) -> Sources {
        let entries = sources
            .into_iter()
            .map(|source| {
                (
                    source.name.clone(),
                    Entry {
                        source,
                        pool: OnceCell::new(),
                        columns: Mutex::new(HashMap::new()),
                    },
                )
            })
            .collect();
        Sources { entries, env }
    }

    async fn pool(&self, name: &str, engine: Option<Engine>) -> Result<&Pool, SourceError> {
        let entry = self
            .entries
            .get(name)
            .filter(|e| engine.is_none_or(|engine| e.source.engine == engine))
            .ok_or_else(|| unknown_source(name))?;
        entry
            .pool
            .get_or_try_init(|| async { self.open(&entry.source) })
            .await
    }

    fn open(&self, source: &Source) -> Result<Pool, SourceError> {
        let url = (self.env)(&source.read_url_env)
            .map(Secret::new)
            .filter(|u| !u.is_blank())
            .ok_or_else(|| SourceError::credential_missing(&source.read_url_env))?;
        let (url, timeout) = (url.expose(), source.statement_timeout_ms);
        Ok(match source.engine {
            Engine::Postgres => Pool::Postgres(PgSource::new(url, timeout)?),
            Engine::Mysql => Pool::Mysql(MySource::new(url, timeout)?),
            Engine::Sqlite => Pool::Sqlite(Arc::new(LiteSource::new(url, timeout))),
        })
    }

    /// Run the one-row read of `plan` on the source's read-only connection. Returns at most
    /// `plan.limit` rows (at least one is asked for), each a [`Row`] with the plan's columns
    /// in order and values normalised (spec README §3.7). An empty result is not an error:
    /// the caller decides what "not exactly one row" means.
    pub async fn read(&self, plan: &ReadPlan) -> Result<Vec<Row>, SourceError> {
        self.read_among_others(plan, false).await
    }

    /// [`Sources::read`] for a caller that knows whether other calls of its process are in
    /// progress (`among_others`): then it waits for a SQLite read's answer by parking at once,
    /// never by polling first, which would take a CPU from the calls doing work.
    pub async fn read_among_others(
        &self,
        plan: &ReadPlan,
        among_others: bool,
    ) -> Result<Vec<Row>, SourceError> {
        let pool = self.pool(&plan.source, Some(plan.engine)).await?;
        let work = async {
            match pool {
                Pool::Postgres(p) => p.read(plan).await,
                Pool::Mysql(p) => p.read(plan).await,
                Pool::Sqlite(p) => p.clone().read(plan, among_others).await,
            }
        };
        let timeout = self
            .entries
            .get(&plan.source)
            .and_then(|e| e.source.statement_timeout_ms)
            .map(Duration::from_millis);
        match timeout {
            Some(t) => tokio::time::timeout(t + CLIENT_GRACE, work)
                .await
                .map_err(|_| {
                    unavailable(SourceErrorKind::Timeout, "the read did not finish in time")
                })?,
            None => work.await,
        }
    }

    /// The columns of `schema.table` in `source`: type, length, precision and scale,
    /// nullability, read from the engine's catalog on a read connection the first time and
    /// remembered for the life of this `Sources` (a table altered meanwhile is seen after a
    /// restart). Failures are not remembered. An empty result means the table is unknown or
    /// none of its columns are visible to the read user.
    pub async fn columns(
        &self,
        source: &str,
        schema: &str,
        table: &str,
    ) -> Result<Arc<TableColumns>, SourceError> {
        let key = (schema.to_string(), table.to_string());
        let entry = self
            .entries
            .get(source)
            .ok_or_else(|| unknown_source(source))?;
        if let Some(found) = entry.columns.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(found);
        }
        let pool = self.pool(source, None).await?;
        let work = async {
            match pool {
                Pool::Postgres(p) => {
                    let client = p.client().await?;
                    crate::columns::postgres(&client, &p.redactor, schema, table).await
                }
                Pool::Mysql(p) => {
                    let mut conn = p.conn().await?;
                    crate::columns::mysql(&mut conn, &p.redactor, schema, table).await
                }
                Pool::Sqlite(p) => {
                    let (p, schema, table) = (p.clone(), schema.to_string(), table.to_string());
                    tokio::task::spawn_blocking(move || {
                        p.with_conn(|conn| {
                            crate::columns::sqlite(conn, &p.redactor, &schema, &table)
                        })
                    })
                    .await
                    .map_err(|_| {
                        unavailable(
                            SourceErrorKind::ConnectionFailed,
                            "the catalog read task failed",
                        )
                    })?
                }
            }
        };
        let timeout = entry.source.statement_timeout_ms.map(Duration::from_millis);
        let found = Arc::new(match timeout {
            Some(t) => tokio::time::timeout(t + CLIENT_GRACE, work)
                .await
                .map_err(|_| {
                    unavailable(
                        SourceErrorKind::Timeout,
                        "the catalog read did not finish in time",
                    )
                })??,
            None => work.await?,
        });
        if let Ok(mut m) = entry.columns.lock() {
            m.insert(key, found.clone());
        }
        Ok(found)
    }

    /// Run `sql` verbatim on a pooled read connection of `source`. Exists only so tests can
    /// prove that the engine itself refuses writes on read connections; enabled by the
    /// non-default `test-hooks` feature, which only dev-dependencies turn on.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub async fn execute_on_read_connection(
        &self,
        source: &str,
        sql: &str,
    ) -> Result<(), SourceError> {
        match self.pool(source, None).await? {
            Pool::Postgres(p) => p.execute_raw(sql).await,
            Pool::Mysql(p) => p.execute_raw(sql).await,
            Pool::Sqlite(p) => p.clone().execute_raw(sql).await,
        }
    }

    /// Run a prepared `sql` with text `params` on the pooled read connection of a PostgreSQL
    /// `source` and count the rows, decoding nothing: the bare query the read-path benchmark
    /// measures the read path against, on the same connection the read path uses. `None` for
    /// other engines. Enabled by the non-default `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub async fn bare_query_on_read_connection(
        &self,
        source: &str,
        sql: &str,
        params: &[&str],
    ) -> Result<Option<usize>, SourceError> {
        match self.pool(source, None).await? {
            Pool::Postgres(p) => p.bare_query(sql, params).await.map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(source: &str, engine: Engine) -> ReadPlan {
        ReadPlan {
            source: source.into(),
            engine,
            schema: "main".into(),
            table: "t".into(),
            columns: vec!["id".into()],
            primary_key: "id".into(),
            tenant_column: None,
            lookup_value: json!(1),
            tenant_value: None,
            limit: 1,
        }
    }

    fn source(name: &str, engine: Engine, env: &str) -> Source {
        Source {
            name: name.into(),
            engine,
            read_url_env: env.into(),
            write_url_env: None,
            read_only: true,
            statement_timeout_ms: None,
        }
    }

    #[tokio::test]
    async fn missing_url_and_unknown_source() {
        let sources = Sources::from_sources(
            [source("app", Engine::Sqlite, "APP_URL")],
            Arc::new(|name| (name == "EMPTY").then(|| " ".to_string())),
        );
        assert_eq!(
            sources.read(&plan("app", Engine::Sqlite)).await,
            Err(SourceError::credential_missing("APP_URL"))
        );
        assert_eq!(
            sources.read(&plan("other", Engine::Sqlite)).await,
            Err(unknown_source("other"))
        );
        // The plan's engine must be the source's engine.
        assert_eq!(
            sources.read(&plan("app", Engine::Postgres)).await,
            Err(unknown_source("app"))
        );
        assert_eq!(format!("{sources:?}"), r#"Sources { sources: ["app"] }"#);
    }
}
