//! SQLite inspection through `sqlite_master` and the `pragma_*` table functions, on a
//! read-only file handle: keys (composite ones by their `pk` position), unique indexes,
//! foreign keys, and the UPDATE triggers that set a column of their own table.

use rusqlite::{Connection, OpenFlags};
use sluicegate_core::config::Engine;
use sluicegate_core::onboarding::inspection::{
    IndexInfo, RawCatalog, RawColumn, RawConstraint, RawForeignKey, RawObject, RawTrigger,
    sqlite_update_trigger_body,
};

use super::InspectStep;
use crate::error::{Redactor, SourceError};
use crate::sqlite;

/// SQLite, on a blocking thread: the file is opened read-only and never created.
pub(super) fn inspect(
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
            triggers: vec![],
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
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1, ?2) ORDER BY name",
            )
            .map_err(err)?;
        let list = stmt
            .query_map([&o.name, &schema.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        for (name, unique, origin, partial) in list {
            let mut stmt = conn
                .prepare_cached("SELECT name FROM pragma_index_info(?1, ?2) ORDER BY seqno")
                .map_err(err)?;
            let named: Vec<Option<String>> = stmt
                .query_map([&name, &schema.to_string()], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            // An expression in the index has no column name: such an index is no key.
            let plain = named.iter().all(Option::is_some);
            let cols: Vec<String> = named.into_iter().flatten().collect();
            // UNIQUE constraints (`u`) and CREATE UNIQUE INDEX (`c`) over whole columns.
            if unique == 1 && origin != "pk" && partial == 0 && plain {
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
    let triggers: Vec<RawTrigger> = {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT tbl_name, name, sql FROM {quoted}.sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY tbl_name, name"
            ))
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        rows.into_iter()
            .filter_map(|(table, name, sql)| {
                sqlite_update_trigger_body(&sql).map(|body| RawTrigger {
                    schema: schema.to_string(),
                    table,
                    name,
                    body,
                })
            })
            .collect()
    };
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
        triggers,
    })
}
