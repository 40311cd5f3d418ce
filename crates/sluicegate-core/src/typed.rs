//! The types a capability's tools publish and check, taken from its target table's columns
//! (the source catalog, with the config's `column_types` winning column by column): the JSON
//! type of each argument a model sends, and of each value a read returns.
//!
//! An argument bound to a column (the lookup argument to the primary key, a `from_arg` patch
//! argument to its patch column) is typed from that column, by these rules:
//!
//! * a declared `enum` keeps the argument exactly as declared: the allowlist is stricter than
//!   any column type;
//! * an integer column makes a `string` or `number` argument an `integer` within the column's
//!   range (and, for a declared `max_length`, of at most that many characters); the runtime
//!   also accepts a string of digits (what older clients and prompts send) and binds the
//!   integer it spells;
//! * a date or timestamp column gives a `string` argument `format: date` / `date-time`
//!   (SQLite excepted: its columns hold whatever text was stored);
//! * a text column with a length gives a `string` argument `maxLength`, the smaller of the
//!   declared `max_length` and the column's (SQLite excepted: it does not enforce lengths);
//! * everything else stays as declared: a declared type is never widened, and where it does
//!   not fit the column (a `boolean` for an integer column) the declaration wins.
//!
//! Without column types (the catalog is unreadable and nothing is declared) every argument is
//! exactly as declared.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::columns::{ColumnInfo, ColumnType, TableColumns};
use crate::config::{ArgFormat, ArgSpec, ArgType, Capability, PatchBinding};

/// Integers every JSON reader holds exactly; wider integer columns may read back as strings.
const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// A capability's arguments and columns as its tools publish and check them.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    /// Every declared argument, in declared order, typed from its column where it has one.
    pub args: IndexMap<String, ArgSpec>,
    /// The target table's columns, the config's `column_types` included.
    pub columns: TableColumns,
}

impl Typed {
    /// Typed from `catalog` (the target table's columns as the source reports them; empty when
    /// unknown) and the capability's declared `column_types`.
    pub fn new(cap: &Capability, catalog: &TableColumns) -> Typed {
        let columns = catalog.with_declared(&cap.column_types);
        let args = cap
            .args
            .iter()
            .map(|(name, spec)| {
                let column = arg_column(cap, name).and_then(|c| columns.get(c));
                (name.clone(), typed_arg(spec, column))
            })
            .collect();
        Typed { args, columns }
    }

    /// Typed from the config alone (its `column_types`), for when the catalog is not known.
    pub fn declared(cap: &Capability) -> Typed {
        Typed::new(cap, &TableColumns::default())
    }
}

/// The column argument `arg` is bound to: the primary key for the lookup argument, else the
/// first patch column it fills.
pub fn arg_column<'a>(cap: &'a Capability, arg: &str) -> Option<&'a str> {
    if cap.lookup_arg == arg {
        return Some(&cap.target.primary_key);
    }
    cap.patch.iter().find_map(|(col, binding)| match binding {
        PatchBinding::FromArg(a) if a == arg => Some(col.as_str()),
        _ => None,
    })
}

/// `spec` typed from `column` by the rules of this module.
pub fn typed_arg(spec: &ArgSpec, column: Option<&ColumnInfo>) -> ArgSpec {
    let Some(col) = column else {
        return spec.clone();
    };
    if spec.enum_values.is_some() {
        return spec.clone();
    }
    let mut out = spec.clone();
    match (&col.column_type, spec.arg_type) {
        (ColumnType::Integer { min, max }, ArgType::String | ArgType::Number) => {
            out.arg_type = ArgType::Integer;
            // A declared length still holds: the integer's digits (and sign) fit in it.
            let (mut min, mut max) = (*min, *max);
            if let Some(n) = spec.max_length.filter(|n| *n <= 30) {
                let digits = 10_i128.pow(n as u32);
                max = max.min(digits - 1);
                min = min.max(-(digits / 10 - 1));
            }
            out.range = Some((min, max));
            out.max_length = None;
        }
        (ColumnType::Date, ArgType::String) if !col.dynamic => out.format = Some(ArgFormat::Date),
        (ColumnType::Timestamp { .. }, ArgType::String) if !col.dynamic => {
            out.format = Some(ArgFormat::DateTime);
        }
        (
            ColumnType::Text {
                max_chars: Some(n), ..
            },
            ArgType::String,
        ) if !col.dynamic => {
            out.max_length = Some(spec.max_length.map_or(*n, |m| m.min(*n)));
        }
        _ => {}
    }
    out
}

/// The JSON Schema of the values a read returns for column `info` (spec README §3.7: what the
/// source layer renders). Generous where an engine can return more than one JSON type: a
/// client that validates results must never refuse a real row. `None` (a column of unknown
/// type) allows any value.
pub fn value_schema(info: Option<&ColumnInfo>) -> Value {
    let Some(info) = info else {
        return json!({});
    };
    let (types, format): (&[&str], Option<&str>) = if info.dynamic {
        // SQLite keeps any value in any column; its declared type only says which storage
        // class a value is converted to when it can be.
        match &info.column_type {
            ColumnType::Text { .. } => (&["string"], None),
            ColumnType::Boolean => (&["boolean", "number", "string"], None),
            ColumnType::Integer { .. } | ColumnType::Decimal { .. } | ColumnType::Float { .. } => {
                (&["number", "string"], None)
            }
            ColumnType::Date | ColumnType::Timestamp { .. } => (&["string", "number"], None),
            ColumnType::Json | ColumnType::Bytes | ColumnType::Other => (&[], None),
        }
    } else {
        match &info.column_type {
            ColumnType::Text { .. } | ColumnType::Bytes => (&["string"], None),
            // Integers beyond ±2^53 read back as their decimal text.
            ColumnType::Integer { min, max }
                if *min >= -MAX_SAFE_INTEGER && *max <= MAX_SAFE_INTEGER =>
            {
                (&["integer"], None)
            }
            ColumnType::Integer { .. } => (&["integer", "string"], None),
            // Exact decimal text.
            ColumnType::Decimal { .. } => (&["string"], None),
            // NaN and the infinities read back as text.
            ColumnType::Float { .. } => (&["number", "string"], None),
            // MySQL's BOOLEAN is TINYINT(1), which can hold other small integers.
            ColumnType::Boolean if info.declared_type.starts_with("tinyint") => {
                (&["boolean", "integer"], None)
            }
            ColumnType::Boolean => (&["boolean"], None),
            ColumnType::Date => (&["string"], Some("date")),
            ColumnType::Timestamp { .. } => (&["string"], Some("date-time")),
            // JSON values of any shape; uuid, enum, interval, arrays and other types.
            ColumnType::Json | ColumnType::Other => (&[], None),
        }
    };
    let mut out = Map::new();
    if !types.is_empty() {
        let mut types: Vec<&str> = types.to_vec();
        if info.nullable {
            types.push("null");
        }
        out.insert(
            "type".into(),
            match types.as_slice() {
                [one] => json!(one),
                many => json!(many),
            },
        );
    }
    if let Some(f) = format {
        out.insert("format".into(), json!(f));
    }
    if !info.declared_type.is_empty() {
        out.insert("description".into(), json!(info.declared_type));
    }
    Value::Object(out)
}

/// `schema` that also allows `null` (for a value that may be absent).
pub fn or_null(schema: Value) -> Value {
    let Value::Object(mut m) = schema else {
        return schema;
    };
    match m.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = t.clone();
            m.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) if !types.contains(&json!("null")) => {
            types.push(json!("null"));
        }
        _ => {}
    }
    Value::Object(m)
}

#[cfg(test)]
#[path = "typed_tests.rs"]
mod tests;
