//! Fixture for `wire_format_fixture_is_refused`: wire formats defined outside the protocol crate.
//!
//! Doc comments may name synapsor.change-set.v1; only code is checked.

pub const CHANGE_SET: &str = "synapsor.change-set.v1";

pub static RECEIPT: &str = "synapsor.execution-receipt.v1";

pub struct Report;

impl Report {
    pub const AUDIT_V2: &'static str = "sluicegate.mcp-audit.v2";

    pub fn job(&self) -> serde_json::Value {
        serde_json::json!({"schema_version": "synapsor.writeback-job.v1"})
    }
}

/// Not a schema_version: a resource URI and a file name.
pub const URI: &str = "synapsor://proposals/p1";
pub const FILE: &str = "sluicegate.toml";

#[cfg(test)]
mod tests {
    // Tests pin the wire text on purpose.
    const PINNED: &str = "synapsor.change-set.v1";

    #[test]
    fn pinned() {
        assert_eq!(PINNED, "synapsor.change-set.v1");
    }
}

/// Allowed: prose that names a format is not a definition of it.
pub fn message() -> &'static str {
    "receipt schema_version must be synapsor.execution-receipt.v1"
}
