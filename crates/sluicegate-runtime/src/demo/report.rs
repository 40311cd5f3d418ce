//! What the demo prints when it is done: the short summary (without a terminal), the `--json`
//! summary, and the commands `demo inspect` suggests. Every command is spelt the way this
//! binary was started ([`invocation`]), so it runs as printed from where the demo ran.

use std::path::Path;

use serde_json::{Value, json};

use super::{APP_DB, CONFIG_FILE, LEDGER, Run};

/// How to run this binary again as printed: `cargo run --release --` (or `cargo run --`) when
/// it is a build inside a Cargo workspace's `target/` (the README starts the demo with
/// `cargo run --release -- demo --quick`, from the clone root), else `sluicegate` (installed).
pub fn invocation(exe: &Path) -> String {
    let dir = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
    };
    let profile = exe.parent();
    let target = profile.and_then(Path::parent);
    let in_workspace = target
        .and_then(Path::parent)
        .is_some_and(|root| root.join("Cargo.toml").is_file());
    match (dir(profile).as_deref(), dir(target).as_deref()) {
        (Some("release"), Some("target")) if in_workspace => "cargo run --release --".into(),
        (Some("debug"), Some("target")) if in_workspace => "cargo run --".into(),
        _ => "sluicegate".into(),
    }
}

/// The summary printed when the demo is not narrated step by step; `cli` starts a command
/// ([`invocation`]).
pub fn summary(run: &Run, cli: &str) -> String {
    format!(
        "Sluicegate quick demo complete (embedded SQLite sample app).\n\n\
         * read billing.inspect_invoice(INV-3001): evidence {}; hidden columns: {}\n\
         * other tenant's INV-9001: {}; tenant_id argument: {}\n\
         * proposal {}: late_fee_cents 5500 -> 0; source unchanged: yes\n\
         * approved outside MCP; guarded apply: applied, 1 row changed\n\
         * retry: already_applied, 0 rows changed\n\
         * stale proposal {}: conflict, 0 rows changed\n\
         * replay: {} events recorded\n\n\
         Local ledger:\n{LEDGER}\n\nNext:\n{cli} demo inspect\n{}",
        run.read_evidence,
        run.hidden.join(", "),
        run.cross_code,
        run.override_code,
        run.proposal_id,
        run.stale_id,
        run.events.len(),
        review_ui_command(cli)
    )
}

/// The review UI on the demo's ledger and config: a free port, its login URL printed first;
/// it serves until Ctrl+C.
pub fn review_ui_command(cli: &str) -> String {
    format!("{cli} ui --port 0 --config {CONFIG_FILE} --store {LEDGER}")
}

/// The machine-readable summary of `demo --json`.
pub fn json(run: &Run) -> Value {
    json!({
        "mode": "embedded_sqlite",
        "app_database": APP_DB,
        "config": CONFIG_FILE,
        "store": LEDGER,
        "read": {"capability": "billing.inspect_invoice", "evidence_bundle_id": run.read_evidence, "hidden_columns": run.hidden},
        "cross_tenant": run.cross_code,
        "tenant_override": run.override_code,
        "proposal_id": run.proposal_id,
        "proposed_change": run.diff,
        "source_unchanged_after_proposal": run.unchanged_after_proposal,
        "apply": {"status": "applied", "rows_changed": run.changed.len()},
        "retry": {"status": "already_applied", "rows_changed": 0},
        "stale_apply": {"proposal_id": run.stale_id, "status": "conflict", "error_code": run.stale_error_code, "rows_changed": 0},
        "replay_id": format!("replay_{}", run.proposal_id),
        "events": run.events,
    })
}

/// The commands that look at what the demo recorded: label, what it shows, command.
pub fn inspect_commands(cli: &str) -> Vec<(&'static str, &'static str, String)> {
    let store = format!("--store {LEDGER}");
    let config = format!("--config {CONFIG_FILE}");
    vec![
        (
            "Proposals",
            "every proposal the agent made, newest first",
            format!("{cli} proposals list {store}"),
        ),
        (
            "Proposal summary",
            "the diff, evidence and approval state",
            format!("{cli} proposals show latest {store}"),
        ),
        (
            "Reviewer details",
            "hashes, guards, fingerprints and events",
            format!("{cli} proposals show latest --details {store}"),
        ),
        (
            "Evidence",
            "what the agent actually saw",
            format!("{cli} evidence list {store}"),
        ),
        (
            "Query audit",
            "statement shapes, never parameter values",
            format!("{cli} query-audit list --details {store}"),
        ),
        (
            "Receipts",
            "what writeback did, including the refused stale write",
            format!("{cli} receipts list {store}"),
        ),
        (
            "Replay",
            "the whole story of one proposal",
            format!("{cli} replay show latest {store}"),
        ),
        (
            "Tool boundary",
            "exactly what a model would be offered",
            format!("{cli} tools preview {config}"),
        ),
        (
            "Review UI",
            "the inbox, proposal pages and receipts in a browser (open the URL it prints; Ctrl+C stops it)",
            review_ui_command(cli),
        ),
    ]
}

/// `demo inspect` as text.
pub fn inspect_text(cli: &str) -> String {
    let mut out = format!("Quick demo inspection\n\nLocal ledger:\n{LEDGER}\n\n");
    for (i, (label, description, command)) in inspect_commands(cli).iter().enumerate() {
        out.push_str(&format!(
            "{}. {label}\n   {description}\n   {command}\n\n",
            i + 1
        ));
    }
    out
}

/// `demo inspect --json`.
pub fn inspect_json(cli: &str) -> Value {
    json!({
        "store": LEDGER,
        "config": CONFIG_FILE,
        "commands": inspect_commands(cli).iter().map(|(l, d, c)| json!({"label": l, "description": d, "command": c})).collect::<Vec<_>>(),
    })
}
