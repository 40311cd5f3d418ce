//! Services shared by every front end (MCP transports, CLI, review UI).
//!
//! `AgentApi` runs model-facing reads and proposals; `ReviewApi` records human decisions and
//! runs writeback. Front ends that face a model get only an `AgentApi`.
