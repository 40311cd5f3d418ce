//! MCP over stdio: newline-delimited JSON-RPC on stdin/stdout. Nothing else may write to
//! stdout while this runs; logs go to stderr.

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use tokio_util::sync::CancellationToken;

use crate::error::ServeError;
use crate::server::McpHandler;
use crate::surface::Surface;

/// Serve `surface` on this process's stdin/stdout until the client closes stdin or
/// `shutdown` is cancelled (SIGINT/SIGTERM in the binary).
pub async fn serve_stdio(
    surface: Arc<Surface>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    // At info (what client snippets set), a client's MCP log shows the server came up.
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        tools = surface.tool_definitions().count(),
        "serving MCP over stdio"
    );
    let handler = McpHandler::new(surface);
    // Pipes (how MCP clients launch servers) go through tokio's non-blocking pipe driver
    // instead of a blocking thread per read; anything else falls back to plain stdio.
    let running = match handler
        .serve_with_ct(rmcp::transport::stdio_pipes(), shutdown.clone())
        .await
    {
        Ok(running) => running,
        // Closed or cancelled before the handshake finished: a normal way to end.
        Err(ServerInitializeError::ConnectionClosed(_) | ServerInitializeError::Cancelled) => {
            return Ok(());
        }
        Err(e) => return Err(ServeError::Stdio(e.to_string())),
    };
    running
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| ServeError::Stdio(e.to_string()))
}
