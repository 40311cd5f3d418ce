//! The HTTP lock: `Host` and `Origin` allow-lists (403) and the bearer token (401 with
//! `WWW-Authenticate`), checked in that order before a request reaches either HTTP transport.
//!
//! The token is compared in constant time over SHA-256 digests, so neither its content nor its
//! length leaks through timing. Requests without an `Origin` header (every non-browser client)
//! pass the origin check; a browser page can only reach the server from an origin listed with
//! `--allowed-origin`, which defeats DNS rebinding and cross-site requests to a local server.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use sha2::{Digest, Sha256};
pub use sluicegate_core::origin::is_loopback_host;
use sluicegate_core::origin::{Origin, default_allowed_hosts, parse_origin, split_host_port};
use sluicegate_core::secrets::{REDACTED, Secret};
use subtle::ConstantTimeEq;

use crate::error::ServeError;

/// What the lock decided about one request.
pub(crate) enum Verdict {
    /// Serve it; the allowed `Origin`, if any, gets CORS headers on the response.
    Pass(Option<HeaderValue>),
    /// Answer it here (403, 401 or a CORS preflight).
    Answer(Response<Body>),
}

/// The lock in front of both HTTP transports.
pub struct HttpSecurity {
    /// SHA-256 of the bearer token; `None` only with `--dev-no-auth` on loopback.
    token_digest: Option<[u8; 32]>,
    /// The token itself, kept only to redact it from bridge output.
    token: Option<Secret>,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<Origin>,
}

impl std::fmt::Debug for HttpSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSecurity")
            .field("auth", &self.token_digest.is_some())
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl HttpSecurity {
    /// `token` is `None` only for `--dev-no-auth`, which is refused unless `bind_host` is
    /// loopback. Allowed hosts: the loopback names, the bind host (unless a wildcard), and
    /// `extra_hosts`. Allowed origins: exactly `origins`.
    pub fn new(
        token: Option<Secret>,
        bind_host: &str,
        extra_hosts: &[String],
        origins: &[String],
    ) -> Result<HttpSecurity, ServeError> {
        // An empty token would make every request match; refuse it rather than fall open.
        if token.as_ref().is_some_and(|t| t.expose().is_empty()) {
            return Err(ServeError::TokenMissing {
                env: "the bearer token".into(),
            });
        }
        if token.is_none() && !is_loopback_host(bind_host) {
            return Err(ServeError::DevNoAuthUnsafeHost {
                host: bind_host.to_string(),
            });
        }
        let mut allowed_hosts = default_allowed_hosts(bind_host);
        for h in extra_hosts {
            let (host, _) = split_host_port(h).unwrap_or((h.to_ascii_lowercase(), None));
            allowed_hosts.push(host);
        }
        allowed_hosts.sort();
        allowed_hosts.dedup();
        let allowed_origins = origins
            .iter()
            .map(|o| parse_origin(o.trim()).ok_or_else(|| ServeError::BadOrigin(o.clone())))
            .collect::<Result<_, _>>()?;
        Ok(HttpSecurity {
            token_digest: token.as_ref().map(|t| digest(t.expose())),
            token,
            allowed_hosts,
            allowed_origins,
        })
    }

    /// Whether a bearer token is required.
    pub fn auth_required(&self) -> bool {
        self.token_digest.is_some()
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        split_host_port(host).is_some_and(|(h, _)| self.allowed_hosts.contains(&h))
    }

    /// The request's Origin when present and allowed; `Err` when present and not allowed.
    fn origin(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, ()> {
        let Some(value) = headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let parsed = value.to_str().ok().and_then(parse_origin).ok_or(())?;
        if self.allowed_origins.contains(&parsed) {
            Ok(Some(value.clone()))
        } else {
            Err(())
        }
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token_digest else {
            return true;
        };
        let Some(presented) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        digest(presented).ct_eq(expected).into()
    }

    /// Check one request: let it through (with the allowed Origin, if any, for CORS headers)
    /// or answer it here. `/healthz` needs no token.
    pub(crate) fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Verdict {
        if !self.host_allowed(headers) {
            return Verdict::Answer(json_response(StatusCode::FORBIDDEN, FORBIDDEN));
        }
        let Ok(origin) = self.origin(headers) else {
            return Verdict::Answer(json_response(StatusCode::FORBIDDEN, FORBIDDEN));
        };
        // A CORS preflight from an allowed origin carries no credentials by design.
        if method == Method::OPTIONS && origin.is_some() {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            return Verdict::Answer(with_cors(response, origin));
        }
        if path == "/mcp" && !self.token_ok(headers) {
            let mut response = json_response(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sluicegate\""),
            );
            return Verdict::Answer(with_cors(response, origin));
        }
        Verdict::Pass(origin)
    }

    /// Replace the bearer token wherever it appears (bridge output and error messages).
    pub(crate) fn redact_token(&self, text: &str) -> String {
        match &self.token {
            Some(t) if text.contains(t.expose()) => text.replace(t.expose(), REDACTED),
            _ => text.to_string(),
        }
    }
}

const FORBIDDEN: &str = "{\n  \"ok\": false,\n  \"error\": \"forbidden\"\n}\n";
const UNAUTHORIZED: &str = "{\n  \"ok\": false,\n  \"error\": \"unauthorized\"\n}\n";

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A JSON response written by Sluicegate itself (not by rmcp).
pub(crate) fn json_response(status: StatusCode, body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Add CORS headers for an allowed origin.
pub(crate) fn with_cors(
    mut response: Response<Body>,
    origin: Option<HeaderValue>,
) -> Response<Body> {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("origin"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, accept, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, last-event-id",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("mcp-session-id"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn lock() -> HttpSecurity {
        HttpSecurity::new(
            Some("s3cret".into()),
            "127.0.0.1",
            &[],
            &["http://localhost:6274".into()],
        )
        .expect("security")
    }

    fn status(v: Verdict) -> u16 {
        match v {
            Verdict::Pass(_) => 200,
            Verdict::Answer(resp) => resp.status().as_u16(),
        }
    }

    #[test]
    fn token_is_required_exactly() {
        let s = lock();
        let post = Method::POST;
        let ok = headers(&[
            ("host", "127.0.0.1:8766"),
            ("authorization", "Bearer s3cret"),
        ]);
        assert_eq!(status(s.check(&post, "/mcp", &ok)), 200);
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret ",
            "bearer s3cret",
            "Basic s3cret",
            "s3cret",
        ] {
            let h = headers(&[("host", "127.0.0.1:8766"), ("authorization", bad)]);
            let Verdict::Answer(resp) = s.check(&post, "/mcp", &h) else {
                panic!("{bad} accepted")
            };
            assert_eq!(resp.status(), 401);
            assert_eq!(
                resp.headers()[header::WWW_AUTHENTICATE],
                "Bearer realm=\"sluicegate\""
            );
        }
        let none = headers(&[("host", "localhost:8766")]);
        assert_eq!(status(s.check(&post, "/mcp", &none)), 401);
        assert_eq!(status(s.check(&Method::GET, "/healthz", &none)), 200);
    }

    #[test]
    fn host_and_origin_are_allow_listed() {
        let s = lock();
        let post = Method::POST;
        let auth = ("authorization", "Bearer s3cret");
        for host in ["localhost", "LOCALHOST:1", "127.0.0.1:8766", "[::1]:8766"] {
            assert_eq!(
                status(s.check(&post, "/mcp", &headers(&[("host", host), auth]))),
                200,
                "{host}"
            );
        }
        for host in ["evil.example", "evil.example:8766", "127.0.0.2", ""] {
            assert_eq!(
                status(s.check(&post, "/mcp", &headers(&[("host", host), auth]))),
                403,
                "{host}"
            );
        }
        let h = |o: &str| headers(&[("host", "localhost"), ("origin", o), auth]);
        assert_eq!(
            status(s.check(&post, "/mcp", &h("http://localhost:6274"))),
            200
        );
        assert_eq!(
            status(s.check(&post, "/mcp", &h("http://LOCALHOST:6274/"))),
            200
        );
        for o in [
            "http://localhost:6275",
            "https://localhost:6274",
            "http://evil.example",
            "null",
            "garbage",
        ] {
            assert_eq!(status(s.check(&post, "/mcp", &h(o))), 403, "{o}");
        }
    }

    #[test]
    fn dev_no_auth_only_on_loopback() {
        assert!(HttpSecurity::new(None, "127.0.0.1", &[], &[]).is_ok());
        assert!(HttpSecurity::new(None, "::1", &[], &[]).is_ok());
        assert!(matches!(
            HttpSecurity::new(Some(Secret::new("")), "localhost", &[], &[]),
            Err(ServeError::TokenMissing { .. })
        ));
        assert!(matches!(
            HttpSecurity::new(None, "0.0.0.0", &[], &[]),
            Err(ServeError::DevNoAuthUnsafeHost { .. })
        ));
        assert!(matches!(
            HttpSecurity::new(Some("t".into()), "127.0.0.1", &[], &["localhost".into()]),
            Err(ServeError::BadOrigin(_))
        ));
    }
}
