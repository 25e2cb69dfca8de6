//! Who is calling: `Authorization: Bearer <api key>` turned into a capability.
//!
//! [`Caller`] is any authenticated key and carries a `lanyard_app::Reader`;
//! [`ApiWriter`] exists only for a role that may write and carries a
//! `lanyard_app::Writer` (with the client address for the audit log). A
//! handler that changes state takes an `ApiWriter`, so it cannot compile
//! without the role check.
//! Missing, malformed, unknown, revoked and expired keys are all 401 with a
//! `WWW-Authenticate: Bearer` challenge (an expired key's message says it
//! expired); a read-only key on a write route is 403.
//!
//! The client address for the audit log is [`crate::client`]'s (the peer,
//! or behind a trusted proxy the forwarded client).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use lanyard_app::{Authenticated, KeyCheck, Reader, Writer};

use super::error::{ApiError, ApiResult};
use crate::AppState;

/// Any authenticated caller.
pub struct Caller {
    pub read: Reader,
}

/// An authenticated caller whose role may write.
pub struct ApiWriter(Writer);

impl std::ops::Deref for ApiWriter {
    type Target = Writer;

    fn deref(&self) -> &Writer {
        &self.0
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
    match state.lanyard.authenticate_api_key(token).await? {
        KeyCheck::Valid(who) => Ok(who),
        KeyCheck::Unknown => Err(ApiError::Unauthorized {
            message: "unknown or revoked API key",
            invalid_token: true,
        }),
        KeyCheck::Expired => Err(ApiError::Unauthorized {
            message: "this API key has expired: create a new one",
            invalid_token: true,
        }),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let who = authenticate(parts, state).await?;
        Ok(Caller {
            read: state.lanyard.reader(&who),
        })
    }
}

impl FromRequestParts<AppState> for ApiWriter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let who = authenticate(parts, state).await?;
        let source = crate::client::client_addr(&parts.extensions).map(|addr| addr.to_string());
        let Some(writer) = state.lanyard.writer(&who, source) else {
            return Err(ApiError::Forbidden(format!(
                "{} has the {} role, which cannot change anything",
                who.actor().label,
                who.actor().role.as_str()
            )));
        };
        Ok(ApiWriter(writer))
    }
}
