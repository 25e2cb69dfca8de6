//! The admin portal's Groups pages through the real router, on every
//! backend: create with inline errors, list with search and pages, edit,
//! members added and removed, group attributes, applications bound and
//! unbound from the group's side (seen from the app's side and the store),
//! delete after a confirmation, read-only admins (no write controls, 403 on
//! every POST), the CSRF token, and hostile values rendered inert.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::admin::signed_in;
use crate::common::browser::{hidden, location, Browser};
use crate::common::TestApp;

/// Creates a group through the portal's form; returns its id.
async fn create_group(b: &mut Browser<'_>, name: &str, description: &str) -> i64 {
    let csrf = b.csrf_of("/admin/groups/new").await;
    let r = b
        .post(
            "/admin/groups/new",
            &[
                ("csrf", &csrf),
                ("name", name),
                ("description", description),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let to = location(&r);
    let rest = to.strip_prefix("/admin/groups/").unwrap();
    assert!(rest.ends_with("?saved=created"), "{to}");
    rest.trim_end_matches("?saved=created").parse().unwrap()
}

/// The text of each cell of the table row holding `needle`, tags removed.
fn row_cells(html: &str, needle: &str) -> Vec<String> {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    html[start..end]
        .split("<td")
        .skip(1)
        .map(|cell| {
            let inner = &cell[cell.find('>').unwrap() + 1..];
            let inner = inner.split("</td>").next().unwrap();
            let mut text = String::new();
            let mut in_tag = false;
            for c in inner.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.trim().to_owned()
        })
        .collect()
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    let mut ids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

async fn member_ids(app: &TestApp, group: i64) -> Vec<i64> {
    let v = app
        .get(&format!("/api/v1/groups/{group}/members"))
        .await
        .expect(StatusCode::OK);
    ids(&v["items"])
}

async fn actions(app: &TestApp) -> Vec<String> {
    app.audit_events()
        .await
        .into_iter()
        .map(|e| e.action)
        .collect()
}

web_test!(groups_are_created_from_the_form_with_inline_errors, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let list = b.get("/admin/groups").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text()
            .contains("<a class=\"button\" href=\"/admin/groups/new\">+ Add Group</a>"),
        "{}",
        list.text()
    );

    let form = b.get("/admin/groups/new").await.text();
    assert!(form.contains("<label for=\"name\">Name</label>"), "{form}");
    assert!(
        form.contains("<label for=\"description\">Description</label>"),
        "{form}"
    );
    assert!(form.contains("<button type=\"submit\">Save Group</button>"));

    // A blank name: the form comes back with the API's rule and the
    // description as typed.
    let csrf = hidden(&form, "csrf").unwrap();
    let r = b
        .post(
            "/admin/groups/new",
            &[("csrf", &csrf), ("name", "   "), ("description", "kept")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let text = r.text();
    assert!(
        text.contains("Name must be 1-100 characters without control characters"),
        "{text}"
    );
    assert!(text.contains(">kept</textarea>"), "{text}");
    let long = "d".repeat(1001);
    let r = b
        .post(
            "/admin/groups/new",
            &[("csrf", &csrf), ("name", "ok"), ("description", &long)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .contains("Description must be at most 1000 characters"));
    let none = app.get("/api/v1/groups").await.expect(StatusCode::OK);
    assert_eq!(none["items"], json!([]));

    let id = create_group(&mut b, "  Engineers ", "Builds things").await;
    let page = b
        .get(&format!("/admin/groups/{id}?saved=created"))
        .await
        .text();
    assert!(page.contains("Group created"), "{page}");
    let v = app
        .get(&format!("/api/v1/groups/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["name"], "Engineers");
    assert_eq!(v["description"], "Builds things");

    // The name is unique (case-insensitively), as in the API.
    let r = b
        .post(
            "/admin/groups/new",
            &[("csrf", &csrf), ("name", "engineers"), ("description", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("Name &#34;engineers&#34; is already in use"),
        "{}",
        r.text()
    );

    let events = app.audit_events().await;
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.action == "group.create")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor, "admin:root@example.com");
    assert_eq!(created[0].target, format!("group:{id}"));
    assert_eq!(created[0].source.as_deref(), Some("192.0.2.7"));
    app.shutdown().await;
});

web_test!(groups_list_searches_pages_and_counts, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    for i in 0..26 {
        app.create_group(&format!("team-{i:02}")).await;
    }
    let sales = app.create_group("sales").await["id"].as_i64().unwrap();
    let ann = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    let bo = app.create_user("bo@example.com", "bo").await["id"]
        .as_i64()
        .unwrap();
    for u in [ann, bo] {
        app.admin("PUT", &format!("/api/v1/groups/{sales}/members/{u}"), None)
            .await
            .expect(StatusCode::NO_CONTENT);
    }
    let (aws, _) = app.store_app("aws").await;
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{sales}/applications/{aws}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    let first = b.get("/admin/groups").await.text();
    assert!(
        first.contains("aria-label=\"Search groups\""),
        "the search input is labelled: {first}"
    );
    assert_eq!(first.matches("<a href=\"/admin/groups/").count(), 25);
    assert!(first.contains("team-00") && first.contains("team-24"));
    assert!(!first.contains("team-25") && !first.contains(">sales<"));
    let at = first.find("Next page").expect("a next page link");
    let href_at = first[..at].rfind("href=\"").unwrap() + 6;
    let next = first[href_at..at].split('"').next().unwrap();
    let next = next.replace("&#38;", "&");
    let second = b.get(&next).await.text();
    assert!(second.contains("team-25") && second.contains(">sales<"));
    assert!(!second.contains("team-00"));
    assert!(!second.contains("Next page"));
    assert!(second.contains("First page"));

    let found = b.get("/admin/groups?search=SAL").await.text();
    assert_eq!(found.matches("<a href=\"/admin/groups/").count(), 1);
    let cells = row_cells(&found, &format!("href=\"/admin/groups/{sales}\""));
    assert_eq!(cells, ["sales", "", "2", "1"], "{found}");
    let none = b.get("/admin/groups?search=zzz").await.text();
    assert!(none.contains("No groups match"), "{none}");

    // Bad paging values are a 400 page, not a panic.
    let r = b.get("/admin/groups?after=x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("whole number"), "{}", r.text());
    let r = b
        .get(&format!("/admin/groups?search={}", "s".repeat(300)))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("Search must be at most 254 characters"));
    app.shutdown().await;
});

web_test!(group_details_are_edited_with_the_rule_named, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_group(&mut b, "eng", "").await;
    app.create_group("ops").await;
    let page = b.get(&format!("/admin/groups/{id}")).await.text();
    assert!(page.contains("<h2>Details</h2>"), "{page}");
    assert!(page.contains("<button type=\"submit\">Save</button>"));
    let csrf = hidden(&page, "csrf").unwrap();
    let path = format!("/admin/groups/{id}/details");

    let r = b
        .post(
            &path,
            &[("csrf", &csrf), ("name", "bad\u{7}"), ("description", "d")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .contains("Name must be 1-100 characters without control characters"));
    let r = b
        .post(
            &path,
            &[("csrf", &csrf), ("name", "OPS"), ("description", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("is already in use"), "{}", r.text());

    let r = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "Engineering"),
                ("description", "Builds things"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let shown = b.get(location(&r)).await.text();
    assert!(shown.contains("Saved."), "{shown}");
    assert!(shown.contains("<h1>Engineering</h1>"), "{shown}");
    let v = app
        .get(&format!("/api/v1/groups/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["name"], "Engineering");
    assert_eq!(v["description"], "Builds things");
    let update = app
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.action == "group.update")
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&update.summary).unwrap();
    assert_eq!(
        summary,
        json!({"name": "Engineering", "description": "Builds things"})
    );

    // Unknown groups are a 404 page.
    for path in ["/admin/groups/999999", "/admin/groups/abc"] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.text().contains("Not found"));
    }
    let r = b
        .post(
            "/admin/groups/999999/details",
            &[("csrf", &csrf), ("name", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.shutdown().await;
});

web_test!(members_are_added_and_removed, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let ann = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    let bo = app.create_user("bo@example.com", "bo").await["id"]
        .as_i64()
        .unwrap();
    let id = create_group(&mut b, "eng", "").await;
    let page = b.get(&format!("/admin/groups/{id}")).await.text();
    assert!(page.contains("No members."), "{page}");
    assert!(
        page.contains("<label for=\"add-member\">Add member</label>"),
        "{page}"
    );
    assert!(page.contains(&format!(
        "<option value=\"{ann}\">ann (ann@example.com)</option>"
    )));
    assert!(page.contains(&format!(
        "<option value=\"{bo}\">bo (bo@example.com)</option>"
    )));
    assert!(page.contains("<button type=\"submit\">Add Member</button>"));
    let csrf = hidden(&page, "csrf").unwrap();
    let add = format!("/admin/groups/{id}/members/add");
    let remove = format!("/admin/groups/{id}/members/remove");

    let r = b
        .post(&add, &[("csrf", &csrf), ("user", &ann.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(member_ids(&app, id).await, [ann]);
    let page = b.get(location(&r)).await.text();
    assert!(page.contains("Member added."), "{page}");
    assert!(page.contains("Members (1)"), "{page}");
    let cells = row_cells(&page, &format!("href=\"/admin/users/{ann}\""));
    assert_eq!(cells[..3], ["ann", "ann@example.com", ""]);
    assert!(page.contains(">Remove</button>"));
    // A member is not offered again.
    assert!(
        !page.contains(&format!("<option value=\"{ann}\">")),
        "{page}"
    );
    assert!(page.contains(&format!("<option value=\"{bo}\">")));
    // The user search narrows the list.
    let narrowed = b.get(&format!("/admin/groups/{id}?user_search=bo")).await;
    assert_eq!(narrowed.status, StatusCode::OK);
    assert!(narrowed
        .text()
        .contains(&format!("<option value=\"{bo}\">")));
    let nobody = b.get(&format!("/admin/groups/{id}?user_search=ann")).await;
    assert!(nobody.text().contains("No users to add match"));

    // Bad input: a clear message and a 400, nothing changed.
    let r = b.post(&add, &[("csrf", &csrf), ("user", "abc")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("choose a user"), "{}", r.text());
    let r = b.post(&add, &[("csrf", &csrf), ("user", "999999")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("user 999999 does not exist"),
        "{}",
        r.text()
    );
    assert_eq!(member_ids(&app, id).await, [ann]);

    let r = b
        .post(&add, &[("csrf", &csrf), ("user", &bo.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut both = vec![ann, bo];
    both.sort();
    assert_eq!(member_ids(&app, id).await, both);
    let groups_of_bo = app
        .get(&format!("/api/v1/users/{bo}/groups"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&groups_of_bo), [id]);

    let r = b
        .post(&remove, &[("csrf", &csrf), ("user", &ann.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(b.get(location(&r)).await.text().contains("Member removed."));
    assert_eq!(member_ids(&app, id).await, [bo]);

    let events = app.audit_events().await;
    let member_events: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.action.starts_with("group.member."))
        .map(|e| (e.action.clone(), e.summary.clone()))
        .collect();
    assert_eq!(
        member_events,
        [
            ("group.member.add".into(), format!("{{\"user\":{ann}}}")),
            ("group.member.add".into(), format!("{{\"user\":{bo}}}")),
            ("group.member.remove".into(), format!("{{\"user\":{ann}}}")),
        ]
    );
    app.shutdown().await;
});

web_test!(group_attributes_are_saved_with_the_api_rules, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_group(&mut b, "eng", "").await;
    let page = b.get(&format!("/admin/groups/{id}")).await.text();
    assert!(page.contains("<h2>Group attributes</h2>"));
    assert!(page.contains("<button type=\"submit\">Save Attributes</button>"));
    let csrf = hidden(&page, "csrf").unwrap();
    let path = format!("/admin/groups/{id}/attributes");
    let api = format!("/api/v1/groups/{id}/attributes");

    let r = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("attr_name", "dept"),
                ("attr_value", "eng"),
                ("attr_name", "dept"),
                ("attr_value", "ops"),
                ("attr_name", "tier"),
                ("attr_value", "1"),
                ("attr_name", ""),
                ("attr_value", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        app.get(&api).await.expect(StatusCode::OK),
        json!({"dept": ["eng", "ops"], "tier": ["1"]})
    );
    let page = b.get(location(&r)).await.text();
    assert!(page.contains("Attributes saved."));
    assert!(page.contains("name=\"attr_value\" value=\"ops\""), "{page}");

    // Row 1 ("dept" = "ops") ticked for removal.
    let r = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("attr_name", "dept"),
                ("attr_value", "eng"),
                ("attr_name", "dept"),
                ("attr_value", "ops"),
                ("attr_remove", "1"),
                ("attr_name", "tier"),
                ("attr_value", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&api).await.expect(StatusCode::OK),
        json!({"dept": ["eng"], "tier": ["1"]})
    );

    // The API's rules, named next to the row; nothing is saved.
    let r = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("attr_name", "bad name"),
                ("attr_value", "x"),
                ("attr_name", "ok"),
                ("attr_value", "y"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let text = r.text();
    assert!(
        text.contains("bad name: attribute names are 1-128 characters"),
        "{text}"
    );
    assert!(text.contains("name=\"attr_name\" value=\"ok\""), "{text}");
    let r = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("attr_name", "v"),
                ("attr_value", &"x".repeat(1025)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .contains("values are at most 1024 characters without control characters"));
    assert_eq!(
        app.get(&api).await.expect(StatusCode::OK),
        json!({"dept": ["eng"], "tier": ["1"]})
    );

    // Every row removed: no attributes.
    let r = b.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&api).await.expect(StatusCode::OK), json!({}));
    let sets = actions(&app)
        .await
        .into_iter()
        .filter(|a| a == "group.attributes.set")
        .count();
    assert_eq!(sets, 3);
    app.shutdown().await;
});

web_test!(
    applications_are_bound_and_unbound_from_the_group_side,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let (one, _) = app.store_app("aws-one").await;
        let (two, _) = app.store_app("aws-two").await;
        let id = create_group(&mut b, "eng", "").await;
        let page = b.get(&format!("/admin/groups/{id}")).await.text();
        for (app_id, label) in [(one, "aws-one"), (two, "aws-two")] {
            assert!(
                page.contains(&format!(
                    "<input type=\"checkbox\" name=\"apps\" value=\"{app_id}\"> {label}</label>"
                )),
                "{page}"
            );
        }
        assert!(page.contains("<button type=\"submit\">Save Applications</button>"));
        let csrf = hidden(&page, "csrf").unwrap();
        let path = format!("/admin/groups/{id}/applications");
        let groups_of = |app_id: i64| format!("/api/v1/applications/{app_id}/groups");

        let page_url = format!("/admin/groups/{id}");
        let r = b.save_checkboxes(&page_url, &path, "apps", &[one]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(
            ids(&app.get(&groups_of(one)).await.expect(StatusCode::OK)),
            [id]
        );
        assert_eq!(
            ids(&app.get(&groups_of(two)).await.expect(StatusCode::OK)),
            Vec::<i64>::new()
        );
        let shown = b.get(location(&r)).await.text();
        assert!(shown.contains("Applications saved."));
        assert!(
            shown.contains(&format!("value=\"{one}\" checked")),
            "{shown}"
        );
        // The app's side sees the binding: its User Groups tab has it ticked.
        let tab = b
            .get(&format!("/admin/applications/{one}?tab=groups"))
            .await
            .text();
        assert!(tab.contains(&format!("value=\"{id}\" checked")), "{tab}");

        // The ticked set replaces the bindings.
        let r = b.save_checkboxes(&page_url, &path, "apps", &[two]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            ids(&app.get(&groups_of(one)).await.expect(StatusCode::OK)),
            Vec::<i64>::new()
        );
        assert_eq!(
            ids(&app.get(&groups_of(two)).await.expect(StatusCode::OK)),
            [id]
        );
        let tab = b
            .get(&format!("/admin/applications/{one}?tab=groups"))
            .await
            .text();
        assert!(!tab.contains(&format!("value=\"{id}\" checked")), "{tab}");

        // An unknown application (a forged form): a 404 naming it, and
        // nothing changed, not even the valid box.
        let r = b
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("apps_shown", &one.to_string()),
                    ("apps", &one.to_string()),
                    ("apps_shown", "999999"),
                    ("apps", "999999"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.text().contains("999999"), "{}", r.text());
        assert_eq!(
            ids(&app.get(&groups_of(one)).await.expect(StatusCode::OK)),
            Vec::<i64>::new()
        );

        // Nothing ticked: no bindings.
        let r = b.save_checkboxes(&page_url, &path, "apps", &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let apps_of_group = app
            .get(&format!("/api/v1/groups/{id}/applications"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(apps_of_group, json!([]));

        // The API's audit events: the application is the target.
        let events = app.audit_events().await;
        let binds: Vec<(String, String, String)> = events
            .iter()
            .filter(|e| e.action.contains("bind_group"))
            .map(|e| (e.action.clone(), e.target.clone(), e.summary.clone()))
            .collect();
        let summary = format!("{{\"group\":{id}}}");
        assert_eq!(
            binds,
            [
                (
                    "application.bind_group".into(),
                    format!("application:{one}"),
                    summary.clone()
                ),
                (
                    "application.unbind_group".into(),
                    format!("application:{one}"),
                    summary.clone()
                ),
                (
                    "application.bind_group".into(),
                    format!("application:{two}"),
                    summary.clone()
                ),
                (
                    "application.unbind_group".into(),
                    format!("application:{two}"),
                    summary
                ),
            ]
        );
        app.shutdown().await;
    }
);

web_test!(groups_are_deleted_after_a_confirmation, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let ann = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    let (aws, _) = app.store_app("aws").await;
    let id = create_group(&mut b, "eng", "").await;
    app.admin("PUT", &format!("/api/v1/groups/{id}/members/{ann}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{id}/applications/{aws}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    let page = b.get(&format!("/admin/groups/{id}")).await.text();
    assert!(page.contains(&format!(
        "<form method=\"get\" action=\"/admin/groups/{id}/delete\">"
    )));
    let confirm = b.get(&format!("/admin/groups/{id}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let text = confirm.text();
    assert!(text.contains("Delete group “eng”?"), "{text}");
    assert!(text.contains("Members: 1."), "{text}");
    assert!(text.contains("<li>aws</li>"), "{text}");
    assert!(text.contains("Delete Group</button>"));
    // Only showing the confirmation changes nothing.
    app.get(&format!("/api/v1/groups/{id}"))
        .await
        .expect(StatusCode::OK);

    let csrf = hidden(&text, "csrf").unwrap();
    let r = b
        .post(&format!("/admin/groups/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/groups?deleted=1");
    let list = b.get(location(&r)).await.text();
    assert!(list.contains("Group deleted."), "{list}");
    app.get(&format!("/api/v1/groups/{id}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    // The user stays; the binding went with the group.
    app.get(&format!("/api/v1/users/{ann}"))
        .await
        .expect(StatusCode::OK);
    let bound = app
        .get(&format!("/api/v1/applications/{aws}/groups"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(bound, json!([]));
    let deleted = app
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.action == "group.delete")
        .unwrap();
    assert_eq!(deleted.target, format!("group:{id}"));
    assert_eq!(deleted.summary, "{\"name\":\"eng\"}");

    // Gone: 404 pages, and a second delete is a 404 too.
    assert_eq!(
        b.get(&format!("/admin/groups/{id}/delete")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = b
        .post(&format!("/admin/groups/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.shutdown().await;
});

web_test!(read_only_admins_see_groups_but_change_nothing, |app| {
    let ann = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    let bo = app.create_user("bo@example.com", "bo").await["id"]
        .as_i64()
        .unwrap();
    let (aws, _) = app.store_app("aws").await;
    let id = app
        .admin(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "eng", "description": "d", "attributes": {"dept": ["eng"]}})),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_i64()
        .unwrap();
    app.admin("PUT", &format!("/api/v1/groups/{id}/members/{ann}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let before = app
        .get(&format!("/api/v1/groups/{id}"))
        .await
        .expect(StatusCode::OK);

    let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;
    let list = ro.get("/admin/groups").await.text();
    assert!(list.contains(">eng</a>"), "{list}");
    assert!(!list.contains("Add Group"), "{list}");
    let page = ro.get(&format!("/admin/groups/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    // Everything is shown...
    assert!(text.contains("ann@example.com"));
    assert!(text.contains("value=\"dept\""));
    assert!(text.contains(&format!("value=\"{aws}\"")));
    // ...and nothing can be changed (the layout's sign-out aside).
    let main = &text[text.find("<main").unwrap()..];
    assert!(!main.contains("<button"), "{main}");
    for control in [
        "Add Member",
        "Remove",
        "Save Attributes",
        "Save Applications",
        "Delete group",
    ] {
        assert!(!text.contains(control), "{control}: {text}");
    }
    assert_eq!(
        ro.get("/admin/groups/new").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ro.get(&format!("/admin/groups/{id}/delete")).await.status,
        StatusCode::FORBIDDEN
    );

    let csrf = ro.csrf_of("/admin/groups").await;
    let (ann_s, bo_s, aws_s) = (ann.to_string(), bo.to_string(), aws.to_string());
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/admin/groups/new".into(), vec![("name", "new")]),
        (format!("/admin/groups/{id}/details"), vec![("name", "x")]),
        (
            format!("/admin/groups/{id}/members/add"),
            vec![("user", &bo_s)],
        ),
        (
            format!("/admin/groups/{id}/members/remove"),
            vec![("user", &ann_s)],
        ),
        (
            format!("/admin/groups/{id}/attributes"),
            vec![("attr_name", "x"), ("attr_value", "y")],
        ),
        (
            format!("/admin/groups/{id}/applications"),
            vec![("apps_shown", &aws_s), ("apps", &aws_s)],
        ),
        (format!("/admin/groups/{id}/delete"), vec![]),
    ];
    for (path, mut fields) in posts {
        fields.push(("csrf", &csrf));
        let r = ro.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().contains("read_only"), "{path}: {}", r.text());
    }
    assert_eq!(
        app.get(&format!("/api/v1/groups/{id}"))
            .await
            .expect(StatusCode::OK),
        before
    );
    assert_eq!(member_ids(&app, id).await, [ann]);
    let groups = app.get("/api/v1/groups").await.expect(StatusCode::OK);
    assert_eq!(groups["items"].as_array().unwrap().len(), 1);
    let bound = app
        .get(&format!("/api/v1/groups/{id}/applications"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(bound, json!([]));
    app.shutdown().await;
});

web_test!(group_posts_need_the_session_token, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_group(&mut b, "eng", "").await;
    let ann = app.create_user("ann@example.com", "ann").await["id"]
        .as_i64()
        .unwrap();
    let ann_s = ann.to_string();
    let wrong = "0".repeat(64);
    for csrf in [None, Some(wrong.as_str())] {
        let cases: [(String, Vec<(&str, &str)>); 3] = [
            ("/admin/groups/new".into(), vec![("name", "other")]),
            (
                format!("/admin/groups/{id}/members/add"),
                vec![("user", ann_s.as_str())],
            ),
            (format!("/admin/groups/{id}/delete"), vec![]),
        ];
        for (path, mut fields) in cases {
            if let Some(c) = csrf {
                fields.push(("csrf", c));
            }
            let r = b.post(&path, &fields).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
            assert!(r.text().contains("Request refused"), "{}", r.text());
        }
    }
    let groups = app.get("/api/v1/groups").await.expect(StatusCode::OK);
    assert_eq!(groups["items"].as_array().unwrap().len(), 1);
    assert_eq!(member_ids(&app, id).await, Vec::<i64>::new());
    app.shutdown().await;
});

web_test!(hostile_group_values_render_inert, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let (aws, _) = app.store_app("aws").await;
    let name = "<script>alert(1)</script>\"q\" 'javascript:alert(2)'";
    let id = create_group(&mut b, name, "<img src=x onerror=alert(3)>").await;
    let csrf = b.csrf_of(&format!("/admin/groups/{id}")).await;
    let r = b
        .post(
            &format!("/admin/groups/{id}/attributes"),
            &[
                ("csrf", &csrf),
                ("attr_name", "link"),
                ("attr_value", "javascript:alert(4)\"><script>x</script>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    app.audit.flush().await;
    for path in [
        "/admin/groups".to_owned(),
        format!("/admin/groups/{id}"),
        format!("/admin/groups/{id}/delete"),
        format!("/admin/applications/{aws}?tab=groups"),
        "/admin/audit".to_owned(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let text = r.text();
        assert!(!text.contains("<script>"), "{path}: {text}");
        assert!(!text.contains("<img src=x"), "{path}: {text}");
        assert!(!text.contains("\"><script"), "{path}: {text}");
        assert!(
            text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}: {text}"
        );
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
    let detail = b.get(&format!("/admin/groups/{id}")).await.text();
    assert!(detail.contains("&#34;q&#34; &#39;javascript:alert(2)&#39;"));
    assert!(detail.contains("&#60;img src=x onerror=alert(3)&#62;</textarea>"));
    assert!(detail.contains("value=\"javascript:alert(4)&#34;&#62;&#60;script&#62;x"));
    // No link ever points at a user-supplied value.
    assert!(!detail.contains("href=\"javascript:"), "{detail}");
    app.shutdown().await;
});
