//! Writeback rules that need no I/O: version comparison, result hashes, jobs built from
//! approved proposals, the tamper checks against the reviewed config, and receipts.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde_json::{Value, json};

use crate::json::{js_string, sha256_hex};

/// Normalise a version value for comparison (writeback.md §A.6): timestamps in any of the
/// usual spellings become `YYYY-MM-DD HH:MM:SS.ffffff` in UTC; anything else is trimmed text.
pub fn normalize_version(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        other => js_string(other),
    };
    let text = text.trim();
    normalize_timestamp(text).unwrap_or_else(|| text.to_string())
}

fn normalize_timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // Date, a `T` or space, then time: anything shorter is not a timestamp.
    if bytes.len() < 19 || !(bytes[10] == b'T' || bytes[10] == b't' || bytes[10] == b' ') {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let rest = &rest[1..];
    let (time, offset) = split_offset(rest)?;
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f))
            if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (hms, f)
        }
        Some(_) => return None,
        None => (time, ""),
    };
    let mut micros = fraction.to_string();
    micros.truncate(6);
    while micros.len() < 6 {
        micros.push('0');
    }
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date} {hms}"), "%Y-%m-%d %H:%M:%S").ok()?;
    let utc = match offset {
        None => naive,
        Some(off) => {
            let dt: DateTime<FixedOffset> =
                DateTime::parse_from_str(&format!("{date} {hms} {off}"), "%Y-%m-%d %H:%M:%S %#z")
                    .ok()?;
            dt.with_timezone(&Utc).naive_utc()
        }
    };
    Some(format!("{}.{micros}", utc.format("%Y-%m-%d %H:%M:%S")))
}

/// Split `HH:MM:SS[.f]` from a trailing `Z` or `±HH[[:]MM]` offset. `Z` means no shift.
fn split_offset(rest: &str) -> Option<(&str, Option<&str>)> {
    if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        return Some((t, None));
    }
    match rest.rfind(['+', '-']) {
        Some(i) if i >= 8 => {
            let off = &rest[i..];
            let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
            if !(digits.len() == 2 || digits.len() == 4)
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some((&rest[..i], Some(off)))
        }
        _ => Some((rest, None)),
    }
}

/// Whether the live version value still equals the one captured at proposal time.
pub fn versions_match(current: &Value, expected: &Value) -> bool {
    normalize_version(current) == normalize_version(expected)
}

/// `H(job_id, status, version?)`: the result hash recorded in the receipt table.
pub fn result_hash(job_id: &str, status: &str, version: Option<&Value>) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("job_id".into(), json!(job_id));
    obj.insert("status".into(), json!(status));
    if let Some(v) = version {
        obj.insert("version".into(), v.clone());
    }
    format!(
        "sha256:{}",
        sha256_hex(crate::json::canonical(&Value::Object(obj)).as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_table_from_the_spec() {
        let m = |a: Value, b: Value| versions_match(&a, &b);
        assert!(m(
            json!("2026-05-16 00:00:00.123456"),
            json!("2026-05-16T00:00:00.123456Z")
        ));
        assert!(!m(
            json!("2026-05-16 00:00:00.123456"),
            json!("2026-05-16T00:00:00.123Z")
        ));
        assert!(m(
            json!("2026-06-20 14:31:08+00"),
            json!("2026-06-20T14:31:08Z")
        ));
        assert!(m(
            json!("2026-06-20 07:31:08-07"),
            json!("2026-06-20T14:31:08Z")
        ));
        assert!(m(
            json!("2026-06-20T14:31:08.000Z"),
            json!("2026-06-20 14:31:08")
        ));
        assert!(m(json!(7), json!("7")));
        assert!(m(Value::Null, json!("")));
        assert!(!m(
            json!("2026-06-20T14:31:09Z"),
            json!("2026-06-20T14:31:08Z")
        ));
    }

    #[test]
    fn result_hash_omits_absent_version() {
        let with = result_hash("wbj_1", "applied", Some(&json!("v1")));
        let expected = format!(
            "sha256:{}",
            sha256_hex(br#"{"job_id":"wbj_1","status":"applied","version":"v1"}"#)
        );
        assert_eq!(with, expected);
        let without = result_hash("wbj_1", "dry-run", None);
        assert_eq!(
            without,
            format!(
                "sha256:{}",
                sha256_hex(br#"{"job_id":"wbj_1","status":"dry-run"}"#)
            )
        );
    }
}
