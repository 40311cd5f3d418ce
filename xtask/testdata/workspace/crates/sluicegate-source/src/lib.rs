//! Fixture crate sluicegate-source for the xtask tidy tests (never built).
