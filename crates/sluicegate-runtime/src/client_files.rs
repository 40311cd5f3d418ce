//! MCP client configuration on disk: the snippet for one client with its paths resolved, the
//! env file it points at, and merging it into a client's config file (keeping every other
//! server and key, after a backup). The JSON shapes themselves are pure
//! (`sluicegate_core::client_config`).
//!
//! A desktop client starts a stdio server with a bare environment (a GUI `PATH`, none of the
//! user's exports) from a working directory of its own, so by default the command is the
//! running binary's absolute path, every path is absolute, and credentials come from an env
//! file that only its owner can read (`mcp serve --env-file`), never from the client's config.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluicegate_core::client_config::{self, ClientConfigError, ServePaths, Server, Transport};
use sluicegate_core::config::Config;
use sluicegate_core::tools::AliasMode;

use crate::serve_env::{self, ServeEnvError};

pub use sluicegate_core::client_config::SNIPPET_LOG_LEVEL;

/// The env file a snippet points at unless told otherwise: `.env` where the command runs.
pub const DEFAULT_ENV_FILE: &str = ".env";

/// What a snippet is built from: the user's flags, resolved.
#[derive(Debug, Clone)]
pub struct SnippetRequest {
    pub client: &'static str,
    pub transport: Transport,
    pub alias_mode: AliasMode,
    pub config: PathBuf,
    pub store: PathBuf,
    /// Keep `config`, `store` and `env_file` as given instead of making them absolute.
    pub relative_paths: bool,
    /// The command written into the snippet (see [`default_command`]).
    pub command: String,
    /// The env file the server reads its credentials from; `None` leaves `--env-file` out.
    pub env_file: Option<PathBuf>,
    /// Create `env_file` (names only, owner-only permissions) when it does not exist.
    pub create_env_file: bool,
    pub host: String,
    pub port: u16,
    pub auth_token_env: String,
    pub include_instructions: bool,
}

/// A built snippet and what the user should know about it.
#[derive(Debug, Clone)]
pub struct Snippet {
    pub json: Value,
    pub warnings: Vec<String>,
    /// What was done besides printing (an env file created).
    pub notes: Vec<String>,
}

/// Why no snippet was built.
#[derive(Debug, thiserror::Error)]
pub enum SnippetError {
    #[error("cannot resolve {0}: {1}")]
    Path(String, std::io::Error),
    #[error(
        "--create-env-file needs a valid config to know which variables to name: cannot use {0}"
    )]
    Config(String),
    #[error(transparent)]
    EnvFile(#[from] ServeEnvError),
}

/// The command a snippet starts: the running binary's canonical path, so a client whose
/// `PATH` lacks the install directory still finds it (`sluicegate` if that cannot be known).
pub fn default_command() -> String {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "sluicegate".into())
}

fn resolve(path: &mut PathBuf) -> Result<(), SnippetError> {
    *path =
        serve_env::absolute(path).map_err(|e| SnippetError::Path(path.display().to_string(), e))?;
    Ok(())
}

fn load_config(path: &Path) -> Option<Config> {
    let text = std::fs::read_to_string(path).ok()?;
    match sluicegate_core::config::load_str(&text) {
        (v, Some(c)) if v.ok => Some(c),
        _ => None,
    }
}

/// How a desktop client starts the server on `config` with ledger `store`, credentials from
/// `env_file`: the paths made absolute, as `mcp config` writes them (onboarding's snippets).
pub fn serve_paths(
    command: &str,
    config: &Path,
    store: &Path,
    env_file: Option<&Path>,
) -> Result<ServePaths, SnippetError> {
    let absolute = |p: &Path| {
        let mut p = p.to_path_buf();
        resolve(&mut p).map(|()| p.display().to_string())
    };
    Ok(ServePaths {
        command: command.to_string(),
        config: absolute(config)?,
        store: absolute(store)?,
        env_file: env_file.map(absolute).transpose()?,
    })
}

/// Build the snippet of `req`, creating its env file first when asked.
pub fn snippet(mut req: SnippetRequest) -> Result<Snippet, SnippetError> {
    if !req.relative_paths {
        resolve(&mut req.config)?;
        resolve(&mut req.store)?;
        if let Some(f) = req.env_file.as_mut() {
            resolve(f)?;
        }
    }
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    if !req.config.exists() {
        warnings.push(format!(
            "config path does not exist yet: {}",
            req.config.display()
        ));
    }
    let relative = [Some(&req.config), Some(&req.store), req.env_file.as_ref()]
        .into_iter()
        .flatten()
        .any(|p| p.is_relative());
    if req.transport == Transport::Stdio && relative {
        warnings.push("relative paths are resolved from the MCP client's working directory (often / for a desktop app); drop --relative-paths to pin them.".into());
    }
    if let Some(file) = &req.env_file {
        env_file_state(&req, file, &mut warnings, &mut notes)?;
    }
    let (c, s) = (
        req.config.display().to_string(),
        req.store.display().to_string(),
    );
    let env_file = req.env_file.as_ref().map(|p| p.display().to_string());
    let env = vec![("SLUICEGATE_LOG".to_string(), SNIPPET_LOG_LEVEL.to_string())];
    let server = Server {
        command: &req.command,
        config: &c,
        store: &s,
        transport: req.transport,
        host: &req.host,
        port: req.port,
        auth_token_env: &req.auth_token_env,
        alias_mode: req.alias_mode,
        env_file: env_file.as_deref(),
        env: &env,
    };
    // Only the OpenAI snippet names an example tool; it comes from the config when readable.
    let example = if req.client == "openai-agents" {
        let doc = std::fs::read_to_string(&req.config)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        client_config::example_tool(doc.as_ref())
    } else {
        String::new()
    };
    let mut json = client_config::snippet(req.client, &server, &example);
    if req.include_instructions {
        json["agent_instructions"] = client_config::instructions(req.client, req.alias_mode);
    }
    Ok(Snippet {
        json,
        warnings,
        notes,
    })
}

/// Create the env file when asked, and say what the user still has to do with it.
fn env_file_state(
    req: &SnippetRequest,
    file: &Path,
    warnings: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<(), SnippetError> {
    let shown = file.display().to_string();
    if req.create_env_file && !file.exists() {
        let config = load_config(&req.config)
            .ok_or_else(|| SnippetError::Config(req.config.display().to_string()))?;
        let token = "bearer token HTTP clients send; give the agent process the same value";
        let extra: Vec<(&str, &str)> = match req.transport {
            Transport::StreamableHttp => vec![(req.auth_token_env.as_str(), token)],
            Transport::Stdio => Vec::new(),
        };
        let needs = serve_env::write_template(&config, file, &extra)?;
        let mut names: Vec<&str> = needs.iter().map(|n| n.name.as_str()).collect();
        names.extend(extra.iter().map(|(n, _)| *n));
        notes.push(format!(
            "Created {shown} (owner-only, chmod 600) naming {}: fill in the values; they never go in the client's config.",
            names.join(", ")
        ));
        return Ok(());
    }
    match serve_env::read_env_file(file) {
        Ok(_) => {}
        Err(ServeEnvError::Unreadable { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            warnings.push(format!(
                "env file does not exist yet: {shown}; rerun with --create-env-file to write one naming the variables to fill in (values stay out of the client config)"
            ));
        }
        Err(e) => warnings.push(e.to_string()),
    }
    Ok(())
}

/// Why a snippet could not be merged into a client's config file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{0} is not valid JSON")]
    NotJson(String),
    #[error("{0} does not hold a JSON object")]
    NotAnObject(String),
    #[error("cannot read or write {0}: {1}")]
    Io(String, std::io::Error),
    #[error(transparent)]
    Config(#[from] ClientConfigError),
}

/// `dest`'s current content with the snippet merged in (`None` when `dest` does not exist).
pub fn merged(client: &str, snippet: &Value, dest: &Path) -> Result<Value, MergeError> {
    let shown = dest.display().to_string();
    let existing = match std::fs::read_to_string(dest) {
        Ok(text) => Some(
            serde_json::from_str::<Value>(&text).map_err(|_| MergeError::NotJson(shown.clone()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(MergeError::Io(shown, e)),
    };
    client_config::merge(client, snippet, existing).map_err(|e| match e {
        ClientConfigError::NotAnObject => MergeError::NotAnObject(shown),
        other => other.into(),
    })
}

/// Write `merged` to `dest`, keeping a timestamped backup of what was there; returns the
/// backup's path.
pub fn write_merged(
    merged: &Value,
    dest: &Path,
    stamp: &str,
) -> Result<Option<String>, MergeError> {
    let shown = || dest.display().to_string();
    let mut backup = None;
    if dest.exists() {
        let path = format!("{}.bak.{stamp}", dest.display());
        std::fs::copy(dest, &path).map_err(|e| MergeError::Io(shown(), e))?;
        backup = Some(path);
    }
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| MergeError::Io(shown(), e))?;
    }
    let text = serde_json::to_string_pretty(merged).unwrap_or_default();
    std::fs::write(dest, format!("{text}\n")).map_err(|e| MergeError::Io(shown(), e))?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn req(config: PathBuf) -> SnippetRequest {
        SnippetRequest {
            client: "claude-desktop",
            transport: Transport::Stdio,
            alias_mode: AliasMode::Canonical,
            config,
            store: PathBuf::from(".sluicegate/local.db"),
            relative_paths: true,
            command: "sluicegate".into(),
            env_file: None,
            create_env_file: false,
            host: "127.0.0.1".into(),
            port: 8766,
            auth_token_env: "SLUICEGATE_HTTP_TOKEN".into(),
            include_instructions: false,
        }
    }

    #[test]
    fn paths_are_absolute_unless_relative_ones_are_asked_for() {
        let s = snippet(req(PathBuf::from("missing.json"))).unwrap();
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        let mut pinned = req(PathBuf::from("missing.json"));
        pinned.relative_paths = false;
        let s = snippet(pinned).unwrap();
        assert_eq!(
            s.warnings.len(),
            1,
            "only the missing file: {:?}",
            s.warnings
        );
        let args = s.json["mcpServers"]["sluicegate"]["args"].clone();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            args[3],
            json!(cwd.join("missing.json").display().to_string())
        );
        assert_eq!(
            args[5],
            json!(cwd.join(".sluicegate/local.db").display().to_string())
        );
        assert_eq!(
            s.json["mcpServers"]["sluicegate"]["env"],
            json!({"SLUICEGATE_LOG": "info"})
        );
        assert!(Path::new(&default_command()).is_absolute());
    }

    #[test]
    fn the_env_file_is_created_on_request_and_warned_about_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sluicegate.json");
        std::fs::write(
            &config,
            json!({
                "version": 1, "mode": "read_only",
                "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
                "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "TEN", "principal_env": "PRI"}},
                "capabilities": [{
                    "name": "a.read", "kind": "read", "source": "app",
                    "target": {"schema": "main", "table": "t", "primary_key": "id", "tenant_key": "tenant_id"},
                    "args": {"id": {"type": "string"}}, "lookup": {"id_from_arg": "id"},
                    "visible_columns": ["id"]
                }]
            })
            .to_string(),
        )
        .unwrap();
        let env_file = dir.path().join(".env");
        let mut r = req(config);
        r.relative_paths = false;
        r.env_file = Some(env_file.clone());
        let s = snippet(r.clone()).unwrap();
        assert!(
            s.warnings.iter().any(|w| w.contains("--create-env-file")),
            "{:?}",
            s.warnings
        );
        assert!(!env_file.exists());
        r.create_env_file = true;
        let s = snippet(r.clone()).unwrap();
        assert!(s.notes[0].contains("APP_URL, TEN, PRI"), "{:?}", s.notes);
        let args = s.json["mcpServers"]["sluicegate"]["args"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            args[args.len() - 2..],
            [json!("--env-file"), json!(env_file.display().to_string())]
        );
        let text = std::fs::read_to_string(&env_file).unwrap();
        assert!(text.contains("\nAPP_URL=\n"), "{text}");
        // Never overwritten: a second run leaves the filled-in file alone.
        std::fs::write(&env_file, "APP_URL=sqlite:///x.db\n").unwrap();
        let s = snippet(r).unwrap();
        assert!(
            s.notes.is_empty() && s.warnings.is_empty(),
            "{:?} {:?}",
            s.notes,
            s.warnings
        );
        assert_eq!(
            std::fs::read_to_string(&env_file).unwrap(),
            "APP_URL=sqlite:///x.db\n"
        );
    }

    #[test]
    fn merging_keeps_other_servers_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("claude.json");
        std::fs::write(
            &dest,
            r#"{"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}"#,
        )
        .unwrap();
        let s = snippet(req(PathBuf::from("c.json"))).unwrap();
        let m = merged("claude-desktop", &s.json, &dest).unwrap();
        assert_eq!(m["theme"], json!("dark"));
        assert!(m["mcpServers"]["other"].is_object());
        let backup = write_merged(&m, &dest, "20260101").unwrap().unwrap();
        assert!(std::fs::read_to_string(backup).unwrap().contains("other"));
        std::fs::write(&dest, "[1]").unwrap();
        assert!(matches!(
            merged("claude-desktop", &s.json, &dest),
            Err(MergeError::NotAnObject(_))
        ));
        std::fs::write(&dest, "{").unwrap();
        assert!(matches!(
            merged("claude-desktop", &s.json, &dest),
            Err(MergeError::NotJson(_))
        ));
    }
}
