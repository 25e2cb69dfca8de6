//! `GET /metrics` (the Prometheus / OpenMetrics text of
//! `lanyard_app::metrics`), served on its own address (`metrics_listen`),
//! never on the public one: it names the applications.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// The metrics listener's whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, lanyard_app::metrics::CONTENT_TYPE)],
        state.lanyard.render_metrics().await,
    )
        .into_response()
}
