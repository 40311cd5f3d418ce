//! The first read `onboard db` runs right after writing a config: the config's first read
//! capability called through the same runtime as MCP, with its evidence recorded in the
//! ledger. It never fails onboarding: when it cannot run, it says what is missing.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use sluicegate_core::config::{Config, Kind};
use sluicegate_core::onboarding::files::smoke_env_names;
use sluicegate_core::onboarding::generated::STATE_DIR;
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

/// Read object `smoke_id` with the first read capability of `config` (generated as `doc`),
/// recording into the ledger at `store`; the text says what happened or what is missing.
pub async fn first_read(
    config: Arc<Config>,
    doc: &Value,
    smoke_id: Option<&str>,
    env: Env,
    store: &Path,
) -> String {
    let Some(read) = config
        .capabilities
        .iter()
        .find(|c| c.kind == Kind::Read)
        .cloned()
    else {
        return "No read capability to call.".into();
    };
    let Some(id) = smoke_id else {
        return format!(
            "Not run: no object id given. Try one:\n  sluicegate smoke call {} --args '{{\"{}\":\"<real id>\"}}' --config <config>",
            read.name, read.lookup_arg
        );
    };
    let missing: Vec<String> = smoke_env_names(doc)
        .into_iter()
        .filter(|n| env.get(n).is_none())
        .collect();
    if !missing.is_empty() {
        return format!(
            "Smoke call not run yet.\nMissing trusted/runtime env vars: {}\nSet them (see .env.example), then: sluicegate smoke call {} --input {STATE_DIR}/smoke-input.json",
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
            "Smoke call ran successfully.\nTool: {}\nEvidence: {}\nSource DB changed: no",
            read.name,
            evidence.as_deref().unwrap_or("(not returned)")
        )
    } else {
        format!(
            "Smoke call attempted but did not pass.\nReason: {}\nThe config was written; check the object id and tenant, then retry with `sluicegate smoke call`.",
            result.error_code().unwrap_or("refused")
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

    /// The demo's sample app and config, with the env it needs.
    fn demo_setup(dir: &Path) -> (Arc<Config>, Value, Env) {
        let s = demo::setup_in(dir, &Env::from_map(HashMap::new())).expect("setup");
        let env = demo::env(&Env::from_map(HashMap::new()), &s.app_db);
        (s.config, demo::config_json(), env)
    }

    #[test]
    fn reads_the_object_and_records_evidence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, doc, env) = demo_setup(dir.path());
        let store = dir.path().join("first.db");
        let text = block_on(first_read(config, &doc, Some("INV-3001"), env, &store));
        assert!(
            text.starts_with(
                "Smoke call ran successfully.\nTool: billing.inspect_invoice\nEvidence: ev_"
            ),
            "{text}"
        );
        assert!(store.exists());
    }

    #[test]
    fn says_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, doc, env) = demo_setup(dir.path());
        let store = dir.path().join("first.db");
        let no_id = block_on(first_read(config.clone(), &doc, None, env.clone(), &store));
        assert_eq!(
            no_id,
            "Not run: no object id given. Try one:\n  sluicegate smoke call billing.inspect_invoice --args '{\"invoice_id\":\"<real id>\"}' --config <config>"
        );
        let empty = Env::from_map(HashMap::new());
        let unset = block_on(first_read(
            config.clone(),
            &doc,
            Some("INV-3001"),
            empty,
            &store,
        ));
        assert!(unset.starts_with("Smoke call not run yet.\nMissing trusted/runtime env vars: "));
        assert!(!store.exists(), "nothing is recorded without the env");
        let other = block_on(first_read(config, &doc, Some("INV-9001"), env, &store));
        assert!(
            other.starts_with(
                "Smoke call attempted but did not pass.\nReason: NOT_FOUND_IN_TENANT\n"
            ),
            "{other}"
        );
    }
}
