//! The only place SQL text is written. Statements are built from validated identifiers, each
//! re-checked with the safe-identifier rule right before it is quoted; every value is a
//! placeholder. The shared shapes (the one-row SELECT and the guarded UPDATE) live here; the
//! fixed statements of each dialect live in its own module, each with tests of the exact text.

pub mod grants;
pub(crate) mod guard;
pub mod migration;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use sluicegate_core::config::Engine;
use sluicegate_core::ident::is_safe_identifier;

use crate::error::{SourceError, refused};
pub(crate) use guard::{Advance, Compare, TextShape};

/// Name of the idempotency receipt table (writeback.md §A.7), created unqualified so it lands
/// in the writer connection's default schema or database.
pub const RECEIPT_TABLE: &str = "sluicegate_writeback_receipts";

/// Alias of the projection carrying the version column's native text (PostgreSQL only).
pub(crate) const VERSION_ALIAS: &str = "__sluicegate_version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl Dialect {
    /// The dialect `engine` speaks.
    pub(crate) fn of(engine: Engine) -> Dialect {
        match engine {
            Engine::Postgres => Dialect::Postgres,
            Engine::Mysql => Dialect::Mysql,
            Engine::Sqlite => Dialect::Sqlite,
        }
    }

    /// Quote `name` after checking it is a safe identifier: `"x"` or `` `x` ``.
    pub(crate) fn ident(self, name: &str) -> Result<String, SourceError> {
        if !is_safe_identifier(name) {
            return Err(SourceError::unsafe_identifier(name));
        }
        Ok(match self {
            Dialect::Postgres | Dialect::Sqlite => format!("\"{name}\""),
            Dialect::Mysql => format!("`{name}`"),
        })
    }

    /// The `n`th (1-based) parameter placeholder.
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Mysql | Dialect::Sqlite => "?".to_string(),
        }
    }

    /// Null-safe equality: a NULL version still matches the NULL it was read as.
    fn null_safe_eq(self) -> &'static str {
        match self {
            Dialect::Postgres => "IS NOT DISTINCT FROM",
            Dialect::Mysql => "<=>",
            Dialect::Sqlite => "IS",
        }
    }
}

/// One item of a SELECT list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Projection<'a> {
    /// The column as stored.
    Column(&'a str),
    /// PostgreSQL: `"c"::text AS "c"`, for types decoded from their text form.
    Text(&'a str),
    /// PostgreSQL: `to_jsonb("c") AS "c"`, for arrays.
    Json(&'a str),
    /// PostgreSQL: `"c"::text AS "__sluicegate_version"`, the version exactly as stored.
    VersionText(&'a str),
}

/// What follows the WHERE clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// `LIMIT n` as a literal integer, at least 1.
    Limit(u64),
    /// `FOR UPDATE` (SQLite has no row locks: `BEGIN IMMEDIATE` already holds the write lock).
    ForUpdate,
}

/// `SELECT <projections> FROM <schema>.<table> WHERE <key> = p1 [AND <tenant> = p2] <tail>`.
#[derive(Debug, Clone)]
pub(crate) struct Select<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub projections: &'a [Projection<'a>],
    pub key: &'a str,
    pub tenant: Option<&'a str>,
    pub tail: Tail,
}

pub(crate) fn select(d: Dialect, s: &Select<'_>) -> Result<String, SourceError> {
    let mut cols = Vec::with_capacity(s.projections.len());
    for p in s.projections {
        cols.push(match (*p, d) {
            (Projection::Text(c), Dialect::Postgres) => {
                let q = d.ident(c)?;
                format!("{q}::text AS {q}")
            }
            (Projection::Json(c), Dialect::Postgres) => {
                let q = d.ident(c)?;
                format!("to_jsonb({q}) AS {q}")
            }
            (Projection::VersionText(c), Dialect::Postgres) => {
                format!("{}::text AS {VERSION_ALIAS}", d.ident(c)?)
            }
            // The other dialects read every type natively.
            (
                Projection::Column(c)
                | Projection::Text(c)
                | Projection::Json(c)
                | Projection::VersionText(c),
                _,
            ) => d.ident(c)?,
        });
    }
    if cols.is_empty() {
        return Err(refused("a select needs at least one column"));
    }
    let mut sql = format!(
        "SELECT {} FROM {}.{} WHERE {} = {}",
        cols.join(", "),
        d.ident(s.schema)?,
        d.ident(s.table)?,
        d.ident(s.key)?,
        d.param(1)
    );
    if let Some(t) = s.tenant {
        sql.push_str(&format!(" AND {} = {}", d.ident(t)?, d.param(2)));
    }
    match (s.tail, d) {
        (Tail::Limit(n), _) => sql.push_str(&format!(" LIMIT {}", n.max(1))),
        (Tail::ForUpdate, Dialect::Sqlite) => {}
        (Tail::ForUpdate, _) => sql.push_str(" FOR UPDATE"),
    }
    Ok(sql)
}

/// The guarded single-row UPDATE (writeback.md §A.6 "UPDATE shape"). Parameters in order:
/// the `set` values, the key, the tenant, the version as read under the lock, then one value
/// per `compare` column.
#[derive(Debug, Clone)]
pub(crate) struct Update<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub set: &'a [&'a str],
    pub key: &'a str,
    pub tenant: &'a str,
    pub version: Option<&'a str>,
    /// The version column and how the UPDATE advances it (no parameter).
    pub advance: Option<(&'a str, Advance)>,
    /// Columns of the reviewed row the UPDATE compares, NULL-safely, with bound values.
    pub compare: &'a [(&'a str, Compare)],
}

pub(crate) fn update(d: Dialect, u: &Update<'_>) -> Result<String, SourceError> {
    if u.set.is_empty() {
        return Err(refused("the patch is empty"));
    }
    let mut n = 0;
    let mut next = || {
        n += 1;
        d.param(n)
    };
    let mut sets = Vec::with_capacity(u.set.len() + 1);
    for c in u.set {
        sets.push(format!("{} = {}", d.ident(c)?, next()));
    }
    if let Some((column, how)) = u.advance {
        sets.push(guard::advance(d, &d.ident(column)?, how)?);
    }
    let mut sql = format!(
        "UPDATE {}.{} SET {} WHERE {} = {} AND {} = {}",
        d.ident(u.schema)?,
        d.ident(u.table)?,
        sets.join(", "),
        d.ident(u.key)?,
        next(),
        d.ident(u.tenant)?,
        next()
    );
    if let Some(v) = u.version {
        sql.push_str(&format!(
            " AND {} {} {}",
            d.ident(v)?,
            d.null_safe_eq(),
            next()
        ));
    }
    for (column, how) in u.compare {
        let q = d.ident(column)?;
        sql.push_str(" AND ");
        sql.push_str(&guard::compare(d, &q, &next(), *how));
    }
    Ok(sql)
}

/// A condition no row satisfies, spelt so each engine accepts it.
fn never(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "false",
        Dialect::Mysql => "1 = 0",
        Dialect::Sqlite => "0",
    }
}

/// Doctor probe (writeback.md §A.11): prove `columns` exist and may be read, without a row:
/// `SELECT <cols> FROM <schema>.<table> WHERE <never>`, with `FOR UPDATE` when `lock` (the
/// row lock, which PostgreSQL grants only with UPDATE on some column; SQLite has none).
pub(crate) fn probe_select(
    d: Dialect,
    schema: &str,
    table: &str,
    columns: &[&str],
    lock: bool,
) -> Result<String, SourceError> {
    if columns.is_empty() {
        return Err(refused("a probe needs at least one column"));
    }
    let cols = columns
        .iter()
        .map(|c| d.ident(c))
        .collect::<Result<Vec<_>, _>>()?;
    let lock = if lock && d != Dialect::Sqlite {
        " FOR UPDATE"
    } else {
        ""
    };
    Ok(format!(
        "SELECT {} FROM {}.{} WHERE {}{lock}",
        cols.join(", "),
        d.ident(schema)?,
        d.ident(table)?,
        never(d)
    ))
}

/// Doctor probe: prove `column` may be updated, without touching a row or reading a column
/// (so only its UPDATE privilege is tested). `UPDATE <schema>.<table> SET <c> = NULL WHERE
/// <never>`, run inside a transaction that is rolled back.
pub(crate) fn probe_update(
    d: Dialect,
    schema: &str,
    table: &str,
    column: &str,
) -> Result<String, SourceError> {
    Ok(format!(
        "UPDATE {}.{} SET {} = NULL WHERE {}",
        d.ident(schema)?,
        d.ident(table)?,
        d.ident(column)?,
        never(d)
    ))
}

/// Doctor probe of the receipt table's SELECT privilege: every column, no row.
pub(crate) fn probe_receipt_select(d: Dialect) -> String {
    format!(
        "SELECT idempotency_key, job_id, proposal_id, status, result_hash, created_at, completed_at FROM {RECEIPT_TABLE} WHERE {}",
        never(d)
    )
}

/// Doctor probe of the receipt table's UPDATE privilege: the columns apply updates, no row,
/// no column read.
pub(crate) fn probe_receipt_update(d: Dialect) -> String {
    format!(
        "UPDATE {RECEIPT_TABLE} SET status = NULL, result_hash = NULL, completed_at = NULL WHERE {}",
        never(d)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_is_checked() {
        let bad = [
            "bad-col",
            "x\"; DROP TABLE t; --",
            "a`b",
            "",
            "public.invoices",
        ];
        for b in bad {
            for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
                let sel = Select {
                    schema: "s",
                    table: "t",
                    projections: &[Projection::Column(b)],
                    key: "id",
                    tenant: None,
                    tail: Tail::Limit(1),
                };
                assert_eq!(
                    select(d, &sel),
                    Err(SourceError::unsafe_identifier(b.to_string()))
                );
                let sel = Select {
                    schema: b,
                    projections: &[Projection::Column("id")],
                    ..sel
                };
                assert!(select(d, &sel).is_err());
                let upd = Update {
                    schema: "s",
                    table: "t",
                    set: &["a"],
                    key: "id",
                    tenant: b,
                    version: None,
                    advance: None,
                    compare: &[],
                };
                assert!(update(d, &upd).is_err());
            }
        }
    }

    #[test]
    fn doctor_probes() {
        assert_eq!(
            probe_select(
                Dialect::Postgres,
                "public",
                "invoices",
                &["id", "status"],
                true
            )
            .as_deref(),
            Ok(r#"SELECT "id", "status" FROM "public"."invoices" WHERE false FOR UPDATE"#)
        );
        assert_eq!(
            probe_select(Dialect::Postgres, "public", "invoices", &["id"], false).as_deref(),
            Ok(r#"SELECT "id" FROM "public"."invoices" WHERE false"#)
        );
        assert_eq!(
            probe_select(Dialect::Mysql, "appdb", "orders", &["id"], true).as_deref(),
            Ok("SELECT `id` FROM `appdb`.`orders` WHERE 1 = 0 FOR UPDATE")
        );
        assert_eq!(
            probe_select(Dialect::Sqlite, "main", "t", &["id"], true).as_deref(),
            Ok(r#"SELECT "id" FROM "main"."t" WHERE 0"#)
        );
        assert_eq!(
            probe_update(Dialect::Postgres, "public", "invoices", "status").as_deref(),
            Ok(r#"UPDATE "public"."invoices" SET "status" = NULL WHERE false"#)
        );
        assert_eq!(
            probe_update(Dialect::Mysql, "appdb", "orders", "status").as_deref(),
            Ok("UPDATE `appdb`.`orders` SET `status` = NULL WHERE 1 = 0")
        );
        assert!(probe_update(Dialect::Sqlite, "main", "t", "a b").is_err());
        assert!(probe_select(Dialect::Sqlite, "main", "t", &[], false).is_err());
        assert_eq!(
            probe_receipt_select(Dialect::Mysql),
            "SELECT idempotency_key, job_id, proposal_id, status, result_hash, created_at, completed_at FROM sluicegate_writeback_receipts WHERE 1 = 0"
        );
        assert_eq!(
            probe_receipt_update(Dialect::Postgres),
            "UPDATE sluicegate_writeback_receipts SET status = NULL, result_hash = NULL, completed_at = NULL WHERE false"
        );
    }

    #[test]
    fn empty_patch_and_empty_select_are_refused() {
        let upd = Update {
            schema: "s",
            table: "t",
            set: &[],
            key: "id",
            tenant: "tenant_id",
            version: None,
            advance: None,
            compare: &[],
        };
        assert!(matches!(
            update(Dialect::Postgres, &upd),
            Err(e) if e.kind() == &crate::error::SourceErrorKind::WritebackRefused
        ));
        let sel = Select {
            schema: "s",
            table: "t",
            projections: &[],
            key: "id",
            tenant: None,
            tail: Tail::Limit(1),
        };
        assert!(select(Dialect::Mysql, &sel).is_err());
    }
}
