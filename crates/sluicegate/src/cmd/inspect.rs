//! `sluicegate inspect`: read a database's catalog (metadata only) and suggest tenant, version
//! and sensitive columns. Also the inspection helper `init`/`onboard db` use.
//!
//! The database URL only ever comes from an env var: it is read here, handed to the source
//! crate, and never printed, logged or written. Failures are reported as safe categories.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluicegate_core::config::Engine;
use sluicegate_core::ident::is_env_name;
use sluicegate_core::onboarding::inspection::{Inspection, normalize};
use sluicegate_core::onboarding::report::inspection_text;
use sluicegate_runtime::{Env, now_iso};
use sluicegate_source::inspect::{INSPECT_STEPS, InspectStep, inspect};

use crate::context::{print_json, runtime};

/// Objects from which a catalog counts as large enough to show progress.
const LARGE_CATALOG: usize = 200;

#[derive(clap::Args, Clone, Default)]
pub struct DbArgs {
    /// Env var holding the database URL (the URL itself is never passed on the command line)
    #[arg(long, visible_aliases = ["url-env", "database-url-env"], value_name = "ENV")]
    pub from_env: Option<String>,
    /// auto (from the URL scheme), postgres, mysql or sqlite
    #[arg(long, value_name = "auto|postgres|mysql|sqlite")]
    pub engine: Option<String>,
    /// Inspect only this schema (PostgreSQL schema, MySQL database, SQLite attached database)
    #[arg(long)]
    pub schema: Option<String>,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print the inspection as JSON (input for `init --inspection-json`)
    #[arg(long)]
    json: bool,
}

/// Resolve the URL env var and engine, inspect, and normalise. Progress goes to stderr, and
/// only on a terminal.
pub fn run_inspection(db: &DbArgs, env_name: &str) -> anyhow::Result<Inspection> {
    if !is_env_name(env_name) {
        bail!("--from-env must name an environment variable (like DATABASE_URL), not a URL");
    }
    let env = Env::process();
    let Some(url) = env.secret(env_name) else {
        bail!("{env_name} is not set; export the database URL in it, then run this again");
    };
    let engine = match db.engine.as_deref().unwrap_or("auto") {
        "auto" => Engine::from_url(url.expose()).with_context(|| {
            format!(
                "could not tell the engine from the URL in {env_name}; pass --engine postgres, mysql or sqlite"
            )
        })?,
        e => Engine::parse(e).context("--engine must be auto, postgres, mysql, or sqlite")?,
    };
    let bar = Progress::new();
    let result = runtime()?.block_on(inspect(
        url.expose(),
        engine,
        db.schema.as_deref(),
        &|step| bar.step(step),
    ));
    bar.finish();
    match result {
        Ok(raw) => Ok(normalize(raw, &now_iso())),
        Err(e) => bail!(
            "schema inspection failed for {} using {env_name}: {}",
            engine.as_str(),
            e.inspection_category()
        ),
    }
}

/// A progress bar on stderr that appears only on a terminal, and only once the catalog turns
/// out to be large or the inspection slow.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    tty: bool,
}

impl Progress {
    fn new() -> Progress {
        let bar = ProgressBar::with_draw_target(Some(INSPECT_STEPS), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} inspecting catalog [{bar:20}] {pos}/{len} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress {
            bar,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn step(&self, step: InspectStep) {
        let large = matches!(step, InspectStep::Objects(n) if n >= LARGE_CATALOG);
        if self.tty
            && self.bar.is_hidden()
            && (large || self.started.elapsed() > Duration::from_millis(500))
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(120));
            // Draw now: a fast inspection may end before the first tick.
            self.bar.tick();
        }
        match step {
            InspectStep::Objects(n) => self.bar.set_message(format!("{n} tables/views")),
            InspectStep::Columns(n) => self.bar.set_message(format!("{n} columns")),
            _ => {}
        }
        self.bar.inc(1);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub fn run(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let env_name =
        a.db.from_env
            .clone()
            .unwrap_or_else(|| "DATABASE_URL".into());
    let inspection = run_inspection(&a.db, &env_name)?;
    if a.json {
        print_json(&inspection)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}", inspection_text(&inspection, &env_name));
    Ok(ExitCode::SUCCESS)
}
