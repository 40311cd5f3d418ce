//! The starter app-owned writeback handlers `handler template` and `onboard db --emit-handler`
//! write: files in `crates/sluicegate-runtime/templates/`, compiled in, and tested against real
//! Sluicegate requests (the binary's `tests/handler_templates.rs`).

/// One starter handler.
pub struct Template {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub file: &'static str,
    pub summary: &'static str,
    pub body: &'static str,
    pub executable: bool,
}

pub const TEMPLATES: [Template; 3] = [
    Template {
        name: "node-fastify",
        aliases: &["node", "fastify"],
        file: "sluicegate-writeback-handler.mjs",
        summary: "Fastify HTTP handler (Node.js, pg): bearer + HMAC signature + replay window",
        body: include_str!("../templates/node-fastify.mjs"),
        executable: true,
    },
    Template {
        name: "python-fastapi",
        aliases: &["python", "fastapi"],
        file: "sluicegate_writeback_handler.py",
        summary: "FastAPI HTTP handler (Python, psycopg): bearer + HMAC signature + replay window",
        body: include_str!("../templates/python-fastapi.py"),
        executable: false,
    },
    Template {
        name: "command",
        aliases: &["script", "local-command"],
        file: "sluicegate-command-handler.mjs",
        summary: "command_handler script (Node.js, pg): request on stdin, receipt on stdout",
        body: include_str!("../templates/command.mjs"),
        executable: true,
    },
];

/// Printed after writing a template and with `--list`: the handler, not Sluicegate, makes the
/// final write, so these checks are its job.
pub const SECURITY_WARNING: &str = "\
IMPORTANT: your app handler owns the final business write.
Sluicegate only delivers requests a human approved. Inside one app-owned transaction the
handler must still check:
  - tenant / scope: lock the row by primary key and tenant, or cross-tenant writes slip through
  - expected version: compare the conflict-guard column, or lost updates slip through
  - idempotency: store the idempotency key with the write, or retries cause duplicate writes
  - allowed business action: run only actions you list; never take identifiers from the request
  - transaction/rollback: the checks, the write and the receipt commit or roll back together
  - safe receipts: answer status, rows_affected, source_database_mutated and a safe error code";

pub fn find(name: &str) -> Option<&'static Template> {
    TEMPLATES
        .iter()
        .find(|t| t.name == name || t.aliases.contains(&name))
}
