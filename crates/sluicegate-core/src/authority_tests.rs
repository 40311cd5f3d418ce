//! Table-driven tests of [`super::can_apply`]: every edit an attacker with write access to the
//! ledger could make, and the code each one is refused with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use sluicegate_protocol::ChangeSet;

use super::*;
use crate::call::{Args, TrustedContext};
use crate::config::{Engine, Provider, validate};
use crate::decision::{DecisionRecord, Verdict, public_key_text, signing_key};
use crate::evidence::record_read;
use crate::proposal::{ProposalInput, build_change_set};
use sluicegate_protocol::change_set::Integrity;

fn config_with(reviewers: Value) -> Config {
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment"},
        "reviewers": reviewers,
        "capabilities": [{
            "name": "billing.propose_waiver", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}, "reason": {"type": "string", "max_length": 40},
                     "fee": {"type": "number", "minimum": 0, "maximum": 5500}},
            "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "late_fee_cents", "credit_cents", "waiver_reason", "updated_at"],
            "patch": {"late_fee_cents": {"fixed": 0}, "waiver_reason": {"from_arg": "reason"},
                      "credit_cents": {"from_arg": "fee"}},
            "numeric_bounds": {"credit_cents": {"minimum": 0, "maximum": 5000}},
            "allowed_columns": ["late_fee_cents", "waiver_reason", "credit_cents"],
            "conflict_guard": {"column": "updated_at"}
        }]
    });
    let (v, c) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    c.unwrap()
}

fn config() -> Config {
    config_with(json!([]))
}

fn proposal(cfg: &Config) -> ChangeSet {
    let cap = &cfg.capabilities[0];
    let row = json!({"id": "INV-1", "late_fee_cents": 5500, "credit_cents": 0, "waiver_reason": null,
        "updated_at": "2026-06-20T14:31:08.000Z", "tenant_id": "acme"});
    let row = row.as_object().unwrap().clone();
    let ctx = TrustedContext {
        tenant_id: "acme".into(),
        principal: "agent_1".into(),
        provenance: Provider::Environment,
    };
    let args: Args = json!({"invoice_id": "INV-1", "reason": "goodwill", "fee": 1200})
        .as_object()
        .unwrap()
        .clone();
    let read = record_read(
        cap,
        &ctx,
        &row,
        1,
        &json!("INV-1"),
        "2026-06-20T14:31:09.000Z",
    );
    build_change_set(&ProposalInput {
        mode: cfg.mode,
        engine: Engine::Sqlite,
        cap,
        args: &args,
        ctx: &ctx,
        before: &row,
        read: &read,
        now: "2026-06-20T14:31:09.000Z",
        columns: None,
    })
    .unwrap()
    .change_set
}

fn approval(cs: &ChangeSet) -> DecisionRecord {
    DecisionRecord {
        proposal_id: cs.proposal_id.clone(),
        proposal_version: cs.proposal_version,
        content_hash: content_hash(cs),
        verdict: Verdict::Approve,
        reviewer: "ann".into(),
        reason: None,
        decided_at: "2026-06-20T14:40:00.000Z".into(),
        signature: None,
        reviewer_key: None,
    }
}

/// Recompute both stored hash copies after an edit, as an attacker would.
fn rehash(cs: &mut ChangeSet) -> String {
    let hash = content_hash(cs);
    cs.integrity = Some(Integrity {
        proposal_hash: hash.clone(),
    });
    hash
}

fn check(
    cfg: &Config,
    cs: &ChangeSet,
    stored: &str,
    decisions: &[DecisionRecord],
) -> Result<(), ApplyCode> {
    can_apply(ApplyInput {
        config: cfg,
        change_set: cs,
        stored_hash: stored,
        stored_version: cs.proposal_version,
        decisions,
    })
    .map(|_| ())
    .map_err(|r| r.code)
}

#[test]
fn an_untouched_approved_proposal_may_be_applied() {
    let cfg = config();
    let cs = proposal(&cfg);
    let a = approval(&cs);
    let auth = can_apply(ApplyInput {
        config: &cfg,
        change_set: &cs,
        stored_hash: proposal_hash(&cs),
        stored_version: 1,
        decisions: std::slice::from_ref(&a),
    })
    .unwrap();
    assert_eq!(auth.executor, "sql_update");
    assert_eq!(auth.content_hash, proposal_hash(&cs));
}

#[test]
fn decisions_not_the_state_column_decide() {
    let cfg = config();
    let cs = proposal(&cfg);
    let hash = proposal_hash(&cs).to_string();
    let approved = approval(&cs);
    let rejected = DecisionRecord {
        verdict: Verdict::Reject,
        ..approved.clone()
    };
    let elsewhere = DecisionRecord {
        proposal_id: "wrp_other".into(),
        ..approved.clone()
    };
    let cases: Vec<(&str, Vec<DecisionRecord>, ApplyCode)> = vec![
        ("never decided", vec![], ApplyCode::NotApproved),
        ("rejected", vec![rejected.clone()], ApplyCode::Rejected),
        (
            "approved then rejected",
            vec![approved.clone(), rejected],
            ApplyCode::Rejected,
        ),
        (
            "approved twice",
            vec![approved.clone(), approved.clone()],
            ApplyCode::DecisionsInconsistent,
        ),
        (
            "another proposal's approval",
            vec![elsewhere],
            ApplyCode::DecisionsInconsistent,
        ),
    ];
    for (what, decisions, code) in cases {
        assert_eq!(check(&cfg, &cs, &hash, &decisions), Err(code), "{what}");
    }
}

#[test]
fn edits_after_approval_are_refused_with_a_code() {
    let cfg = config();
    type Edit = fn(&mut ChangeSet);
    let edits: Vec<(&str, Edit)> = vec![
        ("patch text", |cs| {
            cs.patch.insert("waiver_reason".into(), json!("other text"));
            cs.after.insert("waiver_reason".into(), json!("other text"));
        }),
        ("target row", |cs| {
            cs.source.primary_key.value = json!("INV-2");
            cs.scope.object_id = "INV-2".into();
            cs.before.insert("id".into(), json!("INV-2"));
            cs.after.insert("id".into(), json!("INV-2"));
        }),
        ("tenant", |cs| {
            cs.guards.tenant.value = json!("otherco");
            cs.scope.tenant_id = "otherco".into();
            cs.before.insert("tenant_id".into(), json!("otherco"));
            cs.after.insert("tenant_id".into(), json!("otherco"));
        }),
        ("guard", |cs| {
            cs.guards.expected_version.value = json!("2030-01-01T00:00:00.000Z")
        }),
    ];
    for (what, edit) in edits {
        let mut cs = proposal(&cfg);
        let approved = approval(&cs);
        // Edited, stored hash column left alone: the content no longer matches it.
        let old = proposal_hash(&cs).to_string();
        edit(&mut cs);
        assert_eq!(
            check(&cfg, &cs, &old, std::slice::from_ref(&approved)),
            Err(ApplyCode::ContentModified),
            "{what}, hashes stale"
        );
        // Both stored copies recomputed: the approval was for other content.
        let new = rehash(&mut cs);
        assert_eq!(
            check(&cfg, &cs, &new, std::slice::from_ref(&approved)),
            Err(ApplyCode::ApprovalHashMismatch),
            "{what}, hashes recomputed"
        );
    }
}

#[test]
fn with_every_hash_forged_the_capability_rules_still_hold() {
    let cfg = config();
    type Edit = fn(&mut ChangeSet);
    let edits: Vec<(&str, Edit, ApplyCode)> = vec![
        (
            "bounded amount past its maximum",
            |cs| {
                cs.patch.insert("credit_cents".into(), json!(9000));
                cs.after.insert("credit_cents".into(), json!(9000));
            },
            ApplyCode::PatchOutsidePolicy,
        ),
        (
            "fixed value changed",
            |cs| {
                cs.patch.insert("late_fee_cents".into(), json!(100));
                cs.after.insert("late_fee_cents".into(), json!(100));
            },
            ApplyCode::PatchOutsidePolicy,
        ),
        (
            "text past the argument's max_length",
            |cs| {
                let long = json!("x".repeat(41));
                cs.patch.insert("waiver_reason".into(), long.clone());
                cs.after.insert("waiver_reason".into(), long);
            },
            ApplyCode::PatchOutsidePolicy,
        ),
        (
            "a column outside the allowlist",
            |cs| {
                cs.patch.insert("status".into(), json!("paid"));
                cs.after.insert("status".into(), json!("paid"));
            },
            ApplyCode::PatchOutsidePolicy,
        ),
        (
            "after differs from before + patch",
            |cs| {
                cs.after.insert("late_fee_cents".into(), json!(5500));
            },
            ApplyCode::PatchOutsidePolicy,
        ),
        (
            "tenant guard on another column",
            |cs| {
                cs.guards.tenant.column = "id".into();
            },
            ApplyCode::TenantMismatch,
        ),
        (
            "tenant guard off the row's tenant",
            |cs| {
                cs.guards.tenant.value = json!("otherco");
                cs.scope.tenant_id = "otherco".into();
            },
            ApplyCode::TenantMismatch,
        ),
        (
            "guard value not the row's",
            |cs| {
                cs.guards.expected_version.value = json!("2030-01-01T00:00:00.000Z");
            },
            ApplyCode::GuardMismatch,
        ),
        (
            "guard on another column",
            |cs| {
                cs.guards.expected_version.column = "late_fee_cents".into();
                cs.guards.expected_version.value = json!(5500);
            },
            ApplyCode::GuardMismatch,
        ),
        (
            "primary key off the row",
            |cs| {
                cs.source.primary_key.value = json!("INV-2");
            },
            ApplyCode::GuardMismatch,
        ),
    ];
    for (what, edit, code) in edits {
        let mut cs = proposal(&cfg);
        edit(&mut cs);
        let hash = rehash(&mut cs);
        let mut forged = approval(&cs);
        forged.content_hash = hash.clone();
        assert_eq!(check(&cfg, &cs, &hash, &[forged]), Err(code), "{what}");
    }
}

#[test]
fn configured_reviewers_need_a_valid_signature() {
    let ann = signing_key(&[1; 32]);
    let eve = signing_key(&[2; 32]);
    let cfg =
        config_with(json!([{"name": "ann", "public_key": public_key_text(&ann.verifying_key())}]));
    let cs = proposal(&cfg);
    let hash = proposal_hash(&cs).to_string();

    let mut good = approval(&cs);
    good.sign(&ann);
    assert_eq!(check(&cfg, &cs, &hash, std::slice::from_ref(&good)), Ok(()));

    let unsigned = approval(&cs);
    assert_eq!(
        check(&cfg, &cs, &hash, &[unsigned]),
        Err(ApplyCode::SignatureMissing)
    );

    let mut by_eve = approval(&cs);
    by_eve.sign(&eve);
    assert_eq!(
        check(&cfg, &cs, &hash, &[by_eve]),
        Err(ApplyCode::ReviewerUnknown)
    );

    let mut stranger = approval(&cs);
    stranger.reviewer = "mallory".into();
    stranger.sign(&eve);
    assert_eq!(
        check(&cfg, &cs, &hash, &[stranger]),
        Err(ApplyCode::ReviewerUnknown)
    );

    // A signature moved onto edited content: the hash the reviewer signed is not this one.
    let mut moved = good.clone();
    moved.content_hash = "sha256:0000".into();
    assert_eq!(
        check(&cfg, &cs, &hash, &[moved]),
        Err(ApplyCode::ApprovalHashMismatch)
    );

    // Every hash forged to match edited content: the signature no longer verifies.
    let mut edited = proposal(&cfg);
    edited.patch.insert("waiver_reason".into(), json!("other"));
    edited.after.insert("waiver_reason".into(), json!("other"));
    let new = rehash(&mut edited);
    let mut forged = good.clone();
    forged.content_hash = new.clone();
    assert_eq!(
        check(&cfg, &edited, &new, &[forged]),
        Err(ApplyCode::SignatureInvalid)
    );

    // Without reviewers configured, a present signature still has to verify.
    let plain = config();
    let mut tampered = good.clone();
    tampered.reviewer = "bob".into();
    assert_eq!(
        check(&plain, &cs, &hash, &[tampered]),
        Err(ApplyCode::SignatureInvalid)
    );
    assert_eq!(check(&plain, &cs, &hash, &[good]), Ok(()));
}

#[test]
fn every_apply_code_has_its_own_spelling() {
    use ApplyCode::*;
    let all = [
        NotReviewMode,
        ContentModified,
        NotApproved,
        Rejected,
        DecisionsInconsistent,
        ApprovalHashMismatch,
        ApprovalVersionMismatch,
        SignatureMissing,
        SignatureInvalid,
        ReviewerUnknown,
        CapabilityNotReviewed,
        TenantMismatch,
        PatchOutsidePolicy,
        GuardMismatch,
        WritebackModeInvalid,
    ];
    let mut names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len());
}

/// A string argument patching an integer column is stored as the integer it spells (the
/// column decides, `crate::typed`); apply still finds it within the argument's declared rules.
#[test]
fn a_string_argument_stored_as_an_integer_may_be_applied() {
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment"},
        "capabilities": [{
            "name": "stock.propose_count", "kind": "proposal", "source": "app",
            "target": {"schema": "main", "table": "items", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"item_id": {"type": "string"}, "count": {"type": "string", "max_length": 3}},
            "lookup": {"id_from_arg": "item_id"},
            "visible_columns": ["id", "quantity", "updated_at"],
            "patch": {"quantity": {"from_arg": "count"}},
            "allowed_columns": ["quantity"],
            "conflict_guard": {"column": "updated_at"},
            "column_types": {"quantity": {"type": "integer"}, "updated_at": {"type": "timestamptz"}}
        }]
    });
    let (v, cfg) = validate(&doc);
    assert!(v.ok, "{:?}", v.errors);
    let cfg = cfg.unwrap();
    let cap = &cfg.capabilities[0];
    let row = json!({"id": 7, "quantity": 3, "updated_at": "2026-06-20T14:31:08.000Z", "tenant_id": "acme"});
    let row = row.as_object().unwrap().clone();
    let ctx = TrustedContext {
        tenant_id: "acme".into(),
        principal: "agent_1".into(),
        provenance: Provider::Environment,
    };
    let typed = crate::typed::Typed::declared(cap);
    let args = crate::call::check_args(
        cap,
        &typed.args,
        json!({"item_id": "7", "count": "12"}).as_object().unwrap(),
    )
    .unwrap();
    assert_eq!(args["count"], json!(12));
    let read = record_read(cap, &ctx, &row, 1, &json!(7), "2026-06-20T14:31:09.000Z");
    let cs = build_change_set(&ProposalInput {
        mode: cfg.mode,
        engine: Engine::Sqlite,
        cap,
        args: &args,
        ctx: &ctx,
        before: &row,
        read: &read,
        now: "2026-06-20T14:31:09.000Z",
        columns: Some(&typed.columns),
    })
    .unwrap()
    .change_set;
    assert_eq!(cs.patch["quantity"], json!(12));
    let a = approval(&cs);
    assert_eq!(check(&cfg, &cs, proposal_hash(&cs), &[a]), Ok(()));
}
