//! Onboarding, the pure part: from a schema inspection and a few decisions to a reviewed
//! config (onboarding.md).
//!
//! * [`inspection`]: the raw catalog a source reads and its normalisation, with the tenant,
//!   conflict and sensitive-column heuristics.
//! * [`answers`]: decisions from flags, answers files or the wizard, resolved into a
//!   [`selection::Selection`] with every missing decision reported at once.
//! * [`selection`]: the selection spec and the config generator (checked by the validator).
//! * [`recipes`]: built-in starter contracts.
//! * [`report`]: the inspection as `inspect` prints it.
//! * [`files`]: `.env.example`, the wizard preview, `config migrate`.
//! * [`generated`]: what a run produces and the files it writes.
//! * [`merge`]: `onboard db --add`, a table or action added to an existing config.
//! * [`wizard`]: the guided wizard's questions, defaults, answer checks and result.
//!
//! Like the rest of the crate: no I/O, no clock, no environment. The binary inspects, prompts
//! and writes files.

pub mod answers;
pub mod files;
pub mod generated;
pub mod grammar;
pub mod inspection;
pub mod merge;
pub mod recipes;
pub mod report;
pub mod selection;
pub mod wizard;

/// Why onboarding could not produce a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnboardingError {
    /// A value did not follow its grammar (patch, bounds, guards, answers file).
    #[error("{0}")]
    Grammar(String),
    /// Decisions nobody made (or made invalidly), all of them.
    #[error("missing or invalid onboarding decisions:\n  - {}", .0.join("\n  - "))]
    Missing(Vec<String>),
    /// The selection or the generated config is invalid, with every problem.
    #[error("the selection cannot be turned into a valid config:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
    /// A recipe file is malformed.
    #[error("{0}")]
    Recipe(String),
}
