//! Fixture crate sluicegate-audit for the xtask tidy tests (never built).
