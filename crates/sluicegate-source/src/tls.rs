//! TLS for source connections: one rustls client configuration on the aws-lc-rs provider,
//! verifying servers against the platform's roots plus an optional CA file from the URL.
//!
//! TLS is used when the URL asks for it: PostgreSQL `sslmode=require` (`verify-ca` and
//! `verify-full` are accepted and mean the same here, because certificates are always
//! verified, host name included), MySQL `require_ssl=true`. A CA file can be named with
//! PostgreSQL's `sslrootcert=<path>` or, for MySQL, `ssl_ca=<path>`; both are taken out of the
//! URL before the driver parses it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use rustls::ClientConfig;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sluicegate_core::secrets::Secret;

use crate::error::{SourceError, SourceErrorKind, unavailable};

/// mysql_async builds its rustls configuration with the process-wide default provider; make
/// sure there is one, and that it is the one the workspace compiles in.
pub(crate) fn ensure_default_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which is just as good.
        let _ = aws_lc_rs::default_provider().install_default();
    });
}

/// A client configuration that verifies the server against the platform roots and, when
/// given, the certificates in `ca_file` (PEM).
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, SourceError> {
    let provider: Arc<CryptoProvider> = Arc::new(aws_lc_rs::default_provider());
    let extra: Vec<CertificateDer<'static>> = match ca_file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|_| {
                unavailable(
                    SourceErrorKind::ConnectionFailed,
                    "cannot read the CA certificate file named in the URL",
                )
            })?,
        None => Vec::new(),
    };
    let tls_error = |_| unavailable(SourceErrorKind::ConnectionFailed, "cannot set up TLS");
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(tls_error)?;
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// What a URL says about TLS beyond what its driver understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlTls {
    /// The URL with the parameters below taken out (and `verify-*` modes made `require`).
    pub url: Secret,
    /// A CA certificate file to trust in addition to the platform roots.
    pub ca_file: Option<PathBuf>,
}

/// Take `ca_param` out of `url`'s query string, and turn PostgreSQL's `sslmode=verify-ca` /
/// `verify-full` into `require` (tokio-postgres knows only disable/prefer/require).
/// Key/value connection strings (no `://`) are returned unchanged.
pub(crate) fn split_url(url: &str, ca_param: &str) -> UrlTls {
    let Some((base, query)) = url.split_once('?').filter(|_| url.contains("://")) else {
        return UrlTls {
            url: Secret::new(url),
            ca_file: None,
        };
    };
    let mut ca_file = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == ca_param {
            ca_file = Some(PathBuf::from(percent_decode(value)));
        } else if key == "sslmode" && matches!(value, "verify-ca" | "verify-full") {
            kept.push("sslmode=require".to_string());
        } else {
            kept.push(pair.to_string());
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    UrlTls {
        url: Secret::new(url),
        ca_file,
    }
}

/// `%XX` escapes decoded; anything malformed is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(v as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters() {
        // Compared through `expose`: a failing comparison of `Secret`s would print only
        // `<redacted>`.
        let split = |url: &str, param: &str| {
            let s = split_url(url, param);
            (s.url.expose().to_string(), s.ca_file)
        };
        assert_eq!(
            split(
                "postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
                "sslrootcert"
            ),
            (
                "postgres://u:p@h/db?sslmode=require&application_name=x".into(),
                Some(PathBuf::from("/etc/ca.pem"))
            )
        );
        assert_eq!(
            split("mysql://u:p@h/db?require_ssl=true&ssl_ca=/ca.pem", "ssl_ca"),
            (
                "mysql://u:p@h/db?require_ssl=true".into(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            split("postgres://u:p@h/db?sslrootcert=/a.pem", "sslrootcert").0,
            "postgres://u:p@h/db"
        );
        let kv = "host=h user=u sslmode=require";
        assert_eq!(split(kv, "sslrootcert"), (kv.to_string(), None));
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert!(!format!("{:?}", split_url(kv, "x")).contains("user=u"));
    }

    #[test]
    fn configs_build() {
        ensure_default_provider();
        assert!(client_config(None).is_ok());
        let missing = client_config(Some(Path::new("/nonexistent/ca.pem")));
        assert!(matches!(missing, Err(e) if e.kind().is_unavailable()));
    }
}
