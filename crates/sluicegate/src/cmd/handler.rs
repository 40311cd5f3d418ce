//! `sluicegate handler template`: write a starter app-owned writeback handler. The templates are
//! files in `crates/sluicegate/templates/`, compiled into the binary, and tested against real
//! Sluicegate requests (`tests/handler_templates.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

#[derive(clap::Subcommand)]
pub enum HandlerCommand {
    /// Write a starter handler (node-fastify, python-fastapi or command), or list them
    Template(TemplateArgs),
}

#[derive(clap::Args)]
pub struct TemplateArgs {
    /// node-fastify | python-fastapi | command
    name: Option<String>,
    /// List the templates
    #[arg(long)]
    list: bool,
    /// Where to write the handler (default: the template's file name here)
    #[arg(long, alias = "out")]
    output: Option<PathBuf>,
    /// Print the template instead of writing it
    #[arg(long)]
    stdout: bool,
    /// Overwrite an existing file
    #[arg(long)]
    force: bool,
}

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
        body: include_str!("../../templates/node-fastify.mjs"),
        executable: true,
    },
    Template {
        name: "python-fastapi",
        aliases: &["python", "fastapi"],
        file: "sluicegate_writeback_handler.py",
        summary: "FastAPI HTTP handler (Python, psycopg): bearer + HMAC signature + replay window",
        body: include_str!("../../templates/python-fastapi.py"),
        executable: false,
    },
    Template {
        name: "command",
        aliases: &["script", "local-command"],
        file: "sluicegate-command-handler.mjs",
        summary: "command_handler script (Node.js, pg): request on stdin, receipt on stdout",
        body: include_str!("../../templates/command.mjs"),
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

pub fn run(cmd: HandlerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        HandlerCommand::Template(a) => template(a),
    }
}

fn template(a: TemplateArgs) -> anyhow::Result<ExitCode> {
    if a.list {
        outln!("Handler templates:");
        for t in &TEMPLATES {
            outln!(
                "  {:<15} {} (aliases: {}; writes {})",
                t.name,
                t.summary,
                t.aliases.join(", "),
                t.file
            );
        }
        outln!("\n{SECURITY_WARNING}\n");
        outln!("Examples:");
        outln!("  sluicegate handler template node-fastify --output handlers/writeback.mjs");
        outln!("  sluicegate handler template python-fastapi");
        outln!("  sluicegate handler template command --stdout");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(name) = a.name.as_deref() else {
        bail!("handler template requires <node-fastify|python-fastapi|command>, or use --list");
    };
    let Some(t) = find(name) else {
        bail!("unknown handler template: {name}. Use sluicegate handler template --list");
    };
    if a.stdout {
        out!("{}", t.body);
        return Ok(ExitCode::SUCCESS);
    }
    let path = a.output.unwrap_or_else(|| PathBuf::from(t.file));
    if path.exists() && !a.force {
        errln!(
            "{} already exists. Use --force to overwrite.",
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    write(&path, t)?;
    outln!("created {}\n\n{SECURITY_WARNING}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, t: &Template) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, t.body).with_context(|| format!("cannot write {}", path.display()))?;
    if t.executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
