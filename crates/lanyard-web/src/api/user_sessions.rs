//! `/api/v1/users/{id}/sessions`, `/sign-in`, `/unlock` and `/totp`: what an
//! admin sees and does about a user's signing in.
//!
//! Sessions are listed (never their token, which only the browser has),
//! with the history of those that ended and why, and revoked one by one or
//! all at once; revocation takes effect on every node
//! at the next request, since sessions live in the database. `unlock` sets
//! the failure counter back to 0; `DELETE .../totp` removes the user's
//! second factor (enrolled or pending), so the next sign-in needs only the
//! password and the user can enroll again. Every write is audited.
//!
//! The writes are `lanyard_app::directory::security`, shared with the admin
//! portal's user page so both record the same events.

use axum::http::StatusCode;
use axum::Json;
use lanyard_app::directory::security;
use lanyard_core::session::{EndedSession, Session, SignInState};
use lanyard_core::{SessionId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{ApiWriter, Caller};
use super::error::ApiResult;
use super::input::{ApiPath, IdPath};
use super::TAG_USERS;
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, revoke_sessions))
        .routes(routes!(list_ended_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(get_sign_in))
        .routes(routes!(unlock))
        .routes(routes!(reset_totp))
}

/// A server-side browser session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    /// `complete`, or `awaiting_totp` between the password and the code.
    #[schema(example = "complete")]
    pub stage: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    /// The absolute end; the session also ends after the idle timeout.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// Whether it still counts now (neither idle nor past its end).
    pub live: bool,
    /// The client address at sign-in.
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

impl SessionView {
    fn new(s: Session, now: OffsetDateTime, idle: time::Duration) -> Self {
        SessionView {
            live: s.is_live(now, idle),
            id: s.id.0,
            stage: s.stage.as_str(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            client: s.client,
            user_agent: s.user_agent,
        }
    }
}

/// A session after it ended (the session history; no token was kept).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSessionView {
    pub id: i64,
    /// The stage it had reached: `complete`, or `awaiting_totp`.
    #[schema(example = "complete")]
    pub stage: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: OffsetDateTime,
    /// Why: `signed_out`, `replaced` (signed in again in the same
    /// browser), `expired`, `idle`, `revoked`, `password_changed`,
    /// `suspended`, `totp_reset` or `refused` (at the second factor).
    #[schema(example = "signed_out")]
    pub reason: &'static str,
    /// How the user authenticated: `password` or `password+totp`.
    #[schema(example = "password+totp")]
    pub methods: &'static str,
    pub client: Option<String>,
    pub user_agent: Option<String>,
}

impl From<EndedSession> for EndedSessionView {
    fn from(s: EndedSession) -> Self {
        EndedSessionView {
            id: s.id.0,
            stage: s.stage.as_str(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            ended_at: s.ended_at,
            reason: s.reason.as_str(),
            methods: s.methods.as_str(),
            client: s.client,
            user_agent: s.user_agent,
        }
    }
}

/// How many sessions a revocation ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// A user's sign-in state (no secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInView {
    /// Consecutive failed sign-ins (password or code) since the last
    /// success or unlock.
    pub failures: u32,
    /// The failure count at which the account locks.
    pub max_failures: u32,
    /// Sign-in is refused now because of a lock (an admin can unlock at
    /// once).
    pub locked: bool,
    /// Until when, when locked.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<time::OffsetDateTime>,
    /// The user has a confirmed TOTP second factor.
    pub totp_enabled: bool,
    /// The user has started TOTP enrollment but not confirmed it.
    pub totp_pending: bool,
}

impl SignInView {
    pub(crate) fn new(s: &SignInState, state: &AppState) -> Self {
        let now = state.lanyard.now();
        SignInView {
            failures: s.failures,
            max_failures: state.settings().auth.max_failures,
            locked: s.is_locked(now),
            locked_until: s.locked_at(now),
            totp_enabled: s.totp_enabled(),
            totp_pending: s.totp_pending.is_some(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct SessionPath {
    id: i64,
    session_id: i64,
}

/// The user's sessions, newest first (lapsed ones stay listed, `live:
/// false`, until they are purged into the history: `.../sessions/ended`).
#[utoipa::path(get, path = "/users/{id}/sessions", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SessionView>), (status = 404, body = ErrorBody)))]
async fn list_sessions(
    caller: Caller,
    state: axum::extract::State<AppState>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<Vec<SessionView>>> {
    let sessions = caller.read.list_user_sessions(UserId(id)).await?;
    let now = state.lanyard.now();
    let idle = state.settings().auth.session_idle;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView::new(s, now, idle))
            .collect(),
    ))
}

/// The user's session history: the latest 100 sessions that ended, the
/// latest end first, with why. Kept `ended_session_retention_days` (30 by
/// default).
#[utoipa::path(get, path = "/users/{id}/sessions/ended", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = Vec<EndedSessionView>), (status = 404, body = ErrorBody)))]
async fn list_ended_sessions(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<Vec<EndedSessionView>>> {
    let ended = caller.read.list_ended_sessions(UserId(id)).await?;
    Ok(Json(
        ended.into_iter().map(EndedSessionView::from).collect(),
    ))
}

/// Signs the user out everywhere.
#[utoipa::path(delete, path = "/users/{id}/sessions", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = Revoked), (status = 404, body = ErrorBody)))]
async fn revoke_sessions(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<Revoked>> {
    let revoked = security::revoke_all(&w, UserId(id)).await?;
    Ok(Json(Revoked { revoked }))
}

/// Ends one session of the user.
#[utoipa::path(delete, path = "/users/{id}/sessions/{session_id}", tag = TAG_USERS,
    params(("id" = i64, Path), ("session_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_session(w: ApiWriter, ApiPath(p): ApiPath<SessionPath>) -> ApiResult<StatusCode> {
    security::revoke_one(&w, UserId(p.id), SessionId(p.session_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Failures, lockout and TOTP state.
#[utoipa::path(get, path = "/users/{id}/sign-in", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = SignInView), (status = 404, body = ErrorBody)))]
async fn get_sign_in(
    caller: Caller,
    state: axum::extract::State<AppState>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<SignInView>> {
    let s = caller.read.sign_in_state(UserId(id)).await?;
    Ok(Json(SignInView::new(&s, &state)))
}

/// Ends the lock, sets the failure counter back to 0 and forgets every
/// address's failures, so a locked user may sign in again at once.
#[utoipa::path(post, path = "/users/{id}/unlock", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = SignInView), (status = 404, body = ErrorBody)))]
async fn unlock(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<SignInView>> {
    let after = security::unlock(&w, UserId(id)).await?;
    Ok(Json(SignInView::new(&after, &state)))
}

/// Removes the user's TOTP second factor (confirmed and pending).
#[utoipa::path(delete, path = "/users/{id}/totp", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = SignInView), (status = 404, body = ErrorBody)))]
async fn reset_totp(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<SignInView>> {
    let after = security::reset_totp(&w, UserId(id)).await?;
    Ok(Json(SignInView::new(&after, &state)))
}
