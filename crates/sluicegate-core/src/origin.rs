//! Host and Origin names as HTTP front ends check them: loopback names, `host[:port]`
//! authorities and browser origins, parsed the same way by the MCP transports' lock and the
//! review UI, so a name one of them accepts the other does too.

use std::net::IpAddr;

/// Whether `host` is a loopback name or address (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The Host names a server bound to `bind_host` answers to by default: the loopback names, and
/// the bind address itself unless it is a wildcard (which names no host a browser would use).
pub fn default_allowed_hosts(bind_host: &str) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let bind = bind_host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if bind != "0.0.0.0" && bind != "::" {
        hosts.push(bind);
    }
    hosts
}

/// `(scheme, host, port)` of an origin, lowercased, with the scheme's default port filled in.
pub type Origin = (String, String, u16);

pub fn parse_origin(text: &str) -> Option<Origin> {
    if text == "null" {
        return Some(("null".into(), String::new(), 0));
    }
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return None;
    }
    let (host, port) = split_host_port(authority)?;
    Some((scheme, host, port.unwrap_or(default_port)))
}

/// Split `host[:port]` / `[v6][:port]` into a lowercased host (brackets removed) and port.
pub fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (authority, None),
        }
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hosts_are_loopback_plus_a_named_bind_address() {
        let loopback = ["localhost", "127.0.0.1", "::1"];
        assert_eq!(default_allowed_hosts("0.0.0.0"), loopback);
        assert_eq!(default_allowed_hosts("[::]"), loopback);
        assert_eq!(
            default_allowed_hosts("Review.Example"),
            ["localhost", "127.0.0.1", "::1", "review.example"]
        );
        assert_eq!(
            default_allowed_hosts("[FD00::1]")
                .last()
                .map(String::as_str),
            Some("fd00::1")
        );
    }
}
