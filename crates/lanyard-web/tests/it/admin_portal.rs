//! The admin portal through the real router, on every backend: admin
//! sign-in and sign-out, CSRF and Origin refusals, read-only admins (no
//! write buttons, 403 on a POST), SSO Applications (create from the catalog
//! with inline errors, SSO settings with the rule named, deactivate and
//! activate, export of the selection as a zip, delete with the typed count),
//! escaping of hostile labels, and the page headers.

use std::io::Read;

use axum::http::StatusCode;
use serde_json::json;

use crate::common;
use crate::common::admin::{admin_sign_in, create_app, make_admin, signed_in, PW};
use crate::common::browser::{hidden, location, Browser};
use crate::common::TestApp;

async fn events(app: &TestApp, action: &str) -> usize {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .count()
}

web_test!(
    admins_sign_in_and_out_with_one_message_for_unknown_and_wrong,
    |app| {
        make_admin(&app, "root@example.com", "administrator").await;
        let mut b = Browser::new(&app);

        // Not signed in: every admin page goes to the admin sign-in, and back.
        let r = b.get("/admin/applications?search=aws").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            location(&r),
            "/admin/login?next=%2Fadmin%2Fapplications%3Fsearch%3Daws"
        );
        // Every section of the portal needs the admin session.
        let r = b.get("/admin/users").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);

        let wrong = admin_sign_in(&mut b, "root@example.com", "nope nope nope").await;
        let unknown = admin_sign_in(&mut b, "who@example.com", PW).await;
        for r in [&wrong, &unknown] {
            assert_eq!(r.status, StatusCode::OK);
            assert!(
                r.text().contains("Wrong email or password."),
                "{}",
                r.text()
            );
        }
        assert!(b.cookie("lanyard_admin").is_none());

        let page = b.get("/admin/login?next=%2Fadmin%2Fgroups").await;
        let csrf = hidden(&page.text(), "csrf").unwrap();
        let r = b
            .post(
                "/admin/login",
                &[
                    ("email", "ROOT@example.com"),
                    ("password", PW),
                    ("csrf", &csrf),
                    ("next", "/admin/groups"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(location(&r), "/admin/groups");
        let set = r.headers["set-cookie"].to_str().unwrap();
        assert!(set.starts_with("lanyard_admin="), "{set}");
        for attr in ["Path=/admin", "HttpOnly", "SameSite=Strict"] {
            assert!(set.contains(attr), "{set}");
        }
        // http base URL: no Secure.
        assert!(!set.contains("Secure"), "{set}");

        // Navigation like the seed.
        let r = b.get("/admin/applications").await;
        assert_eq!(r.status, StatusCode::OK);
        let text = r.text();
        for item in [
            "USER AUTHENTICATION",
            "SSO Applications",
            "Users",
            "Groups",
            "Audit log",
            "API keys",
            "Settings",
        ] {
            assert!(text.contains(item), "{item}: {text}");
        }
        // A next outside /admin is not followed.
        let r = b.get("/admin/login?next=https%3A%2F%2Fevil.example").await;
        assert_eq!(location(&r), "/admin/applications");

        let csrf = b.csrf_of("/admin/applications").await;
        let r = b.post("/admin/logout", &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/admin/login");
        assert!(b.cookie("lanyard_admin").is_none());
        assert_eq!(
            b.get("/admin/applications").await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(events(&app, "admin.sign_in").await, 1);
        assert_eq!(events(&app, "admin.sign_in_failed").await, 2);
        assert_eq!(events(&app, "admin.sign_out").await, 1);
        app.shutdown().await;
    }
);

web_test!(admin_posts_need_the_session_token_and_our_origin, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let path = format!("/admin/applications/{id}/deactivate");

    let r = b.post(&path, &[("csrf", "0".repeat(64).as_str())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = b.post(&path, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let csrf = b.csrf_of(&format!("/admin/applications/{id}")).await;
    b.origin = Some("https://evil.example".into());
    let r = b.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    b.origin = Some("http://127.0.0.1:8080".into());

    // Nothing changed: still active.
    let app_json = app.get(&format!("/api/v1/applications/{id}")).await;
    assert_eq!(app_json.expect(StatusCode::OK)["sso_active"], true);

    // The sign-in form's double-submit cookie is checked as well.
    let mut fresh = Browser::new(&app);
    let r = fresh
        .post(
            "/admin/login",
            &[
                ("email", "root@example.com"),
                ("password", PW),
                ("csrf", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.shutdown().await;
});

web_test!(
    read_only_admins_see_no_write_buttons_and_cannot_write,
    |app| {
        let mut admin = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut admin, "Amazon AWS").await;
        let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;

        let list = ro.get("/admin/applications").await.text();
        assert!(list.contains("Amazon AWS"), "{list}");
        assert!(list.contains("Export Metadata"));
        assert!(!list.contains("Add New Application"), "{list}");
        assert!(!list.contains("value=\"delete\""), "{list}");
        for tab in ["general", "sso", "attributes", "groups", "preview"] {
            let page = ro
                .get(&format!("/admin/applications/{id}?tab={tab}"))
                .await
                .text();
            assert!(
                !page.contains("<button type=\"submit\">Save"),
                "{tab}: {page}"
            );
            assert!(!page.contains("Deactivate SSO"), "{page}");
        }
        assert_eq!(
            ro.get("/admin/applications/new").await.status,
            StatusCode::FORBIDDEN
        );

        // The server refuses whatever the page showed.
        let csrf = ro.csrf_of("/admin/applications").await;
        let r = ro
            .post(
                &format!("/admin/applications/{id}/deactivate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("read_only"), "{}", r.text());
        let r = ro
            .post(
                "/admin/applications/delete",
                &[
                    ("csrf", &csrf),
                    ("ids", &id.to_string()),
                    ("confirm_count", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ro
            .post(
                "/admin/applications/new",
                &[("csrf", &csrf), ("template", "aws-iam"), ("label", "X")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let all = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        assert_eq!(all["items"].as_array().unwrap().len(), 1);
        assert_eq!(all["items"][0]["sso_active"], true);
        app.shutdown().await;
    }
);

web_test!(
    applications_are_created_from_the_catalog_with_inline_errors,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let list = b.get("/admin/applications").await.text();
        assert!(list.contains("+ Add New Application"));

        let catalog = b.get("/admin/applications/new?search=aws").await;
        assert_eq!(catalog.status, StatusCode::OK);
        let text = catalog.text();
        assert!(text.contains("Amazon AWS IAM"), "{text}");
        // Select a row, then Next: a GET form that names the template.
        assert!(
            text.contains("name=\"template\"") && text.contains("value=\"aws-iam\""),
            "{text}"
        );
        assert!(text.contains(">Next</button>"), "{text}");
        let none = b.get("/admin/applications/new?search=zzzz").await.text();
        assert!(none.contains("No catalog template matches"), "{none}");

        // A missing Display Label: the form comes back with the rule.
        let csrf = b.csrf_of("/admin/applications/new?template=aws-iam").await;
        let r = b
            .post(
                "/admin/applications/new",
                &[
                    ("csrf", &csrf),
                    ("template", "aws-iam"),
                    ("label", "  "),
                    ("description", "kept"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let text = r.text();
        assert!(text.contains("Display Label is required: 1-"), "{text}");
        assert!(text.contains(">kept</textarea>"), "{text}");
        assert!(!text.contains("name=\"show_in_portal\" value=\"1\" checked"));

        let r = b
            .post(
                "/admin/applications/new",
                &[
                    ("csrf", &csrf),
                    ("template", "aws-iam"),
                    ("label", "Amazon AWS"),
                    ("show_in_portal", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let text = r.text();
        assert!(text.contains("Configure Application"), "{text}");
        assert!(text.contains("Close"));
        let all = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        let created = &all["items"][0];
        assert_eq!(created["label"], "Amazon AWS");
        assert_eq!(created["slug"], "amazon-aws");
        assert_eq!(created["show_in_portal"], true);
        let audit = app.audit_events().await;
        let ev = audit
            .iter()
            .find(|e| e.action == "application.create")
            .unwrap();
        assert_eq!(ev.actor, "admin:root@example.com");
        app.shutdown().await;
    }
);

web_test!(sso_settings_are_edited_with_the_rule_named_inline, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let page = b.get(&format!("/admin/applications/{id}?tab=sso")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains("Export Metadata"));
    assert!(text.contains("http://127.0.0.1:8080/saml2/amazon-aws/metadata"));
    assert!(text.contains("days left"), "{text}");
    assert!(text.contains("Deactivate SSO"));
    let csrf = hidden(&text, "csrf").unwrap();

    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("idp_entity_id", "https://idp.example.com/aws"),
        ("sp_entity_id", "urn:amazon:webservices"),
        ("acs_urls", "https://sp.example.com/acs"),
        ("default_relay_state", ""),
        ("name_id", "email"),
        ("name_id_attribute", ""),
        (
            "name_id_format",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        ),
        ("algorithm", "rsa_sha256"),
        ("sign_assertion", "1"),
    ];
    let path = format!("/admin/applications/{id}/sso");
    let r = b.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("ACS URL [aws.recipient] must be an AWS sign-in endpoint"),
        "{text}"
    );
    // The submitted value is kept for correction.
    assert!(
        text.contains(">https://sp.example.com/acs</textarea>"),
        "{text}"
    );

    fields[3] = (
        "acs_urls",
        "https://us-east-1.signin.aws.amazon.com/saml\nhttps://signin.aws.amazon.com/saml",
    );
    let r = b.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let v = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso"]["idp_entity_id"], "https://idp.example.com/aws");
    assert_eq!(
        v["sso"]["acs_urls"],
        json!([
            {"url": "https://us-east-1.signin.aws.amazon.com/saml", "is_default": true},
            {"url": "https://signin.aws.amazon.com/saml", "is_default": false}
        ])
    );
    assert_eq!(v["sso"]["sign_response"], false);
    assert_eq!(v["sso"]["accept_authn_requests"], false, "unticked: off");
    let saved = b.get(location(&r)).await.text();
    assert!(saved.contains("Saved."), "{saved}");

    // The request policy: accept requests, and a RelayState allowlist (a
    // bad rule is named by its line).
    let mut with_policy = fields.clone();
    with_policy.push(("accept_authn_requests", "1"));
    with_policy.push((
        "relay_state_allowlist",
        "https://app.example.com/*\nftp://x/*",
    ));
    let r = b.post(&path, &with_policy).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("Allowed RelayState: a prefix (ending in *) must"),
        "{}",
        r.text()
    );
    with_policy.pop();
    with_policy.push((
        "relay_state_allowlist",
        "https://app.example.com/*\n\ntoken-1\n",
    ));
    let r = b.post(&path, &with_policy).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let v = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso"]["accept_authn_requests"], true);
    assert_eq!(
        v["sso"]["relay_state_allowlist"],
        json!(["https://app.example.com/*", "token-1"])
    );

    // Neither signature: the rule is named next to the checkboxes.
    fields.retain(|(k, _)| *k != "sign_assertion");
    let r = b.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("Signing sign the Assertion, the Response, or both"),
        "{}",
        r.text()
    );
    app.shutdown().await;
});

web_test!(sso_is_deactivated_and_activated_from_the_sso_tab, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let csrf = b.csrf_of(&format!("/admin/applications/{id}")).await;
    let r = b
        .post(
            &format!("/admin/applications/{id}/deactivate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get(location(&r)).await.text();
    assert!(page.contains("SSO deactivated."), "{page}");
    assert!(page.contains("Activate SSO"));
    assert!(b
        .get("/admin/applications")
        .await
        .text()
        .contains("deactivated"));

    let r = b
        .post(
            &format!("/admin/applications/{id}/activate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let v = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso_active"], true);
    assert_eq!(events(&app, "application.deactivate").await, 1);
    assert_eq!(events(&app, "application.activate").await, 1);
    app.shutdown().await;
});

web_test!(
    selected_apps_export_as_a_zip_and_delete_with_the_typed_count,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let one = create_app(&mut b, "Amazon AWS").await;
        let two = create_app(&mut b, "Amazon AWS").await;
        let keep = create_app(&mut b, "Keep me").await;

        let single = b.get(&format!("/admin/applications/{one}/metadata")).await;
        assert_eq!(single.status, StatusCode::OK);
        assert!(single.text().contains("EntityDescriptor"));

        let r = b
            .get(&format!(
                "/admin/applications/selection?action=export&ids={one}&ids={two}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-type"], "application/zip");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.bytes.clone())).unwrap();
        let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "Lanyard-amazon-aws-2-metadata.xml",
                "Lanyard-amazon-aws-metadata.xml"
            ]
        );
        let mut xml = String::new();
        zip.by_name("Lanyard-amazon-aws-metadata.xml")
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains("/saml2/amazon-aws"), "{xml}");

        let confirm = b
            .get(&format!(
                "/admin/applications/selection?action=delete&ids={one}&ids={two}"
            ))
            .await;
        assert_eq!(confirm.status, StatusCode::OK);
        let text = confirm.text();
        assert!(text.contains("delete 2 applications"), "{text}");
        let csrf = hidden(&text, "csrf").unwrap();
        let (a, c) = (one.to_string(), two.to_string());
        let r = b
            .post(
                "/admin/applications/delete",
                &[
                    ("csrf", &csrf),
                    ("ids", &a),
                    ("ids", &c),
                    ("confirm_count", "3"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text()
                .contains("type 2 to confirm (got 3); nothing was deleted"),
            "{}",
            r.text()
        );
        let all = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        assert_eq!(all["items"].as_array().unwrap().len(), 3);

        let r = b
            .post(
                "/admin/applications/delete",
                &[
                    ("csrf", &csrf),
                    ("ids", &a),
                    ("ids", &c),
                    ("confirm_count", "2"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let list = b.get(location(&r)).await.text();
        assert!(list.contains("Deleted 2 applications."), "{list}");
        let all = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        let items = all["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], keep);
        assert_eq!(events(&app, "application.delete").await, 2);
        app.shutdown().await;
    }
);

web_test!(user_groups_tab_binds_and_unbinds, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let g1 = app.create_group("engineers").await["id"].as_i64().unwrap();
    let g2 = app.create_group("auditors").await["id"].as_i64().unwrap();
    let page = b
        .get(&format!("/admin/applications/{id}?tab=groups"))
        .await
        .text();
    assert!(
        page.contains("engineers") && page.contains("auditors"),
        "{page}"
    );
    let tab = format!("/admin/applications/{id}?tab=groups");
    let path = format!("/admin/applications/{id}/groups");
    let r = b.save_checkboxes(&tab, &path, "groups", &[g1, g2]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let bound = |v: serde_json::Value| -> Vec<i64> {
        let mut ids: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let groups_path = format!("/api/v1/applications/{id}/groups");
    let mut both = vec![g1, g2];
    both.sort();
    assert_eq!(
        bound(app.get(&groups_path).await.expect(StatusCode::OK)),
        both
    );
    let r = b.save_checkboxes(&tab, &path, "groups", &[g2]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        bound(app.get(&groups_path).await.expect(StatusCode::OK)),
        vec![g2]
    );
    // A binding made elsewhere after the tab was rendered survives a
    // save of that (stale) tab: only boxes the admin changed count.
    let stale = b.get(&tab).await.text();
    app.admin("PUT", &format!("{groups_path}/{g1}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let mut fields = vec![("csrf".to_owned(), hidden(&stale, "csrf").unwrap())];
    for f in ["groups_shown", "groups_was"] {
        for v in common::browser::hidden_all(&stale, f) {
            fields.push((f.to_owned(), v));
        }
    }
    fields.push(("groups".to_owned(), g2.to_string()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = b.post(&path, &pairs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        bound(app.get(&groups_path).await.expect(StatusCode::OK)),
        both
    );
    app.shutdown().await;
});

web_test!(hostile_labels_render_inert_and_pages_carry_the_csp, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let label = "<script>alert(1)</script>\"quoted\" 'single'";
    let id = create_app(&mut b, label).await;
    for path in [
        "/admin/applications".to_owned(),
        format!("/admin/applications/{id}"),
        format!("/admin/applications/selection?action=delete&ids={id}"),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let text = r.text();
        assert!(!text.contains("<script>alert"), "{path}: {text}");
        assert!(
            text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
        assert!(text.contains("&#34;quoted&#34; &#39;single&#39;"), "{path}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert!(r.headers.contains_key("referrer-policy"));
    }
    let login = Browser::new(&app).get("/admin/login").await;
    assert!(login.headers.contains_key("content-security-policy"));
    app.shutdown().await;
});

const SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
const ROLE_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const ROLE_VALUE: &str =
    "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard";

/// The attribute form's fields: one (name, kind, value) triple per row.
fn attribute_fields<'a>(
    csrf: &'a str,
    rows: &[(&'a str, &'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("csrf", csrf)];
    for (name, kind, value) in rows {
        fields.extend([
            ("attr_name", *name),
            ("attr_kind", *kind),
            ("attr_value", *value),
        ]);
    }
    fields
}

/// The entitlement form's fields: one (group, account, role, provider,
/// label, duration) row each.
pub(crate) fn entitlement_fields<'a>(
    csrf: &'a str,
    rows: &[[&'a str; 6]],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("csrf", csrf)];
    for r in rows {
        fields.extend([
            ("ent_group", r[0]),
            ("ent_account", r[1]),
            ("ent_role", r[2]),
            ("ent_provider", r[3]),
            ("ent_label", r[4]),
            ("ent_duration", r[5]),
        ]);
    }
    fields
}

web_test!(attributes_are_saved_with_aws_rules_named_inline, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let tab = format!("/admin/applications/{id}?tab=attributes");
    let page = b.get(&tab).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    // The template's rows, and empty rows to add more.
    assert!(
        text.contains(&format!("value=\"{SESSION_DURATION}\"")),
        "{text}"
    );
    assert!(text.contains("value=\"3600\""), "{text}");
    assert!(text.contains(&format!("value=\"{ROLE_SESSION_NAME}\"")));
    assert!(
        text.contains("<option value=\"user_field\" selected>"),
        "{text}"
    );
    assert!(text.contains("<button type=\"submit\">Save attributes</button>"));
    assert!(text.contains("AWS entitlements"));
    let csrf = hidden(&text, "csrf").unwrap();
    let path = format!("/admin/applications/{id}/attributes");

    // A constant changed, a mapping added, a blank row ignored.
    let mut fields = attribute_fields(
        &csrf,
        &[
            (SESSION_DURATION, "constant", "7200"),
            (ROLE_SESSION_NAME, "user_field", "email"),
            (
                "https://example.com/department",
                "user_attribute",
                "department",
            ),
            ("", "constant", ""),
        ],
    );
    fields.push(("groups_attribute", "memberOf"));
    let r = b.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let saved = b.get(location(&r)).await.text();
    assert!(saved.contains("Saved."), "{saved}");
    assert!(saved.contains("value=\"7200\""), "{saved}");
    assert!(saved.contains("value=\"memberOf\""), "{saved}");
    let v = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        v["attributes"],
        json!([
            {"name": SESSION_DURATION, "source": {"kind": "constant", "value": "7200"}},
            {"name": ROLE_SESSION_NAME, "source": {"kind": "user_field", "value": "email"}},
            {"name": "https://example.com/department", "source": {"kind": "user_attribute", "value": "department"}}
        ])
    );
    assert_eq!(v["groups_attribute"], "memberOf");

    // A SessionDuration AWS refuses: the rule next to its row, the
    // submitted value kept, nothing saved.
    let mut bad = attribute_fields(
        &csrf,
        &[
            (ROLE_SESSION_NAME, "user_field", "email"),
            (SESSION_DURATION, "constant", "99999"),
        ],
    );
    bad.push(("groups_attribute", ""));
    let r = b.post(&path, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("<p class=\"field-error\">[aws.session_duration.range] SessionDuration"),
        "{text}"
    );
    assert!(text.contains("<code>attributes[1]</code>"), "{text}");
    assert!(text.contains("value=\"99999\""), "{text}");
    // An unknown user field is named too.
    let r = b
        .post(
            &path,
            &attribute_fields(&csrf, &[("Email", "user_field", "mail")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("Value unknown user field &#34;mail&#34;"),
        "{}",
        r.text()
    );
    let after = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(after["attributes"], v["attributes"]);
    assert_eq!(after["groups_attribute"], "memberOf");

    // Remove drops a row; an empty groups attribute removes it.
    let mut fields = attribute_fields(
        &csrf,
        &[
            (SESSION_DURATION, "constant", "7200"),
            (ROLE_SESSION_NAME, "user_field", "email"),
            (
                "https://example.com/department",
                "user_attribute",
                "department",
            ),
        ],
    );
    fields.extend([("attr_remove", "2"), ("groups_attribute", "")]);
    let r = b.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let v = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["attributes"].as_array().unwrap().len(), 2);
    assert_eq!(v["groups_attribute"], serde_json::Value::Null);
    assert_eq!(events(&app, "application.update").await, 2);
    app.shutdown().await;
});

web_test!(entitlements_are_saved_and_shown_with_errors_inline, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let g = app.create_group("engineers").await["id"].as_i64().unwrap();
    let gs = g.to_string();
    let tab = format!("/admin/applications/{id}?tab=attributes");
    let text = b.get(&tab).await.text();
    assert!(
        text.contains(&format!("<option value=\"{g}\">engineers</option>")),
        "{text}"
    );
    assert!(text.contains("<button type=\"submit\">Save entitlements</button>"));
    let csrf = hidden(&text, "csrf").unwrap();
    let path = format!("/admin/applications/{id}/entitlements");

    let r = b
        .post(
            &path,
            &entitlement_fields(
                &csrf,
                &[
                    [&gs, "123456789012", "Admin", "Lanyard", "prod", "7200"],
                    ["", "", "", "", "", ""],
                ],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let shown = b.get(location(&r)).await.text();
    assert!(shown.contains("Saved."), "{shown}");
    assert!(shown.contains(ROLE_VALUE), "{shown}");
    assert!(
        shown.contains(&format!(
            "<option value=\"{g}\" selected>engineers</option>"
        )),
        "{shown}"
    );
    assert!(shown.contains("value=\"prod\""), "{shown}");
    let stored = app
        .get(&format!("/api/v1/applications/{id}/entitlements"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        stored,
        json!([{"group_id": g, "account_id": "123456789012", "role_name": "Admin",
            "provider_name": "Lanyard", "account_label": "prod", "max_session_duration": 7200}])
    );

    // A bad account id and a duration that is no number: both named
    // next to the row, the values kept, nothing saved.
    let r = b
        .post(
            &path,
            &entitlement_fields(&csrf, &[[&gs, "1234", "Admin", "Lanyard", "", "soon"]]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("<p class=\"field-error\">Account ID must be a 12-digit AWS account id</p>"),
        "{text}"
    );
    assert!(
        text.contains("Max session duration must be a whole number of seconds"),
        "{text}"
    );
    assert!(text.contains("value=\"1234\""), "{text}");
    // IAM's own range, from the shared rules.
    let r = b
        .post(
            &path,
            &entitlement_fields(
                &csrf,
                &[[&gs, "123456789012", "Admin", "Lanyard", "", "60"]],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("Max session duration must be between 3600 and 43200 seconds"),
        "{}",
        r.text()
    );
    // A row without a group.
    let r = b
        .post(
            &path,
            &entitlement_fields(&csrf, &[["", "123456789012", "Admin", "Lanyard", "", ""]]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("Group choose a group"), "{}", r.text());
    assert_eq!(
        app.get(&format!("/api/v1/applications/{id}/entitlements"))
            .await
            .expect(StatusCode::OK),
        stored
    );

    // Removing the row empties the table.
    let mut fields = entitlement_fields(
        &csrf,
        &[[&gs, "123456789012", "Admin", "Lanyard", "prod", "7200"]],
    );
    fields.push(("ent_remove", "0"));
    let r = b.post(&path, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        app.get(&format!("/api/v1/applications/{id}/entitlements"))
            .await
            .expect(StatusCode::OK),
        json!([])
    );
    assert_eq!(events(&app, "application.set_entitlements").await, 2);
    app.shutdown().await;
});

web_test!(
    read_only_admins_see_attributes_and_previews_but_cannot_save,
    |app| {
        let mut admin = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut admin, "Amazon AWS").await;
        let g = app.create_group("engineers").await["id"].as_i64().unwrap();
        app.admin("PUT", &format!("/api/v1/applications/{id}/entitlements"), Some(json!([
        {"group_id": g, "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard"}
    ])))
    .await
    .expect(StatusCode::OK);
        app.create_user("alice@example.com", "alice").await;
        let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;

        let text = ro
            .get(&format!("/admin/applications/{id}?tab=attributes"))
            .await
            .text();
        assert!(
            text.contains(&format!("value=\"{SESSION_DURATION}\"")),
            "{text}"
        );
        assert!(text.contains(ROLE_VALUE), "{text}");
        assert!(text.contains("value=\"123456789012\""), "{text}");
        assert!(!text.contains("<button type=\"submit\">Save"), "{text}");
        assert!(!text.contains("Remove"), "{text}");
        assert!(text.contains(" disabled"), "{text}");
        let preview = ro
            .get(&format!("/admin/applications/{id}?tab=preview&user=alice"))
            .await;
        assert_eq!(preview.status, StatusCode::OK);
        assert!(
            preview.text().contains("not_authorized"),
            "{}",
            preview.text()
        );

        let csrf = ro.csrf_of("/admin/applications").await;
        let r = ro
            .post(
                &format!("/admin/applications/{id}/attributes"),
                &attribute_fields(&csrf, &[(SESSION_DURATION, "constant", "7200")]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("read_only"), "{}", r.text());
        let r = ro
            .post(
                &format!("/admin/applications/{id}/entitlements"),
                &entitlement_fields(&csrf, &[]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let v = app
            .get(&format!("/api/v1/applications/{id}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(v["attributes"][0]["source"]["value"], "3600");
        let e = app
            .get(&format!("/api/v1/applications/{id}/entitlements"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(e.as_array().unwrap().len(), 1);
        // Without the session token, the POST is refused before the role.
        let r = admin
            .post(
                &format!("/admin/applications/{id}/entitlements"),
                &entitlement_fields("nope", &[]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(events(&app, "application.set_entitlements").await, 1);
        app.shutdown().await;
    }
);

web_test!(
    preview_tab_shows_the_decision_the_assertion_and_broken_rules,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Amazon AWS").await;
        let g = app.create_group("engineers").await["id"].as_i64().unwrap();
        let alice = app.create_user("alice@example.com", "alice").await["id"]
            .as_i64()
            .unwrap();
        app.create_user("bob@example.com", "bob").await;
        app.admin("PUT", &format!("/api/v1/groups/{g}/members/{alice}"), None)
            .await
            .expect(StatusCode::NO_CONTENT);
        app.admin(
            "PUT",
            &format!("/api/v1/applications/{id}/groups/{g}"),
            None,
        )
        .await
        .expect(StatusCode::NO_CONTENT);
        // The entitlement through the portal's form.
        let csrf = b
            .csrf_of(&format!("/admin/applications/{id}?tab=attributes"))
            .await;
        let gs = g.to_string();
        let r = b
            .post(
                &format!("/admin/applications/{id}/entitlements"),
                &entitlement_fields(&csrf, &[[&gs, "123456789012", "Admin", "Lanyard", "", ""]]),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

        let tab = format!("/admin/applications/{id}?tab=preview");
        let form = b.get(&tab).await.text();
        assert!(form.contains("name=\"user\""), "{form}");
        assert!(!form.contains("Decision"), "{form}");

        let text = b.get(&format!("{tab}&user=alice")).await.text();
        assert!(text.contains("Decision: <code>issue</code>"), "{text}");
        for shown in [
            "<code>alice@example.com</code>",
            "<code>urn:amazon:webservices</code>",
            "<code>https://signin.aws.amazon.com/saml</code>",
            "<code>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</code>",
            "<code>https://aws.amazon.com/SAML/Attributes/Role</code>",
            &format!("<code>{ROLE_VALUE}</code>"),
            &format!("<code>{ROLE_SESSION_NAME}</code>"),
            "<code>3600</code>",
            "No AWS rule is broken",
        ] {
            assert!(text.contains(shown), "{shown}: {text}");
        }
        // By id, and the same answer as the API's preview.
        let by_id = b.get(&format!("{tab}&user={alice}")).await.text();
        assert!(by_id.contains("Decision: <code>issue</code>"), "{by_id}");
        let api = app
            .get(&format!("/api/v1/applications/{id}/preview?user=alice"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(api["decision"], "issue");

        // Not in a bound group: denied, the content still shown.
        let text = b.get(&format!("{tab}&user=bob%40example.com")).await.text();
        assert!(
            text.contains("Decision: <code>not_authorized</code>"),
            "{text}"
        );
        assert!(text.contains("<code>bob@example.com</code>"), "{text}");
        assert!(text.contains("User Groups tab"), "{text}");

        // A value AWS would refuse: the rule and what AWS would say.
        app.admin("PATCH", &format!("/api/v1/applications/{id}"), Some(json!({"attributes": [
        {"name": ROLE_SESSION_NAME, "source": {"kind": "user_attribute", "value": "session"}}
    ]})))
    .await
    .expect(StatusCode::OK);
        app.admin(
            "PUT",
            &format!("/api/v1/users/{alice}/attributes"),
            Some(json!({"session": ["alice smith!"]})),
        )
        .await
        .expect(StatusCode::OK);
        let text = b.get(&format!("{tab}&user=alice")).await.text();
        assert!(
            text.contains("Decision: <code>breaks_aws_rules</code>"),
            "{text}"
        );
        assert!(
            text.contains("<code>aws.role_session_name.pattern</code>"),
            "{text}"
        );
        assert!(
            text.contains("RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"),
            "{text}"
        );

        let text = b.get(&format!("{tab}&user=nobody")).await.text();
        assert!(
            text.contains("No user has the id, email or username &#34;nobody&#34;."),
            "{text}"
        );
        let r = b
            .get(&format!(
                "{tab}&user=alice&acs_url=https%3A%2F%2Fevil.example%2F"
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.text()
                .contains("acs_url is not one of the app&#39;s ACS URLs"),
            "{}",
            r.text()
        );
        app.shutdown().await;
    }
);

web_test!(hostile_attribute_values_render_inert, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let evil = "<script>alert(1)</script>\"q\"";
    let g = app.create_group(evil).await["id"].as_i64().unwrap();
    let alice = app.create_user("alice@example.com", "alice").await["id"]
        .as_i64()
        .unwrap();
    app.admin("PUT", &format!("/api/v1/groups/{g}/members/{alice}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{id}/groups/{g}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.admin(
        "PUT",
        &format!("/api/v1/users/{alice}/attributes"),
        Some(json!({"note": [evil]})),
    )
    .await
    .expect(StatusCode::OK);
    let csrf = b
        .csrf_of(&format!("/admin/applications/{id}?tab=attributes"))
        .await;
    let mut fields = attribute_fields(
        &csrf,
        &[
            (SESSION_DURATION, "constant", "3600"),
            (ROLE_SESSION_NAME, "user_field", "email"),
            ("https://example.com/label", "constant", evil),
            ("https://example.com/note", "user_attribute", "note"),
        ],
    );
    fields.push(("groups_attribute", "groups"));
    let r = b
        .post(&format!("/admin/applications/{id}/attributes"), &fields)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let gs = g.to_string();
    let r = b
        .post(
            &format!("/admin/applications/{id}/entitlements"),
            &entitlement_fields(
                &csrf,
                &[[&gs, "123456789012", "Admin", "Lanyard", evil, ""]],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    // A rejected form echoes hostile input escaped as well.
    let rejected = b
        .post(
            &format!("/admin/applications/{id}/entitlements"),
            &entitlement_fields(&csrf, &[[&gs, evil, "Admin", "Lanyard", "", ""]]),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::BAD_REQUEST);
    for (what, text) in [
        (
            "attributes",
            b.get(&format!("/admin/applications/{id}?tab=attributes"))
                .await
                .text(),
        ),
        ("rejected", rejected.text()),
        (
            "preview",
            b.get(&format!("/admin/applications/{id}?tab=preview&user=alice"))
                .await
                .text(),
        ),
        (
            "unknown user",
            b.get(&format!(
                "/admin/applications/{id}?tab=preview&user=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
            ))
            .await
            .text(),
        ),
    ] {
        assert!(!text.contains("<script>"), "{what}: {text}");
        assert!(
            text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{what}: {text}"
        );
    }
    let preview = b
        .get(&format!("/admin/applications/{id}?tab=preview&user=alice"))
        .await
        .text();
    assert!(
        preview.contains("Decision: <code>issue</code>"),
        "{preview}"
    );
    assert!(
        preview.contains("<code>&#60;script&#62;alert(1)&#60;/script&#62;&#34;q&#34;</code>"),
        "{preview}"
    );
    app.shutdown().await;
});
