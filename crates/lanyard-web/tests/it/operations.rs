//! What operators' tools read, on every backend: `/readyz` (the database
//! checked, 503 while it does not answer or while the node drains) next to
//! `/healthz` (liveness only).

use axum::http::StatusCode;
use serde_json::json;

web_test!(readiness_follows_the_database_and_the_drain, |app| {
    let version = env!("CARGO_PKG_VERSION");
    let r = app.get("/readyz").await;
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(
        r.expect(StatusCode::OK),
        json!({"status": "ok", "version": version})
    );

    // Draining: not ready, though the database answers and requests are served.
    let draining = app.another_node();
    draining.state.start_draining();
    assert_eq!(
        draining
            .get("/readyz")
            .await
            .expect(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": "unavailable", "version": version, "reason": "draining"})
    );
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK, "per node");
    draining.get("/healthz").await.expect(StatusCode::OK);

    // The database gone: not ready, still alive.
    app.store.close().await;
    assert_eq!(
        app.get("/readyz")
            .await
            .expect(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": "unavailable", "version": version, "reason": "database"})
    );
    assert_eq!(
        app.get("/healthz").await.expect(StatusCode::OK),
        json!({"status": "ok", "version": version})
    );
});

web_test!(
    every_request_has_an_id_in_its_response_and_audit_events,
    |app| {
        let id_of =
            |r: &crate::common::Resp| r.headers["x-request-id"].to_str().unwrap().to_owned();
        // Generated: 24 hex digits, new for every request.
        let a = app.get("/healthz").await;
        let b = app.get("/healthz").await;
        let (a, b) = (id_of(&a), id_of(&b));
        assert_eq!(a.len(), 24, "{a}");
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);

        // A change's audit event carries its request's id.
        let r = app
            .admin("POST", "/api/v1/groups", Some(json!({"name": "ops"})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let created = id_of(&r);
        let events = app.audit_events().await;
        let event = events.iter().find(|e| e.action == "group.create").unwrap();
        assert_eq!(event.request_id.as_deref(), Some(created.as_str()));
        let listed = app
            .get("/api/v1/audit-events?action=group.create")
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"][0]["request_id"], created.as_str());

        // From a peer that is not a trusted proxy, a given id is ignored.
        async fn sent(node: &crate::common::TestApp) -> crate::common::Resp {
            let mut req = axum::http::Request::builder()
                .uri("/healthz")
                .header("x-request-id", "from-the-proxy-42")
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                    [192, 0, 2, 7],
                    40000,
                ))));
            node.send(req).await
        }
        let r = sent(&app).await;
        assert_ne!(id_of(&r), "from-the-proxy-42");
        // From a trusted proxy it is kept (when it is plain text).
        let mut settings = crate::common::settings();
        settings.http.trusted_proxies = vec!["192.0.2.0/24".parse().unwrap()];
        let behind_proxy = app.another_node_with(settings);
        let r = sent(&behind_proxy).await;
        assert_eq!(id_of(&r), "from-the-proxy-42");
        app.shutdown().await;
    }
);
