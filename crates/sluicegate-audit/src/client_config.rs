//! Reading the servers out of an MCP client config: Claude Desktop and Cursor (`mcpServers`),
//! VS Code (`servers`, or `mcp.servers` inside settings). Only reads; launching is `live`.

use std::path::PathBuf;

use serde_json::{Map, Value};
use sluicegate_core::secrets::Secret;

use crate::live::http::HttpServer;
use crate::live::stdio::StdioServer;

/// How to reach one configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    Stdio(StdioServer),
    Http(HttpServer),
}

impl Launch {
    pub fn transport(&self) -> &'static str {
        match self {
            Launch::Stdio(_) => "stdio",
            Launch::Http(_) => "http",
        }
    }
}

/// One entry of the client config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredServer {
    pub name: String,
    /// `disabled: true` in the entry.
    pub disabled: bool,
    /// How to reach it, or why the entry cannot be used.
    pub launch: Result<Launch, String>,
}

/// The configured servers in file order, or `None` when the document has no server map (then it
/// is not a client config and is audited as plain JSON).
pub fn configured_servers(config: &Value) -> Option<Vec<ConfiguredServer>> {
    let map = config
        .get("mcpServers")
        .and_then(Value::as_object)
        .or_else(|| config.get("servers").and_then(Value::as_object))
        .or_else(|| {
            config
                .get("mcp")
                .and_then(|mcp| mcp.get("servers"))
                .and_then(Value::as_object)
        })?;
    Some(
        map.iter()
            .map(|(name, entry)| ConfiguredServer {
                name: name.clone(),
                disabled: entry.get("disabled") == Some(&Value::Bool(true)),
                launch: launch(entry),
            })
            .collect(),
    )
}

fn launch(entry: &Value) -> Result<Launch, String> {
    let entry = entry.as_object().ok_or("the entry is not an object")?;
    let kind = entry.get("type").and_then(Value::as_str);
    if kind == Some("sse") {
        return Err(
            "the legacy HTTP+SSE transport is not supported; audit a Streamable HTTP endpoint with --url"
                .to_owned(),
        );
    }
    if let Some(command) = entry.get("command") {
        let program = command
            .as_str()
            .filter(|c| !c.trim().is_empty())
            .ok_or("command must be a non-empty string")?;
        let args = match entry.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(args)) => args
                .iter()
                .map(|arg| arg.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("args must be an array of strings")?,
            Some(_) => return Err("args must be an array of strings".to_owned()),
        };
        let env = string_map(entry.get("env"), "env")?;
        let cwd = entry.get("cwd").and_then(Value::as_str).map(PathBuf::from);
        return Ok(Launch::Stdio(StdioServer {
            program: program.to_owned(),
            args,
            env,
            cwd,
        }));
    }
    if let Some(url) = entry.get("url").and_then(Value::as_str) {
        return Ok(Launch::Http(HttpServer {
            url: Secret::new(url),
            headers: string_map(entry.get("headers"), "headers")?,
            bearer: None,
        }));
    }
    Err("the entry has neither a command nor a url".to_owned())
}

/// Env values and header values of a client config: they are where tokens and database URLs
/// usually go, so they are held as [`Secret`]s.
fn string_map(value: Option<&Value>, what: &str) -> Result<Vec<(String, Secret)>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => {
            pairs(map).ok_or_else(|| format!("{what} values must be strings"))
        }
        Some(_) => Err(format!("{what} must be an object")),
    }
}

fn pairs(map: &Map<String, Value>) -> Option<Vec<(String, Secret)>> {
    map.iter()
        .map(|(k, v)| v.as_str().map(|v| (k.clone(), Secret::new(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_claude_cursor_and_vscode_shapes() {
        let claude =
            json!({"mcpServers": {"db": {"command": "srv", "args": ["-x"], "env": {"A": "1"}}}});
        let servers = configured_servers(&claude).unwrap();
        assert_eq!(
            servers[0].launch,
            Ok(Launch::Stdio(StdioServer {
                program: "srv".into(),
                args: vec!["-x".into()],
                env: vec![("A".into(), "1".into())],
                cwd: None
            }))
        );
        let vscode = json!({"servers": {"web": {"type": "http", "url": "http://127.0.0.1:1/mcp"}}});
        assert_eq!(
            configured_servers(&vscode).unwrap()[0]
                .launch
                .as_ref()
                .unwrap()
                .transport(),
            "http"
        );
        let settings = json!({"mcp": {"servers": {"a": {"command": "x", "disabled": true}}}});
        assert!(configured_servers(&settings).unwrap()[0].disabled);
        assert!(configured_servers(&json!({"tools": []})).is_none());
    }

    #[test]
    fn unusable_entries_say_why() {
        let config = json!({"mcpServers": {
            "a": {"command": 3},
            "b": {"command": "x", "env": {"N": 1}},
            "c": {},
            "d": {"type": "sse", "url": "http://x"}
        }});
        let errors: Vec<_> = configured_servers(&config)
            .unwrap()
            .into_iter()
            .map(|s| s.launch.unwrap_err())
            .collect();
        assert!(errors[0].contains("command"));
        assert!(errors[1].contains("env values"));
        assert!(errors[2].contains("neither"));
        assert!(errors[3].contains("SSE"));
    }
}
