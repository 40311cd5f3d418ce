//! Schema inspection for onboarding: catalog metadata only, never a business row.
//!
//! PostgreSQL and MySQL/MariaDB are read from `information_schema` (PostgreSQL schemas and
//! indexes from `pg_catalog`) inside a read-only transaction with a statement timeout; SQLite
//! from `sqlite_master` and the `pragma_*` table functions on a read-only file handle. The
//! rows come back as a [`RawCatalog`]; grouping and the classification heuristics are pure and
//! live in `sluicegate_core::onboarding::inspection`.
//!
//! Errors are [`SourceError`]s whose [`SourceError::category`] is safe to print: messages
//! never carry the URL, host, user or password.

use rusqlite::{Connection, OpenFlags};
use sluicegate_core::config::Engine;
use sluicegate_core::onboarding::inspection::{
    IndexInfo, RawCatalog, RawColumn, RawConstraint, RawForeignKey, RawObject,
};
use sluicegate_core::secrets::Secret;

use crate::error::{Redactor, SourceError, SourceErrorKind, unavailable};
use crate::mysql::MyWriter;
use crate::postgres::{PgParam, PgWriter};
use crate::sqlite::{self, sqlite_path};

/// Statement timeout of every catalog query. Longer than a capability read's default: a
/// catalog with thousands of tables is a bigger question than one row.
const STATEMENT_TIMEOUT_MS: u64 = 10_000;

/// How far an inspection has got, for a progress indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectStep {
    Connected,
    /// Tables and views listed (their number).
    Objects(usize),
    /// Columns listed (their number).
    Columns(usize),
    Constraints,
    ForeignKeys,
    Indexes,
}

/// Number of steps an inspection reports, for a progress bar's length.
pub const INSPECT_STEPS: u64 = 6;

/// Read the catalog of the database at `url`. `schema` narrows it to one schema (the attached
/// database for SQLite); without it, PostgreSQL lists every non-system schema and MySQL the
/// URL's current database (or every database when the URL names none).
pub async fn inspect(
    url: &Secret,
    engine: Engine,
    schema: Option<&str>,
    progress: &(dyn Fn(InspectStep) + Send + Sync),
) -> Result<RawCatalog, SourceError> {
    if url.is_blank() {
        return Err(SourceError::credential_missing("the database URL env var"));
    }
    let url = url.expose();
    let raw = match engine {
        Engine::Postgres => inspect_postgres(url, schema, progress).await?,
        Engine::Mysql => inspect_mysql(url, schema, progress).await?,
        Engine::Sqlite => {
            let path = sqlite_path(url);
            let schema = schema.unwrap_or("main").to_string();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let task = tokio::task::spawn_blocking(move || {
                inspect_sqlite(&path, &schema, &|s| {
                    let _ = tx.send(s);
                })
            });
            // Relay progress from the blocking thread as it happens.
            let mut task = task;
            loop {
                tokio::select! {
                    Some(step) = rx.recv() => progress(step),
                    done = &mut task => {
                        while let Ok(step) = rx.try_recv() {
                            progress(step);
                        }
                        break done.map_err(|_| unavailable(SourceErrorKind::ConnectionFailed, "the inspection task failed"))??;
                    }
                }
            }
        }
    };
    if let Some(s) = schema
        && !raw.schemas.iter().any(|x| x == s)
    {
        // The catalog, not an error message, says the schema is missing.
        return Err(SourceError::new(
            SourceErrorKind::ObjectNotFound,
            None,
            format!("schema {s} does not exist or is not visible to this user"),
        ));
    }
    Ok(raw)
}

const PG_EXCLUDED: &str = "('pg_catalog', 'information_schema')";

async fn inspect_postgres(
    url: &str,
    schema: Option<&str>,
    progress: &(dyn Fn(InspectStep) + Send + Sync),
) -> Result<RawCatalog, SourceError> {
    let w = PgWriter::connect(url).await?;
    progress(InspectStep::Connected);
    // Read-only at the engine for the whole inspection; the transaction is only ever rolled
    // back.
    w.batch(&format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"
    ))
    .await?;
    let result = pg_catalog(&w, schema, progress).await;
    let _ = w.batch("ROLLBACK").await;
    result
}

async fn pg_catalog(
    w: &PgWriter,
    schema: Option<&str>,
    progress: &(dyn Fn(InspectStep) + Send + Sync),
) -> Result<RawCatalog, SourceError> {
    let filter = [PgParam::Text(schema)];
    let text = |r: &tokio_postgres::Row, i: usize| -> Option<String> {
        r.try_get::<_, Option<String>>(i).ok().flatten()
    };
    let int = |r: &tokio_postgres::Row, i: usize| -> u32 {
        r.try_get::<_, Option<i32>>(i)
            .ok()
            .flatten()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    let head = w.query("SELECT version(), current_user::text", &[]).await?;
    let (server_version, current_user) = head
        .first()
        .map(|r| (text(r, 0), text(r, 1)))
        .unwrap_or_default();
    let schemas = w
        .query(
            &format!(
                "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname NOT IN {PG_EXCLUDED} AND nspname NOT LIKE 'pg\\_%' ORDER BY 1"
            ),
            &[],
        )
        .await?
        .iter()
        .filter_map(|r| text(r, 0))
        .collect();
    let objects: Vec<RawObject> = w
        .query(
            &format!(
                "SELECT table_schema::text, table_name::text, table_type::text FROM information_schema.tables WHERE table_schema NOT IN {PG_EXCLUDED} AND ($1::text IS NULL OR table_schema = $1) AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY 1, 2"
            ),
            &filter,
        )
        .await?
        .iter()
        .map(|r| RawObject {
            schema: text(r, 0).unwrap_or_default(),
            name: text(r, 1).unwrap_or_default(),
            raw_type: text(r, 2).unwrap_or_default(),
        })
        .collect();
    progress(InspectStep::Objects(objects.len()));
    let columns: Vec<RawColumn> = w
        .query(
            &format!(
                "SELECT table_schema::text, table_name::text, column_name::text, data_type::text, udt_name::text, is_nullable::text, column_default::text, is_generated::text, ordinal_position::int4 FROM information_schema.columns WHERE table_schema NOT IN {PG_EXCLUDED} AND ($1::text IS NULL OR table_schema = $1) ORDER BY 1, 2, 9"
            ),
            &filter,
        )
        .await?
        .iter()
        .map(|r| RawColumn {
            schema: text(r, 0).unwrap_or_default(),
            table: text(r, 1).unwrap_or_default(),
            name: text(r, 2).unwrap_or_default(),
            data_type: text(r, 3),
            udt_name: text(r, 4),
            is_nullable: text(r, 5).unwrap_or_default(),
            default: text(r, 6),
            is_generated: text(r, 7),
            ordinal_position: int(r, 8),
        })
        .collect();
    progress(InspectStep::Columns(columns.len()));
    let constraints = w
        .query(
            &format!(
                "SELECT tc.table_schema::text, tc.table_name::text, tc.constraint_name::text, tc.constraint_type::text, kcu.column_name::text, kcu.ordinal_position::int4 FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu ON tc.constraint_schema = kcu.constraint_schema AND tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name WHERE tc.table_schema NOT IN {PG_EXCLUDED} AND ($1::text IS NULL OR tc.table_schema = $1) AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY 1, 2, 3, 6"
            ),
            &filter,
        )
        .await?
        .iter()
        .map(|r| RawConstraint {
            schema: text(r, 0).unwrap_or_default(),
            table: text(r, 1).unwrap_or_default(),
            name: text(r, 2).unwrap_or_default(),
            kind: text(r, 3).unwrap_or_default(),
            column: text(r, 4).unwrap_or_default(),
            ordinal: int(r, 5),
        })
        .collect();
    progress(InspectStep::Constraints);
    let foreign_keys = w
        .query(
            &format!(
                "SELECT kcu.table_schema::text, kcu.table_name::text, kcu.constraint_name::text, kcu.column_name::text, ref.table_schema::text, ref.table_name::text, ref.column_name::text, kcu.ordinal_position::int4 FROM information_schema.referential_constraints rc JOIN information_schema.key_column_usage kcu ON kcu.constraint_schema = rc.constraint_schema AND kcu.constraint_name = rc.constraint_name JOIN information_schema.key_column_usage ref ON ref.constraint_schema = rc.unique_constraint_schema AND ref.constraint_name = rc.unique_constraint_name AND ref.ordinal_position = kcu.position_in_unique_constraint WHERE kcu.table_schema NOT IN {PG_EXCLUDED} AND ($1::text IS NULL OR kcu.table_schema = $1) ORDER BY 1, 2, 3, 8"
            ),
            &filter,
        )
        .await?
        .iter()
        .map(|r| RawForeignKey {
            schema: text(r, 0).unwrap_or_default(),
            table: text(r, 1).unwrap_or_default(),
            name: text(r, 2).unwrap_or_default(),
            column: text(r, 3).unwrap_or_default(),
            referenced_schema: text(r, 4).unwrap_or_default(),
            referenced_table: text(r, 5).unwrap_or_default(),
            referenced_column: text(r, 6).unwrap_or_default(),
            ordinal: int(r, 7),
        })
        .collect();
    progress(InspectStep::ForeignKeys);
    let indexes = w
        .query(
            &format!(
                "SELECT schemaname::text, tablename::text, indexname::text, indexdef FROM pg_catalog.pg_indexes WHERE schemaname NOT IN {PG_EXCLUDED} AND ($1::text IS NULL OR schemaname = $1) ORDER BY 1, 2, 3"
            ),
            &filter,
        )
        .await?
        .iter()
        .map(|r| {
            (
                text(r, 0).unwrap_or_default(),
                text(r, 1).unwrap_or_default(),
                IndexInfo {
                    name: text(r, 2).unwrap_or_default(),
                    columns: None,
                    unique: None,
                    definition: text(r, 3),
                },
            )
        })
        .collect();
    progress(InspectStep::Indexes);
    Ok(RawCatalog {
        engine: Engine::Postgres,
        server_version: server_version.unwrap_or_default(),
        current_user: current_user.unwrap_or_default(),
        schemas,
        objects,
        columns,
        constraints,
        foreign_keys,
        indexes,
    })
}

const MY_EXCLUDED: &str = "('information_schema', 'mysql', 'performance_schema', 'sys')";

async fn inspect_mysql(
    url: &str,
    schema: Option<&str>,
    progress: &(dyn Fn(InspectStep) + Send + Sync),
) -> Result<RawCatalog, SourceError> {
    let mut w = MyWriter::connect(url).await?;
    progress(InspectStep::Connected);
    // Servers without READ ONLY transactions still get a transaction that is rolled back.
    if w.batch("START TRANSACTION READ ONLY").await.is_err() {
        w.batch("START TRANSACTION").await?;
    }
    // MySQL names its statement timeout in milliseconds, MariaDB in seconds; one of the two
    // applies and the other is refused, which is fine.
    let _ = w
        .batch(&format!(
            "SET SESSION max_execution_time = {STATEMENT_TIMEOUT_MS}"
        ))
        .await;
    let _ = w
        .batch(&format!(
            "SET SESSION max_statement_time = {}",
            STATEMENT_TIMEOUT_MS / 1000
        ))
        .await;
    let result = my_catalog(&mut w, schema, progress).await;
    let _ = w.batch("ROLLBACK").await;
    w.close().await;
    result
}

type MyRow = mysql_async::Row;

fn my_text(r: &mut MyRow, i: usize) -> Option<String> {
    match r.take::<mysql_async::Value, _>(i) {
        Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        Some(mysql_async::Value::NULL) | None => None,
        Some(other) => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn my_int(r: &mut MyRow, i: usize) -> u32 {
    my_text(r, i).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn my_catalog(
    w: &mut MyWriter,
    schema: Option<&str>,
    progress: &(dyn Fn(InspectStep) + Send + Sync),
) -> Result<RawCatalog, SourceError> {
    let mut head = w
        .query("SELECT VERSION(), CURRENT_USER(), DATABASE()", vec![])
        .await?;
    let (server_version, current_user, database) = match head.first_mut() {
        Some(r) => (my_text(r, 0), my_text(r, 1), my_text(r, 2)),
        None => (None, None, None),
    };
    // The URL's database scopes the inspection unless --schema says otherwise: a shared
    // server's other databases are none of this config's business.
    let scope = schema.map(str::to_string).or(database);
    let filter = || -> Vec<mysql_async::Value> {
        let v = match &scope {
            Some(s) => mysql_async::Value::Bytes(s.as_bytes().to_vec()),
            None => mysql_async::Value::NULL,
        };
        vec![v.clone(), v]
    };
    let schemas = w
        .query(
            &format!(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN {MY_EXCLUDED} AND (? IS NULL OR schema_name = ?) ORDER BY 1"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .filter_map(|mut r| my_text(&mut r, 0))
        .collect();
    let objects: Vec<RawObject> = w
        .query(
            &format!(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR table_schema = ?) AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY 1, 2"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .map(|mut r| RawObject {
            schema: my_text(&mut r, 0).unwrap_or_default(),
            name: my_text(&mut r, 1).unwrap_or_default(),
            raw_type: my_text(&mut r, 2).unwrap_or_default(),
        })
        .collect();
    progress(InspectStep::Objects(objects.len()));
    let columns: Vec<RawColumn> = w
        .query(
            &format!(
                "SELECT table_schema, table_name, column_name, data_type, column_type, is_nullable, column_default, extra, ordinal_position FROM information_schema.columns WHERE table_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR table_schema = ?) ORDER BY 1, 2, 9"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .map(|mut r| RawColumn {
            schema: my_text(&mut r, 0).unwrap_or_default(),
            table: my_text(&mut r, 1).unwrap_or_default(),
            name: my_text(&mut r, 2).unwrap_or_default(),
            data_type: my_text(&mut r, 3),
            udt_name: my_text(&mut r, 4),
            is_nullable: my_text(&mut r, 5).unwrap_or_default(),
            default: my_text(&mut r, 6),
            is_generated: my_text(&mut r, 7),
            ordinal_position: my_int(&mut r, 8),
        })
        .collect();
    progress(InspectStep::Columns(columns.len()));
    let constraints = w
        .query(
            &format!(
                "SELECT tc.table_schema, tc.table_name, tc.constraint_name, tc.constraint_type, kcu.column_name, kcu.ordinal_position FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu ON tc.constraint_schema = kcu.constraint_schema AND tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name WHERE tc.table_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR tc.table_schema = ?) AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY 1, 2, 3, 6"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .map(|mut r| RawConstraint {
            schema: my_text(&mut r, 0).unwrap_or_default(),
            table: my_text(&mut r, 1).unwrap_or_default(),
            name: my_text(&mut r, 2).unwrap_or_default(),
            kind: my_text(&mut r, 3).unwrap_or_default(),
            column: my_text(&mut r, 4).unwrap_or_default(),
            ordinal: my_int(&mut r, 5),
        })
        .collect();
    progress(InspectStep::Constraints);
    let foreign_keys = w
        .query(
            &format!(
                "SELECT table_schema, table_name, constraint_name, column_name, referenced_table_schema, referenced_table_name, referenced_column_name, ordinal_position FROM information_schema.key_column_usage WHERE referenced_table_name IS NOT NULL AND table_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR table_schema = ?) ORDER BY 1, 2, 3, 8"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .map(|mut r| RawForeignKey {
            schema: my_text(&mut r, 0).unwrap_or_default(),
            table: my_text(&mut r, 1).unwrap_or_default(),
            name: my_text(&mut r, 2).unwrap_or_default(),
            column: my_text(&mut r, 3).unwrap_or_default(),
            referenced_schema: my_text(&mut r, 4).unwrap_or_default(),
            referenced_table: my_text(&mut r, 5).unwrap_or_default(),
            referenced_column: my_text(&mut r, 6).unwrap_or_default(),
            ordinal: my_int(&mut r, 7),
        })
        .collect();
    progress(InspectStep::ForeignKeys);
    let indexes = w
        .query(
            &format!(
                "SELECT table_schema, table_name, index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ','), MIN(non_unique) FROM information_schema.statistics WHERE table_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR table_schema = ?) GROUP BY table_schema, table_name, index_name ORDER BY 1, 2, 3"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .map(|mut r| {
            let schema = my_text(&mut r, 0).unwrap_or_default();
            let table = my_text(&mut r, 1).unwrap_or_default();
            let name = my_text(&mut r, 2).unwrap_or_default();
            let columns = my_text(&mut r, 3)
                .map(|c| c.split(',').map(str::to_string).collect::<Vec<_>>());
            let unique = my_text(&mut r, 4).map(|n| n == "0");
            (
                schema,
                table,
                IndexInfo {
                    name,
                    columns,
                    unique,
                    definition: None,
                },
            )
        })
        .collect();
    progress(InspectStep::Indexes);
    Ok(RawCatalog {
        engine: Engine::Mysql,
        server_version: server_version.unwrap_or_default(),
        current_user: current_user.unwrap_or_default(),
        schemas,
        objects,
        columns,
        constraints,
        foreign_keys,
        indexes,
    })
}

/// SQLite, on a blocking thread: the file is opened read-only and never created.
fn inspect_sqlite(
    path: &std::path::Path,
    schema: &str,
    progress: &dyn Fn(InspectStep),
) -> Result<RawCatalog, SourceError> {
    let redactor = Redactor::new([path.display().to_string()]);
    let err = |e: rusqlite::Error| sqlite::classify(&e, &redactor);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    progress(InspectStep::Connected);
    let server_version: String = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .map_err(err)?;
    let schemas: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_database_list ORDER BY seq")
            .map_err(err)?;
        stmt.query_map([], |r| r.get::<_, String>(0))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?
    };
    if !schemas.iter().any(|s| s == schema) {
        return Ok(RawCatalog {
            engine: Engine::Sqlite,
            server_version: format!("SQLite {server_version}"),
            current_user: String::new(),
            schemas,
            objects: vec![],
            columns: vec![],
            constraints: vec![],
            foreign_keys: vec![],
            indexes: vec![],
        });
    }
    // The schema name is one of the attached databases just listed; quote it anyway.
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    let objects: Vec<RawObject> = {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT name, type FROM {quoted}.sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            ))
            .map_err(err)?;
        stmt.query_map([], |r| {
            Ok(RawObject {
                schema: schema.to_string(),
                name: r.get(0)?,
                raw_type: r.get::<_, String>(1)?,
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?
    };
    progress(InspectStep::Objects(objects.len()));
    let mut columns = Vec::new();
    let mut constraints = Vec::new();
    let mut foreign_keys = Vec::new();
    let mut indexes = Vec::new();
    for o in &objects {
        let mut stmt = conn
            .prepare_cached(
                "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, ?2)",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([&o.name, &schema.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        for (cid, name, ty, notnull, default, pk, hidden) in rows {
            if hidden == 1 {
                // Hidden columns of virtual tables are not part of the row.
                continue;
            }
            if pk > 0 {
                constraints.push(RawConstraint {
                    schema: schema.to_string(),
                    table: o.name.clone(),
                    name: format!("{}_pkey", o.name),
                    kind: "PRIMARY KEY".into(),
                    column: name.clone(),
                    ordinal: u32::try_from(pk).unwrap_or(0),
                });
            }
            let ty = ty.unwrap_or_default();
            columns.push(RawColumn {
                schema: schema.to_string(),
                table: o.name.clone(),
                name,
                data_type: Some(ty.clone()),
                udt_name: Some(ty),
                // A primary-key column of a rowid table is NOT NULL in practice.
                is_nullable: if notnull == 0 && pk == 0 { "YES" } else { "NO" }.into(),
                default,
                is_generated: match hidden {
                    2 => Some("VIRTUAL".into()),
                    3 => Some("STORED".into()),
                    _ => None,
                },
                ordinal_position: u32::try_from(cid + 1).unwrap_or(0),
            });
        }
        if o.raw_type != "table" {
            continue;
        }
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, \"unique\", origin FROM pragma_index_list(?1, ?2) ORDER BY name",
            )
            .map_err(err)?;
        let list = stmt
            .query_map([&o.name, &schema.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        for (name, unique, origin) in list {
            let mut stmt = conn
                .prepare_cached("SELECT name FROM pragma_index_info(?1, ?2) ORDER BY seqno")
                .map_err(err)?;
            let cols: Vec<String> = stmt
                .query_map([&name, &schema.to_string()], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?
                .into_iter()
                .flatten()
                .collect();
            if origin == "u" {
                for (i, c) in cols.iter().enumerate() {
                    constraints.push(RawConstraint {
                        schema: schema.to_string(),
                        table: o.name.clone(),
                        name: name.clone(),
                        kind: "UNIQUE".into(),
                        column: c.clone(),
                        ordinal: u32::try_from(i + 1).unwrap_or(0),
                    });
                }
            }
            indexes.push((
                schema.to_string(),
                o.name.clone(),
                IndexInfo {
                    name,
                    columns: Some(cols),
                    unique: Some(unique == 1),
                    definition: None,
                },
            ));
        }
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1, ?2) ORDER BY id, seq",
            )
            .map_err(err)?;
        let fks = stmt
            .query_map([&o.name, &schema.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        for (id, seq, table, from, to) in fks {
            foreign_keys.push(RawForeignKey {
                schema: schema.to_string(),
                table: o.name.clone(),
                name: format!("{}_fk_{id}", o.name),
                column: from,
                referenced_schema: schema.to_string(),
                referenced_table: table,
                referenced_column: to.unwrap_or_default(),
                ordinal: u32::try_from(seq + 1).unwrap_or(0),
            });
        }
    }
    progress(InspectStep::Columns(columns.len()));
    progress(InspectStep::Constraints);
    progress(InspectStep::ForeignKeys);
    progress(InspectStep::Indexes);
    Ok(RawCatalog {
        engine: Engine::Sqlite,
        server_version: format!("SQLite {server_version}"),
        current_user: String::new(),
        schemas,
        objects,
        columns,
        constraints,
        foreign_keys,
        indexes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_catalog_without_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT);
             CREATE TABLE invoices (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, account_id TEXT REFERENCES accounts(id), late_fee_cents INTEGER, api_token TEXT, updated_at TEXT, total REAL GENERATED ALWAYS AS (late_fee_cents * 1.0) VIRTUAL, UNIQUE (tenant_id, id));
             CREATE VIEW open_invoices AS SELECT id, tenant_id FROM invoices;
             INSERT INTO invoices (id, tenant_id) VALUES ('secret-row-value', 'acme');",
        )
        .expect("schema");
        drop(conn);
        let steps = std::sync::Mutex::new(Vec::new());
        let raw = inspect(
            &format!("sqlite://{}", path.display()).into(),
            Engine::Sqlite,
            None,
            &|s| steps.lock().expect("lock").push(s),
        )
        .await
        .expect("inspect");
        assert_eq!(raw.schemas, ["main"]);
        let names: Vec<&str> = raw.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["accounts", "invoices", "open_invoices"]);
        let pk: Vec<&RawConstraint> = raw
            .constraints
            .iter()
            .filter(|c| c.table == "invoices" && c.kind == "PRIMARY KEY")
            .collect();
        assert_eq!(pk.len(), 1);
        assert!(
            raw.constraints
                .iter()
                .any(|c| c.kind == "UNIQUE" && c.column == "tenant_id")
        );
        assert_eq!(raw.foreign_keys[0].referenced_table, "accounts");
        let total = raw
            .columns
            .iter()
            .find(|c| c.name == "total")
            .expect("generated column");
        assert_eq!(total.is_generated.as_deref(), Some("VIRTUAL"));
        assert!(!format!("{raw:?}").contains("secret-row-value"));
        assert_eq!(steps.lock().expect("lock").len() as u64, INSPECT_STEPS);

        let missing = inspect(
            &format!("sqlite://{}/nope.db", dir.path().display()).into(),
            Engine::Sqlite,
            None,
            &|_| {},
        )
        .await
        .expect_err("missing file");
        assert_eq!(missing.category(), "connection failed");
        assert!(!missing.to_string().contains("nope.db"), "{missing}");
        let err = inspect(
            &format!("sqlite://{}", path.display()).into(),
            Engine::Sqlite,
            Some("other"),
            &|_| {},
        )
        .await
        .expect_err("unknown schema");
        assert_eq!(err.category(), "configured object not found");
    }
}
