//! The `synapsor.runner.json` v1 config: the validated model and its validator.
//!
//! Loading happens in two stages. [`validate`] walks the raw JSON, reports every problem at once
//! with a JSON path and a stable code, and, when there are no errors, returns the typed
//! [`Config`]. Nothing downstream ever looks at raw config JSON again.

mod model;
mod validate;

pub use model::*;
pub use validate::{Issue, Validation, validate};

/// Parse and validate config text. A parse failure is reported as a single `CONFIG_PARSE_ERROR`.
pub fn load_str(text: &str) -> (Validation, Option<Config>) {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(doc) => validate(&doc),
        Err(err) => (
            Validation::single_error(
                "$",
                "CONFIG_PARSE_ERROR",
                format!("config is not valid JSON: {err}"),
            ),
            None,
        ),
    }
}
