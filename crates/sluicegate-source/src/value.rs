//! Faithful JSON values shared by every engine (spec README §3.7).
//!
//! The values produced here feed hashes and the conflict guard, so they must never lose
//! information: integers outside the IEEE-754 safe range become strings, timestamps keep
//! their microseconds, and floats that JSON cannot hold become their text form.

use serde_json::{Number, Value};

/// `Number.MAX_SAFE_INTEGER`: the largest integer every JSON reader holds exactly.
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// An integer as a JSON number when it is safe, else as its decimal text.
pub(crate) fn int(i: i64) -> Value {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
        Value::from(i)
    } else {
        Value::String(i.to_string())
    }
}

/// An unsigned integer as a JSON number when it is safe, else as its decimal text.
pub(crate) fn uint(u: u64) -> Value {
    match i64::try_from(u) {
        Ok(i) => int(i),
        Err(_) => Value::String(u.to_string()),
    }
}

/// A double as a JSON number; NaN and the infinities (which JSON cannot hold) as the text
/// PostgreSQL prints for them.
pub(crate) fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// A single-precision float as the double with the same shortest decimal form: `0.1f32`
/// becomes `0.1`, not `0.10000000149011612`.
pub(crate) fn float32(f: f32) -> Value {
    if !f.is_finite() {
        return float(f64::from(f));
    }
    float(f.to_string().parse::<f64>().unwrap_or(f64::from(f)))
}

/// Bytes as `\x` followed by lowercase hex: PostgreSQL's `bytea` text form, used for binary
/// values on every engine so a blob reads the same wherever it lives.
pub(crate) fn bytes(b: &[u8]) -> Value {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    Value::String(s)
}

/// RFC 3339 UTC timestamp: milliseconds always, microseconds when there are any below the
/// millisecond, so `2026-06-20T14:31:08.000Z` and `2026-06-20T14:31:08.123456Z`.
pub(crate) fn timestamp(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
) -> String {
    let fraction = if micros.is_multiple_of(1000) {
        format!("{:03}", micros / 1000)
    } else {
        format!("{micros:06}")
    };
    format!(
        "{}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction}Z",
        year4(year)
    )
}

/// `YYYY-MM-DD`.
pub(crate) fn date(year: i32, month: u32, day: u32) -> String {
    format!("{}-{month:02}-{day:02}", year4(year))
}

/// `HH:MM:SS` with `.ffffff` only when there is a fraction. Hours may exceed 23 (PostgreSQL
/// `24:00:00`, MySQL durations) and a negative duration gets a leading `-`.
pub(crate) fn time_of_day(
    negative: bool,
    hours: u64,
    minute: u32,
    second: u32,
    micros: u32,
) -> String {
    let sign = if negative { "-" } else { "" };
    if micros == 0 {
        format!("{sign}{hours:02}:{minute:02}:{second:02}")
    } else {
        format!("{sign}{hours:02}:{minute:02}:{second:02}.{micros:06}")
    }
}

/// Four-digit years as is; years outside 0..=9999 with a sign, like ISO 8601 expanded years.
fn year4(year: i32) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:04}", -i64::from(year))
    } else {
        format!("+{year}")
    }
}

/// Parse text that a column declared as JSON holds; text that does not parse stays a string.
pub(crate) fn json_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_beyond_the_safe_range_are_strings() {
        assert_eq!(int(MAX_SAFE_INTEGER), json!(9007199254740991_i64));
        assert_eq!(int(-MAX_SAFE_INTEGER), json!(-9007199254740991_i64));
        assert_eq!(int(MAX_SAFE_INTEGER + 1), json!("9007199254740992"));
        assert_eq!(int(i64::MIN), json!("-9223372036854775808"));
        assert_eq!(uint(u64::MAX), json!("18446744073709551615"));
        assert_eq!(uint(7), json!(7));
    }

    #[test]
    fn floats() {
        assert_eq!(float(0.5), json!(0.5));
        assert_eq!(float(f64::NAN), json!("NaN"));
        assert_eq!(float(f64::INFINITY), json!("Infinity"));
        assert_eq!(float(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(float32(0.1), json!(0.1));
        assert_eq!(float32(f32::NEG_INFINITY), json!("-Infinity"));
    }

    #[test]
    fn times() {
        assert_eq!(
            timestamp(2026, 6, 20, 14, 31, 8, 0),
            "2026-06-20T14:31:08.000Z"
        );
        assert_eq!(
            timestamp(2026, 6, 20, 14, 31, 8, 123_000),
            "2026-06-20T14:31:08.123Z"
        );
        assert_eq!(
            timestamp(2026, 6, 20, 14, 31, 8, 123_456),
            "2026-06-20T14:31:08.123456Z"
        );
        assert_eq!(
            timestamp(12026, 1, 1, 0, 0, 0, 0),
            "+12026-01-01T00:00:00.000Z"
        );
        assert_eq!(date(2026, 6, 20), "2026-06-20");
        assert_eq!(time_of_day(false, 24, 0, 0, 0), "24:00:00");
        assert_eq!(time_of_day(true, 838, 59, 59, 500_000), "-838:59:59.500000");
    }

    #[test]
    fn bytes_and_json() {
        assert_eq!(bytes(&[0, 0xab, 0xff]), json!("\\x00abff"));
        assert_eq!(json_text(r#"{"b":1,"a":[2]}"#), json!({"b":1,"a":[2]}));
        assert_eq!(json_text("not json"), json!("not json"));
    }
}
