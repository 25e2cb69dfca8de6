//! Admin sign-in and sign-out: `GET/POST /admin/login`, `POST /admin/logout`.
//!
//! Order of checks on `POST /admin/login`, as for `/login`: `Origin` and the
//! double-submit CSRF cookie `lanyard_admin_csrf` (403 page), then the
//! per-address rate limit shared with `/login` (429 page), then the admin is
//! looked up by email; an unknown email still costs one argon2 verification
//! (against a dummy hash) and gets the same message as a wrong password.
//!
//! Lockout: admins have no failure counter (the `admins` table has none);
//! the per-address rate limit is what slows guessing. A per-admin counter
//! like the users' `claim_login_attempt` is follow-up work.
//!
//! A session the browser already had is ended first (no fixation), and
//! expired admin sessions are purged at each admin sign-in (rare, and one
//! indexed DELETE). Audit: `admin.sign_in`, `admin.sign_in_failed` (reason
//! `unknown_admin`, `wrong_password`, `rate_limited`), `admin.sign_out`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::audit::AuditEvent;
use lanyard_core::session::{token_hash, NewAdminSession};
use serde::Deserialize;
use serde_json::json;

use super::{ADMIN_COOKIE, ADMIN_CSRF_COOKIE, ADMIN_PATH};
use crate::pages::forms::{cross_origin, too_many_attempts, Client, PageForm, PageResult};
use crate::pages::page;
use crate::ratelimit::Verdict;
use crate::session::{cookie, cookie_at, new_token, safe_next, same_origin, tokens_match};
use crate::AppState;

/// The message for an unknown email and a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

const MAX_LOGIN: usize = 320;

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

pub(super) fn is_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
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

fn record(
    state: &AppState,
    client: &Client,
    actor: &str,
    action: &str,
    target: String,
    summary: serde_json::Value,
) {
    state.audit.record(
        AuditEvent::new(
            state.clock.now(),
            actor,
            action,
            target,
            summary.to_string(),
        )
        .from_source(client.source()),
    );
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
    let existing = cookie(&headers, ADMIN_CSRF_COOKIE).filter(|t| is_token(t));
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
            cookie_at(
                &state.settings,
                ADMIN_CSRF_COOKIE,
                &token,
                ADMIN_PATH,
                "; SameSite=Strict",
            ),
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
    if !same_origin(&headers, &state.settings) {
        return Ok(cross_origin());
    }
    let next = admin_next(Some(&form.next));
    if !tokens_match(
        cookie(&headers, ADMIN_CSRF_COOKIE).unwrap_or(""),
        &form.csrf,
    ) {
        return Ok(super::admin_csrf_refused());
    }
    let now = state.clock.now();
    let email: String = form.email.trim().chars().take(MAX_LOGIN).collect();
    if let Verdict::Limited { first } = state.sign_in.check(client.addr, now) {
        if first {
            record(
                &state,
                &client,
                "anonymous",
                "admin.sign_in_failed",
                format!("login:{email}"),
                json!({"reason": "rate_limited"}),
            );
        }
        return Ok(too_many_attempts());
    }
    let refuse = || {
        Ok(page(
            StatusCode::OK,
            &LoginPage {
                csrf: &form.csrf,
                next: &next,
                email: &email,
                error: Some(WRONG_CREDENTIALS),
            },
        ))
    };
    let sign_in = state.access.admin_sign_in();
    let found = if email.is_empty() {
        None
    } else {
        sign_in.find_admin_by_email(&email).await?
    };
    let Some((admin, hash)) = found else {
        state.passwords.verify(form.password, None).await?;
        record(
            &state,
            &client,
            "anonymous",
            "admin.sign_in_failed",
            format!("login:{email}"),
            json!({"reason": "unknown_admin"}),
        );
        return refuse();
    };
    let actor = format!("admin:{}", admin.email);
    let target = format!("admin:{}", admin.id);
    if !state
        .passwords
        .verify(form.password.clone(), Some(hash))
        .await?
    {
        record(
            &state,
            &client,
            &actor,
            "admin.sign_in_failed",
            target,
            json!({"reason": "wrong_password"}),
        );
        return refuse();
    }
    if let Some(token) = cookie(&headers, ADMIN_COOKIE).filter(|t| is_token(t)) {
        if let Some((old, _)) = sign_in.find_admin_session(&token_hash(token)).await? {
            sign_in.delete_admin_session(old.id).await?;
        }
    }
    let token = new_token()?;
    let session = sign_in
        .create_admin_session(&NewAdminSession {
            token_hash: token_hash(&token),
            admin_id: admin.id,
            csrf_secret: new_token()?,
            now,
            expires_at: now + state.settings.auth.session_max,
            client: client.source(),
            user_agent: client.user_agent.clone(),
        })
        .await?;
    if let Err(err) = sign_in
        .purge_admin_sessions(now, now - state.settings.auth.session_idle)
        .await
    {
        tracing::warn!("purging expired admin sessions failed: {err}");
    }
    record(
        &state,
        &client,
        &actor,
        "admin.sign_in",
        target,
        json!({"session": session.id}),
    );
    let mut response = see_other(&next);
    response.headers_mut().append(
        SET_COOKIE,
        cookie_at(
            &state.settings,
            ADMIN_COOKIE,
            &token,
            ADMIN_PATH,
            "; SameSite=Strict",
        ),
    );
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
    if !same_origin(&headers, &state.settings) {
        return Ok(cross_origin());
    }
    let sign_in = state.access.admin_sign_in();
    if let Some(token) = cookie(&headers, ADMIN_COOKIE).filter(|t| is_token(t)) {
        if let Some((session, admin)) = sign_in.find_admin_session(&token_hash(token)).await? {
            if !tokens_match(&session.csrf_secret, &form.csrf) {
                return Ok(super::admin_csrf_refused());
            }
            sign_in.delete_admin_session(session.id).await?;
            record(
                &state,
                &client,
                &format!("admin:{}", admin.email),
                "admin.sign_out",
                format!("admin:{}", session.admin_id),
                json!({"session": session.id}),
            );
        }
    }
    let mut response = see_other("/admin/login");
    response.headers_mut().append(
        SET_COOKIE,
        cookie_at(
            &state.settings,
            ADMIN_COOKIE,
            "",
            ADMIN_PATH,
            "; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}
