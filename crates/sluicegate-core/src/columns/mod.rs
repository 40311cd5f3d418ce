//! Column types of a capability's target table, and the checks that make a proposal say
//! exactly what the guarded UPDATE will store.
//!
//! The types come from the source's catalog (`sluicegate-source` reads them once per source
//! and table) or from the capability's `column_types` in the config, which wins column by
//! column. [`normalise`] turns a proposed value into the exact form the column will hold, or
//! explains why the column cannot hold it; [`check_proposal`] applies it to a whole patch, then
//! refuses a patch that changes nothing and a version column Sluicegate could not advance.

mod normalise;
mod parse;

use indexmap::IndexMap;
use serde_json::Value;

use crate::config::{Capability, MaintainedBy, PatchBinding};
use crate::evidence::Row;
use crate::refusal::{Code, Refusal};

pub use normalise::{ValueProblem, normalise};
pub use parse::{Timestamp, format_utc, parse_date, parse_timestamp};

/// What a column holds, as far as checking a proposed value needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    /// Character data. `max_chars` counts Unicode characters (what PostgreSQL and MySQL count),
    /// `max_bytes` the UTF-8 bytes where the engine also limits those (MySQL `TEXT`).
    Text {
        max_chars: Option<u64>,
        max_bytes: Option<u64>,
        padding: Padding,
    },
    /// Whole numbers between `min` and `max`, inclusive.
    Integer {
        min: i128,
        max: i128,
    },
    /// Exact decimals: at most `precision` digits, `scale` of them after the point.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// Binary floating point; `single` for 4-byte floats (PostgreSQL `real`, MySQL `FLOAT`).
    Float {
        single: bool,
    },
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A point in time. `with_zone` says whether the engine stores it as an instant
    /// (`timestamptz`, MySQL `TIMESTAMP`) rather than a wall-clock value; `precision` is the
    /// number of fractional-second digits kept (6 when unknown); `range` bounds it in Unix
    /// seconds where the engine does (MySQL).
    Timestamp {
        with_zone: bool,
        precision: Option<u32>,
        range: Option<(i64, i64)>,
    },
    /// JSON; a proposal can only carry a scalar, which is stored as that JSON value.
    Json,
    /// Binary data, written and read as `\x` followed by hex digits.
    Bytes,
    /// Anything else (uuid, enum, interval, …): values pass unchanged and the engine checks
    /// them when the UPDATE runs.
    Other,
}

/// How an engine treats trailing spaces of fixed-length `CHAR(n)` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Stored and read as given.
    None,
    /// PostgreSQL `char(n)`: padded with spaces to `n` characters, and read back padded.
    PadRight,
    /// MySQL `CHAR(n)`: read back without trailing spaces.
    TrimRight,
}

/// One column as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    /// The engine's spelling of the type (`character varying(10)`, `decimal(10,2)`, `TEXT`),
    /// shown in messages and used by the source layer to pick comparison forms.
    pub declared_type: String,
    pub column_type: ColumnType,
    pub nullable: bool,
    /// UTC offset in seconds in which a timestamp without a zone is read. Only a config
    /// declaration sets it; without it such a value is refused, because nobody can tell which
    /// instant it means.
    pub zone_offset: Option<i32>,
    /// SQLite: the declared type is only an affinity and every value carries its own storage
    /// class, so a version column is judged by the value it holds.
    pub dynamic: bool,
}

impl ColumnInfo {
    /// A column of `column_type`, nullable, with no zone and static typing.
    pub fn new(name: &str, declared_type: &str, column_type: ColumnType) -> ColumnInfo {
        ColumnInfo {
            name: name.to_string(),
            declared_type: declared_type.to_string(),
            column_type,
            nullable: true,
            zone_offset: None,
            dynamic: false,
        }
    }
}

/// The columns of one table, in table order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableColumns {
    columns: IndexMap<String, ColumnInfo>,
}

impl TableColumns {
    pub fn new(columns: impl IntoIterator<Item = ColumnInfo>) -> TableColumns {
        TableColumns {
            columns: columns.into_iter().map(|c| (c.name.clone(), c)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ColumnInfo> {
        self.columns.values()
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// These columns with `declared` (a capability's `column_types`) replacing or adding
    /// columns one by one: the reviewed config is the authority where it speaks.
    pub fn with_declared(&self, declared: &IndexMap<String, ColumnInfo>) -> TableColumns {
        let mut columns = self.columns.clone();
        for (name, info) in declared {
            let dynamic = columns.get(name).is_some_and(|c| c.dynamic);
            columns.insert(
                name.clone(),
                ColumnInfo {
                    dynamic: info.dynamic || dynamic,
                    ..info.clone()
                },
            );
        }
        TableColumns { columns }
    }
}

/// How the guarded UPDATE moves a version column forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAdvance {
    /// `+ 1`.
    Increment,
    /// The database clock, never earlier than one tick after the current value.
    Clock,
}

/// How Sluicegate can advance the version column `info`, whose current value is `current`.
/// Integers are incremented and timestamps follow the database clock; SQLite columns are
/// judged by the value they hold (an integer, or ISO-8601 text). Anything else cannot be
/// advanced, and the message says what to configure instead.
pub fn version_advance(info: &ColumnInfo, current: &Value) -> Result<VersionAdvance, String> {
    if info.dynamic {
        match current {
            Value::Number(n) if n.is_i64() || n.is_u64() => return Ok(VersionAdvance::Increment),
            Value::String(s) if parse::parse_timestamp_lenient(s).is_some() => {
                return Ok(VersionAdvance::Clock);
            }
            _ => {}
        }
    }
    match &info.column_type {
        ColumnType::Integer { .. } => Ok(VersionAdvance::Increment),
        ColumnType::Timestamp { .. } => Ok(VersionAdvance::Clock),
        _ => Err(format!(
            "the version column {} is {}; Sluicegate advances only timestamp or integer version columns. Set conflict_guard.maintained_by to \"app\" when a trigger or the app advances it{}",
            info.name,
            if info.declared_type.is_empty() {
                "untyped"
            } else {
                &info.declared_type
            },
            if info.dynamic {
                " (on SQLite a version column must hold an integer or ISO-8601 text, or be declared DATETIME or TIMESTAMP)"
            } else {
                ""
            }
        )),
    }
}

/// Whether a normalised new value equals the value the row already has in column `info`.
/// Numbers compare by value (`3` and `3.0`, or `"1.99"` and `"1.990"` in a decimal column,
/// are the same stored number); everything else exactly.
pub fn same_value(before: &Value, after: &Value, info: &ColumnInfo) -> bool {
    let numeric = matches!(
        info.column_type,
        ColumnType::Integer { .. } | ColumnType::Decimal { .. } | ColumnType::Float { .. }
    );
    if numeric && let (Some(a), Some(b)) = (exact_number(before), exact_number(after)) {
        return a == b;
    }
    match (before, after) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => a.as_f64() == b.as_f64(),
        },
        _ => before == after,
    }
}

/// A number or numeric string as an exact decimal without trailing fraction zeros.
fn exact_number(v: &Value) -> Option<String> {
    let d = match v {
        Value::Number(n) => parse::parse_decimal(&crate::json::js_number(n), true),
        Value::String(s) => parse::parse_decimal(s, false),
        _ => None,
    }?;
    Some(d.with_scale(d.significant_scale()))
}

/// Check a built patch against the table's columns: every value normalised to what its
/// column will store (the result replaces the patch, so the reviewer sees exactly that), a
/// patch that would change nothing refused, and, when Sluicegate writes the row itself and
/// maintains its version column, that column's type must be one it can advance.
pub fn check_proposal(
    cap: &Capability,
    before: &Row,
    patch: &Row,
    columns: &TableColumns,
) -> Result<Row, Refusal> {
    let columns = columns.with_declared(&cap.column_types);
    let mut out = Row::new();
    for (col, value) in patch {
        let Some(info) = columns.get(col) else {
            return Err(Refusal::new(
                Code::PatchColumnUnknown,
                format!(
                    "The type of patch column {col} is unknown: it is not in the table's catalog. Check the column name, grant the read user access to it, or declare it under column_types."
                ),
            ));
        };
        let normalised = normalise(value, info).map_err(|p| match cap.patch.get(col) {
            Some(PatchBinding::FromArg(arg)) => Refusal::new(
                p.code,
                format!("argument {arg} (column {col}): {}", p.reason),
            )
            .with_argument(arg.as_str()),
            _ => Refusal::new(
                p.code,
                format!("the fixed value of column {col}: {}", p.reason),
            ),
        })?;
        out.insert(col.clone(), normalised);
    }
    let unchanged = out.iter().all(|(col, new)| {
        let info = columns.get(col);
        before
            .get(col)
            .zip(info)
            .is_some_and(|(old, info)| same_value(old, new, info))
    });
    if unchanged {
        return Err(Refusal::new(
            Code::PatchNoChange,
            "The proposed values equal the row's current values; there is nothing to change.",
        ));
    }
    if let Some(guard) = &cap.conflict_guard
        && guard.maintained_by == MaintainedBy::Sluicegate
        && cap.executor_name() == "sql_update"
        && let Some(col) = &guard.column
        && let Some(current) = before.get(col)
    {
        let Some(info) = columns.get(col) else {
            return Err(Refusal::new(
                Code::PatchColumnUnknown,
                format!(
                    "The type of version column {col} is unknown, so Sluicegate cannot advance it. Declare it under column_types, or set conflict_guard.maintained_by to \"app\"."
                ),
            ));
        };
        version_advance(info, current)
            .map_err(|m| Refusal::new(Code::ConflictGuardNotAdvanceable, m))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
