//! What one onboarding run produces (the config and what goes with it), the placeholder
//! starter, and the files a run writes: the config, `.env.example`, the MCP client snippets and
//! the smoke input. Contents only: the front end checks for existing files and writes them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::OnboardingError;
use super::answers::Answers;
use super::files::env_example;
use super::selection::{Selection, generate};
use crate::client_config::{ServePaths, stdio_snippet};
use crate::config::Engine;

/// Where onboarding keeps its side files (snippets, smoke input), beside the ledger.
pub const STATE_DIR: &str = ".sluicegate";

/// The stdio clients a snippet file is written for, and the file name of each.
const SNIPPETS: [(&str, &str); 4] = [
    ("generic-stdio", "generic-stdio.json"),
    ("claude-desktop", "claude-desktop.json"),
    ("cursor", "cursor.json"),
    ("vscode", "vscode.json"),
];

/// What one generation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub doc: Value,
    pub selection: Option<Selection>,
    pub smoke_id: Option<String>,
    /// The tools the config exposes, in order.
    pub tools: Vec<String>,
    /// Where the decisions came from (`sqlite inspection`, `answers file x.json`, …).
    pub source_label: String,
    /// A handler template the wizard chose to write.
    pub handler_template: Option<String>,
}

impl Generated {
    /// Generate the config of `selection`.
    pub fn from_selection(
        selection: Selection,
        smoke_id: Option<String>,
        source_label: String,
    ) -> Result<Generated, OnboardingError> {
        let doc = generate(&selection)?;
        Ok(Generated {
            tools: tool_names(&doc),
            doc,
            selection: Some(selection),
            smoke_id,
            source_label,
            handler_template: None,
        })
    }
}

/// The capability names a generated config exposes, in order.
pub fn tool_names(doc: &Value) -> Vec<String> {
    doc["capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The starter config's decisions (`init` with no database input): placeholder table and
/// column names to replace, in the engine's usual schema.
pub fn starter_answers(
    engine: Engine,
    mode: Option<String>,
    read_url_env: Option<String>,
) -> Answers {
    Answers {
        engine: Some(engine.as_str().into()),
        mode: Some(mode.unwrap_or_else(|| "read_only".into())),
        table: Some("records".into()),
        schema: Some(
            match engine {
                Engine::Postgres => "public",
                Engine::Mysql => "app",
                Engine::Sqlite => "main",
            }
            .into(),
        ),
        primary_key: Some("id".into()),
        tenant_key: Some("tenant_id".into()),
        visible_columns: vec!["id,tenant_id,updated_at".into()],
        conflict_column: Some("updated_at".into()),
        namespace: Some("records".into()),
        object_name: Some("record".into()),
        read_url_env,
        ..Default::default()
    }
}

/// What a planned file is, which decides what a run that adds to a config does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// The config: an `--add` run rewrites it with the addition merged in.
    Config,
    /// `.env.example`: names only, rewritten for the whole config.
    EnvExample,
    /// An MCP client snippet: the same for every run on one config, kept when present.
    Snippet,
    /// `.sluicegate/smoke-input.json`: `{lookup arg: id}`, merged with what is there.
    SmokeInput,
    /// A starter handler: never overwritten without `--force`.
    Handler,
}

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub body: String,
    pub executable: bool,
    pub role: FileRole,
}

/// Where `smoke call --sample` and first smoke calls find recorded object ids.
pub const SMOKE_INPUT: &str = ".sluicegate/smoke-input.json";

fn pretty(v: &Value) -> String {
    // A JSON value always serializes; the fallback is never taken.
    format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
}

/// The files of `g`, in order: the config at `output`, `.env.example`, one MCP snippet per stdio
/// client (starting the server as `serve` says: the same config, resolved for a desktop client),
/// then the smoke input when there is an object id.
pub fn plan_files(g: &Generated, output: &Path, serve: &ServePaths) -> Vec<PlannedFile> {
    let file = |path: PathBuf, body: String, role: FileRole| PlannedFile {
        path,
        body,
        executable: false,
        role,
    };
    let mut files = vec![
        file(output.to_path_buf(), pretty(&g.doc), FileRole::Config),
        file(
            PathBuf::from(".env.example"),
            env_example(&g.doc),
            FileRole::EnvExample,
        ),
    ];
    for (client, name) in SNIPPETS {
        files.push(file(
            Path::new(STATE_DIR).join("mcp").join(name),
            pretty(&stdio_snippet(client, serve)),
            FileRole::Snippet,
        ));
    }
    if let (Some(id), Some(sel)) = (&g.smoke_id, &g.selection)
        && let Some(names) = sel.names()
    {
        files.push(file(
            PathBuf::from(SMOKE_INPUT),
            pretty(&json!({names.lookup: id})),
            FileRole::SmokeInput,
        ));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboarding::answers::resolve;

    fn starter(engine: Engine) -> Generated {
        let answers = starter_answers(engine, None, Some("APP_URL".into()));
        let resolved = resolve(&answers, None, None, "read_only").expect("the starter resolves");
        Generated::from_selection(resolved.selection, Some("42".into()), "starter".into())
            .expect("the starter generates")
    }

    #[test]
    fn the_starter_is_a_valid_read_only_config() {
        let g = starter(Engine::Mysql);
        assert_eq!(g.doc["mode"], "read_only");
        assert_eq!(g.tools, ["records.inspect_record"]);
        assert_eq!(g.doc["capabilities"][0]["target"]["schema"], "app");
        assert_eq!(tool_names(&g.doc), g.tools);
        assert_eq!(
            starter_answers(Engine::Sqlite, Some("shadow".into()), None)
                .mode
                .as_deref(),
            Some("shadow")
        );
    }

    fn serve_paths() -> ServePaths {
        ServePaths {
            command: "/bin/sluicegate".into(),
            config: "/p/cfg.json".into(),
            store: "/p/l.db".into(),
            env_file: Some("/p/.env".into()),
        }
    }

    #[test]
    fn every_file_of_a_generation() {
        let g = starter(Engine::Postgres);
        let files = plan_files(&g, Path::new("cfg.json"), &serve_paths());
        let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "cfg.json",
                ".env.example",
                ".sluicegate/mcp/generic-stdio.json",
                ".sluicegate/mcp/claude-desktop.json",
                ".sluicegate/mcp/cursor.json",
                ".sluicegate/mcp/vscode.json",
                ".sluicegate/smoke-input.json",
            ]
        );
        assert!(
            files
                .iter()
                .all(|f| !f.executable && f.body.ends_with('\n'))
        );
        // A desktop client can start the snippet as written: absolute paths, the env file, the
        // log level.
        let cursor: Value = serde_json::from_str(&files[4].body).expect("JSON");
        assert_eq!(
            cursor["mcpServers"]["sluicegate"],
            json!({
                "command": "/bin/sluicegate",
                "args": ["mcp", "serve", "--config", "/p/cfg.json", "--store", "/p/l.db", "--env-file", "/p/.env"],
                "env": {"SLUICEGATE_LOG": "info"}
            })
        );
        assert_eq!(files[6].body, "{\n  \"record_id\": \"42\"\n}\n");
        let without_id = Generated {
            smoke_id: None,
            ..g
        };
        assert_eq!(
            plan_files(&without_id, Path::new("c"), &serve_paths()).len(),
            6
        );
    }
}
