//! `app()` exercised in-process with `oneshot`, no socket.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use lanyard_app::{AuditWriter, Lanyard};
use lanyard_core::store::Store;
use lanyard_core::{BaseUrl, FixedClock, Settings};
use lanyard_web::{app, AppState};
use serde_json::{json, Value};
use time::macros::datetime;
use tower::ServiceExt;

async fn state() -> AppState {
    let settings = Settings {
        listen: "127.0.0.1:8080".parse().unwrap(),
        base_url: BaseUrl::parse("http://127.0.0.1:8080").unwrap(),
        log: "info".to_owned(),
        auth: Default::default(),
        http: Default::default(),
    };
    let (_, store) = lanyard_store::testing::test_stores().await.remove(0);
    let store: Arc<dyn Store> = Arc::new(store);
    // Dropping the writer detaches its task, which ends with the last handle.
    let audit = AuditWriter::start(store.clone()).handle();
    AppState::new(
        Lanyard::new(
            settings,
            Arc::new(FixedClock::new(datetime!(2025-01-01 00:00:00 UTC))),
            store,
            audit,
        )
        .unwrap(),
    )
}

async fn send(method: &str, uri: &str) -> Response {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    app(state().await).oneshot(request).await.unwrap()
}

async fn json_body(response: Response) -> Value {
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(content_type.unwrap(), "application/json");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn healthz_reports_ok_and_version() {
    let response = send("GET", "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let response = send("GET", "/no/such/thing?x=1").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json_body(response).await,
        json!({"error": "not_found", "message": "no route for GET /no/such/thing"})
    );
}

#[tokio::test]
async fn wrong_method_is_a_json_405_with_allow_header() {
    let response = send("DELETE", "/healthz").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response.headers().get(header::ALLOW).cloned().unwrap();
    assert_eq!(allow, "GET,HEAD");
    assert_eq!(
        json_body(response).await,
        json!({"error": "method_not_allowed", "message": "/healthz does not support DELETE"})
    );
}
