//! Fixture crate sluicegate-core for the xtask tidy tests (never built).
