//! The grants an operator runs by hand before direct writeback (`writeback grants`), and the
//! single statements the doctor prints for a privilege the writer lacks. Both come from the
//! functions here, so the doctor's fix for a missing grant is the line `writeback grants`
//! printed for it.
//!
//! What each role needs is [`crate::privileges`]; this module only spells it per engine:
//! PostgreSQL `GRANT USAGE ON SCHEMA` and column privileges, MySQL column privileges to an
//! account, SQLite the file permissions (it has no GRANT).

use std::fmt::Write as _;

use sluicegate_core::config::{Config, Engine};
use sluicegate_core::ident::is_safe_identifier;

use super::RECEIPT_TABLE;
use super::migration::{ScriptError, checked_schema};
use crate::privileges::{TableNeed, reader_needs, writer_needs};

/// The writer role (PostgreSQL) or account user (MySQL) when `--writer-role` is not given.
pub const DEFAULT_WRITER: &str = "sluicegate_writer";
/// The reader role or account user when `--reader-role` is not given.
pub const DEFAULT_READER: &str = "sluicegate_reader";

/// A table privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    Select,
    Insert,
    Update,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
        }
    }
}

/// Who a grant goes to, checked and spelt for its engine: `"role"` or `'user'@'host'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grantee(String);

impl Grantee {
    /// `name` as `engine` spells a grantee: a PostgreSQL role (a plain identifier, quoted) or
    /// a MySQL account given as `user`, `user@host` or `'user'@'host'` (host `%` when absent).
    pub fn parse(engine: Engine, name: &str) -> Result<Grantee, ScriptError> {
        match engine {
            Engine::Postgres | Engine::Sqlite if is_safe_identifier(name) => {
                Ok(Grantee(format!("\"{name}\"")))
            }
            Engine::Postgres | Engine::Sqlite => Err(ScriptError::UnsafeRole),
            Engine::Mysql => {
                let (user, host) = name.rsplit_once('@').unwrap_or((name, "%"));
                let unquote = |s: &'_ str| -> String {
                    let s = s.trim();
                    s.strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .unwrap_or(s)
                        .to_string()
                };
                let (user, host) = (unquote(user), unquote(host));
                let plain = |s: &str| {
                    !s.is_empty()
                        && s.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '%' | '-')
                        })
                };
                if plain(&user) && plain(&host) {
                    Ok(Grantee(format!("'{user}'@'{host}'")))
                } else {
                    Err(ScriptError::UnsafeAccount)
                }
            }
        }
    }

    /// The grantee as it goes into a statement.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn quote(engine: Engine, ident: &str) -> String {
    match engine {
        Engine::Mysql => format!("`{ident}`"),
        Engine::Postgres | Engine::Sqlite => format!("\"{ident}\""),
    }
}

/// `GRANT USAGE ON SCHEMA "s" TO <grantee>;` (PostgreSQL). `schema` must be checked.
pub fn usage_grant(schema: &str, to: &Grantee) -> String {
    format!("GRANT USAGE ON SCHEMA \"{schema}\" TO {};", to.as_str())
}

/// The receipt table grant: `GRANT SELECT, INSERT, UPDATE ON TABLE "s".sluicegate_… TO …;`
/// (MySQL without `TABLE`), with the given privileges. `schema` must be checked.
pub fn receipt_grant(
    engine: Engine,
    schema: &str,
    privileges: &[Privilege],
    to: &Grantee,
) -> String {
    let list: Vec<&str> = privileges.iter().map(|p| p.as_str()).collect();
    let on = match engine {
        Engine::Mysql => format!("`{schema}`.{RECEIPT_TABLE}"),
        Engine::Postgres | Engine::Sqlite => format!("TABLE \"{schema}\".{RECEIPT_TABLE}"),
    };
    format!("GRANT {} ON {on} TO {};", list.join(", "), to.as_str())
}

/// `GRANT SELECT ("a", "b"), UPDATE ("c") ON TABLE "s"."t" TO …;` for the columns in `need`
/// (MySQL: `` GRANT SELECT (`a`), … ON `s`.`t` TO 'u'@'h'; ``); `None` when it lists no
/// column. Identifiers come from the validated config and are checked again here.
pub fn table_grant(engine: Engine, need: &TableNeed, to: &Grantee) -> Option<String> {
    let all = need.select.iter().chain(&need.update);
    if [&need.schema, &need.table]
        .into_iter()
        .chain(all)
        .any(|i| !is_safe_identifier(i))
    {
        return None;
    }
    let mut parts = Vec::new();
    for (privilege, columns) in [("SELECT", &need.select), ("UPDATE", &need.update)] {
        if !columns.is_empty() {
            let cols: Vec<String> = columns.iter().map(|c| quote(engine, c)).collect();
            parts.push(format!("{privilege} ({})", cols.join(", ")));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let table = format!(
        "{}.{}",
        quote(engine, &need.schema),
        quote(engine, &need.table)
    );
    let on = match engine {
        Engine::Mysql => table,
        Engine::Postgres | Engine::Sqlite => format!("TABLE {table}"),
    };
    Some(format!(
        "GRANT {} ON {on} TO {};",
        parts.join(", "),
        to.as_str()
    ))
}

/// `ALTER ROLE … SET search_path = "s", public;` for a receipt table outside `public`.
pub fn search_path_statement(schema: &str, to: &Grantee) -> String {
    format!(
        "ALTER ROLE {} SET search_path = \"{schema}\", public;",
        to.as_str()
    )
}

/// What `writeback grants` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantsRequest<'a> {
    /// The schema (PostgreSQL, default `public`) or database (MySQL, default the one the
    /// source's capabilities use) holding the receipt table.
    pub schema: Option<&'a str>,
    pub writer: Option<&'a str>,
    pub reader: Option<&'a str>,
}

const RECEIPT_PRIVILEGES: [Privilege; 3] =
    [Privilege::Select, Privilege::Insert, Privilege::Update];

const SQLITE_TEXT: &str = "-- SQLite has no GRANT: access is the database file's permissions.
-- The writer (the OS user running `sluicegate apply`) needs read and write permission on the
-- file and write permission on its directory, where SQLite creates its journal.
-- The reader needs read permission on the file (and on its -wal and -shm files in WAL mode);
-- Sluicegate opens it read-only.
";

/// The complete, minimal grants of `engine`'s sources in `config`, each line ending in `\n`:
/// for the writer the receipt table and, per table its direct-SQL proposals write, the
/// columns it reads and writes; for the reader the columns its capabilities select. Without
/// a config (or without a source of `engine` in it) only the receipt table's grants.
pub fn grants(
    engine: Engine,
    config: Option<&Config>,
    request: &GrantsRequest<'_>,
) -> Result<String, ScriptError> {
    let schema = checked_schema(request.schema)?;
    if engine == Engine::Sqlite {
        return match schema {
            Some(_) => Err(ScriptError::SqliteSchema),
            None => Ok(SQLITE_TEXT.to_string()),
        };
    }
    let writer = Grantee::parse(engine, request.writer.unwrap_or(DEFAULT_WRITER))?;
    let reader = Grantee::parse(engine, request.reader.unwrap_or(DEFAULT_READER))?;
    let mut out = format!(
        "-- Sluicegate grants ({}): run as an admin after the receipt table's migration.\n",
        engine.as_str()
    );
    let sources: Vec<&str> = config
        .map(|c| {
            c.sources
                .values()
                .filter(|s| s.engine == engine)
                .map(|s| s.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let Some(config) = config.filter(|_| !sources.is_empty()) else {
        out.push_str(match config {
            None => "-- No config was read: only the receipt table's grants are listed; pass --config for the tables your capabilities read and write.\n",
            Some(_) => "-- The config has no source of this engine: only the receipt table's grants are listed.\n",
        });
        let receipts = schema.unwrap_or(match engine {
            Engine::Mysql => "<database_name>",
            _ => "public",
        });
        writer_section(&mut out, engine, receipts, &[], &writer);
        return Ok(out);
    };
    for source in sources {
        let written = writer_needs(config, source);
        let read = reader_needs(config, source, engine);
        let _ = writeln!(out, "-- Source {source}.");
        if !written.is_empty() {
            let receipts = schema.unwrap_or(match engine {
                Engine::Mysql => single_schema(&written).unwrap_or("<database_name>"),
                _ => "public",
            });
            writer_section(&mut out, engine, receipts, &written, &writer);
        }
        if !read.is_empty() {
            out.push_str("-- Reader (agent reads and proposals): the columns they select.\n");
            if engine == Engine::Mysql {
                out.push_str("-- (MySQL lists a column's type only to a user holding a privilege on it; proposals need the types of the columns they patch.)\n");
            }
            usage(
                &mut out,
                engine,
                read.iter().map(|n| n.schema.as_str()),
                &reader,
            );
            for need in &read {
                if let Some(line) = table_grant(engine, need, &reader) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    }
    Ok(out)
}

/// The one database every table in `needs` lives in, if they share one.
fn single_schema(needs: &[TableNeed]) -> Option<&str> {
    let first = needs.first()?.schema.as_str();
    needs
        .iter()
        .all(|n| n.schema == first)
        .then_some(first)
        .filter(|s| is_safe_identifier(s))
}

/// `GRANT USAGE` on each distinct schema (PostgreSQL only).
fn usage<'a>(
    out: &mut String,
    engine: Engine,
    schemas: impl Iterator<Item = &'a str>,
    to: &Grantee,
) {
    if engine != Engine::Postgres {
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    for s in schemas {
        if !seen.contains(&s) && is_safe_identifier(s) {
            seen.push(s);
            let _ = writeln!(out, "{}", usage_grant(s, to));
        }
    }
}

fn writer_section(
    out: &mut String,
    engine: Engine,
    receipts: &str,
    needs: &[TableNeed],
    writer: &Grantee,
) {
    out.push_str(
        "-- Writer (`sluicegate apply`): the receipt table, and the columns it locks, reads and writes.\n",
    );
    usage(
        out,
        engine,
        std::iter::once(receipts).chain(needs.iter().map(|n| n.schema.as_str())),
        writer,
    );
    let _ = writeln!(
        out,
        "{}",
        receipt_grant(engine, receipts, &RECEIPT_PRIVILEGES, writer)
    );
    if engine == Engine::Postgres && receipts != "public" {
        let _ = writeln!(out, "{}", search_path_statement(receipts, writer));
    }
    for need in needs {
        if let Some(line) = table_grant(engine, need, writer) {
            let _ = writeln!(out, "{line}");
        }
    }
}

#[cfg(test)]
mod tests;
