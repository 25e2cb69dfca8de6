//! The admin portal through the real router, on every backend: admin
//! sign-in and sign-out, CSRF and Origin refusals, read-only admins (no
//! write buttons, 403 on a POST), SSO Applications (create from the catalog
//! with inline errors, SSO settings with the rule named, deactivate and
//! activate, export of the selection as a zip, delete with the typed count),
//! escaping of hostile labels, and the page headers.

mod common;

use std::io::Read;

use axum::http::StatusCode;
use serde_json::json;

use common::browser::{hidden, location, Browser};
use common::TestApp;

const PW: &str = "admin passphrase 1";

async fn make_admin(app: &TestApp, email: &str, role: &str) {
    app.admin(
        "POST",
        "/api/v1/admins",
        Some(json!({"email": email, "role": role, "password": PW})),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// `GET /admin/login`, then the form with its CSRF token.
async fn admin_sign_in(b: &mut Browser<'_>, email: &str, password: &str) -> common::Resp {
    let page = b.get("/admin/login").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf = hidden(&page.text(), "csrf").expect("a csrf field");
    b.post(
        "/admin/login",
        &[
            ("email", email),
            ("password", password),
            ("csrf", &csrf),
            ("next", ""),
        ],
    )
    .await
}

/// A browser signed in as a new admin with `role`.
async fn signed_in<'a>(app: &'a TestApp, email: &str, role: &str) -> Browser<'a> {
    make_admin(app, email, role).await;
    let mut b = Browser::new(app);
    let r = admin_sign_in(&mut b, email, PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(location(&r), "/admin/applications");
    b
}

/// Creates an app through the portal's form; returns its id.
async fn create_app(b: &mut Browser<'_>, label: &str) -> i64 {
    let csrf = b.csrf_of("/admin/applications/new?template=aws-iam").await;
    let r = b
        .post(
            "/admin/applications/new",
            &[
                ("csrf", &csrf),
                ("template", "aws-iam"),
                ("label", label),
                ("description", ""),
                ("show_in_portal", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.text();
    let at = text.find("href=\"/admin/applications/").unwrap() + 26;
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn events(app: &TestApp, action: &str) -> usize {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .count()
}

#[tokio::test]
async fn admins_sign_in_and_out_with_one_message_for_unknown_and_wrong() {
    for app in common::apps().await {
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

        // Navigation like the seed; sections not built yet say so.
        let r = b.get("/admin/groups").await;
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
            "coming soon",
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
}

#[tokio::test]
async fn admin_posts_need_the_session_token_and_our_origin() {
    for app in common::apps().await {
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
    }
}

#[tokio::test]
async fn read_only_admins_see_no_write_buttons_and_cannot_write() {
    for app in common::apps().await {
        let mut admin = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut admin, "Amazon AWS").await;
        let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;

        let list = ro.get("/admin/applications").await.text();
        assert!(list.contains("Amazon AWS"), "{list}");
        assert!(list.contains("Export Metadata"));
        assert!(!list.contains("Add New Application"), "{list}");
        assert!(!list.contains("value=\"delete\""), "{list}");
        for tab in ["general", "sso", "groups"] {
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
}

#[tokio::test]
async fn applications_are_created_from_the_catalog_with_inline_errors() {
    for app in common::apps().await {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let list = b.get("/admin/applications").await.text();
        assert!(list.contains("+ Add New Application"));

        let catalog = b.get("/admin/applications/new?search=aws").await;
        assert_eq!(catalog.status, StatusCode::OK);
        let text = catalog.text();
        assert!(text.contains("Amazon AWS IAM"), "{text}");
        assert!(
            text.contains("/admin/applications/new?template=aws-iam"),
            "{text}"
        );
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
}

#[tokio::test]
async fn sso_settings_are_edited_with_the_rule_named_inline() {
    for app in common::apps().await {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Amazon AWS").await;
        let page = b.get(&format!("/admin/applications/{id}?tab=sso")).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert!(text.contains("Export Metadata"));
        assert!(text.contains("http://127.0.0.1:8080/saml2/amazon-aws/metadata"));
        assert!(text.contains("Expires"), "{text}");
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
        let saved = b.get(location(&r)).await.text();
        assert!(saved.contains("Saved."), "{saved}");

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
    }
}

#[tokio::test]
async fn sso_is_deactivated_and_activated_from_the_sso_tab() {
    for app in common::apps().await {
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
    }
}

#[tokio::test]
async fn selected_apps_export_as_a_zip_and_delete_with_the_typed_count() {
    for app in common::apps().await {
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
}

#[tokio::test]
async fn user_groups_tab_binds_and_unbinds() {
    for app in common::apps().await {
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
        let csrf = hidden(&page, "csrf").unwrap();
        let path = format!("/admin/applications/{id}/groups");
        let (s1, s2) = (g1.to_string(), g2.to_string());
        let r = b
            .post(&path, &[("csrf", &csrf), ("groups", &s1), ("groups", &s2)])
            .await;
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
        let r = b.post(&path, &[("csrf", &csrf), ("groups", &s2)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            bound(app.get(&groups_path).await.expect(StatusCode::OK)),
            vec![g2]
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn hostile_labels_render_inert_and_pages_carry_the_csp() {
    for app in common::apps().await {
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
    }
}
