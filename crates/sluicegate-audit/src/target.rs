//! Audit targets and the one entry point that loads a target, audits it and builds the report:
//! built-in examples, JSON files (manifests, `tools/list` responses, runner configs), MCP client
//! configs (launching each server), and live stdio or Streamable HTTP servers.

use std::time::Duration;

use serde_json::{Value, json};
use sluicegate_core::secrets::{Secret, redact_text};
use tokio::task::JoinSet;

use crate::client_config::{Launch, configured_servers};
use crate::command_line::split_command_line;
use crate::config_tools::{is_runner_config, tools_from_config};
use crate::error::{AuditError, LiveError};
use crate::example::example;
use crate::live::http::{self, HttpServer};
use crate::live::stdio::{self, StdioServer};
use crate::report::{Report, ServerOutcome, ServerStatus};
use crate::rules::audit;

/// What to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A built-in example by name (`dangerous-db-mcp`).
    Example(String),
    /// A JSON file: a manifest, a `tools/list` response or a runner config.
    File(String),
    /// An MCP client config; with `launch`, each configured server is started and audited.
    McpConfig { path: String, launch: bool },
    /// A stdio server command line, split shell-style (no shell runs).
    Stdio(String),
    /// A Streamable HTTP endpoint.
    Url { url: Secret, bearer: Option<Secret> },
}

impl Target {
    /// The label printed as the report's target.
    pub fn label(&self) -> String {
        match self {
            Target::Example(name) => format!("example:{name}"),
            Target::File(path) | Target::McpConfig { path, .. } => path.clone(),
            Target::Stdio(command) => format!("stdio:{command}"),
            // Shown as given, minus its credentials, so the report still names the server.
            Target::Url { url, .. } => redact_text(url.expose()),
        }
    }
}

/// Validates a runner config before it is audited; returns a message listing the problems.
pub type ConfigValidator = fn(&Value) -> Result<(), String>;

/// How an audit runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Limit for each live server's whole handshake.
    pub timeout: Duration,
    /// Applied to runner configs before their tools are derived (the binary passes
    /// `sluicegate-core`'s validator; `None` audits the config as read).
    pub validate_config: Option<ConfigValidator>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_millis(5000),
            validate_config: None,
        }
    }
}

/// Loads `target`, audits it and returns the report. `generated_at` is the report timestamp
/// (ISO-8601 UTC with milliseconds), passed in so the engine stays clock-free.
pub async fn audit_target(
    target: &Target,
    options: Options,
    generated_at: &str,
) -> Result<Report, AuditError> {
    let label = target.label();
    let live = |source: LiveError| AuditError::Live {
        target: label.clone(),
        source: Box::new(source),
    };
    let input = match target {
        Target::Example(name) => {
            example(name).ok_or_else(|| AuditError::UnknownExample(name.clone()))?
        }
        Target::File(path) => load_file(path, options)?,
        Target::McpConfig { path, launch } => {
            let document = read_json(path)?;
            match configured_servers(&document) {
                Some(servers) if *launch => {
                    let outcomes = audit_servers(servers, options.timeout).await;
                    return Ok(Report::servers(label, generated_at, outcomes));
                }
                _ => auditable(path, document, options)?,
            }
        }
        Target::Stdio(command) => {
            let server = stdio_server(command)?;
            stdio::list_tools(&server, options.timeout)
                .await
                .map_err(live)?
        }
        Target::Url { url, bearer } => {
            let server = HttpServer {
                url: url.clone(),
                headers: Vec::new(),
                bearer: bearer.clone(),
            };
            http::list_tools(&server, options.timeout)
                .await
                .map_err(live)?
        }
    };
    Ok(Report::single(label, generated_at, audit(&input)))
}

fn stdio_server(command: &str) -> Result<StdioServer, AuditError> {
    let mut words = split_command_line(command).map_err(AuditError::CommandLine)?;
    if words.is_empty() {
        return Err(AuditError::CommandLine("the command is empty".to_owned()));
    }
    let program = words.remove(0);
    Ok(StdioServer {
        program,
        args: words,
        env: Vec::new(),
        cwd: None,
    })
}

fn read_json(path: &str) -> Result<Value, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuditError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| AuditError::Json {
        path: path.to_owned(),
        source,
    })
}

fn load_file(path: &str, options: Options) -> Result<Value, AuditError> {
    let document = read_json(path)?;
    auditable(path, document, options)
}

/// The JSON to audit for a loaded file: a runner config becomes `{"tools": <its tools>}`,
/// anything else is audited as it is.
fn auditable(path: &str, document: Value, options: Options) -> Result<Value, AuditError> {
    if !is_runner_config(&document) {
        return Ok(document);
    }
    let config_error = |message: String| AuditError::Config {
        path: path.to_owned(),
        message,
    };
    if let Some(validate) = options.validate_config {
        validate(&document).map_err(config_error)?;
    }
    let tools = tools_from_config(&document).map_err(config_error)?;
    Ok(json!({ "tools": tools }))
}

/// Launches every enabled server concurrently; results come back in config order.
async fn audit_servers(
    servers: Vec<crate::client_config::ConfiguredServer>,
    timeout: Duration,
) -> Vec<(ServerStatus, Option<crate::rules::Audit>)> {
    let mut tasks = JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    let mut names = Vec::new();
    let mut results: Vec<Option<(ServerStatus, Option<crate::rules::Audit>)>> =
        vec![None; servers.len()];
    for (index, server) in servers.into_iter().enumerate() {
        let status = |transport: &str, outcome| ServerStatus {
            name: server.name.clone(),
            transport: transport.to_owned(),
            outcome,
        };
        let launch = match server.launch {
            Err(reason) => {
                let error = format!("unusable entry: {reason}");
                results[index] = Some((status("unknown", ServerOutcome::Failed { error }), None));
                continue;
            }
            Ok(_) if server.disabled => {
                let transport = server.launch.as_ref().map_or("unknown", Launch::transport);
                results[index] = Some((status(transport, ServerOutcome::Skipped), None));
                continue;
            }
            Ok(launch) => launch,
        };
        let name = server.name.clone();
        names.push((index, server.name.clone()));
        let handle = tasks.spawn(async move {
            let listed = match &launch {
                Launch::Stdio(server) => stdio::list_tools(server, timeout).await,
                Launch::Http(server) => http::list_tools(server, timeout).await,
            };
            let (outcome, audited) = match listed {
                Ok(list) => {
                    let audited = audit(&list);
                    let outcome = ServerOutcome::Audited {
                        tools_inspected: audited.tools_inspected,
                    };
                    (outcome, Some(audited))
                }
                Err(err) => (
                    ServerOutcome::Failed {
                        error: err.to_string(),
                    },
                    None,
                ),
            };
            let status = ServerStatus {
                name,
                transport: launch.transport().to_owned(),
                outcome,
            };
            (index, status, audited)
        });
        ids.insert(handle.id(), index);
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        match joined {
            Ok((_, (index, status, audited))) => results[index] = Some((status, audited)),
            Err(failure) => {
                // A panic inside one server's task must not hide the other servers.
                let Some(&index) = ids.get(&failure.id()) else {
                    continue;
                };
                let name = names
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map_or_else(String::new, |(_, name)| name.clone());
                let error = format!("internal error while auditing this server: {failure}");
                results[index] = Some((
                    ServerStatus {
                        name,
                        transport: "unknown".to_owned(),
                        outcome: ServerOutcome::Failed { error },
                    },
                    None,
                ));
            }
        }
    }
    results.into_iter().flatten().collect()
}
