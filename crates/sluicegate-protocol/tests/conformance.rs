//! Protocol conformance: every fixture round-trips through its typed form, validates against its
//! published schema, and matches the manifest digest; the documented rejection mutations fail.
//! Documents Sluicegate produces (change sets, jobs, receipts) validate against the same schemas.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluicegate_protocol::{
    ChangeSet, ExecutionReceipt, LegacyJob, RunnerRegistration, WritebackJobV1,
};
use sluicegate_test_support::{conformance_dir, read_json};

fn schema(dir: &Path, name: &str) -> jsonschema::Validator {
    let s = read_json(&dir.join("schemas").join(name));
    jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Parse into the typed form, serialise back, and compare as JSON values.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
    let typed: T = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(
        &serde_json::to_value(&typed).unwrap(),
        doc,
        "round trip changed the document"
    );
    typed
}

fn fixture(dir: &Path, name: &str) -> Value {
    read_json(&dir.join("fixtures/protocol").join(name))
}

/// A change applied to a fixture to make it invalid.
type Mutation = Box<dyn Fn(&mut Value)>;

#[test]
fn manifest_digests_match_the_files() {
    let dir = conformance_dir();
    let manifest = fixture(&dir, "MANIFEST.json");
    assert_eq!(
        manifest["schema_version"],
        json!("synapsor.protocol-manifest.v1")
    );
    assert_eq!(manifest["hash_algorithm"], json!("sha256"));
    let artifacts = manifest["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 9);
    for a in artifacts {
        let name = a["name"].as_str().unwrap();
        let path = match a["kind"].as_str().unwrap() {
            "schema" => dir.join("schemas").join(name),
            _ => dir.join("fixtures/protocol").join(name),
        };
        let digest = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
        assert_eq!(digest, a["sha256"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn change_set_fixture_round_trips_and_validates() {
    let dir = conformance_dir();
    let doc = fixture(&dir, "change-set.late-fee-waiver.v1.json");
    let cs: ChangeSet = round_trip(&doc);
    assert_eq!(cs.schema_version, "synapsor.change-set.v1");
    assert!(!cs.source_database_mutated);
    assert_eq!(cs.patch["late_fee_cents"], json!(0));
    let v = schema(&dir, "change-set.v1.schema.json");
    assert!(errors(&v, &doc).is_empty(), "{:?}", errors(&v, &doc));
    // The store-side rules accept it too.
    sluicegate_core::proposal::validate_change_set(&cs).unwrap();
}

#[test]
fn change_set_rejection_mutations_fail() {
    let dir = conformance_dir();
    let base = fixture(&dir, "change-set.late-fee-waiver.v1.json");
    let v = schema(&dir, "change-set.v1.schema.json");
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "patch column not allowlisted",
            Box::new(|d: &mut Value| d["patch"]["admin"] = json!("x")),
        ),
        (
            "primary key allowlisted",
            Box::new(|d: &mut Value| {
                d["guards"]["allowed_columns"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("id"))
            }),
        ),
        (
            "tenant allowlisted",
            Box::new(|d: &mut Value| {
                d["guards"]["allowed_columns"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("tenant_id"))
            }),
        ),
        (
            "unsafe pk column",
            Box::new(|d: &mut Value| {
                d["source"]["primary_key"]["column"] = json!("id/../../tenant_id")
            }),
        ),
        (
            "empty before",
            Box::new(|d: &mut Value| d["before"] = json!({})),
        ),
    ];
    for (what, mutate) in mutations {
        let mut doc = base.clone();
        mutate(&mut doc);
        let typed: ChangeSet = serde_json::from_value(doc.clone()).unwrap();
        assert!(
            sluicegate_core::proposal::validate_change_set(&typed).is_err(),
            "store accepted: {what}"
        );
        // The schema cannot express the cross-field rules; the shape rules it does catch.
        if matches!(what, "unsafe pk column" | "empty before") {
            assert!(!errors(&v, &doc).is_empty(), "schema accepted: {what}");
        }
    }
}

#[test]
fn writeback_job_fixture_round_trips_and_normalises() {
    let dir = conformance_dir();
    let doc = fixture(&dir, "writeback-job.late-fee-waiver.v1.json");
    let job: WritebackJobV1 = round_trip(&doc);
    let v = schema(&dir, "writeback-job.v1.schema.json");
    assert!(errors(&v, &doc).is_empty(), "{:?}", errors(&v, &doc));
    let legacy = LegacyJob::from(&job);
    let legacy = serde_json::to_value(&legacy).unwrap();
    assert_eq!(legacy["protocol_version"], json!("1.0"));
    assert_eq!(legacy["job_id"], json!("wbj_123"));
    assert_eq!(legacy["source_id"], json!("src_pg_acme"));
    assert_eq!(
        legacy["target"]["tenant_guard"],
        json!({"column": "tenant_id", "value": "acme"})
    );
    assert_eq!(
        legacy["conflict_guard"],
        json!({"kind": "version_column", "column": "updated_at", "expected_value": "2026-06-20T14:31:08Z"})
    );
    assert_eq!(
        legacy["patch"],
        json!({"late_fee_cents": 0, "waiver_reason": "approved support waiver"})
    );
    // A legacy job parses back into the same typed form.
    let back: LegacyJob = serde_json::from_value(legacy).unwrap();
    assert_eq!(back.approval_id, job.proposal_hash);
}

#[test]
fn writeback_job_rejection_mutations_fail_the_schema() {
    let dir = conformance_dir();
    let base = fixture(&dir, "writeback-job.late-fee-waiver.v1.json");
    let v = schema(&dir, "writeback-job.v1.schema.json");
    for (what, mutate) in [
        (
            "schema ../private",
            Box::new(|d: &mut Value| d["target"]["schema"] = json!("../private"))
                as Box<dyn Fn(&mut Value)>,
        ),
        (
            "patch key injection",
            Box::new(|d: &mut Value| d["patch"]["status; DROP TABLE tickets"] = json!("x")),
        ),
    ] {
        let mut doc = base.clone();
        mutate(&mut doc);
        assert!(!errors(&v, &doc).is_empty(), "schema accepted: {what}");
    }
}

#[test]
fn receipt_and_registration_fixtures_round_trip_and_validate() {
    let dir = conformance_dir();
    let v = schema(&dir, "execution-receipt.v1.schema.json");
    for name in [
        "execution-receipt.applied.v1.json",
        "execution-receipt.conflict.v1.json",
    ] {
        let doc = fixture(&dir, name);
        let _: ExecutionReceipt = round_trip(&doc);
        assert!(
            errors(&v, &doc).is_empty(),
            "{name}: {:?}",
            errors(&v, &doc)
        );
    }
    let applied: ExecutionReceipt =
        serde_json::from_value(fixture(&dir, "execution-receipt.applied.v1.json")).unwrap();
    assert!(applied.source_database_mutated);
    assert_eq!(applied.rows_affected, 1);
    let conflict: ExecutionReceipt =
        serde_json::from_value(fixture(&dir, "execution-receipt.conflict.v1.json")).unwrap();
    assert_eq!(
        conflict.safe_error_code.as_deref(),
        Some("VERSION_CONFLICT")
    );

    let doc = fixture(&dir, "runner-registration.v1.json");
    let reg: RunnerRegistration = round_trip(&doc);
    assert!(reg.engines.contains(&"postgres".to_string()));
    assert!(reg.scope.source_ids.contains(&"src_pg_acme".to_string()));
    let v = schema(&dir, "runner-registration.v1.schema.json");
    assert!(errors(&v, &doc).is_empty());
}

#[test]
fn fixtures_carry_no_urls_or_secrets() {
    let dir = conformance_dir();
    for entry in std::fs::read_dir(dir.join("fixtures/protocol")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path())
            .unwrap()
            .to_lowercase();
        for bad in [
            "postgres://",
            "postgresql://",
            "mysql://",
            "password",
            "secret",
            "execute_sql",
            "run_query",
            "raw_sql",
        ] {
            assert!(!text.contains(bad), "{bad}");
        }
    }
}
