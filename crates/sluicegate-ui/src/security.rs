//! The review UI's lock: a one-time login token exchanged for a session cookie, a CSRF token
//! per session, Host and Origin checks, and the headers every response carries.
//!
//! - The login token is printed once on stdout (in the URL to open). It is compared in
//!   constant time over SHA-256 digests and works once: the first login consumes it.
//! - The session cookie is random (256 bits), `HttpOnly` and `SameSite=Strict`; it is also
//!   compared in constant time. A session ends after a configured time without a request
//!   (`--session-idle-minutes`, 8 hours by default), measured on an injectable monotonic clock. Each session has its own random CSRF token, which every POST
//!   must carry as the hidden form field `csrf`.
//! - `Host` must name this server (a loopback name, or the bind address), which defeats DNS
//!   rebinding; an `Origin`, when a browser sends one, must be this server's own origin.
//! - Every response is `no-store`, `nosniff`, never framed, and under a Content-Security-Policy
//!   that allows only this server's own scripts, styles and images (no inline script, no eval).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};
use sluicegate_core::origin::{
    default_allowed_hosts, is_loopback_host, parse_origin, split_host_port,
};
use subtle::ConstantTimeEq;

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The session cookie's name.
pub const COOKIE: &str = "sluicegate_session";

/// 32 random bytes from the operating system, as hex.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// The time a session may stay idle by default.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(8 * 3600);

/// The monotonic clock sessions expire by (a test injects its own).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// One logged-in browser.
#[derive(Clone)]
pub struct Session {
    id_digest: [u8; 32],
    /// The CSRF token forms of this session carry.
    pub csrf: String,
    last_seen: Instant,
}

/// Login token, sessions, and the names this server answers to.
pub struct Lock {
    login: Mutex<Option<[u8; 32]>>,
    sessions: Mutex<Vec<Session>>,
    allowed_hosts: Vec<String>,
    idle: Duration,
    clock: Clock,
}

impl Lock {
    /// A lock whose one-time login token is `login_token`, with sessions ending after
    /// [`DEFAULT_IDLE`]. Allowed hosts: the loopback names and the bind host (unless it is a
    /// wildcard address).
    pub fn new(login_token: &str, bind_host: &str) -> Lock {
        Lock::with_expiry(login_token, bind_host, DEFAULT_IDLE, Arc::new(Instant::now))
    }

    /// [`Lock::new`] with sessions ending after `idle` without a request, by `clock`.
    pub fn with_expiry(login_token: &str, bind_host: &str, idle: Duration, clock: Clock) -> Lock {
        let allowed_hosts = default_allowed_hosts(bind_host);
        Lock {
            login: Mutex::new(Some(digest(login_token))),
            sessions: Mutex::new(Vec::new()),
            allowed_hosts,
            idle,
            clock,
        }
    }

    /// How long a session may stay idle.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Exchange the login token for a new session (its cookie value and the session). The
    /// token works once.
    pub fn login(&self, presented: &str) -> Option<(String, Session)> {
        let mut login = self.login.lock().unwrap_or_else(|e| e.into_inner());
        let expected = (*login)?;
        if !same(&digest(presented), &expected) {
            return None;
        }
        let id = random_token().ok()?;
        let session = Session {
            id_digest: digest(&id),
            csrf: random_token().ok()?,
            last_seen: (self.clock)(),
        };
        *login = None;
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(session.clone());
        Some((id, session))
    }

    /// The live session the request's cookie names, if any; the request keeps it alive.
    /// Sessions idle for longer than the lock's `idle` time are ended first.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let presented = digest(&id);
        let now = (self.clock)();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|s| now.saturating_duration_since(s.last_seen) <= self.idle);
        // Every session is compared, so the time taken says nothing about which matched.
        let mut found = None;
        for s in sessions.iter_mut() {
            if same(&s.id_digest, &presented) {
                s.last_seen = now;
                found = Some(s.clone());
            }
        }
        found
    }

    /// Whether `Host` names this server and `Origin`, when present, is this server's own.
    pub fn host_and_origin_ok(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let Some((host_name, host_port)) = split_host_port(host) else {
            return false;
        };
        if !self.allowed_hosts.contains(&host_name) {
            return false;
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Some((scheme, origin_host, origin_port)) = origin.to_str().ok().and_then(parse_origin)
        else {
            return false;
        };
        scheme == "http" && origin_host == host_name && Some(origin_port) == host_port
    }
}

/// Whether a presented CSRF token is the session's (constant time).
pub fn csrf_ok(session: &Session, presented: &str) -> bool {
    same(&digest(presented), &digest(&session.csrf))
}

/// The value of cookie `name` in the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/"))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The headers every response carries.
pub fn harden(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with a form POST, and the
    // Origin check needs the page's own origin. Other origins still get no referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// Whether the UI may listen on `host`: loopback always; anything else only when the operator
/// asked for it with `--allow-remote-bind`.
pub fn bind_allowed(host: &str, allow_remote: bool) -> bool {
    allow_remote || is_loopback_host(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn login_token_works_once_and_exactly() {
        let lock = Lock::new("tok123", "127.0.0.1");
        assert!(lock.login("tok12").is_none());
        assert!(lock.login("tok1234").is_none());
        let (id, session) = lock.login("tok123").expect("first login");
        assert!(lock.login("tok123").is_none(), "the token works once");
        let found = lock
            .session(&headers(&[("cookie", &format!("a=b; {COOKIE}={id}"))]))
            .expect("session");
        assert_eq!(found.csrf, session.csrf);
        assert!(csrf_ok(&session, &session.csrf));
        assert!(!csrf_ok(&session, ""));
        assert!(!csrf_ok(&session, &session.csrf[1..]));
        assert!(
            lock.session(&headers(&[("cookie", &format!("{COOKIE}=x{id}"))]))
                .is_none()
        );
        assert!(lock.session(&headers(&[])).is_none());
    }

    /// A session ends after the idle time without a request; each request keeps it alive.
    #[test]
    fn sessions_end_when_idle() {
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock: Clock = {
            let now = now.clone();
            Arc::new(move || *now.lock().expect("clock"))
        };
        let advance = |secs: u64| {
            let mut t = now.lock().expect("clock");
            *t += Duration::from_secs(secs);
        };
        let lock = Lock::with_expiry("tok", "127.0.0.1", Duration::from_secs(60), clock);
        let (id, _) = lock.login("tok").expect("login");
        let h = headers(&[("cookie", &format!("{COOKIE}={id}"))]);
        advance(59);
        assert!(lock.session(&h).is_some(), "59 s idle: alive");
        advance(60);
        assert!(lock.session(&h).is_some(), "a request resets the idle time");
        advance(61);
        assert!(lock.session(&h).is_none(), "61 s idle: ended");
        advance(0);
        assert!(lock.session(&h).is_none(), "an ended session stays ended");
        assert!(
            lock.login("tok").is_none(),
            "and the login token is still spent"
        );
    }

    #[test]
    fn host_and_origin_must_be_this_server() {
        let lock = Lock::new("t", "127.0.0.1");
        let ok = |pairs: &[(&str, &str)]| lock.host_and_origin_ok(&headers(pairs));
        assert!(ok(&[("host", "127.0.0.1:8800")]));
        assert!(ok(&[("host", "localhost:8800")]));
        assert!(ok(&[
            ("host", "127.0.0.1:8800"),
            ("origin", "http://127.0.0.1:8800")
        ]));
        assert!(!ok(&[]), "no Host");
        assert!(!ok(&[("host", "evil.example:8800")]), "DNS rebinding");
        assert!(!ok(&[
            ("host", "127.0.0.1:8800"),
            ("origin", "http://evil.example")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8800"),
            ("origin", "http://127.0.0.1:8801")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8800"),
            ("origin", "http://localhost:8800")
        ]));
        assert!(!ok(&[("host", "127.0.0.1:8800"), ("origin", "null")]));
    }

    #[test]
    fn remote_bind_needs_the_flag() {
        assert!(bind_allowed("127.0.0.1", false));
        assert!(bind_allowed("::1", false));
        assert!(!bind_allowed("0.0.0.0", false));
        assert!(!bind_allowed("192.168.1.4", false));
        assert!(bind_allowed("0.0.0.0", true));
    }
}
