//! `sluicegate ui`: the review UI (crate `sluicegate-ui`). Prints the one-time login URL as the
//! first line on stdout, then serves until SIGINT/SIGTERM.

use std::process::ExitCode;

use sluicegate_mcp::{CancellationToken, serve::cancel_on_signal};
use sluicegate_ui::{UiArgs, UiOptions, UiServer};

use crate::context::{actor, open_existing_store, runtime};

pub fn run(a: UiArgs) -> anyhow::Result<ExitCode> {
    let who = actor(a.actor.as_deref());
    let config = super::decide::config_for_reviewers(a.config.as_deref())?;
    // The SQLite file, or the config's shared PostgreSQL ledger (its path is the `$ENV` label).
    let ledger = open_existing_store(a.store.as_deref(), a.config.as_deref())?;
    let store = ledger.path().to_path_buf();
    let options = UiOptions::resolve(a, config, ledger, store, who);
    let options = options.map_err(anyhow::Error::msg)?;
    runtime()?.block_on(async {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        let server = UiServer::bind(options).await?;
        outln!("{}", server.login_url());
        server.run(shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}
