//! Text that onboarding writes or shows besides the config itself: `.env.example`, the
//! wizard's "about to write" preview, and the conservative `config migrate`.

use serde_json::{Map, Value};

use super::OnboardingError;
use super::grammar::listing;
use super::selection::{Names, Selection};
use crate::config;

fn env_line(out: &mut Vec<String>, seen: &mut Vec<String>, name: &str, placeholder: &str) {
    if !seen.iter().any(|s| s == name) {
        seen.push(name.to_string());
        out.push(format!("{name}=\"{placeholder}\""));
    }
}

/// `.env.example` for a config document: every env var it names, each with a placeholder,
/// never a value. Ends with a newline.
pub fn env_example(doc: &Value) -> String {
    let mut out = vec![
        "# Environment variables named by this Sluicegate config.".to_string(),
        "# Set real values in your shell or a local, uncommitted file; this file holds names only."
            .to_string(),
    ];
    let mut seen: Vec<String> = Vec::new();
    for source in doc
        .get("sources")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        let engine = source
            .get("engine")
            .and_then(Value::as_str)
            .unwrap_or("database");
        if let Some(env) = source.get("read_url_env").and_then(Value::as_str) {
            let placeholder = match engine {
                "sqlite" => "<sqlite-file-path-for-reads>".to_string(),
                e => format!("<{e}-read-only-url>"),
            };
            env_line(&mut out, &mut seen, env, &placeholder);
        }
        if let Some(env) = source.get("write_url_env").and_then(Value::as_str) {
            out.push("# Writer credential: used only by `sluicegate apply` after approval.".into());
            let placeholder = match engine {
                "sqlite" => "<sqlite-file-path-for-writeback>".to_string(),
                e => format!("<{e}-writer-url>"),
            };
            env_line(&mut out, &mut seen, env, &placeholder);
        }
    }
    for exec in doc
        .get("executors")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        if let Some(env) = exec.get("url_env").and_then(Value::as_str) {
            out.push("# Where your app-owned writeback handler listens.".into());
            env_line(&mut out, &mut seen, env, "<handler-endpoint>");
        }
        if let Some(env) = exec.pointer("/auth/token_env").and_then(Value::as_str) {
            out.push("# Bearer credential the handler expects.".into());
            env_line(&mut out, &mut seen, env, "<handler-bearer-credential>");
        }
        if let Some(env) = exec.get("signing_secret_env").and_then(Value::as_str) {
            out.push("# HMAC key used to sign requests to the handler.".into());
            env_line(&mut out, &mut seen, env, "<handler-signing-key>");
        }
        if let Some(env) = exec.get("command_env").and_then(Value::as_str) {
            out.push("# Command that reads the handler request as JSON on stdin.".into());
            env_line(&mut out, &mut seen, env, "<handler-command-line>");
        }
    }
    let contexts = doc.get("trusted_context").into_iter().chain(
        doc.get("contexts")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values()),
    );
    let mut context_lines = Vec::new();
    for ctx in contexts {
        if let Some(env) = ctx.pointer("/values/tenant_id_env").and_then(Value::as_str) {
            env_line(
                &mut context_lines,
                &mut seen,
                env,
                "<tenant-id-the-agent-acts-for>",
            );
        }
        if let Some(env) = ctx.pointer("/values/principal_env").and_then(Value::as_str) {
            env_line(&mut context_lines, &mut seen, env, "<acting-principal>");
        }
    }
    if !context_lines.is_empty() {
        out.push("# Trusted context: set by the operator, never by the model.".into());
        out.extend(context_lines);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// The "what I am about to write" preview, one line per decision.
pub fn preview_lines(sel: &Selection, n: &Names) -> Vec<String> {
    let tenant = match sel.tenant_key.as_deref() {
        Some(col) => format!(
            "tenant from {} via column {col}; principal from {}",
            n.tenant_env.as_deref().unwrap_or("(none)"),
            n.principal_env
        ),
        None => format!(
            "no tenant column (single-tenant dev source); principal from {}",
            n.principal_env
        ),
    };
    let mut lines = vec![
        format!("trusted context: {tenant}"),
        format!(
            "source: {} {}.{} (URL from {})",
            n.engine.as_str(),
            sel.schema.as_deref().unwrap_or_default(),
            sel.table.as_deref().unwrap_or_default(),
            n.read_env
        ),
        format!(
            "primary key: {}; conflict guard: {}",
            sel.primary_key.as_deref().unwrap_or_default(),
            sel.conflict_column
                .as_deref()
                .unwrap_or("none (weak guard)")
        ),
        format!("visible fields: {}", listing(&n.visible, 12)),
        format!("mode: {}", n.mode),
        format!("result envelope: v{}", sel.result_format.unwrap_or(2)),
    ];
    if n.proposal_tool.is_some() {
        lines.push(format!(
            "writeback path: {}{}",
            n.executor,
            if n.mode == "review" {
                n.write_env
                    .as_deref()
                    .map(|w| format!(" (writer URL from {w})"))
                    .unwrap_or_default()
            } else {
                " (shadow: nothing is ever written)".into()
            }
        ));
        let patch: Vec<String> = sel
            .patch
            .iter()
            .map(|(c, p)| match p {
                super::selection::PatchSpec::Fixed { fixed } => format!("{c} = {fixed}"),
                super::selection::PatchSpec::FromArg { from_arg } => {
                    format!("{c} = <{from_arg}>")
                }
            })
            .collect();
        lines.push(format!("proposal patch: {}", patch.join(", ")));
        if !sel.numeric_bounds.is_empty() || !sel.transition_guards.is_empty() {
            let mut guards: Vec<String> = sel
                .numeric_bounds
                .iter()
                .map(|(c, b)| {
                    let side = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
                    format!("{c} in [{}..{}]", side(b.minimum), side(b.maximum))
                })
                .collect();
            guards.extend(sel.transition_guards.iter().map(|(c, g)| {
                let moves: Vec<String> = g
                    .allowed
                    .iter()
                    .map(|(f, t)| format!("{f}->{}", t.join("|")))
                    .collect();
                format!("{c}: {}", moves.join(", "))
            }));
            lines.push(format!("bounds and guards: {}", guards.join("; ")));
        }
    } else {
        lines.push("writeback path: none (read only)".into());
    }
    lines.push(format!("read capability: {}", n.read_tool));
    let mut exposed = format!("exposed tools: {} (read)", n.read_tool);
    if let Some(p) = &n.proposal_tool {
        lines.push(format!("proposal capability: {p}"));
        exposed.push_str(&format!(", {p} (proposal)"));
    }
    lines.push(exposed);
    lines.push(
        "never exposed: SQL, approval or apply tools, database URLs, credentials, tenant choice"
            .into(),
    );
    lines
}

/// `config migrate`: version 1 is the only version. A missing `version` becomes 1; anything
/// else is refused, as is a config that does not validate. Returns the normalised document.
pub fn migrate(doc: &Value) -> Result<Value, OnboardingError> {
    let Some(obj) = doc.as_object() else {
        return Err(OnboardingError::Invalid(vec![
            "config must be a JSON object".into(),
        ]));
    };
    match obj.get("version") {
        None => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(OnboardingError::Invalid(vec![format!(
                "unsupported config version {v}; no automatic migration exists for it"
            )]));
        }
    }
    let mut out = Map::new();
    out.insert("version".into(), Value::from(1));
    for (k, v) in obj {
        if k != "version" {
            out.insert(k.clone(), v.clone());
        }
    }
    let out = Value::Object(out);
    let (validation, _) = config::validate(&out);
    if !validation.ok {
        return Err(OnboardingError::Invalid(validation.error_lines()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboarding::selection::{Selection, generate};
    use serde_json::json;

    fn sel() -> Selection {
        serde_json::from_value(json!({
            "engine": "postgres", "mode": "review", "schema": "public", "table": "invoices",
            "primary_key": "id", "tenant_key": "tenant_id", "visible_columns": ["late_fee_cents"],
            "patch": {"late_fee_cents": {"fixed": 0}},
            "numeric_bounds": {"late_fee_cents": {"minimum": 0}},
            "writeback": {"executor": "http_handler", "handler_token_env": "APP_TOKEN", "handler_signing_secret_env": "APP_SIGNING"}
        }))
        .unwrap()
    }

    #[test]
    fn env_example_names_every_variable_without_values() {
        let doc = generate(&sel()).unwrap();
        let text = env_example(&doc);
        for name in [
            "DATABASE_URL=",
            "SLUICEGATE_APP_WRITEBACK_URL=",
            "APP_TOKEN=",
            "APP_SIGNING=",
            "SLUICEGATE_TENANT_ID=",
            "SLUICEGATE_PRINCIPAL=",
        ] {
            assert!(text.contains(name), "{name}\n{text}");
        }
        assert_eq!(text.matches("SLUICEGATE_TENANT_ID=").count(), 1);
        assert!(!text.contains("://"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn preview_names_the_decisions() {
        let s = sel();
        let lines = preview_lines(&s, &s.names().unwrap());
        let text = lines.join("\n");
        assert!(text.contains("via column tenant_id"), "{text}");
        assert!(text.contains("writeback path: http_handler"), "{text}");
        assert!(text.contains("late_fee_cents in [0..]"), "{text}");
        assert!(text.contains("proposal capability: invoice.propose_invoice_update"));
    }

    #[test]
    fn migrate_is_conservative() {
        let doc = generate(&sel()).unwrap();
        let mut unversioned = doc.clone();
        unversioned.as_object_mut().unwrap().remove("version");
        let out = migrate(&unversioned).unwrap();
        assert_eq!(out, doc);
        assert_eq!(out.as_object().unwrap().keys().next().unwrap(), "version");
        let mut v2 = doc.clone();
        v2["version"] = json!(2);
        assert!(migrate(&v2).unwrap_err().to_string().contains("version 2"));
        assert!(migrate(&json!({"version": 1})).is_err());
    }
}
