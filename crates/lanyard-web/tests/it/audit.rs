//! The `/api/v1/audit-events` endpoint: listing, filters, pages.

use axum::http::StatusCode;

web_test!(the_audit_log_is_listed_and_filtered, |app| {
    let u = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    app.clock.advance(time::Duration::hours(1));
    app.create_group("g1").await;
    app.admin(
        "PATCH",
        &format!("/api/v1/users/{u}"),
        Some(serde_json::json!({"first_name": "Ann"})),
    )
    .await
    .expect(StatusCode::OK);
    app.audit.flush().await;

    let all = app.get("/api/v1/audit-events").await.expect(StatusCode::OK);
    let actions: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.update", "group.create", "user.create"],
        "newest first"
    );
    let update = &all["items"][0];
    assert_eq!(update["summary"], serde_json::json!({"first_name": "Ann"}));
    assert_eq!(update["target"], format!("user:{u}"));
    assert_eq!(update["source"], "192.0.2.7");
    assert!(update["actor"]
        .as_str()
        .unwrap()
        .starts_with("apikey:admin#"));

    let first = app
        .get("/api/v1/audit-events?limit=2")
        .await
        .expect(StatusCode::OK);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_i64().unwrap();
    let rest = app
        .get(&format!("/api/v1/audit-events?limit=2&before={next}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(rest["items"][0]["action"], "user.create");
    assert_eq!(rest["next"], serde_json::Value::Null);

    let by_target = app
        .get(&format!("/api/v1/audit-events?target=user:{u}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_target["items"].as_array().unwrap().len(), 2);
    let by_action = app
        .get("/api/v1/audit-events?action=group.create")
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_action["items"].as_array().unwrap().len(), 1);
    let since = app
        .get("/api/v1/audit-events?since=2025-03-01T12:30:00Z")
        .await
        .expect(StatusCode::OK);
    assert_eq!(since["items"].as_array().unwrap().len(), 2);
    let until = app
        .get("/api/v1/audit-events?until=2025-03-01T12:30:00Z&actor=nobody")
        .await
        .expect(StatusCode::OK);
    assert_eq!(until["items"], serde_json::json!([]));
    app.shutdown().await;
});
