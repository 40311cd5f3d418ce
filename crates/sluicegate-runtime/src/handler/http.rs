//! The `http_handler` transport (writeback.md §C.4): one request, signed over the exact body
//! bytes, bounded by `timeout_ms`, never retried and never redirected.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sluicegate_core::config::HttpMethod;
use sluicegate_core::handler::HandlerOutcome;
use sluicegate_protocol::handler::headers;

use super::HttpHandler;

/// The most response body Sluicegate reads from a handler.
const MAX_BODY: usize = 1024 * 1024;

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so building it cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("invariant: HMAC takes keys of any length");
    mac.update(body);
    format!(
        "{}{}",
        headers::SIGNATURE_PREFIX,
        hex::encode(mac.finalize().into_bytes())
    )
}

pub fn is_http_url(s: &str) -> bool {
    reqwest::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

fn client(timeout: Duration) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        // A redirect could carry the bearer token and the signed body to another origin.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()
}

/// `value` as a header can carry it: unchanged when it is a valid header value (every key
/// whose row id has no control character), else percent-encoded byte by byte. A row id holding
/// a line break would otherwise make the request impossible to build, so nothing could ever
/// be sent; the signed body carries the key as it is.
fn header_safe(value: &str) -> std::borrow::Cow<'_, str> {
    if reqwest::header::HeaderValue::from_str(value).is_ok() {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if (b.is_ascii_graphic() && b != b'%') || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Send one request and report what came back. No retries: the caller records whatever this
/// returns, and a second call needs the operator's explicit `--force-handler-retry`.
pub(super) async fn call(
    h: &HttpHandler,
    body: String,
    idempotency_key: &str,
    proposal_id: &str,
    issued_at: &str,
) -> HandlerOutcome {
    let Some(client) = client(h.timeout) else {
        return HandlerOutcome::RequestFailed;
    };
    let method = match h.method {
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
    };
    let mut req = client
        .request(method, h.url.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            headers::IDEMPOTENCY_KEY,
            header_safe(idempotency_key).as_ref(),
        )
        .header(headers::ISSUED_AT, issued_at)
        .header(headers::PROPOSAL_ID, proposal_id);
    if let Some(token) = &h.token {
        req = req.bearer_auth(token.expose());
    }
    if let Some(secret) = &h.signing_secret {
        req = req.header(
            headers::SIGNATURE,
            sign(secret.expose().as_bytes(), body.as_bytes()),
        );
    }
    // The deadline covers connecting, sending and reading the whole answer.
    let exchange = async {
        let mut resp = req.body(body).send().await?;
        let status = resp.status();
        if !status.is_success() {
            return Ok(HandlerOutcome::HttpStatus(status.as_u16()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Ok(HandlerOutcome::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(HandlerOutcome::Body(
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    };
    match tokio::time::timeout(h.timeout, exchange).await {
        Err(_) => HandlerOutcome::Timeout,
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) if e.is_timeout() => HandlerOutcome::Timeout,
        // The error text can name the URL; only the category leaves this function.
        Ok(Err(_)) => HandlerOutcome::RequestFailed,
    }
}

/// The outcome of the doctor's reachability probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Some HTTP response came back (any status): the network path works.
    Reachable(u16),
    /// The value is not an absolute http(s) URL.
    InvalidUrl,
    Timeout,
    ConnectionFailed,
}

/// `OPTIONS <url>` with `accept: application/json`: proves the network path without sending a
/// request body, a token or a signature, so nothing can be applied.
pub async fn probe(url: &crate::env::Secret, timeout: Duration) -> Probe {
    if !is_http_url(url.expose()) {
        return Probe::InvalidUrl;
    }
    let Some(client) = client(timeout) else {
        return Probe::ConnectionFailed;
    };
    let req = client
        .request(reqwest::Method::OPTIONS, url.expose())
        .header(reqwest::header::ACCEPT, "application/json");
    match tokio::time::timeout(timeout, req.send()).await {
        Err(_) => Probe::Timeout,
        Ok(Ok(resp)) => Probe::Reachable(resp.status().as_u16()),
        Ok(Err(e)) if e.is_timeout() => Probe::Timeout,
        Ok(Err(_)) => Probe::ConnectionFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn an_idempotency_key_any_row_id_gives_fits_in_a_header() {
        use reqwest::header::HeaderValue;
        for kept in ["wrp_1:INV-3001", "wrp_1:50%", "wrp_1:café"] {
            assert_eq!(header_safe(kept), kept);
        }
        for (key, sent) in [
            ("wrp_1:a\nb", "wrp_1:a%0Ab"),
            ("wrp_1:a\r\n5%", "wrp_1:a%0D%0A5%25"),
            ("wrp_1:\u{7f}é", "wrp_1:%7F%C3%A9"),
        ] {
            assert!(HeaderValue::from_str(key).is_err(), "{key:?}");
            let header = header_safe(key);
            assert_eq!(header, sent);
            assert!(HeaderValue::from_str(&header).is_ok(), "{key:?}");
        }
    }

    #[test]
    fn only_absolute_http_urls() {
        assert!(is_http_url("http://127.0.0.1:8787/synapsor/writeback"));
        assert!(is_http_url("https://billing.internal/hook"));
        assert!(!is_http_url("ftp://x/y"));
        assert!(!is_http_url("/relative"));
        assert!(!is_http_url("file:///etc/passwd"));
    }
}
