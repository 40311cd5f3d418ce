//! Running a server once the front end has read its flags: which transport, the tokio runtime
//! sized for it, shutdown on SIGINT/SIGTERM, and serving HTTP from bind to shutdown.
//!
//! The caller builds the [`Surface`], holds the store lease for as long as this runs and says
//! what it likes on stderr; nothing here prints.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::error::ServeError;
use crate::http::{HttpOptions, HttpServer, Protocol};
use crate::surface::Surface;

/// How a server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// MCP over this process's stdin/stdout (the client starts the server).
    Stdio,
    Http(Protocol),
}

impl Transport {
    /// `stdio`, `streamable-http`, or `http` (also `json-rpc-http`, `jsonrpc-http`) for the
    /// legacy JSON-RPC bridge.
    pub fn parse(s: &str) -> Option<Transport> {
        Some(match s {
            "stdio" => Transport::Stdio,
            "streamable-http" => Transport::Http(Protocol::StreamableHttp),
            "http" | "json-rpc-http" | "jsonrpc-http" => Transport::Http(Protocol::Bridge),
            _ => return None,
        })
    }

    /// The transport name written into the store lease.
    pub fn lease_name(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http(p) => p.lease_transport(),
        }
    }

    /// A tokio runtime sized for this transport.
    ///
    /// Blocking threads run SQLite work (source reads, ledger writes); the ledger is one
    /// connection behind a mutex, so a few threads are all that can make progress, and a capped
    /// pool keeps memory flat under many concurrent sessions.
    pub fn runtime(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            // One thread is plenty for one client and keeps cold start and memory small.
            Transport::Stdio => tokio::runtime::Builder::new_current_thread()
                .max_blocking_threads(2)
                .enable_all()
                .build(),
            Transport::Http(_) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(4)
                .enable_all()
                .build(),
        }
    }
}

/// What a listening HTTP server calls itself.
pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::StreamableHttp => "Streamable HTTP MCP",
        Protocol::Bridge => "JSON-RPC bridge",
    }
}

/// Whether binding `host` listens on every interface rather than one address.
pub fn exposes_to_network(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "[::]")
}

/// Cancel `shutdown` on SIGINT or SIGTERM (Ctrl+C elsewhere). Call inside the runtime.
pub fn cancel_on_signal(shutdown: CancellationToken) {
    // The handlers are registered here, synchronously, not inside the spawned task: a task
    // that has not run yet leaves SIGTERM's default action (kill) in place, so a signal sent
    // right after the server said it was listening would end it with a signal, not exit 0.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            shutdown.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    });
}

/// Bind, tell `on_listening` the address actually bound (port 0 picks one), then serve until
/// `shutdown` is cancelled.
pub async fn serve_http(
    surface: Arc<Surface>,
    protocol: Protocol,
    options: HttpOptions,
    shutdown: CancellationToken,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let server = HttpServer::bind(surface, protocol, options, shutdown).await?;
    on_listening(server.local_addr()?);
    server.run().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_by_name() {
        assert_eq!(Transport::parse("stdio"), Some(Transport::Stdio));
        assert_eq!(
            Transport::parse("streamable-http"),
            Some(Transport::Http(Protocol::StreamableHttp))
        );
        for bridge in ["http", "json-rpc-http", "jsonrpc-http"] {
            assert_eq!(
                Transport::parse(bridge),
                Some(Transport::Http(Protocol::Bridge))
            );
        }
        assert_eq!(Transport::parse("sse"), None);
        assert_eq!(Transport::Stdio.lease_name(), "stdio");
        assert_eq!(
            Transport::Http(Protocol::StreamableHttp).lease_name(),
            "streamable-http"
        );
        assert_eq!(
            Transport::Http(Protocol::Bridge).lease_name(),
            "legacy-jsonrpc"
        );
    }

    #[test]
    fn runtimes_fit_the_transport() {
        use tokio::runtime::RuntimeFlavor;
        let stdio = Transport::Stdio.runtime().expect("a runtime");
        assert_eq!(
            stdio.handle().runtime_flavor(),
            RuntimeFlavor::CurrentThread
        );
        let http = Transport::Http(Protocol::Bridge)
            .runtime()
            .expect("a runtime");
        assert_eq!(http.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
    }

    #[test]
    fn wildcard_binds_expose_the_server() {
        for host in ["0.0.0.0", "::", "[::]"] {
            assert!(exposes_to_network(host), "{host}");
        }
        for host in ["127.0.0.1", "localhost", "::1", "10.0.0.5"] {
            assert!(!exposes_to_network(host), "{host}");
        }
        assert_eq!(
            protocol_name(Protocol::StreamableHttp),
            "Streamable HTTP MCP"
        );
        assert_eq!(protocol_name(Protocol::Bridge), "JSON-RPC bridge");
    }

    #[test]
    fn signal_watch_leaves_the_token_alone_until_a_signal() {
        let rt = Transport::Stdio.runtime().expect("a runtime");
        let shutdown = CancellationToken::new();
        rt.block_on(async {
            cancel_on_signal(shutdown.clone());
            tokio::task::yield_now().await;
        });
        assert!(!shutdown.is_cancelled());
    }
}
