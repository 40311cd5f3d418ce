//! The file side of `init` and `onboard db`: recipes by id or path, the config an `--add`
//! run extends, writing a run's files (every target checked before any is written), the
//! object ids recorded for smoke calls, which `smoke call --sample` sends, and the next steps
//! printed at the end.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sluicegate_core::config::{Config, Kind};
use sluicegate_core::onboarding::OnboardingError;
use sluicegate_core::onboarding::generated::{FileRole, PlannedFile, SMOKE_INPUT};
use sluicegate_core::onboarding::recipes::{Recipe, builtin_recipe, is_recipe_path, parse_recipe};

use crate::demo;

/// Why onboarding's files could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A file is in the way, or missing, and the message says what to do.
    #[error("{0}")]
    Refused(String),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Onboarding(#[from] OnboardingError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FilesError {
    let path = path.display().to_string();
    move |source| FilesError::Io {
        action,
        path,
        source,
    }
}

/// A recipe by id (`./recipes/<id>.json` first, then the built-in ones) or file path.
pub fn load_recipe(arg: &str) -> Result<Recipe, FilesError> {
    let local = Path::new("recipes").join(format!("{arg}.json"));
    let path = if is_recipe_path(arg) {
        PathBuf::from(arg)
    } else if local.exists() {
        local
    } else {
        return builtin_recipe(arg).ok_or_else(|| {
            FilesError::Refused(format!(
                "unknown recipe {arg}. Run `sluicegate recipes list`, or pass a recipe JSON file path"
            ))
        });
    };
    let text = std::fs::read_to_string(&path).map_err(io("read recipe", &path))?;
    Ok(parse_recipe(&text, &path.display().to_string())?)
}

/// The config an `--add` run extends, as JSON.
pub fn read_config_doc(path: &Path) -> Result<Value, FilesError> {
    if !path.exists() {
        return Err(FilesError::Refused(format!(
            "--add extends an existing config, and {} does not exist: run once without --add first (or pass --output <config>)",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    serde_json::from_str(&text)
        .map_err(|e| FilesError::Refused(format!("{} is not JSON: {e}", path.display())))
}

/// How a run treats files that are already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Any existing target stops the run before anything is written.
    Refuse,
    /// `--force`: every file is written.
    Overwrite,
    /// `--add`: the config and `.env.example` are rewritten (the config already holds the
    /// addition merged in), the smoke input is merged, client snippets that exist are kept
    /// (they serve the same config), and an existing handler stops the run.
    Add,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// `created`, `updated` or `kept`.
    pub verb: &'static str,
    pub role: FileRole,
}

/// Write `files` as `existing` says; all are checked before any is written.
pub fn write_files(files: &[PlannedFile], existing: Existing) -> Result<Vec<Written>, FilesError> {
    let in_the_way: Vec<String> = files
        .iter()
        .filter(|f| f.path.exists())
        .filter(|f| match existing {
            Existing::Refuse => true,
            Existing::Overwrite => false,
            Existing::Add => f.role == FileRole::Handler,
        })
        .map(|f| f.path.display().to_string())
        .collect();
    if !in_the_way.is_empty() {
        return Err(FilesError::Refused(format!(
            "{} already exist(s). Use --force to overwrite{}.",
            in_the_way.join(", "),
            if existing == Existing::Refuse {
                ", or --add to add this table or action to the existing config"
            } else {
                ""
            }
        )));
    }
    let mut out = Vec::new();
    for f in files {
        let present = f.path.exists();
        let mut body = f.body.clone();
        if present && existing == Existing::Add {
            match f.role {
                FileRole::Snippet => {
                    out.push(Written {
                        path: f.path.clone(),
                        verb: "kept",
                        role: f.role,
                    });
                    continue;
                }
                FileRole::SmokeInput => body = merged_ids(&f.path, &f.body)?,
                _ => {}
            }
        }
        if let Some(parent) = f.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        std::fs::write(&f.path, &body).map_err(io("write", &f.path))?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(0o755))
                .map_err(io("make executable", &f.path))?;
        }
        out.push(Written {
            path: f.path.clone(),
            verb: if present { "updated" } else { "created" },
            role: f.role,
        });
    }
    Ok(out)
}

/// The ids already recorded at `path` with those of `body` added (new ones win).
fn merged_ids(path: &Path, body: &str) -> Result<String, FilesError> {
    let mut ids = read_ids(path);
    if let Ok(Value::Object(new)) = serde_json::from_str::<Value>(body) {
        ids.extend(new);
    }
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&Value::Object(ids)).unwrap_or_default()
    ))
}

fn read_ids(path: &Path) -> Map<String, Value> {
    match std::fs::read_to_string(path).map(|t| serde_json::from_str::<Value>(&t)) {
        Ok(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    }
}

/// The object ids recorded for smoke calls, by lookup argument: the demo's own for the demo
/// config, else `.sluicegate/smoke-input.json` in the working directory (written by
/// `onboard db --smoke-id`). Onboarding reads catalog metadata only, so an id is known only
/// when someone gave one.
pub fn recorded_ids(config_path: &Path) -> Map<String, Value> {
    if config_path.ends_with(demo::CONFIG_FILE) {
        return demo::sample_ids();
    }
    read_ids(Path::new(SMOKE_INPUT))
}

/// The arguments of a first read of `read_tool` as a command line: `--sample` when an id is
/// recorded for its lookup argument, else `--args` with a placeholder to replace.
pub fn smoke_args(config: &Config, read_tool: &str, ids: &Map<String, Value>) -> String {
    let Some(cap) = config.capability(read_tool) else {
        return "--sample".into();
    };
    if ids.contains_key(&cap.lookup_arg) {
        "--sample".into()
    } else {
        format!("--args '{{\"{}\":\"<a real id>\"}}'", cap.lookup_arg)
    }
}

/// The first read capability among `tools` (the ones a run added), else of the config.
pub fn first_read_tool(config: &Config, tools: &[String]) -> Option<String> {
    let reads = config.capabilities.iter().filter(|c| c.kind == Kind::Read);
    reads
        .clone()
        .find(|c| tools.contains(&c.name))
        .or_else(|| reads.clone().next())
        .map(|c| c.name.clone())
}

/// The `Next commands:` block of `onboard db`, each a command that runs as printed.
pub fn next_steps(
    config: &Config,
    config_path: &Path,
    store: &Path,
    read_env: &str,
    read_tool: Option<&str>,
) -> String {
    let (c, s) = (config_path.display(), store.display());
    let mut out = format!(
        "Next commands:\n  1. Preview the tools a model would see:\n     sluicegate tools preview --config {c}\n"
    );
    if let Some(tool) = read_tool {
        let ids = read_ids(Path::new(SMOKE_INPUT));
        out.push_str(&format!(
            "  2. Call the read tool once (set the env vars in .env.example first):\n     sluicegate smoke call {tool} {} --config {c} --store {s}\n",
            smoke_args(config, tool, &ids)
        ));
    }
    out.push_str(&format!(
        "  3. Serve MCP: the client snippets in .sluicegate/mcp read their credentials from .env; this writes it (names only, owner-only) for you to fill in:\n     sluicegate mcp config claude-desktop --config {c} --create-env-file\n     sluicegate mcp serve --config {c} --store {s} --env-file .env\n  4. Add another table or action to this config:\n     sluicegate onboard db --add --from-env {read_env} --output {c} --table <table> --yes\n  5. Approve and apply proposals only with a separate writer credential, after reviewing them:\n     sluicegate proposals show latest --store {s}"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_core::onboarding::generated::FileRole;

    fn planned(path: &Path, body: &str, role: FileRole) -> PlannedFile {
        PlannedFile {
            path: path.to_path_buf(),
            body: body.into(),
            executable: false,
            role,
        }
    }

    #[test]
    fn add_rewrites_the_config_merges_ids_and_keeps_snippets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("c.json");
        let snippet = dir.path().join("s.json");
        let ids = dir.path().join("ids.json");
        std::fs::write(&config, "{}").expect("write");
        std::fs::write(&snippet, "old").expect("write");
        std::fs::write(&ids, "{\"invoice_id\": \"INV-1\"}").expect("write");
        let files = [
            planned(&config, "{\"v\":2}\n", FileRole::Config),
            planned(&snippet, "new", FileRole::Snippet),
            planned(&ids, "{\"customer_id\": \"7\"}", FileRole::SmokeInput),
        ];
        let refused = write_files(&files, Existing::Refuse).expect_err("files exist");
        assert!(refused.to_string().contains("--add"), "{refused}");
        let written = write_files(&files, Existing::Add).expect("add");
        let verbs: Vec<&str> = written.iter().map(|w| w.verb).collect();
        assert_eq!(verbs, ["updated", "kept", "updated"]);
        assert_eq!(std::fs::read_to_string(&snippet).expect("read"), "old");
        let merged: Value =
            serde_json::from_str(&std::fs::read_to_string(&ids).expect("read")).expect("json");
        assert_eq!(
            merged,
            serde_json::json!({"invoice_id": "INV-1", "customer_id": "7"})
        );
        let handler = planned(&snippet, "x", FileRole::Handler);
        assert!(write_files(&[handler], Existing::Add).is_err());
    }

    #[test]
    fn recipes_and_existing_configs() {
        assert_eq!(
            load_recipe("billing.late_fee_waiver").expect("built in").id,
            "billing.late_fee_waiver"
        );
        assert!(load_recipe("nope").is_err());
        let missing =
            read_config_doc(Path::new("/nonexistent/sluicegate.json")).expect_err("missing");
        assert!(
            missing.to_string().contains("without --add first"),
            "{missing}"
        );
    }
}
