//! Browser sessions at the edge: the session cookie, the [`SignedIn`]
//! extractor, and CSRF tokens for every state-changing form. What a session
//! means (live, complete, its user) is `lanyard_app::sessions`.
//!
//! Cookies ([`Cookie`]): the user session (`lanyard_session`, a random
//! token, 32 bytes hex; the store keeps only its SHA-256), the sign-in
//! form's CSRF cookie (`lanyard_csrf`), and the admin portal's session and
//! CSRF cookies (`lanyard_admin`, `lanyard_admin_csrf`). All are
//! `HttpOnly`. The user session is `SameSite=Lax` (a user arriving from an
//! SP by a top-level GET is still recognised; a SAML POST arriving
//! cross-site carries no Lax cookie, and the SSO endpoint answers it with a
//! 303 to a same-site GET, which does); the others are `SameSite=Strict`.
//!
//! When the base URL is https, every name carries the `__Host-` prefix
//! (`__Host-lanyard_session`, ...): browsers then accept the cookie only
//! with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot
//! plant one. The admin cookies move from `Path=/admin` to `Path=/` for
//! that (their names stay distinct). With an http base URL (local use, the
//! demo) `__Host-` cannot be used (it needs `Secure`, which needs https), so
//! the names are bare and the admin cookies keep `Path=/admin`. A request
//! carrying any of these cookies twice is refused with 400
//! ([`refuse_duplicate_cookies`]): which one a browser sent first is not a
//! choice to make for it.
//!
//! CSRF: forms of a signed-in user carry the session's own `csrf_secret`;
//! the sign-in forms (no session yet) use a double-submit cookie matched
//! against a hidden field. Both comparisons are constant-time, and a
//! request whose `Origin` header names another origin is refused whatever
//! its token.

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lanyard_core::{Error, Result, Settings};

use crate::pages::Message;
use crate::AppState;

pub use lanyard_app::secrets::new_token;
pub use lanyard_app::sessions::SignedIn;

/// The cookies Lanyard sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    /// The user's session token.
    Session,
    /// The double-submit CSRF token of the user sign-in form.
    Csrf,
    /// The admin portal's session token.
    Admin,
    /// The double-submit CSRF token of the admin sign-in form.
    AdminCsrf,
}

impl Cookie {
    pub const ALL: [Cookie; 4] = [
        Cookie::Session,
        Cookie::Csrf,
        Cookie::Admin,
        Cookie::AdminCsrf,
    ];

    fn bare(self) -> &'static str {
        match self {
            Cookie::Session => "lanyard_session",
            Cookie::Csrf => "lanyard_csrf",
            Cookie::Admin => "lanyard_admin",
            Cookie::AdminCsrf => "lanyard_admin_csrf",
        }
    }

    fn prefixed(self) -> &'static str {
        match self {
            Cookie::Session => "__Host-lanyard_session",
            Cookie::Csrf => "__Host-lanyard_csrf",
            Cookie::Admin => "__Host-lanyard_admin",
            Cookie::AdminCsrf => "__Host-lanyard_admin_csrf",
        }
    }

    /// The name under this base URL: `__Host-` prefixed on https.
    pub fn name(self, settings: &Settings) -> &'static str {
        if is_https(settings) {
            self.prefixed()
        } else {
            self.bare()
        }
    }

    /// `/`, but `/admin` for the admin cookies on http (`__Host-` needs
    /// `Path=/`).
    fn path(self, settings: &Settings) -> &'static str {
        match self {
            Cookie::Admin | Cookie::AdminCsrf if !is_https(settings) => "/admin",
            _ => "/",
        }
    }

    fn same_site(self) -> &'static str {
        match self {
            Cookie::Session => "Lax",
            _ => "Strict",
        }
    }

    /// The value the request carries, if any.
    pub fn read<'a>(self, headers: &'a HeaderMap, settings: &Settings) -> Option<&'a str> {
        cookie(headers, self.name(settings))
    }

    /// `Set-Cookie` with `value` (a browser-session cookie: the server
    /// decides when a session ends).
    pub fn set(self, settings: &Settings, value: &str) -> (HeaderName, HeaderValue) {
        (SET_COOKIE, self.header(settings, value, ""))
    }

    /// `Set-Cookie` that removes the cookie.
    pub fn clear(self, settings: &Settings) -> (HeaderName, HeaderValue) {
        (SET_COOKIE, self.header(settings, "", "; Max-Age=0"))
    }

    fn header(self, settings: &Settings, value: &str, extra: &str) -> HeaderValue {
        let secure = if is_https(settings) { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path={}; HttpOnly; SameSite={}{extra}{secure}",
            self.name(settings),
            self.path(settings),
            self.same_site(),
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn is_https(settings: &Settings) -> bool {
    settings.base_url.as_str().starts_with("https://")
}

/// The value of cookie `name`, if the request has it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_pairs(headers)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The first of Lanyard's cookie names the request carries more than once.
fn duplicated_cookie(headers: &HeaderMap) -> Option<&str> {
    let ours = |name: &str| {
        Cookie::ALL
            .iter()
            .any(|c| c.bare() == name || c.prefixed() == name)
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in cookie_pairs(headers) {
        if ours(name) {
            if seen.contains(&name) {
                return Some(name);
            }
            seen.push(name);
        }
    }
    None
}

/// Middleware: a request carrying one of Lanyard's cookies twice (e.g. one
/// planted by a sibling subdomain beside the real one) gets a 400 page,
/// never an answer as either.
pub async fn refuse_duplicate_cookies(request: Request, next: Next) -> Response {
    if let Some(name) = duplicated_cookie(request.headers()) {
        tracing::info!(cookie = %name.escape_debug(), "refused a request carrying a cookie twice");
        return Message::new(
            "Conflicting cookies",
            "Your browser sent two Lanyard cookies with the same name, so Lanyard cannot tell which to trust. Delete this site's cookies in the browser, then sign in again.",
        )
        .into_page(StatusCode::BAD_REQUEST);
    }
    next.run(request).await
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

/// A 303 to the sign-in page even for a signed-in browser (`force=1`): the
/// whole sign-in, second factor included, then on to `next` (an
/// AuthnRequest with `ForceAuthn`).
pub fn to_reauthenticate(next: &str) -> Response {
    to_sign_in("/login?force=1&next=", next)
}

/// A 303 to the sign-in page, coming back to `next` afterwards.
pub fn to_login(next: &str) -> Response {
    to_sign_in("/login?next=", next)
}

/// A 303 to `page` followed by `next`, URL-encoded.
fn to_sign_in(page: &str, next: &str) -> Response {
    let target = format!(
        "{page}{}",
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
    match Cookie::Session.read(headers, state.settings()) {
        Some(token) => lanyard_app::sessions::current(&state.lanyard, token).await,
        None => Ok(None),
    }
}

/// A page for a failed session lookup (a storage error).
pub(crate) fn unavailable(err: &Error) -> Response {
    crate::pages::failure_page(
        err,
        "session lookup",
        "Lanyard could not check your session. Please try again in a moment.",
    )
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
        assert_eq!(cookie(&h, "lanyard_session"), Some("abc"));
        assert_eq!(cookie(&h, "lanyard"), None);
        assert_eq!(cookie(&HeaderMap::new(), "lanyard_session"), None);
        assert_eq!(duplicated_cookie(&h), None);
    }

    #[test]
    fn a_cookie_of_ours_sent_twice_is_found() {
        let twice = headers("lanyard_session=planted; a=1; lanyard_session=real");
        assert_eq!(duplicated_cookie(&twice), Some("lanyard_session"));
        let mut split = headers("__Host-lanyard_admin=a");
        split.append(COOKIE, HeaderValue::from_static("__Host-lanyard_admin=b"));
        assert_eq!(duplicated_cookie(&split), Some("__Host-lanyard_admin"));
        // Others' cookies, and our two spellings side by side, are fine.
        let fine = headers("a=1; a=2; lanyard_session=x; __Host-lanyard_session=y");
        assert_eq!(duplicated_cookie(&fine), None);
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
            http: Default::default(),
        };
        let set = |c: Cookie, s: &Settings| c.set(s, "t").1;
        assert_eq!(
            set(Cookie::Session, &s),
            "__Host-lanyard_session=t; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            set(Cookie::Admin, &s),
            "__Host-lanyard_admin=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            Cookie::Csrf.clear(&s).1,
            "__Host-lanyard_csrf=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        );
        s.base_url = lanyard_core::BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            set(Cookie::Csrf, &s),
            "lanyard_csrf=t; Path=/; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            set(Cookie::AdminCsrf, &s),
            "lanyard_admin_csrf=t; Path=/admin; HttpOnly; SameSite=Strict"
        );
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
