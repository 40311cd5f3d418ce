//! Human decisions: what an approval or rejection is bound to, and how a reviewer signs it.
//!
//! A decision names the proposal, the version and the *content hash the reviewer was shown*,
//! never "whatever is stored when the command runs". With reviewers configured, it is signed
//! with the reviewer's Ed25519 key over exactly those fields, so a ledger edit cannot turn a
//! rejection into an approval, approve a proposal nobody saw, or move an approval onto other
//! content. Signing is deterministic; keys are made outside this crate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::json::canonical;

/// Prefix of a public key or signature in configs and the ledger.
pub const ED25519: &str = "ed25519:";

/// Domain separation: a decision signature can never be replayed as any other signed text.
const SIGNED_PREFIX: &str = "sluicegate-decision-v1\n";

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    /// The stored status (`approved` / `rejected`).
    pub fn status(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }

    pub fn from_status(status: &str) -> Option<Verdict> {
        match status {
            "approved" => Some(Verdict::Approve),
            "rejected" => Some(Verdict::Reject),
            _ => None,
        }
    }
}

/// One recorded decision, as signed and as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub proposal_id: String,
    pub proposal_version: u32,
    /// The content hash the reviewer was shown (`sha256:…`).
    pub content_hash: String,
    pub verdict: Verdict,
    pub reviewer: String,
    pub reason: Option<String>,
    pub decided_at: String,
    /// `ed25519:<base64>` over [`DecisionRecord::signed_bytes`], when signed.
    pub signature: Option<String>,
    /// `ed25519:<base64>` public key that made the signature.
    pub reviewer_key: Option<String>,
}

impl DecisionRecord {
    /// The exact bytes a signature covers: every field except the signature and key.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let doc = json!({
            "proposal_id": self.proposal_id,
            "proposal_version": self.proposal_version,
            "content_hash": self.content_hash,
            "decision": self.verdict.status(),
            "reviewer": self.reviewer,
            "reason": self.reason,
            "decided_at": self.decided_at,
        });
        format!("{SIGNED_PREFIX}{}", canonical(&doc)).into_bytes()
    }

    /// Sign with `key`, recording the signature and the public key.
    pub fn sign(&mut self, key: &SigningKey) {
        let signature = key.sign(&self.signed_bytes());
        self.signature = Some(format!("{ED25519}{}", BASE64.encode(signature.to_bytes())));
        self.reviewer_key = Some(public_key_text(&key.verifying_key()));
    }

    /// Check the signature against `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SignatureProblem> {
        let text = self.signature.as_deref().ok_or(SignatureProblem::Missing)?;
        let bytes = decode(text).ok_or(SignatureProblem::Malformed)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignatureProblem::Malformed)?;
        key.verify_strict(&self.signed_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| SignatureProblem::Invalid)
    }
}

/// Why a decision signature does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    Missing,
    Malformed,
    Invalid,
}

/// `ed25519:<base64 of the 32-byte key>`.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{ED25519}{}", BASE64.encode(key.as_bytes()))
}

/// Parse `ed25519:<base64>` into a public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = decode(text).ok_or("public_key must be ed25519:<base64 of 32 bytes>")?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an ed25519 public key is 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid ed25519 public key".to_string())
}

/// A signing key from its 32-byte secret seed.
pub fn signing_key(seed: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(seed)
}

/// Parse the text of a reviewer key file: `ed25519-secret:<base64 of the 32-byte seed>`.
pub fn parse_secret_key(text: &str) -> Result<SigningKey, String> {
    let body = text
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or("a reviewer key file holds one line: ed25519-secret:<base64>")?;
    let bytes = BASE64
        .decode(body)
        .map_err(|_| "the reviewer key is not valid base64".to_string())?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an ed25519 secret key is 32 bytes".to_string())?;
    Ok(signing_key(&seed))
}

/// The text of a reviewer key file for `seed` (see [`parse_secret_key`]).
pub fn secret_key_text(seed: &[u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}\n", BASE64.encode(seed))
}

const SECRET_PREFIX: &str = "ed25519-secret:";

fn decode(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.strip_prefix(ED25519)?).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record() -> DecisionRecord {
        DecisionRecord {
            proposal_id: "wrp_1".into(),
            proposal_version: 1,
            content_hash: "sha256:aa".into(),
            verdict: Verdict::Approve,
            reviewer: "ann".into(),
            reason: None,
            decided_at: "2026-06-20T14:40:00.000Z".into(),
            signature: None,
            reviewer_key: None,
        }
    }

    #[test]
    fn a_signature_covers_every_decided_field() {
        let key = signing_key(&[7; 32]);
        let mut signed = record();
        signed.sign(&key);
        let public = parse_public_key(signed.reviewer_key.as_deref().unwrap()).unwrap();
        assert_eq!(signed.verify(&public), Ok(()));
        let edits: [fn(&mut DecisionRecord); 7] = [
            |r| r.proposal_id = "wrp_2".into(),
            |r| r.proposal_version = 2,
            |r| r.content_hash = "sha256:bb".into(),
            |r| r.verdict = Verdict::Reject,
            |r| r.reviewer = "bob".into(),
            |r| r.reason = Some("x".into()),
            |r| r.decided_at = "2026-06-21T00:00:00.000Z".into(),
        ];
        for edit in edits {
            let mut forged = signed.clone();
            edit(&mut forged);
            assert_eq!(forged.verify(&public), Err(SignatureProblem::Invalid));
        }
        let other = signing_key(&[8; 32]).verifying_key();
        assert_eq!(signed.verify(&other), Err(SignatureProblem::Invalid));
        assert_eq!(record().verify(&public), Err(SignatureProblem::Missing));
        let mut garbled = signed.clone();
        garbled.signature = Some("ed25519:!!".into());
        assert_eq!(garbled.verify(&public), Err(SignatureProblem::Malformed));
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let seed = [42u8; 32];
        let key = parse_secret_key(&secret_key_text(&seed)).unwrap();
        assert_eq!(key.to_bytes(), seed);
        let text = public_key_text(&key.verifying_key());
        assert!(text.starts_with(ED25519));
        assert_eq!(parse_public_key(&text).unwrap(), key.verifying_key());
        assert!(parse_public_key("ed25519:AAAA").is_err());
        assert!(parse_public_key("rsa:AAAA").is_err());
        assert!(parse_secret_key("ed25519-secret:AAAA").is_err());
    }
}
