//! The typed settings of one Lanyard instance.
//!
//! A [`Settings`] value is only built after every field has been validated, so
//! code holding one never re-checks it. Where the values come from (defaults,
//! TOML file, `LANYARD_*` environment, CLI flags) is the binary's business;
//! this module owns the types, and the rules of the types that need rules
//! ([`BaseUrl`]). The use-case context (`lanyard_app::Lanyard`) carries them.

use std::fmt;
use std::net::SocketAddr;

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
