//! `sluicegate init`, `onboard db` and `start`: from a database URL (in an env var) to a
//! reviewed config, its `.env.example`, MCP client snippets and a first smoke call.
//!
//! Decisions come from flags, an answers file, a selection spec, a recipe or the guided
//! wizard; the pure resolution and generation live in `sluicegate_core::onboarding`. The
//! wizard runs only on a terminal: without one, every missing decision is reported at once
//! (exit 2) instead of waiting for input that cannot come.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use sluicegate_core::config::{Config, Engine};
use sluicegate_core::onboarding::answers::{Answers, Resolved, resolve};
use sluicegate_core::onboarding::generated::{
    FileRole, Generated, PlannedFile, STATE_DIR, plan_files, starter_answers,
};
use sluicegate_core::onboarding::inspection::Inspection;
use sluicegate_core::onboarding::merge::{add_defaults, merge};
use sluicegate_core::onboarding::selection::Selection;
use sluicegate_core::tools::AliasMode;
use sluicegate_core::tools::boundary::{all_pass, boundary_checks};
use sluicegate_runtime::first_read::first_read;
use sluicegate_runtime::onboarding::{
    Existing, first_read_tool, load_recipe, next_steps, read_config_doc, write_files,
};
use sluicegate_runtime::{Env, client_files, view};

use super::inspect::{DbArgs, run_inspection};
use super::mcp::command_name;
use crate::context::{DEFAULT_CONFIG, load_config, print_json, runtime, store_path};

#[derive(clap::Args, Clone, Default)]
pub struct GenArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Answers file (JSON object of decisions); no database connection is made
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Selection spec file (onboarding-selection.v1); needs --non-interactive or --yes
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Generate from a saved `sluicegate inspect --json` instead of connecting
    #[arg(long, value_name = "FILE")]
    pub inspection_json: Option<PathBuf>,
    /// Start from a recipe (id or JSON file); see `sluicegate recipes list`
    #[arg(long)]
    pub recipe: Option<String>,
    /// Never prompt: report every missing decision instead
    #[arg(long)]
    pub non_interactive: bool,
    /// Run the guided wizard (needs a terminal)
    #[arg(long, conflicts_with = "non_interactive")]
    pub wizard: bool,
    /// Accept the generated files without asking (implies --non-interactive)
    #[arg(long)]
    pub yes: bool,
    /// Print the generated config and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Config file to write
    #[arg(long, visible_alias = "out", default_value = DEFAULT_CONFIG)]
    pub output: PathBuf,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
    /// Add this table or action to the config at --output, keeping its source and contexts
    #[arg(long, conflicts_with_all = ["force", "starter"])]
    pub add: bool,
    /// Write a starter config with placeholder names (no database involved)
    #[arg(long)]
    pub starter: bool,
    /// Ledger used by the first smoke call (default: the config's storage path)
    #[arg(long)]
    pub store: Option<PathBuf>,

    /// Table or view to expose (`name` or `schema.name`)
    #[arg(long)]
    pub table: Option<String>,
    /// read_only, shadow (default) or review
    #[arg(long)]
    pub mode: Option<String>,
    #[arg(long)]
    pub primary_key: Option<String>,
    /// Column that scopes a row to the trusted tenant
    #[arg(long, visible_alias = "tenant-key")]
    pub tenant_column: Option<String>,
    /// No tenant column: a reviewed single-tenant development source
    #[arg(long)]
    pub single_tenant_dev: bool,
    /// Version column that guards against lost updates
    #[arg(long)]
    pub conflict_column: Option<String>,
    /// Who advances the version column: sluicegate, or app (the app or a trigger does)
    #[arg(long)]
    pub conflict_maintained_by: Option<String>,
    /// Trusted context the capabilities use (default local_operator)
    #[arg(long)]
    pub context: Option<String>,
    /// Prefix to drop from the table name, e.g. app_, or none (default: a shared prefix)
    #[arg(long)]
    pub table_prefix: Option<String>,
    /// Fields a model may see (comma-separated)
    #[arg(long)]
    pub visible_columns: Option<String>,
    /// Proposal patch: column=fixed:VALUE or column=arg:NAME (comma-separated, repeatable)
    #[arg(long)]
    pub patch: Vec<String>,
    /// column=VALUE (repeatable)
    #[arg(long)]
    pub patch_fixed: Vec<String>,
    /// column=ARG (repeatable)
    #[arg(long)]
    pub patch_from_arg: Vec<String>,
    /// Columns a proposal may change (default: the patch columns)
    #[arg(long)]
    pub allowed_columns: Option<String>,
    /// column=MIN:MAX (repeatable)
    #[arg(long, visible_alias = "numeric-bound")]
    pub patch_bounds: Vec<String>,
    /// column=FROM:TO|TO;FROM:TO (repeatable)
    #[arg(long, visible_alias = "transition-guard")]
    pub status_guards: Vec<String>,
    /// Capability namespace (default: derived from the table)
    #[arg(long)]
    pub namespace: Option<String>,
    #[arg(long)]
    pub object_name: Option<String>,
    /// The model-visible id argument (default: <object>_id)
    #[arg(long, visible_alias = "lookup-arg")]
    pub id_arg: Option<String>,
    #[arg(long, visible_alias = "inspect-tool-name")]
    pub read_tool: Option<String>,
    #[arg(long, visible_alias = "proposal-tool-name")]
    pub proposal_tool: Option<String>,
    #[arg(long, visible_alias = "inspect-description")]
    pub read_description: Option<String>,
    #[arg(long, visible_alias = "inspect-returns-hint")]
    pub read_returns_hint: Option<String>,
    #[arg(long)]
    pub proposal_description: Option<String>,
    #[arg(long)]
    pub proposal_returns_hint: Option<String>,
    /// default, v1 or v2 (default 2)
    #[arg(long)]
    pub result_format: Option<String>,
    #[arg(long)]
    pub source_name: Option<String>,
    /// Env var holding the trusted tenant id
    #[arg(long)]
    pub tenant_env: Option<String>,
    /// Env var holding the acting principal
    #[arg(long)]
    pub principal_env: Option<String>,
    #[arg(long)]
    pub approval_role: Option<String>,
    /// Env var holding the writer URL (review mode with sql_update)
    #[arg(long)]
    pub write_url_env: Option<String>,
    /// sql_update (default), http_handler or command_handler
    #[arg(long)]
    pub writeback: Option<String>,
    #[arg(long)]
    pub executor_name: Option<String>,
    #[arg(long)]
    pub handler_url_env: Option<String>,
    #[arg(long)]
    pub handler_token_env: Option<String>,
    #[arg(long)]
    pub handler_signing_secret_env: Option<String>,
    #[arg(long)]
    pub handler_command_env: Option<String>,
    #[arg(long)]
    pub handler_timeout_ms: Option<u64>,
    /// Also write a starter handler for the app-owned executor
    #[arg(long)]
    pub emit_handler: bool,
    /// node-fastify, python-fastapi or command (default by executor)
    #[arg(long)]
    pub handler_template: Option<String>,
    #[arg(long, visible_alias = "handler-template-output")]
    pub handler_output: Option<PathBuf>,
    #[arg(long, visible_alias = "skip-handler-template")]
    pub no_emit_handler: bool,
    /// A real object id: written to .sluicegate/smoke-input.json and used for a first smoke
    /// call when the env vars are set
    #[arg(long)]
    pub smoke_id: Option<String>,
}

impl GenArgs {
    /// Flags as onboarding decisions.
    pub fn answers(&self) -> Answers {
        let list = |s: &Option<String>| s.iter().cloned().collect::<Vec<_>>();
        Answers {
            engine: self.db.engine.clone().filter(|e| e != "auto"),
            mode: self.mode.clone(),
            schema: self.db.schema.clone(),
            table: self.table.clone(),
            primary_key: self.primary_key.clone(),
            tenant_key: self.tenant_column.clone(),
            single_tenant_dev: self.single_tenant_dev.then_some(true),
            conflict_column: self.conflict_column.clone(),
            conflict_maintained_by: self.conflict_maintained_by.clone(),
            context: self.context.clone(),
            table_prefix: self.table_prefix.clone(),
            existing_namespace: None,
            visible_columns: list(&self.visible_columns),
            allowed_columns: list(&self.allowed_columns),
            patch: self.patch.clone(),
            patch_fixed: self.patch_fixed.clone(),
            patch_from_arg: self.patch_from_arg.clone(),
            numeric_bounds: self.patch_bounds.clone(),
            transition_guards: self.status_guards.clone(),
            namespace: self.namespace.clone(),
            object_name: self.object_name.clone(),
            lookup_arg: self.id_arg.clone(),
            inspect_tool_name: self.read_tool.clone(),
            proposal_tool_name: self.proposal_tool.clone(),
            inspect_description: self.read_description.clone(),
            inspect_returns_hint: self.read_returns_hint.clone(),
            proposal_description: self.proposal_description.clone(),
            proposal_returns_hint: self.proposal_returns_hint.clone(),
            result_format: self.result_format.clone(),
            source_name: self.source_name.clone(),
            read_url_env: self.db.from_env.clone(),
            write_url_env: self.write_url_env.clone(),
            writeback: self.writeback.clone(),
            executor_name: self.executor_name.clone(),
            handler_url_env: self.handler_url_env.clone(),
            handler_token_env: self.handler_token_env.clone(),
            handler_signing_secret_env: self.handler_signing_secret_env.clone(),
            handler_command_env: self.handler_command_env.clone(),
            handler_timeout_ms: self.handler_timeout_ms,
            tenant_env: self.tenant_env.clone(),
            principal_env: self.principal_env.clone(),
            approval_role: self.approval_role.clone(),
            smoke_id: self.smoke_id.clone(),
            recipe: self.recipe.clone(),
        }
    }

    /// Flags as decisions, over what an `--add` run takes from the existing config.
    pub fn flags(&self) -> anyhow::Result<Answers> {
        Ok(match self.add {
            true => add_defaults(&read_config_doc(&self.output)?).overlay(self.answers()),
            false => self.answers(),
        })
    }

    /// Flags that make a run scripted (no wizard even on a terminal).
    fn scripted(&self) -> bool {
        self.yes
            || self.non_interactive
            || self.dry_run
            || self.answers.is_some()
            || self.spec.is_some()
            || self.inspection_json.is_some()
            || self.table.is_some()
    }

    fn wants_wizard(&self) -> bool {
        self.wizard
            || (!self.scripted()
                && !self.starter
                && std::io::stdin().is_terminal()
                && std::io::stdout().is_terminal())
    }
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum OnboardCommand {
    /// Inspect a database (URL from an env var), pick a table, and write a reviewed config,
    /// then validate it, check the tool boundary and run a first smoke call
    Db(Box<GenArgs>),
}

/// Generate from resolved decisions, printing their warnings on stderr.
fn finish(
    resolved: Resolved,
    smoke_id: Option<String>,
    label: String,
) -> anyhow::Result<Generated> {
    for w in &resolved.warnings {
        errln!("warning: {w}");
    }
    Ok(Generated::from_selection(
        resolved.selection,
        smoke_id,
        label,
    )?)
}

/// The starter config (`init` with no database input): placeholders to edit.
fn starter(args: &GenArgs) -> anyhow::Result<Generated> {
    let engine = args
        .db
        .engine
        .as_deref()
        .filter(|e| *e != "auto")
        .unwrap_or("postgres");
    let engine =
        Engine::parse(engine).context("init --engine must be postgres, mysql, or sqlite")?;
    let answers = starter_answers(engine, args.mode.clone(), args.db.from_env.clone());
    let resolved = resolve(&answers, None, None, "read_only")?;
    finish(resolved, None, "starter".into())
}

/// Produce the config from whichever input the flags name (onboarding.md §3).
pub fn produce(args: &GenArgs, default_env: Option<&str>) -> anyhow::Result<Generated> {
    let recipe = args.recipe.as_deref().map(load_recipe).transpose()?;
    if let Some(path) = &args.answers {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --answers {}", path.display()))?;
        let answers = Answers::from_json(&text)?.overlay(args.flags()?);
        let recipe = match (&recipe, answers.recipe.as_deref()) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(id)) => Some(load_recipe(id)?),
            (None, None) => None,
        };
        let smoke = answers.smoke_id.clone();
        let resolved = resolve(&answers, None, recipe.as_ref(), "review")?;
        return finish(resolved, smoke, format!("answers file {}", path.display()));
    }
    if let Some(path) = &args.spec {
        if !(args.non_interactive || args.yes) {
            bail!(
                "--spec needs --non-interactive (or --yes), so the reviewed selection is applied explicitly"
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --spec {}", path.display()))?;
        let selection: Selection = serde_json::from_str(&text)
            .with_context(|| format!("--spec {} is not a valid selection", path.display()))?;
        return Ok(Generated::from_selection(
            selection,
            args.smoke_id.clone(),
            format!("selection spec {}", path.display()),
        )?);
    }
    if args.wants_wizard() {
        return super::wizard::run(args, recipe);
    }
    let inspection: Option<Inspection> = if let Some(path) = &args.inspection_json {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --inspection-json {}", path.display()))?;
        Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not an inspection", path.display()))?,
        )
    } else if let Some(env) = args.db.from_env.clone().or(args.flags()?.read_url_env) {
        Some(run_inspection(&args.db, &env)?)
    } else if let Some(env) = default_env {
        Some(run_inspection(&args.db, env)?)
    } else {
        None
    };
    if inspection.is_none() && args.table.is_none() && recipe.is_none() {
        return starter(args);
    }
    let mut answers = args.flags()?;
    if answers.read_url_env.is_none() {
        answers.read_url_env = default_env.map(str::to_string);
    }
    let label = match &inspection {
        Some(i) => format!("{} inspection", i.engine),
        None => "flags".into(),
    };
    let resolved = resolve(&answers, inspection.as_ref(), recipe.as_ref(), "shadow")?;
    finish(resolved, args.smoke_id.clone(), label)
}

/// Every file of one generation: config, `.env.example`, MCP snippets, smoke input and the
/// optional handler template. All are checked before any is written.
fn plan(args: &GenArgs, g: &Generated) -> anyhow::Result<Vec<PlannedFile>> {
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| PathBuf::from(sluicegate_core::onboarding::selection::STORAGE_PATH));
    let env_file = Path::new(client_files::DEFAULT_ENV_FILE);
    let serve = client_files::serve_paths(&command_name(), &args.output, &store, Some(env_file))?;
    let mut files = plan_files(g, &args.output, &serve);
    if let Some(t) = handler_template(args, g)? {
        files.push(t);
    }
    Ok(files)
}

/// The handler template to write, when the executor is app-owned and a flag asks for one.
fn handler_template(args: &GenArgs, g: &Generated) -> anyhow::Result<Option<PlannedFile>> {
    let executor = g
        .selection
        .as_ref()
        .map(|s| s.executor().to_string())
        .unwrap_or_default();
    let asked = args.emit_handler
        || args.handler_template.is_some()
        || args.handler_output.is_some()
        || g.handler_template.is_some();
    if args.no_emit_handler || !asked {
        return Ok(None);
    }
    if executor == "sql_update" {
        bail!(
            "--emit-handler needs an app-owned executor: pass --writeback http_handler or --writeback command_handler"
        );
    }
    let default = if executor == "command_handler" {
        "command"
    } else {
        "node-fastify"
    };
    let name = g
        .handler_template
        .as_deref()
        .or(args.handler_template.as_deref())
        .unwrap_or(default);
    let t = sluicegate_runtime::handler_templates::find(name).with_context(|| {
        format!("unknown handler template: {name}. Use sluicegate handler template --list")
    })?;
    Ok(Some(PlannedFile {
        role: FileRole::Handler,
        path: args
            .handler_output
            .clone()
            .unwrap_or_else(|| PathBuf::from(t.file)),
        body: t.body.to_string(),
        executable: t.executable,
    }))
}

/// Generate and write. Returns what was generated, or `None` after a dry run.
pub fn generate_and_write(
    args: &GenArgs,
    default_env: Option<&str>,
) -> anyhow::Result<Option<Generated>> {
    let mut g = produce(args, default_env)?;
    if args.add {
        let merged = merge(&read_config_doc(&args.output)?, &g.doc)?;
        for note in &merged.notes {
            errln!("note: {note}");
        }
        (g.doc, g.tools) = (merged.doc, merged.added);
    }
    if args.dry_run {
        print_json(&g.doc)?;
        return Ok(None);
    }
    write_generated(args, &g)?;
    Ok(Some(g))
}

/// Write every file of `g` (refusing to overwrite without `--force`, merging with `--add`)
/// and say what was written.
pub fn write_generated(args: &GenArgs, g: &Generated) -> anyhow::Result<()> {
    let existing = match (args.add, args.force) {
        (true, _) => Existing::Add,
        (false, true) => Existing::Overwrite,
        (false, false) => Existing::Refuse,
    };
    let written = write_files(&plan(args, g)?, existing)?;
    if g.source_label == "starter" {
        outln!(
            "starter config: replace the table and column names (records, id, tenant_id, updated_at) with yours, or run `sluicegate onboard db --from-env DATABASE_URL`"
        );
    } else if let Some(sel) = &g.selection {
        outln!(
            "selected {}.{} from {}",
            sel.schema.as_deref().unwrap_or_default(),
            sel.table.as_deref().unwrap_or_default(),
            g.source_label
        );
    }
    for w in written.iter().filter(|w| w.role != FileRole::Snippet) {
        outln!("{} {}", w.verb, w.path.display());
        if w.role == FileRole::Handler {
            outln!(
                "\n{}\n",
                sluicegate_runtime::handler_templates::SECURITY_WARNING
            );
        }
    }
    outln!("MCP client snippets under {STATE_DIR}/mcp");
    let verb = if args.add { "added" } else { "exposed" };
    outln!("{verb} tools: {}", g.tools.join(", "));
    Ok(())
}

pub fn run_init(args: GenArgs) -> anyhow::Result<ExitCode> {
    if generate_and_write(&args, None)?.is_some() {
        outln!(
            "Next: set the variables named in .env.example, run `sluicegate config validate --config {}`, then `sluicegate mcp serve --config {}`.",
            args.output.display(),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_onboard(cmd: OnboardCommand) -> anyhow::Result<ExitCode> {
    let OnboardCommand::Db(args) = cmd;
    onboard_db(&args)
}

/// `start`: with onboarding flags it is `onboard db`; bare `start` explains itself.
pub fn run_start(args: GenArgs) -> anyhow::Result<ExitCode> {
    if args.db.from_env.is_none()
        && args.answers.is_none()
        && args.spec.is_none()
        && args.inspection_json.is_none()
    {
        bail!(
            "start onboards your own database: pass --from-env DATABASE_URL (the env var holding its URL), or --answers FILE"
        );
    }
    onboard_db(&args)
}

/// `onboard db`: generate, then validate, check the tool boundary, run doctor and a first
/// smoke call. Exit 0 iff the config validates and the boundary checks pass.
pub fn onboard_db(args: &GenArgs) -> anyhow::Result<ExitCode> {
    outln!("Sluicegate own-database onboarding");
    outln!(
        "Inspect metadata, pick one table, and expose reviewed read/proposal tools instead of SQL.\n"
    );
    let Some(g) = generate_and_write(args, Some("DATABASE_URL"))? else {
        return Ok(ExitCode::SUCCESS);
    };
    let config_file = &args.output;
    let store = store_path(args.store.as_deref(), Some(config_file));

    outln!("\nValidation:");
    let config = match load_config(config_file) {
        Ok(c) => {
            outln!("config valid: {}", config_file.display());
            c
        }
        Err(e) => {
            outln!("config invalid: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };

    outln!("\nTool boundary:");
    let checks = boundary_checks(&config, AliasMode::Canonical);
    out!("{}", view::boundary_checks(&checks));
    let boundary_ok = all_pass(&checks);

    outln!("\nFirst smoke call:");
    let tool = first_read_tool(&config, &g.tools);
    smoke(&g, config.clone(), tool.as_deref(), &store);

    outln!("\nDoctor:");
    let doctor_ok = super::doctor::quick_report(config_file);
    if !doctor_ok {
        outln!(
            "(doctor reports problems until the env vars in .env.example are set; that is expected right after onboarding)"
        );
    }

    let read_env = g
        .selection
        .as_ref()
        .and_then(|s| s.names())
        .map(|n| n.read_env);
    let read_env = read_env.unwrap_or_else(|| "DATABASE_URL".into());
    let next = next_steps(&config, config_file, &store, &read_env, tool.as_deref());
    outln!("\n{next}");
    Ok(if boundary_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The first read, through the same runtime as MCP (see `sluicegate_runtime::first_read`).
fn smoke(g: &Generated, config: Arc<Config>, tool: Option<&str>, store: &Path) {
    let tool = tool.unwrap_or_default();
    match runtime() {
        Ok(rt) => outln!(
            "{}",
            rt.block_on(first_read(
                config,
                tool,
                g.smoke_id.as_deref(),
                Env::process(),
                store
            ))
        ),
        Err(e) => outln!("Smoke call not run: {e:#}"),
    }
}
