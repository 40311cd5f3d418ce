//! `sluicegate handler template`: write a starter app-owned writeback handler (the templates
//! are `sluicegate_runtime::handler_templates`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use sluicegate_runtime::handler_templates::{SECURITY_WARNING, TEMPLATES, Template, find};

#[derive(clap::Subcommand)]
#[command(defer = true)]
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
