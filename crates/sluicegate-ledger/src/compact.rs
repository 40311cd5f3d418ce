//! Smaller per-call records, losslessly.
//!
//! Every tool call stores an evidence bundle and a query-audit record whose JSON payloads
//! repeat what the same row already holds in columns (capability, source, table, principal,
//! tenant) and, for audits, the statement template, which is the same for every call of one
//! capability and tenant. Stored as written, that was about a third of a read's bytes.
//!
//! A payload is stored compacted only when restoring it gives back exactly the payload that was
//! written (same keys, same order, same values); anything else is stored as it came. A compacted
//! payload starts with the marker key `"~"`; the repeated fields are restored from the row's
//! columns, and an audit's template from `query_shapes`, keyed by the query fingerprint (which
//! is computed from the same source, table, columns and tenant as the template).

use serde_json::{Map, Value};

/// The marker key of a compacted payload (never produced by the core's records).
const MARKER: &str = "~";

/// The bundle fields that repeat columns, in the order the core writes them.
const BUNDLE_KEYS: [&str; 5] = [
    "capability",
    "source_id",
    "target",
    "principal",
    "tenant_id",
];

/// What a bundle's row holds in columns, in [`BUNDLE_KEYS`] order.
pub(crate) type BundleColumns<'a> = [Option<&'a str>; 5];

fn marked(rest: Map<String, Value>) -> Value {
    let mut out = Map::with_capacity(rest.len() + 1);
    out.insert(MARKER.into(), Value::from(1));
    out.extend(rest);
    Value::Object(out)
}

/// Equal as stored text: key order counts (maps that keep insertion order compare equal
/// whatever their order).
fn same(a: &Value, b: &Value) -> bool {
    serde_json::to_string(a).ok() == serde_json::to_string(b).ok()
}

pub(crate) fn is_marked(payload: &Value) -> bool {
    payload
        .as_object()
        .and_then(|m| m.keys().next())
        .is_some_and(|k| k == MARKER)
}

/// A payload stored as it came. One that itself starts with the marker key is wrapped as
/// `{"~": 0, "v": payload}`, so it is never mistaken for a compacted one.
fn as_it_came(payload: &Value) -> Value {
    if is_marked(payload) {
        let mut out = Map::new();
        out.insert(MARKER.into(), Value::from(0));
        out.insert("v".into(), payload.clone());
        Value::Object(out)
    } else {
        payload.clone()
    }
}

/// A marked payload's fields without the marker, or the wrapped payload itself (`Err`).
fn unmark(map: Map<String, Value>) -> Result<Map<String, Value>, Value> {
    if map.get(MARKER) == Some(&Value::from(0)) {
        let mut map = map;
        return Err(map.remove("v").unwrap_or(Value::Null));
    }
    Ok(map.into_iter().filter(|(k, _)| k != MARKER).collect())
}

/// The form to store a bundle payload in.
pub(crate) fn store_bundle(payload: &Value, columns: BundleColumns<'_>) -> Value {
    let Some(map) = payload.as_object().filter(|_| !is_marked(payload)) else {
        return as_it_came(payload);
    };
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !BUNDLE_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let compact = marked(rest);
    if same(&restore_bundle(compact.clone(), columns), payload) {
        compact
    } else {
        as_it_came(payload)
    }
}

/// The payload a stored bundle payload stands for.
pub(crate) fn restore_bundle(stored: Value, columns: BundleColumns<'_>) -> Value {
    if !is_marked(&stored) {
        return stored;
    }
    let Value::Object(map) = stored else {
        return stored;
    };
    let map = match unmark(map) {
        Ok(fields) => fields,
        Err(whole) => return whole,
    };
    let mut out = Map::with_capacity(map.len() + BUNDLE_KEYS.len());
    for (key, value) in BUNDLE_KEYS.iter().zip(columns) {
        if let Some(v) = value {
            out.insert((*key).into(), Value::from(v));
        }
    }
    out.extend(map);
    Value::Object(out)
}

/// The form to store an audit payload in, and the statement template to keep in
/// `query_shapes` for its fingerprint (when it was taken out).
pub(crate) fn store_audit(payload: &Value, capability: Option<&str>) -> (Value, Option<String>) {
    let Some(map) = payload.as_object().filter(|_| !is_marked(payload)) else {
        return (as_it_came(payload), None);
    };
    // Without a template there is nothing worth keeping apart (and restoring must never add
    // one from another record).
    let Some(template) = map
        .get("statement_template")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return (as_it_came(payload), None);
    };
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| *k != "capability" && *k != "statement_template")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let compact = marked(rest);
    if same(
        &restore_audit(compact.clone(), capability, Some(&template)),
        payload,
    ) {
        (compact, Some(template))
    } else {
        (as_it_came(payload), None)
    }
}

/// The payload a stored audit payload stands for, given its row's capability and the template
/// kept for its fingerprint.
pub(crate) fn restore_audit(
    stored: Value,
    capability: Option<&str>,
    template: Option<&str>,
) -> Value {
    if !is_marked(&stored) {
        return stored;
    }
    let Value::Object(map) = stored else {
        return stored;
    };
    let map = match unmark(map) {
        Ok(fields) => fields,
        Err(whole) => return whole,
    };
    let mut out = Map::with_capacity(map.len() + 2);
    if let Some(c) = capability {
        out.insert("capability".into(), Value::from(c));
    }
    let mut template = template;
    for (k, v) in map {
        // The core writes the template just before `parameters_redacted`.
        if k == "parameters_redacted"
            && let Some(t) = template.take()
        {
            out.insert("statement_template".into(), Value::from(t));
        }
        out.insert(k, v);
    }
    if let Some(t) = template {
        out.insert("statement_template".into(), Value::from(t));
    }
    Value::Object(out)
}

/// What an evidence item repeats from its bundle's columns.
pub(crate) struct ItemColumns<'a> {
    pub(crate) source_id: Option<&'a str>,
    pub(crate) table: Option<&'a str>,
    pub(crate) object_id: Option<&'a str>,
    pub(crate) tenant_id: &'a str,
}

/// The form to store an evidence item in: without the source and table that follow its
/// `kind`, and without the values of its `primary_key` and `tenant` (the bundle's object and
/// tenant columns), when restoring gives back exactly the item.
pub(crate) fn store_item(item: &Value, columns: &ItemColumns<'_>) -> Value {
    let Some(map) = item.as_object().filter(|_| !is_marked(item)) else {
        return as_it_came(item);
    };
    let mut rest = Map::with_capacity(map.len());
    for (k, v) in map {
        match k.as_str() {
            "source_id" | "table" => {}
            "primary_key" | "tenant" => {
                let mut inner = v.clone();
                if let Some(o) = inner.as_object_mut() {
                    o.remove("value");
                }
                rest.insert(k.clone(), inner);
            }
            _ => {
                rest.insert(k.clone(), v.clone());
            }
        }
    }
    let compact = marked(rest);
    if same(&restore_item(compact.clone(), columns), item) {
        compact
    } else {
        as_it_came(item)
    }
}

/// The item a stored evidence item stands for.
pub(crate) fn restore_item(stored: Value, columns: &ItemColumns<'_>) -> Value {
    if !is_marked(&stored) {
        return stored;
    }
    let Value::Object(map) = stored else {
        return stored;
    };
    let map = match unmark(map) {
        Ok(fields) => fields,
        Err(whole) => return whole,
    };
    let with_value = |mut v: Value, value: Option<&str>| {
        if let (Some(o), Some(value)) = (v.as_object_mut(), value) {
            o.insert("value".into(), Value::from(value));
        }
        v
    };
    let mut out = Map::with_capacity(map.len() + 2);
    for (k, v) in map {
        let kind = k == "kind";
        let v = match k.as_str() {
            "primary_key" => with_value(v, columns.object_id),
            "tenant" => with_value(v, Some(columns.tenant_id)),
            _ => v,
        };
        out.insert(k, v);
        if kind {
            if let Some(s) = columns.source_id {
                out.insert("source_id".into(), Value::from(s));
            }
            if let Some(t) = columns.table {
                out.insert("table".into(), Value::from(t));
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COLS: BundleColumns<'static> = [
        Some("billing.inspect_invoice"),
        Some("app"),
        Some("main.invoices"),
        Some("agent"),
        Some("acme"),
    ];

    #[test]
    fn a_core_bundle_payload_is_compacted_and_restored_exactly() {
        let payload = json!({"capability": "billing.inspect_invoice", "source_id": "app", "target": "main.invoices", "principal": "agent", "tenant_id": "acme", "source_database_changed": false, "binding_provenance": "environment"});
        let stored = store_bundle(&payload, COLS);
        assert_eq!(
            stored,
            json!({"~": 1, "source_database_changed": false, "binding_provenance": "environment"})
        );
        assert!(same(&restore_bundle(stored, COLS), &payload));
    }

    #[test]
    fn payloads_that_would_not_round_trip_are_stored_as_they_came() {
        for payload in [
            // A value that differs from its column.
            json!({"capability": "other", "source_id": "app", "target": "main.invoices", "principal": "agent", "tenant_id": "acme"}),
            // Another order.
            json!({"source_id": "app", "capability": "billing.inspect_invoice", "target": "main.invoices", "principal": "agent", "tenant_id": "acme"}),
            // A key missing.
            json!({"capability": "billing.inspect_invoice", "x": 1}),
            // The marker itself.
            json!({"~": 1}),
            json!(["not", "an", "object"]),
        ] {
            let stored = store_bundle(&payload, COLS);
            assert!(
                same(&restore_bundle(stored.clone(), COLS), &payload),
                "{payload}"
            );
            assert_ne!(
                stored.get(MARKER),
                Some(&json!(1)),
                "not compacted: {stored}"
            );
        }
    }

    const ITEM_COLS: ItemColumns<'static> = ItemColumns {
        source_id: Some("app"),
        table: Some("main.invoices"),
        object_id: Some("INV-1"),
        tenant_id: "acme",
    };

    #[test]
    fn a_core_evidence_item_is_compacted_and_restored_exactly() {
        let item = json!({"kind": "external_row", "source_id": "app", "table": "main.invoices", "primary_key": {"column": "id", "value": "INV-1"}, "tenant": {"column": "tenant_id", "value": "acme"}, "visible_row": {"id": "INV-1", "fee": 5}});
        let stored = store_item(&item, &ITEM_COLS);
        assert_eq!(
            stored,
            json!({"~": 1, "kind": "external_row", "primary_key": {"column": "id"}, "tenant": {"column": "tenant_id"}, "visible_row": {"id": "INV-1", "fee": 5}})
        );
        assert!(same(&restore_item(stored, &ITEM_COLS), &item));
    }

    #[test]
    fn items_that_would_not_round_trip_are_stored_as_they_came() {
        for item in [
            // An integer key (the column holds text).
            json!({"kind": "external_row", "source_id": "app", "table": "main.invoices", "primary_key": {"column": "id", "value": 1}, "tenant": {"column": "tenant_id", "value": "acme"}}),
            // Another tenant, another table, another order.
            json!({"kind": "external_row", "source_id": "app", "table": "main.invoices", "primary_key": {"column": "id", "value": "INV-1"}, "tenant": {"column": "tenant_id", "value": "other"}}),
            json!({"kind": "external_row", "source_id": "app", "table": "main.other", "primary_key": {"column": "id", "value": "INV-1"}}),
            json!({"source_id": "app", "kind": "external_row", "table": "main.invoices"}),
            // No source at all, the marker itself, not an object.
            json!({"kind": "note", "text": "x"}),
            json!({"~": 1, "kind": "external_row"}),
            json!("text"),
        ] {
            let stored = store_item(&item, &ITEM_COLS);
            assert!(
                same(&restore_item(stored.clone(), &ITEM_COLS), &item),
                "{item}"
            );
            assert_ne!(
                stored.get(MARKER),
                Some(&json!(1)),
                "not compacted: {stored}"
            );
        }
    }

    #[test]
    fn both_audit_shapes_round_trip_with_their_template() {
        let t = "SELECT id FROM main.invoices WHERE id = ? AND tenant_id = ? LIMIT 1";
        for payload in [
            json!({"capability": "c", "columns": ["id"], "tenant_bound": true, "statement_template": t, "parameters_redacted": true}),
            json!({"capability": "c", "statement_template": t, "parameters_redacted": true}),
        ] {
            let (stored, template) = store_audit(&payload, Some("c"));
            assert_eq!(template.as_deref(), Some(t));
            assert!(stored.get("statement_template").is_none());
            assert!(same(&restore_audit(stored, Some("c"), Some(t)), &payload));
        }
        // A payload that starts with the marker itself comes back as it was.
        let marked = json!({"~": 1, "statement_template": t, "parameters_redacted": true});
        let (stored, template) = store_audit(&marked, Some("c"));
        assert_eq!(template, None);
        assert!(same(&restore_audit(stored, Some("c"), Some(t)), &marked));
        // A capability that differs from the column: kept whole.
        let odd = json!({"capability": "d", "statement_template": t, "parameters_redacted": true});
        assert_eq!(store_audit(&odd, Some("c")), (odd.clone(), None));
    }
}
