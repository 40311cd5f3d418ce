//! What `store verify`, `store stats` and `reviewer init` print: the ledger's integrity report,
//! its size, and the config line for a new reviewer. Pure rendering; the binary prints.

use std::fmt::Write;

use sluicegate_core::display;
use sluicegate_ledger::{ExportCheck, Stats, VerifyReport};

/// What a report without problems says of everything it covered.
const ALL_VERIFIED: &str =
    "every hash chain links, every record matches its event, every signature verifies.";

/// How many unreadable lines `store verify-export` names before it only counts them.
const UNREADABLE_SHOWN: usize = 20;

/// `store stats` as text: what the ledger holds and what it costs on disk.
pub fn stats_text(s: &Stats) -> String {
    let mib = |b: f64| b / 1_048_576.0;
    format!(
        "Ledger {path}\n  proposals: {p}  events: {ev}  decisions: {d}\n  evidence bundles: {b} ({items} items)  query-audit records: {qa}\n  writeback jobs: {j}  receipts: {r}\n  size: {size:.1} MiB ({pages} pages of {ps} B) = {bpc} bytes per recorded call\n  WAL: {wal:.1} MiB (commits not yet folded into the main file)\n",
        path = s.path,
        p = s.proposals,
        ev = s.proposal_events,
        d = s.approvals,
        b = s.evidence_bundles,
        items = s.evidence_items,
        qa = s.query_audit,
        j = s.writeback_jobs,
        r = s.writeback_receipts,
        size = mib(s.approx_bytes as f64),
        pages = s.page_count,
        ps = s.page_size,
        bpc = s.bytes_per_call,
        wal = mib(s.wal_bytes as f64),
    )
}

/// The verify report as text: a summary line, then each broken link and each note.
pub fn verify_text(report: &VerifyReport, store: &str) -> String {
    report_text(report, store, true)
}

/// `store verify-export` as text. Never an "OK" when part of the file could not be checked at
/// all: its unreadable lines come first, and the report speaks only of the lines read.
pub fn verify_export_text(check: &ExportCheck, file: &str) -> String {
    let mut out = String::new();
    if !check.unreadable.is_empty() {
        let _ = writeln!(
            out,
            "NOT VERIFIED: {} line(s) of {} cannot be checked:",
            check.unreadable.len(),
            display::text(file)
        );
        for (line, why) in check.unreadable.iter().take(UNREADABLE_SHOWN) {
            let _ = writeln!(out, "  line {line}: {}", display::text(why));
        }
        let more = check.unreadable.len().saturating_sub(UNREADABLE_SHOWN);
        if more > 0 {
            let _ = writeln!(out, "  … and {more} more");
        }
        let _ = writeln!(out, "Of the lines that could be read:");
    }
    out.push_str(&report_text(
        &check.report,
        &format!("export {file}"),
        check.unreadable.is_empty(),
    ));
    let _ = writeln!(
        out,
        "carried, not chained: {} evidence bundle(s), {} query-audit record(s)",
        check.evidence_bundles, check.query_audit
    );
    out
}

/// `complete`: the report covers everything it was asked to check, so a clean one is "OK".
fn report_text(report: &VerifyReport, store: &str, complete: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} proposal(s), {} event(s), {} decision(s) ({} signed) in {store}",
        report.proposals, report.events, report.decisions, report.signed_decisions
    );
    if report.ok() {
        let _ = writeln!(out, "{}{ALL_VERIFIED}", if complete { "OK: " } else { "" });
    } else {
        let _ = writeln!(
            out,
            "BROKEN: {} proposal(s) changed outside Sluicegate (first broken link of each):",
            report.problems.len()
        );
    }
    for p in &report.problems {
        let at = p
            .event_id
            .map(|e| format!(" event {e}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}{at} [{}]: {}",
            sluicegate_core::display::text(&p.proposal_id),
            p.record,
            p.message
        );
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "Notes ({}):", report.notes.len());
        for n in &report.notes {
            let _ = writeln!(
                out,
                "  {} [{}]: {}",
                sluicegate_core::display::text(&n.proposal_id),
                n.record,
                n.message
            );
        }
    }
    out
}

/// What to tell a reviewer whose key was just made.
pub fn reviewer_created_text(name: &str, key_path: &str, public_key: &str) -> String {
    format!(
        "Reviewer key for {name} written to {key_path} (readable by you only; keep it out of the project and away from the agent's OS user).\n\n\
         Add this to \"reviewers\" in the config, so apply accepts only approvals {name} signed:\n\n  \
         {{\"name\": \"{name}\", \"public_key\": \"{public_key}\"}}\n\n\
         Next: sluicegate proposals approve <id> --actor {name}   (the key is found by name; or pass --key {key_path})\n"
    )
}

#[cfg(test)]
mod tests {
    use sluicegate_ledger::Problem;

    use super::*;

    #[test]
    fn a_broken_ledger_reads_as_broken_with_each_first_link() {
        let mut report = VerifyReport {
            proposals: 2,
            events: 9,
            decisions: 1,
            signed_decisions: 0,
            ..Default::default()
        };
        assert!(verify_text(&report, "l.db").contains("OK: every hash chain links"));
        report.problems.push(Problem {
            proposal_id: "wrp_\u{1b}[2K1".into(),
            event_id: Some(4),
            record: "event",
            message: "its content does not match its hash".into(),
        });
        let text = verify_text(&report, "l.db");
        assert!(text.contains("BROKEN: 1 proposal(s)"), "{text}");
        assert!(text.contains(" event 4 [event]: its content"), "{text}");
        assert!(!text.contains('\u{1b}'), "ids are shown escaped: {text}");
    }

    #[test]
    fn a_new_reviewer_gets_the_config_line_and_the_next_step() {
        let text = reviewer_created_text("ann", "/home/ann/.config/k", "ed25519:AAA");
        assert!(text.contains(r#"{"name": "ann", "public_key": "ed25519:AAA"}"#));
        assert!(text.contains("Next: sluicegate proposals approve <id> --actor ann"));
    }
}
