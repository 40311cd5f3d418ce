//! Recipes: starter capability contracts for common business actions (onboarding.md §10).
//!
//! The built-in ones are compiled in from `crates/sluicegate-core/recipes/*.json`; a recipe
//! file a user writes has the same shape and is checked the same way. Each one carries a
//! selection spec that generates exactly its two `semantic_tools`.

use serde::Serialize;
use serde_json::Value;

use super::OnboardingError;
use super::selection::Selection;

/// The built-in recipe files, in `recipes list` order.
const BUILTIN: [(&str, &str); 5] = [
    (
        "accounts.trial_extension",
        include_str!("../../recipes/accounts.trial_extension.json"),
    ),
    (
        "billing.late_fee_waiver",
        include_str!("../../recipes/billing.late_fee_waiver.json"),
    ),
    (
        "credits.account_credit",
        include_str!("../../recipes/credits.account_credit.json"),
    ),
    (
        "orders.refund_review",
        include_str!("../../recipes/orders.refund_review.json"),
    ),
    (
        "support.ticket_resolution",
        include_str!("../../recipes/support.ticket_resolution.json"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recipe {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub expected_table_type: String,
    pub required_columns: Vec<String>,
    pub recommended_primary_key: String,
    pub recommended_tenant_key: String,
    pub recommended_conflict_column: String,
    pub visible_columns: Vec<String>,
    pub allowed_write_columns: Vec<String>,
    pub semantic_tools: Vec<String>,
    pub notes: Vec<String>,
    /// The selection spec as written (for `recipes show --json`).
    #[serde(rename = "spec")]
    pub raw_spec: Value,
    #[serde(skip)]
    pub spec: Selection,
}

impl Recipe {
    /// `recipes show` as text. A recipe may come from any file, so its fields are shown through
    /// `display::text` like other untrusted text.
    pub fn describe(&self) -> String {
        let t = |s: &str| crate::display::text(s).into_owned();
        let list = |v: &[String]| v.iter().map(|s| t(s)).collect::<Vec<_>>().join(", ");
        let mut out = format!(
            "{} ({})\n{}\n\nExpected table: {}\nRequired columns: {}\nPrimary key: {}\nTenant key: {}\nConflict/version column: {}\nVisible columns: {}\nAllowed write columns: {}\nTools: {}\n",
            t(&self.title),
            t(&self.id),
            t(&self.summary),
            t(&self.expected_table_type),
            list(&self.required_columns),
            t(&self.recommended_primary_key),
            t(&self.recommended_tenant_key),
            t(&self.recommended_conflict_column),
            list(&self.visible_columns),
            list(&self.allowed_write_columns),
            list(&self.semantic_tools)
        );
        for n in &self.notes {
            out.push_str(&format!("- {}\n", t(n)));
        }
        out
    }
}

/// Parse and check a recipe document; `origin` names it in errors.
pub fn parse_recipe(text: &str, origin: &str) -> Result<Recipe, OnboardingError> {
    let bad = |what: String| OnboardingError::Recipe(format!("recipe {origin} {what}"));
    let doc: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
    let string = |key: &str| -> Result<String, OnboardingError> {
        doc.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| bad(format!("needs a non-empty string `{key}`")))
    };
    let strings = |key: &str| -> Result<Vec<String>, OnboardingError> {
        let list: Option<Vec<String>> = doc.get(key).and_then(Value::as_array).and_then(|a| {
            a.iter()
                .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                .collect()
        });
        list.filter(|l| !l.is_empty())
            .ok_or_else(|| bad(format!("needs a non-empty string array `{key}`")))
    };
    let head = (
        string("id")?,
        string("title")?,
        string("summary")?,
        string("expected_table_type")?,
    );
    let raw_spec = doc
        .get("spec")
        .filter(|s| s.is_object())
        .cloned()
        .ok_or_else(|| bad("needs an object `spec`".into()))?;
    let spec: Selection = serde_json::from_value(raw_spec.clone())
        .map_err(|e| bad(format!("has an invalid spec: {e}")))?;
    if [&spec.namespace, &spec.table, &spec.primary_key]
        .iter()
        .any(|f| f.as_deref().is_none_or(str::is_empty))
    {
        return Err(bad(
            "spec must name at least namespace, table and primary_key".into(),
        ));
    }
    Ok(Recipe {
        id: head.0,
        title: head.1,
        summary: head.2,
        expected_table_type: head.3,
        required_columns: strings("required_columns")?,
        recommended_primary_key: string("recommended_primary_key")?,
        recommended_tenant_key: string("recommended_tenant_key")?,
        recommended_conflict_column: string("recommended_conflict_column")?,
        visible_columns: strings("visible_columns")?,
        allowed_write_columns: strings("allowed_write_columns")?,
        semantic_tools: strings("semantic_tools")?,
        notes: strings("notes")?,
        raw_spec,
        spec,
    })
}

/// The built-in recipes.
pub fn builtin() -> Vec<Recipe> {
    BUILTIN
        .iter()
        .map(|(id, text)| {
            parse_recipe(text, id).expect("invariant: built-in recipes are valid (tested)")
        })
        .collect()
}

/// A built-in recipe by id.
pub fn builtin_recipe(id: &str) -> Option<Recipe> {
    BUILTIN
        .iter()
        .find(|(rid, _)| *rid == id)
        .and_then(|(rid, text)| parse_recipe(text, rid).ok())
}

/// Whether a recipe argument names a file rather than an id.
pub fn is_recipe_path(arg: &str) -> bool {
    arg.ends_with(".json") || arg.contains('/') || arg.contains('\\') || arg.starts_with('.')
}

/// The spec a recipe generates from, with the engine and mode chosen by the user. A
/// `read_only` recipe keeps only the read: its write parts are dropped.
pub fn recipe_selection(recipe: &Recipe, engine: Option<&str>, mode: Option<&str>) -> Selection {
    let mut s = recipe.spec.clone();
    if let Some(e) = engine {
        s.engine = Some(e.to_string());
        if e == "sqlite" {
            s.schema = Some("main".into());
        }
    }
    if let Some(m) = mode {
        s.mode = Some(m.to_string());
    }
    if s.mode.as_deref() == Some("read_only") {
        s.patch.clear();
        s.patch_args.clear();
        s.allowed_columns = None;
        s.numeric_bounds.clear();
        s.transition_guards.clear();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboarding::selection::generate;

    #[test]
    fn builtins_generate_exactly_their_tools() {
        let all = builtin();
        assert_eq!(all.len(), 5);
        for r in &all {
            let doc = generate(&r.spec).unwrap_or_else(|e| panic!("{}: {e}", r.id));
            let names: Vec<&str> = doc["capabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, r.semantic_tools, "{}", r.id);
            let ro = generate(&recipe_selection(r, None, Some("read_only"))).unwrap();
            assert_eq!(ro["capabilities"].as_array().unwrap().len(), 1);
        }
        assert!(builtin_recipe("billing.late_fee_waiver").is_some());
        assert!(builtin_recipe("nope").is_none());
        assert!(is_recipe_path("./x.json") && !is_recipe_path("billing.late_fee_waiver"));
    }

    #[test]
    fn recipe_shape_is_checked() {
        let err = parse_recipe(r#"{"id": "x"}"#, "x.json").unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
        let mut doc: Value = serde_json::from_str(BUILTIN[1].1).unwrap();
        doc["spec"].as_object_mut().unwrap().remove("namespace");
        let err = parse_recipe(&doc.to_string(), "x.json").unwrap_err();
        assert!(err.to_string().contains("namespace"), "{err}");
    }

    #[test]
    fn a_recipe_from_a_file_is_shown_inert() {
        let mut r = builtin_recipe("billing.late_fee_waiver").unwrap();
        let text = r.describe();
        assert!(text.starts_with(&format!("{} (billing.late_fee_waiver)\n", r.title)));
        assert!(
            text.contains("\nTools: billing.inspect_invoice, "),
            "{text}"
        );
        r.notes = vec!["ok\r\u{1b}[2Kforged\nline".into()];
        assert!(r.describe().ends_with("- ok\\r\\x1b[2Kforged\\nline\n"));
    }
}
