//! The demo run end to end in a temporary directory: every step shows what it demonstrates,
//! and the summaries say so.

use super::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

fn setup_here(dir: &Path) -> Setup {
    setup_in(dir, &Env::from_map(HashMap::new())).expect("the demo sets up")
}

#[test]
fn the_demo_shows_every_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup_here(dir.path());
    assert!(dir.path().join(CONFIG_FILE).exists());
    assert!(dir.path().join(LEDGER).exists());
    let mut titles = Vec::new();
    let run = block_on(run(&s, |title, _| titles.push(title.to_string()))).expect("the demo runs");
    assert_eq!(titles.len(), 7, "{titles:?}");
    assert_eq!(titles[0], "the agent inspects an invoice");
    assert_eq!(titles[6], "replay");
    assert_eq!(run.hidden, ["internal_risk_note"]);
    assert!(!run.read_data.contains_key("internal_risk_note"));
    assert_eq!(run.cross_code, "NOT_FOUND_IN_TENANT");
    assert_eq!(run.override_code, "MODEL_CANNOT_OVERRIDE_BINDING");
    assert!(run.unchanged_after_proposal);
    assert_eq!(run.changed, ["INV-3001"]);
    assert_eq!(run.diff["late_fee_cents"]["before"], 5500);
    assert_eq!(run.stale_error_code.as_deref(), Some("VERSION_CONFLICT"));
    assert!(
        run.events.iter().any(|e| e == "proposal_approved"),
        "{:?}",
        run.events
    );

    let summary = report::summary(&run, "sluicegate");
    assert!(summary.starts_with("Sluicegate quick demo complete"));
    assert!(summary.contains(&format!(
        "* proposal {}: late_fee_cents 5500 -> 0",
        run.proposal_id
    )));
    assert!(summary.ends_with(
        "Next:\nsluicegate demo inspect\nsluicegate ui --port 0 --config .sluicegate/demo/sluicegate.json --store .sluicegate/quick-demo.db"
    ));
    let json = report::json(&run);
    assert_eq!(json["apply"]["rows_changed"], 1);
    assert_eq!(json["replay_id"], format!("replay_{}", run.proposal_id));
    assert_eq!(json["stale_apply"]["error_code"], "VERSION_CONFLICT");
}

#[test]
fn seeding_records_one_proposal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup_here(dir.path());
    block_on(seed(&s)).expect("a proposal");
    let list = s
        .review
        .ledger()
        .list_proposals(&sluicegate_ledger::Filter::default())
        .expect("listed");
    assert_eq!(list.len(), 1);
}

#[test]
fn inspect_lists_the_commands() {
    let text = report::inspect_text("sluicegate");
    assert!(text.starts_with(
        "Quick demo inspection\n\nLocal ledger:\n.sluicegate/quick-demo.db\n\n1. Proposals\n"
    ));
    assert!(text.ends_with(
        "   sluicegate ui --port 0 --config .sluicegate/demo/sluicegate.json --store .sluicegate/quick-demo.db\n\n"
    ));
    assert_eq!(
        report::inspect_json("sluicegate")["commands"]
            .as_array()
            .map(Vec::len),
        Some(9)
    );
}

#[test]
fn commands_are_spelt_the_way_the_binary_was_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").expect("manifest");
    let exe = |profile: &str| root.join("target").join(profile).join("sluicegate");
    assert_eq!(
        report::invocation(&exe("release")),
        "cargo run --release --"
    );
    assert_eq!(report::invocation(&exe("debug")), "cargo run --");
    assert_eq!(
        report::invocation(Path::new("/home/u/.cargo/bin/sluicegate")),
        "sluicegate"
    );
    // A target/ outside a Cargo workspace is an installed copy.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let copied = elsewhere.path().join("target/release/sluicegate");
    assert_eq!(report::invocation(&copied), "sluicegate");
    let text = report::inspect_text("cargo run --release --");
    assert!(
        text.contains(
            "   cargo run --release -- proposals list --store .sluicegate/quick-demo.db\n"
        )
    );
}
