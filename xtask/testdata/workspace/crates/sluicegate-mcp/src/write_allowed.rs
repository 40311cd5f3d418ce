//! Fixture for `prose_and_locals_are_not_findings`: the forbidden words as prose and locals.

/// Approval and apply happen outside MCP: the ReviewApi and the Ledger are not reachable here.
pub const DESCRIPTION: &str = "no approve, apply, decide or ReviewApi tools; Ledger is private";

pub fn plan(approve: bool) -> &'static str {
    // A local called `apply` is a value, not a write method.
    let apply = approve;
    if apply { "pending_review" } else { "refused" }
}
