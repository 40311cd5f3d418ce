//! MCP client configuration snippets (mcp-surface.md §12): the JSON a client (Claude Desktop,
//! Cursor, VS Code, a generic stdio client, the OpenAI Agents SDK) needs to start or reach a
//! Sluicegate server, optional agent instructions, and merging a snippet into an existing
//! client config file.
//!
//! A stdio snippet is meant to run unchanged when a desktop client launches it with almost no
//! environment and an unknown working directory: the caller passes an absolute command and
//! absolute paths, the server reads its credentials from an env file (`--env-file`, never the
//! client's config file), and the `env` block carries only non-secret settings (the log
//! level). Snippets hold command paths and env var *names* only, never a URL with credentials
//! or a token value. Paths and the command name are inputs: reading files, resolving paths and
//! writing the result is the caller's job.

use serde_json::{Map, Value, json};

use crate::tools::{AliasMode, openai_alias};

/// Every client a snippet can be written for.
pub const CLIENTS: [&str; 6] = [
    "claude-desktop",
    "cursor",
    "vscode",
    "generic",
    "generic-stdio",
    "openai-agents",
];

/// The capability named in the OpenAI naming example when the config names none.
const EXAMPLE_TOOL: &str = "billing.inspect_invoice";

/// Why no snippet can be written for these choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientConfigError {
    #[error("unsupported MCP client: {0} (use one of {clients})", clients = CLIENTS.join(", "))]
    UnsupportedClient(String),
    /// The legacy JSON-RPC bridge (`http`), which no MCP client speaks.
    #[error(
        "--transport {0} is the legacy JSON-RPC bridge, which MCP clients do not speak; use stdio or streamable-http"
    )]
    Bridge(String),
    #[error("--transport must be stdio or streamable-http (got {0})")]
    UnknownTransport(String),
    #[error("openai-agents snippets use streamable-http; drop --transport stdio")]
    OpenaiStdio,
    #[error("{0} snippets support --transport stdio only")]
    StdioOnly(String),
    /// The existing client config is JSON but not an object, so no entry can be added.
    #[error("the existing client config does not hold a JSON object")]
    NotAnObject,
}

/// `name` as a supported client (`claude` is short for `claude-desktop`).
pub fn client(name: &str) -> Result<&'static str, ClientConfigError> {
    match name {
        "claude" => Ok("claude-desktop"),
        c => CLIENTS
            .iter()
            .find(|k| **k == c)
            .copied()
            .ok_or_else(|| ClientConfigError::UnsupportedClient(c.to_string())),
    }
}

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The client starts `sluicegate mcp serve` itself.
    Stdio,
    /// The client connects to a running `mcp serve-streamable-http`.
    StreamableHttp,
}

/// The transport for `client`: `requested`, or the client's default (Streamable HTTP for the
/// OpenAI Agents SDK, stdio for the rest), checked against what the client supports.
pub fn transport(client: &str, requested: Option<&str>) -> Result<Transport, ClientConfigError> {
    let openai = client == "openai-agents";
    let chosen = match requested {
        None if openai => Transport::StreamableHttp,
        None | Some("stdio") => Transport::Stdio,
        Some("streamable-http") => Transport::StreamableHttp,
        Some(t @ ("http" | "json-rpc-http" | "jsonrpc-http")) => {
            return Err(ClientConfigError::Bridge(t.to_string()));
        }
        Some(t) => return Err(ClientConfigError::UnknownTransport(t.to_string())),
    };
    match chosen {
        Transport::Stdio if openai => Err(ClientConfigError::OpenaiStdio),
        Transport::StreamableHttp
            if matches!(
                client,
                "claude-desktop" | "cursor" | "vscode" | "generic-stdio"
            ) =>
        {
            Err(ClientConfigError::StdioOnly(client.to_string()))
        }
        t => Ok(t),
    }
}

/// The tool naming a client gets without a flag: OpenAI-safe aliases for the OpenAI Agents SDK
/// (its function names may not contain dots), canonical names otherwise.
pub fn default_alias_mode(client: &str) -> AliasMode {
    if client == "openai-agents" {
        AliasMode::Openai
    } else {
        AliasMode::Canonical
    }
}

/// The server a snippet starts or reaches.
#[derive(Debug, Clone)]
pub struct Server<'a> {
    /// The command that runs Sluicegate (`sluicegate`, or a path).
    pub command: &'a str,
    pub config: &'a str,
    pub store: &'a str,
    pub transport: Transport,
    /// Streamable HTTP only.
    pub host: &'a str,
    pub port: u16,
    /// The env var the server reads its bearer token from (Streamable HTTP only).
    pub auth_token_env: &'a str,
    pub alias_mode: AliasMode,
    /// The dotenv file the server reads its credentials from (`--env-file`).
    pub env_file: Option<&'a str>,
    /// The snippet's `env` block: non-secret settings only (the log level).
    pub env: &'a [(String, String)],
}

impl Server<'_> {
    /// The arguments after the command: `mcp serve` (stdio) or `mcp serve-streamable-http`,
    /// with `--alias-mode` when the names are not canonical.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = match self.transport {
            Transport::Stdio => vec!["mcp".into(), "serve".into()],
            Transport::StreamableHttp => vec!["mcp".into(), "serve-streamable-http".into()],
        };
        args.extend([
            "--config".into(),
            self.config.into(),
            "--store".into(),
            self.store.into(),
        ]);
        if self.transport == Transport::StreamableHttp {
            args.extend([
                "--host".into(),
                self.host.into(),
                "--port".into(),
                self.port.to_string(),
                "--auth-token-env".into(),
                self.auth_token_env.into(),
            ]);
        }
        if self.alias_mode != AliasMode::Canonical {
            args.extend(["--alias-mode".into(), self.alias_mode.as_str().into()]);
        }
        if let Some(file) = self.env_file {
            args.extend(["--env-file".into(), file.into()]);
        }
        args
    }

    /// The `env` block as a JSON object.
    fn env_block(&self) -> Map<String, Value> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    }
}

/// The snippet for `client`: the OpenAI Agents SDK setup, or the server entry of a stdio
/// client. `example_tool` is a capability name for the naming example (see [`example_tool`]).
pub fn snippet(client: &str, server: &Server<'_>, example_tool: &str) -> Value {
    let args = server.args();
    match client {
        "openai-agents" => openai_agents_snippet(server, &args, example_tool),
        _ => client_entry(client, server.command, &args, &server.env_block()),
    }
}

/// The server entry of a stdio `client` (claude-desktop, cursor, vscode, generic) that starts
/// `command args` with `env` added to what the client passes (left out when empty).
pub fn client_entry(
    client: &str,
    command: &str,
    args: &[String],
    env: &Map<String, Value>,
) -> Value {
    let mut entry = json!({"command": command, "args": args});
    if !env.is_empty() {
        entry["env"] = Value::Object(env.clone());
    }
    match client {
        "claude-desktop" | "cursor" => json!({"mcpServers": {"sluicegate": entry}}),
        "vscode" => {
            let mut typed = Map::from_iter([("type".to_string(), json!("stdio"))]);
            typed.extend(entry.as_object().cloned().unwrap_or_default());
            json!({"servers": {"sluicegate": typed}})
        }
        _ => entry,
    }
}

/// The log level a desktop snippet's `env` block sets: the server's startup line and every
/// server-side problem land in the client's MCP log.
pub const SNIPPET_LOG_LEVEL: &str = "info";

/// How a desktop client starts the server: the command and the paths it is given, as written
/// into a snippet (absolute, so the client's working directory does not matter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServePaths {
    pub command: String,
    pub config: String,
    pub store: String,
    /// The env file the server reads its credentials from (`--env-file`).
    pub env_file: Option<String>,
}

/// The stdio snippet `onboard` writes for `client`: exactly what `mcp config <client>` prints
/// for the same paths (`mcp serve` with config, store and env file, canonical tool names, the
/// log level as the only `env` value).
pub fn stdio_snippet(client: &str, paths: &ServePaths) -> Value {
    let env = [("SLUICEGATE_LOG".to_string(), SNIPPET_LOG_LEVEL.to_string())];
    let server = Server {
        command: &paths.command,
        config: &paths.config,
        store: &paths.store,
        transport: Transport::Stdio,
        host: "",
        port: 0,
        auth_token_env: "",
        alias_mode: AliasMode::Canonical,
        env_file: paths.env_file.as_deref(),
        env: &env,
    };
    snippet(client, &server, "")
}

/// A canonical capability name from `config` (a config document, when it could be read) for
/// the naming example, else the demo's.
pub fn example_tool(config: Option<&Value>) -> String {
    config
        .and_then(|d| d.pointer("/capabilities/0/name"))
        .and_then(Value::as_str)
        .unwrap_or(EXAMPLE_TOOL)
        .to_string()
}

fn openai_agents_snippet(server: &Server<'_>, args: &[String], canonical: &str) -> Value {
    let env = server.auth_token_env;
    let url = format!("http://{}:{}/mcp", server.host, server.port);
    // With an env file the token goes there (the env block would win over it).
    let mut start_env = server.env_block();
    if server.env_file.is_none() {
        start_env.insert(env.to_string(), json!("<set-a-random-local-token>"));
    }
    let python = format!(
        "import os\nfrom agents.mcp import MCPServerStreamableHttp\n\nsluicegate = MCPServerStreamableHttp(\n    name=\"sluicegate\",\n    params={{\n        \"url\": \"{url}\",\n        \"headers\": {{\"Authorization\": f\"Bearer {{os.environ['{env}']}}\"}},\n    }},\n    cache_tools_list=True,\n)\n"
    );
    json!({
        "transport": "streamable-http",
        "start_server": {"command": server.command, "args": args, "env": start_env},
        "openai_agents_sdk": {
            "package": "openai-agents",
            "url": url,
            "headers_from_env": {"Authorization": format!("Bearer ${env}")},
            "python": python,
        },
        "tool_names": {
            "canonical": canonical,
            "model_visible_with_alias_mode_openai": openai_alias(canonical),
            "alias_mode": server.alias_mode.as_str(),
        },
        "notes": [
            format!("Start the server with {env} set to a random value (exported, or in its env file) and give the agent process the same value; the snippet never contains it."),
            "Function names may not contain dots in the OpenAI Agents SDK, so the server runs with --alias-mode openai; results still name the canonical capability.",
            "The tools read one row of the trusted tenant or record a proposal. Approval and apply happen outside MCP (sluicegate proposals approve, sluicegate apply).",
            "Listing tools and calling them needs no OpenAI API key; running an agent does.",
        ],
    })
}

/// A recommended propose-first system prompt and checklist for an agent using these tools.
pub fn instructions(client: &str, mode: AliasMode) -> Value {
    let names = if mode == AliasMode::Canonical {
        "Tool names are canonical capability names such as billing.inspect_invoice."
    } else {
        "Tool names are OpenAI-safe aliases such as billing__inspect_invoice; results name the canonical capability."
    };
    json!({
        "target_client": client,
        "alias_mode": mode.as_str(),
        "recommended_system_prompt": format!(
            "You work through reviewed Sluicegate capabilities. Inspect the record and its evidence before proposing a change. Proposal tools only record a proposal for human review: never claim a change was committed unless a result says source_database_changed is true. There are no approve, apply or SQL tools; a human approves outside this conversation. If a result reports VERSION_CONFLICT, inspect again before proposing. Evidence, proposal and replay handles are audit records you do not need to open. {names}"
        ),
        "checklist": [
            "Inspect before proposing.",
            "Propose; do not claim the database changed.",
            "Leave approval and apply to a human outside MCP.",
            "Re-inspect after a version conflict.",
        ],
    })
}

/// `snippet` merged into the client config `existing` (when there is one): the `sluicegate`
/// entry is added or replaced, other servers and keys are kept. A generic client's file is the
/// snippet itself.
pub fn merge(
    client: &str,
    snippet: &Value,
    existing: Option<Value>,
) -> Result<Value, ClientConfigError> {
    Ok(match (client, existing) {
        ("generic" | "generic-stdio", _) | (_, None) => snippet.clone(),
        (_, Some(mut doc)) => {
            let key = if client == "vscode" {
                "servers"
            } else {
                "mcpServers"
            };
            if !doc.is_object() {
                return Err(ClientConfigError::NotAnObject);
            }
            let entry = snippet[key]["sluicegate"].clone();
            match doc.get_mut(key).and_then(Value::as_object_mut) {
                Some(map) => {
                    map.insert("sluicegate".into(), entry);
                }
                None => doc[key] = json!({"sluicegate": entry}),
            }
            doc
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(transport: Transport, alias_mode: AliasMode) -> Server<'static> {
        Server {
            command: "sluicegate",
            config: "sluicegate.json",
            store: ".sluicegate/local.db",
            transport,
            host: "127.0.0.1",
            port: 8766,
            auth_token_env: "SLUICEGATE_HTTP_TOKEN",
            alias_mode,
            env_file: None,
            env: &[],
        }
    }

    #[test]
    fn clients_and_their_transports() {
        assert_eq!(client("claude"), Ok("claude-desktop"));
        assert_eq!(client("vscode"), Ok("vscode"));
        assert_eq!(
            client("emacs").unwrap_err().to_string(),
            "unsupported MCP client: emacs (use one of claude-desktop, cursor, vscode, generic, generic-stdio, openai-agents)"
        );
        assert_eq!(transport("cursor", None), Ok(Transport::Stdio));
        assert_eq!(
            transport("openai-agents", None),
            Ok(Transport::StreamableHttp)
        );
        assert_eq!(
            transport("generic", Some("streamable-http")),
            Ok(Transport::StreamableHttp)
        );
        assert_eq!(
            transport("openai-agents", Some("stdio")),
            Err(ClientConfigError::OpenaiStdio)
        );
        assert_eq!(
            transport("cursor", Some("streamable-http")),
            Err(ClientConfigError::StdioOnly("cursor".into()))
        );
        assert_eq!(
            transport("cursor", Some("jsonrpc-http")),
            Err(ClientConfigError::Bridge("jsonrpc-http".into()))
        );
        assert_eq!(
            transport("cursor", Some("ws")),
            Err(ClientConfigError::UnknownTransport("ws".into()))
        );
        assert_eq!(default_alias_mode("openai-agents"), AliasMode::Openai);
        assert_eq!(default_alias_mode("vscode"), AliasMode::Canonical);
    }

    #[test]
    fn stdio_entries_per_client() {
        let s = server(Transport::Stdio, AliasMode::Canonical);
        let args = json!([
            "mcp",
            "serve",
            "--config",
            "sluicegate.json",
            "--store",
            ".sluicegate/local.db"
        ]);
        assert_eq!(
            snippet("claude-desktop", &s, EXAMPLE_TOOL),
            json!({"mcpServers": {"sluicegate": {"command": "sluicegate", "args": args}}})
        );
        assert_eq!(
            snippet("vscode", &s, EXAMPLE_TOOL),
            json!({"servers": {"sluicegate": {"type": "stdio", "command": "sluicegate", "args": args}}})
        );
        assert_eq!(
            snippet("generic-stdio", &s, EXAMPLE_TOOL),
            json!({"command": "sluicegate", "args": args})
        );
    }

    #[test]
    fn desktop_entries_carry_the_env_file_and_the_env_block() {
        let env = vec![("SLUICEGATE_LOG".to_string(), "info".to_string())];
        let s = Server {
            command: "/opt/sluicegate/bin/sluicegate",
            config: "/srv/app/sluicegate.json",
            store: "/srv/app/.sluicegate/local.db",
            env_file: Some("/srv/app/.env"),
            env: &env,
            ..server(Transport::Stdio, AliasMode::Canonical)
        };
        let args = json!([
            "mcp",
            "serve",
            "--config",
            "/srv/app/sluicegate.json",
            "--store",
            "/srv/app/.sluicegate/local.db",
            "--env-file",
            "/srv/app/.env"
        ]);
        let entry = json!({"command": "/opt/sluicegate/bin/sluicegate", "args": args, "env": {"SLUICEGATE_LOG": "info"}});
        assert_eq!(
            snippet("claude-desktop", &s, EXAMPLE_TOOL),
            json!({"mcpServers": {"sluicegate": entry}})
        );
        assert_eq!(snippet("generic", &s, EXAMPLE_TOOL), entry);
        // What onboarding writes is what `mcp config` prints for the same paths.
        let paths = ServePaths {
            command: s.command.into(),
            config: s.config.into(),
            store: s.store.into(),
            env_file: s.env_file.map(str::to_string),
        };
        for client in ["claude-desktop", "cursor", "vscode", "generic-stdio"] {
            assert_eq!(
                stdio_snippet(client, &paths),
                snippet(client, &s, EXAMPLE_TOOL),
                "{client}"
            );
        }
        let vscode = snippet("vscode", &s, EXAMPLE_TOOL);
        assert_eq!(vscode["servers"]["sluicegate"]["type"], "stdio");
        assert_eq!(vscode["servers"]["sluicegate"]["env"], entry["env"]);
        assert_eq!(vscode["servers"]["sluicegate"]["args"], args);
        let http = Server {
            transport: Transport::StreamableHttp,
            ..s.clone()
        };
        let openai = snippet("openai-agents", &http, EXAMPLE_TOOL);
        assert_eq!(
            openai["start_server"]["env"],
            json!({"SLUICEGATE_LOG": "info"}),
            "the token goes in the env file, which the env block would override"
        );
        assert!(
            openai["start_server"]["args"]
                .as_array()
                .is_some_and(|a| a.ends_with(&[json!("--env-file"), json!("/srv/app/.env")]))
        );
    }

    #[test]
    fn streamable_http_args_name_the_token_env_never_a_value() {
        let s = server(Transport::StreamableHttp, AliasMode::Both);
        assert_eq!(
            s.args(),
            [
                "mcp",
                "serve-streamable-http",
                "--config",
                "sluicegate.json",
                "--store",
                ".sluicegate/local.db",
                "--host",
                "127.0.0.1",
                "--port",
                "8766",
                "--auth-token-env",
                "SLUICEGATE_HTTP_TOKEN",
                "--alias-mode",
                "both"
            ]
        );
    }

    #[test]
    fn openai_agents_snippet_uses_aliases_and_env_names() {
        let s = server(Transport::StreamableHttp, AliasMode::Openai);
        let doc = json!({"capabilities": [{"name": "accounts.inspect_account"}]});
        let out = snippet("openai-agents", &s, &example_tool(Some(&doc)));
        assert_eq!(out["transport"], "streamable-http");
        assert_eq!(out["openai_agents_sdk"]["url"], "http://127.0.0.1:8766/mcp");
        assert_eq!(
            out["openai_agents_sdk"]["headers_from_env"]["Authorization"],
            "Bearer $SLUICEGATE_HTTP_TOKEN"
        );
        assert_eq!(
            out["start_server"]["env"]["SLUICEGATE_HTTP_TOKEN"],
            "<set-a-random-local-token>"
        );
        assert_eq!(out["tool_names"]["canonical"], "accounts.inspect_account");
        assert_eq!(
            out["tool_names"]["model_visible_with_alias_mode_openai"],
            "accounts__inspect_account"
        );
        assert_eq!(out["tool_names"]["alias_mode"], "openai");
        let python = out["openai_agents_sdk"]["python"].as_str().unwrap_or("");
        assert!(python.contains("os.environ['SLUICEGATE_HTTP_TOKEN']"));
        assert_eq!(example_tool(None), EXAMPLE_TOOL);
        assert_eq!(
            example_tool(Some(&json!({"capabilities": []}))),
            EXAMPLE_TOOL
        );
    }

    #[test]
    fn instructions_follow_the_naming() {
        let canonical = instructions("cursor", AliasMode::Canonical);
        assert_eq!(canonical["target_client"], "cursor");
        let prompt = canonical["recommended_system_prompt"]
            .as_str()
            .unwrap_or("");
        assert!(prompt.ends_with("such as billing.inspect_invoice."));
        let aliased = instructions("openai-agents", AliasMode::Openai);
        assert_eq!(aliased["alias_mode"], "openai");
        assert!(
            aliased["recommended_system_prompt"]
                .as_str()
                .unwrap_or("")
                .contains("billing__inspect_invoice")
        );
        assert_eq!(aliased["checklist"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn merging_keeps_other_servers() {
        let s = server(Transport::Stdio, AliasMode::Canonical);
        let cursor = snippet("cursor", &s, EXAMPLE_TOOL);
        let existing = json!({"mcpServers": {"other": {"command": "x"}}, "k": 1});
        let merged = merge("cursor", &cursor, Some(existing)).expect("an object");
        assert_eq!(merged["k"], 1);
        assert_eq!(merged["mcpServers"]["other"]["command"], "x");
        assert_eq!(
            merged["mcpServers"]["sluicegate"],
            cursor["mcpServers"]["sluicegate"]
        );
        let vscode = snippet("vscode", &s, EXAMPLE_TOOL);
        let merged = merge("vscode", &vscode, Some(json!({"other": true}))).expect("an object");
        assert_eq!(merged["servers"], vscode["servers"]);
        assert_eq!(merged["other"], true);
        assert_eq!(merge("cursor", &cursor, None), Ok(cursor.clone()));
        let generic = snippet("generic", &s, EXAMPLE_TOOL);
        assert_eq!(merge("generic", &generic, Some(json!([1]))), Ok(generic));
        assert_eq!(
            merge("cursor", &cursor, Some(json!([1]))),
            Err(ClientConfigError::NotAnObject)
        );
    }
}
