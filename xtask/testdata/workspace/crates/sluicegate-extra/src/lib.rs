//! Fixture crate sluicegate-extra for the xtask tidy tests (never built).
