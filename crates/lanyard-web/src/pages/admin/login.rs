//! Admin sign-in and sign-out: `GET/POST /admin/login`, `POST /admin/logout`.
//!
//! `POST /admin/login` checks `Origin` and the double-submit CSRF cookie
//! `lanyard_admin_csrf` first (403 page), then runs the sign-in state
//! machine users have (`lanyard_app::sign_in::admin`: the per-address rate
//! limit shared with `/login`, lookup by email, password; see there for
//! what admins do not have yet) and maps its outcome to a page and the
//! `lanyard_admin` cookie. An unknown email and a wrong password get the
//! same message.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_app::sessions::is_token;
use lanyard_app::sign_in::{self, Attempt, Outcome};
use serde::Deserialize;

use super::ADMIN_PATH;
use crate::pages::forms::{cross_origin, too_many_attempts, Client, PageForm, PageResult};
use crate::pages::{page, Message};
use crate::session::{new_token, safe_next, same_origin, tokens_match, Cookie};
use crate::AppState;

/// The message for an unknown email and a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

// No `Debug`: it would print the password.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
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

/// A local path under `/admin`, else the applications list.
fn admin_next(next: Option<&str>) -> String {
    let n = safe_next(next);
    if n == ADMIN_PATH || n.starts_with("/admin/") || n.starts_with("/admin?") {
        n
    } else {
        "/admin/applications".to_owned()
    }
}

fn see_other(location: &str) -> Response {
    let value =
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/admin/applications"));
    (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response()
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = admin_next(q.next.as_deref());
    if super::current(&state, &headers).await?.is_some() {
        return Ok(see_other(&next));
    }
    let existing = Cookie::AdminCsrf
        .read(&headers, state.settings())
        .filter(|t| is_token(t));
    let token = match existing {
        Some(t) => t.to_owned(),
        None => new_token()?,
    };
    let mut response = page(
        StatusCode::OK,
        &LoginPage {
            csrf: &token,
            next: &next,
            email: "",
            error: None,
        },
    );
    if existing.is_none() {
        response.headers_mut().append(
            SET_COOKIE,
            Cookie::AdminCsrf.set(state.settings(), &token).1,
        );
    }
    Ok(response)
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
    let next = admin_next(Some(&form.next));
    if !tokens_match(
        Cookie::AdminCsrf
            .read(&headers, state.settings())
            .unwrap_or(""),
        &form.csrf,
    ) {
        return Ok(super::admin_csrf_refused());
    }
    let email: String = form.email.trim().chars().take(sign_in::MAX_LOGIN).collect();
    let attempt = Attempt {
        login: email.clone(),
        password: form.password,
        client: client.into(),
        presented_token: Cookie::Admin
            .read(&headers, state.settings())
            .map(str::to_owned),
    };
    let refuse = |message: &str| {
        page(
            StatusCode::OK,
            &LoginPage {
                csrf: &form.csrf,
                next: &next,
                email: &email,
                error: Some(message),
            },
        )
    };
    let token = match sign_in::admin(&state.lanyard, attempt).await? {
        Outcome::SignedIn { token } => token,
        Outcome::RateLimited => return Ok(too_many_attempts()),
        Outcome::WrongCredentials => return Ok(refuse(WRONG_CREDENTIALS)),
        // Admin accounts have no lock, suspension or second factor yet.
        Outcome::Locked | Outcome::Suspended | Outcome::NeedsSecondFactor { .. } => {
            return Ok(
                Message::new("You are not signed in", "This account cannot sign in now.")
                    .into_page(StatusCode::FORBIDDEN),
            )
        }
    };
    let mut response = see_other(&next);
    response
        .headers_mut()
        .append(SET_COOKIE, Cookie::Admin.set(state.settings(), &token).1);
    Ok(response)
}

/// Ends the browser's admin session. The CSRF token is the session's own;
/// without a session there is nothing to protect and the cookie is cleared.
async fn logout(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfForm>,
) -> PageResult {
    if !same_origin(&headers, state.settings()) {
        return Ok(cross_origin());
    }
    if let Some(token) = Cookie::Admin
        .read(&headers, state.settings())
        .filter(|t| is_token(t))
    {
        let l = &state.lanyard;
        if let Some((session, admin)) = lanyard_app::sessions::presented_admin(l, token).await? {
            if !tokens_match(&session.csrf_secret, &form.csrf) {
                return Ok(super::admin_csrf_refused());
            }
            lanyard_app::sessions::sign_out_admin(l, &session, &admin, &client.into()).await?;
        }
    }
    let mut response = see_other("/admin/login");
    response
        .headers_mut()
        .append(SET_COOKIE, Cookie::Admin.clear(state.settings()).1);
    Ok(response)
}
