//! Why a tool call was refused: a stable runtime code plus a message, and the model-safe v2
//! mapping of each code.
//!
//! A refusal is an expected outcome, not an error: callers turn it into an envelope.

use serde::Serialize;

/// Runtime codes (mcp-surface.md §8 plus the store refusals of capability-runtime.md §2).
///
/// Every code reaches the model through [`Code::safe`], whose match has no wildcard: a new
/// code does not compile until someone decides what the model may see of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::VariantArray)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    ModelCannotOverrideBinding,
    McpToolNotFound,
    ArgumentRequired,
    ArgumentTypeInvalid,
    ArgumentTooLong,
    ArgumentBelowMinimum,
    ArgumentAboveMaximum,
    ArgumentNotAllowed,
    /// An argument the capability does not declare (spec README §3.3).
    ArgumentUnknown,
    ProposalsDisabled,
    SourceNotFound,
    TrustedContextMissing,
    TrustedBindingMissing,
    TrustedContextUnsupported,
    SourceCredentialMissing,
    LookupArgMissing,
    UnsafeIdentifier,
    RowNotFound,
    PatchRequired,
    PatchNumericBoundTypeInvalid,
    PatchBelowMinimum,
    PatchAboveMaximum,
    PatchTransitionTypeInvalid,
    PatchTransitionNotAllowed,
    ConflictGuardMissing,
    /// A patch value is not of the column's type or form (a timestamp without a zone, a word
    /// like `yesterday`, more decimal places than the column keeps, a fraction for an integer).
    PatchValueInvalid,
    /// A patch value is longer than its column holds.
    PatchValueTooLong,
    /// A patch value is outside its column's range (integer bounds, decimal precision).
    PatchValueOutOfRange,
    /// NULL proposed for a NOT NULL column.
    PatchValueNullNotAllowed,
    /// Every proposed value equals the row's current value.
    PatchNoChange,
    /// A patch or version column whose type is neither in the catalog nor declared.
    PatchColumnUnknown,
    /// Sluicegate maintains the version column but cannot advance a column of its type.
    ConflictGuardNotAdvanceable,
    LocalStoreUnavailable,
    SecretMaterialRejected,
    ProposalImmutabilityViolation,
    ChangeSetInvalid,
    SourceUnavailable,
    SourceQueryFailed,
    Internal,
}

impl Code {
    /// Every code, in declaration order (derived, so it cannot miss a variant).
    pub const ALL: &'static [Code] = <Code as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        match self {
            Code::ModelCannotOverrideBinding => "MODEL_CANNOT_OVERRIDE_BINDING",
            Code::McpToolNotFound => "MCP_TOOL_NOT_FOUND",
            Code::ArgumentRequired => "ARGUMENT_REQUIRED",
            Code::ArgumentTypeInvalid => "ARGUMENT_TYPE_INVALID",
            Code::ArgumentTooLong => "ARGUMENT_TOO_LONG",
            Code::ArgumentBelowMinimum => "ARGUMENT_BELOW_MINIMUM",
            Code::ArgumentAboveMaximum => "ARGUMENT_ABOVE_MAXIMUM",
            Code::ArgumentNotAllowed => "ARGUMENT_NOT_ALLOWED",
            Code::ArgumentUnknown => "ARGUMENT_UNKNOWN",
            Code::ProposalsDisabled => "PROPOSALS_DISABLED",
            Code::SourceNotFound => "SOURCE_NOT_FOUND",
            Code::TrustedContextMissing => "TRUSTED_CONTEXT_MISSING",
            Code::TrustedBindingMissing => "TRUSTED_BINDING_MISSING",
            Code::TrustedContextUnsupported => "TRUSTED_CONTEXT_UNSUPPORTED",
            Code::SourceCredentialMissing => "SOURCE_CREDENTIAL_MISSING",
            Code::LookupArgMissing => "LOOKUP_ARG_MISSING",
            Code::UnsafeIdentifier => "UNSAFE_IDENTIFIER",
            Code::RowNotFound => "ROW_NOT_FOUND",
            Code::PatchRequired => "PATCH_REQUIRED",
            Code::PatchNumericBoundTypeInvalid => "PATCH_NUMERIC_BOUND_TYPE_INVALID",
            Code::PatchBelowMinimum => "PATCH_BELOW_MINIMUM",
            Code::PatchAboveMaximum => "PATCH_ABOVE_MAXIMUM",
            Code::PatchTransitionTypeInvalid => "PATCH_TRANSITION_TYPE_INVALID",
            Code::PatchTransitionNotAllowed => "PATCH_TRANSITION_NOT_ALLOWED",
            Code::ConflictGuardMissing => "CONFLICT_GUARD_MISSING",
            Code::PatchValueInvalid => "PATCH_VALUE_INVALID",
            Code::PatchValueTooLong => "PATCH_VALUE_TOO_LONG",
            Code::PatchValueOutOfRange => "PATCH_VALUE_OUT_OF_RANGE",
            Code::PatchValueNullNotAllowed => "PATCH_VALUE_NULL_NOT_ALLOWED",
            Code::PatchNoChange => "PATCH_NO_CHANGE",
            Code::PatchColumnUnknown => "PATCH_COLUMN_UNKNOWN",
            Code::ConflictGuardNotAdvanceable => "CONFLICT_GUARD_NOT_ADVANCEABLE",
            Code::LocalStoreUnavailable => "LOCAL_STORE_UNAVAILABLE",
            Code::SecretMaterialRejected => "SECRET_MATERIAL_REJECTED",
            Code::ProposalImmutabilityViolation => "PROPOSAL_IMMUTABILITY_VIOLATION",
            Code::ChangeSetInvalid => "CHANGE_SET_INVALID",
            Code::SourceUnavailable => "SOURCE_UNAVAILABLE",
            Code::SourceQueryFailed => "SOURCE_QUERY_FAILED",
            Code::Internal => "INTERNAL",
        }
    }

    /// The model-facing v2 code, its retryability and its fixed message (mcp-surface.md §7.4).
    pub fn safe(self) -> SafeError {
        use Code::*;
        match self {
            RowNotFound => SafeError::NOT_FOUND,
            McpToolNotFound => SafeError::CAPABILITY_NOT_FOUND,
            ProposalsDisabled => SafeError::APPROVAL_REQUIRED,
            ArgumentRequired
            | ArgumentTypeInvalid
            | ArgumentTooLong
            | ArgumentBelowMinimum
            | ArgumentAboveMaximum
            | ArgumentNotAllowed
            | ArgumentUnknown
            | LookupArgMissing
            // The model chose the value (or the patch), so it can correct it.
            | PatchValueInvalid
            | PatchValueTooLong
            | PatchValueOutOfRange
            | PatchValueNullNotAllowed
            | PatchNoChange
            | ModelCannotOverrideBinding
            | TrustedBindingMissing
            | TrustedContextMissing => SafeError::INVALID_ARGUMENT,
            PatchRequired
            | PatchNumericBoundTypeInvalid
            | PatchBelowMinimum
            | PatchAboveMaximum
            | PatchTransitionTypeInvalid
            | PatchTransitionNotAllowed
            | ConflictGuardMissing
            | PatchColumnUnknown
            | ConflictGuardNotAdvanceable => SafeError::POLICY_VIOLATION,
            LocalStoreUnavailable => SafeError::STORE_UNAVAILABLE,
            SourceCredentialMissing | SourceUnavailable => SafeError::DATABASE_UNAVAILABLE,
            // Listed one by one (no wildcard): these say something about the deployment, the
            // store or the database that the model cannot act on, so it sees only INTERNAL
            // and the cause goes to the log under a correlation id.
            SourceNotFound
            | TrustedContextUnsupported
            | UnsafeIdentifier
            | SecretMaterialRejected
            | ProposalImmutabilityViolation
            | ChangeSetInvalid
            | SourceQueryFailed
            | Internal => SafeError::INTERNAL,
        }
    }

    /// Who can act on a refusal of this code: the model (its arguments), nobody in this call
    /// (the request is refused as it stands), or the operator (the server's configuration, its
    /// store or its database). Listed one by one, no wildcard.
    pub fn fault(self) -> Fault {
        use Code::*;
        match self {
            ModelCannotOverrideBinding
            | ArgumentRequired
            | ArgumentTypeInvalid
            | ArgumentTooLong
            | ArgumentBelowMinimum
            | ArgumentAboveMaximum
            | ArgumentNotAllowed
            | ArgumentUnknown
            | LookupArgMissing
            // The model chose the value (or the patch), so it can correct it.
            | PatchValueInvalid
            | PatchValueTooLong
            | PatchValueOutOfRange
            | PatchValueNullNotAllowed
            | PatchNoChange => Fault::Input,
            McpToolNotFound
            | ProposalsDisabled
            | RowNotFound
            | PatchRequired
            | PatchNumericBoundTypeInvalid
            | PatchBelowMinimum
            | PatchAboveMaximum
            | PatchTransitionTypeInvalid
            | PatchTransitionNotAllowed
            | ConflictGuardMissing => Fault::Request,
            SourceNotFound
            | TrustedContextMissing
            | TrustedBindingMissing
            | TrustedContextUnsupported
            | SourceCredentialMissing
            | UnsafeIdentifier
            | PatchColumnUnknown
            | ConflictGuardNotAdvanceable
            | LocalStoreUnavailable
            | SecretMaterialRejected
            | ProposalImmutabilityViolation
            | ChangeSetInvalid
            | SourceUnavailable
            | SourceQueryFailed
            | Internal => Fault::Server,
        }
    }

    /// Whether the model sent arguments it can correct. The trusted-context codes share the
    /// v2 `INVALID_ARGUMENT` code but are the operator's to fix.
    pub fn is_invalid_input(self) -> bool {
        self.fault() == Fault::Input
    }
}

/// Who can act on a refusal (see [`Code::fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The model's arguments: it can correct them and call again.
    Input,
    /// The request as it stands (no such row in the tenant, a change outside the policy, a
    /// disabled tool): the model learns why, nobody needs to be told.
    Request,
    /// The server's own configuration, store or database: logged with its cause under a
    /// correlation id that the model's error carries too.
    Server,
}

/// A v2 `error` object: what a model may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeError {
    pub code: &'static str,
    pub message: &'static str,
    pub retryable: bool,
}

impl SafeError {
    pub const NOT_FOUND: SafeError = SafeError {
        code: "NOT_FOUND_IN_TENANT",
        message: "No authorized row was found in the trusted tenant scope.",
        retryable: false,
    };
    pub const CAPABILITY_NOT_FOUND: SafeError = SafeError {
        code: "CAPABILITY_NOT_FOUND",
        message: "The requested Synapsor capability is not available.",
        retryable: false,
    };
    pub const APPROVAL_REQUIRED: SafeError = SafeError {
        code: "APPROVAL_REQUIRED",
        message: "Proposal tools are disabled for this runner mode.",
        retryable: false,
    };
    pub const INVALID_ARGUMENT: SafeError = SafeError {
        code: "INVALID_ARGUMENT",
        message: "The tool input or trusted context binding is invalid.",
        retryable: false,
    };
    pub const POLICY_VIOLATION: SafeError = SafeError {
        code: "POLICY_VIOLATION",
        message: "The requested change is outside the reviewed capability policy.",
        retryable: false,
    };
    pub const STORE_UNAVAILABLE: SafeError = SafeError {
        code: "TEMPORARILY_UNAVAILABLE",
        message: "The local runner store is temporarily unavailable. Restart the runner or recreate the store before retrying.",
        retryable: true,
    };
    pub const DATABASE_UNAVAILABLE: SafeError = SafeError {
        code: "TEMPORARILY_UNAVAILABLE",
        message: "The database is temporarily unavailable. Retry later.",
        retryable: true,
    };
    pub const INTERNAL: SafeError = SafeError {
        code: "INTERNAL",
        message: "The capability failed safely. Check the local runner logs for details.",
        retryable: false,
    };
}

/// A refused tool call. `message` may name arguments and columns, never values of other
/// tenants, URLs or secrets. `argument` names the model's argument the refusal is about, when
/// there is one, so a model can tell which of its inputs to correct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
    pub argument: Option<String>,
}

impl Refusal {
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            argument: None,
        }
    }

    /// The same refusal, about the model's argument `name`.
    pub fn with_argument(mut self, name: impl Into<String>) -> Refusal {
        self.argument = Some(name.into());
        self
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the model sees of each code (mcp-surface.md §7.4), written out as a table. The
    /// match has no wildcard, so a new code fails to compile here until its row is added.
    fn expected(code: Code) -> (&'static str, SafeError, Fault) {
        use Code::*;
        use Fault::*;
        let (invalid, policy, internal) = (
            SafeError::INVALID_ARGUMENT,
            SafeError::POLICY_VIOLATION,
            SafeError::INTERNAL,
        );
        match code {
            ModelCannotOverrideBinding => ("MODEL_CANNOT_OVERRIDE_BINDING", invalid, Input),
            McpToolNotFound => (
                "MCP_TOOL_NOT_FOUND",
                SafeError::CAPABILITY_NOT_FOUND,
                Request,
            ),
            ArgumentRequired => ("ARGUMENT_REQUIRED", invalid, Input),
            ArgumentTypeInvalid => ("ARGUMENT_TYPE_INVALID", invalid, Input),
            ArgumentTooLong => ("ARGUMENT_TOO_LONG", invalid, Input),
            ArgumentBelowMinimum => ("ARGUMENT_BELOW_MINIMUM", invalid, Input),
            ArgumentAboveMaximum => ("ARGUMENT_ABOVE_MAXIMUM", invalid, Input),
            ArgumentNotAllowed => ("ARGUMENT_NOT_ALLOWED", invalid, Input),
            ArgumentUnknown => ("ARGUMENT_UNKNOWN", invalid, Input),
            ProposalsDisabled => ("PROPOSALS_DISABLED", SafeError::APPROVAL_REQUIRED, Request),
            SourceNotFound => ("SOURCE_NOT_FOUND", internal, Server),
            TrustedContextMissing => ("TRUSTED_CONTEXT_MISSING", invalid, Server),
            TrustedBindingMissing => ("TRUSTED_BINDING_MISSING", invalid, Server),
            TrustedContextUnsupported => ("TRUSTED_CONTEXT_UNSUPPORTED", internal, Server),
            SourceCredentialMissing => (
                "SOURCE_CREDENTIAL_MISSING",
                SafeError::DATABASE_UNAVAILABLE,
                Server,
            ),
            LookupArgMissing => ("LOOKUP_ARG_MISSING", invalid, Input),
            UnsafeIdentifier => ("UNSAFE_IDENTIFIER", internal, Server),
            RowNotFound => ("ROW_NOT_FOUND", SafeError::NOT_FOUND, Request),
            PatchRequired => ("PATCH_REQUIRED", policy, Request),
            PatchNumericBoundTypeInvalid => ("PATCH_NUMERIC_BOUND_TYPE_INVALID", policy, Request),
            PatchBelowMinimum => ("PATCH_BELOW_MINIMUM", policy, Request),
            PatchAboveMaximum => ("PATCH_ABOVE_MAXIMUM", policy, Request),
            PatchTransitionTypeInvalid => ("PATCH_TRANSITION_TYPE_INVALID", policy, Request),
            PatchTransitionNotAllowed => ("PATCH_TRANSITION_NOT_ALLOWED", policy, Request),
            ConflictGuardMissing => ("CONFLICT_GUARD_MISSING", policy, Request),
            PatchValueInvalid => ("PATCH_VALUE_INVALID", invalid, Input),
            PatchValueTooLong => ("PATCH_VALUE_TOO_LONG", invalid, Input),
            PatchValueOutOfRange => ("PATCH_VALUE_OUT_OF_RANGE", invalid, Input),
            PatchValueNullNotAllowed => ("PATCH_VALUE_NULL_NOT_ALLOWED", invalid, Input),
            PatchNoChange => ("PATCH_NO_CHANGE", invalid, Input),
            PatchColumnUnknown => ("PATCH_COLUMN_UNKNOWN", policy, Server),
            ConflictGuardNotAdvanceable => ("CONFLICT_GUARD_NOT_ADVANCEABLE", policy, Server),
            LocalStoreUnavailable => (
                "LOCAL_STORE_UNAVAILABLE",
                SafeError::STORE_UNAVAILABLE,
                Server,
            ),
            SecretMaterialRejected => ("SECRET_MATERIAL_REJECTED", internal, Server),
            ProposalImmutabilityViolation => ("PROPOSAL_IMMUTABILITY_VIOLATION", internal, Server),
            ChangeSetInvalid => ("CHANGE_SET_INVALID", internal, Server),
            SourceUnavailable => (
                "SOURCE_UNAVAILABLE",
                SafeError::DATABASE_UNAVAILABLE,
                Server,
            ),
            SourceQueryFailed => ("SOURCE_QUERY_FAILED", internal, Server),
            Internal => ("INTERNAL", internal, Server),
        }
    }

    #[test]
    fn every_code_maps_to_its_safe_error() {
        for &code in Code::ALL {
            let (name, safe, fault) = expected(code);
            assert_eq!(code.as_str(), name);
            assert_eq!(code.safe(), safe, "{name}");
            assert_eq!(code.fault(), fault, "{name}");
            assert_eq!(code.is_invalid_input(), fault == Fault::Input, "{name}");
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(name.into())),
                "serde and as_str agree"
            );
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
    }

    #[test]
    fn safe_codes_are_the_published_v2_codes() {
        // The v2 envelope is a compatibility contract: no code may invent a new safe code.
        let published = [
            "NOT_FOUND_IN_TENANT",
            "CAPABILITY_NOT_FOUND",
            "APPROVAL_REQUIRED",
            "INVALID_ARGUMENT",
            "POLICY_VIOLATION",
            "TEMPORARILY_UNAVAILABLE",
            "INTERNAL",
        ];
        for &code in Code::ALL {
            assert!(published.contains(&code.safe().code), "{code:?}");
        }
    }
}
