//! Signing in and out: `GET/POST /login`, `GET/POST /login/totp` (the second
//! factor, when the user has enrolled one) and `POST /logout`.
//!
//! Order of checks on `POST /login`, and why:
//! 1. `Origin` (when sent) must be ours, and the CSRF token must match the
//!    `lanyard_csrf` double-submit cookie: a 403 page otherwise, before
//!    anything is counted or looked up.
//! 2. The per-address rate limit ([`crate::ratelimit`]): a 429 page. Only the
//!    first refusal of a window is audited, so a flood cannot flood the log.
//! 3. The user is looked up by email or username. An unknown user still
//!    costs one argon2 verification (against a dummy hash) and gets the same
//!    message as a wrong password, "Wrong email/username or password.".
//! 4. A locked account (the failure counter at `max_failures`) is refused
//!    with the locked message; otherwise one attempt slot is claimed
//!    atomically *before* the password is checked
//!    (`claim_login_attempt`), so parallel guesses check at most
//!    `max_failures` passwords. Lockout reveals that the account exists;
//!    that is inherent to lockout and accepted.
//! 5. The password is verified on the blocking pool. Right: the counter goes
//!    back to 0, unless the user has TOTP, in which case it waits for the
//!    code (password and code attempts share one counter, and only a whole
//!    sign-in resets it, so knowing the password buys no more than
//!    `max_failures` code guesses). Only then is a suspended account told it
//!    is suspended, so suspension is never revealed to someone guessing
//!    passwords.
//! 6. A session is created: `Complete`, or `AwaitingTotp` when the user has
//!    TOTP, in which case the browser goes to `/login/totp`. A session the
//!    browser already had is ended first (no session fixation).
//!
//! The TOTP step claims an attempt slot the same way before checking a code
//! (wrong and replayed codes count as failures), must finish within
//! [`TOTP_STAGE_LIMIT`] of the password, and a code is good once: the store
//! refuses a time step at or before the last one used.
//!
//! Audit: `user.sign_in` (with the method and session id) and
//! `user.sign_in_failed` with `reason` one of `unknown_user`,
//! `wrong_password`, `locked`, `suspended`, `wrong_totp`, `replayed_totp`,
//! `rate_limited`; `user.sign_out`. Never a password or code.
//!
//! Expired sessions are deleted when a request presents one, and all of
//! them at most every [`PURGE_INTERVAL`] per node by the first successful
//! sign-in after it ([`Throttle`]).

use std::sync::{Arc, Mutex, PoisonError};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::audit::AuditEvent;
use lanyard_core::directory::{User, UserState};
use lanyard_core::session::{token_hash, NewSession, Session, SessionStage};
use serde::Deserialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::forms::{cross_origin, csrf_refused, too_many_attempts, Client, PageForm, PageResult};
use super::{page, Message};
use crate::ratelimit::{RateLimiter, Verdict};
use crate::session::{
    clear_session_cookie, cookie, csrf_cookie, new_token, safe_next, same_origin, session_cookie,
    to_login, tokens_match, CSRF_COOKIE, SESSION_COOKIE,
};
use crate::{totp, AppState};

/// The message for an unknown user and for a wrong password alike.
pub const WRONG_CREDENTIALS: &str = "Wrong email/username or password.";
pub const LOCKED: &str =
    "This account is locked after too many failed sign-ins. Ask an administrator to unlock it.";
pub const SUSPENDED: &str = "This account is suspended.";

/// How long the second factor may take after the password.
pub const TOTP_STAGE_LIMIT: Duration = Duration::minutes(5);

/// How often (at most, per node) a sign-in also deletes expired sessions.
pub const PURGE_INTERVAL: Duration = Duration::minutes(10);

/// Longest login name looked up or recorded.
const MAX_LOGIN: usize = 320;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/totp", get(totp_page).post(totp_step))
        .route("/logout", post(logout))
}

/// Per-node, in-memory sign-in state: the per-address rate limiter and when
/// expired sessions were last purged. Cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    limiter: RateLimiter,
    last_purge: Arc<Mutex<Option<OffsetDateTime>>>,
}

impl Throttle {
    pub fn new(attempts_per_minute: u32) -> Self {
        Self {
            limiter: RateLimiter::new(attempts_per_minute),
            last_purge: Arc::default(),
        }
    }

    /// Counts one sign-in attempt from `addr` (the admin sign-in shares the
    /// limit with `/login`).
    pub(crate) fn check(&self, addr: Option<std::net::IpAddr>, now: OffsetDateTime) -> Verdict {
        self.limiter.check(addr, now)
    }

    /// Whether a purge is due at `now`; if so, records it as done.
    fn purge_due(&self, now: OffsetDateTime) -> bool {
        let mut last = self
            .last_purge
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|at| now - at >= PURGE_INTERVAL || now < at);
        if due {
            *last = Some(now);
        }
        due
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    login: &'a str,
    error: Option<&'a str>,
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

/// Records sign-in events for one request.
struct Recorder<'a> {
    state: &'a AppState,
    now: OffsetDateTime,
    source: Option<String>,
}

impl Recorder<'_> {
    fn record(&self, actor: &str, action: &str, target: String, summary: serde_json::Value) {
        self.state.audit.record(
            AuditEvent::new(self.now, actor, action, target, summary.to_string())
                .from_source(self.source.clone()),
        );
    }

    fn failed(&self, user: &User, reason: &str) {
        self.record(
            &actor(user),
            "user.sign_in_failed",
            target(user),
            json!({ "reason": reason }),
        );
    }
}

fn actor(user: &User) -> String {
    format!("user:{}", user.email)
}

fn target(user: &User) -> String {
    format!("user:{}", user.id)
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
    if crate::session::current(&state, &headers).await?.is_some() {
        return Ok(see_other(&next));
    }
    // Keep a well-formed token the browser already has, so two open sign-in
    // tabs do not invalidate each other.
    let existing = cookie(&headers, CSRF_COOKIE).filter(|t| is_token(t));
    let token = match existing {
        Some(t) => t.to_owned(),
        None => new_token()?,
    };
    let mut response = login_form(StatusCode::OK, &token, &next, "", None);
    if existing.is_none() {
        let (name, value) = csrf_cookie(&state.settings, &token);
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

fn is_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
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
        },
    )
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
    let next = safe_next(Some(&form.next));
    let csrf_cookie_value = cookie(&headers, CSRF_COOKIE).unwrap_or("");
    if !tokens_match(csrf_cookie_value, &form.csrf) {
        return Ok(csrf_refused(&login_url(&next)));
    }
    let now = state.clock.now();
    let audit = Recorder {
        state: &state,
        now,
        source: client.source(),
    };
    let login: String = form.login.trim().chars().take(MAX_LOGIN).collect();
    if let Verdict::Limited { first } = state.sign_in.limiter.check(client.addr, now) {
        if first {
            audit.record(
                "anonymous",
                "user.sign_in_failed",
                format!("login:{login}"),
                json!({ "reason": "rate_limited" }),
            );
        }
        return Ok(too_many_attempts());
    }
    let refuse = |status, message| Ok(login_form(status, &form.csrf, &next, &login, Some(message)));

    let flows = state.access.flows();
    let found = if login.is_empty() {
        None
    } else {
        flows.find_user_by_login(&login).await?
    };
    let Some((user, hash)) = found else {
        state.passwords.verify(form.password, None).await?;
        audit.record(
            "anonymous",
            "user.sign_in_failed",
            format!("login:{login}"),
            json!({ "reason": "unknown_user" }),
        );
        return refuse(StatusCode::OK, WRONG_CREDENTIALS);
    };
    let max = state.settings.auth.max_failures;
    let sign_in = flows.sign_in_state(user.id).await?;
    if sign_in.is_locked(max) || !flows.claim_login_attempt(user.id, max).await? {
        audit.failed(&user, "locked");
        return refuse(StatusCode::FORBIDDEN, LOCKED);
    }
    if !state.passwords.verify(form.password, hash).await? {
        audit.failed(&user, "wrong_password");
        return refuse(StatusCode::OK, WRONG_CREDENTIALS);
    }
    // With TOTP the counter waits for the code: resetting it here would let
    // someone who knows the password guess codes forever, a few at a time.
    if !sign_in.totp_enabled() {
        flows.reset_login_failures(user.id).await?;
    }
    if user.state == UserState::Suspended {
        audit.failed(&user, "suspended");
        return refuse(StatusCode::FORBIDDEN, SUSPENDED);
    }

    end_presented_session(&state, &headers).await?;
    let stage = if sign_in.totp_enabled() {
        SessionStage::AwaitingTotp
    } else {
        SessionStage::Complete
    };
    let token = new_token()?;
    let session = flows
        .create_session(&NewSession {
            token_hash: token_hash(&token),
            user_id: user.id,
            stage,
            csrf_secret: new_token()?,
            now,
            expires_at: crate::session::session_expiry(&state, now),
            client: client.source(),
            user_agent: client.user_agent.clone(),
        })
        .await?;
    purge_if_due(&state, now).await;
    let location = match stage {
        SessionStage::Complete => {
            signed_in(&audit, &user, &session, "password");
            next
        }
        SessionStage::AwaitingTotp => format!(
            "/login/totp?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
    };
    let mut response = see_other(&location);
    let (name, value) = session_cookie(&state.settings, &token);
    response.headers_mut().append(name, value);
    Ok(response)
}

fn login_url(next: &str) -> String {
    format!(
        "/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

fn signed_in(audit: &Recorder<'_>, user: &User, session: &Session, method: &str) {
    audit.record(
        &actor(user),
        "user.sign_in",
        target(user),
        json!({ "method": method, "session": session.id }),
    );
}

/// Ends the session whose cookie this request carries, if any (any stage,
/// live or not).
async fn end_presented_session(state: &AppState, headers: &HeaderMap) -> lanyard_core::Result<()> {
    if let Some(session) = presented_session(state, headers).await? {
        state.access.flows().delete_session(session.id).await?;
    }
    Ok(())
}

/// The session named by the request's cookie, whatever its stage or age.
async fn presented_session(
    state: &AppState,
    headers: &HeaderMap,
) -> lanyard_core::Result<Option<Session>> {
    match cookie(headers, SESSION_COOKIE).filter(|t| is_token(t)) {
        Some(token) => state.access.flows().find_session(&token_hash(token)).await,
        None => Ok(None),
    }
}

/// Deletes expired sessions when [`PURGE_INTERVAL`] has passed on this node.
/// A failure is logged: it must not fail the sign-in.
async fn purge_if_due(state: &AppState, now: OffsetDateTime) {
    if !state.sign_in.purge_due(now) {
        return;
    }
    let idle_before = now - state.settings.auth.session_idle;
    match state.access.flows().purge_sessions(now, idle_before).await {
        Ok(n) if n > 0 => tracing::info!("purged {n} expired sessions"),
        Ok(_) => {}
        Err(err) => tracing::warn!("purging expired sessions failed: {err}"),
    }
}

/// The half-done session of this request: `AwaitingTotp`, live, and within
/// [`TOTP_STAGE_LIMIT`] of the password. Anything else is ended (when it is
/// not a complete session) and `None`.
async fn pending_session(
    state: &AppState,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> lanyard_core::Result<Option<Session>> {
    let Some(session) = presented_session(state, headers).await? else {
        return Ok(None);
    };
    if session.stage != SessionStage::AwaitingTotp {
        return Ok(None);
    }
    if !session.is_live(now, state.settings.auth.session_idle)
        || now - session.created_at > TOTP_STAGE_LIMIT
    {
        state.access.flows().delete_session(session.id).await?;
        return Ok(None);
    }
    Ok(Some(session))
}

async fn totp_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = safe_next(q.next.as_deref());
    let Some(session) = pending_session(&state, &headers, state.clock.now()).await? else {
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
    if !same_origin(&headers, &state.settings) {
        return Ok(cross_origin());
    }
    let now = state.clock.now();
    let next = safe_next(Some(&form.next));
    let Some(session) = pending_session(&state, &headers, now).await? else {
        return Ok(to_login(&next));
    };
    if !tokens_match(&session.csrf_secret, &form.csrf) {
        return Ok(csrf_refused(&login_url(&next)));
    }
    let audit = Recorder {
        state: &state,
        now,
        source: client.source(),
    };
    let flows = state.access.flows();
    let user = flows.get_user(session.user_id).await?;
    if let Verdict::Limited { first } = state.sign_in.limiter.check(client.addr, now) {
        if first {
            audit.failed(&user, "rate_limited");
        }
        return Ok(too_many_attempts());
    }
    if user.state == UserState::Suspended {
        audit.failed(&user, "suspended");
        return Ok(end_pending(&state, &session, SUSPENDED).await?);
    }
    let sign_in = flows.sign_in_state(user.id).await?;
    let Some(secret) = sign_in.totp_secret.as_deref() else {
        // Reset by an admin meanwhile: start again.
        flows.delete_session(session.id).await?;
        return Ok(to_login(&next));
    };
    let max = state.settings.auth.max_failures;
    if sign_in.is_locked(max) || !flows.claim_login_attempt(user.id, max).await? {
        audit.failed(&user, "locked");
        return Ok(end_pending(&state, &session, LOCKED).await?);
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
    let Some(step) = totp::check(secret, &form.code, now)? else {
        audit.failed(&user, "wrong_totp");
        return Ok(again("Wrong code. Check the app and try again."));
    };
    if !flows.use_totp_step(user.id, step).await? {
        audit.failed(&user, "replayed_totp");
        return Ok(again(
            "This code was already used. Wait for the app to show the next one.",
        ));
    }
    flows.reset_login_failures(user.id).await?;
    let session = flows.complete_session(session.id, now).await?;
    signed_in(&audit, &user, &session, "password+totp");
    Ok(see_other(&next))
}

/// Ends a half-done sign-in with a page saying why.
async fn end_pending(
    state: &AppState,
    session: &Session,
    message: &str,
) -> lanyard_core::Result<Response> {
    state.access.flows().delete_session(session.id).await?;
    let mut response = Message::new("You are not signed in", message)
        .with_link("/login", "Sign in")
        .into_page(StatusCode::FORBIDDEN);
    let (name, value) = clear_session_cookie(&state.settings);
    response.headers_mut().append(name, value);
    Ok(response)
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
    if !same_origin(&headers, &state.settings) {
        return Ok(cross_origin());
    }
    if let Some(session) = presented_session(&state, &headers).await? {
        if !tokens_match(&session.csrf_secret, &form.csrf) {
            return Ok(csrf_refused("/portal"));
        }
        let flows = state.access.flows();
        flows.delete_session(session.id).await?;
        if let Ok(user) = flows.get_user(session.user_id).await {
            Recorder {
                state: &state,
                now: state.clock.now(),
                source: client.source(),
            }
            .record(
                &actor(&user),
                "user.sign_out",
                target(&user),
                json!({ "session": session.id }),
            );
        }
    }
    let mut response = see_other("/login");
    let (name, value) = clear_session_cookie(&state.settings);
    response.headers_mut().append(name, value);
    Ok(response)
}
