//! The guesses an inspection makes from names, keys and triggers: which columns scope a row to
//! a tenant (ranked through foreign keys and key position, never a table's own key), which
//! columns the database itself moves forward on every update (triggers, `ON UPDATE
//! CURRENT_TIMESTAMP`), which look like versions, secrets or blobs, and which prefix a
//! schema's table names share.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{Candidate, TableInfo};
use crate::onboarding::grammar::{object_name_for, safe_name};

/// Names that usually scope a row to a tenant.
const TENANT_NAMES: [&str; 8] = [
    "tenant_id",
    "account_id",
    "organization_id",
    "organisation_id",
    "org_id",
    "workspace_id",
    "customer_id",
    "store_id",
];

/// Tables whose rows usually own other rows: a column referencing one of them scopes its row.
const SCOPE_TABLES: [&str; 14] = [
    "tenant",
    "organization",
    "organisation",
    "org",
    "account",
    "workspace",
    "company",
    "store",
    "shop",
    "merchant",
    "customer",
    "client",
    "team",
    "project",
];

/// Names that usually change on every write, so they can guard against lost updates.
const CONFLICT_NAMES: [&str; 11] = [
    "updated_at",
    "modified_at",
    "row_version",
    "version",
    "lock_version",
    "etag",
    "last_update",
    "last_updated",
    "last_modified",
    "updated_on",
    "modified_on",
];

/// Names that are set once and should not be patched.
pub(super) const IMMUTABLE_NAMES: [&str; 4] = ["id", "uuid", "created_at", "created_by"];

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

/// Prefixes too generic to name a namespace after (`tbl_invoice` → `invoice.inspect_invoice`).
const GENERIC_PREFIXES: [&str; 3] = ["tbl", "tb", "t"];

static SENSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)password|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|session|cookie|\bssn\b|social[_-]?security|credit[_-]?card|card[_-]?number|\bcvv\b|refresh[_-]?token|oauth",
    )
    .expect("invariant: the sensitive-name pattern is a valid regex")
});

pub(super) static GENERATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)always|stored|virtual|generated")
        .expect("invariant: the generated-column pattern is a valid regex")
});

/// `NEW.col = …` / `NEW.col := …` at the start of a statement (PL/pgSQL, MySQL `SET NEW.col`).
/// A comparison inside an `IF` does not start a statement, so it is not taken for one.
static NEW_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:^|;|\bbegin\b|\bthen\b|\belse\b|\bloop\b|\bset\b|,)\s*new\s*\.\s*[`"]?([A-Za-z_][A-Za-z0-9_$]*)[`"]?\s*:?="#,
    )
    .expect("invariant: the NEW-assignment pattern is a valid regex")
});

/// `UPDATE <table> SET <assignments> WHERE` inside a trigger body (SQLite).
static UPDATE_SET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?is)\bupdate\s+(?:or\s+\w+\s+)?(?:[`"\[]?\w+[`"\]]?\s*\.\s*)?[`"\[]?(\w+)[`"\]]?\s+set\s+(.*?)(?:\bwhere\b|\bfrom\b|;|\bend\b|$)"#,
    )
    .expect("invariant: the UPDATE-SET pattern is a valid regex")
});

/// One `col =` of a SET list: at its start or after a comma.
static SET_ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|,)\s*[`"\[]?([A-Za-z_][A-Za-z0-9_]*)[`"\]]?\s*="#)
        .expect("invariant: the SET-item pattern is a valid regex")
});

/// The header of a SQLite `CREATE TRIGGER` that fires on UPDATE: its body follows `BEGIN`.
static SQLITE_UPDATE_TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*create\s+(?:temp\w*\s+)?trigger\s+.*?\bupdate\b.*?\bbegin\b(.*)$")
        .expect("invariant: the trigger-header pattern is a valid regex")
});

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

/// Whether rows of table `name` usually own other rows (`stores`, `app_account`, `tenant`).
pub fn is_scope_table(name: &str) -> bool {
    let object = object_name_for(name);
    SCOPE_TABLES
        .iter()
        .any(|s| object == *s || object.ends_with(&format!("_{s}")))
}

/// The body of a SQLite trigger that fires on UPDATE (the text after `BEGIN`), else `None`.
pub fn sqlite_update_trigger_body(sql: &str) -> Option<String> {
    SQLITE_UPDATE_TRIGGER
        .captures(sql)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// The columns of `table` a trigger body sets when a row is updated: `NEW.col = …`
/// assignments, and `UPDATE <table> SET col = …` statements on the same table.
pub fn columns_set_by_trigger(table: &str, body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |c: &str| {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
            out.push(c.to_string());
        }
    };
    for c in NEW_ASSIGNMENT.captures_iter(body) {
        add(&c[1]);
    }
    for c in UPDATE_SET.captures_iter(body) {
        if !c[1].eq_ignore_ascii_case(table) {
            continue;
        }
        for item in SET_ITEM.captures_iter(&c[2]) {
            add(&item[1]);
        }
    }
    out
}

/// Whether a MySQL/MariaDB column's `extra` says the server sets it on every update.
pub fn is_on_update_extra(extra: &str) -> bool {
    extra.to_ascii_lowercase().contains("on update")
}

/// How many distinct tables reference each `(schema, table)` through a foreign key (a table
/// referencing itself does not count).
pub(super) fn referencing_counts(tables: &[TableInfo]) -> HashMap<(String, String), usize> {
    let mut seen: HashMap<(String, String), Vec<(String, String)>> = HashMap::new();
    for t in tables {
        for f in &t.foreign_keys {
            let target = (f.referenced_schema.clone(), f.referenced_table.clone());
            let from = (t.schema.clone(), t.name.clone());
            if target == from {
                continue;
            }
            let list = seen.entry(target).or_default();
            if !list.contains(&from) {
                list.push(from);
            }
        }
    }
    seen.into_iter().map(|(k, v)| (k, v.len())).collect()
}

/// The tenant/scope candidates of `t`, best first. A column referencing a scoping table
/// (store, account, customer, organisation, tenant, …) ranks highest, more so when many
/// tables share that reference; a tenant-like name next; the first column of a composite key
/// adds to either (and counts alone when it references a widely shared table). A table's own
/// single-column primary key is never a candidate, nor a column referencing its own table.
pub(super) fn tenant_candidates(
    t: &TableInfo,
    shared: &HashMap<(String, String), usize>,
) -> Vec<Candidate> {
    let own_key = match t.primary_key.as_slice() {
        [only] => Some(only.as_str()),
        _ => None,
    };
    let composite_first: Vec<(&str, &str)> = std::iter::once((&t.primary_key, "primary key"))
        .chain(
            t.unique_constraints
                .iter()
                .map(|u| (&u.columns, "unique key")),
        )
        .filter(|(cols, _)| cols.len() > 1)
        .filter_map(|(cols, kind)| cols.first().map(|c| (c.as_str(), kind)))
        .collect();
    let mut scored: Vec<(usize, usize, Candidate)> = Vec::new();
    for (position, c) in t.columns.iter().enumerate() {
        if Some(c.name.as_str()) == own_key {
            continue;
        }
        let reference = t.foreign_keys.iter().find(|f| {
            f.columns.first() == Some(&c.name)
                && !(f.referenced_table == t.name && f.referenced_schema == t.schema)
        });
        let sharing = reference
            .and_then(|f| {
                shared
                    .get(&(f.referenced_schema.clone(), f.referenced_table.clone()))
                    .copied()
            })
            .unwrap_or(0);
        let mut score = 0;
        let mut reasons: Vec<String> = Vec::new();
        if let Some(f) = reference.filter(|f| is_scope_table(&f.referenced_table)) {
            score += 100 + sharing.min(50);
            reasons.push(format!(
                "references {} (shared by {sharing} table{})",
                f.referenced_table,
                if sharing == 1 { "" } else { "s" }
            ));
        }
        if is_tenant_name(&c.name) {
            score += 50;
            reasons.push("named like a tenant column".into());
        }
        if let Some((_, kind)) = composite_first.iter().find(|(col, _)| *col == c.name)
            && (score > 0 || sharing >= 3)
        {
            score += 30;
            reasons.push(format!("first column of a composite {kind}"));
            if reasons.len() == 1
                && let Some(f) = reference
            {
                reasons.push(format!(
                    "references {} (shared by {sharing} tables)",
                    f.referenced_table
                ));
            }
        }
        if score > 0 {
            scored.push((
                score,
                position,
                Candidate {
                    column: c.name.clone(),
                    reason: reasons.join("; "),
                },
            ));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, c)| c).collect()
}

/// The version columns of `t`, best first: those the database moves forward on every update
/// (`maintained`), then those named like versions.
pub(super) fn conflict_columns(t: &TableInfo, maintained: &[Candidate]) -> Vec<String> {
    let mut out: Vec<String> = maintained
        .iter()
        .filter(|m| t.has_column(&m.column))
        .map(|m| m.column.clone())
        .collect();
    for c in &t.columns {
        if is_conflict_name(&c.name) && !out.contains(&c.name) {
            out.push(c.name.clone());
        }
    }
    out
}

/// The prefix the table names of a schema share, such as `app_` in `app_invoice`,
/// `app_customer`: a first `_`-segment that at least two of `names` start with and that is
/// not itself the name of a table (`orders` beside `order_items` is no prefix).
pub fn shared_prefix<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let (segment, rest) = lower.split_once('_')?;
    if segment.is_empty() || rest.is_empty() {
        return None;
    }
    let prefix = format!("{segment}_");
    let mut sharing = 0;
    for other in names {
        let other = other.to_ascii_lowercase();
        if object_name_for(&other) == object_name_for(segment) {
            return None;
        }
        if other.starts_with(&prefix) && other.len() > prefix.len() {
            sharing += 1;
        }
    }
    (sharing >= 2).then_some(prefix)
}

/// The namespace a stripped prefix suggests (`app_` → `app`), unless it is too generic.
pub fn prefix_namespace(prefix: &str) -> Option<String> {
    let segment = safe_name(prefix.trim_end_matches('_'));
    (!GENERIC_PREFIXES.contains(&segment.as_str()) && !segment.is_empty()).then_some(segment)
}
