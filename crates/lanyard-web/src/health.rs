//! Liveness: `GET /healthz` answers while the process can serve requests.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

/// Body of `GET /healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
