//! Unit tests of the pure parts: prune durations and shadow comparisons.

#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};

use crate::shadow::compare;
use crate::store::parse_duration;

#[test]
fn durations_take_a_count_and_one_unit() {
    assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
    assert_eq!(parse_duration("12H").unwrap(), 12 * 3600);
    assert_eq!(parse_duration("90m").unwrap(), 90 * 60);
    assert_eq!(parse_duration("0d").unwrap(), 0);
    assert_eq!(parse_duration("45s").unwrap(), 45);
    for bad in [
        "",
        "d",
        "30",
        "-1d",
        "+1d",
        "1.5d",
        "30w",
        "99999999999999999999d",
    ] {
        let err = parse_duration(bad).unwrap_err().to_string();
        assert_eq!(
            err, "--older-than must use a duration such as 30d, 12h, 90m, or 0d",
            "{bad}"
        );
    }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn comparisons_are_strict_and_name_every_column() {
    let agent = obj(json!({"late_fee_cents": 0, "waiver_reason": "goodwill"}));
    let none = compare("p", &agent, None);
    assert_eq!(none.status, "no_human_action");
    assert_eq!(none.missing_from_human, ["late_fee_cents", "waiver_reason"]);

    let same = obj(json!({"waiver_reason": "goodwill", "late_fee_cents": 0}));
    assert_eq!(
        compare("p", &agent, Some((&same, None))).status,
        "exact_match"
    );

    let partial = obj(json!({"late_fee_cents": "0", "waiver_reason": "goodwill", "note": "x"}));
    let c = compare("p", &agent, Some((&partial, Some("by hand".into()))));
    assert_eq!(c.status, "partial_match");
    assert_eq!(c.matching_columns, ["waiver_reason"]);
    assert_eq!(c.differing_columns, ["late_fee_cents"], "0 is not \"0\"");
    assert_eq!(c.extra_human_columns, ["note"]);
    assert_eq!(c.notes.as_deref(), Some("by hand"));

    let other = obj(json!({"status": "void"}));
    let c = compare("p", &agent, Some((&other, None)));
    assert_eq!(c.status, "mismatch");
    assert_eq!(c.missing_from_human, ["late_fee_cents", "waiver_reason"]);
}
