//! The admin portal's Users section through the real router, on every
//! backend: the list (search, pages, status and TOTP columns), the Add User
//! form with inline errors, and one user's page: details, password (the
//! user can then sign in), custom attributes, groups, suspension, unlock,
//! TOTP reset and session revocation, each audited like the REST API.
//! Read-only admins see no write buttons and are refused; a POST without
//! the session's CSRF token is refused; hostile values render inert.

use axum::http::StatusCode;
use lanyard_core::store::SignInStore;
use lanyard_core::UserId;
use serde_json::{json, Value};

use crate::common::admin::signed_in;
use crate::common::browser::{hidden, location, Browser};
use crate::common::{Resp, TestApp};

const USER_PW: &str = "correct horse battery";
const LOCKED: &str = "This account is locked after too many failed sign-ins until \
                      2025-03-01 12:15 UTC. An administrator can unlock it sooner.";

/// A directory user made through the API, with [`USER_PW`]; returns its id.
async fn api_user(app: &TestApp, username: &str) -> i64 {
    app.admin(
        "POST",
        "/api/v1/users",
        Some(json!({
            "email": format!("{username}@example.com"),
            "username": username,
            "password": USER_PW,
        })),
    )
    .await
    .expect(StatusCode::CREATED)["id"]
        .as_i64()
        .unwrap()
}

async fn api_user_json(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/users/{id}"))
        .await
        .expect(StatusCode::OK)
}

async fn events(app: &TestApp, action: &str) -> Vec<lanyard_core::audit::AuditEvent> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

fn summary(e: &lanyard_core::audit::AuditEvent) -> Value {
    serde_json::from_str(&e.summary).unwrap()
}

/// Posts `fields` plus the CSRF token of the user's page to `path`.
async fn post_on_user_page(
    b: &mut Browser<'_>,
    id: i64,
    path: &str,
    fields: &[(&str, &str)],
) -> Resp {
    let csrf = b.csrf_of(&format!("/admin/users/{id}")).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(&format!("/admin/users/{id}{path}"), &all).await
}

/// Asserts a 303 back to the user's page with `saved`; returns the page
/// it leads to.
async fn expect_back(b: &mut Browser<'_>, r: &Resp, id: i64, saved: &str, card: &str) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        location(r),
        format!("/admin/users/{id}?saved={saved}#{card}")
    );
    let page = b.get(&format!("/admin/users/{id}?saved={saved}")).await;
    assert_eq!(page.status, StatusCode::OK);
    page.text()
}

/// Whether a browser for `login` can sign in with `password`.
/// A sign-in from an address of its own (failures reach the account's
/// counter, not the per-address throttle).
async fn sign_in(app: &TestApp, login: &str, password: &str) -> Resp {
    Browser::elsewhere(app).sign_in(login, password).await
}

web_test!(
    users_are_created_through_the_form_and_found_in_the_list,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;

        let list = b.get("/admin/users").await;
        assert_eq!(list.status, StatusCode::OK);
        let text = list.text();
        assert!(
            text.contains("href=\"/admin/users/new\">+ Add User</a>"),
            "{text}"
        );
        assert!(text.contains("aria-label=\"Search users\""), "{text}");

        let form = b.get("/admin/users/new").await;
        assert_eq!(form.status, StatusCode::OK);
        let text = form.text();
        for label in [
            ">Email</label>",
            ">Username</label>",
            ">First name</label>",
            ">Last name</label>",
            ">Password</label>",
            ">Save User</button>",
        ] {
            assert!(text.contains(label), "{label}: {text}");
        }

        // Broken fields: a 400, each message under its field, the values
        // kept except the password, nothing created.
        let csrf = hidden(&text, "csrf").unwrap();
        let r = b
            .post(
                "/admin/users/new",
                &[
                    ("csrf", &csrf),
                    ("email", "not-an-email"),
                    ("username", "-ann"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee"),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        let text = r.text();
        assert!(
            text.contains("Email must be an email address like name@example.com"),
            "{text}"
        );
        assert!(
            text.contains("Username must be 1-64 characters of letters, digits"),
            "{text}"
        );
        assert!(
            text.contains("Password must be between 8 and 256 characters"),
            "{text}"
        );
        assert!(text.contains("value=\"not-an-email\""), "{text}");
        assert!(text.contains("value=\"Ann\""), "{text}");
        assert!(!text.contains("short"), "the password came back: {text}");
        assert!(events(&app, "user.create").await.is_empty());

        // Accepted: a 303 to the user's page with the notice.
        let r = b
            .post(
                "/admin/users/new",
                &[
                    ("csrf", &csrf),
                    ("email", " Ann@Example.com "),
                    ("username", "ann"),
                    ("first_name", "Ann"),
                    ("last_name", "Lee"),
                    ("password", USER_PW),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let to = location(&r).to_owned();
        let id: i64 = to
            .strip_prefix("/admin/users/")
            .and_then(|rest| rest.strip_suffix("?saved=created"))
            .unwrap_or_else(|| panic!("{to}"))
            .parse()
            .unwrap();
        let page = b.get(&format!("/admin/users/{id}?saved=created")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("User created."), "{}", page.text());
        let user = api_user_json(&app, id).await;
        assert_eq!(user["email"], "ann@example.com");
        assert_eq!(user["first_name"], "Ann");
        let created = events(&app, "user.create").await;
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].actor, "admin:root@example.com");
        assert_eq!(created[0].target, format!("user:{id}"));
        assert_eq!(summary(&created[0])["password_set"], true);
        assert!(!created[0].summary.contains(USER_PW));
        // The initial password works.
        let r = sign_in(&app, "ann", USER_PW).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(location(&r), "/portal");

        // A taken username is named under its field; no password is fine.
        let r = b
            .post(
                "/admin/users/new",
                &[
                    ("csrf", &csrf),
                    ("email", "other@example.com"),
                    ("username", "ANN"),
                    ("first_name", ""),
                    ("last_name", ""),
                    ("password", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(
            r.text()
                .contains("Username &#34;ANN&#34; is already in use"),
            "{}",
            r.text()
        );
        api_user(&app, "bob").await;

        // The list, and the search by prefix of email, username or name.
        let text = b.get("/admin/users").await.text();
        for cell in [
            ">ann</a>",
            "ann@example.com",
            "Ann Lee",
            ">bob</a>",
            "<span class=\"badge on\">active</span>",
            "<td>off</td>",
        ] {
            assert!(text.contains(cell), "{cell}: {text}");
        }
        for q in ["ann", "ANN@ex", "lee", "Ann"] {
            let text = b.get(&format!("/admin/users?q={q}")).await.text();
            assert!(text.contains(">ann</a>"), "{q}: {text}");
            assert!(!text.contains(">bob</a>"), "{q}: {text}");
            assert!(text.contains(&format!("value=\"{q}\"")), "{q}: {text}");
        }
        let text = b.get("/admin/users?q=zzz").await.text();
        assert!(text.contains("No users match"), "{text}");
        app.shutdown().await;
    }
);

web_test!(the_list_pages_forward_and_back, |app| {
    for i in 0..55 {
        app.create_user(&format!("u{i:02}@example.com"), &format!("u{i:02}"))
            .await;
    }
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let first = b.get("/admin/users").await.text();
    assert_eq!(first.matches("<tr>").count(), 51, "{first}"); // + header
    assert!(first.contains(">u00</a>") && first.contains(">u49</a>"));
    assert!(!first.contains(">u50</a>"));
    assert!(!first.contains("Previous"), "{first}");
    let next = first
        .split("href=\"/admin/users?")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a Next link")
        .replace("&#38;", "&");
    assert!(first.contains("Next &rarr;"));

    let second = b.get(&format!("/admin/users?{next}")).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.text();
    assert!(second.contains(">u50</a>") && second.contains(">u54</a>"));
    assert!(!second.contains(">u49</a>"), "{second}");
    assert!(!second.contains("Next &rarr;"), "{second}");
    let previous = second
        .split("href=\"/admin/users?")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a Previous link")
        .replace("&#38;", "&");
    assert!(second.contains("&larr; Previous"));
    let back = b.get(&format!("/admin/users?{previous}")).await.text();
    assert!(
        back.contains(">u00</a>") && back.contains(">u49</a>"),
        "{back}"
    );

    // Garbage cursors are the first page, not an error; an overlong
    // search is a 400 page.
    let r = b.get("/admin/users?after=abc&trail=x,y").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains(">u00</a>"));
    let r = b.get(&format!("/admin/users?q={}", "a".repeat(300))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("must be at most 254 characters"),
        "{}",
        r.text()
    );
    app.shutdown().await;
});

web_test!(
    details_and_password_are_saved_and_the_user_can_then_sign_in,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = app.create_user("ann@example.com", "ann").await["id"]
            .as_i64()
            .unwrap();
        api_user(&app, "bob").await;

        let page = b.get(&format!("/admin/users/{id}")).await.text();
        for label in [
            ">Email</label>",
            ">Username</label>",
            ">First name</label>",
            ">Last name</label>",
            ">Save</button>",
            ">New password</label>",
            ">Set Password</button>",
            ">Save Attributes</button>",
            ">Suspend</button>",
        ] {
            assert!(page.contains(label), "{label}: {page}");
        }

        let details = [
            ("email", "ann@example.com"),
            ("username", "ann"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
        ];
        let r = post_on_user_page(&mut b, id, "/details", &details).await;
        let page = expect_back(&mut b, &r, id, "details", "details").await;
        assert!(page.contains("Details saved."), "{page}");
        let user = api_user_json(&app, id).await;
        assert_eq!(
            (user["first_name"].as_str(), user["last_name"].as_str()),
            (Some("Ann"), Some("Lee"))
        );
        // Only the changed fields are recorded, as a PATCH would.
        let updates = events(&app, "user.update").await;
        assert_eq!(updates.len(), 1);
        assert_eq!(
            summary(&updates[0]),
            json!({"first_name": "Ann", "last_name": "Lee"})
        );
        let r = post_on_user_page(&mut b, id, "/details", &details).await;
        expect_back(&mut b, &r, id, "unchanged", "details").await;
        assert_eq!(events(&app, "user.update").await.len(), 1);

        // Broken and taken values come back under their fields.
        let r = post_on_user_page(
            &mut b,
            id,
            "/details",
            &[
                ("email", "bob@example.com"),
                ("username", "ann"),
                ("first_name", "Ann\u{7}"),
                ("last_name", "Lee"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(
            r.text()
                .contains("First name must not contain control characters"),
            "{}",
            r.text()
        );
        let r = post_on_user_page(
            &mut b,
            id,
            "/details",
            &[
                ("email", "bob@example.com"),
                ("username", "ann"),
                ("first_name", "Ann"),
                ("last_name", "Lee"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(
            r.text()
                .contains("Email &#34;bob@example.com&#34; is already in use"),
            "{}",
            r.text()
        );
        assert!(r.text().contains("value=\"bob@example.com\""));
        assert_eq!(api_user_json(&app, id).await["email"], "ann@example.com");

        // No password yet: sign-in fails; a short one is refused inline.
        assert_eq!(sign_in(&app, "ann", USER_PW).await.status, StatusCode::OK);
        let r = post_on_user_page(&mut b, id, "/password", &[("password", "short")]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text()
                .contains("New password must be between 8 and 256 characters"),
            "{}",
            r.text()
        );
        assert!(events(&app, "user.password.set").await.is_empty());
        let r = post_on_user_page(&mut b, id, "/password", &[("password", USER_PW)]).await;
        let page = expect_back(&mut b, &r, id, "password", "password").await;
        assert!(page.contains("Password set."));
        let set = events(&app, "user.password.set").await;
        assert_eq!(set.len(), 1);
        assert!(!set[0].summary.contains(USER_PW));

        let r = sign_in(&app, "ann@example.com", USER_PW).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(location(&r), "/portal");
        app.shutdown().await;
    }
);

web_test!(attributes_are_saved_with_the_api_rules, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;

    let rows = [
        ("attr_name", "department"),
        ("attr_value", "eng"),
        ("attr_name", "team"),
        ("attr_value", "blue"),
        ("attr_name", "team"),
        ("attr_value", "red"),
        ("attr_name", ""),
        ("attr_value", ""),
    ];
    let r = post_on_user_page(&mut b, id, "/attributes", &rows).await;
    let page = expect_back(&mut b, &r, id, "attributes", "attributes").await;
    assert!(page.contains("Attributes saved."));
    assert!(page.contains("value=\"department\"") && page.contains("value=\"red\""));
    let attrs = app
        .get(&format!("/api/v1/users/{id}/attributes"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        attrs,
        json!({"department": ["eng"], "team": ["blue", "red"]})
    );
    let set = events(&app, "user.attributes.set").await;
    assert_eq!(set.len(), 1);
    assert_eq!(summary(&set[0])["attributes"], attrs);

    // A name the API refuses is refused here with the API's message,
    // next to its row, and nothing changes.
    let r = post_on_user_page(
        &mut b,
        id,
        "/attributes",
        &[
            ("attr_name", "bad name"),
            ("attr_value", "x"),
            ("attr_name", "department"),
            ("attr_value", "ops"),
            ("attr_name", ""),
            ("attr_value", "orphan value"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains(
            "Attribute “bad name”: attribute names are 1-128 characters of letters, digits"
        ),
        "{text}"
    );
    assert!(
        text.contains("Attribute name: attribute names are 1-128 characters"),
        "{text}"
    );
    assert!(text.contains("value=\"orphan value\""), "{text}");
    let api_rule = app
        .admin(
            "PUT",
            &format!("/api/v1/users/{id}/attributes"),
            Some(json!({"bad name": ["x"]})),
        )
        .await
        .expect_invalid("attributes.bad name");
    assert!(
        text.contains(&api_rule.replace('\'', "&#39;")),
        "{api_rule}: {text}"
    );
    let again = app
        .get(&format!("/api/v1/users/{id}/attributes"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(again, attrs);

    // Emptying a row removes its value.
    let r = post_on_user_page(
        &mut b,
        id,
        "/attributes",
        &[
            ("attr_name", "department"),
            ("attr_value", "eng"),
            ("attr_name", ""),
            ("attr_value", ""),
            ("attr_name", "team"),
            ("attr_value", "red"),
        ],
    )
    .await;
    expect_back(&mut b, &r, id, "attributes", "attributes").await;
    let attrs = app
        .get(&format!("/api/v1/users/{id}/attributes"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(attrs, json!({"department": ["eng"], "team": ["red"]}));
    app.shutdown().await;
});

web_test!(group_membership_becomes_the_ticked_groups, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;
    let g: Vec<i64> = {
        let mut ids = Vec::new();
        for name in ["Admins", "Engineering", "Sales"] {
            ids.push(app.create_group(name).await["id"].as_i64().unwrap());
        }
        ids
    };
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{}/members/{id}", g[0]),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    let page = b.get(&format!("/admin/users/{id}")).await.text();
    assert!(
        page.contains(&format!(
            "<input type=\"checkbox\" name=\"groups\" value=\"{}\" checked> Admins</label>",
            g[0]
        )),
        "{page}"
    );
    assert!(page.contains(">Save Groups</button>"));

    let r = b
        .save_checkboxes(
            &format!("/admin/users/{id}"),
            &format!("/admin/users/{id}/groups"),
            "groups",
            &[g[1], g[2]],
        )
        .await;
    let page = expect_back(&mut b, &r, id, "groups", "groups").await;
    assert!(page.contains("Groups saved."));
    let mine: Vec<String> = app
        .get(&format!("/api/v1/users/{id}/groups"))
        .await
        .expect(StatusCode::OK)
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(mine, ["Engineering", "Sales"]);
    let added = events(&app, "group.member.add").await;
    // One by the API above, two by the page.
    assert_eq!(added.len(), 3);
    assert_eq!(added[1].actor, "admin:root@example.com");
    assert_eq!(summary(&added[1]), json!({"user": id}));
    let removed = events(&app, "group.member.remove").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].target, format!("group:{}", g[0]));

    // A group that is gone is named, and nothing changes; junk ids are
    // a 400.
    let r = post_on_user_page(
        &mut b,
        id,
        "/groups",
        &[("groups_shown", "999999"), ("groups", "999999")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("Groups: group 999999 does not exist (any more)"),
        "{}",
        r.text()
    );
    let r = post_on_user_page(&mut b, id, "/groups", &[("groups", "abc")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(events(&app, "group.member.add").await.len(), 3);
    assert_eq!(events(&app, "group.member.remove").await.len(), 1);
    app.shutdown().await;
});

web_test!(suspension_refuses_sign_in_until_unsuspended, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;

    let r = post_on_user_page(&mut b, id, "/suspend", &[]).await;
    let page = expect_back(&mut b, &r, id, "suspended", "security").await;
    assert!(page.contains(">Unsuspend</button>"), "{page}");
    assert!(!page.contains(">Suspend</button>"), "{page}");
    assert_eq!(api_user_json(&app, id).await["state"], "suspended");
    let list = b.get("/admin/users").await.text();
    assert!(
        list.contains("<span class=\"badge\">suspended</span>"),
        "{list}"
    );

    let r = sign_in(&app, "ann", USER_PW).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("This account is suspended."));

    let r = post_on_user_page(&mut b, id, "/unsuspend", &[]).await;
    expect_back(&mut b, &r, id, "unsuspended", "security").await;
    assert_eq!(api_user_json(&app, id).await["state"], "active");
    assert_eq!(
        sign_in(&app, "ann", USER_PW).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(events(&app, "user.suspend").await.len(), 1);
    assert_eq!(events(&app, "user.unsuspend").await.len(), 1);
    app.shutdown().await;
});

web_test!(a_locked_user_is_unlocked, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;
    let page = b.get(&format!("/admin/users/{id}")).await.text();
    assert!(!page.contains(">Unlock</button>"), "{page}");

    for _ in 0..5 {
        sign_in(&app, "ann", "wrong password!").await;
    }
    let r = sign_in(&app, "ann", USER_PW).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains(LOCKED));

    let list = b.get("/admin/users").await.text();
    assert!(
        list.contains("<span class=\"badge\">locked</span>"),
        "{list}"
    );
    let page = b.get(&format!("/admin/users/{id}")).await.text();
    assert!(
        page.contains("0 of 5 · locked until 2025-03-01 12:15 UTC"),
        "{page}"
    );
    assert!(page.contains(">Unlock</button>"), "{page}");

    let r = post_on_user_page(&mut b, id, "/unlock", &[]).await;
    let page = expect_back(&mut b, &r, id, "unlocked", "security").await;
    assert!(!page.contains(">Unlock</button>"), "{page}");
    assert!(page.contains("0 of 5"));
    let unlocked = events(&app, "user.unlock").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(
        summary(&unlocked[0]),
        json!({"failures_before": 0, "was_locked": true})
    );
    assert_eq!(
        sign_in(&app, "ann", USER_PW).await.status,
        StatusCode::SEE_OTHER
    );
    app.shutdown().await;
});

web_test!(
    totp_is_reset_and_the_next_sign_in_needs_only_the_password,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = api_user(&app, "ann").await;
        let page = b.get(&format!("/admin/users/{id}")).await.text();
        assert!(!page.contains(">Reset TOTP</button>"), "{page}");

        let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        app.store
            .set_totp_pending(UserId(id).into(), Some(secret))
            .await
            .unwrap();
        app.store
            .confirm_totp(UserId(id).into(), secret, 0)
            .await
            .unwrap();
        let r = sign_in(&app, "ann", USER_PW).await;
        assert!(location(&r).starts_with("/login/totp"), "{}", location(&r));

        let list = b.get("/admin/users").await.text();
        assert!(list.contains("<td>on</td>"), "{list}");
        let page = b.get(&format!("/admin/users/{id}")).await.text();
        assert!(page.contains(">Reset TOTP</button>"), "{page}");

        let r = post_on_user_page(&mut b, id, "/reset-totp", &[]).await;
        let page = expect_back(&mut b, &r, id, "totp", "security").await;
        assert!(!page.contains(">Reset TOTP</button>"), "{page}");
        assert!(!app
            .store
            .sign_in_state(UserId(id).into())
            .await
            .unwrap()
            .totp_enabled());
        let reset = events(&app, "user.totp.reset").await;
        assert_eq!(reset.len(), 1);
        // The half-done sign-in above was a session: it ended with the reset.
        assert_eq!(
            summary(&reset[0]),
            json!({"was_enabled": true, "sessions_ended": 1})
        );
        let r = sign_in(&app, "ann", USER_PW).await;
        assert_eq!(location(&r), "/portal");
        app.shutdown().await;
    }
);

web_test!(revoked_sessions_stop_working, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;
    let other = api_user(&app, "bob").await;

    let mut ann = Browser::new(&app);
    assert_eq!(
        ann.sign_in("ann", USER_PW).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(ann.get("/portal").await.status, StatusCode::OK);
    let mut ann2 = Browser::new(&app).at_addr([198, 51, 100, 9]);
    ann2.sign_in("ann", USER_PW).await;
    let mut bob = Browser::new(&app);
    bob.sign_in("bob", USER_PW).await;

    let page = b.get(&format!("/admin/users/{id}")).await.text();
    assert!(page.contains("<code>192.0.2.7</code>"), "{page}");
    assert!(page.contains("<code>198.51.100.9</code>"), "{page}");
    assert!(page.contains("2025-03-01 12:00 UTC"), "{page}");
    assert!(page.contains(">Revoke all</button>"), "{page}");
    let sessions = app.store.list_user_sessions(UserId(id)).await.unwrap();
    let first = sessions
        .iter()
        .find(|s| s.client.as_deref() == Some("192.0.2.7"))
        .unwrap()
        .id;
    assert!(page.contains(&format!("/admin/users/{id}/sessions/{first}/revoke")));

    // Another user's session is not this user's to revoke.
    let bobs = app.store.list_user_sessions(UserId(other)).await.unwrap()[0].id;
    let r = post_on_user_page(&mut b, id, &format!("/sessions/{bobs}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get("/portal").await.status, StatusCode::OK);

    let r = post_on_user_page(&mut b, id, &format!("/sessions/{first}/revoke"), &[]).await;
    expect_back(&mut b, &r, id, "revoked", "sessions").await;
    let r = ann.get("/portal").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    assert_eq!(ann2.get("/portal").await.status, StatusCode::OK);
    let one = events(&app, "user.session.revoke").await;
    assert_eq!(summary(&one[0]), json!({"session": first}));

    let r = post_on_user_page(&mut b, id, "/sessions/revoke-all", &[]).await;
    let page = expect_back(&mut b, &r, id, "revoked-all", "sessions").await;
    assert!(page.contains("No live sign-in sessions."), "{page}");
    assert_eq!(ann2.get("/portal").await.status, StatusCode::SEE_OTHER);
    assert_eq!(bob.get("/portal").await.status, StatusCode::OK);
    let all = events(&app, "user.sessions.revoke").await;
    assert_eq!(summary(&all[0]), json!({"revoked": 1}));
    app.shutdown().await;
});

web_test!(
    read_only_admins_see_no_write_buttons_and_change_nothing,
    |app| {
        let id = api_user(&app, "ann").await;
        let group = app.create_group("Engineering").await["id"]
            .as_i64()
            .unwrap();
        // Everything a write button exists for: locked, TOTP, a session.
        for _ in 0..5 {
            sign_in(&app, "ann", "wrong password!").await;
        }
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        app.store
            .set_totp_pending(UserId(id).into(), Some(secret))
            .await
            .unwrap();
        app.store
            .confirm_totp(UserId(id).into(), secret, 0)
            .await
            .unwrap();
        let token = app.session_for(id).await;
        let session = app.store.list_user_sessions(UserId(id)).await.unwrap()[0].id;

        let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;
        let list = ro.get("/admin/users").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.text().contains(">ann</a>"));
        assert!(!list.text().contains("Add User"), "{}", list.text());
        assert_eq!(
            ro.get("/admin/users/new").await.status,
            StatusCode::FORBIDDEN
        );
        let page = ro.get(&format!("/admin/users/{id}")).await.text();
        assert!(page.contains("ann@example.com"));
        for button in [
            ">Save</button>",
            ">Set Password</button>",
            ">Save Attributes</button>",
            ">Save Groups</button>",
            ">Reset TOTP</button>",
            ">Unlock</button>",
            ">Suspend</button>",
            ">Revoke</button>",
            ">Revoke all</button>",
            "New password",
        ] {
            assert!(!page.contains(button), "{button}: {page}");
        }

        let csrf = ro.csrf_of(&format!("/admin/users/{id}")).await;
        let g = group.to_string();
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                "/admin/users/new".into(),
                vec![("email", "x@example.com"), ("username", "x")],
            ),
            (
                format!("/admin/users/{id}/details"),
                vec![("email", "y@example.com"), ("username", "y")],
            ),
            (
                format!("/admin/users/{id}/password"),
                vec![("password", "another password")],
            ),
            (
                format!("/admin/users/{id}/attributes"),
                vec![("attr_name", "a"), ("attr_value", "b")],
            ),
            (
                format!("/admin/users/{id}/groups"),
                vec![("groups_shown", g.as_str()), ("groups", g.as_str())],
            ),
            (format!("/admin/users/{id}/suspend"), vec![]),
            (format!("/admin/users/{id}/unlock"), vec![]),
            (format!("/admin/users/{id}/reset-totp"), vec![]),
            (
                format!("/admin/users/{id}/sessions/{session}/revoke"),
                vec![],
            ),
            (format!("/admin/users/{id}/sessions/revoke-all"), vec![]),
        ];
        for (path, fields) in posts {
            let mut all = vec![("csrf", csrf.as_str())];
            all.extend(fields);
            let r = ro.post(&path, &all).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text());
            assert!(r
                .text()
                .contains("which can see everything and change nothing"));
        }

        // Nothing changed.
        let user = api_user_json(&app, id).await;
        assert_eq!(user["email"], "ann@example.com");
        assert_eq!(user["state"], "active");
        assert_eq!(user["attributes"], json!({}));
        let list = app.get("/api/v1/users").await.expect(StatusCode::OK);
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let groups = app.get(&format!("/api/v1/users/{id}/groups")).await;
        assert_eq!(groups.expect(StatusCode::OK), json!([]));
        let s = app.store.sign_in_state(UserId(id).into()).await.unwrap();
        assert!(s.totp_enabled());
        assert!(s.is_locked(app.clock_now()), "{s:?}");
        assert_eq!(
            app.visit("GET", "/portal", Some(&token), None).await.status,
            StatusCode::OK
        );
        let writes: Vec<String> = app
            .audit_events()
            .await
            .into_iter()
            .filter(|e| e.actor.starts_with("admin:"))
            .map(|e| e.action)
            .collect();
        assert_eq!(writes, ["admin.sign_in"], "{writes:?}");
        app.shutdown().await;
    }
);

web_test!(posts_without_the_session_token_are_refused, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;
    for (path, fields) in [
        (format!("/admin/users/{id}/suspend"), vec![]),
        (
            format!("/admin/users/{id}/password"),
            vec![("password", "another password")],
        ),
        (
            "/admin/users/new".to_owned(),
            vec![("email", "x@example.com"), ("username", "x")],
        ),
    ] {
        let r = b.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().contains("Request refused"));
        let mut wrong = vec![("csrf", "0000")];
        wrong.extend(fields.iter().copied());
        let r = b.post(&path, &wrong).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(api_user_json(&app, id).await["state"], "active");
    assert_eq!(
        app.get("/api/v1/users").await.expect(StatusCode::OK)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        sign_in(&app, "ann", "another password").await.status,
        StatusCode::OK
    );
    assert!(events(&app, "user.suspend").await.is_empty());
    app.shutdown().await;
});

web_test!(hostile_values_render_inert, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;
    let script = "<script>alert(1)</script>\"";
    let r = post_on_user_page(
        &mut b,
        id,
        "/details",
        &[
            ("email", "ann@example.com"),
            ("username", "ann"),
            ("first_name", script),
            ("last_name", "' onmouseover='alert(2)"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let r = post_on_user_page(
        &mut b,
        id,
        "/attributes",
        &[
            ("attr_name", "homepage"),
            ("attr_value", "javascript:alert(3)"),
            ("attr_name", "note"),
            ("attr_value", "\"><img src=x onerror=alert(4)>"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(api_user_json(&app, id).await["first_name"], script);

    let escaped = "&#60;script&#62;alert(1)&#60;/script&#62;&#34;";
    for path in [
        format!("/admin/users/{id}"),
        "/admin/users".to_owned(),
        "/admin/users?q=%3Cscript%3Ealert(1)".to_owned(),
    ] {
        let r = b.get(&path).await;
        let text = r.text();
        assert!(!text.contains("<script>alert"), "{path}: {text}");
        assert!(!text.contains("<img src=x"), "{path}: {text}");
        assert!(!text.contains("' onmouseover"), "{path}: {text}");
        assert!(!text.contains("href=\"javascript:"), "{path}: {text}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
    }
    let page = b.get(&format!("/admin/users/{id}")).await.text();
    assert!(page.contains(escaped), "{page}");
    assert!(
        page.contains("&#34;&#62;&#60;img src=x onerror=alert(4)&#62;"),
        "{page}"
    );
    assert!(page.contains("value=\"javascript:alert(3)\""), "{page}");
    let search = b.get("/admin/users?q=%3Cscript%3Ealert(1)").await.text();
    assert!(
        search.contains("value=\"&#60;script&#62;alert(1)\""),
        "{search}"
    );
    app.shutdown().await;
});

web_test!(unknown_users_and_bad_input_get_4xx_pages, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = api_user(&app, "ann").await;
    for path in ["/admin/users/999999", "/admin/users/abc", "/admin/users/-1"] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.text().contains("User not found"), "{}", r.text());
        assert!(r.text().contains("href=\"/admin/users\""));
    }
    let csrf = b.csrf_of(&format!("/admin/users/{id}")).await;
    for path in [
        "/admin/users/999999/suspend",
        "/admin/users/999999/password",
        "/admin/users/999999/details",
        "/admin/users/999999/attributes",
        "/admin/users/999999/groups",
        "/admin/users/999999/unlock",
        "/admin/users/999999/reset-totp",
        "/admin/users/999999/sessions/revoke-all",
        "/admin/users/x/suspend",
    ] {
        let r = b
            .post(
                path,
                &[
                    ("csrf", &csrf),
                    ("password", USER_PW),
                    ("email", "a@b.cd"),
                    ("username", "a"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text());
    }
    for session in ["x", "999999"] {
        let r = b
            .post(
                &format!("/admin/users/{id}/sessions/{session}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{session}");
    }
    // A notice is one of ours or none: the query's words never show.
    let page = b
        .get(&format!("/admin/users/{id}?saved=Hacked"))
        .await
        .text();
    assert!(!page.contains("Hacked"), "{page}");
    assert!(!page.contains("class=\"notice\""), "{page}");
    assert_eq!(api_user_json(&app, id).await["state"], "active");
    app.shutdown().await;
});
