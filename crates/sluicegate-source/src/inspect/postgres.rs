//! PostgreSQL inspection: tables and columns from `information_schema`, keys, unique indexes
//! and update triggers from `pg_catalog`, which shows them to a user who may only SELECT.

use sluicegate_core::config::Engine;
use sluicegate_core::onboarding::inspection::{
    IndexInfo, RawCatalog, RawColumn, RawConstraint, RawForeignKey, RawObject, RawTrigger,
};

use super::{InspectStep, STATEMENT_TIMEOUT_MS};
use crate::error::SourceError;
use crate::postgres::{PgParam, PgWriter};

const PG_EXCLUDED: &str = "('pg_catalog', 'information_schema')";

/// Schemas a query over `pg_namespace n` keeps: user schemas, narrowed by `$1` when given.
const PG_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND ($1::text IS NULL OR n.nspname = $1)";

/// Primary keys and unique constraints, one row per column in key order; then unique indexes
/// that back no constraint (full, column-only indexes: no expression, no predicate).
const PG_KEYS: &str = "SELECT n.nspname::text, c.relname::text, con.conname::text, CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, a.attname::text, k.ord::int4 FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum WHERE con.contype IN ('p', 'u') AND {schemas} \
UNION ALL SELECT n.nspname::text, c.relname::text, i.relname::text, 'UNIQUE', a.attname::text, k.ord::int4 FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid JOIN pg_catalog.pg_class c ON c.oid = x.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum WHERE x.indisunique AND NOT x.indisprimary AND x.indpred IS NULL AND x.indexprs IS NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con WHERE con.conindid = x.indexrelid) AND {schemas} \
ORDER BY 1, 2, 3, 6";

/// Foreign keys, one row per column pair in key order.
const PG_FOREIGN_KEYS: &str = "SELECT n.nspname::text, c.relname::text, con.conname::text, a.attname::text, rn.nspname::text, rc.relname::text, ra.attname::text, k.ord::int4 FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refnum, ord) JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum JOIN pg_catalog.pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum WHERE con.contype = 'f' AND {schemas} ORDER BY 1, 2, 3, 8";

/// Enabled `BEFORE UPDATE … FOR EACH ROW` triggers (the ones that can set a column of the row
/// being updated: tgtype bits ROW 1, BEFORE 2, UPDATE 16) and their function's source.
const PG_TRIGGERS: &str = "SELECT n.nspname::text, c.relname::text, t.tgname::text, p.prosrc::text FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND (t.tgtype::int4 & 19) = 19 AND {schemas} ORDER BY 1, 2, 3";

pub(super) async fn inspect(
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
    let result = catalog(&w, schema, progress).await;
    let _ = w.batch("ROLLBACK").await;
    result
}

async fn catalog(
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
        .query(&PG_KEYS.replace("{schemas}", PG_SCHEMAS), &filter)
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
        .query(&PG_FOREIGN_KEYS.replace("{schemas}", PG_SCHEMAS), &filter)
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
    let triggers = w
        .query(&PG_TRIGGERS.replace("{schemas}", PG_SCHEMAS), &filter)
        .await?
        .iter()
        .map(|r| RawTrigger {
            schema: text(r, 0).unwrap_or_default(),
            table: text(r, 1).unwrap_or_default(),
            name: text(r, 2).unwrap_or_default(),
            body: text(r, 3).unwrap_or_default(),
        })
        .collect();
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
        triggers,
    })
}
