//! The stdio transport: spawn the server (no shell), speak newline-delimited JSON-RPC on its
//! stdin/stdout, keep the start of its stderr for error messages, and always reap it.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sluicegate_core::secrets::Secret;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{
    Incoming, MAX_MESSAGE_BYTES, Progress, Session, classify, handshake, method_not_found,
};
use crate::error::{LiveError, LiveErrorKind, snippet};

/// How much of the server's stderr is kept for error messages.
const STDERR_KEPT: usize = 4096;
/// How many characters of stderr an error message shows.
const STDERR_SHOWN: usize = 240;
/// Grace period for a server to exit on its own once stdin is closed.
const EXIT_GRACE: Duration = Duration::from_millis(300);

/// A stdio server to launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioServer {
    pub program: String,
    pub args: Vec<String>,
    /// Set on top of the inherited environment.
    /// Values are [`Secret`]s: client configs put tokens and database URLs here.
    pub env: Vec<(String, Secret)>,
    pub cwd: Option<PathBuf>,
}

/// Launches `server`, performs the handshake and returns its full tool list, all within
/// `timeout`. The child is killed if it is still running afterwards.
pub async fn list_tools(server: &StdioServer, timeout: Duration) -> Result<Value, LiveError> {
    let mut command = Command::new(&server.program);
    command
        .args(&server.args)
        .envs(server.env.iter().map(|(k, v)| (k, v.expose())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &server.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|err| LiveErrorKind::Spawn {
        program: server.program.clone(),
        reason: err.to_string(),
    })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.start_kill();
        return Err(LiveErrorKind::Io {
            stage: "initialize",
            detail: "the child's pipes were not available".to_owned(),
        }
        .into());
    };
    let kept_stderr = Arc::new(Mutex::new(Vec::new()));
    let stderr_task = tokio::spawn(drain(stderr, Arc::clone(&kept_stderr)));

    let mut session = StdioSession {
        stdin: Some(stdin),
        stdout: BufReader::new(stdout),
    };
    let progress = Progress::new();
    let outcome = tokio::time::timeout(timeout, handshake(&mut session, &progress)).await;
    drop(session);

    let result = match outcome {
        Ok(Ok(tools)) => {
            finish(&mut child).await;
            Ok(tools)
        }
        Ok(Err(LiveErrorKind::Closed { stage, .. })) => {
            let status = exit_status(&mut child).await;
            Err(LiveErrorKind::Closed { stage, status })
        }
        Ok(Err(other)) => {
            kill(&mut child).await;
            Err(other)
        }
        Err(_elapsed) => {
            kill(&mut child).await;
            Err(LiveErrorKind::Timeout {
                stage: progress.get(),
                ms: timeout.as_millis(),
            })
        }
    };
    // The stderr pipe closes once the child is gone; a grandchild may keep it open, so wait
    // briefly and then use whatever was captured.
    let _ = tokio::time::timeout(Duration::from_millis(200), stderr_task).await;
    result.map_err(|kind| LiveError {
        kind,
        stderr: stderr_text(&kept_stderr),
    })
}

fn stderr_text(kept: &Mutex<Vec<u8>>) -> Option<String> {
    let bytes = kept.lock().ok()?.clone();
    let text = snippet(&String::from_utf8_lossy(&bytes), STDERR_SHOWN);
    (!text.is_empty()).then_some(text)
}

/// Reads stderr to the end so the child never blocks on a full pipe; keeps the first bytes.
async fn drain(mut stderr: impl AsyncRead + Unpin, kept: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut kept) = kept.lock() {
                    let room = STDERR_KEPT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    }
}

/// Lets a well-behaved server exit after stdin closed, then kills it.
async fn finish(child: &mut Child) {
    if tokio::time::timeout(EXIT_GRACE, child.wait())
        .await
        .is_err()
    {
        kill(child).await;
    }
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
}

/// The exit status of a child that closed stdout, waiting briefly for it to go.
async fn exit_status(child: &mut Child) -> Option<String> {
    match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
        Ok(Ok(status)) => Some(status.to_string()),
        _ => {
            kill(child).await;
            None
        }
    }
}

struct StdioSession {
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl StdioSession {
    async fn send(&mut self, stage: &'static str, message: &Value) -> Result<(), LiveErrorKind> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(LiveErrorKind::Closed {
                stage,
                status: None,
            });
        };
        let mut line = message.to_string();
        line.push('\n');
        let written = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        }
        .await;
        written.map_err(|err| match err.kind() {
            std::io::ErrorKind::BrokenPipe => LiveErrorKind::Closed {
                stage,
                status: None,
            },
            _ => LiveErrorKind::Io {
                stage,
                detail: err.to_string(),
            },
        })
    }

    /// Next line of stdout without its line ending, and whether it was complete (a final line
    /// cut off by the end of output is not); `None` at end of output. Refuses lines longer than
    /// [`MAX_MESSAGE_BYTES`], so a server printing without newlines cannot exhaust memory.
    async fn read_line(
        &mut self,
        stage: &'static str,
    ) -> Result<Option<(Vec<u8>, bool)>, LiveErrorKind> {
        let mut line = Vec::new();
        loop {
            let available = self
                .stdout
                .fill_buf()
                .await
                .map_err(|err| LiveErrorKind::Io {
                    stage,
                    detail: err.to_string(),
                })?;
            if available.is_empty() {
                return Ok((!line.is_empty()).then_some((line, false)));
            }
            let (chunk, used, done) = match available.iter().position(|b| *b == b'\n') {
                Some(pos) => (&available[..pos], pos + 1, true),
                None => (available, available.len(), false),
            };
            if line.len() + chunk.len() > MAX_MESSAGE_BYTES {
                return Err(LiveErrorKind::TooLarge {
                    stage,
                    limit: MAX_MESSAGE_BYTES,
                });
            }
            line.extend_from_slice(chunk);
            self.stdout.consume(used);
            if done {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some((line, true)));
            }
        }
    }
}

impl Session for StdioSession {
    async fn request(
        &mut self,
        stage: &'static str,
        id: u64,
        method: &'static str,
        params: Value,
    ) -> Result<Value, LiveErrorKind> {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send(stage, &message).await?;
        loop {
            let closed = LiveErrorKind::Closed {
                stage,
                status: None,
            };
            let Some((line, complete)) = self.read_line(stage).await? else {
                return Err(closed);
            };
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            let message = match super::parse_message(&text, stage) {
                Ok(message) => message,
                // Output cut off mid-message: the server died while writing.
                Err(_) if !complete => return Err(closed),
                Err(garbage) => return Err(garbage),
            };
            match classify(&message, stage, id) {
                Incoming::Response(result) => return result,
                Incoming::ServerRequest(request_id) => {
                    self.send(stage, &method_not_found(request_id)).await?;
                }
                Incoming::Other => {}
            }
        }
    }

    async fn notify(
        &mut self,
        stage: &'static str,
        method: &'static str,
    ) -> Result<(), LiveErrorKind> {
        self.send(stage, &json!({ "jsonrpc": "2.0", "method": method }))
            .await
    }
}

impl Drop for StdioSession {
    fn drop(&mut self) {
        // Closing stdin is the MCP stdio shutdown signal.
        self.stdin.take();
    }
}
