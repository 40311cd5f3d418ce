//! The two HTTP transports on axum: standard Streamable HTTP (rmcp's service at `/mcp`) and the
//! legacy JSON-RPC bridge, behind the same lock ([`HttpSecurity`]), with a `/healthz` that
//! reveals nothing and graceful shutdown through a cancellation token.
//!
//! Streamable HTTP keeps sessions for the handshake-era protocol versions (2025-06-18,
//! 2025-11-25) and serves 2026-07-28 requests statelessly; rmcp routes each request by its
//! version, so one endpoint serves both.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sluicegate_core::secrets::Secret;
use tokio_util::sync::CancellationToken;

use crate::bridge;
use crate::error::ServeError;
use crate::guard::{HttpSecurity, Verdict, json_response, with_cors};
use crate::server::McpHandler;
use crate::surface::Surface;

/// Request bodies above this are refused (the reference's limit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Which HTTP protocol to serve at `/mcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Standard MCP Streamable HTTP (default port 8766).
    StreamableHttp,
    /// The legacy JSON-RPC bridge (default port 8765): no handshake, no sessions.
    Bridge,
}

impl Protocol {
    /// The transport name written into the store lease.
    pub fn lease_transport(self) -> &'static str {
        match self {
            Protocol::StreamableHttp => "streamable-http",
            Protocol::Bridge => "legacy-jsonrpc",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Protocol::StreamableHttp => 8766,
            Protocol::Bridge => 8765,
        }
    }
}

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub host: String,
    pub port: u16,
    /// The bearer token; `None` only with `--dev-no-auth` (refused off loopback).
    pub token: Option<Secret>,
    /// Extra `Host` header names to accept (loopback names and the bind host always are).
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call; requests without `Origin` always pass.
    pub allowed_origins: Vec<String>,
}

/// A bound, not yet running, HTTP server.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

#[derive(Clone)]
struct Guard(Arc<HttpSecurity>);

async fn guard(
    State(Guard(security)): State<Guard>,
    request: Request,
    next: Next,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    match security.check(request.method(), &path, request.headers()) {
        Verdict::Pass(origin) => with_cors(next.run(request).await, origin),
        Verdict::Answer(response) => response,
    }
}

async fn healthz() -> Response<Body> {
    // Deliberately nothing about tools, sessions, mode or paths: it is unauthenticated.
    json_response(StatusCode::OK, "{\n  \"ok\": true\n}\n")
}

async fn not_found() -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        "{\n  \"ok\": false,\n  \"error\": \"not_found\"\n}\n",
    )
}

impl HttpServer {
    /// Bind `opts.host:opts.port` (port 0 picks a free one) and build the app. Nothing is
    /// served until [`HttpServer::run`]. Cancelling `shutdown` stops accepting, ends open
    /// sessions and streams, and lets `run` return.
    pub async fn bind(
        surface: Arc<Surface>,
        protocol: Protocol,
        opts: HttpOptions,
        shutdown: CancellationToken,
    ) -> Result<HttpServer, ServeError> {
        let security = Arc::new(HttpSecurity::new(
            opts.token.clone(),
            &opts.host,
            &opts.allowed_hosts,
            &opts.allowed_origins,
        )?);
        let host = opts.host.trim_start_matches('[').trim_end_matches(']');
        let addr = if host.eq_ignore_ascii_case("localhost") {
            "127.0.0.1"
        } else {
            host
        };
        let listener = tokio::net::TcpListener::bind((addr, opts.port))
            .await
            .map_err(|source| ServeError::Bind {
                addr: format!("{}:{}", opts.host, opts.port),
                source,
            })?;
        let mcp_routes = match protocol {
            Protocol::StreamableHttp => {
                let handler = McpHandler::new(surface);
                let config = StreamableHttpServerConfig::default()
                    .with_cancellation_token(shutdown.child_token())
                    .with_max_request_body_bytes(MAX_BODY_BYTES)
                    // Host and Origin are enforced by our guard for both transports, with one
                    // set of rules; rmcp's own loopback-only host list would refuse binds
                    // configured with --allowed-host.
                    .disable_allowed_hosts()
                    .disable_allowed_origins();
                let service = StreamableHttpService::new(
                    move || Ok(handler.clone()),
                    Arc::new(LocalSessionManager::default()),
                    config,
                );
                Router::new().route_service("/mcp", service)
            }
            Protocol::Bridge => Router::new().route(
                "/mcp",
                any(bridge::handle).with_state(bridge::BridgeState::new(surface, security.clone())),
            ),
        };
        let router = Router::new()
            .route("/healthz", get(healthz))
            .merge(mcp_routes)
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(Guard(security), guard));
        Ok(HttpServer {
            listener,
            router,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serve until the shutdown token is cancelled.
    pub async fn run(self) -> Result<(), ServeError> {
        let shutdown = self.shutdown.clone();
        // Small JSON-RPC replies must not wait for Nagle's algorithm to meet the client's
        // delayed ACK (a 40 ms stall per call without this).
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
            .await?;
        Ok(())
    }
}
