//! `/api/v1/users` end to end on every backend: CRUD, password, attributes,
//! suspension, groups of a user, pagination.

use axum::http::StatusCode;
use lanyard_core::password::verify_password;
use lanyard_core::store::UserStore;
use serde_json::json;

web_test!(user_crud_round_trip, |app| {
    let r = app
        .admin(
            "POST",
            "/api/v1/users",
            Some(json!({
                "email": " Alice@Example.COM ",
                "username": "alice",
                "first_name": "Alice",
                "last_name": "Liddell",
                "attributes": {"department": ["eng"]},
                "password": "correct horse battery",
            })),
        )
        .await;
    let created = r.expect(StatusCode::CREATED);
    assert!(!r.text().contains("correct horse"), "{}", r.text());
    assert!(!r.text().contains("password"), "{}", r.text());
    assert_eq!(created["email"], "alice@example.com");
    assert_eq!(created["state"], "active");
    assert_eq!(created["attributes"], json!({"department": ["eng"]}));
    let id = created["id"].as_i64().unwrap();

    // The password was hashed and stored.
    let (_, hash) = app
        .store
        .find_user_by_login("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password("correct horse battery", &hash.unwrap()));

    let got = app
        .get(&format!("/api/v1/users/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(got, created);

    let patched = app
        .admin(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(json!({"first_name": "Alicia", "email": "alicia@example.com"})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["first_name"], "Alicia");
    assert_eq!(patched["email"], "alicia@example.com");
    assert_eq!(patched["last_name"], "Liddell", "untouched fields stay");
    assert_eq!(patched["username"], "alice");

    let list = app
        .get("/api/v1/users?search=ali")
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["next"], json!(null));

    app.admin("DELETE", &format!("/api/v1/users/{id}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/api/v1/users/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    app.admin("DELETE", &format!("/api/v1/users/{id}"), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    let actions: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["user.create", "user.update", "user.delete"],
        "{}",
        app.backend
    );
    app.shutdown().await;
});

web_test!(password_attributes_state_and_groups, |app| {
    let user = app.create_user("bob@example.com", "bob").await;
    let id = user["id"].as_i64().unwrap();
    let base = format!("/api/v1/users/{id}");

    // Password: set, never echoed, too short refused.
    let r = app
        .admin(
            "PUT",
            &format!("{base}/password"),
            Some(json!({"password": "a new secret 1"})),
        )
        .await;
    r.expect(StatusCode::NO_CONTENT);
    let (_, hash) = app.store.find_user_by_login("bob").await.unwrap().unwrap();
    assert!(verify_password("a new secret 1", &hash.unwrap()));
    let msg = app
        .admin(
            "PUT",
            &format!("{base}/password"),
            Some(json!({"password": "short"})),
        )
        .await
        .expect_invalid("password");
    assert_eq!(msg, "must be between 8 and 256 characters");
    app.admin(
        "PUT",
        "/api/v1/users/999999/password",
        Some(json!({"password": "long enough"})),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "not_found");

    // Attributes: whole-map GET and PUT.
    let attrs = app
        .get(&format!("{base}/attributes"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(attrs, json!({}));
    let new = json!({"role": ["admin", "dev"], "team": ["blue"]});
    let put = app
        .admin("PUT", &format!("{base}/attributes"), Some(new.clone()))
        .await
        .expect(StatusCode::OK);
    assert_eq!(put, new);
    assert_eq!(
        app.get(&format!("{base}/attributes"))
            .await
            .expect(StatusCode::OK),
        new
    );
    let msg = app
        .admin(
            "PUT",
            &format!("{base}/attributes"),
            Some(json!({"bad name": ["x"]})),
        )
        .await
        .expect_invalid("attributes.bad name");
    assert!(msg.starts_with("attribute names are"), "{msg}");
    assert_eq!(
        app.get(&format!("{base}/attributes"))
            .await
            .expect(StatusCode::OK),
        new
    );

    // State.
    let s = app
        .admin("POST", &format!("{base}/suspend"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(s["state"], "suspended");
    let s = app.get(&base).await.expect(StatusCode::OK);
    assert_eq!(s["state"], "suspended");
    let s = app
        .admin("POST", &format!("{base}/unsuspend"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(s["state"], "active");

    // Groups of the user.
    assert_eq!(
        app.get(&format!("{base}/groups"))
            .await
            .expect(StatusCode::OK),
        json!([])
    );
    let g = app.create_group("Staff").await;
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{}/members/{id}", g["id"]),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let groups = app
        .get(&format!("{base}/groups"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(groups[0]["name"], "Staff");
    app.get("/api/v1/users/999999/groups")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    let events = app.audit_events().await;
    let pw = events
        .iter()
        .find(|e| e.action == "user.password.set")
        .unwrap();
    assert!(!pw.summary.contains("secret"), "{}", pw.summary);
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "user.password.set",
            "user.attributes.set",
            "user.suspend",
            "user.unsuspend",
            "group.create",
            "group.member.add"
        ]
    );
    app.shutdown().await;
});

web_test!(users_list_in_pages, |app| {
    let mut ids = Vec::new();
    for i in 0..5 {
        let u = app
            .create_user(&format!("u{i}@example.com"), &format!("user{i}"))
            .await;
        ids.push(u["id"].as_i64().unwrap());
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_owned();
    loop {
        let page = app.get(&path).await.expect(StatusCode::OK);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_i64().unwrap()));
        match page["next"].as_i64() {
            Some(next) => path = format!("/api/v1/users?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    app.shutdown().await;
});
