//! Admin sign-in and sign-out: `GET/POST /admin/login`, `GET/POST
//! /admin/login/totp` (the second factor), `GET/POST /admin/enroll` (TOTP
//! enrollment when the instance requires a second factor and the admin has
//! none), `POST /admin/logout`.
//!
//! `POST /admin/login` checks `Origin` and the double-submit CSRF cookie
//! `lanyard_admin_csrf` first (403 page), then runs the sign-in state
//! machine users have (`lanyard_app::sign_in::admin`: the per-address rate
//! limit shared with `/login`, lookup by email, the source's and the
//! account's attempt slots, password, disabled, second factor) and maps its
//! outcome to a page and the `lanyard_admin` cookie. An unknown email and
//! a wrong password get the same message. The half-done stages keep the
//! session in the same cookie; their forms carry the session's own CSRF
//! secret, and nothing else in the portal accepts such a session.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_app::admins;
use lanyard_app::sessions::is_token;
use lanyard_app::sign_in::{self, Attempt, Outcome, SecondFactor};
use lanyard_core::session::{AdminSession, SessionStage};
use serde::Deserialize;

use super::ADMIN_PATH;
use crate::pages::forms::{
    cross_origin, locked_message, throttled, too_many_attempts, Client, PageForm, PageResult,
};
use crate::pages::portal::{shown, Enrollment};
use crate::pages::{page, Message};
use crate::session::{new_token, safe_next, same_origin, tokens_match, Cookie};
use crate::AppState;

/// The message for an unknown email and a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/login/totp", get(totp_page).post(totp_step))
        .route("/admin/enroll", get(enroll_page).post(enroll))
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

#[derive(Template)]
#[template(path = "admin/login_totp.html")]
struct TotpPage<'a> {
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "admin/enroll.html")]
struct EnrollPage<'a> {
    csrf: &'a str,
    next: &'a str,
    enrollment: Enrollment,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
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
    let step = |path: &str| {
        format!(
            "{path}?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    };
    let (token, location) = match sign_in::admin(&state.lanyard, attempt).await? {
        Outcome::SignedIn { token } => (token, next.clone()),
        Outcome::NeedsSecondFactor { token } => (token, step("/admin/login/totp")),
        Outcome::MustEnroll { token } => (token, step("/admin/enroll")),
        Outcome::RateLimited => return Ok(too_many_attempts()),
        Outcome::Throttled { until } => return Ok(throttled(until, state.lanyard.now())),
        Outcome::WrongCredentials => return Ok(refuse(WRONG_CREDENTIALS)),
        Outcome::Locked { until } => {
            let mut r = refuse(&locked_message(until));
            *r.status_mut() = StatusCode::FORBIDDEN;
            return Ok(r);
        }
        Outcome::Suspended => {
            return Ok(Message::new(
                "You are not signed in",
                "This admin account is disabled. Another administrator can enable it.",
            )
            .into_page(StatusCode::FORBIDDEN))
        }
    };
    let mut response = see_other(&location);
    response
        .headers_mut()
        .append(SET_COOKIE, Cookie::Admin.set(state.settings(), &token).1);
    Ok(response)
}

/// The half-done admin sign-in of this request at `stage`, if any.
async fn pending(
    state: &AppState,
    headers: &HeaderMap,
    stage: SessionStage,
) -> lanyard_core::Result<Option<AdminSession>> {
    match Cookie::Admin.read(headers, state.settings()) {
        Some(token) => sign_in::admin_pending(&state.lanyard, token, stage).await,
        None => Ok(None),
    }
}

/// The half-done session a code form posts for: `Origin` ours, a live
/// session at `stage`, and the form's CSRF token the session's own; else
/// the page to answer (403, or back to sign-in).
async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    stage: SessionStage,
    form: &CodeForm,
    next: &str,
) -> lanyard_core::Result<Result<AdminSession, Response>> {
    if !same_origin(headers, state.settings()) {
        return Ok(Err(cross_origin()));
    }
    let Some(session) = pending(state, headers, stage).await? else {
        return Ok(Err(to_admin_login(next)));
    };
    if !tokens_match(&session.csrf_secret, &form.csrf) {
        return Ok(Err(super::admin_csrf_refused()));
    }
    Ok(Ok(session))
}

fn to_admin_login(next: &str) -> Response {
    see_other(&format!(
        "/admin/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    ))
}

/// The page for a half-done sign-in that was ended, saying why.
fn not_signed_in(state: &AppState, message: &str) -> Response {
    let mut response = Message::new("You are not signed in", message)
        .with_link("/admin/login", "Sign in")
        .into_page(StatusCode::FORBIDDEN);
    response
        .headers_mut()
        .append(SET_COOKIE, Cookie::Admin.clear(state.settings()).1);
    response
}

/// Signed in: on to `next` under the session's new token.
fn signed_in(state: &AppState, next: &str, token: &str) -> Response {
    let mut response = see_other(next);
    response
        .headers_mut()
        .append(SET_COOKIE, Cookie::Admin.set(state.settings(), token).1);
    response
}

async fn totp_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = admin_next(q.next.as_deref());
    let Some(session) = pending(&state, &headers, SessionStage::AwaitingTotp).await? else {
        return Ok(to_admin_login(&next));
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
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    let next = admin_next(Some(&form.next));
    let session = match posted(&state, &headers, SessionStage::AwaitingTotp, &form, &next).await? {
        Ok(session) => session,
        Err(refusal) => return Ok(refusal),
    };
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
        match sign_in::admin_second_factor(&state.lanyard, &session, &form.code, &client).await? {
            SecondFactor::RateLimited => too_many_attempts(),
            SecondFactor::Restart => to_admin_login(&next),
            SecondFactor::Suspended => not_signed_in(&state, "This admin account is disabled."),
            SecondFactor::Throttled { until } => throttled(until, state.lanyard.now()),
            SecondFactor::Locked { until } => not_signed_in(&state, &locked_message(until)),
            SecondFactor::WrongCode => again("Wrong code. Check the app and try again."),
            SecondFactor::ReplayedCode => {
                again("This code was already used. Wait for the app to show the next one.")
            }
            SecondFactor::SignedIn { token } => signed_in(&state, &next, &token),
        },
    )
}

/// Enrollment of a second factor the instance requires: a new pending
/// secret on every visit, as in the user portal.
async fn enroll_page(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = admin_next(q.next.as_deref());
    let Some(session) = pending(&state, &headers, SessionStage::Enrolling).await? else {
        return Ok(to_admin_login(&next));
    };
    let owner = admins::enrolling_owner(&state.lanyard, &session).await?;
    let enrollment = match lanyard_app::factors::start_totp(&state.lanyard, &owner).await? {
        admins::TotpPage::Enrolling(e) => e,
        // On already (another window finished): complete this session too.
        admins::TotpPage::On => {
            return Ok(
                match admins::finish_enrollment(&state.lanyard, &session, &client.into()).await? {
                    Some(token) => signed_in(&state, &next, &token),
                    None => to_admin_login(&next),
                },
            )
        }
        // The enrollment window (five minutes) is the recent authentication.
        admins::TotpPage::NeedsPassword => return Ok(to_admin_login(&next)),
    };
    Ok(page(
        StatusCode::OK,
        &EnrollPage {
            csrf: &session.csrf_secret,
            next: &next,
            enrollment: shown(enrollment)?,
            error: None,
        },
    ))
}

async fn enroll(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    let next = admin_next(Some(&form.next));
    let session = match posted(&state, &headers, SessionStage::Enrolling, &form, &next).await? {
        Ok(session) => session,
        Err(refusal) => return Ok(refusal),
    };
    let l = &state.lanyard;
    let client = client.into();
    let owner = admins::enrolling_owner(l, &session).await?;
    let (again, error) =
        match lanyard_app::factors::confirm_totp(l, &owner, &form.code, &client).await? {
            admins::TotpConfirmation::Enabled | admins::TotpConfirmation::NothingPending => {
                return Ok(
                    match admins::finish_enrollment(l, &session, &client).await? {
                        Some(token) => signed_in(&state, &next, &token),
                        None => see_other(&format!(
                            "/admin/enroll?next={}",
                            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                        )),
                    },
                )
            }
            admins::TotpConfirmation::NeedsPassword => return Ok(to_admin_login(&next)),
            admins::TotpConfirmation::WrongCode(again) => (
                again,
                "Wrong code. Check that the app shows Lanyard's new entry and try again.",
            ),
            admins::TotpConfirmation::Replaced(again) => (
                again,
                "The setup was replaced in another window. Start again with the new code below.",
            ),
        };
    Ok(page(
        StatusCode::OK,
        &EnrollPage {
            csrf: &session.csrf_secret,
            next: &next,
            enrollment: shown(again)?,
            error: Some(error),
        },
    ))
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
