//! What the pages show, built from ledger records: every model- or data-derived field goes
//! through `sluicegate_core::display` here (values quoted, controls visible), and the template
//! formatter (`pages::templates`) applies `display::text` and HTML escaping once more to every
//! string it writes, so a field this module missed is still inert.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sluicegate_core::display;
use sluicegate_core::lifecycle::State;
use sluicegate_ledger::{StoredEvent, StoredEvidence, StoredProposal, StoredReceipt, VerifyReport};
use sluicegate_protocol::ChangeSet;
use sluicegate_runtime::view::diff_lines;

/// One line of the inbox.
#[derive(Debug, Serialize)]
pub struct InboxRow {
    pub id: String,
    pub state: String,
    pub capability: String,
    pub tenant: String,
    pub principal: String,
    pub target: String,
    pub age: String,
    pub diff: String,
    /// What a batch approval of this row is bound to: `<id> <content hash> <version>`.
    pub pick: String,
}

/// How long ago `at` was, shortly (`45s`, `12m`, `3h`, `2d`).
pub fn age(at: &str, now: DateTime<Utc>) -> String {
    let Ok(then) = DateTime::parse_from_rfc3339(at) else {
        return display::text(at).into_owned();
    };
    let secs = (now - then.with_timezone(&Utc)).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn target(p: &StoredProposal) -> String {
    format!(
        "{} {}",
        display::text(&p.business_object),
        display::text(&p.object_id)
    )
}

pub fn inbox_row(p: &StoredProposal, now: DateTime<Utc>) -> InboxRow {
    InboxRow {
        id: display::text(&p.proposal_id).into_owned(),
        state: state_human(&p.state),
        capability: display::text(&p.action).into_owned(),
        tenant: display::text(&p.tenant_id).into_owned(),
        principal: display::text(p.principal.as_deref().unwrap_or("-")).into_owned(),
        target: target(p),
        age: age(&p.created_at, now),
        diff: diff_lines(p).join("; "),
        pick: format!(
            "{} {} {}",
            p.proposal_id, p.proposal_hash, p.proposal_version
        ),
    }
}

fn state_human(state: &str) -> String {
    State::parse(state)
        .map(State::human)
        .unwrap_or_else(|| display::text(state).into_owned())
}

/// One column of the before/after table.
#[derive(Debug, Serialize)]
pub struct DiffRow {
    pub column: String,
    pub before: String,
    pub after: String,
    pub changed: bool,
}

/// Every column the proposal shows after the change, in its order, with its value before;
/// the patched columns are marked.
pub fn diff_table(cs: &ChangeSet) -> Vec<DiffRow> {
    let mut columns: Vec<&String> = cs.after.keys().collect();
    for c in cs.before.keys().chain(cs.patch.keys()) {
        if !columns.contains(&c) {
            columns.push(c);
        }
    }
    columns
        .into_iter()
        .map(|c| DiffRow {
            column: display::text(c).into_owned(),
            before: shown(cs.before.get(c)),
            after: shown(cs.after.get(c)),
            changed: cs.patch.contains_key(c),
        })
        .collect()
}

fn shown(v: Option<&Value>) -> String {
    v.map(display::value).unwrap_or_else(|| "(absent)".into())
}

/// A name and a shown value.
#[derive(Debug, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
}

fn fields(v: &Value) -> Vec<Field> {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Field {
                name: display::text(k).into_owned(),
                value: display::value(v),
            })
            .collect(),
        other => vec![Field {
            name: "value".into(),
            value: display::value(other),
        }],
    }
}

/// One evidence bundle: what the agent saw (the visible columns its read returned).
#[derive(Debug, Serialize)]
pub struct EvidenceView {
    pub id: String,
    pub created_at: String,
    pub items: Vec<Vec<Field>>,
}

pub fn evidence(bundles: &[StoredEvidence]) -> Vec<EvidenceView> {
    bundles
        .iter()
        .map(|b| EvidenceView {
            id: display::text(&b.evidence_bundle_id).into_owned(),
            created_at: display::text(&b.created_at).into_owned(),
            items: b.items.iter().map(|i| fields(&i.item)).collect(),
        })
        .collect()
}

/// The guards the writeback enforces.
pub fn guards(cs: &ChangeSet) -> Vec<Field> {
    let g = &cs.guards;
    vec![
        Field {
            name: "tenant".into(),
            value: format!(
                "{} = {}",
                display::text(&g.tenant.column),
                display::value(&g.tenant.value)
            ),
        },
        Field {
            name: "version".into(),
            value: format!(
                "{} = {}",
                display::text(&g.expected_version.column),
                display::value(&g.expected_version.value)
            ),
        },
        Field {
            name: "allowed columns".into(),
            value: display::text(&g.allowed_columns.join(", ")).into_owned(),
        },
        Field {
            name: "row".into(),
            value: format!(
                "{}.{} where {} = {}",
                display::text(&cs.source.schema),
                display::text(&cs.source.table),
                display::text(&cs.source.primary_key.column),
                display::value(&cs.source.primary_key.value)
            ),
        },
    ]
}

/// One entry of the timeline: an event or a receipt.
#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    pub at: String,
    pub what: String,
    pub actor: String,
    pub detail: String,
}

pub fn timeline(events: &[StoredEvent], receipts: &[StoredReceipt]) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = events
        .iter()
        .map(|e| TimelineEntry {
            at: display::text(&e.created_at).into_owned(),
            what: display::text(&e.kind).into_owned(),
            actor: display::text(&e.actor).into_owned(),
            detail: display::value(&e.payload),
        })
        .collect();
    out.extend(receipts.iter().map(|r| TimelineEntry {
        at: display::text(&r.created_at).into_owned(),
        what: format!(
            "receipt {}: {}",
            display::text(&r.display_id()),
            display::text(&r.status)
        ),
        actor: display::text(&r.runner_id).into_owned(),
        detail: format!(
            "job {}, source changed: {}",
            display::text(&r.writeback_job_id),
            if r.source_database_mutated {
                "yes"
            } else {
                "no"
            }
        ),
    }));
    out.sort_by(|a, b| a.at.cmp(&b.at));
    out
}

/// Whether the proposal's chain and signatures verify, and what is wrong when they do not.
#[derive(Debug, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

pub fn verification(r: &VerifyReport) -> Verification {
    let line = |p: &sluicegate_ledger::Problem| {
        format!("{}: {}", display::text(p.record), display::text(&p.message))
    };
    Verification {
        ok: r.ok(),
        problems: r.problems.iter().map(line).collect(),
        notes: r.notes.iter().map(line).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        let now = DateTime::parse_from_rfc3339("2026-06-20T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(age("2026-06-20T11:59:15.000Z", now), "45s");
        assert_eq!(age("2026-06-20T11:48:00.000Z", now), "12m");
        assert_eq!(age("2026-06-20T09:00:00.000Z", now), "3h");
        assert_eq!(age("2026-06-18T12:00:00.000Z", now), "2d");
        assert_eq!(age("not\u{1b}[2Ka time", now), "not\\x1b[2Ka time");
    }

    #[test]
    fn fields_show_values_quoted_with_controls_visible() {
        let f = fields(&serde_json::json!({"re\u{202e}ason": "a\r\u{1b}[1Ab", "n": 7000}));
        assert_eq!(f[0].name, "re\\u{202e}ason");
        assert_eq!(f[0].value, "\"a\\r\\x1b[1Ab\"");
        assert_eq!(f[1].value, "7000");
    }
}
