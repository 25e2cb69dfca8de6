//! The OpenAPI document: generated from the handlers, served at
//! `/api/v1/openapi.json`, and committed at `docs/openapi.json`. This test
//! fails when the committed copy drifts from the code.
//!
//! To regenerate: `LANYARD_UPDATE_OPENAPI=1 cargo test -p lanyard-web --test it openapi`

use std::path::PathBuf;

use axum::http::StatusCode;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn committed_openapi_matches_the_code() {
    let generated = lanyard_web::openapi_json();
    let path = committed_path();
    if std::env::var_os("LANYARD_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_diff = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "(one is a prefix of the other)".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "docs/openapi.json is out of date with the code ({first_diff}).\n\
             Regenerate it with:\n\n    LANYARD_UPDATE_OPENAPI=1 cargo test -p lanyard-web --test it openapi\n\n\
             and commit the result."
        );
    }
}

web_test!(the_document_is_served_without_a_key, |app| {
    let r = app.raw("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.text(), lanyard_web::openapi_json());
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/users/{id}"]["patch"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    app.shutdown().await;
});
