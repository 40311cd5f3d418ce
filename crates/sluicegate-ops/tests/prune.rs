//! `store prune` as printed: a prune that would take evidence a kept proposal still names holds
//! the old proposal back and says which, in text and JSON; nothing of the kept chain goes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sluicegate-ledger/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::ExitCode;

use common::*;
use serde_json::json;
use sluicegate_core::decision::Verdict;
use sluicegate_ops::store::{PruneArgs, StoreOps, run};
use sluicegate_ops::{Paths, Printer};

#[derive(Default)]
struct Capture {
    out: String,
    err: String,
}

impl Printer for Capture {
    fn out(&mut self, text: &str) {
        self.out.push_str(text);
    }
    fn err(&mut self, text: &str) {
        self.err.push_str(text);
    }
}

fn prune(store: &Path, yes: bool, json: bool) -> (ExitCode, Capture) {
    let mut cap = Capture::default();
    let args = PruneArgs {
        paths: Paths {
            store: Some(store.to_path_buf()),
            config: None,
        },
        older_than: Some("0d".into()),
        keep: None,
        dry_run: false,
        yes,
        force: false,
        json,
    };
    let code = run(StoreOps::Prune(args), &mut cap).unwrap();
    (code, cap)
}

#[test]
fn a_prune_that_would_break_a_kept_chain_says_which_proposal_it_keeps() {
    let (_d, ledger) = open_temp();
    let cfg = config("review");
    let at = "2026-06-20T14:31:09.000Z";
    let (first, _) = propose(&ledger, &cfg, &row("INV-1", 5500), "goodwill", at).unwrap();
    let (second, _) = propose(&ledger, &cfg, &row("INV-1", 5500), "courtesy", at).unwrap();
    let hash = ledger.proposal(&first.proposal_id).unwrap().proposal_hash;
    decide(
        &ledger,
        &first.proposal_id,
        Verdict::Reject,
        "ann",
        Some("no"),
        &hash,
        1,
    )
    .unwrap();
    let store = ledger.path().to_path_buf();

    let (code, dry) = prune(&store, false, false);
    assert_eq!(code, ExitCode::SUCCESS);
    let line = format!(
        "  - {}: its evidence {} is also evidence of kept proposal {}\n",
        first.proposal_id, first.evidence.bundle_id, second.proposal_id
    );
    assert!(
        dry.out.contains("Kept for a kept proposal's chain (1):\n"),
        "{}",
        dry.out
    );
    assert!(dry.out.contains(&line), "{}", dry.out);
    assert!(
        dry.out
            .contains(&format!("  - {} (pending_review)\n", second.proposal_id)),
        "{}",
        dry.out
    );
    assert!(dry.out.contains("  proposals: 0\n"), "{}", dry.out);
    assert!(dry.err.is_empty(), "{}", dry.err);

    let (_, done) = prune(&store, true, true);
    let v: serde_json::Value = serde_json::from_str(&done.out).unwrap();
    assert_eq!(v["dry_run"], json!(false));
    assert_eq!(
        v["kept_for_chain"][0]["proposal_id"],
        json!(first.proposal_id)
    );
    assert_eq!(
        v["kept_for_chain"][0]["named_by"],
        json!(second.proposal_id)
    );
    let keys: Vec<&String> = v["deleted"].as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "idempotency_receipts", "the spec's key order");
    assert_eq!(keys.last().unwrap().as_str(), "proposals");
    assert!(ledger.proposal(&first.proposal_id).is_ok());
    assert!(ledger.evidence(&first.evidence.bundle_id).is_ok());
    assert!(ledger.verify(&[]).unwrap().ok());
}
