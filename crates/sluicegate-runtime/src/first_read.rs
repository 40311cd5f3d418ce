//! The first read `onboard db` runs right after writing a config: the read capability it
//! added, called through the same runtime as MCP, with its evidence recorded in the ledger
//! and the row the model saw shown. It never fails onboarding: when it cannot run, it says
//! what is missing (the capability's own source and trusted context name the env vars).

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use sluicegate_core::config::{Capability, Config, Kind};
use sluicegate_ledger::Ledger;

use crate::{AgentApi, Env};

/// `e` and its causes, `outer: inner: …`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// The env vars a call of `cap` reads: its source's read URL and its trusted context's
/// tenant (when it names one) and principal.
fn env_names(config: &Config, cap: &Capability) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(source) = config.sources.get(&cap.source) {
        names.push(source.read_url_env.clone());
    }
    if let Some(ctx) = config.context_for(cap) {
        for key in ["tenant_id_env", "principal_env"] {
            if let Some(env) = ctx.values.get(key).and_then(Value::as_str) {
                names.push(env.to_string());
            }
        }
    }
    names
}

/// Read object `smoke_id` with the read capability `read_tool` of `config`, recording into
/// the ledger at `store`; the text says what happened (with the row the model saw) or what
/// is missing.
pub async fn first_read(
    config: Arc<Config>,
    read_tool: &str,
    smoke_id: Option<&str>,
    env: Env,
    store: &Path,
) -> String {
    let Some(read) = config
        .capability(read_tool)
        .filter(|c| c.kind == Kind::Read)
        .cloned()
    else {
        return "No read capability to call.".into();
    };
    let Some(id) = smoke_id else {
        return format!(
            "Not run: no object id given (onboarding reads catalog metadata only, never a row). Try one:\n  sluicegate smoke call {} --args '{{\"{}\":\"<a real id>\"}}'",
            read.name, read.lookup_arg
        );
    };
    let missing: Vec<String> = env_names(&config, &read)
        .into_iter()
        .filter(|n| env.get(n).is_none())
        .collect();
    if !missing.is_empty() {
        return format!(
            "Smoke call not run yet.\nMissing trusted/runtime env vars: {}\nSet them (see .env.example), then: sluicegate smoke call {} --sample",
            missing.join(", "),
            read.name
        );
    }
    let ledger = match Ledger::open(store) {
        Ok(l) => l,
        Err(e) => {
            return format!(
                "Smoke call not run: cannot open the ledger {}: {}",
                store.display(),
                chain(&e)
            );
        }
    };
    let api = AgentApi::new(config, ledger, env, None);
    let mut args = serde_json::Map::new();
    args.insert(read.lookup_arg.clone(), Value::String(id.to_string()));
    let result = api.call(&read.name, &args).await;
    let (evidence, _) = result.ids();
    if result.succeeded() {
        format!(
            "Smoke call ran successfully.\nTool: {}\nEvidence: {}\nSource DB changed: no\nRow the model saw:\n{}",
            read.name,
            evidence.as_deref().unwrap_or("(not returned)"),
            crate::view::pretty(&result.payload["data"])
        )
    } else {
        format!(
            "Smoke call attempted but did not pass.\nReason: {}\nThe config was written; check the object id and tenant, then retry with `sluicegate smoke call {} --sample`.",
            result.error_code().unwrap_or("refused"),
            read.name
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::demo;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    const TOOL: &str = "billing.inspect_invoice";

    /// The demo's sample app and config, with the env it needs.
    fn demo_setup(dir: &Path) -> (Arc<Config>, Env) {
        let s = demo::setup_in(dir, &Env::from_map(HashMap::new())).expect("setup");
        let env = demo::env(&Env::from_map(HashMap::new()), &s.app_db);
        (s.config, env)
    }

    #[test]
    fn reads_the_object_and_records_evidence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, env) = demo_setup(dir.path());
        let store = dir.path().join("first.db");
        let text = block_on(first_read(config, TOOL, Some("INV-3001"), env, &store));
        assert!(
            text.starts_with(
                "Smoke call ran successfully.\nTool: billing.inspect_invoice\nEvidence: ev_"
            ),
            "{text}"
        );
        // The row the model saw, visible columns only.
        assert!(
            text.contains("Row the model saw:\n{\n  \"id\": \"INV-3001\""),
            "{text}"
        );
        assert!(!text.contains("internal_risk_note"), "{text}");
        assert!(store.exists());
    }

    #[test]
    fn says_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, env) = demo_setup(dir.path());
        let store = dir.path().join("first.db");
        let no_id = block_on(first_read(config.clone(), TOOL, None, env.clone(), &store));
        assert_eq!(
            no_id,
            "Not run: no object id given (onboarding reads catalog metadata only, never a row). Try one:\n  sluicegate smoke call billing.inspect_invoice --args '{\"invoice_id\":\"<a real id>\"}'"
        );
        let empty = Env::from_map(HashMap::new());
        let unset = block_on(first_read(
            config.clone(),
            TOOL,
            Some("INV-3001"),
            empty,
            &store,
        ));
        assert_eq!(
            unset,
            "Smoke call not run yet.\nMissing trusted/runtime env vars: DEMO_APP_READ_URL, DEMO_TENANT_ID, DEMO_PRINCIPAL\nSet them (see .env.example), then: sluicegate smoke call billing.inspect_invoice --sample"
        );
        assert!(!store.exists(), "nothing is recorded without the env");
        let other = block_on(first_read(config, TOOL, Some("INV-9001"), env, &store));
        assert!(
            other.starts_with(
                "Smoke call attempted but did not pass.\nReason: NOT_FOUND_IN_TENANT\n"
            ),
            "{other}"
        );
    }
}
