//! MCP client configuration on disk: the snippet for one client with its paths resolved, and
//! merging it into a client's config file (keeping every other server and key, after a
//! backup). The JSON shapes themselves are pure (`sluicegate_core::client_config`).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluicegate_core::client_config::{self, ClientConfigError, Server, Transport};
use sluicegate_core::tools::AliasMode;

/// What a snippet is built from: the user's flags, resolved.
#[derive(Debug, Clone)]
pub struct SnippetRequest {
    pub client: &'static str,
    pub transport: Transport,
    pub alias_mode: AliasMode,
    pub config: PathBuf,
    pub store: PathBuf,
    /// Resolve `config` and `store` to absolute paths.
    pub absolute_paths: bool,
    /// The command written into the snippet (the binary's name or path).
    pub command: String,
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
}

/// Build the snippet of `req`.
pub fn snippet(mut req: SnippetRequest) -> std::io::Result<Snippet> {
    if req.absolute_paths {
        req.config = std::path::absolute(&req.config)?;
        req.store = std::path::absolute(&req.store)?;
    }
    let mut warnings = Vec::new();
    if !req.config.exists() {
        warnings.push(format!(
            "config path does not exist yet: {}",
            req.config.display()
        ));
    }
    if req.transport == Transport::Stdio && (req.config.is_relative() || req.store.is_relative()) {
        warnings.push("relative paths are resolved from the MCP client's working directory; pass --absolute-paths to pin them.".into());
    }
    let (c, s) = (
        req.config.display().to_string(),
        req.store.display().to_string(),
    );
    let server = Server {
        command: &req.command,
        config: &c,
        store: &s,
        transport: req.transport,
        host: &req.host,
        port: req.port,
        auth_token_env: &req.auth_token_env,
        alias_mode: req.alias_mode,
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
    Ok(Snippet { json, warnings })
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
            absolute_paths: false,
            command: "sluicegate".into(),
            host: "127.0.0.1".into(),
            port: 8766,
            auth_token_env: "SLUICEGATE_HTTP_TOKEN".into(),
            include_instructions: false,
        }
    }

    #[test]
    fn relative_paths_are_warned_about_and_absolute_ones_pinned() {
        let s = snippet(req(PathBuf::from("missing.json"))).unwrap();
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        let mut pinned = req(PathBuf::from("missing.json"));
        pinned.absolute_paths = true;
        let s = snippet(pinned).unwrap();
        assert_eq!(
            s.warnings.len(),
            1,
            "only the missing file: {:?}",
            s.warnings
        );
        assert!(
            s.json
                .to_string()
                .contains(&std::env::current_dir().unwrap().display().to_string())
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
