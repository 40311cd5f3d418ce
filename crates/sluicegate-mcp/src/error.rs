//! Errors that stop a server from starting or serving. Refused tool calls are not errors: they
//! are tool results rendered in the configured envelope.

/// A server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{env} is not set. Streamable HTTP MCP requires bearer auth by default.")]
    TokenMissing { env: String },
    #[error("--dev-no-auth is only allowed with localhost, 127.0.0.1 or ::1 (got {host})")]
    DevNoAuthUnsafeHost { host: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid --allowed-origin {0}: use scheme://host[:port], e.g. http://localhost:6274")]
    BadOrigin(String),
    #[error("MCP stdio session failed: {0}")]
    Stdio(String),
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
}
