//! Per-tool risk signals (spec §A.4): heuristics over the lowercased name, description and
//! annotations. Word boundaries are ASCII (`_` is a word character), as in the reference.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::discover::{ToolCandidate, normalise};

/// Normalised tool names that are generic SQL executors whatever their description says.
const SQL_TOOL_NAMES: [&str; 8] = [
    "executesql",
    "runsql",
    "runquery",
    "querydatabase",
    "databasequery",
    "sqlquery",
    "rawsql",
    "executequery",
];

fn regex(pattern: &str) -> Regex {
    // `(?-u:\b)` is the ASCII word boundary; the patterns are fixed, so failure is a bug.
    let pattern = pattern.replace(r"\b", r"(?-u:\b)");
    Regex::new(&pattern).expect("invariant: signal patterns are valid regexes")
}

static SQL_VERB: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(execute|run|raw)\s*(sql|query)\b"));
static SQL_NOUN: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(sql|query)\s*(executor|database)\b"));
static WRITE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(update|insert|delete|upsert|write|mutate|refund|waive|charge|cancel|commit|approve|settle|apply|merge|resolve|close|create|drop|alter)\b",
    )
});
static READ_WORD: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(read|get|list|search|inspect|select|query)\b"));
static PROPOSAL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(proposal|propose|change[- ]?set|review[- ]?required|approval|approve[- ]?required|guarded writeback|trusted worker)\b",
    )
});
static COMMIT_NAME_VERB_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(^|[._-])(approve|commit|apply|settle|merge)[._-]?(proposal|write|change|writeback)([._-]|$)",
    )
});
static COMMIT_NAME_NOUN_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(^|[._-])(proposal|write|change|writeback)[._-]?(approve|commit|apply|settle|merge)([._-]|$)",
    )
});
static COMMIT_WORD: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(approve|commit|apply|settle|merge)\b"));
static PROPOSAL_WORDING: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\b(propose|proposal|review[- ]?required|approval[- ]?required)\b"));

/// The five boolean signals of one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    pub sql_like: bool,
    pub write_like: bool,
    pub read_like: bool,
    pub proposal_boundary: bool,
    pub commit_like: bool,
}

/// `<name> <description> <annotations JSON>`, lowercased: the text every signal looks at.
pub fn signal_text(tool: &ToolCandidate<'_>) -> String {
    let annotations = Value::Object(tool.annotations.clone()).to_string();
    format!("{} {} {}", tool.name, tool.description, annotations).to_lowercase()
}

pub fn signals(tool: &ToolCandidate<'_>) -> Signals {
    let text = signal_text(tool);
    let name = tool.name.to_lowercase();
    let annotations = &tool.annotations;
    let sql_like = SQL_TOOL_NAMES.contains(&normalise(&tool.name).as_str())
        || SQL_VERB.is_match(&text)
        || SQL_NOUN.is_match(&text);
    let write_like = annotations.get("destructiveHint") == Some(&Value::Bool(true))
        || annotations.get("readOnlyHint") == Some(&Value::Bool(false))
        || WRITE_WORD.is_match(&text);
    let commit_like = COMMIT_NAME_VERB_FIRST.is_match(&name)
        || COMMIT_NAME_NOUN_FIRST.is_match(&name)
        || (COMMIT_WORD.is_match(&text) && !PROPOSAL_WORDING.is_match(&text));
    Signals {
        sql_like,
        write_like,
        read_like: READ_WORD.is_match(&text),
        proposal_boundary: PROPOSAL_WORD.is_match(&text),
        commit_like,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::find_tools;
    use serde_json::json;

    fn signals_of(tool: Value) -> Signals {
        let input = json!({ "tools": [tool] });
        signals(&find_tools(&input)[0])
    }

    #[test]
    fn underscore_is_a_word_character() {
        let s = signals_of(json!({"name": "x", "description": "calls execute_sql"}));
        assert!(!s.sql_like);
        let s = signals_of(json!({"name": "x", "description": "raw sql here"}));
        assert!(s.sql_like);
    }

    #[test]
    fn non_ascii_letters_are_not_word_characters() {
        // ASCII boundaries: "é" does not extend the word, so "update" is still a word.
        let s = signals_of(json!({"name": "x", "description": "éupdateé"}));
        assert!(s.write_like);
    }

    #[test]
    fn annotations_make_a_tool_write_like() {
        assert!(
            signals_of(json!({"name": "x", "annotations": {"readOnlyHint": false}})).write_like
        );
        assert!(
            signals_of(json!({"name": "x", "annotations": {"destructiveHint": true}})).write_like
        );
        assert!(
            !signals_of(json!({"name": "x", "annotations": {"readOnlyHint": true}})).write_like
        );
    }

    #[test]
    fn commit_like_by_name_even_with_proposal_wording() {
        let s = signals_of(json!({"name": "approve_proposal", "description": "Approve proposal"}));
        assert!(s.commit_like);
        let s = signals_of(json!({"name": "x", "description": "approve the proposal"}));
        assert!(!s.commit_like);
        let s = signals_of(json!({"name": "x", "description": "approve the refund"}));
        assert!(s.commit_like);
        let s = signals_of(json!({"name": "writeback.commit", "description": ""}));
        assert!(s.commit_like);
    }

    #[test]
    fn proposal_boundary_wording() {
        for text in [
            "creates a change-set",
            "changeset",
            "review required",
            "guarded writeback",
        ] {
            assert!(
                signals_of(json!({"name": "x", "description": text})).proposal_boundary,
                "{text}"
            );
        }
    }
}
