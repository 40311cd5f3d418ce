//! `sluicegate recipes list|show|init`: starter capability contracts (onboarding.md §10).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use sluicegate_core::onboarding::generated::Generated;
use sluicegate_core::onboarding::recipes::{builtin, recipe_selection};

use sluicegate_runtime::onboarding::load_recipe;

use super::onboard::GenArgs;
use crate::context::print_json;

#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum RecipesCommand {
    /// List the built-in recipes
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one recipe (id or JSON file)
    Show {
        recipe: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a config from a recipe's selection
    Init {
        recipe: String,
        /// postgres, mysql or sqlite (default: the recipe's)
        #[arg(long)]
        engine: Option<String>,
        /// read_only (drops the proposal), shadow or review (default: the recipe's)
        #[arg(long)]
        mode: Option<String>,
        /// Env var holding the read URL (default DATABASE_URL)
        #[arg(long, visible_alias = "from-env")]
        read_url_env: Option<String>,
        #[arg(long, visible_alias = "out", default_value = crate::context::DEFAULT_CONFIG)]
        output: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: RecipesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RecipesCommand::List { json } => {
            let all = builtin();
            if json {
                print_json(&json!({"recipes": all.iter().map(|r| json!({
                    "id": r.id, "title": r.title, "summary": r.summary, "semantic_tools": r.semantic_tools,
                })).collect::<Vec<_>>()}))?;
            } else {
                for r in &all {
                    outln!(
                        "{}\n  {}\n  tools: {}",
                        r.id,
                        r.summary,
                        r.semantic_tools.join(", ")
                    );
                }
            }
        }
        RecipesCommand::Show { recipe, json } => {
            let r = load_recipe(&recipe)?;
            if json {
                print_json(&r)?;
            } else {
                out!("{}", r.describe());
            }
        }
        RecipesCommand::Init {
            recipe,
            engine,
            mode,
            read_url_env,
            output,
            force,
        } => {
            let r = load_recipe(&recipe)?;
            let mut sel = recipe_selection(&r, engine.as_deref(), mode.as_deref());
            if read_url_env.is_some() {
                sel.read_url_env = read_url_env;
            }
            let label = format!("recipe {}", r.id);
            let g = Generated::from_selection(sel, None, label)
                .with_context(|| format!("recipe {}", r.id))?;
            let args = GenArgs {
                output,
                force,
                ..Default::default()
            };
            super::onboard::write_generated(&args, &g)?;
            outln!("initialized recipe {}", r.id);
            outln!(
                "Review the table and column names against your schema (`sluicegate inspect`), then `sluicegate config validate --config {}`.",
                args.output.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
