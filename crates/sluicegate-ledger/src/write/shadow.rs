//! Shadow mode (store.md §3.8): what a person did by hand about a shadow proposal, recorded
//! beside it so replay and `shadow compare` show what really happened. A shadow proposal never
//! reaches a writer; its human action is a fact like a decision: an append-only row and a
//! chained event carrying the row's digest.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sluicegate_core::chain;
use sluicegate_core::secrets;

use super::facts::{append_event, load_proposal};
use super::{ExecCached, to_refusal};
use crate::{Ledger, LedgerError, Pending, RefusalCode};

/// Shadow proposals, newest first (served by the partial index `idx_proposals_shadow_created`).
pub(crate) const SHADOW_PROPOSALS: &str = "SELECT proposal_id FROM proposals WHERE json_extract(change_set_json, '$.mode') = 'shadow' ORDER BY created_at DESC LIMIT ?1";

/// One proposal's human actions, oldest first (served by `idx_shadow_human_actions_proposal_id`).
pub(crate) const SHADOW_ACTIONS: &str = "SELECT action_id, proposal_id, actor, patch_json, notes, created_at FROM shadow_human_actions WHERE proposal_id = ?1 ORDER BY action_id";

/// A human action recorded against a shadow proposal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowAction {
    pub action_id: i64,
    pub proposal_id: String,
    pub actor: String,
    pub patch: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub created_at: String,
}

/// The digest an action's event carries: over the stored patch text, actor and notes.
pub(crate) fn action_digest(actor: &str, patch_json: &str, notes: Option<&str>) -> String {
    chain::digest(&json!({"actor": actor, "patch_json": patch_json, "notes": notes}).to_string())
}

impl Ledger {
    /// Record what `actor` did by hand about shadow proposal `proposal_id`: `patch` holds the
    /// columns they set (a JSON object). Refused for a proposal that is not a shadow proposal
    /// (`NOT_SHADOW_PROPOSAL`: a proposal in review mode has its own record of what was
    /// applied) and for a patch or notes holding secret material.
    pub fn record_shadow_action(
        &self,
        proposal_id: &str,
        actor: &str,
        patch: Map<String, Value>,
        notes: Option<String>,
    ) -> Pending<ShadowAction> {
        if let Err(e) = self.sqlite("shadow actions") {
            return Pending::ready(Err(e));
        }
        let patch = Value::Object(patch);
        let notes_value = Value::from(notes.clone());
        if let Err(r) = secrets::scan(&patch, "shadow_human_action.patch")
            .and_then(|()| secrets::scan(&notes_value, "shadow_human_action.notes"))
        {
            return Pending::ready(Err(to_refusal(r)));
        }
        let (id, actor) = (proposal_id.to_string(), actor.to_string());
        self.write(move |tx, now| {
            let proposal = load_proposal(tx, &id)?;
            if proposal.change_set.get("mode").and_then(Value::as_str) != Some("shadow") {
                return Err(LedgerError::refused(
                    RefusalCode::NotShadowProposal,
                    format!("proposal {id} is not a shadow proposal"),
                ));
            }
            let patch_json = serde_json::to_string(&patch)?;
            tx.exec(
                "INSERT INTO shadow_human_actions (proposal_id, actor, patch_json, notes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, actor, patch_json, notes, now],
            )?;
            let action_id = tx.last_insert_rowid();
            let columns: Vec<&String> = patch.as_object().map(|o| o.keys().collect()).unwrap_or_default();
            append_event(
                tx,
                &id,
                "shadow_human_action_recorded",
                &actor,
                &json!({
                    "action_id": action_id,
                    "patch_columns": columns,
                    "notes": notes,
                    "action_sha256": action_digest(&actor, &patch_json, notes.as_deref()),
                }),
                now,
            )?;
            Ok(ShadowAction {
                action_id,
                proposal_id: id,
                actor,
                patch,
                notes,
                created_at: now.to_string(),
            })
        })
    }

    /// Every human action recorded for a proposal, oldest first.
    pub fn shadow_actions(&self, proposal_id: &str) -> Result<Vec<ShadowAction>, LedgerError> {
        if self.pg().is_some() {
            // Shadow actions cannot be recorded on PostgreSQL yet, so there are none.
            return Ok(Vec::new());
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(SHADOW_ACTIONS)?;
        let rows = stmt.query_map([proposal_id], |r| {
            let patch: String = r.get(3)?;
            Ok(ShadowAction {
                action_id: r.get(0)?,
                proposal_id: r.get(1)?,
                actor: r.get(2)?,
                patch: serde_json::from_str(&patch).unwrap_or(Value::String(patch)),
                notes: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ids of shadow proposals, newest first, at most `limit`.
    pub fn shadow_proposal_ids(&self, limit: u32) -> Result<Vec<String>, LedgerError> {
        self.sqlite("shadow proposals")?;
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(SHADOW_PROPOSALS)?;
        let rows = stmt.query_map([limit], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether the proposal exists (for refusals that must name an unknown id first).
    pub fn has_proposal(&self, proposal_id: &str) -> Result<bool, LedgerError> {
        if let Some(pg) = self.pg() {
            return match pg.proposal(proposal_id) {
                Ok(_) => Ok(true),
                Err(LedgerError::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            };
        }
        Ok(self
            .conn()?
            .query_row(
                "SELECT 1 FROM proposals WHERE proposal_id = ?1",
                [proposal_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}
