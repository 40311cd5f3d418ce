//! `sluicegate tools preview|list`, `smoke call` and `propose`: the model-facing surface, seen
//! and exercised locally through the same runtime MCP uses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sluicegate_core::call::Args;
use sluicegate_core::config::{Config, Kind};
use sluicegate_core::tools::boundary::{BoundaryCheck, all_pass, boundary_checks};
use sluicegate_core::tools::{AliasMode, exposed_tools};
use sluicegate_runtime::onboarding::{self, recorded_ids};
use sluicegate_runtime::{AgentApi, Env, view};
use tokio::runtime::Runtime;

use crate::context::{
    config_path, load_config, open_ledger, print_json, runtime, store_hint, store_path,
};

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum ToolsCommand {
    /// Show the tools a model would see and check the boundary (no SQL, approval or secrets)
    Preview(PreviewArgs),
    /// Same as preview
    List(PreviewArgs),
}

#[derive(clap::Args)]
pub struct PreviewArgs {
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    store: Option<PathBuf>,
    /// Tool naming: canonical (`billing.inspect_invoice`), openai (`billing__inspect_invoice`) or both
    #[arg(long, default_value = "canonical", value_parser = ["canonical", "openai", "both"])]
    alias_mode: String,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum SmokeCommand {
    /// Call one capability with sample or given arguments; records evidence like a real call
    Call(CallArgs),
    /// Check the tool boundary only: the tools a model would see, and no SQL, approval or secrets
    Boundary(PreviewArgs),
}

#[derive(clap::Args)]
pub struct CallArgs {
    /// Capability name (optional when the config exposes exactly one tool)
    capability: Option<String>,
    #[command(flatten)]
    input: InputArgs,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    store: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ProposeArgs {
    /// Proposal capability name
    capability: String,
    #[command(flatten)]
    input: InputArgs,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    store: Option<PathBuf>,
    /// Print the raw tool result as JSON
    #[arg(long)]
    json: bool,
    /// Print only the new proposal's id, for a script to approve it by name:
    /// id=$(sluicegate propose … --id-only)
    #[arg(long, conflicts_with = "json")]
    id_only: bool,
}

#[derive(clap::Args)]
#[group(multiple = false)]
pub struct InputArgs {
    /// Tool arguments as a JSON object, e.g. --args '{"invoice_id":"INV-3001"}'
    #[arg(long)]
    args: Option<String>,
    /// Read tool arguments from a JSON file
    #[arg(long)]
    input: Option<PathBuf>,
    /// Use generated sample arguments
    #[arg(long)]
    sample: bool,
}

impl InputArgs {
    fn given(&self) -> bool {
        self.args.is_some() || self.input.is_some() || self.sample
    }

    /// The arguments to send: explicit JSON, a file, or samples for `cap` (typed from its
    /// table's columns, like the call) with the object id recorded for config `path`. `rt` is
    /// the runtime the call runs on too: a MySQL pool dies with the runtime it was used on.
    fn resolve(
        &self,
        rt: &Runtime,
        api: &AgentApi,
        cap: &str,
        path: &Path,
    ) -> anyhow::Result<Args> {
        let text = match (&self.args, &self.input) {
            (Some(a), _) => a.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --input {}", path.display()))?,
            (None, None) => {
                let ids = onboarding::recorded_ids(path);
                return rt
                    .block_on(api.sample_args(cap, &ids))
                    .map_err(anyhow::Error::msg);
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => bail!("tool arguments must be a JSON object"),
            Err(e) => bail!("tool arguments are not valid JSON: {e}"),
        }
    }
}

/// What `tools preview` and `smoke boundary` look at: the config, its exposed tools and checks.
struct Boundary {
    path: PathBuf,
    store: PathBuf,
    config: std::sync::Arc<Config>,
    mode: AliasMode,
    checks: Vec<BoundaryCheck>,
}

impl Boundary {
    fn load(a: &PreviewArgs) -> anyhow::Result<Boundary> {
        let path = config_path(a.config.as_deref());
        if !path.exists() {
            bail!(
                "tool preview could not find {}.\nWhy it matters: the config is the only source of model-facing tools.\nFix: run `sluicegate onboard db --from-env DATABASE_URL` (or `sluicegate demo --quick`), or pass --config <path>.",
                path.display()
            );
        }
        let config = load_config(&path)?;
        let mode = AliasMode::parse(&a.alias_mode).unwrap_or_default();
        let checks = boundary_checks(&config, mode);
        Ok(Boundary {
            store: store_path(a.store.as_deref(), a.config.as_deref()),
            path,
            config,
            mode,
            checks,
        })
    }

    fn ok(&self) -> bool {
        all_pass(&self.checks)
    }

    fn exit_code(&self) -> ExitCode {
        if self.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// `smoke boundary` / `mcp smoke`: the boundary checks of `tools preview`, briefly.
pub fn run_boundary_smoke(a: PreviewArgs) -> anyhow::Result<ExitCode> {
    let b = Boundary::load(&a)?;
    let tools: Vec<String> = exposed_tools(&b.config, b.mode)
        .into_iter()
        .map(|t| t.exposed)
        .collect();
    if a.json {
        print_json(&view::boundary_smoke_json(
            &b.path, &b.store, &tools, &b.checks,
        ))?;
    } else {
        out!(
            "{}",
            view::boundary_smoke(&b.path, &b.store, &tools, &b.checks)
        );
    }
    Ok(b.exit_code())
}

pub fn run_tools(cmd: ToolsCommand) -> anyhow::Result<ExitCode> {
    let (ToolsCommand::Preview(a) | ToolsCommand::List(a)) = cmd;
    let b = Boundary::load(&a)?;
    let (path, store, config, mode) = (&b.path, &b.store, &b.config, b.mode);
    if a.json {
        print_json(&view::tools_preview_json(
            config, mode, path, store, &b.checks,
        ))?;
    } else {
        outln!(
            "{}",
            view::tools_preview(config, mode, path, store, &b.checks, &recorded_ids(path))
        );
    }
    Ok(b.exit_code())
}

/// Build the agent API for a CLI call.
fn agent(
    config_flag: Option<&Path>,
    store_flag: Option<&Path>,
) -> anyhow::Result<(AgentApi, PathBuf, PathBuf)> {
    let path = config_path(config_flag);
    let config = load_config(&path)?;
    let store = store_path(store_flag, config_flag);
    let ledger = open_ledger(&store)?;
    Ok((
        AgentApi::new(config, ledger, Env::process(), None),
        store,
        path,
    ))
}

pub fn run_smoke(cmd: SmokeCommand) -> anyhow::Result<ExitCode> {
    let a = match cmd {
        SmokeCommand::Call(a) => a,
        SmokeCommand::Boundary(a) => return run_boundary_smoke(a),
    };
    let (api, store, path) = agent(a.config.as_deref(), a.store.as_deref())?;
    let exposed: Vec<String> = api
        .config()
        .exposed_capabilities()
        .map(|c| c.name.clone())
        .collect();
    let tool = match a.capability.clone() {
        Some(t) => t,
        None if exposed.len() == 1 => exposed[0].clone(),
        None => bail!(
            "smoke call needs <capability> because {} tools are exposed: {}",
            exposed.len(),
            if exposed.is_empty() {
                "none".into()
            } else {
                exposed.join(", ")
            }
        ),
    };
    if api.config().capability(&tool).is_none() {
        bail!("capability not found in config: {tool}");
    }
    let rt = runtime()?;
    let args = a.input.resolve(&rt, &api, &tool, &path)?;
    let result = rt.block_on(api.call(&tool, &args));
    let ok = result.succeeded();
    if a.json {
        print_json(
            &json!({"ok": ok, "isError": result.is_error, "tool": tool, "input": args, "result": result.payload, "store_path": store}),
        )?;
    } else {
        out!(
            "{}",
            view::smoke_call(&tool, &args, &result, &store_hint(a.store.as_deref()))
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn run_propose(a: ProposeArgs) -> anyhow::Result<ExitCode> {
    let (api, _, path) = agent(a.config.as_deref(), a.store.as_deref())?;
    let cap = api
        .config()
        .capability(&a.capability)
        .with_context(|| format!("proposal capability not found: {}", a.capability))?;
    if cap.kind == Kind::Read {
        bail!(
            "{} is a read capability; use a proposal capability with `sluicegate propose`",
            a.capability
        );
    }
    if !a.input.given() {
        bail!(
            "propose {} requires --sample, --input <file>, or --args '<json object>'",
            a.capability
        );
    }
    let rt = runtime()?;
    let args = a.input.resolve(&rt, &api, &a.capability, &path)?;
    let result = rt.block_on(api.call(&a.capability, &args));
    let ok = result.succeeded();
    // Whichever envelope the config's result_format gives.
    let (_, id) = result.ids();
    if a.json {
        print_json(&result.payload)?;
    } else if let (true, true, Some(id)) = (a.id_only, ok, id) {
        outln!("{id}");
    } else {
        let shown = view::proposal_result(&a.capability, &result, &store_hint(a.store.as_deref()));
        // With --id-only, a refusal goes to stderr: a script's `$(…)` must not take it for
        // an id.
        if a.id_only {
            errln!("{shown}");
            return Ok(ExitCode::from(1));
        }
        out!("{shown}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
