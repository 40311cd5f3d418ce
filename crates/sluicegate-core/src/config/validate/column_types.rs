//! Validation of `column_types` (a Sluicegate extension): column types declared in the
//! config for sources whose catalog the read user cannot see, or to say in which zone a
//! timestamp written without one is meant.
//!
//! ```json
//! "column_types": {
//!   "amount": { "type": "decimal", "precision": 10, "scale": 2, "nullable": false },
//!   "due_at": { "type": "timestamp", "zone": "UTC" },
//!   "note":   { "type": "text", "max_length": 200 }
//! }
//! ```

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::{Validator, is_positive_integer};
use crate::columns::{ColumnInfo, ColumnType, Padding};
use crate::ident::is_safe_identifier;

/// The accepted `type` words.
pub(super) const COLUMN_TYPE_NAMES: &[&str] = &[
    "text",
    "integer",
    "decimal",
    "float",
    "boolean",
    "date",
    "timestamp",
    "timestamptz",
    "json",
    "bytes",
    "other",
];

const FIELDS: &[&str] = &[
    "type",
    "max_length",
    "precision",
    "scale",
    "nullable",
    "zone",
];

/// Most decimal digits any supported engine keeps (PostgreSQL's declared maximum).
const MAX_DECIMAL_PRECISION: u64 = 1000;

/// `UTC`, `Z` or `±HH:MM` as seconds east of UTC.
pub(super) fn parse_zone(text: &str) -> Option<i32> {
    match text {
        "UTC" | "Z" => return Some(0),
        _ => {}
    }
    let b = text.as_bytes();
    if b.len() != 6 || !b.is_ascii() || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i32 = text[1..3].parse().ok()?;
    let minutes: i32 = text[4..6].parse().ok()?;
    let digits = text[1..3].bytes().chain(text[4..6].bytes());
    if !digits.into_iter().all(|c| c.is_ascii_digit()) || hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

impl Validator {
    pub(super) fn column_types(
        &mut self,
        types: &Value,
        path: &str,
    ) -> IndexMap<String, ColumnInfo> {
        let tpath = format!("{path}.column_types");
        let mut out = IndexMap::new();
        let Some(obj) = types.as_object() else {
            self.error(
                &tpath,
                "COLUMN_TYPES_NOT_OBJECT",
                "column_types must map column names to type declarations",
            );
            return out;
        };
        for (col, decl) in obj {
            let cpath = format!("{tpath}.{col}");
            if !is_safe_identifier(col) {
                self.error(
                    &cpath,
                    "INVALID_COLUMN_TYPES_COLUMN",
                    "column_types keys must be safe identifiers",
                );
                continue;
            }
            let Some(d) = decl.as_object() else {
                self.error(
                    &cpath,
                    "COLUMN_TYPE_NOT_OBJECT",
                    "a column type declaration must be an object",
                );
                continue;
            };
            self.unknown_keys(d, FIELDS, &cpath);
            if let Some(info) = self.column_type(col, d, &cpath) {
                out.insert(col.clone(), info);
            }
        }
        out
    }

    fn column_type(
        &mut self,
        col: &str,
        d: &Map<String, Value>,
        cpath: &str,
    ) -> Option<ColumnInfo> {
        let errors_before = self.errors.len();
        let Some(kind) = d
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| COLUMN_TYPE_NAMES.contains(t))
        else {
            self.error(
                format!("{cpath}.type"),
                "INVALID_COLUMN_TYPE",
                format!("type must be one of {}", COLUMN_TYPE_NAMES.join(", ")),
            );
            return None;
        };
        let is_timestamp = matches!(kind, "timestamp" | "timestamptz");
        let applies = |field: &str| match field {
            "max_length" => kind == "text",
            "precision" => kind == "decimal" || is_timestamp,
            "scale" => kind == "decimal",
            "zone" => is_timestamp,
            _ => true,
        };
        for field in ["max_length", "precision", "scale", "zone"] {
            if d.contains_key(field) && !applies(field) {
                self.error(
                    format!("{cpath}.{field}"),
                    "COLUMN_TYPE_FIELD_NOT_APPLICABLE",
                    format!("{field} does not apply to type {kind}"),
                );
            }
        }
        let max_length = self.count_field(
            d,
            cpath,
            "max_length",
            "INVALID_COLUMN_MAX_LENGTH",
            1,
            u64::MAX,
        );
        let precision_limit = if is_timestamp {
            6
        } else {
            MAX_DECIMAL_PRECISION
        };
        let precision = self.count_field(
            d,
            cpath,
            "precision",
            "INVALID_COLUMN_PRECISION",
            u64::from(!is_timestamp),
            precision_limit,
        );
        let scale = self.count_field(
            d,
            cpath,
            "scale",
            "INVALID_COLUMN_SCALE",
            0,
            MAX_DECIMAL_PRECISION,
        );
        if let (Some(p), Some(s)) = (precision, scale)
            && s > p
        {
            self.error(
                format!("{cpath}.scale"),
                "INVALID_COLUMN_SCALE",
                "scale must not exceed precision",
            );
        }
        let nullable = match d.get("nullable") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.error(
                    format!("{cpath}.nullable"),
                    "INVALID_COLUMN_NULLABLE",
                    "nullable must be true or false",
                );
                true
            }
        };
        let zone_offset = match d.get("zone") {
            None => None,
            Some(z) => match z.as_str().and_then(parse_zone) {
                Some(offset) => Some(offset),
                None => {
                    self.error(
                        format!("{cpath}.zone"),
                        "INVALID_COLUMN_ZONE",
                        "zone must be UTC or an offset such as +02:00",
                    );
                    None
                }
            },
        };
        if self.errors.len() > errors_before {
            return None;
        }
        let narrow = |n: Option<u64>| n.and_then(|n| u32::try_from(n).ok());
        let column_type = match kind {
            "text" => ColumnType::Text {
                max_chars: max_length,
                max_bytes: None,
                padding: Padding::None,
            },
            "integer" => ColumnType::Integer {
                min: i128::from(i64::MIN),
                max: i128::from(i64::MAX),
            },
            "decimal" => ColumnType::Decimal {
                precision: narrow(precision),
                scale: narrow(scale),
            },
            "float" => ColumnType::Float { single: false },
            "boolean" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "timestamp" | "timestamptz" => ColumnType::Timestamp {
                with_zone: kind == "timestamptz",
                precision: narrow(precision),
                range: None,
            },
            "json" => ColumnType::Json,
            "bytes" => ColumnType::Bytes,
            _ => ColumnType::Other,
        };
        Some(ColumnInfo {
            nullable,
            zone_offset,
            ..ColumnInfo::new(col, kind, column_type)
        })
    }

    /// An optional whole number in `min..=max`.
    fn count_field(
        &mut self,
        d: &Map<String, Value>,
        cpath: &str,
        field: &str,
        code: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = d.get(field)?;
        let n = if v.as_f64() == Some(0.0) {
            Some(0)
        } else {
            is_positive_integer(v)
        };
        match n.filter(|n| (min..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                self.error(
                    format!("{cpath}.{field}"),
                    code,
                    format!("{field} must be a whole number from {min} to {max}"),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::columns::ColumnType;
    use crate::config::{MaintainedBy, validate};

    /// A valid review config whose proposal capability gets `extra` merged in.
    fn doc(extra: Value) -> Value {
        let mut cap = json!({
            "name": "billing.propose", "kind": "proposal", "source": "app",
            "target": {"schema": "public", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "status", "updated_at"],
            "patch": {"status": {"fixed": "void"}},
            "allowed_columns": ["status"],
            "conflict_guard": {"column": "updated_at"}
        });
        if let (Some(c), Some(e)) = (cap.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                c.insert(k.clone(), v.clone());
            }
        }
        json!({
            "version": 1, "mode": "review",
            "sources": {"app": {"engine": "postgres", "read_url_env": "R", "write_url_env": "W"}},
            "trusted_context": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal": "p"}},
            "capabilities": [cap]
        })
    }

    /// `path code` of every error.
    fn errors(extra: Value) -> Vec<String> {
        let (v, _) = validate(&doc(extra));
        v.errors
            .iter()
            .map(|i| format!("{} {}", i.path, i.code))
            .collect()
    }

    #[test]
    fn maintained_by_is_optional_and_checked() {
        let (v, config) = validate(&doc(json!({})));
        assert!(v.ok, "{:?}", v.errors);
        let guard = config.expect("valid").capabilities[0]
            .conflict_guard
            .clone()
            .expect("guard");
        assert_eq!(guard.maintained_by, MaintainedBy::Sluicegate);
        for (value, want) in [
            ("app", MaintainedBy::App),
            ("sluicegate", MaintainedBy::Sluicegate),
        ] {
            let (v, config) = validate(&doc(json!({
                "conflict_guard": {"column": "updated_at", "maintained_by": value}
            })));
            assert!(v.ok, "{:?}", v.errors);
            let got = config.expect("valid").capabilities[0]
                .conflict_guard
                .as_ref()
                .map(|g| g.maintained_by);
            assert_eq!(got, Some(want));
        }
        for bad in [json!("trigger"), json!(true), json!(null), json!("App")] {
            assert_eq!(
                errors(json!({"conflict_guard": {"column": "updated_at", "maintained_by": bad}})),
                vec![
                    "$.capabilities[0].conflict_guard.maintained_by INVALID_CONFLICT_GUARD_MAINTAINED_BY"
                ],
                "{bad}"
            );
        }
    }

    #[test]
    fn column_types_are_checked_field_by_field() {
        let (v, config) = validate(&doc(json!({"column_types": {
            "status": {"type": "text", "max_length": 16, "nullable": false},
            "amount": {"type": "decimal", "precision": 10, "scale": 2},
            "due_at": {"type": "timestamp", "precision": 0, "zone": "+02:00"}
        }})));
        assert!(v.ok, "{:?}", v.errors);
        let cap = config.expect("valid").capabilities.remove(0);
        let status = &cap.column_types["status"];
        assert!(!status.nullable);
        assert!(matches!(
            status.column_type,
            ColumnType::Text {
                max_chars: Some(16),
                ..
            }
        ));
        assert_eq!(
            cap.column_types["amount"].column_type,
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(cap.column_types["due_at"].zone_offset, Some(7200));

        let p = "$.capabilities[0].column_types";
        let cases: Vec<(Value, Vec<String>)> = vec![
            (json!([]), vec![format!("{p} COLUMN_TYPES_NOT_OBJECT")]),
            (
                json!({"bad-col": {"type": "text"}}),
                vec![format!("{p}.bad-col INVALID_COLUMN_TYPES_COLUMN")],
            ),
            (
                json!({"a": "text"}),
                vec![format!("{p}.a COLUMN_TYPE_NOT_OBJECT")],
            ),
            (
                json!({"a": {"type": "varchar"}}),
                vec![format!("{p}.a.type INVALID_COLUMN_TYPE")],
            ),
            (
                json!({"a": {}}),
                vec![format!("{p}.a.type INVALID_COLUMN_TYPE")],
            ),
            (
                json!({"a": {"type": "text", "size": 3}}),
                vec![format!("{p}.a.size UNKNOWN_FIELD")],
            ),
            (
                json!({"a": {"type": "integer", "max_length": 3}}),
                vec![format!("{p}.a.max_length COLUMN_TYPE_FIELD_NOT_APPLICABLE")],
            ),
            (
                json!({"a": {"type": "text", "max_length": 0}}),
                vec![format!("{p}.a.max_length INVALID_COLUMN_MAX_LENGTH")],
            ),
            (
                json!({"a": {"type": "decimal", "precision": 2, "scale": 3}}),
                vec![format!("{p}.a.scale INVALID_COLUMN_SCALE")],
            ),
            (
                json!({"a": {"type": "timestamptz", "precision": 7}}),
                vec![format!("{p}.a.precision INVALID_COLUMN_PRECISION")],
            ),
            (
                json!({"a": {"type": "text", "nullable": "no"}}),
                vec![format!("{p}.a.nullable INVALID_COLUMN_NULLABLE")],
            ),
            (
                json!({"a": {"type": "timestamp", "zone": "Europe/Paris"}}),
                vec![format!("{p}.a.zone INVALID_COLUMN_ZONE")],
            ),
            (
                json!({"a": {"type": "date", "zone": "UTC"}}),
                vec![format!("{p}.a.zone COLUMN_TYPE_FIELD_NOT_APPLICABLE")],
            ),
        ];
        for (types, want) in cases {
            assert_eq!(errors(json!({"column_types": types})), want, "{types}");
        }
    }

    #[test]
    fn zones() {
        use super::parse_zone;
        assert_eq!(parse_zone("UTC"), Some(0));
        assert_eq!(parse_zone("-05:30"), Some(-19800));
        assert_eq!(parse_zone("+24:00"), None);
        assert_eq!(parse_zone("+2:00"), None);
        assert_eq!(parse_zone("+0é:00"), None);
    }
}
