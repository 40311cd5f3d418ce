//! Column types of a target table, read from catalog tables a SELECT-only user can read
//! (PostgreSQL `pg_catalog`, MySQL/MariaDB `information_schema.COLUMNS`, SQLite
//! `PRAGMA table_info`) into the pure [`TableColumns`] of `sluicegate-core`.
//!
//! [`crate::Sources::columns`] reads them once per source and table on a read connection;
//! the guarded writeback reads them again on its writer connection, inside its transaction,
//! because how it binds and compares values must follow the live table.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rusqlite::Connection;
use serde_json::Value;
use sluicegate_core::columns::{ColumnInfo, ColumnType, Padding, TableColumns};

use crate::error::{Redactor, SourceError, SourceErrorKind};
use crate::render::{self, Dialect};

/// `(schema, table)` checked like every identifier that reaches SQL, although here both are
/// bound as values.
fn check(d: Dialect, schema: &str, table: &str) -> Result<(), SourceError> {
    d.ident(schema)?;
    d.ident(table)?;
    Ok(())
}

/// PostgreSQL: the columns of `schema.table`.
pub(crate) async fn postgres(
    client: &tokio_postgres::Client,
    redactor: &Redactor,
    schema: &str,
    table: &str,
) -> Result<TableColumns, SourceError> {
    check(Dialect::Postgres, schema, table)?;
    let (s, t) = (Value::from(schema), Value::from(table));
    let params = [
        crate::postgres::PgParam::Json(&s),
        crate::postgres::PgParam::Json(&t),
    ];
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = client
        .query(render::postgres::COLUMNS, &refs)
        .await
        .map_err(|e| crate::postgres::classify(&e, redactor))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let text = |i: usize| -> Result<String, SourceError> {
            row.try_get::<_, String>(i).map_err(|e| {
                SourceError::new(
                    SourceErrorKind::QueryFailed,
                    None,
                    redactor.scrub(&e.to_string()),
                )
            })
        };
        let nullable: bool = row.try_get(3).map_err(|e| {
            SourceError::new(
                SourceErrorKind::QueryFailed,
                None,
                redactor.scrub(&e.to_string()),
            )
        })?;
        out.push(pg_column(&text(0)?, &text(1)?, &text(2)?, nullable));
    }
    Ok(TableColumns::new(out))
}

/// The number(s) in the first `(…)` of a type spelling: `numeric(10,2)` → `[10, 2]`.
fn modifiers(formatted: &str) -> Vec<u64> {
    formatted
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn narrow(n: Option<u64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

fn integer(bits: u32, unsigned: bool) -> ColumnType {
    if unsigned {
        ColumnType::Integer {
            min: 0,
            max: (1_i128 << bits) - 1,
        }
    } else {
        ColumnType::Integer {
            min: -(1_i128 << (bits - 1)),
            max: (1_i128 << (bits - 1)) - 1,
        }
    }
}

/// One PostgreSQL column from its base type name and `format_type` spelling.
pub(crate) fn pg_column(name: &str, base: &str, formatted: &str, nullable: bool) -> ColumnInfo {
    let m = modifiers(formatted);
    let text = |max: Option<u64>, padding| ColumnType::Text {
        max_chars: max,
        max_bytes: None,
        padding,
    };
    let column_type = match base {
        "bool" => ColumnType::Boolean,
        "int2" => integer(16, false),
        "int4" => integer(32, false),
        "int8" => integer(64, false),
        "oid" => integer(32, true),
        "numeric" => ColumnType::Decimal {
            precision: narrow(m.first().copied()),
            // `numeric(p)` means scale 0; bare `numeric` has neither.
            scale: narrow(m.get(1).copied().or(m.first().map(|_| 0))),
        },
        "float4" => ColumnType::Float { single: true },
        "float8" => ColumnType::Float { single: false },
        "text" | "name" => text(None, Padding::None),
        "varchar" => text(m.first().copied(), Padding::None),
        // `character` without a length is `character(1)`.
        "bpchar" => text(Some(m.first().copied().unwrap_or(1)), Padding::PadRight),
        "date" => ColumnType::Date,
        "timestamp" | "timestamptz" => ColumnType::Timestamp {
            with_zone: base == "timestamptz",
            precision: narrow(m.first().copied()),
            range: None,
        },
        "json" | "jsonb" => ColumnType::Json,
        "bytea" => ColumnType::Bytes,
        _ => ColumnType::Other,
    };
    ColumnInfo {
        nullable,
        ..ColumnInfo::new(name, formatted, column_type)
    }
}

/// One row of `information_schema.COLUMNS`, as [`render::mysql::COLUMNS`] selects it.
#[derive(Debug, Clone, Default)]
pub(crate) struct MyColumn {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub nullable: bool,
    pub max_chars: Option<u64>,
    pub max_bytes: Option<u64>,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    pub datetime_precision: Option<u64>,
}

/// MySQL/MariaDB: the columns of `schema.table`.
pub(crate) async fn mysql(
    conn: &mut Conn,
    redactor: &Redactor,
    schema: &str,
    table: &str,
) -> Result<TableColumns, SourceError> {
    check(Dialect::Mysql, schema, table)?;
    let rows: Vec<mysql_async::Row> = conn
        .exec(render::mysql::COLUMNS, (schema, table))
        .await
        .map_err(|e| crate::mysql::classify(&e, redactor))?;
    let json = crate::mysql::json_columns(conn, schema, table).await;
    Ok(TableColumns::new(rows.into_iter().map(|row| {
        let values = row.unwrap();
        let text = |i: usize| match values.get(i) {
            Some(mysql_async::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        let number = |i: usize| match values.get(i) {
            Some(mysql_async::Value::Int(n)) => u64::try_from(*n).ok(),
            Some(mysql_async::Value::UInt(n)) => Some(*n),
            Some(mysql_async::Value::Bytes(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        };
        let c = MyColumn {
            name: text(0),
            data_type: text(1).to_ascii_lowercase(),
            column_type: text(2).to_ascii_lowercase(),
            nullable: text(3).eq_ignore_ascii_case("YES"),
            max_chars: number(4),
            max_bytes: number(5),
            precision: number(6),
            scale: number(7),
            datetime_precision: number(8),
        };
        let is_json = json.contains(&c.name);
        my_column(&c, is_json)
    })))
}

/// Unix seconds of `YYYY-01-01T00:00:00Z`-style bounds MySQL keeps.
const MY_DATETIME_RANGE: (i64, i64) = (-30_610_224_000, 253_402_300_799);
const MY_TIMESTAMP_RANGE: (i64, i64) = (1, 2_147_483_647);

/// One MySQL/MariaDB column. `is_json` marks MariaDB's JSON, a `LONGTEXT` with a
/// `json_valid` check.
pub(crate) fn my_column(c: &MyColumn, is_json: bool) -> ColumnInfo {
    let unsigned = c.column_type.contains("unsigned");
    let text = |max_chars, max_bytes, padding| ColumnType::Text {
        max_chars,
        max_bytes,
        padding,
    };
    let column_type = match c.data_type.as_str() {
        // TINYINT(1) is how both engines spell BOOLEAN, and how reads decode it.
        "tinyint" if c.column_type.starts_with("tinyint(1)") => ColumnType::Boolean,
        "tinyint" => integer(8, unsigned),
        "smallint" => integer(16, unsigned),
        "mediumint" => integer(24, unsigned),
        "int" | "integer" => integer(32, unsigned),
        "bigint" => integer(64, unsigned),
        "decimal" | "numeric" => ColumnType::Decimal {
            precision: narrow(c.precision),
            scale: narrow(c.scale),
        },
        "float" => ColumnType::Float { single: true },
        "double" | "real" => ColumnType::Float { single: false },
        "char" => text(c.max_chars, None, Padding::TrimRight),
        "varchar" => text(c.max_chars, None, Padding::None),
        _ if is_json => ColumnType::Json,
        // TEXT types are limited in bytes.
        "tinytext" | "text" | "mediumtext" | "longtext" => text(None, c.max_bytes, Padding::None),
        "date" => ColumnType::Date,
        "datetime" | "timestamp" => ColumnType::Timestamp {
            with_zone: c.data_type == "timestamp",
            precision: narrow(c.datetime_precision).or(Some(0)),
            range: Some(if c.data_type == "timestamp" {
                MY_TIMESTAMP_RANGE
            } else {
                MY_DATETIME_RANGE
            }),
        },
        "json" => ColumnType::Json,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            ColumnType::Bytes
        }
        _ => ColumnType::Other,
    };
    ColumnInfo {
        nullable: c.nullable,
        ..ColumnInfo::new(&c.name, &c.column_type, column_type)
    }
}

/// SQLite: the columns of `schema.table` (run on a blocking thread by the caller).
pub(crate) fn sqlite(
    conn: &Connection,
    redactor: &Redactor,
    schema: &str,
    table: &str,
) -> Result<TableColumns, SourceError> {
    check(Dialect::Sqlite, schema, table)?;
    let err = |e: rusqlite::Error| crate::sqlite::classify(&e, redactor);
    let mut stmt = conn.prepare_cached(render::sqlite::COLUMNS).map_err(err)?;
    let rows = stmt
        .query_map([table, schema], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, decl, not_null) = row.map_err(err)?;
        out.push(lite_column(&name, &decl, not_null != 0));
    }
    Ok(TableColumns::new(out))
}

/// One SQLite column from its declared type, following SQLite's affinity rules where they
/// decide what a value reads back as, and the declared length where one is given.
pub(crate) fn lite_column(name: &str, decl: &str, not_null: bool) -> ColumnInfo {
    let upper = decl.to_ascii_uppercase();
    let has = |word: &str| upper.contains(word);
    let m = modifiers(&upper);
    let column_type = if has("BOOL") {
        ColumnType::Boolean
    } else if has("INT") {
        ColumnType::Integer {
            min: i128::from(i64::MIN),
            max: i128::from(i64::MAX),
        }
    } else if has("JSON") {
        ColumnType::Json
    } else if has("DATETIME") || has("TIMESTAMP") {
        ColumnType::Timestamp {
            with_zone: false,
            precision: None,
            range: None,
        }
    } else if has("DATE") {
        ColumnType::Date
    } else if has("CHAR") || has("CLOB") || has("TEXT") {
        ColumnType::Text {
            max_chars: m.first().copied(),
            max_bytes: None,
            padding: Padding::None,
        }
    } else if has("BLOB") {
        ColumnType::Bytes
    } else if has("REAL") || has("FLOA") || has("DOUB") {
        ColumnType::Float { single: false }
    } else if has("DEC") || has("NUMERIC") {
        ColumnType::Decimal {
            precision: narrow(m.first().copied()),
            scale: narrow(m.get(1).copied().or(m.first().map(|_| 0))),
        }
    } else {
        ColumnType::Other
    };
    ColumnInfo {
        nullable: !not_null,
        dynamic: true,
        ..ColumnInfo::new(name, decl, column_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_types() {
        let t = |base: &str, formatted: &str| pg_column("c", base, formatted, true).column_type;
        assert_eq!(t("int2", "smallint"), integer(16, false));
        assert_eq!(
            t("int4", "integer"),
            ColumnType::Integer {
                min: -2_147_483_648,
                max: 2_147_483_647
            }
        );
        assert_eq!(
            t("numeric", "numeric(10,2)"),
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(
            t("numeric", "numeric(7)"),
            ColumnType::Decimal {
                precision: Some(7),
                scale: Some(0)
            }
        );
        assert_eq!(
            t("numeric", "numeric"),
            ColumnType::Decimal {
                precision: None,
                scale: None
            }
        );
        assert_eq!(
            t("varchar", "character varying(10)"),
            ColumnType::Text {
                max_chars: Some(10),
                max_bytes: None,
                padding: Padding::None
            }
        );
        assert_eq!(
            t("bpchar", "character(5)"),
            ColumnType::Text {
                max_chars: Some(5),
                max_bytes: None,
                padding: Padding::PadRight
            }
        );
        assert_eq!(
            t("timestamptz", "timestamp(3) with time zone"),
            ColumnType::Timestamp {
                with_zone: true,
                precision: Some(3),
                range: None
            }
        );
        assert_eq!(
            t("timestamp", "timestamp without time zone"),
            ColumnType::Timestamp {
                with_zone: false,
                precision: None,
                range: None
            }
        );
        assert_eq!(t("jsonb", "jsonb"), ColumnType::Json);
        assert_eq!(t("bytea", "bytea"), ColumnType::Bytes);
        assert_eq!(t("uuid", "uuid"), ColumnType::Other);
        assert!(!pg_column("c", "text", "text", false).nullable);
    }

    #[test]
    fn mysql_types() {
        let t = |data_type: &str, column_type: &str| {
            my_column(
                &MyColumn {
                    name: "c".into(),
                    data_type: data_type.into(),
                    column_type: column_type.into(),
                    nullable: true,
                    max_chars: Some(10),
                    max_bytes: Some(40),
                    precision: Some(10),
                    scale: Some(2),
                    datetime_precision: Some(3),
                },
                false,
            )
            .column_type
        };
        assert_eq!(t("tinyint", "tinyint(1)"), ColumnType::Boolean);
        assert_eq!(
            t("tinyint", "tinyint(3) unsigned"),
            ColumnType::Integer { min: 0, max: 255 }
        );
        assert_eq!(
            t("mediumint", "mediumint(9)"),
            ColumnType::Integer {
                min: -8_388_608,
                max: 8_388_607
            }
        );
        assert_eq!(
            t("bigint", "bigint(20) unsigned"),
            ColumnType::Integer {
                min: 0,
                max: i128::from(u64::MAX)
            }
        );
        assert_eq!(
            t("decimal", "decimal(10,2)"),
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(
            t("char", "char(10)"),
            ColumnType::Text {
                max_chars: Some(10),
                max_bytes: None,
                padding: Padding::TrimRight
            }
        );
        assert_eq!(
            t("text", "text"),
            ColumnType::Text {
                max_chars: None,
                max_bytes: Some(40),
                padding: Padding::None
            }
        );
        assert_eq!(
            t("timestamp", "timestamp(3)"),
            ColumnType::Timestamp {
                with_zone: true,
                precision: Some(3),
                range: Some(MY_TIMESTAMP_RANGE)
            }
        );
        assert_eq!(t("varbinary", "varbinary(8)"), ColumnType::Bytes);
        assert_eq!(t("enum", "enum('a','b')"), ColumnType::Other);
        let json = my_column(
            &MyColumn {
                name: "j".into(),
                data_type: "longtext".into(),
                column_type: "longtext".into(),
                ..Default::default()
            },
            true,
        );
        assert_eq!(json.column_type, ColumnType::Json);
        assert!(!json.nullable);
    }

    #[test]
    fn sqlite_types() {
        let t = |decl: &str| lite_column("c", decl, false).column_type;
        assert_eq!(t("BOOLEAN"), ColumnType::Boolean);
        assert!(matches!(t("BIGINT"), ColumnType::Integer { .. }));
        assert!(matches!(t("DATETIME"), ColumnType::Timestamp { .. }));
        assert_eq!(t("date"), ColumnType::Date);
        assert_eq!(
            t("VARCHAR(10)"),
            ColumnType::Text {
                max_chars: Some(10),
                max_bytes: None,
                padding: Padding::None
            }
        );
        assert_eq!(
            t("DECIMAL(10,2)"),
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(t("REAL"), ColumnType::Float { single: false });
        assert_eq!(t("JSON"), ColumnType::Json);
        assert_eq!(t(""), ColumnType::Other);
        let c = lite_column("c", "TEXT", true);
        assert!(c.dynamic && !c.nullable);
    }
}
