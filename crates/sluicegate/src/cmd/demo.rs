//! `sluicegate demo --quick` and `demo inspect`: the whole safety model, for real, on an
//! embedded SQLite sample app. Nothing to install, no network, no credentials.
//!
//! The script and its checks live in `sluicegate_runtime::demo`; this narrates it (paced only
//! on an interactive terminal) and prints the summary.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use sluicegate_runtime::Env;
use sluicegate_runtime::demo::{self, LEDGER, report};

use crate::context::print_json;

// `demo --quick` (the default) walks through read → proposal → approval → guarded apply →
// retry → conflict → replay; `demo inspect` prints the commands that look at the result.
#[derive(clap::Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    cmd: Option<DemoCommand>,
    /// Run the zero-setup demo on an embedded SQLite sample app (the default)
    #[arg(long)]
    quick: bool,
    /// Machine-readable summary
    #[arg(long, global = true)]
    json: bool,
    /// Never pause between steps
    #[arg(long)]
    no_interactive: bool,
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
enum DemoCommand {
    /// Print the commands that inspect what the demo recorded
    Inspect,
}

/// Prints the walk-through; paced only on an interactive terminal.
struct Narrator {
    json: bool,
    paced: bool,
    step: usize,
}

impl Narrator {
    fn section(&mut self, title: &str, body: &str) {
        if self.json {
            return;
        }
        self.step += 1;
        if self.paced {
            std::thread::sleep(Duration::from_millis(700));
        }
        outln!("\n── Step {}: {title}", self.step);
        outln!("{}", body.trim_end());
    }
}

pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    match a.cmd {
        Some(DemoCommand::Inspect) => inspect(a.json),
        None => quick(&a),
    }
}

fn quick(a: &DemoArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let full = tty && !ci && !a.json;
    let mut n = Narrator {
        json: a.json,
        paced: full && !a.no_interactive,
        step: 0,
    };
    let s = demo::setup(&Env::process())?;
    let rt = crate::context::runtime()?;
    if full {
        outln!("Sluicegate quick demo: an agent works on a real (embedded) billing database.");
        outln!("It never gets execute_sql. It gets two reviewed capabilities:");
        for c in &s.config.capabilities {
            outln!("  - {} ({})", c.name, c.kind.as_str());
        }
        outln!("Tenant and principal come from trusted server-side context: tenant = acme.");
    }
    let run = rt.block_on(demo::run(&s, |title, body| {
        if full {
            n.section(title, body);
        }
    }))?;
    let cli = report::invocation(&std::env::current_exe()?);
    if full {
        outln!("\nInspect it yourself:\n  {cli} demo inspect");
        outln!(
            "Review it in a browser:\n  {}",
            report::review_ui_command(&cli)
        );
    }
    if a.json {
        print_json(&report::json(&run))?;
    } else if !full {
        outln!("{}", report::summary(&run, &cli));
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(json: bool) -> anyhow::Result<ExitCode> {
    if !Path::new(LEDGER).exists() {
        // Quietly run the demo first so there is something to inspect.
        let s = demo::setup(&Env::process())?;
        crate::context::runtime()?.block_on(demo::seed(&s))?;
    }
    let cli = report::invocation(&std::env::current_exe()?);
    if json {
        print_json(&report::inspect_json(&cli))?;
    } else {
        out!("{}", report::inspect_text(&cli));
    }
    Ok(ExitCode::SUCCESS)
}
