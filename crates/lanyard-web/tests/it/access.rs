//! The access matrix, over every route in the generated OpenAPI document (so
//! a new route is covered the day it is added): no key, a bad key, a revoked
//! key -> 401 with a Bearer challenge; a read-only key -> 200 on every read
//! and 403 on every write, changing nothing; an administrator key -> 2xx
//! everywhere.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use lanyard_core::admin::Role;
use lanyard_core::directory::{NewGroup, NewUser};
use lanyard_core::session::{NewSession, SessionStage};
use lanyard_core::store::{AdminStore, ApiKeyStore, AppStore, GroupStore, SignInStore, UserStore};
use serde_json::{json, Value};
use time::Duration;

use crate::common::TestApp;

/// Every (method, path template) in the OpenAPI document.
fn routes() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&lanyard_web::openapi_json()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// Routes whose body is not JSON: (content type, body).
fn raw_body_for(method: &str, path: &str) -> Option<(&'static str, Vec<u8>)> {
    match (method, path) {
        ("PUT", "/api/v1/applications/{id}/image") => {
            let mut out = std::io::Cursor::new(Vec::new());
            image::RgbImage::new(4, 4)
                .write_to(&mut out, image::ImageFormat::Png)
                .unwrap();
            Some(("image/png", out.into_inner()))
        }
        ("POST", "/api/v1/applications/{id}/sp-metadata") => Some((
            "application/samlmetadata+xml",
            include_bytes!("../fixtures/aws-sp-metadata.xml").to_vec(),
        )),
        _ => None,
    }
}

/// A valid body for each write route. The test fails if a write route has
/// no entry, so new routes get a row here. `app` is the application the
/// path was made for.
fn body_for(method: &str, path: &str, n: usize, app: i64) -> Option<Value> {
    let bodies: BTreeMap<(&str, &str), Option<Value>> = BTreeMap::from([
        (
            ("POST", "/api/v1/users"),
            Some(json!({"email": format!("m{n}@example.com"), "username": format!("m{n}")})),
        ),
        (
            ("PATCH", "/api/v1/users/{id}"),
            Some(json!({"first_name": "Changed"})),
        ),
        (("DELETE", "/api/v1/users/{id}"), None),
        (
            ("PUT", "/api/v1/users/{id}/password"),
            Some(json!({"password": "long enough pw"})),
        ),
        (
            ("PUT", "/api/v1/users/{id}/attributes"),
            Some(json!({"a": ["b"]})),
        ),
        (("POST", "/api/v1/users/{id}/suspend"), None),
        (("POST", "/api/v1/users/{id}/unsuspend"), None),
        (("DELETE", "/api/v1/users/{id}/sessions"), None),
        (("DELETE", "/api/v1/users/{id}/sessions/{session_id}"), None),
        (("POST", "/api/v1/users/{id}/unlock"), None),
        (("DELETE", "/api/v1/users/{id}/totp"), None),
        (
            ("POST", "/api/v1/groups"),
            Some(json!({"name": format!("g{n}")})),
        ),
        (
            ("PATCH", "/api/v1/groups/{id}"),
            Some(json!({"description": "changed"})),
        ),
        (("DELETE", "/api/v1/groups/{id}"), None),
        (
            ("PUT", "/api/v1/groups/{id}/attributes"),
            Some(json!({"a": ["b"]})),
        ),
        (("PUT", "/api/v1/groups/{id}/members/{user_id}"), None),
        (("DELETE", "/api/v1/groups/{id}/members/{user_id}"), None),
        (
            ("POST", "/api/v1/api-keys"),
            Some(json!({"name": format!("k{n}"), "role": "read_only"})),
        ),
        (("DELETE", "/api/v1/api-keys/{id}"), None),
        (
            ("POST", "/api/v1/admins"),
            Some(
                json!({"email": format!("a{n}@example.com"), "role": "read_only", "password": "long enough pw"}),
            ),
        ),
        (("DELETE", "/api/v1/admins/{id}"), None),
        (
            ("PATCH", "/api/v1/admins/{id}"),
            Some(json!({"role": "read_only", "disabled": false})),
        ),
        (("POST", "/api/v1/admins/{id}/unlock"), None),
        (("DELETE", "/api/v1/admins/{id}/totp"), None),
        (
            ("POST", "/api/v1/applications"),
            Some(json!({"template": "aws-iam", "label": format!("New App {n}")})),
        ),
        (
            ("DELETE", "/api/v1/applications"),
            Some(json!({"ids": [app], "confirm_count": 1})),
        ),
        (
            ("PATCH", "/api/v1/applications/{id}"),
            Some(json!({"description": "changed"})),
        ),
        (("POST", "/api/v1/applications/{id}/activate"), None),
        (("POST", "/api/v1/applications/{id}/deactivate"), None),
        (("POST", "/api/v1/applications/{id}/keys"), Some(json!({}))),
        (
            ("POST", "/api/v1/applications/{id}/keys/{key_id}/activate"),
            None,
        ),
        (("DELETE", "/api/v1/applications/{id}/keys/{key_id}"), None),
        (("PUT", "/api/v1/applications/{id}/groups/{group_id}"), None),
        (
            ("DELETE", "/api/v1/applications/{id}/groups/{group_id}"),
            None,
        ),
        (("PUT", "/api/v1/groups/{id}/applications/{app_id}"), None),
        (
            ("DELETE", "/api/v1/groups/{id}/applications/{app_id}"),
            None,
        ),
        (
            ("PUT", "/api/v1/applications/{id}/entitlements"),
            Some(json!([])),
        ),
        (("DELETE", "/api/v1/applications/{id}/image"), None),
        // Raw (non-JSON) bodies: see raw_body_for.
        (("PUT", "/api/v1/applications/{id}/image"), None),
        (("POST", "/api/v1/applications/{id}/sp-metadata"), None),
    ]);
    bodies
        .get(&(method, path))
        .unwrap_or_else(|| panic!("add a body for the write route {method} {path} to this table"))
        .clone()
}

/// Fresh objects for the path's parameters, so destructive routes have
/// something of their own to destroy: (path, the application made for it).
async fn concrete_path(app: &mut TestApp, template: &str, n: usize) -> (String, i64) {
    let now = app.clock_now();
    let user = app
        .store
        .create_user(
            &NewUser {
                email: format!("p{n}@example.com"),
                username: format!("p{n}"),
                ..Default::default()
            },
            None,
            now,
        )
        .await
        .unwrap()
        .id
        .0;
    let group = app
        .store
        .create_group(
            &NewGroup {
                name: format!("pg{n}"),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap()
        .id
        .0;
    let (application, key) = app.store_app(&format!("app-{n}")).await;
    let id = if template.starts_with("/api/v1/users/") {
        user
    } else if template.starts_with("/api/v1/groups/") {
        group
    } else if template.starts_with("/api/v1/applications/") {
        application
    } else if template.starts_with("/api/v1/api-keys/") {
        app.make_key(&format!("pk{n}"), Role::ReadOnly).await.1
    } else if template.starts_with("/api/v1/admins/") {
        let email = format!("pa{n}@example.com");
        app.store
            .create_admin(&email, Role::ReadOnly, "not-a-real-hash", now)
            .await
            .unwrap()
            .id
            .0
    } else {
        0
    };
    let mut path = template
        .replace("{id}", &id.to_string())
        .replace("{user_id}", &user.to_string())
        .replace("{group_id}", &group.to_string())
        .replace("{app_id}", &application.to_string())
        .replace("{key_id}", &key.to_string());
    if template.contains("{session_id}") {
        let session = app
            .store
            .create_session(&NewSession {
                token_hash: format!("{n:064x}"),
                user_id: lanyard_core::UserId(user),
                stage: SessionStage::Complete,
                methods: lanyard_core::session::AuthMethods::Password,
                csrf_secret: "x".into(),
                now,
                expires_at: now + Duration::hours(1),
                client: None,
                user_agent: None,
            })
            .await
            .unwrap();
        path = path.replace("{session_id}", &session.id.to_string());
    }
    // GET routes with a required query parameter.
    if template.ends_with("/preview") {
        path.push_str(&format!("?user={user}"));
    } else if template == "/api/v1/applications/metadata" {
        path.push_str(&format!("?ids={application}"));
    }
    (path, application)
}

web_test!(every_route_needs_a_key, |mut app| {
    let (revoked, revoked_id) = app.make_key("old", Role::Administrator).await;
    app.admin("DELETE", &format!("/api/v1/api-keys/{revoked_id}"), None)
        .await
        .expect(StatusCode::OK);
    let mut n = 0;
    for (method, template) in routes() {
        n += 1;
        let (path, made) = concrete_path(&mut app, &template, n).await;
        let body = (method != "GET")
            .then(|| body_for(&method, &template, n, made))
            .flatten();
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());

        let r = app.raw(&method, &path, None, bytes.clone()).await;
        r.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            r.headers["www-authenticate"], "Bearer realm=\"lanyard\"",
            "{method} {path}"
        );

        for bad in ["lyk_0000", revoked.as_str()] {
            let r = app.raw(&method, &path, Some(bad), bytes.clone()).await;
            r.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
            assert!(
                r.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("invalid_token"),
                "{method} {path}"
            );
        }
        let req = axum::http::Request::builder()
            .method(method.as_str())
            .uri(&path)
            .header("authorization", format!("Basic {}", app.admin_key))
            .body(axum::body::Body::empty())
            .unwrap();
        app.send(req)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert!(n >= 28, "only {n} routes in the document");
    app.shutdown().await;
});

web_test!(
    read_only_keys_read_everything_and_write_nothing,
    |mut app| {
        let reader = app.reader_key.clone();
        let events_before = app.audit_events().await.len();
        let (mut reads, mut writes) = (0, 0);
        for (n, (method, template)) in routes().into_iter().enumerate() {
            let (path, made) = concrete_path(&mut app, &template, n).await;
            if method == "GET" {
                // Not always JSON (metadata, zips): the status says it all.
                let r = app.call("GET", &path, &reader, None).await;
                assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text());
                reads += 1;
                continue;
            }
            let body = body_for(&method, &template, n, made);
            let r = match raw_body_for(&method, &template) {
                Some((ct, bytes)) => app.upload(&method, &path, &reader, ct, bytes).await,
                None => app.call(&method, &path, &reader, body).await,
            };
            let v = r.expect_error(StatusCode::FORBIDDEN, "forbidden");
            assert!(v["message"].as_str().unwrap().contains("read_only"), "{v}");
            writes += 1;
        }
        assert!(
            reads >= 11 && writes >= 17,
            "{reads} reads, {writes} writes"
        );
        // Nothing was written: no audit event, the test fixtures untouched.
        assert_eq!(app.audit_events().await.len(), events_before);
        let q = lanyard_core::directory::ListQuery::new(None, None, Some(500)).unwrap();
        for u in app.store.list_users(&q).await.unwrap().items {
            assert_eq!(u.first_name, "", "{u:?}");
            assert!(u.attributes.is_empty());
        }
        let fixtures = routes()
            .iter()
            .filter(|(_, t)| t.starts_with("/api/v1/admins/"))
            .count();
        let admins = app.store.list_admins().await.unwrap();
        assert_eq!(admins.len(), fixtures, "only the fixture admins");
        assert!(
            admins
                .iter()
                .all(|a| a.role == Role::ReadOnly && !a.disabled),
            "unchanged: {admins:?}"
        );
        app.shutdown().await;
    }
);

web_test!(administrator_keys_may_do_everything, |mut app| {
    let mut writes = 0;
    for (n, (method, template)) in routes().into_iter().enumerate() {
        let (path, made) = concrete_path(&mut app, &template, n).await;
        let body = (method != "GET")
            .then(|| body_for(&method, &template, n, made))
            .flatten();
        let r = match raw_body_for(&method, &template) {
            Some((ct, bytes)) => {
                let key = app.admin_key.clone();
                app.upload(&method, &path, &key, ct, bytes).await
            }
            None => app.admin(&method, &path, body).await,
        };
        assert!(
            r.status.is_success(),
            "{method} {path}: {} {}",
            r.status,
            r.text()
        );
        if method != "GET" {
            writes += 1;
        }
    }
    // Each write left exactly one audit event, by this key, from the client.
    let events = app.audit_events().await;
    assert_eq!(events.len(), writes);
    for e in &events {
        assert!(e.actor.starts_with("apikey:admin#"), "{e:?}");
        assert_eq!(e.source.as_deref(), Some("192.0.2.7"), "{e:?}");
        assert!(!e.summary.contains("long enough pw"), "{e:?}");
    }
    app.shutdown().await;
});

web_test!(key_use_is_recorded_at_most_once_a_minute, |mut app| {
    let (key, id) = app.make_key("touchy", Role::ReadOnly).await;
    let last_used = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            let keys = store.list_api_keys().await.unwrap();
            keys.into_iter()
                .find(|k| k.id.0 == id)
                .unwrap()
                .last_used_at
        }
    };
    assert_eq!(last_used(&app).await, None);
    let t0 = app.clock_now();
    app.call("GET", "/api/v1/users", &key, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(last_used(&app).await, Some(t0));
    app.clock.advance(Duration::seconds(59));
    app.call("GET", "/api/v1/users", &key, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        last_used(&app).await,
        Some(t0),
        "not refreshed within a minute"
    );
    app.clock.advance(Duration::seconds(2));
    app.call("GET", "/api/v1/users", &key, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(last_used(&app).await, Some(t0 + Duration::seconds(61)));
    app.shutdown().await;
});

web_test!(api_keys_secret_is_shown_once_and_works, |app| {
    let r = app
        .admin(
            "POST",
            "/api/v1/api-keys",
            Some(json!({"name": "ci", "role": "read_only"})),
        )
        .await;
    let created = r.expect(StatusCode::CREATED);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lyk_"));
    assert_eq!(created["key"]["role"], "read_only");
    assert!(secret.starts_with(created["key"]["prefix"].as_str().unwrap()));

    // The new key works, as read-only.
    app.call("GET", "/api/v1/groups", &secret, None)
        .await
        .expect(StatusCode::OK);
    app.call(
        "POST",
        "/api/v1/groups",
        &secret,
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "forbidden");

    // Lists never show the secret.
    let list = app.get("/api/v1/api-keys").await;
    assert!(!list.text().contains(&secret[12..]), "{}", list.text());
    assert_eq!(list.expect(StatusCode::OK).as_array().unwrap().len(), 3);

    app.admin(
        "POST",
        "/api/v1/api-keys",
        Some(json!({"name": " ", "role": "read_only"})),
    )
    .await
    .expect_invalid("name");
    app.admin(
        "POST",
        "/api/v1/api-keys",
        Some(json!({"name": "x", "role": "root"})),
    )
    .await
    .expect_invalid("role");

    // Revoked: 401 from then on, still listed with revoked_at.
    let id = created["key"]["id"].as_i64().unwrap();
    let revoked = app
        .admin("DELETE", &format!("/api/v1/api-keys/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    app.call("GET", "/api/v1/groups", &secret, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let events = app.audit_events().await;
    assert!(events.iter().all(|e| !e.summary.contains(&secret[4..])));
    app.shutdown().await;
});

web_test!(admins_are_created_listed_and_deleted, |app| {
    let r = app
        .admin(
            "POST",
            "/api/v1/admins",
            Some(json!({"email": "Root@Example.com", "role": "administrator", "password": "hunter2hunter2"})),
        )
        .await;
    assert!(!r.text().contains("hunter2"), "{}", r.text());
    let admin = r.expect(StatusCode::CREATED);
    assert_eq!(admin["email"], "root@example.com");
    let (stored, hash) = app
        .store
        .find_admin_by_email("root@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(lanyard_core::password::verify_password(
        "hunter2hunter2",
        &hash
    ));
    assert_eq!(stored.id.0, admin["id"].as_i64().unwrap());

    app.admin(
        "POST",
        "/api/v1/admins",
        Some(
            json!({"email": "root@example.com", "role": "read_only", "password": "hunter2hunter2"}),
        ),
    )
    .await
    .expect_error(StatusCode::CONFLICT, "conflict");
    let v = app
        .admin(
            "POST",
            "/api/v1/admins",
            Some(json!({"email": "x", "role": "read_only", "password": "x"})),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    assert!(
        v["fields"]["email"].is_string() && v["fields"]["password"].is_string(),
        "{v}"
    );

    let list = app.get("/api/v1/admins").await.expect(StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The only administrator stays until another one exists.
    app.admin("DELETE", &format!("/api/v1/admins/{}", admin["id"]), None)
        .await
        .expect_error(StatusCode::CONFLICT, "refused");
    let second = app
        .admin(
            "POST",
            "/api/v1/admins",
            Some(json!({"email": "second@example.com", "role": "administrator", "password": "hunter2hunter2"})),
        )
        .await
        .expect(StatusCode::CREATED);
    app.admin("DELETE", &format!("/api/v1/admins/{}", admin["id"]), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.admin("DELETE", &format!("/api/v1/admins/{}", admin["id"]), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    let left = app.get("/api/v1/admins").await.expect(StatusCode::OK);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"], second["id"]);
    app.shutdown().await;
});

web_test!(private_data_never_leaves, |app| {
    let user = app
        .admin(
            "POST",
            "/api/v1/users",
            Some(
                json!({"email": "sec@example.com", "username": "sec", "password": "user pass 123"}),
            ),
        )
        .await
        .expect(StatusCode::CREATED);
    app.admin(
        "POST",
        "/api/v1/admins",
        Some(
            json!({"email": "adm@example.com", "role": "read_only", "password": "admin pass 123"}),
        ),
    )
    .await
    .expect(StatusCode::CREATED);
    let created = app
        .admin(
            "POST",
            "/api/v1/api-keys",
            Some(json!({"name": "k", "role": "read_only"})),
        )
        .await
        .expect(StatusCode::CREATED);
    let secret = created["secret"].as_str().unwrap().to_owned();
    let hash = lanyard_core::admin::hash_api_key(&secret);
    let (_, user_hash) = app.store.find_user_by_login("sec").await.unwrap().unwrap();
    let user_hash = user_hash.unwrap();
    let g = app.create_group("g").await;
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{}/members/{}", g["id"], user["id"]),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    let a = app
        .admin(
            "POST",
            "/api/v1/applications",
            Some(json!({"template": "aws-iam", "label": "AWS"})),
        )
        .await
        .expect(StatusCode::CREATED);
    let (_, private_key) = app
        .store
        .active_signing_key(lanyard_core::AppId(a["id"].as_i64().unwrap()))
        .await
        .unwrap();
    // A full line from the end of the PEM: private material (the first
    // lines encode the public modulus, which certificates carry).
    let key_line = private_key
        .expose()
        .lines()
        .rev()
        .nth(2)
        .unwrap()
        .to_owned();

    // Audit events are part of what is read back.
    app.audit.flush().await;
    for (method, template) in routes() {
        if method != "GET" {
            continue;
        }
        // The objects made above, which hold the secrets.
        let id = if template.starts_with("/api/v1/groups/") {
            &g["id"]
        } else if template.starts_with("/api/v1/applications") {
            &a["id"]
        } else {
            &user["id"]
        };
        let mut path = template.replace("{id}", &id.to_string());
        if template.ends_with("/preview") {
            path.push_str(&format!("?user={}", user["id"]));
        } else if template == "/api/v1/applications/metadata" {
            path.push_str(&format!("?ids={}", a["id"]));
        }
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        let text = r.text();
        for needle in [
            "user pass 123",
            "admin pass 123",
            secret.as_str(),
            &secret[12..],
            hash.as_str(),
            user_hash.as_str(),
            "argon2",
            "\"password\"",
            "password_hash",
            "PRIVATE KEY",
            key_line.as_str(),
        ] {
            assert!(
                !text.contains(needle),
                "GET {path} leaks {needle:?}: {text}"
            );
        }
    }
    app.shutdown().await;
});
