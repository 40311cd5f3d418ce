//! What a server does before it serves: read each capability's column types from its source's
//! catalog (so that `tools/list` publishes arguments and results typed from the tables) and
//! open the ledger, both at once.
//!
//! Neither needs the other: the column types need only the config and the sources, the ledger
//! only its store. One after the other they were about 1.2 ms of a stdio server's cold start
//! for the ledger and 0.6 ms for the columns of a SQLite table; side by side a start waits for
//! the longer of the two (docs/performance.md). A ledger that cannot open is still reported as
//! soon as it fails, not after a slow or unreachable source's catalog budget.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sluicegate_core::config::Config;
use sluicegate_core::typed::Typed;
use sluicegate_ledger::{Ledger, LedgerError};
use sluicegate_source::{SourceErrorKind, Sources};

use crate::Env;
use crate::agent::AgentApi;
use crate::ledger_store::{LedgerStore, LedgerStoreError};

/// How long a start waits for one source's catalog before serving that source's tools with
/// the config's types.
const CATALOG_BUDGET: Duration = Duration::from_secs(5);

/// The sources a server will read through, with the column types already read from them.
pub struct ColumnTypes {
    pub(crate) sources: Sources,
    /// Typed capabilities, by capability name.
    pub(crate) typed: HashMap<String, Arc<Typed>>,
}

impl ColumnTypes {
    /// Open `config`'s sources and read every capability's column types through them.
    pub async fn read(config: &Config, env: &Env) -> ColumnTypes {
        let sources = Sources::new(config, env.as_fn());
        let typed = read_all(config, &sources)
            .await
            .into_iter()
            .map(|(name, typed)| (name, Arc::new(typed)))
            .collect();
        ColumnTypes { sources, typed }
    }
}

/// Open the ledger at `store` on a thread of its own while this task reads the column types,
/// then put the two together into the API a server hands its front end.
pub async fn start_agent_api(
    config: Arc<Config>,
    store: &LedgerStore,
    env: &Env,
    result_format: Option<u8>,
) -> Result<AgentApi, LedgerStoreError> {
    let (tx, mut opened) = tokio::sync::oneshot::channel();
    let (store, ledger_env, durability) = (store.clone(), env.clone(), config.durability);
    std::thread::Builder::new()
        .name("ledger-open".into())
        .spawn(move || {
            let _ = tx.send(store.open(&ledger_env, durability));
        })
        .map_err(|e| LedgerError::Io(format!("start a thread to open the ledger: {e}")))?;
    let stopped = || LedgerError::Io("the thread opening the ledger stopped".into());
    let (ledger, types): (Ledger, ColumnTypes) = {
        let reading = ColumnTypes::read(&config, env);
        tokio::pin!(reading);
        tokio::select! {
            biased;
            opened = &mut opened => (opened.map_err(|_| stopped())??, reading.await),
            types = &mut reading => (opened.await.map_err(|_| stopped())??, types),
        }
    };
    Ok(AgentApi::with_column_types(
        config,
        ledger,
        env.clone(),
        result_format,
        types,
    ))
}

/// Every capability's typed arguments and columns, by capability name, read from the source
/// catalogs. A catalog the read user cannot read leaves that capability with the config's
/// types; a source that cannot be reached (or does not answer within [`CATALOG_BUDGET`])
/// leaves all of its capabilities out, so that later calls try again. Each case is a warning
/// in the log; nothing here fails.
pub(crate) async fn read_all(config: &Config, sources: &Sources) -> Vec<(String, Typed)> {
    let mut typed = Vec::new();
    let mut down: HashSet<&str> = HashSet::new();
    for cap in &config.capabilities {
        if down.contains(cap.source.as_str()) {
            continue;
        }
        let t = &cap.target;
        let read = sources.columns(&cap.source, &t.schema, &t.table);
        match tokio::time::timeout(CATALOG_BUDGET, read).await {
            Ok(Ok(columns)) => typed.push((cap.name.clone(), Typed::new(cap, &columns))),
            Ok(Err(e))
                if e.kind().is_unavailable()
                    || matches!(e.kind(), SourceErrorKind::CredentialMissing { .. }) =>
            {
                tracing::warn!(source = %cap.source, error = %e, "cannot reach the source to read column types; its tools are typed from the config until it answers");
                down.insert(&cap.source);
            }
            Ok(Err(e)) => {
                tracing::warn!(capability = %cap.name, error = %e, "cannot read the target table's column types; the tool is typed from the config");
                typed.push((cap.name.clone(), Typed::declared(cap)));
            }
            Err(_) => {
                tracing::warn!(source = %cap.source, "the source's catalog did not answer in time; its tools are typed from the config until it answers");
                down.insert(&cap.source);
            }
        }
    }
    typed
}
