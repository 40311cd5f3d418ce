//! MySQL/MariaDB inspection from `information_schema`, through the views that show a
//! SELECT-only user its tables' keys: `STATISTICS` (primary and unique keys) and
//! `KEY_COLUMN_USAGE` (foreign keys); `TABLE_CONSTRAINTS` hides them from such a user.
//! `TRIGGERS` lists a table's triggers only to holders of its TRIGGER privilege, so a
//! read-only user usually sees none; `ON UPDATE CURRENT_TIMESTAMP` columns are seen anyway.

use sluicegate_core::config::Engine;
use sluicegate_core::onboarding::inspection::{
    IndexInfo, RawCatalog, RawColumn, RawConstraint, RawForeignKey, RawObject, RawTrigger,
};

use super::{InspectStep, STATEMENT_TIMEOUT_MS};
use crate::error::SourceError;
use crate::mysql::MyWriter;

const MY_EXCLUDED: &str = "('information_schema', 'mysql', 'performance_schema', 'sys')";

pub(super) async fn inspect(
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
    let result = catalog(&mut w, schema, progress).await;
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

async fn catalog(
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
                "SELECT table_schema, table_name, index_name, CASE WHEN index_name = 'PRIMARY' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, column_name, seq_in_index FROM information_schema.statistics WHERE non_unique = 0 AND column_name IS NOT NULL AND sub_part IS NULL AND table_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR table_schema = ?) ORDER BY 1, 2, 3, 6"
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
    let triggers = w
        .query(
            &format!(
                "SELECT event_object_schema, event_object_table, trigger_name, action_statement FROM information_schema.triggers WHERE event_manipulation = 'UPDATE' AND action_timing = 'BEFORE' AND event_object_schema NOT IN {MY_EXCLUDED} AND (? IS NULL OR event_object_schema = ?) ORDER BY 1, 2, 3"
            ),
            filter(),
        )
        .await?
        .into_iter()
        .map(|mut r| RawTrigger {
            schema: my_text(&mut r, 0).unwrap_or_default(),
            table: my_text(&mut r, 1).unwrap_or_default(),
            name: my_text(&mut r, 2).unwrap_or_default(),
            body: my_text(&mut r, 3).unwrap_or_default(),
        })
        .collect();
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
        triggers,
    })
}
