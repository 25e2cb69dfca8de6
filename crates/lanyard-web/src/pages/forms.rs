//! What the sign-in and portal forms share: [`PageForm`] (an urlencoded
//! body, rejected with a page rather than axum's plain text), the client
//! facts a sign-in records ([`Client`]), the refusal pages (cross-origin,
//! bad CSRF token, too many attempts), and [`PageError`], which turns a
//! store failure into a page without showing its detail.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lanyard_core::Error;
use serde::de::DeserializeOwned;

use super::Message;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 256;

/// An `application/x-www-form-urlencoded` body. Unknown fields are ignored
/// (browsers and password managers add some); missing ones fail unless the
/// form type gives them a default.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(bad_form(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                bad_form(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                bad_form(StatusCode::BAD_REQUEST)
            }
        })?;
        serde_urlencoded::from_bytes(&bytes)
            .map(PageForm)
            .map_err(|_| bad_form(StatusCode::BAD_REQUEST))
    }
}

fn bad_form(status: StatusCode) -> Response {
    Message::new(
        "The form could not be read",
        "Go back, reload the page and try again.",
    )
    .into_page(status)
}

/// The client as this server sees it: its address ([`crate::client`]:
/// the peer, or behind a trusted proxy the forwarded client) and the user
/// agent, truncated.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Client {
    /// The address as text, for audit events and sessions.
    pub fn source(&self) -> Option<String> {
        self.addr.map(|a| a.to_string())
    }
}

impl From<Client> for lanyard_app::Client {
    fn from(c: Client) -> Self {
        lanyard_app::Client {
            addr: c.addr,
            user_agent: c.user_agent,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = crate::client::client_addr(&parts.extensions);
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        Ok(Client { addr, user_agent })
    }
}

/// A POST whose `Origin` names another site.
pub fn cross_origin() -> Response {
    Message::new(
        "Request refused",
        "This form was sent from another site. Open Lanyard directly and try again.",
    )
    .into_page(StatusCode::FORBIDDEN)
}

/// A form whose CSRF token is missing or wrong (or whose page expired).
pub fn csrf_refused(again: &str) -> Response {
    Message::new(
        "Request refused",
        "This form has expired or did not come from Lanyard. Reload the page and try again.",
    )
    .with_link(again, "Try again")
    .into_page(StatusCode::FORBIDDEN)
}

/// The per-address sign-in limit was reached.
pub fn too_many_attempts() -> Response {
    let mut response = Message::new(
        "Too many sign-in attempts",
        "Too many sign-in attempts came from your network. Wait a minute and try again.",
    )
    .into_page(StatusCode::TOO_MANY_REQUESTS);
    response
        .headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from_static("60"));
    response
}

/// `message` as a sentence: a capital first letter and a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The 429 page of a source refused for an account until `until`
/// (`Retry-After` says how long).
pub fn throttled(until: time::OffsetDateTime, now: time::OffsetDateTime) -> Response {
    let seconds = (until - now).whole_seconds().max(1);
    let minutes = (seconds + 59) / 60;
    let mut response = Message::new(
        "Too many failed attempts",
        format!(
            "Too many failed sign-ins for this account came from your address. Try again in \
             {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ),
    )
    .into_page(StatusCode::TOO_MANY_REQUESTS);
    if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// What a locked account is told: until when, and that an administrator
/// can unlock it sooner.
pub fn locked_message(until: Option<time::OffsetDateTime>) -> String {
    match until {
        Some(until) => {
            let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            let at = until
                .to_offset(time::UtcOffset::UTC)
                .format(&f)
                .unwrap_or_default();
            format!(
                "This account is locked after too many failed sign-ins until {at}. An \
                 administrator can unlock it sooner."
            )
        }
        None => "This account is locked after too many failed sign-ins. Try again later or \
                 ask an administrator to unlock it."
            .to_owned(),
    }
}

/// An error in a page handler, as a page: 404 naming what is missing, 400
/// with the broken rules, 409 (in use, refused), 403, or a generic 500
/// (logged).
#[derive(Debug)]
pub struct PageError(Error);

impl From<Error> for PageError {
    fn from(err: Error) -> Self {
        PageError(err)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.0 {
            Error::NotFound { kind, id } => {
                tracing::info!("page: {kind} {id:?} not found");
                // `id` is what the request named; the page escapes it.
                let id: String = id.chars().take(80).collect();
                Message::new(
                    "Not found",
                    format!("There is no {kind} {id:?} (any more)."),
                )
                .into_page(StatusCode::NOT_FOUND)
            }
            Error::Invalid(fields) => {
                tracing::info!(?fields, "page: invalid input");
                let text = fields
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                Message::new("The request was not accepted", text)
                    .into_page(StatusCode::BAD_REQUEST)
            }
            Error::Conflict { field, value } => {
                tracing::info!("page: {field} {value:?} is already in use");
                Message::new(
                    "Already in use",
                    format!("{field} {value:?} is already in use."),
                )
                .into_page(StatusCode::CONFLICT)
            }
            Error::Refused(message) => {
                tracing::info!(message = %message.escape_debug(), "page: refused");
                Message::new("Not possible", sentence(&message)).into_page(StatusCode::CONFLICT)
            }
            Error::Forbidden(message) => {
                tracing::info!(message = %message.escape_debug(), "page: forbidden");
                Message::new("Not allowed", sentence(&message)).into_page(StatusCode::FORBIDDEN)
            }
            err => super::failure_page(
                &err,
                "page handler",
                "Lanyard could not complete this request. Please try again in a moment.",
            ),
        }
    }
}

/// What page handlers return.
pub type PageResult = Result<Response, PageError>;
