//! Canonical JSON and the hashes and ids derived from it.
//!
//! Hashes must match Synapsor Runner byte for byte, so the canonical form is exactly what
//! ECMAScript `JSON.stringify` produces: no whitespace, keys in insertion order, minimal string
//! escaping and ECMAScript number formatting (`5500`, `0.5`, `1e+21`; never `5500.0`).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialise `value` the way `JSON.stringify` would.
pub fn canonical(value: &Value) -> String {
    let bytes = canonical_bytes(value);
    // Every byte comes from a `&str` or from ASCII digits and punctuation.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The canonical form as bytes, for hashing: strings, keys and numbers are written straight
/// into one buffer (a hash is taken for every recorded call, several times).
fn canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    write_leaving_out(value, &[], out);
}

/// Write `value` canonically without the object members `omit` names (see
/// [`hash_json_without`]); `&[]` writes it whole.
fn write_leaving_out(value: &Value, omit: &[&[&str]], out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(js_number(n).as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            let mut first = true;
            for (key, item) in map {
                if omit.iter().any(|p| p.len() == 1 && p[0] == key) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                write_string(key, out);
                out.push(b':');
                // Empty (and so not allocated) unless a path goes on into this member.
                let inner: Vec<&[&str]> = omit
                    .iter()
                    .filter(|p| p.len() > 1 && p[0] == key)
                    .map(|p| &p[1..])
                    .collect();
                write_leaving_out(item, &inner, out);
            }
            out.push(b'}');
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json escapes exactly like JSON.stringify for valid UTF-8 strings: `"`, `\`, the
    // short forms \b \f \n \r \t, other control characters as lowercase \u00xx, and nothing
    // else (not `/`, not U+2028). Writing a `str` into a `Vec` cannot fail.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Format a JSON number as ECMAScript's `Number.prototype.toString` does.
pub fn js_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    format_f64(f)
}

/// ECMAScript formatting of a finite double (non-finite values serialise as `null` in JSON).
pub fn format_f64(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    let mut buf = ryu_js::Buffer::new();
    buf.format_finite(f).to_string()
}

/// A JSON number for `f`, integral values as integers (`1`, not `1.0`), as JavaScript prints them.
pub fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// Compare a JSON number with a bound exactly, as JSON Schema's `minimum`/`maximum` do: an
/// integer beyond 2^53 is not rounded to the nearest double first. `None` for a NaN bound.
pub fn cmp_number(n: &serde_json::Number, bound: f64) -> Option<std::cmp::Ordering> {
    match integer(n) {
        Some(i) => cmp_int_f64(i, bound),
        None => n.as_f64()?.partial_cmp(&bound),
    }
}

/// Mathematical equality of two JSON numbers (`1` equals `1.0`; two integers beyond 2^53 that
/// round to the same double do not), as JSON Schema's `enum` compares them.
pub fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    use std::cmp::Ordering::Equal;
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => x == y,
        (Some(x), None) => b.as_f64().and_then(|f| cmp_int_f64(x, f)) == Some(Equal),
        (None, Some(y)) => a.as_f64().and_then(|f| cmp_int_f64(y, f)) == Some(Equal),
        (None, None) => a.as_f64() == b.as_f64(),
    }
}

fn integer(n: &serde_json::Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// `i` (an `i64` or `u64`, or anything within ±2^64) against `f` without converting `i` to a
/// double.
pub(crate) fn cmp_int_f64(i: i128, f: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if f.is_nan() {
        return None;
    }
    // Every i64 and u64 lies strictly inside ±2^64, so a bound outside it decides at once, and
    // inside it the truncated bound converts to i128 exactly.
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    if f >= TWO_POW_64 {
        return Some(Ordering::Less);
    }
    if f <= -TWO_POW_64 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i128)) {
        // Same integer part: the bound's fraction decides (`2` < `2.5`, `-2` > `-2.5`).
        Ordering::Equal => 0.0_f64.partial_cmp(&(f - whole)),
        other => Some(other),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `"sha256:" + hex(sha256(canonical(value)))`.
pub fn hash_json(value: &Value) -> String {
    format!("sha256:{}", sha256_hex(&canonical_bytes(value)))
}

/// `hash_json(value)` with some members left out, without copying the value first: each path
/// names an object member (`["integrity"]`, or `["evidence", "bundle_id"]` for a member of a
/// member); a path that does not lead to an object member leaves nothing out. The same bytes
/// as removing those members and hashing what is left.
pub fn hash_json_without(value: &Value, omit: &[&[&str]]) -> String {
    let mut out = Vec::with_capacity(1024);
    write_leaving_out(value, omit, &mut out);
    format!("sha256:{}", sha256_hex(&out))
}

/// `prefix + "_" + first 20 hex chars of sha256(canonical(value))`.
pub fn stable_id(prefix: &str, value: &Value) -> String {
    let digest = sha256_hex(&canonical_bytes(value));
    format!("{prefix}_{}", &digest[..20])
}

/// JavaScript `String(value)` for the scalars that reach ids and display.
pub fn js_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n),
        other => canonical(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_format_like_javascript() {
        assert_eq!(canonical(&json!(5500)), "5500");
        assert_eq!(canonical(&json!(5500.0)), "5500");
        assert_eq!(canonical(&json!(0.5)), "0.5");
        assert_eq!(canonical(&json!(1e21)), "1e+21");
        assert_eq!(canonical(&json!(-0.000001)), "-0.000001");
        assert_eq!(canonical(&json!(1e-7)), "1e-7");
    }

    #[test]
    fn strings_escape_like_javascript() {
        assert_eq!(
            canonical(&json!("a/b\u{2028}\u{1}\n\"é")),
            "\"a/b\u{2028}\\u0001\\n\\\"é\""
        );
    }

    #[test]
    fn leaving_members_out_hashes_what_removing_them_would() {
        let doc = json!({"a": 1, "integrity": {"x": 1}, "evidence": {"bundle_id": "b", "k": [1, "\n"]},
            "created_at": "t", "z": {"bundle_id": "kept"}});
        let omit: &[&[&str]] = &[
            &["integrity"],
            &["created_at"],
            &["evidence", "bundle_id"],
            &["a", "x"],
        ];
        let mut removed = doc.clone();
        let obj = removed.as_object_mut().unwrap();
        obj.shift_remove("integrity");
        obj.shift_remove("created_at");
        obj["evidence"]
            .as_object_mut()
            .unwrap()
            .shift_remove("bundle_id");
        assert_eq!(hash_json_without(&doc, omit), hash_json(&removed));
        // Nothing to leave out where a path leads nowhere, or into something not an object.
        for other in [
            json!([1, {"integrity": 2}]),
            json!("integrity"),
            json!({"evidence": 5}),
        ] {
            assert_eq!(hash_json_without(&other, omit), hash_json(&other));
        }
    }

    #[test]
    fn key_order_is_insertion_order() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":[true,null]}"#).unwrap();
        assert_eq!(canonical(&v), r#"{"b":1,"a":[true,null]}"#);
    }

    #[test]
    fn proposal_id_matches_reference_vector() {
        let v: Value = serde_json::from_str(r#"{"action":"billing.propose_late_fee_waiver","tenant":"acme","object":"INV-3001","before":{"id":"INV-3001","tenant_id":"acme","late_fee_cents":5500,"waiver_reason":null,"updated_at":"2026-06-20T14:31:08Z"},"patch":{"late_fee_cents":0,"waiver_reason":"approved support waiver"}}"#).unwrap();
        assert_eq!(stable_id("wrp", &v), "wrp_e614446d66885ba2a24e");
    }

    #[test]
    fn fingerprint_and_row_hash_match_reference_vectors() {
        let fp: Value = serde_json::from_str(r#"{"source":"app_postgres","target":{"schema":"public","table":"invoices","primary_key":"id","tenant_key":"tenant_id"},"columns":["id","tenant_id","late_fee_cents","waiver_reason","updated_at"],"tenant_bound":true,"tenant":"acme"}"#).unwrap();
        assert_eq!(
            hash_json(&fp),
            "sha256:c5cfa699e6c77890e72b5100bef129e6525fb1426fa5b3d34313d7f3579a7eb8"
        );
        let row: Value = serde_json::from_str(r#"{"id":"INV-3001","tenant_id":"acme","late_fee_cents":5500,"waiver_reason":null,"updated_at":"2026-06-20T14:31:08Z"}"#).unwrap();
        assert_eq!(
            hash_json(&row),
            "sha256:2af8a1513b0ca067ef968adff0272c5096c88a2b15085d8f1367cd9ae44ff8d4"
        );
        let ev: Value = serde_json::from_str(r#"{"capability":"billing.inspect_invoice","source":"app_postgres","tenant":"acme","row":{"id":"INV-3001","tenant_id":"acme","late_fee_cents":5500,"waiver_reason":null,"updated_at":"2026-06-20T14:31:08Z"},"at":"2026-06-20T14:31:09.000Z"}"#).unwrap();
        assert_eq!(stable_id("ev", &ev), "ev_627ce01fef8592a7b060");
    }

    #[test]
    fn numbers_compare_exactly() {
        use std::cmp::Ordering::*;
        let n = |v: Value| match v {
            Value::Number(n) => n,
            other => panic!("{other}"),
        };
        let big = n(json!(9_007_199_254_740_993_u64));
        // As doubles these two are equal; as numbers they are not.
        assert_eq!(cmp_number(&big, 9_007_199_254_740_992.0), Some(Greater));
        assert_eq!(cmp_number(&n(json!(5)), 5.0), Some(Equal));
        assert_eq!(cmp_number(&n(json!(2)), 2.5), Some(Less));
        assert_eq!(cmp_number(&n(json!(-2)), -2.5), Some(Greater));
        assert_eq!(cmp_number(&n(json!(-3)), -2.5), Some(Less));
        assert_eq!(cmp_number(&n(json!(u64::MAX)), 1e30), Some(Less));
        assert_eq!(cmp_number(&n(json!(i64::MIN)), -1e30), Some(Greater));
        assert_eq!(cmp_number(&n(json!(0.5)), 0.25), Some(Greater));
        assert!(numbers_equal(&n(json!(1)), &n(json!(1.0))));
        assert!(numbers_equal(&n(json!(1.0)), &n(json!(1))));
        assert!(!numbers_equal(&big, &n(json!(9_007_199_254_740_992.0))));
        assert!(!numbers_equal(&n(json!(1)), &n(json!(1.5))));
        assert!(numbers_equal(&n(json!(u64::MAX)), &n(json!(u64::MAX))));
    }
}
