//! The guarded UPDATE as it runs, decided under the row lock from the table's live columns:
//! whether and how the version column is advanced, which columns of the reviewed row the
//! WHERE clause compares, and how every value is bound so that it means, in SQL, exactly
//! what the reviewer saw.
//!
//! * A version guard maintained by Sluicegate advances the version column in the same UPDATE
//!   (clock for timestamps, `+ 1` for integers): otherwise two proposals made from one read
//!   both match the version and the second silently overwrites the first.
//! * A row-hash guard compares every captured column of the reviewed `before` row in SQL, in
//!   addition to the hash check on the locked row.
//! * Each approved patch value must still be what its column stores; a value the column
//!   would reinterpret (round, truncate, re-zone) fails the write instead.

use serde_json::Value;
use sluicegate_core::columns::{
    ColumnInfo, ColumnType, TableColumns, VersionAdvance, normalise, version_advance,
};
use sluicegate_core::config::MaintainedBy;

use super::writer::Native;
use super::{ConflictCheck, GuardedUpdate, Prepared, WriteOutcome, dialect};
use crate::render::{self, Advance, Compare, Dialect, TextShape, Update};

/// A value to bind, with the live column it goes into (when the catalog shows it).
#[derive(Debug, Clone)]
pub(super) struct Typed {
    pub value: Value,
    pub info: Option<ColumnInfo>,
    /// Bound for a comparison rather than written: JSON NULL then binds as JSON `null`.
    pub compare: bool,
}

/// Why a plan cannot be carried out: a safe error code and the detail for operators. The
/// write fails and the transaction is rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlanFailure {
    pub code: &'static str,
    pub detail: String,
}

impl PlanFailure {
    fn new(code: &'static str, detail: impl Into<String>) -> PlanFailure {
        PlanFailure {
            code,
            detail: detail.into(),
        }
    }

    pub(super) fn outcome(self) -> WriteOutcome {
        WriteOutcome::failed(self.code, Some(self.detail))
    }
}

/// The final UPDATE text and its typed values.
#[derive(Debug, Clone)]
pub(super) struct GuardPlan {
    pub sql: String,
    pub set: Vec<Typed>,
    pub compare: Vec<Typed>,
}

/// Plan the UPDATE of `u` on the locked row `row` (decoded like a read; `native` is the
/// version value as stored).
pub(super) fn plan(
    u: &GuardedUpdate,
    p: &Prepared<'_>,
    columns: &TableColumns,
    row: &sluicegate_core::evidence::Row,
    native: Option<&Native>,
) -> Result<GuardPlan, PlanFailure> {
    let d = dialect(u.engine);
    let mut set = Vec::with_capacity(u.patch.len());
    for (col, value) in &u.patch {
        let info = columns.get(col);
        if let Some(info) = info {
            check_approved(col, value, info)?;
        }
        set.push(Typed {
            value: value.clone(),
            info: info.cloned(),
            compare: false,
        });
    }
    let advance = match &u.conflict {
        // A patch that sets the version column itself writes the approved value instead.
        ConflictCheck::Version {
            column,
            maintained_by: MaintainedBy::Sluicegate,
            ..
        } if !u.patch.contains_key(column) => Some((
            column.as_str(),
            advance_for(d, column, columns, row, native)?,
        )),
        _ => None,
    };
    let mut compare_columns = Vec::new();
    let mut compare = Vec::new();
    if let ConflictCheck::RowHash { before, .. } = &u.conflict {
        for (col, value) in before {
            if *col == u.primary_key.0 || col == p.tenant.0 {
                continue;
            }
            let info = columns.get(col);
            compare_columns.push((col.as_str(), compare_for(d, info)));
            compare.push(Typed {
                value: value.clone(),
                info: info.cloned(),
                compare: true,
            });
        }
    }
    let names: Vec<&str> = u.patch.keys().map(String::as_str).collect();
    let sql = render::update(
        d,
        &Update {
            schema: &u.schema,
            table: &u.table,
            set: &names,
            key: &u.primary_key.0,
            tenant: p.tenant.0,
            version: p.version,
            advance,
            compare: &compare_columns,
        },
    )
    .map_err(|e| PlanFailure::new("TRANSACTION_FAILED", e.to_string()))?;
    Ok(GuardPlan { sql, set, compare })
}

/// The approved value must be exactly what the live column stores: normalising it again
/// must change nothing. A proposal made before the column was altered, or from a config
/// whose declared type disagrees with the table, fails here instead of being reinterpreted.
fn check_approved(col: &str, value: &Value, info: &ColumnInfo) -> Result<(), PlanFailure> {
    match normalise(value, info) {
        Ok(stored) if stored == *value => Ok(()),
        Ok(stored) => Err(PlanFailure::new(
            "PATCH_VALUE_INVALID",
            format!(
                "the approved value of {col} would be stored as {stored}, not as approved; propose it again"
            ),
        )),
        Err(problem) => Err(PlanFailure::new(
            problem.code.as_str(),
            format!(
                "the approved value of {col} does not fit the column: {}",
                problem.reason
            ),
        )),
    }
}

fn advance_for(
    d: Dialect,
    column: &str,
    columns: &TableColumns,
    row: &sluicegate_core::evidence::Row,
    native: Option<&Native>,
) -> Result<Advance, PlanFailure> {
    let not_advanceable = |m: String| PlanFailure::new("CONFLICT_GUARD_NOT_ADVANCEABLE", m);
    let Some(info) = columns.get(column) else {
        return Err(not_advanceable(format!(
            "the version column {column} is not in the table's catalog; set conflict_guard.maintained_by to \"app\" if the app advances it"
        )));
    };
    let current = row.get(column).cloned().unwrap_or(Value::Null);
    match version_advance(info, &current).map_err(not_advanceable)? {
        VersionAdvance::Increment => Ok(Advance::Increment),
        VersionAdvance::Clock if d == Dialect::Sqlite => {
            let shape = match native {
                Some(Native::Sqlite(rusqlite::types::Value::Text(t))) => TextShape::of(t),
                _ => None,
            };
            Ok(Advance::SqliteClock(shape.unwrap_or(TextShape::DEFAULT)))
        }
        VersionAdvance::Clock => match info.column_type {
            ColumnType::Timestamp {
                with_zone,
                precision,
                ..
            } => Ok(Advance::Clock {
                with_zone,
                precision: precision.unwrap_or(6),
            }),
            _ => Err(not_advanceable(format!(
                "the version column {column} is not a timestamp column"
            ))),
        },
    }
}

/// How the row-hash guard compares a column of type `info` on `d`.
pub(super) fn compare_for(d: Dialect, info: Option<&ColumnInfo>) -> Compare {
    let Some(info) = info else {
        return Compare::Plain;
    };
    let declared = info.declared_type.to_ascii_lowercase();
    match (d, &info.column_type) {
        (_, ColumnType::Json) => Compare::Json {
            native: declared == "json",
        },
        // Read through `::text`, so compared as that text.
        (Dialect::Postgres, ColumnType::Bytes) => Compare::Text,
        // `time` decodes natively; uuid, enums, inet, interval, timetz, … as their text.
        (Dialect::Postgres, ColumnType::Other)
            if !declared.starts_with("time") || declared.contains("with time zone") =>
        {
            Compare::Text
        }
        (Dialect::Mysql, ColumnType::Text { .. }) => Compare::Text,
        (Dialect::Mysql, ColumnType::Other)
            if declared.starts_with("enum") || declared.starts_with("set") =>
        {
            Compare::Text
        }
        (
            Dialect::Mysql,
            ColumnType::Decimal {
                precision: Some(precision),
                scale: Some(scale),
            },
        ) => Compare::Decimal {
            precision: *precision,
            scale: *scale,
        },
        (Dialect::Sqlite, ColumnType::Text { .. }) => Compare::Text,
        // Read as RFC 3339 UTC milliseconds whatever text shape it is stored in.
        (Dialect::Sqlite, ColumnType::Timestamp { .. }) => Compare::Timestamp,
        _ => Compare::Plain,
    }
}

/// Values bound per engine and column type. Normalised values are text for PostgreSQL, which
/// parses them as the column's type; MySQL gets native temporal and integer values (it would
/// otherwise compare strings and numbers as doubles); JSON goes as its JSON text everywhere.
pub(super) mod bind {
    use chrono::{Datelike, Timelike};
    use rusqlite::types::Value as Lite;
    use serde_json::Value;
    use sluicegate_core::columns::{ColumnType, parse_timestamp};
    use sluicegate_core::json::canonical;

    use super::Typed;
    use crate::{mysql, sqlite};

    fn json_text(t: &Typed) -> Option<Value> {
        match (&t.info, &t.value) {
            (Some(info), v) if info.column_type == ColumnType::Json => {
                if v.is_null() && !t.compare {
                    Some(Value::Null)
                } else {
                    Some(Value::String(canonical(v)))
                }
            }
            _ => None,
        }
    }

    fn hex_bytes(t: &Typed) -> Option<Vec<u8>> {
        let info = t.info.as_ref()?;
        if info.column_type != ColumnType::Bytes {
            return None;
        }
        let hex = t.value.as_str()?.strip_prefix("\\x")?;
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect()
    }

    /// PostgreSQL: the value sent as text.
    pub(in crate::writeback) fn pg(t: &Typed) -> Value {
        json_text(t).unwrap_or_else(|| t.value.clone())
    }

    /// MySQL/MariaDB.
    pub(in crate::writeback) fn my(t: &Typed) -> mysql_async::Value {
        if let Some(v) = json_text(t) {
            return mysql::param(&v);
        }
        if let Some(b) = hex_bytes(t) {
            return mysql_async::Value::Bytes(b);
        }
        let kind = t.info.as_ref().map(|i| &i.column_type);
        match (kind, &t.value) {
            (Some(ColumnType::Timestamp { .. } | ColumnType::Date), Value::String(s)) => {
                temporal(s).unwrap_or_else(|| mysql::param(&t.value))
            }
            (Some(ColumnType::Integer { .. }), Value::String(s)) => {
                match (s.parse::<i64>(), s.parse::<u64>()) {
                    (Ok(i), _) => mysql_async::Value::Int(i),
                    (_, Ok(u)) => mysql_async::Value::UInt(u),
                    _ => mysql::param(&t.value),
                }
            }
            _ => mysql::param(&t.value),
        }
    }

    /// A date or an RFC 3339 UTC timestamp as MySQL's own temporal value (reads present
    /// zone-less values as UTC, so those are taken as UTC too).
    fn temporal(s: &str) -> Option<mysql_async::Value> {
        if let Some(d) = sluicegate_core::columns::parse_date(s) {
            return Some(mysql_async::Value::Date(
                u16::try_from(d.year()).ok()?,
                u8::try_from(d.month()).ok()?,
                u8::try_from(d.day()).ok()?,
                0,
                0,
                0,
                0,
            ));
        }
        let t = parse_timestamp(s)?.utc(Some(0))?;
        Some(mysql_async::Value::Date(
            u16::try_from(t.year()).ok()?,
            u8::try_from(t.month()).ok()?,
            u8::try_from(t.day()).ok()?,
            u8::try_from(t.hour()).ok()?,
            u8::try_from(t.minute()).ok()?,
            u8::try_from(t.second()).ok()?,
            t.nanosecond() / 1000,
        ))
    }

    /// SQLite.
    pub(in crate::writeback) fn lite(t: &Typed) -> Lite {
        if let Some(v) = json_text(t) {
            return sqlite::param(&v);
        }
        if let Some(b) = hex_bytes(t) {
            return Lite::Blob(b);
        }
        // Integers beyond 2^53 are read as strings; bind them as the integers they are.
        if let (Some(ColumnType::Integer { .. }), Value::String(s)) =
            (t.info.as_ref().map(|i| &i.column_type), &t.value)
            && let Ok(i) = s.parse::<i64>()
        {
            return Lite::Integer(i);
        }
        sqlite::param(&t.value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluicegate_core::columns::{ColumnInfo, ColumnType, Padding};

    use super::*;

    fn info(declared: &str, column_type: ColumnType) -> Option<ColumnInfo> {
        Some(ColumnInfo::new("c", declared, column_type))
    }

    #[test]
    fn comparison_forms() {
        let text = ColumnType::Text {
            max_chars: None,
            max_bytes: None,
            padding: Padding::None,
        };
        assert_eq!(
            compare_for(Dialect::Mysql, info("varchar(10)", text.clone()).as_ref()),
            Compare::Text
        );
        assert_eq!(
            compare_for(Dialect::Postgres, info("text", text.clone()).as_ref()),
            Compare::Plain
        );
        assert_eq!(
            compare_for(Dialect::Sqlite, info("TEXT", text).as_ref()),
            Compare::Text
        );
        assert_eq!(
            compare_for(Dialect::Postgres, info("uuid", ColumnType::Other).as_ref()),
            Compare::Text
        );
        assert_eq!(
            compare_for(
                Dialect::Postgres,
                info("time without time zone", ColumnType::Other).as_ref()
            ),
            Compare::Plain
        );
        assert_eq!(
            compare_for(
                Dialect::Postgres,
                info("time with time zone", ColumnType::Other).as_ref()
            ),
            Compare::Text
        );
        assert_eq!(
            compare_for(Dialect::Mysql, info("json", ColumnType::Json).as_ref()),
            Compare::Json { native: true }
        );
        assert_eq!(
            compare_for(Dialect::Mysql, info("longtext", ColumnType::Json).as_ref()),
            Compare::Json { native: false }
        );
        assert_eq!(
            compare_for(
                Dialect::Mysql,
                info(
                    "decimal(10,2)",
                    ColumnType::Decimal {
                        precision: Some(10),
                        scale: Some(2)
                    }
                )
                .as_ref()
            ),
            Compare::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(compare_for(Dialect::Mysql, None), Compare::Plain);
    }

    #[test]
    fn typed_binding() {
        let ts = ColumnType::Timestamp {
            with_zone: false,
            precision: Some(6),
            range: None,
        };
        let t = |value: Value, info: Option<ColumnInfo>, compare: bool| Typed {
            value,
            info,
            compare,
        };
        assert_eq!(
            bind::my(&t(
                json!("2026-06-20T14:31:08.123456Z"),
                info("datetime(6)", ts),
                false
            )),
            mysql_async::Value::Date(2026, 6, 20, 14, 31, 8, 123_456)
        );
        assert_eq!(
            bind::my(&t(
                json!("2026-06-20"),
                info("date", ColumnType::Date),
                false
            )),
            mysql_async::Value::Date(2026, 6, 20, 0, 0, 0, 0)
        );
        let big = ColumnType::Integer {
            min: 0,
            max: i128::from(u64::MAX),
        };
        assert_eq!(
            bind::my(&t(
                json!("18446744073709551615"),
                info("bigint unsigned", big),
                false
            )),
            mysql_async::Value::UInt(u64::MAX)
        );
        assert_eq!(
            bind::pg(&t(json!("x"), info("jsonb", ColumnType::Json), false)),
            json!("\"x\"")
        );
        assert_eq!(
            bind::pg(&t(Value::Null, info("jsonb", ColumnType::Json), false)),
            Value::Null
        );
        assert_eq!(
            bind::pg(&t(Value::Null, info("jsonb", ColumnType::Json), true)),
            json!("null")
        );
        assert_eq!(
            bind::lite(&t(json!("\\x00ff"), info("BLOB", ColumnType::Bytes), false)),
            rusqlite::types::Value::Blob(vec![0, 255])
        );
        assert_eq!(bind::pg(&t(json!("1.99"), None, true)), json!("1.99"));
    }
}
