//! Human views of ledger records: what `proposals show`, `replay show`, `evidence show`,
//! `receipts show`, the record listings, `apply`, `smoke call` and `propose` print, and the
//! Markdown exports. Every
//! front end that shows these records to a person (the CLI now, a review UI later) uses them.
//!
//! Views build strings; front ends decide where they go. Everything a model, a tool argument, a
//! source row or the ledger wrote goes through `sluicegate_core::display` (see "Honest screens"
//! in ARCHITECTURE.md): free text with its control characters visible, diff and row values
//! quoted when they are strings, so a value can never redraw the screen around it.

mod evidence;
mod proposal;
mod replay;
mod tool_call;
mod tools;
mod writeback;

#[cfg(test)]
mod tests;

use serde_json::Value;
use sluicegate_core::display;
pub(crate) use sluicegate_core::display::text;
use sluicegate_core::lifecycle::State;
use sluicegate_ledger::StoredProposal;

pub use evidence::{
    evidence_list_entry, evidence_markdown, evidence_view, query_audit_list_entry, query_audit_view,
};
pub use proposal::{
    diff_lines, proposal_details, proposal_first_look, proposal_list_entry, tampered_warning,
};
pub use replay::{replay_details, replay_markdown, replay_story};
pub use tool_call::{proposal_result, smoke_call};
pub use tools::{
    boundary_checks, boundary_smoke, boundary_smoke_json, tools_preview, tools_preview_json,
};
pub use writeback::{apply_summary, handler_apply_summary, receipt_list_entry, receipt_view};

/// The proposal's lifecycle state (an unknown one reads as pending review).
pub(crate) fn state_of(p: &StoredProposal) -> State {
    State::parse(&p.state).unwrap_or(State::PendingReview)
}

/// A field of the proposal's change set.
pub(crate) fn cs<'a>(p: &'a StoredProposal, pointer: &str) -> Option<&'a Value> {
    p.change_set.pointer(pointer)
}

/// A record field (an id, a status, a principal): free text with its controls visible,
/// anything else as [`shown`] writes it.
pub(crate) fn field(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => text(s).into_owned(),
        other => shown(other),
    }
}

/// Shown text (controls already visible) made inert for a Markdown renderer: every character
/// that would start a link, an image, an HTML tag, emphasis, strikethrough or code is
/// backslash-escaped, so a value a model or a row wrote renders as the characters it is,
/// never as a live link, a tracking image or bold "APPROVED". An `_` inside a word stays: it
/// cannot start emphasis there.
pub(crate) fn markdown(shown: &str) -> String {
    let chars: Vec<char> = shown.chars().collect();
    let mut out = String::with_capacity(shown.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let within_word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        let inside_word = c == '_' && within_word(i.checked_sub(1)) && within_word(Some(i + 1));
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~') && !inside_word {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A diff or row value: strings quoted, controls visible, `unset` when the record has none.
pub(crate) fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "unset".to_string(), display::value)
}

/// JSON for a person: pretty, and inert (C1, DEL and bidi escaped; serde already escapes C0).
pub(crate) fn pretty(v: &impl serde::Serialize) -> String {
    // Records and arguments are JSON values: they always serialize.
    display::inert_json(&serde_json::to_string_pretty(v).unwrap_or_default()).into_owned()
}

pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub(crate) fn plural(n: usize, label: &str) -> String {
    format!("{n} {label}{}", if n == 1 { "" } else { "s" })
}
