//! Signing in and out: `GET/POST /login`, `GET/POST /login/totp` (the second
//! factor, when the user has enrolled one) and `POST /logout`.
//!
//! `POST /login` checks `Origin` (when sent) and the CSRF token against
//! the `lanyard_csrf` double-submit cookie first (a 403 page otherwise,
//! before anything is counted or looked up), then runs the sign-in state
//! machine (`lanyard_app::sign_in::user`: rate limit, lookup, lockout slot,
//! password, suspension, session) and maps its outcome to a page and a
//! cookie. The TOTP step (`/login/totp`) checks the half-done session's own
//! CSRF token, then `lanyard_app::sign_in::second_factor`. Messages: an
//! unknown user and a wrong password get the same text,
//! [`WRONG_CREDENTIALS`].

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_app::sessions::is_token;
use lanyard_app::sign_in::{self, Attempt, Outcome, SecondFactor};
use serde::Deserialize;

use super::forms::{
    cross_origin, csrf_refused, locked_message, throttled, too_many_attempts, Client, PageForm,
    PageResult,
};
use super::{page, Message};
use crate::session::{new_token, safe_next, same_origin, to_login, tokens_match, Cookie};
use crate::AppState;

/// The message for an unknown user and for a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "Wrong email/username or password.";
pub const SUSPENDED: &str = "This account is suspended.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/totp", get(totp_page).post(totp_step))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    login: &'a str,
    error: Option<&'a str>,
    /// The application asked for a fresh sign-in.
    again: bool,
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpPage<'a> {
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    /// `1`: show the form even to a signed-in browser (an application asked
    /// for a fresh sign-in, `ForceAuthn`).
    force: Option<String>,
}

// No `Debug`: it would print the password.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct TotpForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn see_other(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/portal"));
    (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response()
}

/// The sign-in form. A signed-in visitor goes straight on to `next`.
async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = safe_next(q.next.as_deref());
    let force = q.force.as_deref() == Some("1");
    if !force && crate::session::current(&state, &headers).await?.is_some() {
        return Ok(see_other(&next));
    }
    // Keep a well-formed token the browser already has, so two open sign-in
    // tabs do not invalidate each other.
    let existing = Cookie::Csrf
        .read(&headers, state.settings())
        .filter(|t| is_token(t));
    let token = match existing {
        Some(t) => t.to_owned(),
        None => new_token()?,
    };
    let mut response = if force {
        page(
            StatusCode::OK,
            &LoginPage {
                csrf: &token,
                next: &next,
                login: "",
                error: None,
                again: true,
            },
        )
    } else {
        login_form(StatusCode::OK, &token, &next, "", None)
    };
    if existing.is_none() {
        let (name, value) = Cookie::Csrf.set(state.settings(), &token);
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

fn login_form(
    status: StatusCode,
    csrf: &str,
    next: &str,
    login: &str,
    error: Option<&str>,
) -> Response {
    page(
        status,
        &LoginPage {
            csrf,
            next,
            login,
            error,
            again: false,
        },
    )
}

async fn login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<LoginForm>,
) -> PageResult {
    if !same_origin(&headers, state.settings()) {
        return Ok(cross_origin());
    }
    let next = safe_next(Some(&form.next));
    let csrf_cookie_value = Cookie::Csrf.read(&headers, state.settings()).unwrap_or("");
    if !tokens_match(csrf_cookie_value, &form.csrf) {
        return Ok(csrf_refused(&login_url(&next)));
    }
    let login: String = form.login.trim().chars().take(sign_in::MAX_LOGIN).collect();
    let attempt = Attempt {
        login: login.clone(),
        password: form.password,
        client: client.into(),
        presented_token: Cookie::Session
            .read(&headers, state.settings())
            .map(str::to_owned),
    };
    let refuse = |status, message| Ok(login_form(status, &form.csrf, &next, &login, Some(message)));
    let (token, location) = match sign_in::user(&state.lanyard, attempt).await? {
        Outcome::RateLimited => return Ok(too_many_attempts()),
        Outcome::WrongCredentials => return refuse(StatusCode::OK, WRONG_CREDENTIALS),
        Outcome::Throttled { until } => return Ok(throttled(until, state.lanyard.now())),
        Outcome::Locked { until } => return refuse(StatusCode::FORBIDDEN, &locked_message(until)),
        Outcome::Suspended => return refuse(StatusCode::FORBIDDEN, SUSPENDED),
        // Users have no enrollment stage.
        Outcome::MustEnroll { .. } => return Ok(to_login(&next)),
        Outcome::SignedIn { token } => (token, next),
        Outcome::NeedsSecondFactor { token } => (
            token,
            format!(
                "/login/totp?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ),
        ),
    };
    let mut response = see_other(&location);
    let (name, value) = Cookie::Session.set(state.settings(), &token);
    response.headers_mut().append(name, value);
    Ok(response)
}

fn login_url(next: &str) -> String {
    format!(
        "/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

/// The half-done sign-in of this request, if any (see
/// `lanyard_app::sign_in::pending`).
async fn pending_session(
    state: &AppState,
    headers: &HeaderMap,
) -> lanyard_core::Result<Option<lanyard_core::session::Session>> {
    match Cookie::Session.read(headers, state.settings()) {
        Some(token) => sign_in::pending(&state.lanyard, token).await,
        None => Ok(None),
    }
}

async fn totp_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = safe_next(q.next.as_deref());
    let Some(session) = pending_session(&state, &headers).await? else {
        return Ok(to_login(&next));
    };
    Ok(page(
        StatusCode::OK,
        &TotpPage {
            csrf: &session.csrf_secret,
            next: &next,
            error: None,
        },
    ))
}

async fn totp_step(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<TotpForm>,
) -> PageResult {
    if !same_origin(&headers, state.settings()) {
        return Ok(cross_origin());
    }
    let next = safe_next(Some(&form.next));
    let Some(session) = pending_session(&state, &headers).await? else {
        return Ok(to_login(&next));
    };
    if !tokens_match(&session.csrf_secret, &form.csrf) {
        return Ok(csrf_refused(&login_url(&next)));
    }
    let again = |error: &str| {
        page(
            StatusCode::OK,
            &TotpPage {
                csrf: &session.csrf_secret,
                next: &next,
                error: Some(error),
            },
        )
    };
    let client = client.into();
    Ok(
        match sign_in::second_factor(&state.lanyard, &session, &form.code, &client).await? {
            SecondFactor::RateLimited => too_many_attempts(),
            SecondFactor::Restart => to_login(&next),
            SecondFactor::Suspended => not_signed_in(&state, SUSPENDED),
            SecondFactor::Throttled { until } => throttled(until, state.lanyard.now()),
            SecondFactor::Locked { until } => not_signed_in(&state, &locked_message(until)),
            SecondFactor::WrongCode => again("Wrong code. Check the app and try again."),
            SecondFactor::ReplayedCode => {
                again("This code was already used. Wait for the app to show the next one.")
            }
            SecondFactor::SignedIn { token } => {
                // The session continues under a new token.
                let mut response = see_other(&next);
                let (name, value) = Cookie::Session.set(state.settings(), &token);
                response.headers_mut().append(name, value);
                response
            }
        },
    )
}

/// The page for a half-done sign-in that was ended, saying why.
fn not_signed_in(state: &AppState, message: &str) -> Response {
    let mut response = Message::new("You are not signed in", message)
        .with_link("/login", "Sign in")
        .into_page(StatusCode::FORBIDDEN);
    let (name, value) = Cookie::Session.clear(state.settings());
    response.headers_mut().append(name, value);
    response
}

/// Ends the browser's session (any stage). The CSRF token is the session's
/// own; without a session there is nothing to protect and the cookie is
/// simply cleared.
async fn logout(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfForm>,
) -> PageResult {
    if !same_origin(&headers, state.settings()) {
        return Ok(cross_origin());
    }
    let presented = match Cookie::Session
        .read(&headers, state.settings())
        .filter(|t| is_token(t))
    {
        Some(token) => lanyard_app::sessions::presented(&state.lanyard, token).await?,
        None => None,
    };
    if let Some(session) = presented {
        if !tokens_match(&session.csrf_secret, &form.csrf) {
            return Ok(csrf_refused("/portal"));
        }
        lanyard_app::sessions::sign_out(&state.lanyard, &session, &client.into()).await?;
    }
    let mut response = see_other("/login");
    let (name, value) = Cookie::Session.clear(state.settings());
    response.headers_mut().append(name, value);
    Ok(response)
}
