//! [`normalise`]: one proposed value in the exact form its column will store and read back,
//! or the reason the column cannot hold it.
//!
//! Nothing is left for the database to interpret: a timestamp needs its zone, a decimal must
//! fit the column's scale (it is never rounded), text must fit the column's length, and an
//! integer must be whole and in range. The normalised forms are the ones reads produce
//! (RFC 3339 UTC timestamps, exact decimal strings, big integers as strings), so the value a
//! reviewer approves is the value the row holds afterwards.

use serde_json::{Number, Value};

use super::parse::{format_utc, parse_date, parse_decimal, parse_timestamp};
use super::{ColumnInfo, ColumnType, Padding};
use crate::json::js_number;
use crate::refusal::Code;

/// Why a column cannot hold a value: the refusal code and a sentence for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueProblem {
    pub code: Code,
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> ValueProblem {
    ValueProblem {
        code: Code::PatchValueInvalid,
        reason: reason.into(),
    }
}

fn out_of_range(reason: impl Into<String>) -> ValueProblem {
    ValueProblem {
        code: Code::PatchValueOutOfRange,
        reason: reason.into(),
    }
}

fn too_long(reason: impl Into<String>) -> ValueProblem {
    ValueProblem {
        code: Code::PatchValueTooLong,
        reason: reason.into(),
    }
}

/// Integers JSON readers hold exactly; larger ones are written as strings, like reads do.
const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// `value` as column `info` will store it.
pub fn normalise(value: &Value, info: &ColumnInfo) -> Result<Value, ValueProblem> {
    if value.is_null() {
        return if info.nullable {
            Ok(Value::Null)
        } else {
            Err(ValueProblem {
                code: Code::PatchValueNullNotAllowed,
                reason: format!(
                    "the column is NOT NULL ({}); a value is required",
                    info.declared_type
                ),
            })
        };
    }
    match &info.column_type {
        ColumnType::Text {
            max_chars,
            max_bytes,
            padding,
        } => text(value, *max_chars, *max_bytes, *padding),
        ColumnType::Integer { min, max } => integer(value, *min, *max),
        ColumnType::Decimal { precision, scale } => {
            decimal(value, *precision, *scale, info.dynamic)
        }
        ColumnType::Float { single } => float(value, *single),
        ColumnType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(invalid("expected true or false")),
        },
        ColumnType::Date => date(value),
        ColumnType::Timestamp {
            precision, range, ..
        } => timestamp(value, *precision, *range, info.zone_offset),
        ColumnType::Json => Ok(value.clone()),
        ColumnType::Bytes => bytes(value),
        ColumnType::Other => Ok(value.clone()),
    }
}

fn text(
    value: &Value,
    max_chars: Option<u64>,
    max_bytes: Option<u64>,
    padding: Padding,
) -> Result<Value, ValueProblem> {
    let s = match value {
        Value::String(s) => s.clone(),
        // A number is text too, in the form every reader prints it.
        Value::Number(n) => js_number(n),
        _ => return Err(invalid("expected text")),
    };
    if s.contains('\0') {
        return Err(invalid("text must not contain NUL characters"));
    }
    let mut s = match padding {
        Padding::None => s,
        Padding::PadRight | Padding::TrimRight => s.trim_end_matches(' ').to_string(),
    };
    let chars = s.chars().count() as u64;
    if let Some(max) = max_chars.filter(|max| chars > *max) {
        return Err(too_long(format!(
            "{chars} characters, but the column holds at most {max}"
        )));
    }
    if let Some(max) = max_bytes.filter(|max| s.len() as u64 > *max) {
        return Err(too_long(format!(
            "{} bytes, but the column holds at most {max}",
            s.len()
        )));
    }
    if padding == Padding::PadRight
        && let Some(max) = max_chars
    {
        s.extend(std::iter::repeat_n(' ', (max - chars) as usize));
    }
    Ok(Value::String(s))
}

fn integer(value: &Value, min: i128, max: i128) -> Result<Value, ValueProblem> {
    let n: i128 = match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i128::from(i),
            (_, Some(u), _) => i128::from(u),
            // Whole floats below 2^63 are exact integers; anything else is not one.
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => f as i128,
            _ => {
                return Err(invalid(format!(
                    "expected a whole number, got {}",
                    js_number(n)
                )));
            }
        },
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("expected a whole number"));
            }
            s.parse::<i128>()
                .map_err(|_| out_of_range(format!("the column holds {min} to {max}")))?
        }
        _ => return Err(invalid("expected a whole number")),
    };
    if n < min || n > max {
        return Err(out_of_range(format!(
            "{n} is outside the column's range {min} to {max}"
        )));
    }
    Ok(if n.abs() <= MAX_SAFE_INTEGER {
        Value::from(n as i64)
    } else {
        Value::String(n.to_string())
    })
}

fn decimal(
    value: &Value,
    precision: Option<u32>,
    scale: Option<u32>,
    dynamic: bool,
) -> Result<Value, ValueProblem> {
    let parsed = match value {
        Value::Number(n) => parse_decimal(&js_number(n), true),
        Value::String(s) => parse_decimal(s, false),
        _ => None,
    }
    .ok_or_else(|| invalid("expected a decimal number such as 12.50"))?;
    let significant = parsed.significant_scale();
    if let Some(s) = scale.filter(|s| significant > *s) {
        return Err(invalid(format!(
            "{significant} decimal places, but the column keeps {s}; it would be rounded"
        )));
    }
    if let Some(p) = precision {
        let int_limit = p.saturating_sub(scale.unwrap_or(0));
        if parsed.integer_digits() > int_limit {
            return Err(out_of_range(format!(
                "{} digits before the point, but the column ({p} digits, {} after the point) holds at most {int_limit}",
                parsed.integer_digits(),
                scale.unwrap_or(0)
            )));
        }
    }
    let exact = parsed.with_scale(scale.unwrap_or(parsed.scale));
    if !dynamic {
        return Ok(Value::String(exact));
    }
    // SQLite keeps a NUMERIC value as an integer when it is whole and as a double otherwise,
    // and reads it back as that number.
    if let Ok(i) = exact.parse::<i64>() {
        return Ok(Value::from(i));
    }
    let f: f64 = exact
        .parse()
        .map_err(|_| out_of_range("the number is too large"))?;
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| out_of_range("the number is too large"))
}

fn float(value: &Value, single: bool) -> Result<Value, ValueProblem> {
    let Some(f) = value.as_f64() else {
        return Err(invalid("expected a number"));
    };
    if !single {
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| invalid("expected a finite number"));
    }
    let narrow = f as f32;
    if !narrow.is_finite() {
        return Err(out_of_range("the number is too large for a 4-byte float"));
    }
    // What the column keeps is the nearest 4-byte float, which reads back in its shortest
    // decimal form.
    narrow
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| invalid("expected a finite number"))
}

fn date(value: &Value) -> Result<Value, ValueProblem> {
    let text = value.as_str().unwrap_or_default();
    match parse_date(text) {
        Some(_) => Ok(Value::String(text.to_string())),
        None => Err(invalid("expected a date written YYYY-MM-DD")),
    }
}

fn timestamp(
    value: &Value,
    precision: Option<u32>,
    range: Option<(i64, i64)>,
    zone_offset: Option<i32>,
) -> Result<Value, ValueProblem> {
    let Some(parsed) = value.as_str().and_then(parse_timestamp) else {
        return Err(invalid(
            "expected an RFC 3339 timestamp such as 2026-06-20T14:31:08Z; words like now or yesterday are not accepted",
        ));
    };
    let keeps = precision.unwrap_or(6);
    if parsed.fraction_digits > keeps {
        return Err(invalid(format!(
            "{} fractional-second digits, but the column keeps {keeps}; it would be rounded",
            parsed.fraction_digits
        )));
    }
    let Some(utc) = parsed.utc(zone_offset) else {
        return Err(invalid(
            "the timestamp has no time zone; add Z or an offset such as +02:00",
        ));
    };
    if let Some((lo, hi)) = range {
        let secs = utc.and_utc().timestamp();
        if secs < lo || secs > hi {
            return Err(out_of_range(format!(
                "the column holds {} to {}",
                bound(lo),
                bound(hi)
            )));
        }
    }
    Ok(Value::String(format_utc(utc)))
}

fn bound(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| format_utc(t.naive_utc()))
        .unwrap_or_else(|| secs.to_string())
}

fn bytes(value: &Value) -> Result<Value, ValueProblem> {
    let hex = value
        .as_str()
        .and_then(|s| s.strip_prefix("\\x"))
        .filter(|h| h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    match hex {
        Some(h) => Ok(Value::String(format!("\\x{}", h.to_ascii_lowercase()))),
        None => Err(invalid(
            "expected binary data written as \\x followed by hex digits",
        )),
    }
}
