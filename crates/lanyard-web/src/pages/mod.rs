//! Server-rendered pages: askama templates (`templates/`), the small static
//! files they use (`static/`), and the headers every page carries.
//!
//! Every page goes out through [`page`], which sets a strict
//! Content-Security-Policy (no inline script or style: `script-src 'self'`,
//! `style-src 'self'`), `frame-ancestors 'none'`, `Referrer-Policy:
//! no-referrer`, `X-Content-Type-Options: nosniff` and `Cache-Control:
//! no-store`. Askama escapes every value for HTML by default, so labels,
//! descriptions and attribute values render inert. The one page that posts
//! to another origin (the SAML response form) widens `form-action` to that
//! ACS URL's origin plus `https:` ([`page_posting_to`]): browsers apply
//! `form-action` to the redirects that follow a submission too, and AWS
//! answers the post to signin.aws.amazon.com with a redirect to the console
//! on another host. The page has no user-controlled markup, so the wider
//! list opens nothing an attacker could use.
//!
//! Areas: [`admin`] (the admin portal under `/admin`), [`signin`]
//! (sign-in, the TOTP step, sign-out), [`portal`] (the
//! user portal: tiles, TOTP enrollment, password change), and [`forms`]
//! (form intake and the refusal pages they share).

use askama::Template;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

pub mod admin;
pub mod forms;
pub mod portal;
pub mod signin;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `/static/*`: the stylesheet, the auto-submit script, the role
/// chooser's filter and the admin portal's script, compiled in.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/static/lanyard.css",
            get(|| async {
                static_file(
                    "text/css; charset=utf-8",
                    include_str!("../../static/lanyard.css"),
                )
            }),
        )
        .route(
            "/static/admin.js",
            get(|| async {
                static_file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../static/admin.js"),
                )
            }),
        )
        .route(
            "/static/chooser.js",
            get(|| async {
                static_file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../static/chooser.js"),
                )
            }),
        )
        .route(
            "/static/autosubmit.js",
            get(|| async {
                static_file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../static/autosubmit.js"),
                )
            }),
        )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Renders `template` with `status` and the page headers.
pub fn page<T: Template>(status: StatusCode, template: &T) -> Response {
    render(status, template, CSP.to_owned())
}

/// Like [`page`], for a page whose form posts to `target` (another origin).
pub fn page_posting_to<T: Template>(status: StatusCode, template: &T, target: &str) -> Response {
    let origin = origin_of(target).unwrap_or("'none'");
    render(
        status,
        template,
        CSP.replace(
            "form-action 'self'",
            &format!("form-action {origin} https:"),
        ),
    )
}

/// `https://host[:port]` of an absolute URL (what CSP source lists take).
fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..scheme_end + host_end];
    // Only characters a CSP source expression may hold.
    origin
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]".contains(&b))
        .then_some(origin)
}

fn render<T: Template>(status: StatusCode, template: &T, csp: String) -> Response {
    let body = match template.render() {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err.to_string().escape_debug(), "rendering a page failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(CONTENT_SECURITY_POLICY, v);
    }
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page with a heading, a few paragraphs and an optional link: errors,
/// denials, confirmations.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub heading: String,
    pub paragraphs: Vec<String>,
    /// (href, text)
    pub link: Option<(String, String)>,
}

impl Message {
    pub fn new(heading: impl Into<String>, paragraph: impl Into<String>) -> Self {
        Message {
            heading: heading.into(),
            paragraphs: vec![paragraph.into()],
            link: None,
        }
    }

    pub fn with_link(mut self, href: impl Into<String>, text: impl Into<String>) -> Self {
        self.link = Some((href.into(), text.into()));
        self
    }

    /// Renders as a page with `status`.
    pub fn into_page(self, status: StatusCode) -> Response {
        page(status, &self)
    }
}

/// Seconds a client is asked to wait when the database is unavailable.
pub(crate) const RETRY_AFTER_SECONDS: &str = "2";

/// The page for a request that failed on a storage or internal error:
/// 503 with `Retry-After` when the database cannot serve right now
/// ([`lanyard_core::Error::Unavailable`]: a retry may succeed), else 500
/// saying `for_user`. Logged (`what` names the step); the error's detail is
/// never shown.
pub(crate) fn failure_page(err: &lanyard_core::Error, what: &str, for_user: &str) -> Response {
    if let lanyard_core::Error::Unavailable { reason, .. } = err {
        tracing::warn!(error = %err.to_string().escape_debug(), "{what}: database unavailable");
        let mut response = Message::new(
            "Temporarily unavailable",
            format!(
                "Lanyard cannot complete this request right now: {reason}. Please try again in a \
                 moment."
            ),
        )
        .into_page(StatusCode::SERVICE_UNAVAILABLE);
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
        return response;
    }
    tracing::error!(error = %err.to_string().escape_debug(), "{what} failed");
    Message::new("Something went wrong", for_user).into_page(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_for_form_action() {
        assert_eq!(
            origin_of("https://signin.aws.amazon.com/saml"),
            Some("https://signin.aws.amazon.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9000/aws/saml?x=1"),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin_of("https://a.example;script-src *"), None);
        assert_eq!(origin_of("no-scheme"), None);
    }

    #[test]
    fn values_are_escaped() {
        let html = Message::new("<script>x</script>", "\"quoted\" & 'single'")
            .with_link("/portal", "x")
            .render()
            .unwrap();
        assert!(!html.contains("<script>x"), "{html}");
        // askama 0.16 escapes with numeric references.
        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62;"),
            "{html}"
        );
        assert!(
            html.contains("&#34;quoted&#34; &#38; &#39;single&#39;"),
            "{html}"
        );
    }
}
