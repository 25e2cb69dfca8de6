//! Who is calling: `Authorization: Bearer <api key>` turned into a capability.
//!
//! [`Caller`] is any authenticated key and carries a [`ReadAccess`];
//! [`Writer`] exists only for a role that may write and carries the
//! [`WriteAccess`] plus what an audit event needs (actor, time, client
//! address). A handler that changes state takes a `Writer`, so it cannot
//! compile without the role check, and it has the audit context at hand.
//! Missing, malformed, unknown and revoked keys are all 401 with a
//! `WWW-Authenticate: Bearer` challenge; a read-only key on a write route is
//! 403.
//!
//! The client address is the TCP peer (`ConnectInfo`) when the server
//! provides it. `X-Forwarded-For` is ignored: trusting it needs a
//! trusted-proxy setting, which does not exist yet.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use lanyard_core::admin::Actor;
use lanyard_core::audit::AuditEvent;
use serde::Serialize;
use time::OffsetDateTime;

use super::error::{ApiError, ApiResult};
use crate::access::{Authenticated, ReadAccess, WriteAccess};
use crate::audit::Audit;
use crate::secrets::PasswordHasher;
use crate::AppState;

/// Any authenticated caller.
pub struct Caller {
    pub read: ReadAccess,
}

/// An authenticated caller whose role may write.
pub struct Writer {
    pub actor: Actor,
    pub store: WriteAccess,
    now: OffsetDateTime,
    source: Option<String>,
    audit: Audit,
    passwords: PasswordHasher,
}

impl Writer {
    /// The request's "now", read once from the app clock.
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// Hashes a password (argon2id) on a blocking thread.
    pub async fn hash_password(&self, password: String) -> lanyard_core::Result<String> {
        self.passwords.hash(password).await
    }

    /// Records an audit event for this request. `summary` lists the changed
    /// fields with non-secret values; it must never hold a password or key.
    pub fn record(&self, action: &str, target: impl Into<String>, summary: &impl Serialize) {
        let summary = serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned());
        self.audit.record(
            AuditEvent::new(self.now, &self.actor.label, action, target, summary)
                .from_source(self.source.clone()),
        );
    }
}

fn bearer_token(parts: &Parts) -> ApiResult<&str> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthorized {
            message: "this endpoint needs an API key: Authorization: Bearer <key>",
            invalid_token: false,
        })?;
    header
        .to_str()
        .ok()
        .and_then(|text| text.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized {
            message: "the Authorization header must be `Bearer <key>`",
            invalid_token: true,
        })
}

async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<Authenticated> {
    let token = bearer_token(parts)?;
    state
        .access
        .authenticate_api_key(token, state.clock.now())
        .await?
        .ok_or(ApiError::Unauthorized {
            message: "unknown or revoked API key",
            invalid_token: true,
        })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let who = authenticate(parts, state).await?;
        Ok(Caller {
            read: state.access.reader(&who),
        })
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let who = authenticate(parts, state).await?;
        let Some(store) = state.access.writer(&who) else {
            return Err(ApiError::Forbidden(format!(
                "{} has the {} role, which cannot change anything",
                who.actor().label,
                who.actor().role.as_str()
            )));
        };
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Writer {
            actor: who.actor().clone(),
            store,
            now: state.clock.now(),
            source,
            audit: state.audit.clone(),
            passwords: state.passwords.clone(),
        })
    }
}

impl crate::apps_service::Change for Writer {
    fn store(&self) -> &WriteAccess {
        &self.store
    }
    fn now(&self) -> OffsetDateTime {
        self.now
    }
    fn record(&self, action: &str, target: String, summary: &serde_json::Value) {
        Writer::record(self, action, target, summary);
    }
}
