//! Fixture crate sluicegate-mcp for the xtask tidy tests (never built).
