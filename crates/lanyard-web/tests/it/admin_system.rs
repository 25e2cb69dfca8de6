//! The admin portal's SECURITY section through the real router, on every
//! backend: the audit log (newest first, filters, pages), API keys (the
//! secret shown once, then working as a Bearer key until revoked), the
//! settings page (effective values, no secret), read-only admins, the
//! CSRF token, and hostile values rendered inert.

use axum::http::StatusCode;
use lanyard_core::session::AuthSettings;
use serde_json::json;

use crate::common::admin::{make_admin, signed_in, PW};
use crate::common::browser::{hidden, location, Browser};
use crate::common::TestApp;

/// The href of the link whose text is `text`, entities undone.
fn link(html: &str, text: &str) -> String {
    let at = html
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no {text:?} link in {html}"));
    let start = html[..at].rfind("href=\"").unwrap() + 6;
    html[start..at]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
}

/// The (action, target) of each row of the audit page, top to bottom.
fn audit_rows(html: &str) -> Vec<(String, String)> {
    let Some(body) = html.split("<tbody>").nth(1) else {
        return Vec::new();
    };
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let cells: Vec<&str> = row.split("<td>").skip(1).collect();
            let text = |c: &str| {
                c.split("</td>")
                    .next()
                    .unwrap()
                    .replace("<code>", "")
                    .replace("</code>", "")
            };
            (text(cells[2]), text(cells[3]))
        })
        .collect()
}

/// The new key's secret on the "API key created" page.
fn secret_of(html: &str) -> String {
    let at = html.find("value=\"lyk_").expect("the new key") + 7;
    html[at..].split('"').next().unwrap().to_owned()
}

web_test!(
    audit_log_lists_portal_actions_newest_first_with_filters_and_pages,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let ann = app.create_user("ann@example.com", "ann").await["id"]
            .as_i64()
            .unwrap();
        // The log lists events in the order they were written: changes at
        // their commit, sign-in events in the next batch (within 200 ms).
        app.audit.flush().await;
        // Changes made through the portal.
        let csrf = b.csrf_of("/admin/groups/new").await;
        let r = b
            .post("/admin/groups/new", &[("csrf", &csrf), ("name", "eng")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let gid: i64 = location(&r)
            .trim_start_matches("/admin/groups/")
            .trim_end_matches("?saved=created")
            .parse()
            .unwrap();
        let r = b
            .post(
                &format!("/admin/groups/{gid}/members/add"),
                &[("csrf", &csrf), ("user", &ann.to_string())],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        app.audit.flush().await;

        let page = b.get("/admin/audit").await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        for header in [
            "Time (UTC)",
            "Actor",
            "Action",
            "Target",
            "Source address",
            "Summary",
        ] {
            assert!(text.contains(&format!("<th>{header}</th>")), "{header}");
        }
        for label in ["Actor", "Action", "Target"] {
            let id = label.to_lowercase();
            assert!(text.contains(&format!("<label for=\"{id}\">{label}</label>")));
            assert!(text.contains(&format!("<input type=\"text\" id=\"{id}\" name=\"{id}\"")));
        }
        // Newest first: the portal's two changes on top.
        let rows = audit_rows(&text);
        assert_eq!(
            rows[..2],
            [
                ("group.member.add".to_owned(), format!("group:{gid}")),
                ("group.create".to_owned(), format!("group:{gid}")),
            ],
            "{text}"
        );
        assert!(rows.iter().any(|(a, _)| a == "admin.sign_in"), "{text}");
        let top = &text[text.find("<tbody>").unwrap()..];
        let first_row = &top[..top.find("</tr>").unwrap()];
        assert!(
            first_row.contains("<td>2025-03-01 12:00:00</td>"),
            "{first_row}"
        );
        assert!(first_row.contains("<td>admin:root@example.com</td>"));
        assert!(first_row.contains("<td>192.0.2.7</td>"));
        assert!(
            first_row.contains(&format!("{{&#34;user&#34;:{ann}}}")),
            "{first_row}"
        );

        // Filters match exactly, as in the API.
        let only = b.get("/admin/audit?action=group.create").await.text();
        assert_eq!(
            audit_rows(&only),
            [("group.create".to_owned(), format!("group:{gid}"))]
        );
        assert!(
            only.contains("value=\"group.create\""),
            "the filter is kept"
        );
        let by_target = b
            .get(&format!("/admin/audit?target=group:{gid}"))
            .await
            .text();
        assert_eq!(audit_rows(&by_target).len(), 2);
        let by_actor = b
            .get("/admin/audit?actor=admin%3Aroot%40example.com")
            .await
            .text();
        let actor_rows = audit_rows(&by_actor);
        assert!(
            actor_rows.iter().all(|(a, _)| a != "user.create"),
            "{by_actor}"
        );
        assert!(actor_rows.iter().any(|(a, _)| a == "group.create"));
        let api_made = b.get("/admin/audit?actor=apikey:admin%231").await.text();
        assert!(audit_rows(&api_made)
            .iter()
            .any(|(a, _)| a == "user.create"));
        let nothing = b.get("/admin/audit?action=group.creat").await.text();
        assert!(
            nothing.contains("No events match these filters"),
            "{nothing}"
        );

        // Pages of 50, older ones through the link.
        for i in 0..55 {
            app.create_group(&format!("g{i:02}")).await;
        }
        app.audit.flush().await;
        let first = b.get("/admin/audit?action=group.create").await.text();
        let rows = audit_rows(&first);
        assert_eq!(rows.len(), 50);
        assert!(!first.contains("Newest events"));
        let older = link(&first, "Older events");
        assert!(older.contains("action=group.create"), "{older}");
        let second = b.get(&older).await.text();
        let rows2 = audit_rows(&second);
        // 56 group.create events in all: 6 on the older page, the oldest
        // being the portal's.
        assert_eq!(rows2.len(), 6, "{second}");
        assert_eq!(
            rows2.last().unwrap(),
            &("group.create".to_owned(), format!("group:{gid}"))
        );
        assert!(!second.contains("Older events"));
        assert_eq!(
            link(&second, "Newest events"),
            "/admin/audit?action=group.create"
        );

        // Bad paging values: a 400 page.
        for bad in ["/admin/audit?before=x", "/admin/audit?before=-1"] {
            let r = b.get(bad).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        // Reading the log changes nothing.
        let count = app.audit_events().await.len();
        b.get("/admin/audit").await;
        assert_eq!(app.audit_events().await.len(), count);
        app.shutdown().await;
    }
);

web_test!(api_keys_are_shown_once_work_and_are_revoked, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let page = b.get("/admin/api-keys").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("<label for=\"key-name\">Name</label>"),
        "{text}"
    );
    assert!(text.contains("<label for=\"key-role\">Role</label>"));
    assert!(text.contains("<option value=\"read_only\" selected>read-only</option>"));
    assert!(text.contains("<option value=\"administrator\">administrator</option>"));
    assert!(text.contains("<button type=\"submit\">Create API Key</button>"));
    // The harness's own keys are listed, never their secrets.
    assert!(text.contains("<td>admin</td>") && text.contains("<td>reader</td>"));
    assert!(!text.contains(&app.admin_key));
    let csrf = hidden(&text, "csrf").unwrap();
    let once = hidden(&text, "once").unwrap();

    // Bad input: the rule named, 400, no key made.
    let r = b
        .post(
            "/admin/api-keys",
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("name", "  "),
                ("role", "root"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let bad = r.text();
    assert!(
        bad.contains("Name must be 1-100 characters without control characters"),
        "{bad}"
    );
    assert!(
        bad.contains("Role choose read-only or administrator"),
        "{bad}"
    );
    let listed = app.get("/api/v1/api-keys").await.expect(StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // The refused form came back with a fresh one-time token.
    let once = hidden(&bad, "once").unwrap();
    let create = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("name", "ci deploy"),
        ("role", "administrator"),
    ];
    let r = b.post("/admin/api-keys", &create).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Reloading the page that shows the secret re-sends the form: it
    // makes no second key, on this node, on another one, or after a
    // restart (the token is remembered in the database).
    let again = b.post("/admin/api-keys", &create).await;
    let other = app.another_node();
    let mut elsewhere = Browser::new(&other);
    elsewhere.cookies = b.cookies.clone();
    let there = elsewhere.post("/admin/api-keys", &create).await;
    for again in [again, there] {
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(
            again.text().contains("This form was already submitted"),
            "{}",
            again.text()
        );
    }
    other.shutdown().await;
    let listed = app.get("/api/v1/api-keys").await.expect(StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let created = r.text();
    assert!(created.contains("API key created"));
    assert!(created.contains("it will not be shown again"));
    let secret = secret_of(&created);
    assert!(secret.starts_with("lyk_") && secret.len() == 68, "{secret}");
    assert_eq!(r.headers["cache-control"], "no-store");

    // It works as a Bearer key.
    let users = app.call("GET", "/api/v1/users", &secret, None).await;
    users.expect(StatusCode::OK);
    let made = app
        .call(
            "POST",
            "/api/v1/groups",
            &secret,
            Some(json!({"name": "made by ci"})),
        )
        .await;
    made.expect(StatusCode::CREATED);

    // Listed by name and prefix, never shown again.
    let list = b.get("/admin/api-keys").await.text();
    assert!(!list.contains(&secret), "{list}");
    assert!(!list.contains(&secret[12..]), "{list}");
    assert!(
        list.contains(&format!("<code>{}…</code>", &secret[..12])),
        "{list}"
    );
    let row_at = list.find("<td>ci deploy</td>").unwrap();
    let row = &list[row_at..row_at + list[row_at..].find("</tr>").unwrap()];
    assert!(row.contains("<td>administrator</td>"), "{row}");
    assert!(row.contains("<td>2025-03-01 12:00:00</td>"), "{row}");
    assert!(row.contains("active"), "{row}");
    assert!(row.contains(">Revoke</button>"), "{row}");

    // Revoke: the key stops working, and stays listed as revoked.
    let key_id = listed_id(&app, "ci deploy").await;
    let r = b
        .post(
            &format!("/admin/api-keys/{key_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/api-keys?saved=revoked");
    let list = b.get(location(&r)).await.text();
    assert!(list.contains("API key revoked."));
    let row_at = list.find("<td>ci deploy</td>").unwrap();
    let row = &list[row_at..row_at + list[row_at..].find("</tr>").unwrap()];
    assert!(row.contains("revoked 2025-03-01 12:00:00"), "{row}");
    assert!(!row.contains(">Revoke</button>"), "{row}");
    app.call("GET", "/api/v1/users", &secret, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let r = b
        .post("/admin/api-keys/999999/revoke", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b.post("/admin/api-keys/x/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The audit trail, as the API writes it, without the secret.
    let events = app.audit_events().await;
    let create = events.iter().find(|e| e.action == "apikey.create").unwrap();
    assert_eq!(create.actor, "admin:root@example.com");
    assert_eq!(create.target, format!("apikey:{key_id}"));
    let summary: serde_json::Value = serde_json::from_str(&create.summary).unwrap();
    assert_eq!(
        summary,
        json!({"name": "ci deploy", "role": "administrator", "prefix": &secret[..12]})
    );
    let revoke = events.iter().find(|e| e.action == "apikey.revoke").unwrap();
    assert_eq!(revoke.target, format!("apikey:{key_id}"));
    assert!(events.iter().all(|e| !e.summary.contains(&secret[12..])));

    // The secret was in exactly one response: the creation page.
    let with_secret = app
        .bodies
        .lock()
        .unwrap()
        .iter()
        .filter(|body| String::from_utf8_lossy(body).contains(&secret[12..]))
        .count();
    assert_eq!(with_secret, 1);
    app.shutdown().await;
});

async fn listed_id(app: &TestApp, name: &str) -> i64 {
    let keys = app.get("/api/v1/api-keys").await.expect(StatusCode::OK);
    keys.as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

web_test!(read_only_keys_made_in_the_portal_cannot_write, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let form = b.get("/admin/api-keys").await.text();
    let (csrf, once) = (
        hidden(&form, "csrf").unwrap(),
        hidden(&form, "once").unwrap(),
    );
    let r = b
        .post(
            "/admin/api-keys",
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("name", "dashboard"),
                ("role", "read_only"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(
        text.contains("The read-only key “dashboard” was created"),
        "{text}"
    );
    let secret = secret_of(&text);
    app.call("GET", "/api/v1/users", &secret, None)
        .await
        .expect(StatusCode::OK);
    app.call(
        "POST",
        "/api/v1/groups",
        &secret,
        Some(json!({"name": "nope"})),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "forbidden");
    app.shutdown().await;
});

web_test!(settings_show_the_effective_values_and_no_secret, |app| {
    make_admin(&app, "viewer@example.com", "read_only").await;
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let r = b.get("/admin/settings").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    let defaults = AuthSettings::default();
    assert_eq!(defaults.session_idle.whole_minutes(), 60);
    for (key, value) in [
        ("base_url", "http://127.0.0.1:8080"),
        ("listen", "127.0.0.1:8080"),
        ("log", "info"),
        ("session_idle_minutes", "60 minutes"),
        ("session_max_hours", "12 hours"),
        ("lockout_failures", "5"),
        ("login_attempts_per_minute", "30"),
    ] {
        assert!(
            text.contains(&format!("<td><code>{key}</code></td><td>{value}</td>")),
            "{key} = {value}: {text}"
        );
    }
    let kind = match app.backend {
        "sqlite" => "SQLite",
        _ => "PostgreSQL",
    };
    assert!(
        text.contains(&format!(
            "<td><code>database</code></td><td>{kind} (the URL is not shown)</td>"
        )),
        "{text}"
    );
    assert!(text.contains("cannot be changed here"), "{text}");
    assert!(text.contains("config file"));
    assert!(text.contains("<tr><td>root@example.com</td><td>administrator</td>"));
    assert!(text.contains("<tr><td>viewer@example.com</td><td>read-only</td>"));
    for secret in [
        PW,
        "$argon2",
        "postgres://",
        "sqlite:",
        "PRIVATE KEY",
        "lyk_",
    ] {
        assert!(!text.contains(secret), "{secret}: {text}");
    }
    assert!(!text.contains(&app.admin_key));
    app.shutdown().await;
});

web_test!(
    read_only_admins_see_the_security_pages_but_change_nothing,
    |app| {
        let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;
        for path in ["/admin/audit", "/admin/api-keys", "/admin/settings"] {
            let r = ro.get(path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            let text = r.text();
            let main = &text[text.find("<main").unwrap()..];
            assert!(!main.contains("method=\"post\""), "{path}: {main}");
        }
        let keys = ro.get("/admin/api-keys").await.text();
        assert!(keys.contains("<td>admin</td>"), "the keys are listed");
        assert!(!keys.contains("Create API Key") && !keys.contains("Revoke"));
        app.audit.flush().await;
        assert!(ro
            .get("/admin/audit")
            .await
            .text()
            .contains("admin.sign_in"));

        let csrf = ro.csrf_of("/admin/api-keys").await;
        let r = ro
            .post(
                "/admin/api-keys",
                &[("csrf", &csrf), ("name", "sneaky"), ("role", "read_only")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("read_only"), "{}", r.text());
        assert!(!r.text().contains("lyk_"));
        let admin_key_id = listed_id(&app, "admin").await;
        let r = ro
            .post(
                &format!("/admin/api-keys/{admin_key_id}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let keys = app.get("/api/v1/api-keys").await.expect(StatusCode::OK);
        assert_eq!(keys.as_array().unwrap().len(), 2);
        assert!(keys
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["revoked_at"].is_null()));
        let events = app.audit_events().await;
        assert!(events.iter().all(|e| !e.action.starts_with("apikey.")));
        app.shutdown().await;
    }
);

web_test!(api_key_posts_need_the_session_token, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let key_id = listed_id(&app, "reader").await.to_string();
    let wrong = "0".repeat(64);
    for fields in [
        vec![("name", "x"), ("role", "read_only")],
        vec![
            ("name", "x"),
            ("role", "read_only"),
            ("csrf", wrong.as_str()),
        ],
    ] {
        let r = b.post("/admin/api-keys", &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("Request refused"));
        let r = b
            .post(&format!("/admin/api-keys/{key_id}/revoke"), &fields[2..])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let keys = app.get("/api/v1/api-keys").await.expect(StatusCode::OK);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    app.call("GET", "/api/v1/users", &app.reader_key.clone(), None)
        .await
        .expect(StatusCode::OK);
    app.shutdown().await;
});

web_test!(hostile_key_names_and_filters_render_inert, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let form = b.get("/admin/api-keys").await.text();
    let (csrf, once) = (
        hidden(&form, "csrf").unwrap(),
        hidden(&form, "once").unwrap(),
    );
    let name = "<script>alert(1)</script>\"q\" 'javascript:x'";
    let r = b
        .post(
            "/admin/api-keys",
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("name", name),
                ("role", "read_only"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.audit.flush().await;
    for path in [
        "/admin/api-keys",
        "/admin/audit",
        "/admin/audit?actor=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let text = r.text();
        assert!(!text.contains("<script>"), "{path}: {text}");
        assert!(
            text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
    }
    let keys = b.get("/admin/api-keys").await.text();
    assert!(
        keys.contains("&#34;q&#34; &#39;javascript:x&#39;"),
        "{keys}"
    );
    app.shutdown().await;
});
