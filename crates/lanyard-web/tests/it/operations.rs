//! What operators' tools read, on every backend: `/readyz` (the database
//! checked, 503 while it does not answer or while the node drains) next to
//! `/healthz` (liveness only).

use axum::http::StatusCode;
use serde_json::json;

web_test!(readiness_follows_the_database_and_the_drain, |app| {
    let version = env!("CARGO_PKG_VERSION");
    let r = app.get("/readyz").await;
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.expect(StatusCode::OK), json!({"status": "ok", "version": version}));

    // Draining: not ready, though the database answers and requests are served.
    let draining = app.another_node();
    draining.state.start_draining();
    assert_eq!(
        draining.get("/readyz").await.expect(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": "unavailable", "version": version, "reason": "draining"})
    );
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK, "per node");
    draining.get("/healthz").await.expect(StatusCode::OK);

    // The database gone: not ready, still alive.
    app.store.close().await;
    assert_eq!(
        app.get("/readyz").await.expect(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": "unavailable", "version": version, "reason": "database"})
    );
    assert_eq!(
        app.get("/healthz").await.expect(StatusCode::OK),
        json!({"status": "ok", "version": version})
    );
});
