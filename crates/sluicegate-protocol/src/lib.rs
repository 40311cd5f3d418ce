//! Wire documents Sluicegate shares with Synapsor Runner 0.1.1.
//!
//! This crate defines serde types and `schema_version` constants for every external format:
//! change sets, writeback jobs (v1 and the legacy 1.0 form), execution receipts, runner
//! registration and the app-owned handler request and receipt. It holds no logic beyond
//! (de)serialisation: validation and hashing live in `sluicegate-core`. Changing a type here
//! changes a wire format, so the conformance fixtures must keep passing.
