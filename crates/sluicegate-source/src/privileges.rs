//! What each database role of a source needs, worked out from the validated config and the
//! statements this crate runs: `writeback grants` prints it, and the doctor checks the writer
//! against it, so the two can never disagree.
//!
//! * The **writer** (`sluicegate apply`, direct-SQL proposals) locks the row by primary key and
//!   tenant and reads the guard's columns (`SELECT … FOR UPDATE`; PostgreSQL also wants UPDATE
//!   on some column of the table for the lock), then updates the patch columns and, when
//!   Sluicegate maintains the version column, advances it (reading it in the same statement).
//!   A row-hash guard compares every column of the reviewed read. Column types come from the
//!   catalog, which shows a MySQL user only columns it holds a privilege on: these are.
//! * The **reader** (agent reads and proposals) selects the capability's read columns by
//!   primary key and tenant. On MySQL a proposal also needs the types of the columns it
//!   patches, which `information_schema` lists only to a user with a privilege on them.
//! * The receipt table needs SELECT, INSERT and UPDATE; apply never creates it.

use sluicegate_core::config::{Capability, Config, Engine, Kind, MaintainedBy, Mode};

/// Column privileges one role needs on one table, columns in first-use order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNeed {
    pub schema: String,
    pub table: String,
    pub select: Vec<String>,
    pub update: Vec<String>,
}

impl TableNeed {
    fn new(cap: &Capability) -> TableNeed {
        TableNeed {
            schema: cap.target.schema.clone(),
            table: cap.target.table.clone(),
            select: Vec::new(),
            update: Vec::new(),
        }
    }

    /// `schema.table`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

fn push_unique<'a>(into: &mut Vec<String>, columns: impl IntoIterator<Item = &'a String>) {
    for c in columns {
        if !into.contains(c) {
            into.push(c.clone());
        }
    }
}

/// Merge `need` into the entry for its table (added at the end when new).
fn merge(into: &mut Vec<TableNeed>, need: TableNeed) {
    match into
        .iter_mut()
        .find(|n| n.schema == need.schema && n.table == need.table)
    {
        Some(n) => {
            push_unique(&mut n.select, &need.select);
            push_unique(&mut n.update, &need.update);
        }
        None => into.push(need),
    }
}

/// The proposal capabilities of `source` that `sluicegate apply` writes itself (review mode,
/// executor `sql_update`).
pub fn direct_capabilities<'a>(
    config: &'a Config,
    source: &'a str,
) -> impl Iterator<Item = &'a Capability> + 'a {
    let review = config.mode == Mode::Review;
    config.capabilities.iter().filter(move |c| {
        review
            && c.kind == Kind::Proposal
            && c.source == source
            && c.executor_name() == "sql_update"
    })
}

/// What the writer needs on the target table of one direct-SQL proposal capability.
pub fn writer_need(cap: &Capability) -> TableNeed {
    let mut need = TableNeed::new(cap);
    push_unique(&mut need.select, [&cap.target.primary_key]);
    push_unique(&mut need.select, cap.target.tenant_key.as_ref());
    match &cap.conflict_guard {
        Some(g) if g.column.is_some() => {
            push_unique(&mut need.select, g.column.as_ref());
            if g.maintained_by == MaintainedBy::Sluicegate {
                push_unique(&mut need.update, cap.patch.keys());
                push_unique(&mut need.update, g.column.as_ref());
                return need;
            }
        }
        // A row-hash guard compares every column of the reviewed read.
        Some(g) if g.weak_guard_ack => push_unique(&mut need.select, cap.read_columns()),
        _ => {}
    }
    push_unique(&mut need.update, cap.patch.keys());
    need
}

/// What the writer of `source` needs, per table.
pub fn writer_needs(config: &Config, source: &str) -> Vec<TableNeed> {
    let mut out = Vec::new();
    for cap in direct_capabilities(config, source) {
        merge(&mut out, writer_need(cap));
    }
    out
}

/// What the reader of `source` needs, per table: the read columns of every capability a model
/// can call (proposals only in review mode), and on MySQL the columns proposals patch.
pub fn reader_needs(config: &Config, source: &str, engine: Engine) -> Vec<TableNeed> {
    let mut out = Vec::new();
    for cap in config.exposed_capabilities().filter(|c| c.source == source) {
        merge(&mut out, reader_need(cap, engine));
    }
    out
}

/// What the reader needs for one capability: its read columns, and on MySQL the columns a
/// proposal patches (for their types).
pub fn reader_need(cap: &Capability, engine: Engine) -> TableNeed {
    let mut need = TableNeed::new(cap);
    push_unique(&mut need.select, cap.read_columns());
    if engine == Engine::Mysql && cap.kind == Kind::Proposal {
        push_unique(&mut need.select, cap.patch.keys());
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluicegate_core::config::validate;

    fn config(mode: &str, engine: &str) -> Config {
        let doc = json!({
            "version": 1, "mode": mode,
            "sources": {"app": {"engine": engine, "read_url_env": "R", "write_url_env": "W"}},
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "T", "principal_env": "P"}},
            "capabilities": [
                {"name": "films.show", "kind": "read", "source": "app",
                 "target": {"schema": "public", "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
                 "args": {"film_id": {"type": "number"}}, "lookup": {"id_from_arg": "film_id"},
                 "visible_columns": ["film_id", "title", "rental_rate"]},
                {"name": "films.propose_rate", "kind": "proposal", "source": "app",
                 "target": {"schema": "public", "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
                 "args": {"film_id": {"type": "number"}, "rate": {"type": "number"}},
                 "lookup": {"id_from_arg": "film_id"},
                 "visible_columns": ["film_id", "title", "rental_rate", "last_update"],
                 "patch": {"rental_rate": {"from_arg": "rate"}},
                 "allowed_columns": ["rental_rate", "title"],
                 "conflict_guard": {"column": "last_update", "maintained_by": "app"}},
                {"name": "films.propose_title", "kind": "proposal", "source": "app",
                 "target": {"schema": "public", "table": "film", "primary_key": "film_id", "tenant_key": "store_id"},
                 "args": {"film_id": {"type": "number"}, "title": {"type": "string"}},
                 "lookup": {"id_from_arg": "film_id"},
                 "visible_columns": ["film_id", "title"],
                 "patch": {"title": {"from_arg": "title"}},
                 "allowed_columns": ["title"],
                 "conflict_guard": {"column": "version"}},
                {"name": "notes.propose", "kind": "proposal", "source": "app",
                 "target": {"schema": "public", "table": "note", "primary_key": "id", "tenant_key": "store_id"},
                 "args": {"id": {"type": "number"}, "body": {"type": "string"}},
                 "lookup": {"id_from_arg": "id"},
                 "visible_columns": ["id", "body", "status"],
                 "patch": {"body": {"from_arg": "body"}},
                 "allowed_columns": ["body"],
                 "conflict_guard": {"weak_guard_ack": true}},
                {"name": "notes.propose_by_hook", "kind": "proposal", "source": "app", "executor": "hook",
                 "target": {"schema": "public", "table": "hooked", "primary_key": "id", "tenant_key": "store_id"},
                 "args": {"id": {"type": "number"}}, "lookup": {"id_from_arg": "id"},
                 "visible_columns": ["id", "v"], "patch": {"v": {"fixed": 1}}, "allowed_columns": ["v"],
                 "conflict_guard": {"weak_guard_ack": true}}
            ],
            "executors": {"hook": {"type": "command_handler", "command_env": "HOOK"}}
        });
        let mut doc = doc;
        if mode == "read_only" {
            // Read-only mode declares no app-owned executor.
            doc["capabilities"].as_array_mut().expect("list").pop();
            doc.as_object_mut().expect("object").remove("executors");
        }
        let (v, c) = validate(&doc);
        c.unwrap_or_else(|| panic!("{:?}", v.errors))
    }

    fn need(schema: &str, table: &str, select: &[&str], update: &[&str]) -> TableNeed {
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect();
        TableNeed {
            schema: schema.into(),
            table: table.into(),
            select: s(select),
            update: s(update),
        }
    }

    #[test]
    fn the_writer_needs_the_lock_guard_and_patch_columns_per_table() {
        let c = config("review", "postgres");
        assert_eq!(
            writer_needs(&c, "app"),
            vec![
                // An app-maintained version is compared, never written; a Sluicegate one is
                // read and advanced. Handler capabilities need nothing from the writer.
                need(
                    "public",
                    "film",
                    &["film_id", "store_id", "last_update", "version"],
                    &["rental_rate", "title", "version"]
                ),
                // The row-hash guard compares every column of the reviewed read.
                need(
                    "public",
                    "note",
                    &["id", "store_id", "body", "status"],
                    &["body"]
                ),
            ]
        );
        assert!(writer_needs(&c, "other").is_empty());
        assert!(writer_needs(&config("read_only", "postgres"), "app").is_empty());
    }

    #[test]
    fn the_reader_needs_the_read_columns_and_on_mysql_the_patch_columns() {
        let pg = reader_needs(&config("review", "postgres"), "app", Engine::Postgres);
        assert_eq!(
            pg[0],
            need(
                "public",
                "film",
                &[
                    "film_id",
                    "title",
                    "rental_rate",
                    "store_id",
                    "last_update",
                    "version"
                ],
                &[]
            )
        );
        assert_eq!(
            pg[1],
            need("public", "note", &["id", "body", "status", "store_id"], &[])
        );
        assert_eq!(
            pg[2],
            need("public", "hooked", &["id", "v", "store_id"], &[])
        );
        let my = reader_needs(&config("review", "mysql"), "app", Engine::Mysql);
        assert_eq!(my[2].select, ["id", "v", "store_id"]);
        let my_films = reader_needs(&config("review", "mysql"), "app", Engine::Mysql);
        assert_eq!(my_films[0].select.len(), 6);
        // Read-only mode exposes no proposal: only the read capability's columns.
        assert_eq!(
            reader_needs(&config("read_only", "postgres"), "app", Engine::Postgres),
            vec![need(
                "public",
                "film",
                &["film_id", "title", "rental_rate", "store_id"],
                &[]
            )]
        );
    }
}
