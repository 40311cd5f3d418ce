//! Fixture crate sluicegate-test-support for the xtask tidy tests (never built).
