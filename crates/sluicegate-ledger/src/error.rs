//! Ledger errors. A refusal (secret material, an illegal transition, a hash mismatch) carries a
//! typed, stable code; anything else means the ledger itself could not be used.

use std::path::PathBuf;

use sluicegate_core::lifecycle::TransitionRefusal;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "no Sluicegate ledger was found at {}; run `sluicegate demo --quick` or pass --store /path/to/local.db",
        .0.display()
    )]
    Missing(PathBuf),
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    #[error("{message}")]
    Refused { code: RefusalCode, message: String },
    #[error(
        "ledger schema version {found} is newer than this build supports ({supported}); upgrade sluicegate"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("ledger record is corrupt: {0}")]
    Corrupt(String),
    #[error("ledger i/o failed: {0}")]
    Io(String),
    #[error("the ledger writer has stopped; restart sluicegate")]
    WriterStopped,
    #[error("ledger database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A PostgreSQL ledger's database could not be used (connection lost, statement failed).
    #[error("ledger database error: {0}")]
    Postgres(#[from] postgres::Error),
    /// The command works on a SQLite ledger and has not been built for PostgreSQL yet.
    #[error("{feature} is not available on a PostgreSQL ledger yet; use a SQLite ledger for it")]
    Unavailable { feature: &'static str },
    /// The PostgreSQL ledger's schema is older than this build's: servers never migrate it on
    /// their own (many share it), an operator does, once.
    #[error(
        "ledger schema version {found} is older than this build's ({supported}); run `sluicegate store migrate` once, then start again"
    )]
    SchemaOutdated { found: i64, supported: i64 },
    /// `store vacuum` on a PostgreSQL ledger: the database server does that work itself.
    #[error(
        "store vacuum compacts a SQLite ledger file; PostgreSQL's autovacuum already reclaims a PostgreSQL ledger's space on its own. To reclaim it now, run `VACUUM (ANALYZE);` with psql on the ledger's database (docs/scaling.md)"
    )]
    VacuumByPostgres,
}

/// Every reason the ledger refuses a write or a lookup. The strings of [`RefusalCode::as_str`]
/// are printed by the CLI and asserted by tests: they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// A record holds something that looks like a secret (core's secret scan).
    SecretMaterialRejected,
    /// A change set failed its structural validation.
    ChangeSetInvalid,
    /// A proposal id is already recorded with a different hash or version.
    ProposalImmutabilityViolation,
    /// A decision or job names a hash other than the stored proposal's.
    ProposalHashMismatch,
    /// A decision or job names a version other than the stored proposal's.
    ProposalVersionMismatch,
    /// The proposal's state changed between reading and writing it.
    ProposalStateChanged,
    /// Shadow proposals never reach a writer.
    ShadowWritebackDisabled,
    /// Read-only proposals never reach a writer.
    ReadOnlyWritebackDisabled,
    /// A writeback job id is already recorded.
    WritebackJobExists,
    /// A receipt failed its structural validation.
    ReceiptInvalid,
    /// `latest` was asked for and the ledger holds no proposal.
    NoProposals,
    /// The stored change set no longer hashes to its recorded hash (edited in the ledger).
    ProposalContentModified,
    /// An attempt already has its receipt; a new attempt gets a new job id.
    ReceiptExists,
    /// The job built for a new attempt could not be encoded.
    WritebackJobInvalid,
    /// A human action can only be recorded against a shadow proposal.
    NotShadowProposal,
    /// A worker's claim was taken over (its fencing token is stale): it records nothing more.
    ClaimLost,
    /// A claim's lease must be longer than zero.
    ClaimLeaseInvalid,
    /// The lifecycle does not allow the transition (core's own codes, kept as they are).
    Transition(TransitionRefusal),
}

impl RefusalCode {
    /// Every refusal code (the transition codes expanded).
    pub fn all() -> impl Iterator<Item = RefusalCode> {
        use RefusalCode::*;
        [
            SecretMaterialRejected,
            ChangeSetInvalid,
            ProposalImmutabilityViolation,
            ProposalHashMismatch,
            ProposalVersionMismatch,
            ProposalStateChanged,
            ShadowWritebackDisabled,
            ReadOnlyWritebackDisabled,
            WritebackJobExists,
            ReceiptInvalid,
            NoProposals,
            ProposalContentModified,
            ReceiptExists,
            WritebackJobInvalid,
            NotShadowProposal,
            ClaimLost,
            ClaimLeaseInvalid,
        ]
        .into_iter()
        .chain(TransitionRefusal::ALL.iter().copied().map(Transition))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::SecretMaterialRejected => "SECRET_MATERIAL_REJECTED",
            RefusalCode::ChangeSetInvalid => "CHANGE_SET_INVALID",
            RefusalCode::ProposalImmutabilityViolation => "PROPOSAL_IMMUTABILITY_VIOLATION",
            RefusalCode::ProposalHashMismatch => "PROPOSAL_HASH_MISMATCH",
            RefusalCode::ProposalVersionMismatch => "PROPOSAL_VERSION_MISMATCH",
            RefusalCode::ProposalStateChanged => "PROPOSAL_STATE_CHANGED",
            RefusalCode::ShadowWritebackDisabled => "SHADOW_WRITEBACK_DISABLED",
            RefusalCode::ReadOnlyWritebackDisabled => "READ_ONLY_WRITEBACK_DISABLED",
            RefusalCode::WritebackJobExists => "WRITEBACK_JOB_EXISTS",
            RefusalCode::ReceiptInvalid => "RECEIPT_INVALID",
            RefusalCode::NoProposals => "NO_PROPOSALS",
            RefusalCode::ProposalContentModified => "PROPOSAL_CONTENT_MODIFIED",
            RefusalCode::ReceiptExists => "RECEIPT_EXISTS",
            RefusalCode::WritebackJobInvalid => "WRITEBACK_JOB_INVALID",
            RefusalCode::NotShadowProposal => "NOT_SHADOW_PROPOSAL",
            RefusalCode::ClaimLost => "CLAIM_LOST",
            RefusalCode::ClaimLeaseInvalid => "CLAIM_LEASE_INVALID",
            RefusalCode::Transition(t) => t.as_str(),
        }
    }
}

impl std::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LedgerError {
    pub fn refused(code: RefusalCode, message: impl Into<String>) -> LedgerError {
        LedgerError::Refused {
            code,
            message: message.into(),
        }
    }

    /// The typed code of a refusal, if this is one.
    pub fn refusal_code(&self) -> Option<RefusalCode> {
        match self {
            LedgerError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The stable code string of a refusal, a missing record, a command a PostgreSQL ledger
    /// does not offer yet, or a schema this build cannot use, if this is one (what the CLI
    /// prints).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            LedgerError::Refused { code, .. } => Some(code.as_str()),
            LedgerError::NotFound { .. } => Some("NOT_FOUND"),
            LedgerError::Unavailable { .. } => Some("LEDGER_FEATURE_UNAVAILABLE"),
            LedgerError::SchemaOutdated { .. } => Some("LEDGER_SCHEMA_OUTDATED"),
            LedgerError::VacuumByPostgres => Some("LEDGER_VACUUM_BY_POSTGRES"),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for LedgerError {
    fn from(e: serde_json::Error) -> Self {
        LedgerError::Corrupt(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_keep_their_strings() {
        let strings: Vec<&str> = RefusalCode::all().map(RefusalCode::as_str).collect();
        assert_eq!(
            strings,
            [
                "SECRET_MATERIAL_REJECTED",
                "CHANGE_SET_INVALID",
                "PROPOSAL_IMMUTABILITY_VIOLATION",
                "PROPOSAL_HASH_MISMATCH",
                "PROPOSAL_VERSION_MISMATCH",
                "PROPOSAL_STATE_CHANGED",
                "SHADOW_WRITEBACK_DISABLED",
                "READ_ONLY_WRITEBACK_DISABLED",
                "WRITEBACK_JOB_EXISTS",
                "RECEIPT_INVALID",
                "NO_PROPOSALS",
                "PROPOSAL_CONTENT_MODIFIED",
                "RECEIPT_EXISTS",
                "WRITEBACK_JOB_INVALID",
                "NOT_SHADOW_PROPOSAL",
                "CLAIM_LOST",
                "CLAIM_LEASE_INVALID",
                "PROPOSAL_NOT_PENDING_REVIEW",
                "PROPOSAL_NOT_REJECTABLE",
                "PROPOSAL_NOT_APPROVED",
            ]
        );
        let e = LedgerError::refused(RefusalCode::ReceiptInvalid, "x");
        assert_eq!(e.code(), Some("RECEIPT_INVALID"));
        assert_eq!(e.refusal_code(), Some(RefusalCode::ReceiptInvalid));
    }
}
