//! Human views of ledger records: what `proposals show`, `replay show`, `evidence show`,
//! `receipts show`, the record listings, `apply`, `smoke call` and `propose` print, and the
//! Markdown exports. Every
//! front end that shows these records to a person (the CLI now, a review UI later) uses them.
//!
//! Views build strings; front ends decide where they go. Values print raw when they are
//! strings and as JSON otherwise, so `null` and numbers stay unambiguous.

mod evidence;
mod proposal;
mod replay;
mod tool_call;
mod writeback;

#[cfg(test)]
mod tests;

use serde_json::Value;
use sluicegate_core::lifecycle::State;
use sluicegate_core::proposal::display_value;
use sluicegate_ledger::StoredProposal;

pub use evidence::{
    evidence_list_entry, evidence_markdown, evidence_view, query_audit_list_entry, query_audit_view,
};
pub use proposal::{diff_lines, proposal_details, proposal_first_look, proposal_list_entry};
pub use replay::{replay_details, replay_markdown, replay_story};
pub use tool_call::{proposal_result, smoke_call};
pub use writeback::{apply_summary, handler_apply_summary, receipt_list_entry, receipt_view};

/// The proposal's lifecycle state (an unknown one reads as pending review).
pub(crate) fn state_of(p: &StoredProposal) -> State {
    State::parse(&p.state).unwrap_or(State::PendingReview)
}

/// A field of the proposal's change set.
pub(crate) fn cs<'a>(p: &'a StoredProposal, pointer: &str) -> Option<&'a Value> {
    p.change_set.pointer(pointer)
}

/// A value as a person reads it: strings raw, everything else as JSON.
pub(crate) fn text(v: Option<&Value>) -> String {
    display_value(v)
}

pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub(crate) fn plural(n: usize, label: &str) -> String {
    format!("{n} {label}{}", if n == 1 { "" } else { "s" })
}
