//! `onboard db --add`: a table or an action added to a config that already exists, keeping
//! everything in it. The new capabilities reuse the existing source (same engine and read
//! URL env var) and a trusted context with the same values; a different context is added
//! beside the others under its own name. A capability name already taken is refused, except
//! a read tool of the same table, which is kept as it is (adding a second action to a table).
//! The result is checked by the config validator.

use serde_json::{Map, Value, json};

use super::OnboardingError;
use super::answers::Answers;
use crate::config;

/// A config with something added.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub doc: Value,
    /// The capabilities added, in order.
    pub added: Vec<String>,
    /// What was reused or changed, for the person running it.
    pub notes: Vec<String>,
}

fn invalid(m: impl Into<String>) -> OnboardingError {
    OnboardingError::Invalid(vec![m.into()])
}

fn object<'a>(doc: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    doc.get(key).and_then(Value::as_object)
}

/// Defaults an addition takes from the existing config, under whatever the flags say: the
/// namespace its capabilities share, the read URL env var of its only source (and its writer
/// env var), and the env vars of its trusted context.
pub fn add_defaults(existing: &Value) -> Answers {
    let caps: Vec<&str> = existing["capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let namespaces: Vec<&str> = caps
        .iter()
        .filter_map(|n| n.split_once('.'))
        .map(|(ns, _)| ns)
        .collect();
    let shared = namespaces
        .first()
        .filter(|first| namespaces.len() == caps.len() && namespaces.iter().all(|n| n == *first));
    let source = object(existing, "sources")
        .filter(|s| s.len() == 1)
        .and_then(|s| s.values().next());
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let values = existing.pointer("/trusted_context/values");
    Answers {
        existing_namespace: shared.map(|s| s.to_string()),
        read_url_env: text(source.and_then(|s| s.get("read_url_env"))),
        write_url_env: text(source.and_then(|s| s.get("write_url_env"))),
        tenant_env: text(values.and_then(|v| v.get("tenant_id_env"))),
        principal_env: text(values.and_then(|v| v.get("principal_env"))),
        ..Answers::default()
    }
}

/// `base`, or `base_2`, `base_3`, … whichever `taken` does not hold.
fn free_name(base: &str, taken: &Map<String, Value>) -> String {
    if !taken.contains_key(base) {
        return base.to_string();
    }
    (2..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| !taken.contains_key(n))
        .unwrap_or_else(|| base.to_string())
}

const MODES: [&str; 3] = ["read_only", "shadow", "review"];

/// Add the capabilities of `new` (a config generated for one table) to `existing`.
pub fn merge(existing: &Value, new: &Value) -> Result<Merged, OnboardingError> {
    let (validation, _) = config::validate(existing);
    if !validation.ok {
        let mut lines = vec!["the existing config is invalid; fix it before adding to it:".into()];
        lines.extend(validation.error_lines());
        return Err(OnboardingError::Invalid(lines));
    }
    let mut doc = existing.clone();
    let mut notes = Vec::new();
    let root = doc
        .as_object_mut()
        .ok_or_else(|| invalid("the existing config is not a JSON object"))?;

    // The source: an existing one with the same engine and read URL env var, else a new one.
    let (new_source_name, new_source) = object(new, "sources")
        .and_then(|s| s.iter().next())
        .ok_or_else(|| invalid("invariant: a generated config has one source"))?;
    let sources = root
        .entry("sources")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| invalid("sources must be an object"))?;
    let same = |s: &Value, key: &str| s.get(key) == new_source.get(key);
    let reused = sources
        .iter()
        .find(|(_, s)| same(s, "engine") && same(s, "read_url_env"))
        .map(|(n, _)| n.clone());
    let source_name = match reused {
        Some(name) => {
            let s = sources
                .get_mut(&name)
                .and_then(Value::as_object_mut)
                .ok_or_else(|| invalid(format!("source {name} must be an object")))?;
            if let Some(w) = new_source.get("write_url_env") {
                match s.get("write_url_env") {
                    None if s.get("read_only") == Some(&json!(true)) => {
                        return Err(invalid(format!(
                            "source {name} is read-only (its proposals go to an app-owned handler); add this action with --writeback http_handler or command_handler, or mark the source writable by hand"
                        )));
                    }
                    None => {
                        s.insert("write_url_env".into(), w.clone());
                        notes.push(format!(
                            "source {name} now names its writer credential env var {}",
                            w.as_str().unwrap_or_default()
                        ));
                    }
                    Some(old) if old != w => {
                        return Err(invalid(format!(
                            "source {name} writes through {}, not {}: pass --write-url-env {} to add to it",
                            old.as_str().unwrap_or_default(),
                            w.as_str().unwrap_or_default(),
                            old.as_str().unwrap_or_default()
                        )));
                    }
                    Some(_) => {}
                }
            }
            notes.push(format!("reusing source {name}"));
            name
        }
        None => {
            let name = free_name(new_source_name, sources);
            sources.insert(name.clone(), new_source.clone());
            notes.push(format!("added source {name}"));
            name
        }
    };

    // The trusted context: one with the same values, else a new one beside the others.
    let (new_ctx_name, new_ctx) = object(new, "contexts")
        .and_then(|c| c.iter().next())
        .ok_or_else(|| invalid("invariant: a generated config has one context"))?;
    let top = root.get("trusted_context").cloned();
    let contexts = root
        .entry("contexts")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| invalid("contexts must be an object"))?;
    let context_name = match contexts.iter().find(|(_, c)| *c == new_ctx) {
        Some((name, _)) => name.clone(),
        None if contexts.is_empty() && top.as_ref() == Some(new_ctx) => {
            contexts.insert(new_ctx_name.clone(), new_ctx.clone());
            new_ctx_name.clone()
        }
        None => {
            let name = free_name(new_ctx_name, contexts);
            contexts.insert(name.clone(), new_ctx.clone());
            notes.push(format!(
                "added trusted context {name} ({})",
                new_ctx["values"]
                    .as_object()
                    .map(|v| v
                        .values()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ));
            name
        }
    };
    if !root.contains_key("trusted_context") {
        root.insert("trusted_context".into(), new_ctx.clone());
    }

    // Executors: the new capability's, renamed when the name holds another executor.
    let mut executor_names: Vec<(String, String)> = Vec::new();
    if let Some(new_execs) = object(new, "executors") {
        let execs = root
            .entry("executors")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| invalid("executors must be an object"))?;
        for (name, e) in new_execs {
            let target = match execs.get(name) {
                Some(old) if old == e => name.clone(),
                _ => {
                    let n = free_name(name, execs);
                    execs.insert(n.clone(), e.clone());
                    n
                }
            };
            executor_names.push((name.clone(), target));
        }
    }

    // Capabilities: new names are added; a read tool of the same table is kept as it is.
    let caps = root
        .entry("capabilities")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| invalid("capabilities must be an array"))?;
    let mut added = Vec::new();
    let mut refused = Vec::new();
    let new_caps: &[Value] = new["capabilities"].as_array().map_or(&[], Vec::as_slice);
    for cap in new_caps {
        let mut cap = cap.clone();
        cap["source"] = json!(source_name);
        cap["context"] = json!(context_name);
        if let Some(e) = cap.get("executor").and_then(Value::as_str)
            && let Some((_, target)) = executor_names.iter().find(|(n, _)| n == e)
        {
            cap["executor"] = json!(target);
        }
        let name = cap["name"].as_str().unwrap_or_default().to_string();
        let Some(old) = caps.iter().find(|c| c["name"] == cap["name"]) else {
            added.push(name);
            caps.push(cap);
            continue;
        };
        let same_table = old["kind"] == "read"
            && cap["kind"] == "read"
            && old["source"] == cap["source"]
            && old["target"]["table"] == cap["target"]["table"]
            && old["target"]["schema"] == cap["target"]["schema"];
        if same_table {
            notes.push(format!("{name} already reads this table; kept as it is"));
        } else {
            refused.push(format!(
                "capability {name} already exists ({} of {}.{}); pick another name with --namespace, --read-tool or --proposal-tool",
                old["kind"].as_str().unwrap_or("capability"),
                old["target"]["schema"].as_str().unwrap_or("?"),
                old["target"]["table"].as_str().unwrap_or("?"),
            ));
        }
    }
    if !refused.is_empty() {
        return Err(OnboardingError::Invalid(refused));
    }
    if added.is_empty() {
        return Err(invalid(
            "nothing to add: every capability this run generates is already in the config (add an action with --mode review --patch …, or another table)",
        ));
    }

    // The config's mode covers every capability: raised when a new one needs more.
    let rank = |m: &Value| MODES.iter().position(|x| Some(*x) == m.as_str());
    if let (Some(old), Some(new_rank)) = (rank(&root["mode"]), rank(&new["mode"]))
        && new_rank > old
    {
        notes.push(format!(
            "config mode raised from {} to {}",
            MODES[old], MODES[new_rank]
        ));
        root.insert("mode".into(), new["mode"].clone());
    }

    let (validation, _) = config::validate(&doc);
    if !validation.ok {
        return Err(OnboardingError::Invalid(validation.error_lines()));
    }
    Ok(Merged { doc, added, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboarding::answers::resolve;
    use crate::onboarding::selection::generate;

    fn generated(a: Answers) -> Value {
        let base = Answers {
            engine: Some("postgres".into()),
            schema: Some("public".into()),
            primary_key: Some("id".into()),
            read_url_env: Some("DATABASE_URL".into()),
            ..Default::default()
        };
        let a = base.overlay(a);
        generate(
            &resolve(&a, None, None, "read_only")
                .expect("resolves")
                .selection,
        )
        .expect("generates")
    }

    fn invoices() -> Value {
        generated(Answers {
            table: Some("invoices".into()),
            tenant_key: Some("tenant_id".into()),
            visible_columns: vec!["id,tenant_id,status".into()],
            namespace: Some("billing".into()),
            ..Default::default()
        })
    }

    fn names(doc: &Value) -> Vec<&str> {
        doc["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_second_table_reuses_the_source_and_context() {
        let first = invoices();
        let defaults = add_defaults(&first);
        assert_eq!(defaults.existing_namespace.as_deref(), Some("billing"));
        assert_eq!(defaults.read_url_env.as_deref(), Some("DATABASE_URL"));
        let second = generated(defaults.overlay(Answers {
            table: Some("customers".into()),
            tenant_key: Some("tenant_id".into()),
            visible_columns: vec!["id,name".into()],
            ..Default::default()
        }));
        let m = merge(&first, &second).unwrap();
        assert_eq!(
            names(&m.doc),
            ["billing.inspect_invoice", "billing.inspect_customer"]
        );
        assert_eq!(m.added, ["billing.inspect_customer"]);
        assert_eq!(m.doc["sources"].as_object().unwrap().len(), 1);
        assert_eq!(m.doc["contexts"].as_object().unwrap().len(), 1);
        assert!(
            m.notes
                .contains(&"reusing source local_postgres".to_string())
        );

        // The same run again adds nothing, and says so.
        let again = merge(&m.doc, &second).unwrap_err().to_string();
        assert!(again.contains("nothing to add"), "{again}");
    }

    #[test]
    fn an_action_on_a_known_table_keeps_its_read_tool_and_raises_the_mode() {
        let first = invoices();
        let action = generated(add_defaults(&first).overlay(Answers {
            table: Some("invoices".into()),
            tenant_key: Some("tenant_id".into()),
            visible_columns: vec!["id,tenant_id,status".into()],
            mode: Some("review".into()),
            patch: vec!["status=arg:status".into()],
            proposal_tool_name: Some("billing.propose_status_change".into()),
            ..Default::default()
        }));
        let m = merge(&first, &action).unwrap();
        assert_eq!(
            names(&m.doc),
            ["billing.inspect_invoice", "billing.propose_status_change"]
        );
        assert_eq!(m.doc["mode"], "review");
        assert_eq!(
            m.doc["sources"]["local_postgres"]["write_url_env"],
            "SLUICEGATE_DATABASE_WRITE_URL"
        );
        assert!(m.notes.iter().any(|n| n.contains("kept as it is")));
        assert!(
            m.notes
                .iter()
                .any(|n| n.contains("raised from read_only to review"))
        );
    }

    #[test]
    fn another_tenant_scope_is_another_context_and_duplicates_are_refused() {
        let first = invoices();
        let stores = generated(Answers {
            table: Some("stores".into()),
            tenant_key: Some("store_id".into()),
            visible_columns: vec!["id,store_id".into()],
            tenant_env: Some("STORE_ID".into()),
            namespace: Some("billing".into()),
            ..Default::default()
        });
        let m = merge(&first, &stores).unwrap();
        let contexts = m.doc["contexts"].as_object().unwrap();
        assert_eq!(contexts.len(), 2);
        assert_eq!(
            contexts["local_operator_2"]["values"]["tenant_id_env"],
            "STORE_ID"
        );
        assert_eq!(m.doc["capabilities"][1]["context"], "local_operator_2");
        // The first context is untouched.
        assert_eq!(
            m.doc["contexts"]["local_operator"],
            first["contexts"]["local_operator"]
        );

        // The same name for another table is refused, clearly.
        let clash = generated(Answers {
            table: Some("orders".into()),
            tenant_key: Some("tenant_id".into()),
            visible_columns: vec!["id".into()],
            inspect_tool_name: Some("billing.inspect_invoice".into()),
            ..Default::default()
        });
        let err = merge(&first, &clash).unwrap_err().to_string();
        assert!(
            err.contains(
                "capability billing.inspect_invoice already exists (read of public.invoices)"
            ),
            "{err}"
        );
    }
}
