//! Ledger errors. A refusal (secret material, an illegal transition, a hash mismatch) carries a
//! stable code; anything else means the ledger itself could not be used.

use std::path::PathBuf;

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
    Refused { code: &'static str, message: String },
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
}

impl LedgerError {
    pub fn refused(code: &'static str, message: impl Into<String>) -> LedgerError {
        LedgerError::Refused {
            code,
            message: message.into(),
        }
    }

    /// The stable code of a refusal, if this is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            LedgerError::Refused { code, .. } => Some(code),
            LedgerError::NotFound { .. } => Some("NOT_FOUND"),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for LedgerError {
    fn from(e: serde_json::Error) -> Self {
        LedgerError::Corrupt(e.to_string())
    }
}
