//! Crash-test hooks: named steps of the apply path where a test build can stop the process
//! for good, so a test can kill it there (SIGKILL) and prove that the next `apply` leaves
//! exactly one write, each with its `applied` receipt.
//!
//! Built only with the cargo feature `failpoints`, which only the binary's dev-dependency
//! turns on: without it [`step!`] expands to nothing and the `fail` crate is not compiled in.
//! With it, `SLUICEGATE_FAILPOINTS=<step>[,<step>…]` (read through [`Env`]) arms the named
//! steps; a process reaching one prints [`MARKER`] and the step's name on stderr and blocks
//! until it is killed.

use crate::Env;

/// The line a process prints on stderr when it reaches an armed step, before it blocks.
pub const MARKER: &str = "SLUICEGATE-FAILPOINT-REACHED";

/// Every step that can be armed, in the order `apply` reaches them.
pub const STEPS: &[&str] = &[
    // The attempt's job is recorded in the ledger; the source is untouched.
    "apply.after_job_queued",
    // Inside the source transaction: the row is updated and the source receipt claimed, not
    // yet committed (in sluicegate-source).
    "writeback.before_commit",
    // The source transaction committed; the ledger has no receipt for it yet.
    "apply.after_source_commit",
    // An orphaned attempt's write was recorded as applied; this attempt's own receipt is not.
    "apply.after_reconcile",
    // The attempt's receipt is recorded.
    "apply.after_receipt",
];

/// Mark a step of the apply path (one of [`STEPS`]). Nothing without the feature.
macro_rules! step {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name);
    };
}
pub(crate) use step;

/// Arm the steps `SLUICEGATE_FAILPOINTS` names. Nothing without the feature.
#[cfg(feature = "failpoints")]
pub(crate) fn arm(env: &Env) {
    let Some(names) = env.get("SLUICEGATE_FAILPOINTS") else {
        return;
    };
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        assert!(
            STEPS.contains(&name),
            "SLUICEGATE_FAILPOINTS names {name}, which is not one of {STEPS:?}"
        );
        let owned = name.to_string();
        fail::cfg_callback(name, move || halt(&owned))
            .expect("invariant: a callback fail point always configures");
    }
}

#[cfg(not(feature = "failpoints"))]
pub(crate) fn arm(_: &Env) {}

/// Say where the process stopped, then block until killed.
#[cfg(feature = "failpoints")]
fn halt(name: &str) -> ! {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{MARKER} {name}");
    let _ = err.flush();
    drop(err);
    loop {
        std::thread::park();
    }
}
