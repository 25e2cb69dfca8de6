//! The REST API's error type, mapped to HTTP here and nowhere else.
//!
//! Domain errors (`lanyard_core::Error`) keep their meaning: `Invalid` -> 400
//! `invalid` with per-field messages, `Conflict` -> 409 naming the field,
//! `Refused` -> 409 `refused` saying which rule, `NotFound` -> 404,
//! `Forbidden` -> 403, `Store` -> 500 `internal` with a
//! generic message (the detail goes to the log only). The edge adds its own
//! cases: missing or bad
//! credentials (401 with `WWW-Authenticate: Bearer`), a role that may not
//! write (403), and malformed requests (bad JSON, bad UTF-8, oversized or
//! non-JSON bodies, bad query or path values).

use std::collections::BTreeMap;

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_core::Error;

use crate::error::ErrorResponse;
use crate::MAX_BODY_BYTES;

#[derive(Debug)]
pub enum ApiError {
    Domain(Error),
    /// No usable credentials; `invalid_token` when some were sent.
    Unauthorized {
        message: &'static str,
        invalid_token: bool,
    },
    Forbidden(String),
    /// The request (not the values it carries) is malformed.
    BadRequest {
        field: String,
        message: String,
    },
    PayloadTooLarge,
    UnsupportedMediaType,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Domain(err)
    }
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut challenge = None;
        let mut retry_after = false;
        let resp = match self {
            ApiError::Domain(Error::Invalid(fields)) => {
                let message = fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid", message).with_fields(fields)
            }
            ApiError::Domain(Error::Conflict { field, value }) => ErrorResponse::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{field} {value:?} is already in use"),
            )
            .with_fields(BTreeMap::from([(
                field.to_owned(),
                "is already in use".to_owned(),
            )])),
            ApiError::Domain(err @ Error::NotFound { .. }) => {
                ErrorResponse::new(StatusCode::NOT_FOUND, "not_found", err.to_string())
            }
            ApiError::Domain(Error::Forbidden(message)) | ApiError::Forbidden(message) => {
                ErrorResponse::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            ApiError::Domain(Error::Refused(message)) => {
                ErrorResponse::new(StatusCode::CONFLICT, "refused", message)
            }
            ApiError::Domain(Error::Unavailable { reason, detail }) => {
                tracing::warn!(reason, detail = %detail.escape_debug(), "database unavailable");
                retry_after = true;
                ErrorResponse::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("{reason}; try again in a moment"),
                )
            }
            ApiError::Domain(Error::Store(detail)) => {
                tracing::error!(detail = %detail.escape_debug(), "internal error");
                ErrorResponse::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the server log has the details",
                )
            }
            ApiError::Unauthorized {
                message,
                invalid_token,
            } => {
                challenge = Some(if invalid_token {
                    "Bearer realm=\"lanyard\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"lanyard\""
                });
                ErrorResponse::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            }
            ApiError::BadRequest { field, message } => ErrorResponse::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("{field}: {message}"),
            )
            .with_fields(BTreeMap::from([(field, message)])),
            ApiError::PayloadTooLarge => ErrorResponse::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            ),
            ApiError::UnsupportedMediaType => ErrorResponse::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json)",
            ),
        };
        let mut response = resp.into_response();
        if retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from_static(crate::pages::RETRY_AFTER_SECONDS),
            );
        }
        if let Some(value) = challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        response
    }
}
