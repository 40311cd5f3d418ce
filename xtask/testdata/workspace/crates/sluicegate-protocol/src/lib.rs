//! Fixture protocol crate: the one place wire formats may be defined (never flagged).

pub const CHANGE_SET_V1: &str = "synapsor.change-set.v1";
pub const EXECUTION_RECEIPT_V1: &str = "synapsor.execution-receipt.v1";
