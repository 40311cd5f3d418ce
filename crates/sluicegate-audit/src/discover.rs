//! Finding tool candidates in arbitrary JSON (spec §A.3): manifests, `tools/list` responses and
//! wrapped server descriptions, plus the input-property walk over a tool's input schema.

use serde_json::{Map, Value};

/// Deepest level the candidate walk descends to.
const MAX_WALK_DEPTH: usize = 8;
/// Deepest level the input-schema property walk descends to.
const MAX_SCHEMA_DEPTH: usize = 10;
/// Object keys whose values the candidate walk descends into.
const WALKED_KEYS: [&str; 7] = [
    "result",
    "data",
    "adapter",
    "mcpServers",
    "servers",
    "server",
    "manifest",
];

/// One tool found in the input, with the fields the rules look at.
#[derive(Debug, Clone)]
pub struct ToolCandidate<'a> {
    /// JSON path of the tool object, e.g. `$.tools[0]`.
    pub path: String,
    pub name: String,
    /// First string among `description`, `title`, `summary`; else empty.
    pub description: String,
    pub input_schema: Option<&'a Value>,
    pub output_schema: Option<&'a Value>,
    /// `annotations` when it is an object; else empty.
    pub annotations: Map<String, Value>,
    /// The whole tool object, for key-presence rules.
    pub raw: &'a Map<String, Value>,
}

/// Walks `root` and returns every tool candidate in discovery order, de-duplicated on
/// `(path, name)`. Tools with the same name at different paths are all kept.
pub fn find_tools(root: &Value) -> Vec<ToolCandidate<'_>> {
    let mut found = Vec::new();
    walk(root, "$", 0, &mut found);
    let mut seen = std::collections::HashSet::new();
    found.retain(|tool: &ToolCandidate<'_>| seen.insert((tool.path.clone(), tool.name.clone())));
    found
}

fn walk<'a>(value: &'a Value, path: &str, depth: usize, out: &mut Vec<ToolCandidate<'a>>) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            let all_named = !items.is_empty()
                && items
                    .iter()
                    .all(|item| item.get("name").is_some_and(Value::is_string));
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                if all_named {
                    push_candidate(item, item_path, out);
                } else {
                    walk(item, &item_path, depth + 1, out);
                }
            }
        }
        Value::Object(map) => {
            push_candidate(value, path.to_owned(), out);
            for (key, child) in map {
                if key == "tools" {
                    if let Value::Array(tools) = child {
                        for (i, tool) in tools.iter().enumerate() {
                            push_candidate(tool, format!("{path}.tools[{i}]"), out);
                        }
                    }
                } else if WALKED_KEYS.contains(&key.as_str()) {
                    walk(child, &format!("{path}.{key}"), depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

fn push_candidate<'a>(value: &'a Value, path: String, out: &mut Vec<ToolCandidate<'a>>) {
    let Some(raw) = value.as_object() else {
        return;
    };
    let Some(name) = first_string(raw, &["name", "tool_name", "toolName"]) else {
        return;
    };
    out.push(ToolCandidate {
        path,
        name: name.to_owned(),
        description: first_string(raw, &["description", "title", "summary"])
            .unwrap_or_default()
            .to_owned(),
        input_schema: first_present(
            raw,
            &[
                "inputSchema",
                "input_schema",
                "parameters",
                "schema",
                "args_schema",
            ],
        ),
        output_schema: first_present(
            raw,
            &[
                "outputSchema",
                "output_schema",
                "resultSchema",
                "result_schema",
                "output",
            ],
        ),
        annotations: raw
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        raw,
    });
}

fn first_string<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|key| map.get(*key).and_then(Value::as_str))
}

/// First key whose value is present and not `null` (JavaScript `??` semantics).
fn first_present<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|key| map.get(*key).filter(|value| !value.is_null()))
}

/// Property names declared anywhere in an input schema, in first-seen order (depth-first:
/// a property's nested properties come right after it).
pub fn input_property_names(schema: Option<&Value>) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(schema) = schema {
        collect_properties(schema, 0, &mut names);
    }
    names
}

fn collect_properties(schema: &Value, depth: usize, names: &mut Vec<String>) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Some(map) = schema.as_object() else {
        return;
    };
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (name, property) in properties {
            if !names.contains(name) {
                names.push(name.clone());
            }
            collect_properties(property, depth + 1, names);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get(key) {
            collect_properties(child, depth + 1, names);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(children)) = map.get(key) {
            for child in children {
                collect_properties(child, depth + 1, names);
            }
        }
    }
}

/// `tenant_id`, `tenantId` and `Tenant-ID` all normalise to `tenantid`.
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_config_server_names_are_not_walked() {
        let input = json!({"mcpServers": {"db": {"command": "x", "name": "ignored"}}});
        assert!(find_tools(&input).is_empty());
    }

    #[test]
    fn named_server_object_counts_as_a_tool() {
        let input =
            json!({"server": {"name": "s", "tools": [{"name": "a"}, {"title": "no name"}]}});
        let paths: Vec<_> = find_tools(&input)
            .into_iter()
            .map(|t| (t.path, t.name))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("$.server".to_owned(), "s".to_owned()),
                ("$.server.tools[0]".to_owned(), "a".to_owned())
            ]
        );
    }

    #[test]
    fn array_of_named_objects_is_a_tool_list() {
        let input = json!([{"name": "a"}, {"name": "b", "description": 5, "title": "B"}]);
        let tools = find_tools(&input);
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[1].path, "$[1]");
        assert_eq!(tools[1].description, "B");
    }

    #[test]
    fn mixed_array_is_walked_element_by_element() {
        let input = json!([{"tools": [{"name": "a"}]}, 3]);
        let tools = find_tools(&input);
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].path, "$[0].tools[0]");
    }

    #[test]
    fn walk_stops_below_depth_eight() {
        let mut value = json!({"tools": [{"name": "deep"}]});
        for _ in 0..9 {
            value = json!({ "result": value });
        }
        assert!(find_tools(&value).is_empty());
        let mut value = json!({"tools": [{"name": "deep"}]});
        for _ in 0..8 {
            value = json!({ "result": value });
        }
        assert_eq!(find_tools(&value).len(), 1);
    }

    #[test]
    fn null_schema_falls_through_to_the_next_key() {
        let input = json!({"tools": [{"name": "a", "inputSchema": null, "parameters": {"x": 1}}]});
        let tools = find_tools(&input);
        assert_eq!(tools[0].input_schema, Some(&json!({"x": 1})));
    }

    #[test]
    fn property_walk_is_depth_first_and_deduplicated() {
        let schema = json!({
            "properties": {
                "a": {"properties": {"x": {}}},
                "b": {"items": {"properties": {"y": {}, "a": {}}}},
            },
            "anyOf": [{"properties": {"z": {}}}],
        });
        assert_eq!(
            input_property_names(Some(&schema)),
            vec!["a", "x", "b", "y", "z"]
        );
    }

    #[test]
    fn normalise_strips_punctuation_and_case() {
        assert_eq!(normalise("Tenant-ID"), "tenantid");
        assert_eq!(normalise("tenant_id"), "tenantid");
        assert_eq!(normalise("tenantId"), "tenantid");
    }
}
