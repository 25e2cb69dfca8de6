//! The JSON error shape every non-page endpoint answers with, and the
//! fallbacks for unknown routes and methods.
//!
//! The `error` code is stable and machine-readable; `message` is for humans and
//! never carries internal detail (database text, paths, stack traces), which
//! belongs in the log; `fields`, when present, says what is wrong with each
//! named input field. The REST API's error enum (`api::error`) maps onto this.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every JSON error response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Stable code: `invalid`, `conflict`, `not_found`, `unauthorized`,
    /// `forbidden`, `payload_too_large`, `unsupported_media_type`,
    /// `method_not_allowed`, `internal`.
    #[schema(example = "invalid")]
    pub error: &'static str,
    /// What went wrong, for humans.
    pub message: String,
    /// Input field (or `body`) -> what is wrong with it. Absent when no
    /// particular field is to blame.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(required = false)]
    pub fields: BTreeMap<String, String>,
}

/// A status code with its JSON body.
#[derive(Debug)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ErrorResponse {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error,
                message: message.into(),
                fields: BTreeMap::new(),
            },
        }
    }

    pub fn with_fields(mut self, fields: BTreeMap<String, String>) -> Self {
        self.body.fields = fields;
        self
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Fallback for paths no router claims.
pub async fn not_found(method: Method, uri: Uri) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
    )
}

/// Fallback for a known path asked with a method it does not support.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not support {method}", uri.path()),
    )
}
