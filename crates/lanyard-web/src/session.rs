//! Browser sessions at the edge: the session cookie, the [`SignedIn`]
//! extractor, and CSRF tokens for every state-changing form. What a session
//! means (live, complete, its user) is `lanyard_app::sessions`.
//!
//! The cookie `lanyard_session` carries a random token (32 bytes, hex); the
//! store keeps only its SHA-256 (see `lanyard_core::session`). It is
//! `HttpOnly`, `Path=/`, `SameSite=Lax` (so a user arriving from an SP by a
//! top-level GET is still recognised) and `Secure` whenever the base URL is
//! https. A SAML POST arriving cross-site carries no Lax cookie; the SSO
//! endpoint answers it with a 303 to a same-site GET, which does.
//!
//! CSRF: forms of a signed-in user carry the session's own `csrf_secret`;
//! the sign-in form (no session yet) uses a double-submit cookie
//! `lanyard_csrf` (`SameSite=Strict`) matched against a hidden field. Both
//! comparisons are constant-time, and a request whose `Origin` header names
//! another origin is refused whatever its token.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_core::{Error, Result, Settings};

use crate::pages::Message;
use crate::AppState;

pub const SESSION_COOKIE: &str = "lanyard_session";
pub const CSRF_COOKIE: &str = "lanyard_csrf";

pub use lanyard_app::secrets::new_token;
pub use lanyard_app::sessions::SignedIn;

/// The value of cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn cookie_header(settings: &Settings, name: &str, value: &str, attrs: &str) -> HeaderValue {
    cookie_at(settings, name, value, "/", attrs)
}

/// A `Set-Cookie` value scoped to `path`: `HttpOnly`, `attrs` (e.g.
/// `; SameSite=Strict`), and `Secure` whenever the base URL is https. The
/// admin portal's cookies use `Path=/admin`.
pub fn cookie_at(
    settings: &Settings,
    name: &str,
    value: &str,
    path: &str,
    attrs: &str,
) -> HeaderValue {
    let secure = if settings.base_url.as_str().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly{attrs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` for a new session token (a browser-session cookie: the
/// server decides when the session ends).
pub fn session_cookie(settings: &Settings, token: &str) -> (axum::http::HeaderName, HeaderValue) {
    (
        SET_COOKIE,
        cookie_header(settings, SESSION_COOKIE, token, "; SameSite=Lax"),
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(settings: &Settings) -> (axum::http::HeaderName, HeaderValue) {
    (
        SET_COOKIE,
        cookie_header(settings, SESSION_COOKIE, "", "; SameSite=Lax; Max-Age=0"),
    )
}

/// `Set-Cookie` for the pre-session CSRF token of the sign-in form.
pub fn csrf_cookie(settings: &Settings, token: &str) -> (axum::http::HeaderName, HeaderValue) {
    (
        SET_COOKIE,
        cookie_header(settings, CSRF_COOKIE, token, "; SameSite=Strict"),
    )
}

/// Constant-time comparison of a submitted token with the expected one.
pub fn tokens_match(expected: &str, submitted: &str) -> bool {
    !expected.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            submitted.as_bytes(),
        )
        .is_ok()
}

/// False when the request says it comes from another origin. Browsers send
/// `Origin` on every POST; its absence (old clients, curl) and the opaque
/// `null` (privacy settings, some redirects) say nothing, so the token alone
/// decides then.
pub fn same_origin(headers: &HeaderMap, settings: &Settings) -> bool {
    match headers.get(ORIGIN).map(|v| v.to_str().unwrap_or("")) {
        None | Some("null") => true,
        Some(origin) => origin == base_origin(settings),
    }
}

fn base_origin(settings: &Settings) -> &str {
    let base = settings.base_url.as_str();
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    &base[..path]
}

/// A `next` target for after sign-in: a local path only (no scheme, no
/// `//host`, no backslash), else the portal.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/portal".to_owned(),
    }
}

/// A 303 to the sign-in page, coming back to `next` afterwards.
pub fn to_login(next: &str) -> Response {
    let target = format!(
        "/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    (
        StatusCode::SEE_OTHER,
        [(
            LOCATION,
            HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/login")),
        )],
    )
        .into_response()
}

/// The signed-in user of the request: `None` without a cookie, or when the
/// session is unknown, ended or only half done.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SignedIn>> {
    match cookie(headers, SESSION_COOKIE) {
        Some(token) => lanyard_app::sessions::current(&state.lanyard, token).await,
        None => Ok(None),
    }
}

/// A page for a failed session lookup (a storage error).
pub(crate) fn unavailable(err: &Error) -> Response {
    tracing::error!("session lookup failed: {err}");
    Message::new(
        "Something went wrong",
        "Lanyard could not check your session. Please try again in a moment.",
    )
    .into_page(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The signed-in user of a portal page, or a 303 to the sign-in page that
/// comes back here.
pub struct Me(pub SignedIn);

impl std::ops::Deref for Me {
    type Target = SignedIn;

    fn deref(&self) -> &SignedIn {
        &self.0
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Response> {
        match current(state, &parts.headers).await {
            Ok(Some(s)) => Ok(Me(s)),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/portal", |pq| pq.as_str());
                Err(to_login(next))
            }
            Err(e) => Err(unavailable(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers("a=1; lanyard_session=abc; lanyard_session_x=zzz");
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "lanyard"), None);
        assert_eq!(cookie(&HeaderMap::new(), SESSION_COOKIE), None);
    }

    #[test]
    fn next_targets_stay_local() {
        assert_eq!(
            safe_next(Some("/saml2/aws?SAMLRequest=x")),
            "/saml2/aws?SAMLRequest=x"
        );
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil",
            "portal",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/portal", "{bad}");
        }
        assert_eq!(safe_next(None), "/portal");
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
        assert!(!tokens_match("", ""));
    }

    #[test]
    fn cookie_attributes_follow_the_base_url() {
        let mut s = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            base_url: lanyard_core::BaseUrl::parse("https://idp.example.com").unwrap(),
            log: "info".into(),
            auth: Default::default(),
        };
        let (_, v) = session_cookie(&s, "t");
        assert_eq!(
            v,
            "lanyard_session=t; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        s.base_url = lanyard_core::BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        let (_, v) = csrf_cookie(&s, "t");
        assert_eq!(v, "lanyard_csrf=t; Path=/; HttpOnly; SameSite=Strict");
        assert_eq!(base_origin(&s), "http://127.0.0.1:8080");
        let mut h = HeaderMap::new();
        assert!(same_origin(&h, &s));
        h.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h, &s));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h, &s));
        h.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h, &s), "opaque: the token decides");
    }
}
