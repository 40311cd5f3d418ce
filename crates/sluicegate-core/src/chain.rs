//! The hash chain of a proposal's records.
//!
//! Every record about a proposal (its creation, decisions, jobs, receipts, notes) appends an
//! event, and each event's hash covers the previous event's hash and the event itself, whose
//! payload carries a digest of the record it accompanies. Editing, removing or reordering any
//! record or event therefore breaks a link that `store verify` reports. The chain needs no
//! secret: it makes tampering evident to anyone holding a copy, while decision signatures are
//! what an attacker who can rewrite the whole file cannot forge.

use serde_json::{Value, json};

use crate::json::{canonical, sha256_hex};

const DOMAIN: &str = "sluicegate-chain-v1";

/// The hash a proposal's first event links to.
pub fn genesis(proposal_id: &str) -> String {
    format!(
        "sha256:{}",
        sha256_hex(format!("{DOMAIN}:genesis:{proposal_id}").as_bytes())
    )
}

/// One link: the hash of an event given the hash of the one before it.
pub fn link(prev: &str, kind: &str, actor: &str, payload: &Value, created_at: &str) -> String {
    let body = canonical(&json!({
        "kind": kind,
        "actor": actor,
        "payload": payload,
        "created_at": created_at,
    }));
    format!(
        "sha256:{}",
        sha256_hex(format!("{DOMAIN}\n{prev}\n{body}").as_bytes())
    )
}

/// The digest of a stored record's exact text (a change set, job or receipt as kept).
pub fn digest(text: &str) -> String {
    format!("sha256:{}", sha256_hex(text.as_bytes()))
}

/// An event as the chain sees it.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub kind: &'a str,
    pub actor: &'a str,
    pub payload: &'a Value,
    pub created_at: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// Where a chain breaks: the index of the first event whose links do not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub index: usize,
    pub reason: &'static str,
}

/// Check a proposal's events, oldest first: each links to the one before (the first to the
/// genesis) and its hash is what its content says.
pub fn verify(proposal_id: &str, events: &[Link<'_>]) -> Result<(), Break> {
    let mut prev = genesis(proposal_id);
    for (index, e) in events.iter().enumerate() {
        if e.prev_hash != prev {
            return Err(Break {
                index,
                reason: "does not link to the event before it (an event was removed, inserted or reordered)",
            });
        }
        if link(&prev, e.kind, e.actor, e.payload, e.created_at) != e.hash {
            return Err(Break {
                index,
                reason: "its content does not match its hash (the event was edited)",
            });
        }
        prev = e.hash.to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    struct Owned {
        kind: String,
        payload: Value,
        prev: String,
        hash: String,
    }

    fn chain(kinds: &[&str]) -> Vec<Owned> {
        let mut prev = genesis("wrp_1");
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let payload = json!({"n": i});
                let hash = link(&prev, k, "ann", &payload, "t");
                let e = Owned {
                    kind: k.to_string(),
                    payload,
                    prev: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn check(events: &[Owned]) -> Result<(), Break> {
        check_as("wrp_1", events)
    }

    fn check_as(proposal_id: &str, events: &[Owned]) -> Result<(), Break> {
        let links: Vec<Link> = events
            .iter()
            .map(|e| Link {
                kind: &e.kind,
                actor: "ann",
                payload: &e.payload,
                created_at: "t",
                prev_hash: &e.prev,
                hash: &e.hash,
            })
            .collect();
        verify(proposal_id, &links)
    }

    #[test]
    fn edits_removals_and_reorders_break_the_chain_where_they_happen() {
        let good = chain(&["created", "approved", "applied"]);
        assert_eq!(check(&good), Ok(()));

        let mut edited = chain(&["created", "approved", "applied"]);
        edited[1].payload = json!({"n": 99});
        assert_eq!(check(&edited).unwrap_err().index, 1);

        let mut removed = chain(&["created", "approved", "applied"]);
        removed.remove(1);
        assert_eq!(check(&removed).unwrap_err().index, 1);

        let mut swapped = chain(&["created", "approved", "applied"]);
        swapped.swap(1, 2);
        assert_eq!(check(&swapped).unwrap_err().index, 1);

        // Another proposal's chain does not verify under this id.
        assert_eq!(check_as("wrp_2", &good).unwrap_err().index, 0);
    }
}
