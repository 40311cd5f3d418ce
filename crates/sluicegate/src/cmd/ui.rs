//! `sluicegate ui`: the review UI (crate `sluicegate-ui`). Prints the one-time login URL as the
//! first line on stdout, then serves until SIGINT/SIGTERM.

use std::process::ExitCode;

use sluicegate_mcp::{CancellationToken, serve::cancel_on_signal};
use sluicegate_runtime::{Env, reviewer};
use sluicegate_ui::{UiArgs, UiOptions, UiServer};

use crate::context::{actor, open_existing_ledger, runtime, store_path};

pub fn run(a: UiArgs) -> anyhow::Result<ExitCode> {
    let store_path = store_path(a.store.as_deref(), a.config.as_deref());
    let (env, reviewer) = (Env::process(), actor(a.actor.as_deref()));
    let key =
        reviewer::key_path_for(a.key.as_deref(), &env, &reviewer).map(|p| reviewer::load_key(&p));
    let options = UiOptions {
        config: super::decide::config_for_reviewers(a.config.as_deref())?,
        ledger: open_existing_ledger(&store_path)?,
        key: key.transpose().map_err(anyhow::Error::msg)?,
        args: a,
        store_path,
        env,
        reviewer,
    };
    runtime()?.block_on(async {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        let server = UiServer::bind(options).await?;
        outln!("{}", server.login_url());
        server.run(shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}
