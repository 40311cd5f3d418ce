//! Fixture crate sluicegate for the xtask tidy tests (never built).
