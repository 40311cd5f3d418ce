//! `shadow list|record-human-action|compare|report` (cli.md §11, store.md §3.8): in shadow
//! mode the agent's proposals are never applied; a person does the work by hand and records
//! what they did, so replay shows what really happened and `compare` how close the agent came.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sluicegate_core::display;
use sluicegate_ledger::{Ledger, LedgerError};

use crate::common::{Paths, json_text};
use crate::{Outcome, Printer};

#[derive(clap::Subcommand, Debug)]
#[command(defer = true)]
pub enum ShadowCommand {
    /// Shadow proposals, newest first
    List {
        #[command(flatten)]
        paths: Paths,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Record what a person did by hand about a shadow proposal (the columns they set)
    RecordHumanAction {
        /// Shadow proposal id
        id: String,
        /// JSON file holding an object of the columns set, e.g. {"late_fee_cents": 0}
        #[arg(long)]
        patch: PathBuf,
        /// Who did it (default: SLUICEGATE_ACTOR, then $USER, then human_operator)
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        paths: Paths,
        #[arg(long)]
        json: bool,
    },
    /// Compare the agent's proposed patch with the latest human action
    Compare {
        id: String,
        #[command(flatten)]
        paths: Paths,
        #[arg(long)]
        json: bool,
    },
    /// Every shadow proposal compared with what people did
    Report {
        #[command(flatten)]
        paths: Paths,
        #[arg(long)]
        json: bool,
    },
}

/// How the agent's patch compares with a person's (store.md §3.8).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub proposal_id: String,
    /// `exact_match`, `partial_match`, `mismatch` or `no_human_action`.
    pub status: &'static str,
    pub agent_patch: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human_patch: Option<Value>,
    pub matching_columns: Vec<String>,
    pub differing_columns: Vec<String>,
    pub missing_from_human: Vec<String>,
    pub extra_human_columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Compare patches column by column; values must be identical (`0` is not `"0"`).
pub fn compare(
    proposal_id: &str,
    agent: &Map<String, Value>,
    human: Option<(&Map<String, Value>, Option<String>)>,
) -> Comparison {
    let Some((human, notes)) = human else {
        return Comparison {
            proposal_id: proposal_id.into(),
            status: "no_human_action",
            agent_patch: Value::Object(agent.clone()),
            human_patch: None,
            matching_columns: Vec::new(),
            differing_columns: Vec::new(),
            missing_from_human: agent.keys().cloned().collect(),
            extra_human_columns: Vec::new(),
            notes: None,
        };
    };
    let (mut matching, mut differing, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    for (k, v) in agent {
        match human.get(k) {
            Some(h) if h == v => matching.push(k.clone()),
            Some(_) => differing.push(k.clone()),
            None => missing.push(k.clone()),
        }
    }
    let extra: Vec<String> = human
        .keys()
        .filter(|k| !agent.contains_key(*k))
        .cloned()
        .collect();
    let status = if differing.is_empty() && missing.is_empty() && extra.is_empty() {
        "exact_match"
    } else if !matching.is_empty() {
        "partial_match"
    } else {
        "mismatch"
    };
    Comparison {
        proposal_id: proposal_id.into(),
        status,
        agent_patch: Value::Object(agent.clone()),
        human_patch: Some(Value::Object(human.clone())),
        matching_columns: matching,
        differing_columns: differing,
        missing_from_human: missing,
        extra_human_columns: extra,
        notes,
    }
}

/// The comparison of one stored shadow proposal with its latest human action.
fn compare_stored(ledger: &Ledger, id: &str) -> anyhow::Result<Result<Comparison, String>> {
    let p = ledger.proposal(id)?;
    if p.change_set.get("mode").and_then(Value::as_str) != Some("shadow") {
        return Ok(Err(format!("proposal {id} is not a shadow proposal")));
    }
    let agent = p
        .change_set
        .get("patch")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let actions = ledger.shadow_actions(id)?;
    let latest = actions
        .last()
        .and_then(|a| a.patch.as_object().map(|m| (m, a.notes.clone())));
    Ok(Ok(compare(id, &agent, latest)))
}

fn comparison_text(c: &Comparison) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|s| display::text(s).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut t = format!(
        "shadow comparison: {}\nstatus: {}\nmatching columns: {}\ndiffering columns: {}\nmissing from human action: {}\nextra human columns: {}\n",
        display::text(&c.proposal_id),
        c.status,
        list(&c.matching_columns),
        list(&c.differing_columns),
        list(&c.missing_from_human),
        list(&c.extra_human_columns)
    );
    if let Some(n) = &c.notes {
        t.push_str(&format!("notes: {}\n", display::text(n)));
    }
    t
}

fn not_shadow(out: &mut dyn Printer, message: &str) -> Outcome {
    out.err(&format!(
        "refused: NOT_SHADOW_PROPOSAL: {}\n",
        display::text(message)
    ));
    Ok(ExitCode::from(1))
}

pub fn run(cmd: ShadowCommand, out: &mut dyn Printer) -> Outcome {
    match cmd {
        ShadowCommand::List { paths, limit, json } => {
            let ledger = paths.ledger()?;
            let proposals = ledger
                .shadow_proposal_ids(limit)?
                .iter()
                .map(|id| ledger.proposal(id))
                .collect::<Result<Vec<_>, _>>()?;
            if json {
                out.out(&json_text(&json!({"proposals": proposals}))?);
            } else if proposals.is_empty() {
                out.out("No shadow proposals found.\n");
            } else {
                for p in &proposals {
                    let actions = ledger.shadow_actions(&p.proposal_id)?.len();
                    out.out(&format!(
                        "{}  {}  {} {}:{}  {}  human actions: {actions}\n",
                        display::text(&p.proposal_id),
                        display::text(&p.created_at),
                        display::text(&p.action),
                        display::text(&p.business_object),
                        display::text(&p.object_id),
                        display::text(&p.state),
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ShadowCommand::RecordHumanAction {
            id,
            patch,
            actor,
            notes,
            paths,
            json,
        } => {
            let text = std::fs::read_to_string(&patch)
                .with_context(|| format!("cannot read {}", patch.display()))?;
            let Ok(Value::Object(patch_map)) = serde_json::from_str::<Value>(&text) else {
                out.err("refused: SHADOW_PATCH_INVALID: shadow human-action patch must be a JSON object\n");
                return Ok(ExitCode::from(1));
            };
            let actor = sluicegate_runtime::reviewer::acting_human(
                actor.as_deref(),
                &sluicegate_runtime::Env::process(),
                "human_operator",
            );
            let ledger = paths.ledger()?;
            match ledger
                .record_shadow_action(&id, &actor, patch_map, notes)
                .wait()
            {
                Ok(action) if json => out.out(&json_text(&action)?),
                Ok(action) => out.out(&format!(
                    "recorded human action {} for {}\nNext: sluicegate shadow compare {}{}\n",
                    action.action_id,
                    display::text(&action.proposal_id),
                    display::text(&action.proposal_id),
                    paths.hint()
                )),
                Err(e @ (LedgerError::Refused { .. } | LedgerError::NotFound { .. })) => {
                    out.err(&format!(
                        "refused: {}: {}\n",
                        e.code().unwrap_or("REFUSED"),
                        display::text(&e.to_string())
                    ));
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
            Ok(ExitCode::SUCCESS)
        }
        ShadowCommand::Compare { id, paths, json } => {
            let ledger = paths.ledger()?;
            let c = match compare_stored(&ledger, &id) {
                Ok(Ok(c)) => c,
                Ok(Err(m)) => return not_shadow(out, &m),
                Err(e) => return Err(e),
            };
            out.out(&if json {
                json_text(&c)?
            } else {
                comparison_text(&c)
            });
            Ok(ExitCode::SUCCESS)
        }
        ShadowCommand::Report { paths, json } => {
            let ledger = paths.ledger()?;
            let mut comparisons = Vec::new();
            for id in ledger.shadow_proposal_ids(u32::MAX)? {
                if let Ok(c) = compare_stored(&ledger, &id)? {
                    comparisons.push(c);
                }
            }
            let count = |s: &str| comparisons.iter().filter(|c| c.status == s).count();
            let summary = json!({
                "total_shadow_proposals": comparisons.len(),
                "with_human_action": comparisons.len() - count("no_human_action"),
                "exact_matches": count("exact_match"),
                "partial_matches": count("partial_match"),
                "mismatches": count("mismatch"),
                "no_human_action": count("no_human_action"),
            });
            if json {
                let mut v = summary;
                v["comparisons"] = serde_json::to_value(&comparisons)?;
                out.out(&json_text(&v)?);
            } else {
                let mut t = format!(
                    "Shadow mode report\ntotal shadow proposals: {}\nwith human action: {}\nexact matches: {}\npartial matches: {}\nmismatches: {}\nno human action: {}\n",
                    summary["total_shadow_proposals"],
                    summary["with_human_action"],
                    summary["exact_matches"],
                    summary["partial_matches"],
                    summary["mismatches"],
                    summary["no_human_action"]
                );
                for c in &comparisons {
                    t.push('\n');
                    t.push_str(&comparison_text(c));
                }
                out.out(&t);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
