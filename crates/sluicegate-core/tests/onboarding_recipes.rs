//! Recipes against the conformance data: every built-in recipe and every recipe shipped in
//! the in-repo conformance `recipes/` has a spec that validates against the
//! `onboarding-selection.v1` schema, and the config generated from it passes the validator and
//! exposes exactly the recipe's two `semantic_tools`. Nothing generated names a URL or secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The purity rules of crates/sluicegate-core/clippy.toml are for `src`: this test reads the
// conformance fixtures from disk, which is what an integration test is for.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests read fixture files; core's purity rule covers src"
)]

use serde_json::Value;
use sluicegate_core::config;
use sluicegate_core::onboarding::recipes::{Recipe, builtin, parse_recipe};
use sluicegate_core::onboarding::selection::generate;
use sluicegate_test_support::{conformance_dir, read_json};

fn check(recipe: &Recipe, schema: &jsonschema::Validator) {
    let errors: Vec<String> = schema
        .iter_errors(&recipe.raw_spec)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}", recipe.id);
    let doc = generate(&recipe.spec).unwrap_or_else(|e| panic!("{}: {e}", recipe.id));
    let (validation, cfg) = config::validate(&doc);
    assert!(validation.ok, "{}: {:?}", recipe.id, validation.errors);
    let names: Vec<String> = cfg
        .unwrap()
        .exposed_capabilities()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, recipe.semantic_tools, "{}", recipe.id);
    let text = doc.to_string().to_lowercase();
    for bad in [
        "postgres://",
        "postgresql://",
        "mysql://",
        "password",
        "secret",
    ] {
        assert!(!text.contains(bad), "{}: {bad}", recipe.id);
    }
}

#[test]
fn recipes_match_the_selection_schema_and_generate_their_tools() {
    let dir = conformance_dir();
    let schema_doc: Value = read_json(&dir.join("schemas/onboarding-selection.v1.schema.json"));
    let schema = jsonschema::validator_for(&schema_doc).unwrap();
    let ours = builtin();
    assert_eq!(ours.len(), 5);
    for r in &ours {
        check(r, &schema);
    }
    let mut theirs = 0;
    for entry in std::fs::read_dir(dir.join("recipes")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let r = parse_recipe(&text, &path.display().to_string()).unwrap();
        check(&r, &schema);
        // Same ids and tools as ours: a reference recipe id works here too.
        let mine = ours.iter().find(|o| o.id == r.id).expect("same recipe ids");
        assert_eq!(mine.semantic_tools, r.semantic_tools);
        theirs += 1;
    }
    assert_eq!(theirs, 5);
}
