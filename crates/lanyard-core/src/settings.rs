//! The typed settings of one Lanyard instance.
//!
//! A [`Settings`] value is only built after every field has been validated, so
//! code holding one never re-checks it. Where the values come from (defaults,
//! TOML file, `LANYARD_*` environment, CLI flags) is the binary's business;
//! this module owns the types, and the rules of the types that need rules
//! ([`BaseUrl`]). The use-case context (`lanyard_app::Lanyard`) carries them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use url::Url;

/// Validated settings, shared read-only by every layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Socket address the HTTP server binds; port 0 asks the OS for a free port.
    pub listen: SocketAddr,
    /// Public base URL, under which the IdP's endpoints and entity ID live.
    pub base_url: BaseUrl,
    /// A `tracing` filter (`EnvFilter` syntax), e.g. `info` or `lanyard=debug,warn`.
    /// The binary checks the syntax when it loads the settings.
    pub log: String,
    /// Sessions, lockout and sign-in rate limits.
    pub auth: crate::session::AuthSettings,
    /// The HTTP edge: trusted proxies and the server's limits.
    pub http: HttpSettings,
}

/// The HTTP edge of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpSettings {
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed
    /// ([`HttpSettings::client_address`]); empty: no one's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A client must send a request's whole header within this, counted
    /// from the connection's start for the first request and from the end
    /// of the previous response for the next ones (hyper's rule), so it
    /// also closes a kept-alive connection that sends no next request.
    pub header_timeout: time::Duration,
    /// A request body must arrive within this.
    pub body_timeout: time::Duration,
    /// A connection on which no byte moves either way for this long is
    /// closed: a client that stops reading a response, or stalls in ways
    /// the header and body timeouts do not cover. (Between requests the
    /// header timeout, usually shorter, closes a silent connection first.)
    pub idle_timeout: time::Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: u32,
    /// After SIGTERM: how long `/readyz` answers 503 while new connections
    /// are still accepted, so a load balancer stops sending first.
    pub drain_delay: time::Duration,
    /// After the listener closes: how long requests in flight may take to
    /// finish before their connections are dropped.
    pub shutdown_timeout: time::Duration,
    /// With native TLS: how long a client has to complete the handshake.
    pub tls_handshake_timeout: time::Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            trusted_proxies: Vec::new(),
            header_timeout: time::Duration::seconds(10),
            body_timeout: time::Duration::seconds(30),
            idle_timeout: time::Duration::seconds(60),
            max_connections: 10_000,
            drain_delay: time::Duration::ZERO,
            shutdown_timeout: time::Duration::seconds(30),
            tls_handshake_timeout: time::Duration::seconds(10),
        }
    }
}

impl HttpSettings {
    /// Whether `addr` is one of the trusted proxies.
    pub fn is_trusted(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.trusted_proxies.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request that came from `peer` carrying the
    /// forwarding headers `forwarded` (RFC 7239 `Forwarded`, each value in
    /// order) and `x_forwarded_for` (each value in order).
    ///
    /// Only a trusted peer's headers count. The chain of addresses it
    /// reports (`Forwarded` when present, else `X-Forwarded-For`) is walked
    /// from the right, skipping trusted proxies: the first address that is
    /// not one is the client. An entry that is not an address (`unknown`,
    /// an obfuscated name, garbage) ends the walk: the client is then the
    /// last trusted hop, since nothing further left can be believed. A
    /// chain of trusted proxies only gives its left-most address.
    pub fn client_address(
        &self,
        peer: IpAddr,
        forwarded: &[&str],
        x_forwarded_for: &[&str],
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let chain: Vec<Option<IpAddr>> = if forwarded.is_empty() {
            x_forwarded_for
                .iter()
                .flat_map(|v| v.split(','))
                .map(|e| parse_hop(e.trim()))
                .collect()
        } else {
            forwarded
                .iter()
                .flat_map(|v| v.split(','))
                .map(forwarded_for)
                .collect()
        };
        let mut client = peer;
        for hop in chain.into_iter().rev() {
            match hop {
                Some(addr) => {
                    client = addr;
                    if !self.is_trusted(addr) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as IPv4 (a dual-stack listener reports them).
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// One hop of `X-Forwarded-For` or of a `Forwarded` `for=`: an address,
/// optionally with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    if let Ok(sock) = hop.parse::<SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    let inner = hop.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=http`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, v)| parse_hop(v))
}

/// Parses `trusted_proxies`: addresses or CIDR blocks separated by commas
/// or spaces (`10.0.0.0/8, 192.0.2.7`); an address alone is one host.
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split([',', ' ', '\t'])
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| format!("contains {t:?}, which is not an IP address or CIDR block"))
        })
        .collect()
}

/// The public base URL of the IdP: absolute `http` or `https`, no user info,
/// no query, no fragment, and no trailing slash (so `base.join("/x")`-style
/// formatting never produces `//`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BaseUrl(String);

/// Why a string is not a [`BaseUrl`].
///
/// Each message is phrased to follow the rejected value, so callers can write
/// `"{where}: {value:?} {error}"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("is not an absolute URL (expected e.g. https://idp.example.com)")]
    NotAbsolute,
    #[error("is not a valid URL: {0}")]
    Invalid(url::ParseError),
    #[error("is not an http(s) URL")]
    NotHttp,
    #[error("must not contain a user name or password")]
    HasCredentials,
    #[error("must not have a query string")]
    HasQuery,
    #[error("must not have a fragment")]
    HasFragment,
}

impl BaseUrl {
    /// Check and normalise a public base URL: the scheme and host are
    /// lower-cased, a default port is dropped, and trailing slashes are removed.
    pub fn parse(input: &str) -> Result<Self, BaseUrlError> {
        let url = Url::parse(input).map_err(|err| match err {
            url::ParseError::RelativeUrlWithoutBase => BaseUrlError::NotAbsolute,
            other => BaseUrlError::Invalid(other),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BaseUrlError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BaseUrlError::HasCredentials);
        }
        if url.query().is_some() {
            return Err(BaseUrlError::HasQuery);
        }
        if url.fragment().is_some() {
            return Err(BaseUrlError::HasFragment);
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        BaseUrl::parse(input).unwrap().to_string()
    }

    fn err(input: &str) -> String {
        BaseUrl::parse(input).unwrap_err().to_string()
    }

    #[test]
    fn accepts_and_normalises_http_and_https() {
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(ok("https://idp.example.com/"), "https://idp.example.com");
        assert_eq!(
            ok("https://idp.example.com/sso//"),
            "https://idp.example.com/sso"
        );
        assert_eq!(
            ok("HTTPS://IdP.Example.COM:443/Lanyard/"),
            "https://idp.example.com/Lanyard"
        );
        assert_eq!(ok("http://[::1]:8080/"), "http://[::1]:8080");
    }

    #[test]
    fn rejects_other_schemes() {
        assert_eq!(err("ftp://x"), "is not an http(s) URL");
        assert_eq!(err("localhost:8080"), "is not an http(s) URL");
    }

    #[test]
    fn rejects_relative_and_malformed_urls() {
        assert_eq!(
            err("/idp"),
            "is not an absolute URL (expected e.g. https://idp.example.com)"
        );
        assert_eq!(
            err(""),
            "is not an absolute URL (expected e.g. https://idp.example.com)"
        );
        assert_eq!(err("http://"), "is not a valid URL: empty host");
        assert_eq!(
            err("http://host:99999"),
            "is not a valid URL: invalid port number"
        );
    }

    #[test]
    fn rejects_credentials_query_and_fragment() {
        assert_eq!(
            err("https://admin@idp.example.com"),
            "must not contain a user name or password"
        );
        assert_eq!(
            err("https://a:b@idp.example.com"),
            "must not contain a user name or password"
        );
        assert_eq!(
            err("https://idp.example.com/?x=1"),
            "must not have a query string"
        );
        assert_eq!(
            err("https://idp.example.com/?"),
            "must not have a query string"
        );
        assert_eq!(
            err("https://idp.example.com/#top"),
            "must not have a fragment"
        );
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::*;

    fn http(proxies: &str) -> HttpSettings {
        HttpSettings {
            trusted_proxies: parse_trusted_proxies(proxies).unwrap(),
            ..HttpSettings::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peers_headers_are_ignored() {
        let none = http("");
        let spoofed = ["203.0.113.9"];
        assert_eq!(
            none.client_address(ip("192.0.2.1"), &[], &spoofed),
            ip("192.0.2.1")
        );
        let some = http("10.0.0.0/8");
        assert_eq!(
            some.client_address(ip("192.0.2.1"), &["for=203.0.113.9"], &spoofed),
            ip("192.0.2.1"),
            "a peer outside the trusted list is the client, whatever it says"
        );
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let h = http("10.0.0.0/8, 192.0.2.7");
        // The client forged a left-most entry; the proxy appended the real one.
        let xff = ["6.6.6.6, 198.51.100.4", "10.1.2.3"];
        assert_eq!(
            h.client_address(ip("192.0.2.7"), &[], &xff),
            ip("198.51.100.4")
        );
        // RFC 7239 wins over X-Forwarded-For; ports and quotes are fine.
        let fwd = [r#"for=6.6.6.6, for="198.51.100.5:4711";proto=https"#];
        assert_eq!(
            h.client_address(ip("192.0.2.7"), &fwd, &xff),
            ip("198.51.100.5")
        );
        let v6 = [r#"for="[2001:db8::1]:4711""#];
        assert_eq!(
            h.client_address(ip("::ffff:192.0.2.7"), &v6, &[]),
            ip("2001:db8::1"),
            "an IPv4-mapped peer is its IPv4 address"
        );
        // Only trusted hops: the left-most; no header: the proxy itself.
        assert_eq!(
            h.client_address(ip("192.0.2.7"), &[], &["10.0.0.1, 10.0.0.2"]),
            ip("10.0.0.1")
        );
        assert_eq!(h.client_address(ip("10.9.9.9"), &[], &[]), ip("10.9.9.9"));
        // Garbage ends the walk at the last trusted hop.
        assert_eq!(
            h.client_address(ip("192.0.2.7"), &[], &["198.51.100.4, nonsense, 10.0.0.3"]),
            ip("10.0.0.3")
        );
        assert_eq!(
            h.client_address(ip("192.0.2.7"), &["for=unknown"], &[]),
            ip("192.0.2.7")
        );
    }

    #[test]
    fn trusted_proxies_parse_with_a_clear_error() {
        let nets = parse_trusted_proxies("10.0.0.1/8 ,2001:db8::/32\t192.0.2.7").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
        assert_eq!(parse_trusted_proxies("").unwrap(), vec![]);
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/8, proxy.local").unwrap_err(),
            "contains \"proxy.local\", which is not an IP address or CIDR block"
        );
    }
}
