//! Schema inspection results: the raw catalog rows a source reads, and their normalisation into
//! tables with classification suggestions (onboarding.md §2.4).
//!
//! The source crate fills a [`RawCatalog`] from `information_schema`, `pg_catalog` or
//! `sqlite_master`; everything after that (grouping, primary keys, the tenant / conflict /
//! sensitive heuristics) is pure and lives here, so it is tested without a database.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::Engine;

/// The one notice every inspection carries: what it read and how far its guesses go.
pub const METADATA_NOTICE: &str = "Only catalog metadata was read (no table rows). Column classifications are hints from names and types, not a data-classification review: check them before exposing a field.";

/// Names that usually scope a row to a tenant.
const TENANT_NAMES: [&str; 6] = [
    "tenant_id",
    "account_id",
    "organization_id",
    "org_id",
    "workspace_id",
    "customer_id",
];

/// Names that usually change on every write, so they can guard against lost updates.
const CONFLICT_NAMES: [&str; 6] = [
    "updated_at",
    "modified_at",
    "row_version",
    "version",
    "lock_version",
    "etag",
];

/// Names that are set once and should not be patched.
const IMMUTABLE_NAMES: [&str; 4] = ["id", "uuid", "created_at", "created_by"];

/// Types too large or opaque to show a model by default.
const LARGE_TYPES: [&str; 10] = [
    "bytea",
    "blob",
    "binary",
    "varbinary",
    "longblob",
    "mediumblob",
    "tinyblob",
    "vector",
    "json",
    "jsonb",
];

static SENSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)password|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|session|cookie|\bssn\b|social[_-]?security|credit[_-]?card|card[_-]?number|\bcvv\b|refresh[_-]?token|oauth",
    )
    .expect("invariant: the sensitive-name pattern is a valid regex")
});

static GENERATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)always|stored|virtual|generated")
        .expect("invariant: the generated-column pattern is a valid regex")
});

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
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableSuggestions {
    pub tenant_columns: Vec<String>,
    pub conflict_columns: Vec<String>,
    pub sensitive_columns: Vec<String>,
    pub default_visible_columns: Vec<String>,
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

/// Whether a column name looks like a tenant scope.
pub fn is_tenant_name(name: &str) -> bool {
    TENANT_NAMES.contains(&name.to_ascii_lowercase().as_str())
}

/// Whether a column name looks like a version / conflict guard.
pub fn is_conflict_name(name: &str) -> bool {
    CONFLICT_NAMES.contains(&name.to_ascii_lowercase().as_str())
}

/// Whether a column name suggests secret or personal material.
pub fn is_sensitive_name(name: &str) -> bool {
    SENSITIVE.is_match(name)
}

/// Whether a column type is binary, a vector or a JSON document.
pub fn is_large_or_binary(data_type: &str, udt_name: &str) -> bool {
    [data_type, udt_name].iter().any(|t| {
        let t = t.to_ascii_lowercase();
        LARGE_TYPES.contains(&t.as_str())
            || t.contains("blob")
            || t.contains("binary")
            || t.contains("bytea")
            || t.contains("vector")
    })
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

    let tables = raw
        .objects
        .into_iter()
        .map(|o| {
            let key = (o.schema.clone(), o.name.clone());
            let mut cols = columns.remove(&key).unwrap_or_default();
            cols.sort_by_key(|c| c.ordinal_position);
            let mut cons = constraints.remove(&key).unwrap_or_default();
            cons.sort_by(|a, b| a.name.cmp(&b.name).then(a.ordinal.cmp(&b.ordinal)));
            build_table(
                o,
                cols,
                cons,
                fks.remove(&key).unwrap_or_default(),
                indexes.remove(&key).unwrap_or_default(),
            )
        })
        .collect();
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
            let s = ColumnSuggestions {
                tenant: is_tenant_name(&c.name),
                conflict: is_conflict_name(&c.name),
                sensitive: is_sensitive_name(&c.name),
                immutable: primary_key.contains(&c.name)
                    || is_tenant_name(&c.name)
                    || IMMUTABLE_NAMES.contains(&lower.as_str()),
                large_or_binary: is_large_or_binary(&data_type, &udt),
            };
            if s.tenant {
                suggestions.tenant_columns.push(c.name.clone());
            }
            if s.conflict {
                suggestions.conflict_columns.push(c.name.clone());
            }
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

    /// The primary key to use: the single-column PK constraint, else the first of `id`,
    /// `<object>_id`, `<table>_id` that exists. `None` for composite keys without a candidate.
    pub fn primary_key_choice(&self, object_name: &str) -> Option<String> {
        if let [only] = self.primary_key.as_slice() {
            return Some(only.clone());
        }
        self.primary_key_candidate(object_name)
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

    /// `schema.table` of up to `n` objects, for "available objects" hints.
    pub fn object_names(&self, n: usize) -> Vec<String> {
        self.tables
            .iter()
            .take(n)
            .map(TableInfo::qualified)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(table: &str, name: &str, ty: &str, pos: u32) -> RawColumn {
        RawColumn {
            schema: "public".into(),
            table: table.into(),
            name: name.into(),
            data_type: Some(ty.into()),
            udt_name: Some(ty.into()),
            is_nullable: "NO".into(),
            default: None,
            is_generated: Some("NEVER".into()),
            ordinal_position: pos,
        }
    }

    fn catalog() -> RawCatalog {
        RawCatalog {
            engine: Engine::Postgres,
            server_version: "PostgreSQL 15".into(),
            current_user: "reader".into(),
            schemas: vec!["public".into()],
            objects: vec![
                RawObject {
                    schema: "public".into(),
                    name: "invoices".into(),
                    raw_type: "BASE TABLE".into(),
                },
                RawObject {
                    schema: "public".into(),
                    name: "open_invoices".into(),
                    raw_type: "VIEW".into(),
                },
            ],
            // Out of order on purpose: normalisation sorts by ordinal position.
            columns: vec![
                col("invoices", "updated_at", "timestamp with time zone", 5),
                col("invoices", "id", "text", 1),
                col("invoices", "tenant_id", "text", 2),
                col("invoices", "password_hash", "text", 3),
                col("invoices", "attachment", "bytea", 4),
                col("invoices", "meta", "jsonb", 6),
                col("open_invoices", "invoice_id", "text", 1),
                col("open_invoices", "account_id", "text", 2),
                col("open_invoices", "row_version", "integer", 3),
            ],
            constraints: vec![RawConstraint {
                schema: "public".into(),
                table: "invoices".into(),
                name: "invoices_pkey".into(),
                kind: "PRIMARY KEY".into(),
                column: "id".into(),
                ordinal: 1,
            }],
            foreign_keys: vec![],
            indexes: vec![],
        }
    }

    #[test]
    fn heuristics_classify_columns() {
        let i = normalize(catalog(), "2026-01-01T00:00:00.000Z");
        let t = &i.tables[0];
        assert_eq!(t.kind, "table");
        assert!(t.writable);
        assert_eq!(t.primary_key, vec!["id"]);
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "tenant_id",
                "password_hash",
                "attachment",
                "updated_at",
                "meta"
            ]
        );
        assert_eq!(t.suggestions.tenant_columns, ["tenant_id"]);
        assert_eq!(t.suggestions.conflict_columns, ["updated_at"]);
        assert_eq!(t.suggestions.sensitive_columns, ["password_hash"]);
        assert_eq!(
            t.suggestions.default_visible_columns,
            ["id", "tenant_id", "updated_at"]
        );
        assert!(t.columns[0].suggestions.immutable);
        assert!(t.columns[3].suggestions.large_or_binary);
        let v = &i.tables[1];
        assert_eq!(v.kind, "view");
        assert!(!v.writable);
        assert!(v.primary_key.is_empty());
        assert_eq!(v.primary_key_choice("open_invoice"), None);
        assert_eq!(
            v.primary_key_choice("open_invoice")
                .or(v.primary_key_candidate("invoice")),
            Some("invoice_id".into())
        );
        assert_eq!(v.suggestions.tenant_columns, ["account_id"]);
        assert_eq!(v.suggestions.conflict_columns, ["row_version"]);
        assert_eq!(i.warnings, [METADATA_NOTICE]);
        assert!(i.find("public.invoices", None).is_some());
        assert!(i.find("invoices", Some("other")).is_some());
        assert!(i.find("missing", None).is_none());
    }

    #[test]
    fn sensitive_names() {
        for s in [
            "password",
            "API_KEY",
            "refresh_token",
            "session_id",
            "ssn",
            "credit_card_number",
            "oauth_subject",
        ] {
            assert!(is_sensitive_name(s), "{s}");
        }
        for s in ["late_fee_cents", "status", "user_ssn_last4_ok_is_word"] {
            // `\bssn\b` needs a word boundary; underscores are word characters.
            assert!(!is_sensitive_name(s), "{s}");
        }
    }

    #[test]
    fn round_trips_as_json() {
        let i = normalize(catalog(), "t");
        let text = serde_json::to_string(&i).unwrap();
        let back: Inspection = serde_json::from_str(&text).unwrap();
        assert_eq!(back, i);
        assert!(text.contains(r#""type":"view""#));
    }
}
