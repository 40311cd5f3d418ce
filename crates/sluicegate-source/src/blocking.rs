//! Running synchronous database work (rusqlite, the ledger) from async code.
//!
//! `spawn_blocking` costs two thread hops per call, which on a small machine is a large share
//! of a sub-millisecond tool call. Where the runtime allows, the work runs on the calling thread
//! instead: inline on a current-thread runtime (the CLI and the stdio server, which serve one
//! caller at a time), through `block_in_place` on a multi-thread runtime (other tasks move to
//! the remaining workers). Elsewhere it falls back to `spawn_blocking`.

use tokio::runtime::{Handle, RuntimeFlavor};

/// The blocking task itself failed (it panicked or was cancelled).
#[derive(Debug)]
pub struct BlockingFailed;

/// Run `f` without stalling other async work more than the runtime's flavor requires.
pub async fn run<T, F>(f: F) -> Result<T, BlockingFailed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::CurrentThread) => Ok(f()),
        Ok(RuntimeFlavor::MultiThread) => Ok(tokio::task::block_in_place(f)),
        _ => tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| BlockingFailed),
    }
}
