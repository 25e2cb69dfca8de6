//! Liveness and readiness, for process supervisors and load balancers:
//!
//! - `GET /healthz`: liveness, 200 while the process can serve requests
//!   (it reads nothing: a database outage must not get the process killed);
//! - `GET /readyz`: readiness, 200 when the database answers within
//!   [`READY_TIMEOUT`] and the node is not stopping; 503 otherwise, with the
//!   reason (`"database"` or `"draining"`), so a load balancer sends the
//!   node's traffic elsewhere.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Body of `GET /healthz` and `GET /readyz`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    /// Why the node is not ready (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        reason: None,
    })
}

async fn readyz(State(state): State<AppState>) -> Response {
    let reason = if state.is_draining() {
        Some("draining")
    } else if let Err(e) = state.lanyard.database_ready(READY_TIMEOUT).await {
        tracing::warn!(error = %e.to_string().escape_debug(), "not ready: the database does not answer");
        Some("database")
    } else {
        None
    };
    let (status, code) = match reason {
        None => ("ok", StatusCode::OK),
        Some(_) => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
    };
    let mut response = (
        code,
        Json(Health {
            status,
            version: env!("CARGO_PKG_VERSION"),
            reason,
        }),
    )
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
