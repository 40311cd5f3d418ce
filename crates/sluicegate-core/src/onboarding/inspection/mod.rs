//! Schema inspection results: the raw catalog rows a source reads, and their normalisation into
//! tables with classification suggestions (onboarding.md §2.4).
//!
//! The source crate fills a [`RawCatalog`] from `information_schema`, `pg_catalog` or
//! `sqlite_master`; everything after that (grouping, primary keys, the tenant / conflict /
//! sensitive heuristics) is pure and lives here, so it is tested without a database.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::Engine;

mod heuristics;

use heuristics::{GENERATED, IMMUTABLE_NAMES};
pub use heuristics::{
    columns_set_by_trigger, is_conflict_name, is_large_or_binary, is_on_update_extra,
    is_scope_table, is_sensitive_name, is_tenant_name, prefix_namespace, shared_prefix,
    sqlite_update_trigger_body,
};

/// The one notice every inspection carries: what it read and how far its guesses go.
pub const METADATA_NOTICE: &str = "Only catalog metadata was read (no table rows). Column classifications are hints from names and types, not a data-classification review: check them before exposing a field.";

/// One table or view as listed by the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    pub schema: String,
    pub name: String,
    /// `BASE TABLE`, `VIEW`, `table`, `view`, …
    pub raw_type: String,
}

/// One column as listed by the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawColumn {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub data_type: Option<String>,
    pub udt_name: Option<String>,
    /// `YES` when the column accepts NULL.
    pub is_nullable: String,
    pub default: Option<String>,
    pub is_generated: Option<String>,
    pub ordinal_position: u32,
}

/// One column of a primary-key or unique constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawConstraint {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// `PRIMARY KEY` or `UNIQUE`.
    pub kind: String,
    pub column: String,
    pub ordinal: u32,
}

/// One column of a foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawForeignKey {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub column: String,
    pub referenced_schema: String,
    pub referenced_table: String,
    pub referenced_column: String,
    pub ordinal: u32,
}

/// A trigger that runs when a row of its table is updated and can change that row (a
/// PostgreSQL `BEFORE UPDATE … FOR EACH ROW` trigger, a MySQL `BEFORE UPDATE` trigger, a
/// SQLite `UPDATE` trigger), with the statements it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTrigger {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// The trigger function's source (PostgreSQL), action statement (MySQL) or the text
    /// after `BEGIN` (SQLite).
    pub body: String,
}

/// Everything an inspection read, before normalisation. Rows may come in any order.
#[derive(Debug, Clone)]
pub struct RawCatalog {
    pub engine: Engine,
    pub server_version: String,
    pub current_user: String,
    pub schemas: Vec<String>,
    pub objects: Vec<RawObject>,
    pub columns: Vec<RawColumn>,
    pub constraints: Vec<RawConstraint>,
    pub foreign_keys: Vec<RawForeignKey>,
    pub indexes: Vec<(String, String, IndexInfo)>,
    /// Update triggers visible to the inspecting user (MySQL shows them only with the
    /// TRIGGER privilege; its `ON UPDATE CURRENT_TIMESTAMP` columns are seen regardless).
    pub triggers: Vec<RawTrigger>,
}

/// The result of `sluicegate inspect --json`, consumed again by `init --inspection-json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub engine: String,
    pub server_version: String,
    pub current_user: String,
    pub inspected_at: String,
    pub schemas: Vec<String>,
    pub tables: Vec<TableInfo>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// `table` or `view`.
    #[serde(rename = "type")]
    pub kind: String,
    pub writable: bool,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub unique_constraints: Vec<UniqueConstraint>,
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    #[serde(default)]
    pub indexes: Vec<IndexInfo>,
    pub suggestions: TableSuggestions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub generated: bool,
    pub ordinal_position: u32,
    pub suggestions: ColumnSuggestions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ColumnSuggestions {
    pub tenant: bool,
    pub conflict: bool,
    pub sensitive: bool,
    pub immutable: bool,
    pub large_or_binary: bool,
    /// The database sets it on every update (a trigger, `ON UPDATE CURRENT_TIMESTAMP`).
    #[serde(default)]
    pub maintained: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableSuggestions {
    /// Tenant/scope candidates, best first (see `tenant_candidates` for why).
    pub tenant_columns: Vec<String>,
    /// Version candidates, best first: database-maintained columns, then version-like names.
    pub conflict_columns: Vec<String>,
    pub sensitive_columns: Vec<String>,
    pub default_visible_columns: Vec<String>,
    /// Each tenant candidate with the reason it was suggested.
    #[serde(default)]
    pub tenant_candidates: Vec<Candidate>,
    /// Columns the database itself sets on every update, and what sets them.
    #[serde(default)]
    pub maintained_columns: Vec<Candidate>,
}

/// A suggested column and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueConstraint {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub referenced_schema: String,
    pub referenced_table: String,
    pub referenced_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

/// Group and classify `raw` into an [`Inspection`]. `inspected_at` is passed in (core reads no
/// clock). Objects keep the catalog's order (schema, then name).
pub fn normalize(raw: RawCatalog, inspected_at: &str) -> Inspection {
    type Key = (String, String);
    let mut columns: HashMap<Key, Vec<RawColumn>> = HashMap::new();
    for c in raw.columns {
        columns
            .entry((c.schema.clone(), c.table.clone()))
            .or_default()
            .push(c);
    }
    let mut constraints: HashMap<Key, Vec<RawConstraint>> = HashMap::new();
    for c in raw.constraints {
        constraints
            .entry((c.schema.clone(), c.table.clone()))
            .or_default()
            .push(c);
    }
    let mut fks: HashMap<Key, Vec<RawForeignKey>> = HashMap::new();
    for f in raw.foreign_keys {
        fks.entry((f.schema.clone(), f.table.clone()))
            .or_default()
            .push(f);
    }
    let mut indexes: HashMap<Key, Vec<IndexInfo>> = HashMap::new();
    for (schema, table, index) in raw.indexes {
        indexes.entry((schema, table)).or_default().push(index);
    }
    let mut maintained: HashMap<Key, Vec<Candidate>> = HashMap::new();
    for c in &columns_extra(&columns) {
        maintained.entry(c.0.clone()).or_default().push(c.1.clone());
    }
    for t in raw.triggers {
        for column in columns_set_by_trigger(&t.table, &t.body) {
            let list = maintained
                .entry((t.schema.clone(), t.table.clone()))
                .or_default();
            if !list.iter().any(|m| m.column == column) {
                list.push(Candidate {
                    column,
                    reason: format!("set by trigger {}", t.name),
                });
            }
        }
    }

    let mut tables: Vec<TableInfo> = raw
        .objects
        .into_iter()
        .map(|o| {
            let key = (o.schema.clone(), o.name.clone());
            let mut cols = columns.remove(&key).unwrap_or_default();
            cols.sort_by_key(|c| c.ordinal_position);
            let mut cons = constraints.remove(&key).unwrap_or_default();
            cons.sort_by(|a, b| a.name.cmp(&b.name).then(a.ordinal.cmp(&b.ordinal)));
            let mut t = build_table(
                o,
                cols,
                cons,
                fks.remove(&key).unwrap_or_default(),
                indexes.remove(&key).unwrap_or_default(),
            );
            let maintained = maintained.remove(&key).unwrap_or_default();
            set_maintained(&mut t, maintained);
            t
        })
        .collect();
    // Tenant candidates look across tables: how many share a reference decides its rank.
    let shared = heuristics::referencing_counts(&tables);
    for t in &mut tables {
        let candidates = heuristics::tenant_candidates(t, &shared);
        for c in &mut t.columns {
            let tenant = candidates.iter().any(|k| k.column == c.name);
            c.suggestions.tenant = tenant;
            c.suggestions.immutable |= tenant;
        }
        t.suggestions.tenant_columns = candidates.iter().map(|c| c.column.clone()).collect();
        t.suggestions.tenant_candidates = candidates;
    }
    Inspection {
        engine: raw.engine.as_str().to_string(),
        server_version: raw.server_version,
        current_user: raw.current_user,
        inspected_at: inspected_at.to_string(),
        schemas: raw.schemas,
        tables,
        warnings: vec![METADATA_NOTICE.to_string()],
    }
}

/// MySQL/MariaDB columns with `ON UPDATE CURRENT_TIMESTAMP` in their `extra` (read into
/// `is_generated`): the server sets them on every update.
fn columns_extra(
    columns: &HashMap<(String, String), Vec<RawColumn>>,
) -> Vec<((String, String), Candidate)> {
    let mut out = Vec::new();
    for (key, cols) in columns {
        for c in cols {
            if c.is_generated.as_deref().is_some_and(is_on_update_extra) {
                out.push((
                    key.clone(),
                    Candidate {
                        column: c.name.clone(),
                        reason: "ON UPDATE CURRENT_TIMESTAMP".into(),
                    },
                ));
            }
        }
    }
    out
}

/// Record the database-maintained columns of `t` and rank its version candidates.
fn set_maintained(t: &mut TableInfo, maintained: Vec<Candidate>) {
    let maintained: Vec<Candidate> = maintained
        .into_iter()
        .filter(|m| t.has_column(&m.column))
        .collect();
    t.suggestions.conflict_columns = heuristics::conflict_columns(t, &maintained);
    for c in &mut t.columns {
        c.suggestions.maintained = maintained.iter().any(|m| m.column == c.name);
        c.suggestions.conflict = t.suggestions.conflict_columns.contains(&c.name);
    }
    t.suggestions.maintained_columns = maintained;
}

fn build_table(
    o: RawObject,
    cols: Vec<RawColumn>,
    cons: Vec<RawConstraint>,
    mut fks: Vec<RawForeignKey>,
    indexes: Vec<IndexInfo>,
) -> TableInfo {
    let upper = o.raw_type.to_ascii_uppercase();
    // The first PRIMARY KEY constraint (by name), its columns by ordinal position.
    let primary_key: Vec<String> = cons
        .iter()
        .find(|c| c.kind.eq_ignore_ascii_case("PRIMARY KEY"))
        .map(|first| {
            cons.iter()
                .filter(|c| c.name == first.name && c.kind.eq_ignore_ascii_case("PRIMARY KEY"))
                .map(|c| c.column.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut unique_constraints: Vec<UniqueConstraint> = Vec::new();
    for c in cons
        .iter()
        .filter(|c| c.kind.eq_ignore_ascii_case("UNIQUE"))
    {
        match unique_constraints.iter_mut().find(|u| u.name == c.name) {
            Some(u) => u.columns.push(c.column.clone()),
            None => unique_constraints.push(UniqueConstraint {
                name: c.name.clone(),
                columns: vec![c.column.clone()],
            }),
        }
    }
    fks.sort_by(|a, b| a.name.cmp(&b.name).then(a.ordinal.cmp(&b.ordinal)));
    let mut foreign_keys: Vec<ForeignKey> = Vec::new();
    for f in fks {
        match foreign_keys.iter_mut().find(|k| k.name == f.name) {
            Some(k) => {
                k.columns.push(f.column);
                k.referenced_columns.push(f.referenced_column);
            }
            None => foreign_keys.push(ForeignKey {
                name: f.name,
                columns: vec![f.column],
                referenced_schema: f.referenced_schema,
                referenced_table: f.referenced_table,
                referenced_columns: vec![f.referenced_column],
            }),
        }
    }

    let mut suggestions = TableSuggestions::default();
    let columns: Vec<ColumnInfo> = cols
        .into_iter()
        .map(|c| {
            let udt = c.udt_name.clone().unwrap_or_default();
            let data_type = c
                .data_type
                .clone()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| udt.clone());
            let lower = c.name.to_ascii_lowercase();
            // Tenant and conflict suggestions need the whole table (and catalog): set later.
            let s = ColumnSuggestions {
                tenant: false,
                conflict: false,
                sensitive: is_sensitive_name(&c.name),
                immutable: primary_key.contains(&c.name)
                    || IMMUTABLE_NAMES.contains(&lower.as_str()),
                large_or_binary: is_large_or_binary(&data_type, &udt),
                maintained: false,
            };
            if s.sensitive {
                suggestions.sensitive_columns.push(c.name.clone());
            }
            if !s.sensitive && !s.large_or_binary {
                suggestions.default_visible_columns.push(c.name.clone());
            }
            ColumnInfo {
                generated: c
                    .is_generated
                    .as_deref()
                    .is_some_and(|g| GENERATED.is_match(g)),
                nullable: c.is_nullable.eq_ignore_ascii_case("YES"),
                default: c.default,
                ordinal_position: c.ordinal_position,
                name: c.name,
                data_type,
                suggestions: s,
            }
        })
        .collect();
    TableInfo {
        kind: if upper.contains("VIEW") {
            "view".into()
        } else {
            "table".into()
        },
        writable: upper.contains("TABLE"),
        schema: o.schema,
        name: o.name,
        columns,
        primary_key,
        unique_constraints,
        foreign_keys,
        indexes,
        suggestions,
    }
}

impl TableInfo {
    /// `schema.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }

    /// The row key to use: the single-column PK constraint, else a single-column unique
    /// constraint, else the first of `id`, `<object>_id`, `<table>_id` that exists and is not
    /// merely one column of a composite primary key. `None` when nothing qualifies.
    pub fn primary_key_choice(&self, object_name: &str) -> Option<String> {
        if let [only] = self.primary_key.as_slice() {
            return Some(only.clone());
        }
        if let Some(unique) = self
            .unique_constraints
            .iter()
            .find(|u| u.columns.len() == 1)
        {
            return Some(unique.columns[0].clone());
        }
        self.primary_key_candidate(object_name)
            .filter(|c| !self.primary_key.contains(c))
    }

    /// The first of `id`, `<object>_id`, `<table>_id` that is a column.
    pub fn primary_key_candidate(&self, object_name: &str) -> Option<String> {
        [
            "id".to_string(),
            format!("{object_name}_id"),
            format!("{}_id", self.name),
        ]
        .into_iter()
        .find(|c| self.has_column(c))
    }
}

impl Inspection {
    /// Find `table` (optionally `schema.table`), preferring `schema` when several match.
    pub fn find(&self, table: &str, schema: Option<&str>) -> Option<&TableInfo> {
        let (schema, table) = match table.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (schema, table),
        };
        let mut matches = self.tables.iter().filter(|t| t.name == table);
        match schema {
            Some(s) => self
                .tables
                .iter()
                .find(|t| t.name == table && t.schema == s)
                .or_else(|| matches.next()),
            None => matches.next(),
        }
    }

    /// `schema.table` of every object, for "available objects" hints (shorten them with
    /// `grammar::listing`).
    pub fn object_names(&self) -> Vec<String> {
        self.tables.iter().map(TableInfo::qualified).collect()
    }

    /// The prefix `t`'s name shares with other tables of its schema (`app_` of `app_invoice`
    /// beside `app_customer`), see [`shared_prefix`].
    pub fn prefix_of(&self, t: &TableInfo) -> Option<String> {
        shared_prefix(
            &t.name,
            self.tables
                .iter()
                .filter(|o| o.schema == t.schema)
                .map(|o| o.name.as_str()),
        )
    }
}

#[cfg(test)]
mod tests;
