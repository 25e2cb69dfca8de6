//! Every class of bad input answers 4xx in our JSON shape, names the field,
//! and leaves stored data (and the audit log) exactly as it was.

use axum::http::StatusCode;
use lanyard_core::directory::ListQuery;
use lanyard_core::store::{GroupStore, UserStore};
use serde_json::{json, Value};

use crate::common::TestApp;

/// Everything the directory holds, for before/after comparison.
async fn snapshot(app: &TestApp) -> (Value, Value, usize) {
    let q = ListQuery::new(None, None, Some(500)).unwrap();
    let users = app.store.list_users(&q).await.unwrap();
    let groups = app.store.list_groups(&q).await.unwrap();
    let events = app.audit_events().await.len();
    (
        serde_json::to_value(&users.items).unwrap(),
        serde_json::to_value(&groups.items).unwrap(),
        events,
    )
}

web_test!(invalid_values_name_their_fields, |app| {
    let alice = app.create_user("alice@example.com", "alice").await["id"]
        .as_i64()
        .unwrap();
    let before = snapshot(&app).await;

    let msg = app
        .admin(
            "POST",
            "/api/v1/users",
            Some(json!({"email": "not-an-email", "username": "x"})),
        )
        .await
        .expect_invalid("email");
    assert_eq!(msg, "must be an email address like name@example.com");
    app.admin(
        "PATCH",
        &format!("/api/v1/users/{alice}"),
        Some(json!({"email": "a@b"})),
    )
    .await
    .expect_invalid("email");
    // Several bad fields at once, the password among them.
    let r = app
        .admin(
            "POST",
            "/api/v1/users",
            Some(json!({"email": "nope", "username": "-bad", "password": "short"})),
        )
        .await;
    let v = r.expect_error(StatusCode::BAD_REQUEST, "invalid");
    for f in ["email", "username", "password"] {
        assert!(v["fields"][f].is_string(), "{f} missing in {v}");
    }
    assert!(
        !r.text().contains("short\""),
        "the password is not echoed: {}",
        r.text()
    );
    app.admin("POST", "/api/v1/groups", Some(json!({"name": "   "})))
        .await
        .expect_invalid("name");

    assert_eq!(snapshot(&app).await, before, "{}", app.backend);
    app.shutdown().await;
});

web_test!(duplicates_are_conflicts_naming_the_field, |app| {
    app.create_user("alice@example.com", "alice").await;
    let bob = app.create_user("bob@example.com", "bob").await["id"]
        .as_i64()
        .unwrap();
    let staff = app.create_group("Staff").await;
    let other = app.create_group("Other").await["id"].as_i64().unwrap();
    let before = snapshot(&app).await;

    let cases = [
        (
            "POST",
            "/api/v1/users".to_owned(),
            json!({"email": "ALICE@example.com", "username": "alice2"}),
            "email",
        ),
        (
            "POST",
            "/api/v1/users".to_owned(),
            json!({"email": "new@example.com", "username": "Alice"}),
            "username",
        ),
        (
            "PATCH",
            format!("/api/v1/users/{bob}"),
            json!({"email": "alice@example.com"}),
            "email",
        ),
        (
            "PATCH",
            format!("/api/v1/users/{bob}"),
            json!({"username": "ALICE"}),
            "username",
        ),
        (
            "POST",
            "/api/v1/groups".to_owned(),
            json!({"name": "staff"}),
            "name",
        ),
        (
            "PATCH",
            format!("/api/v1/groups/{other}"),
            json!({"name": "STAFF"}),
            "name",
        ),
    ];
    for (method, path, body, field) in cases {
        let v = app
            .admin(method, &path, Some(body.clone()))
            .await
            .expect_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(
            v["fields"][field], "is already in use",
            "{method} {path} {body}: {v}"
        );
        assert!(v["message"].as_str().unwrap().starts_with(field), "{v}");
    }
    assert_eq!(staff["name"], "Staff");
    assert_eq!(snapshot(&app).await, before, "{}", app.backend);
    app.shutdown().await;
});

web_test!(malformed_bodies_are_refused_in_our_shape, |app| {
    let alice = app.create_user("alice@example.com", "alice").await["id"]
        .as_i64()
        .unwrap();
    let before = snapshot(&app).await;
    let key = app.admin_key.clone();

    // Unknown field, on create and on update.
    let r = app
        .admin(
            "POST",
            "/api/v1/users",
            Some(json!({"email": "x@example.com", "username": "x", "nickname": "X"})),
        )
        .await;
    let msg = r.expect_invalid("nickname");
    assert!(msg.contains("unknown field `nickname`"), "{msg}");
    app.admin(
        "PATCH",
        &format!("/api/v1/users/{alice}"),
        Some(json!({"state": "suspended"})),
    )
    .await
    .expect_invalid("state");
    app.admin(
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "g", "members": []})),
    )
    .await
    .expect_invalid("members");
    // Missing and mistyped fields.
    app.admin(
        "POST",
        "/api/v1/users",
        Some(json!({"email": "x@example.com"})),
    )
    .await
    .expect_invalid("username");
    app.admin(
        "POST",
        "/api/v1/users",
        Some(json!({"email": 5, "username": "x"})),
    )
    .await
    .expect_invalid("email");
    app.admin(
        "POST",
        "/api/v1/users",
        Some(json!({"email": "x@example.com", "username": "x", "attributes": {"a": "b"}})),
    )
    .await
    .expect_invalid("attributes.a");

    // Oversized body (> 1 MiB): 413 in our shape.
    let mut big = br#"{"email":"big@example.com","username":"big","first_name":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    big.extend(br#""}"#);
    app.raw("POST", "/api/v1/users", Some(&key), Some(big))
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Invalid UTF-8.
    let bad =
        b"{\"email\":\"x@example.com\",\"username\":\"x\",\"first_name\":\"\xff\xfe\"}".to_vec();
    let msg = app
        .raw("POST", "/api/v1/users", Some(&key), Some(bad))
        .await
        .expect_invalid("body");
    assert!(msg.contains("UTF-8"), "{msg}");

    // Broken JSON and trailing garbage.
    app.raw(
        "POST",
        "/api/v1/users",
        Some(&key),
        Some(b"{\"email\":".to_vec()),
    )
    .await
    .expect_invalid("body");
    app.raw(
        "POST",
        "/api/v1/groups",
        Some(&key),
        Some(br#"{"name":"g"} {}"#.to_vec()),
    )
    .await
    .expect_invalid("body");

    // Not JSON at all.
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/groups")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/plain")
        .body(axum::body::Body::from("name=g"))
        .unwrap();
    app.send(req)
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/groups")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::from(r#"{"name":"g"}"#))
        .unwrap();
    app.send(req)
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    assert_eq!(snapshot(&app).await, before, "{}", app.backend);
    app.shutdown().await;
});

web_test!(bad_pagination_and_paths_name_the_parameter, |app| {
    app.create_user("alice@example.com", "alice").await;
    let before = snapshot(&app).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("after=-1", "after"),
        ("after=x", "after"),
        ("page=2", "page"),
    ] {
        for path in ["/api/v1/users", "/api/v1/groups"] {
            let msg = app
                .get(&format!("{path}?{query}"))
                .await
                .expect_invalid(field);
            assert!(!msg.is_empty(), "{path}?{query}");
        }
    }
    let g = app.create_group("g").await["id"].as_i64().unwrap();
    app.get(&format!("/api/v1/groups/{g}/members?limit=0"))
        .await
        .expect_invalid("limit");
    for (query, field) in [
        ("limit=0", "limit"),
        ("before=-5", "before"),
        ("since=yesterday", "since"),
        ("colour=red", "colour"),
    ] {
        app.get(&format!("/api/v1/audit-events?{query}"))
            .await
            .expect_invalid(field);
    }
    let msg = app.get("/api/v1/users/abc").await.expect_invalid("id");
    assert!(msg.contains("abc"), "{msg}");
    app.admin("PUT", &format!("/api/v1/groups/{g}/members/zz"), None)
        .await
        .expect_invalid("user_id");
    let mut after = snapshot(&app).await;
    after.1 = before.1.clone(); // the group made above
    after.2 = before.2;
    assert_eq!(after, before);
    app.shutdown().await;
});

web_test!(unknown_routes_and_methods_answer_json, |app| {
    app.get("/api/v1/nope")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    app.admin("PUT", "/api/v1/users", None)
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    app.shutdown().await;
});
