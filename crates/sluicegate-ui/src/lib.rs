//! The local review UI (`sluicegate ui`): a reviewer's inbox and proposal pages in a browser.
//!
//! It is a human front end like the CLI: it reads the ledger and decides and applies through
//! the runtime's `ReviewApi`, bound to the content hash on the page and signed with the
//! reviewer's key when one is configured. It never faces a model.
//!
//! Security (see `security`): loopback only unless `--allow-remote-bind`; a one-time login
//! token printed on stdout, exchanged for an `HttpOnly`, `SameSite=Strict` session cookie;
//! a CSRF token on every form; Host and Origin checked; a strict Content-Security-Policy with
//! this crate's own embedded CSS and JS only. Every model- or data-derived string is shown
//! with control characters made visible by `sluicegate_core::display` (the CLI's rule), then
//! HTML-escaped by the templates.

mod api;
mod api_shapes;
mod batch;
mod browse;
mod inbox;
mod live;
mod pages;
mod proposal;
pub mod security;
mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use minijinja::Environment;
use sluicegate_core::config::Config;
use sluicegate_core::decision::SigningKey;
use sluicegate_ledger::Ledger;
use sluicegate_runtime::{Env, ReviewApi};
use tokio_util::sync::CancellationToken;

pub use security::CSP;

// `sluicegate ui`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct UiArgs {
    /// Config: the capabilities' writers (for Apply) and the reviewers whose keys sign decisions
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Ledger path (default: SLUICEGATE_STORE, then the config's storage: its PostgreSQL ledger
    /// or sqlite_path, then ./.sluicegate/local.db)
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Address to listen on (loopback only, unless --allow-remote-bind)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one)
    #[arg(long, default_value_t = 8767)]
    pub port: u16,
    /// Listen on a non-loopback address (anyone who can reach it still needs the login URL)
    #[arg(long)]
    pub allow_remote_bind: bool,
    /// Open the login URL in the default browser (xdg-open)
    #[arg(long)]
    pub open: bool,
    /// Who decides (default: SLUICEGATE_ACTOR, then $USER, then local_operator)
    #[arg(long)]
    pub actor: Option<String>,
    /// Reviewer key file (default: SLUICEGATE_REVIEWER_KEY, else the key `reviewer init`
    /// wrote for the actor, when it exists)
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Minutes a browser session may stay idle before it ends (logging in again means
    /// restarting the UI: the login URL works once)
    #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle_minutes: u64,
}

/// Why the UI could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("refusing to listen on {0}: the review UI is loopback only unless --allow-remote-bind")]
    RemoteBind(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// What the UI serves.
pub struct UiOptions {
    /// Where to listen, whether to open a browser, and the config path (shown with the store
    /// path in the terminal command a page gives for Apply without a writer).
    pub args: UiArgs,
    pub config: Option<Arc<Config>>,
    pub store_path: PathBuf,
    pub ledger: Ledger,
    pub env: Env,
    /// The name decisions are recorded under (with reviewers configured, the key decides).
    pub reviewer: String,
    pub key: Option<SigningKey>,
}

impl UiOptions {
    /// The options of `sluicegate ui`: `args`, the config and the opened ledger at
    /// `store_path`, deciding as `reviewer` with the key `args.key` names (else
    /// `SLUICEGATE_REVIEWER_KEY`, else the one `reviewer init` wrote for them, when it exists).
    pub fn resolve(
        args: UiArgs,
        config: Option<Arc<Config>>,
        ledger: Ledger,
        store_path: PathBuf,
        reviewer: String,
    ) -> Result<UiOptions, String> {
        let env = Env::process();
        let key = sluicegate_runtime::reviewer::key_path_for(args.key.as_deref(), &env, &reviewer)
            .map(|p| sluicegate_runtime::reviewer::load_key(&p))
            .transpose()?;
        Ok(UiOptions {
            args,
            config,
            store_path,
            ledger,
            env,
            reviewer,
            key,
        })
    }
}

/// Everything a request handler reaches.
pub(crate) struct App {
    lock: security::Lock,
    templates: Environment<'static>,
    review: ReviewApi,
    ledger: Ledger,
    config: Option<Arc<Config>>,
    config_path: Option<PathBuf>,
    store_path: PathBuf,
    env: Env,
    reviewer: String,
    key: Option<SigningKey>,
    /// Cancelled when the server stops, so open event streams end and shutdown completes.
    stopping: CancellationToken,
}

/// A bound, not yet serving, review UI.
pub struct UiServer {
    listener: tokio::net::TcpListener,
    open: bool,
    app: Arc<App>,
    login_url: String,
}

impl UiServer {
    /// Bind (port 0 picks a free port) and mint the one-time login token.
    pub async fn bind(o: UiOptions) -> Result<UiServer, UiError> {
        let a = &o.args;
        if !security::bind_allowed(&a.host, a.allow_remote_bind) {
            return Err(UiError::RemoteBind(a.host.clone()));
        }
        let host = a.host.trim_start_matches('[').trim_end_matches(']');
        let addr = format!("{}:{}", bracketed(host), a.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| UiError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local: SocketAddr = listener.local_addr().map_err(UiError::Serve)?;
        let token = security::random_token().map_err(|e| UiError::Random(e.to_string()))?;
        let shown_host = if matches!(host, "0.0.0.0" | "::") {
            "127.0.0.1".to_string()
        } else {
            bracketed(host)
        };
        let login_url = format!("http://{shown_host}:{}/login?token={token}", local.port());
        let app = App {
            lock: security::Lock::with_expiry(
                &token,
                host,
                std::time::Duration::from_secs(o.args.session_idle_minutes.saturating_mul(60)),
                Arc::new(std::time::Instant::now),
            ),
            templates: pages::templates(),
            review: ReviewApi::new(o.config.clone(), o.ledger.clone(), o.env.clone()),
            ledger: o.ledger,
            config: o.config,
            config_path: o.args.config.clone(),
            store_path: o.store_path,
            env: o.env,
            reviewer: o.reviewer,
            key: o.key,
            stopping: CancellationToken::new(),
        };
        Ok(UiServer {
            listener,
            open: o.args.open,
            app: Arc::new(app),
            login_url,
        })
    }

    /// The URL to open, with the one-time login token.
    pub fn login_url(&self) -> &str {
        &self.login_url
    }

    /// Serve until `shutdown` is cancelled (after opening the login URL in a browser, with
    /// `--open`). Print [`Self::login_url`] first.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), UiError> {
        if self.open {
            open_in_browser(&self.login_url);
        }
        let stopping = self.app.stopping.clone();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            signal.cancelled().await;
            stopping.cancel();
        });
        axum::serve(self.listener, pages::router(self.app))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(UiError::Serve)
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Open `url` in the desktop's browser (`--open`); failing to is not an error, the URL is
/// printed anyway.
pub fn open_in_browser(url: &str) {
    let opened = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match opened {
        // Reaped on its own thread: xdg-open returns once the browser has the URL.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => {
            tracing::warn!(
                "could not open a browser (xdg-open: {e}); open the printed URL yourself"
            )
        }
    }
}
