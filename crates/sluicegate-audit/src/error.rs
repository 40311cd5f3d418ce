//! Errors of the audit crate. Findings are values, not errors: an error means the audit could not
//! look at its target at all. No variant ever carries a bearer token or header value.

use std::fmt;

/// Why an audit target could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("unknown audit example: {0}. Available examples: dangerous-db-mcp")]
    UnknownExample(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot audit config {path}: {message}")]
    Config { path: String, message: String },
    #[error("invalid --stdio command line: {0}")]
    CommandLine(String),
    #[error("{target}: {source}")]
    Live {
        target: String,
        source: Box<LiveError>,
    },
}

/// What went wrong while talking to a live MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveErrorKind {
    /// The process could not be spawned.
    Spawn { program: String, reason: String },
    /// No complete answer within the time limit.
    Timeout { stage: &'static str, ms: u128 },
    /// The process exited (or the HTTP stream ended) before answering.
    Closed {
        stage: &'static str,
        status: Option<String>,
    },
    /// The server sent something that is not a JSON-RPC message.
    Garbage {
        stage: &'static str,
        snippet: String,
    },
    /// A JSON-RPC error response.
    Rpc {
        stage: &'static str,
        code: i64,
        message: String,
    },
    /// A response of the wrong shape (e.g. no `tools` array).
    Malformed { stage: &'static str, detail: String },
    /// A non-2xx HTTP status.
    Http { stage: &'static str, status: u16 },
    /// Connection-level HTTP failure, or an unusable HTTP setting.
    Transport { stage: &'static str, detail: String },
    /// One message or the whole output grew past the audit's limit.
    TooLarge { stage: &'static str, limit: usize },
    /// Reading from or writing to the process failed.
    Io { stage: &'static str, detail: String },
}

impl fmt::Display for LiveErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveErrorKind::Spawn { program, reason } => write!(
                f,
                "could not start `{program}`: {reason}; check the command and PATH"
            ),
            LiveErrorKind::Timeout { stage, ms } => write!(
                f,
                "no answer to {stage} within {ms} ms; the server may be stuck or slow (raise --timeout-ms)"
            ),
            LiveErrorKind::Closed {
                stage,
                status: Some(status),
            } => write!(f, "server exited before answering {stage} ({status})"),
            LiveErrorKind::Closed {
                stage,
                status: None,
            } => write!(f, "server closed the connection before answering {stage}"),
            LiveErrorKind::Garbage { stage, snippet } => write!(
                f,
                "server sent output that is not JSON-RPC while answering {stage}: {snippet}"
            ),
            LiveErrorKind::Rpc {
                stage,
                code,
                message,
            } => write!(
                f,
                "server answered {stage} with JSON-RPC error {code}: {message}"
            ),
            LiveErrorKind::Malformed { stage, detail } => {
                write!(
                    f,
                    "server answered {stage} with an unusable result: {detail}"
                )
            }
            LiveErrorKind::Http { stage, status } => {
                write!(f, "HTTP {status} in answer to {stage}")?;
                match status {
                    401 | 403 => write!(
                        f,
                        "; the server wants credentials: pass --auth-token-env VAR with the bearer token in VAR"
                    ),
                    404 | 405 => write!(f, "; check that the URL is the server's MCP endpoint"),
                    _ => Ok(()),
                }
            }
            LiveErrorKind::Transport { stage, detail } => {
                write!(f, "HTTP request for {stage} failed: {detail}")
            }
            LiveErrorKind::TooLarge { stage, limit } => write!(
                f,
                "server output while answering {stage} exceeded the audit's limit of {limit} bytes"
            ),
            LiveErrorKind::Io { stage, detail } => {
                write!(
                    f,
                    "i/o error talking to the server during {stage}: {detail}"
                )
            }
        }
    }
}

/// A live-target failure, with the start of the server's stderr when there was any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveError {
    pub kind: LiveErrorKind,
    pub stderr: Option<String>,
}

impl From<LiveErrorKind> for LiveError {
    fn from(kind: LiveErrorKind) -> LiveError {
        LiveError { kind, stderr: None }
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(stderr) = &self.stderr {
            write!(f, "; server stderr: {stderr}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LiveError {}

/// At most `max` characters of server output, on one line, with control characters escaped, so a
/// hostile server cannot paint the terminal.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.trim().chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
