//! `/api/v1/groups` end to end on every backend: CRUD, attributes, and
//! membership seen from both sides.

use axum::http::StatusCode;
use serde_json::json;

web_test!(group_crud_round_trip, |app| {
    let created = app
        .admin(
            "POST",
            "/api/v1/groups",
            Some(
                json!({"name": "  Engineering ", "description": "Builds things",
                        "attributes": {"aws_role": ["dev"]}}),
            ),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["name"], "Engineering");
    let id = created["id"].as_i64().unwrap();
    let base = format!("/api/v1/groups/{id}");
    assert_eq!(app.get(&base).await.expect(StatusCode::OK), created);

    let patched = app
        .admin(
            "PATCH",
            &base,
            Some(json!({"description": "Builds and runs things"})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["description"], "Builds and runs things");
    assert_eq!(patched["name"], "Engineering");
    assert_eq!(patched["attributes"], json!({"aws_role": ["dev"]}));

    let attrs = json!({"aws_role": ["ops"], "tier": ["1"]});
    app.admin("PUT", &format!("{base}/attributes"), Some(attrs.clone()))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        app.get(&format!("{base}/attributes"))
            .await
            .expect(StatusCode::OK),
        attrs
    );

    app.create_group("Sales").await;
    let list = app
        .get("/api/v1/groups?search=eng")
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let all = app
        .get("/api/v1/groups?limit=1")
        .await
        .expect(StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["next"], id);

    app.admin("DELETE", &base, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.get(&base)
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
        [
            "group.create",
            "group.update",
            "group.attributes.set",
            "group.create",
            "group.delete"
        ]
    );
    app.shutdown().await;
});

web_test!(members_from_both_sides, |app| {
    let ann = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    let bo = app.create_user("bo@example.com", "bo").await["id"]
        .as_i64()
        .unwrap();
    let eng = app.create_group("eng").await["id"].as_i64().unwrap();
    let ops = app.create_group("ops").await["id"].as_i64().unwrap();

    for (g, u) in [(eng, ann), (eng, bo), (ops, ann)] {
        app.admin("PUT", &format!("/api/v1/groups/{g}/members/{u}"), None)
            .await
            .expect(StatusCode::NO_CONTENT);
    }
    // Adding again is not an error and adds nothing.
    app.admin("PUT", &format!("/api/v1/groups/{eng}/members/{ann}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);

    let members = app
        .get(&format!("/api/v1/groups/{eng}/members"))
        .await
        .expect(StatusCode::OK);
    let ids: Vec<_> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [ann, bo]);
    let page = app
        .get(&format!("/api/v1/groups/{eng}/members?limit=1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], ann);

    let groups = app
        .get(&format!("/api/v1/users/{ann}/groups"))
        .await
        .expect(StatusCode::OK);
    let names: Vec<_> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eng", "ops"]);

    app.admin(
        "DELETE",
        &format!("/api/v1/groups/{eng}/members/{ann}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    // Removing a non-member is not an error.
    app.admin(
        "DELETE",
        &format!("/api/v1/groups/{eng}/members/{ann}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let groups = app
        .get(&format!("/api/v1/users/{ann}/groups"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(groups.as_array().unwrap().len(), 1);
    let members = app
        .get(&format!("/api/v1/groups/{eng}/members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(members["items"].as_array().unwrap().len(), 1);

    // Unknown ends are 404s, not silent no-ops.
    for path in [
        format!("/api/v1/groups/999999/members/{ann}"),
        format!("/api/v1/groups/{eng}/members/999999"),
    ] {
        let e = app
            .admin("PUT", &path, None)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        assert!(e["message"].as_str().unwrap().contains("999999"), "{e}");
        app.admin("DELETE", &path, None)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
    }
    app.get("/api/v1/groups/999999/members")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    // Deleting a user takes its memberships with it.
    app.admin("DELETE", &format!("/api/v1/users/{bo}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let members = app
        .get(&format!("/api/v1/groups/{eng}/members"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(members["items"], json!([]));

    let adds = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "group.member.add")
        .count();
    assert_eq!(adds, 4, "the idempotent re-add is audited too");
    app.shutdown().await;
});
