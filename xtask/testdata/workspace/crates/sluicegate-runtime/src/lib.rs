//! Fixture crate sluicegate-runtime for the xtask tidy tests (never built).
