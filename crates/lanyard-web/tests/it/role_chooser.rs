//! Lanyard's own AWS role chooser, on every backend: several roles show the
//! chooser (grouped by account label, the last choice first); the choice
//! comes back through a form protected like every other, and the response
//! carries exactly that role, with its own session cap and its deep link as
//! the RelayState; `?role=` picks directly; a role not granted is a 403 with
//! an audit event; SP-initiated requests keep their request through the
//! chooser; with the chooser off every role goes in one response with the
//! smallest cap, and the Preview says so; roles from the attributes of
//! several groups are merged.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::common::browser::hidden;
use crate::common::{Resp, TestApp};
use crate::sso::{
    attribute_values, authn_request, aws_setup, custom_setup, events, form_of, id, member,
    patch_sso, redirect_query, refused, response_xml, roles, sp_key, Aws, SP_ENTITY,
};

const DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
const PROD_ADMIN: &str =
    "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard";
const PROD_READ: &str =
    "arn:aws:iam::123456789012:role/ReadOnly,arn:aws:iam::123456789012:saml-provider/Lanyard";
const STAGING_DEV: &str =
    "arn:aws:iam::210987654321:role/ops/Dev,arn:aws:iam::210987654321:saml-provider/Lanyard";

/// alice's AWS app with three roles in two accounts: production Admin
/// (capped at 1 h), production ReadOnly (no cap), staging ops/Dev (a deep
/// link to eu-west-1, capped at 2 h); the app asks for 8 h sessions.
async fn three_roles(app: &TestApp) -> Aws {
    let s = aws_setup(app, "aws").await;
    app.admin(
        "PATCH",
        &format!("/api/v1/applications/{}", s.app_id),
        Some(json!({"attributes": [
            {"name": DURATION, "source": {"kind": "constant", "value": "28800"}},
            {"name": "https://aws.amazon.com/SAML/Attributes/RoleSessionName", "source": {"kind": "user_field", "value": "email"}}
        ]})),
    )
    .await
    .expect(StatusCode::OK);
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{}/entitlements", s.app_id),
        Some(json!([
            {"group_id": s.group, "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard",
             "account_label": "production", "max_session_duration": 3600},
            {"group_id": s.group, "account_id": "123456789012", "role_name": "ReadOnly", "provider_name": "Lanyard",
             "account_label": "production"},
            {"group_id": s.group, "account_id": "210987654321", "role_name": "ops/Dev", "provider_name": "Lanyard",
             "account_label": "staging", "max_session_duration": 7200, "deep_link": "eu-west-1"}
        ])),
    )
    .await
    .expect(StatusCode::OK);
    s
}

/// Posts the chooser's form with `role`, as the page would (plus `origin`).
async fn choose(
    app: &TestApp,
    slug: &str,
    session: &str,
    page: &str,
    role: &str,
    origin: Option<&str>,
) -> Resp {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &hidden(page, "csrf").expect("a csrf field"))
        .append_pair(
            "request",
            &unescaped(&hidden(page, "request").expect("a request field")),
        )
        .append_pair("role", role)
        .finish();
    let mut b = Request::builder()
        .method("POST")
        .uri(format!("/saml2/{slug}/role"))
        .header("cookie", format!("lanyard_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    app.send(b.body(Body::from(body)).unwrap()).await
}

fn unescaped(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

web_test!(several_roles_are_chosen_in_lanyard_and_sent_alone, |app| {
    let s = three_roles(&app).await;
    let page = app.visit("GET", "/saml2/aws", Some(&s.session), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(html.contains("<h1>Choose a role</h1>"), "{html}");
    assert!(!html.contains("SAMLResponse"), "nothing issued yet: {html}");
    // Grouped by account label, with the number spaced as AWS writes it.
    let production = html
        .find("<h2>production (1234 5678 9012)</h2>")
        .expect("production");
    let staging = html
        .find("<h2>staging (2109 8765 4321)</h2>")
        .expect("staging");
    assert!(production < staging, "{html}");
    assert!(
        html.contains(
            r#"<button type="submit" name="role" value="123456789012:Admin">Admin</button>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"value="210987654321:ops/Dev">ops/Dev</button>"#),
        "{html}"
    );
    assert!(html.contains("sessions up to 1 h"), "{html}");
    assert!(!html.contains("last used"), "no choice yet: {html}");
    // Three roles: no filter box (that is for more than 10).
    assert!(!html.contains("role-filter"), "{html}");
    assert_eq!(hidden(&html, "request").as_deref(), Some("/saml2/aws"));

    // production ReadOnly: exactly that role, the app's 8 h (no cap), the
    // app's default RelayState (none).
    let r = choose(
        &app,
        "aws",
        &s.session,
        &html,
        "123456789012:ReadOnly",
        Some("http://127.0.0.1:8080"),
    )
    .await;
    let form = form_of(&r);
    assert_eq!(roles(&form), [PROD_READ]);
    assert_eq!(attribute_values(&form, DURATION), ["28800"]);
    assert!(!form.fields.contains_key("RelayState"), "{:?}", form.fields);
    // production Admin: its own 1 h cap, which no longer shortens the others.
    let r = choose(&app, "aws", &s.session, &html, "123456789012:Admin", None).await;
    let form = form_of(&r);
    assert_eq!(roles(&form), [PROD_ADMIN]);
    assert_eq!(attribute_values(&form, DURATION), ["3600"]);
    // staging ops/Dev: 2 h, and its deep link is the RelayState.
    let r = choose(&app, "aws", &s.session, &html, "210987654321:ops/Dev", None).await;
    let form = form_of(&r);
    assert_eq!(roles(&form), [STAGING_DEV]);
    assert_eq!(attribute_values(&form, DURATION), ["7200"]);
    assert_eq!(
        form.fields["RelayState"],
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
    );

    // The last choice comes first next time, its account first.
    let again = app
        .visit("GET", "/saml2/aws", Some(&s.session), None)
        .await
        .text();
    let staging = again.find("<h2>staging (2109 8765 4321)</h2>").unwrap();
    let production = again.find("<h2>production (1234 5678 9012)</h2>").unwrap();
    assert!(staging < production, "{again}");
    assert!(again.contains(r#"value="210987654321:ops/Dev">ops/Dev</button> <span class="badge on">last used</span>"#), "{again}");

    // `?role=` picks directly (a path written as in IAM).
    let form = form_of(
        &app.visit(
            "GET",
            "/saml2/aws?role=123456789012%3AAdmin",
            Some(&s.session),
            None,
        )
        .await,
    );
    assert_eq!(roles(&form), [PROD_ADMIN]);
    let form = form_of(
        &app.visit(
            "GET",
            "/saml2/aws?role=210987654321:ops/Dev",
            Some(&s.session),
            None,
        )
        .await,
    );
    assert_eq!(roles(&form), [STAGING_DEV]);

    let issued = events(&app, "sso.issued").await;
    let chosen: Vec<&Value> = issued.iter().map(|e| &e["role"]).collect();
    assert_eq!(
        chosen,
        [
            &json!(PROD_READ),
            &json!(PROD_ADMIN),
            &json!(STAGING_DEV),
            &json!(PROD_ADMIN),
            &json!(STAGING_DEV)
        ]
    );
    app.shutdown().await;
});

web_test!(
    a_role_the_user_is_not_granted_is_refused_and_audited,
    |app| {
        let s = three_roles(&app).await;
        let html = app
            .visit("GET", "/saml2/aws", Some(&s.session), None)
            .await
            .text();
        // A tampered form: another account's role.
        let r = choose(&app, "aws", &s.session, &html, "999999999999:Root", None).await;
        refused(
            &r,
            StatusCode::FORBIDDEN,
            "You may not sign in to aws with the role 999999999999:Root.",
        );
        // The same through `?role=`, and a value that is not a role at all.
        let r = app
            .visit(
                "GET",
                "/saml2/aws?role=999999999999:Root",
                Some(&s.session),
                None,
            )
            .await;
        refused(&r, StatusCode::FORBIDDEN, "Role not available");
        let r = app
            .visit("GET", "/saml2/aws?role=Admin", Some(&s.session), None)
            .await;
        refused(&r, StatusCode::FORBIDDEN, "with the role Admin.");
        let denied = events(&app, "sso.denied").await;
        let reasons: Vec<(&Value, &Value)> =
            denied.iter().map(|e| (&e["reason"], &e["role"])).collect();
        assert_eq!(
            reasons,
            [
                (&json!("role_not_granted"), &json!("999999999999:Root")),
                (&json!("role_not_granted"), &json!("999999999999:Root")),
                (&json!("role_not_granted"), &json!("Admin")),
            ]
        );
        assert!(events(&app, "sso.issued").await.is_empty());

        // The form is protected like every other.
        let r = choose(
            &app,
            "aws",
            &s.session,
            &html,
            "123456789012:Admin",
            Some("https://evil.example"),
        )
        .await;
        refused(
            &r,
            StatusCode::FORBIDDEN,
            "This form was sent from another site.",
        );
        let forged = html.replace(&hidden(&html, "csrf").unwrap(), "not-the-token");
        let r = choose(&app, "aws", &s.session, &forged, "123456789012:Admin", None).await;
        refused(
            &r,
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from Lanyard.",
        );
        // It answers only this app's own requests.
        let elsewhere = html.replace("value=\"/saml2/aws\"", "value=\"/saml2/other\"");
        let r = choose(
            &app,
            "aws",
            &s.session,
            &elsewhere,
            "123456789012:Admin",
            None,
        )
        .await;
        refused(&r, StatusCode::BAD_REQUEST, "The form could not be read");
        let outside = html.replace(
            "value=\"/saml2/aws\"",
            "value=\"https://evil.example/saml2/aws\"",
        );
        let r = choose(
            &app,
            "aws",
            &s.session,
            &outside,
            "123456789012:Admin",
            None,
        )
        .await;
        refused(&r, StatusCode::BAD_REQUEST, "The form could not be read");
        assert!(events(&app, "sso.issued").await.is_empty());
        app.shutdown().await;
    }
);

web_test!(
    an_sp_initiated_request_keeps_its_request_through_the_chooser,
    |app| {
        let (app_id, session) = custom_setup(&app, "wiki").await;
        let groups = app
            .get(&format!("/api/v1/applications/{app_id}/groups"))
            .await
            .expect(StatusCode::OK);
        let group = id(&groups[0]);
        app.admin(
        "PUT",
        &format!("/api/v1/applications/{app_id}/entitlements"),
        Some(json!([
            {"group_id": group, "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard"},
            {"group_id": group, "account_id": "123456789012", "role_name": "ReadOnly", "provider_name": "Lanyard"}
        ])),
    )
    .await
    .expect(StatusCode::OK);
        let xml = authn_request(&app, "_chosen-1", "wiki", SP_ENTITY, "");
        let query = redirect_query(&xml, Some("from-the-sp"), Some(&sp_key()));
        let page = app
            .visit("GET", &format!("/saml2/wiki?{query}"), Some(&session), None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        assert!(html.contains("<h1>Choose a role</h1>"), "{html}");
        assert_eq!(
            unescaped(&hidden(&html, "request").unwrap()),
            format!("/saml2/wiki?{query}")
        );
        // The chooser did not use up the request: the choice answers it.
        let r = choose(&app, "wiki", &session, &html, "123456789012:ReadOnly", None).await;
        let form = form_of(&r);
        assert_eq!(roles(&form), [PROD_READ]);
        assert!(response_xml(&form).contains("InResponseTo=\"_chosen-1\""));
        assert_eq!(
            form.fields["RelayState"], "from-the-sp",
            "the SP's RelayState wins"
        );
        // Once answered, the request is spent.
        let r = choose(&app, "wiki", &session, &html, "123456789012:Admin", None).await;
        refused(&r, StatusCode::BAD_REQUEST, "_chosen-1");
        app.shutdown().await;
    }
);

web_test!(
    with_the_chooser_off_every_role_goes_with_the_smallest_cap,
    |app| {
        let s = three_roles(&app).await;
        patch_sso(&app, s.app_id, json!({"role_chooser": false})).await;
        let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
        assert_eq!(roles(&form), [PROD_ADMIN, PROD_READ, STAGING_DEV]);
        assert_eq!(
            attribute_values(&form, DURATION),
            ["3600"],
            "the smallest maximum"
        );
        // `?role=` still picks one, with its own cap.
        let form = form_of(
            &app.visit(
                "GET",
                "/saml2/aws?role=123456789012:ReadOnly",
                Some(&s.session),
                None,
            )
            .await,
        );
        assert_eq!(roles(&form), [PROD_READ]);
        assert_eq!(attribute_values(&form, DURATION), ["28800"]);
        // The Preview says why.
        let preview = app
            .get(&format!(
                "/api/v1/applications/{}/preview?user=alice@aws.example.com",
                s.app_id
            ))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
        preview["roles_note"],
        "The role chooser is off, so all 3 roles go in one response and SessionDuration is capped at 3600 s, the smallest maximum among them: turn the chooser on to let each role keep its own."
    );
        patch_sso(&app, s.app_id, json!({"role_chooser": true})).await;
        let preview = app
            .get(&format!(
                "/api/v1/applications/{}/preview?user=alice@aws.example.com",
                s.app_id
            ))
            .await
            .expect(StatusCode::OK);
        assert!(
            preview["roles_note"]
                .as_str()
                .unwrap()
                .starts_with("The user chooses one of 3 roles at sign-in"),
            "{preview}"
        );
        app.shutdown().await;
    }
);

web_test!(
    roles_from_the_attributes_of_several_groups_are_merged,
    |app| {
        let s = aws_setup(&app, "aws").await;
        // Roles from a group attribute instead of entitlements.
        app.admin(
            "PUT",
            &format!("/api/v1/applications/{}/entitlements", s.app_id),
            Some(json!([])),
        )
        .await
        .expect(StatusCode::OK);
        app.admin(
        "PATCH",
        &format!("/api/v1/applications/{}", s.app_id),
        Some(json!({"attributes": [
            {"name": DURATION, "source": {"kind": "constant", "value": "3600"}},
            {"name": "https://aws.amazon.com/SAML/Attributes/RoleSessionName", "source": {"kind": "user_field", "value": "email"}},
            {"name": "https://aws.amazon.com/SAML/Attributes/Role", "source": {"kind": "user_attribute", "value": "aws_role"}}
        ]})),
    )
    .await
    .expect(StatusCode::OK);
        let group_with = |name: &'static str, roles: Vec<&'static str>| {
            let app = &app;
            async move {
                let g = app
                    .admin(
                        "POST",
                        "/api/v1/groups",
                        Some(json!({"name": name, "attributes": {"aws_role": roles}})),
                    )
                    .await
                    .expect(StatusCode::CREATED);
                id(&g)
            }
        };
        // Named so that "zeta" sorts after "alpha" whatever their ids.
        let zeta = group_with("zeta-ops", vec![PROD_READ, PROD_ADMIN]).await;
        let alpha = group_with("alpha-dev", vec![STAGING_DEV, PROD_ADMIN]).await;
        for g in [zeta, alpha] {
            member(&app, g, s.alice).await;
            app.admin(
                "PUT",
                &format!("/api/v1/applications/{}/groups/{g}", s.app_id),
                None,
            )
            .await
            .expect(StatusCode::NO_CONTENT);
        }
        let form = form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
        // Every bound group's values, by group name, de-duplicated.
        assert_eq!(roles(&form), [STAGING_DEV, PROD_ADMIN, PROD_READ]);
        app.shutdown().await;
    }
);

web_test!(admins_set_deep_links_and_the_chooser_in_the_portal, |app| {
    use crate::admin_portal::entitlement_fields;
    use crate::common::admin::{create_app, signed_in};
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Amazon AWS").await;
    let g = app.create_group("engineers").await["id"].as_i64().unwrap();
    let gs = g.to_string();
    let tab = b
        .get(&format!("/admin/applications/{id}?tab=attributes"))
        .await
        .text();
    assert!(tab.contains("<th>Deep link (URL or region)</th>"), "{tab}");
    let csrf = hidden(&tab, "csrf").unwrap();
    let path = format!("/admin/applications/{id}/entitlements");
    let with_link = |link: &'static str| {
        let mut f = entitlement_fields(
            &csrf,
            &[[&gs, "123456789012", "Admin", "", "production", ""]],
        );
        f.push(("ent_link", link));
        f
    };
    let r = b.post(&path, &with_link("eu-west-1")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let stored = app
        .get(&format!("/api/v1/applications/{id}/entitlements"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(stored[0]["deep_link"], "eu-west-1");
    let r = b.post(&path, &with_link("west")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("Deep link must be an https URL (e.g. a console page) or an AWS region such as eu-west-1"),
        "{}",
        r.text()
    );
    // A deep link is a RelayState: the app's allowlist must admit it.
    patch_sso(
        &app,
        id,
        json!({"relay_state_allowlist": ["https://console.aws.amazon.com/*"]}),
    )
    .await;
    let r = b.post(&path, &with_link("eu-west-1")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("is not on the application&#39;s RelayState allowlist"),
        "{}",
        r.text()
    );
    let r = b
        .post(&path, &with_link("https://console.aws.amazon.com/s3/home"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

    // The chooser is on by default, and the SSO tab turns it off.
    let sso = b
        .get(&format!("/admin/applications/{id}?tab=sso"))
        .await
        .text();
    assert!(
        sso.contains(r#"<input type="checkbox" name="role_chooser" value="1" checked>"#),
        "{sso}"
    );
    let v = app
        .get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso"]["role_chooser"], true);
    patch_sso(&app, id, json!({"role_chooser": false})).await;
    let sso = b
        .get(&format!("/admin/applications/{id}?tab=sso"))
        .await
        .text();
    assert!(
        sso.contains(r#"<input type="checkbox" name="role_chooser" value="1">"#),
        "{sso}"
    );
    app.shutdown().await;
});

web_test!(more_than_ten_roles_get_a_filter_box, |app| {
    let s = aws_setup(&app, "aws").await;
    let rows: Vec<Value> = (0..11)
        .map(|i| {
            json!({"group_id": s.group, "account_id": format!("{:012}", 100 + i / 4),
                   "role_name": format!("Role{i:02}"), "provider_name": "Lanyard"})
        })
        .collect();
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{}/entitlements", s.app_id),
        Some(Value::Array(rows)),
    )
    .await
    .expect(StatusCode::OK);
    let html = app
        .visit("GET", "/saml2/aws", Some(&s.session), None)
        .await
        .text();
    assert!(
        html.contains(r#"<input type="search" id="role-filter" placeholder="Filter by account or role" aria-label="Filter roles" hidden>"#),
        "{html}"
    );
    assert!(html.contains(r#"<script src="/static/chooser.js"></script>"#));
    assert_eq!(html.matches(r#"name="role" value=""#).count(), 11);
    // No label: the account number alone, spaced.
    assert!(html.contains("<h2>0000 0000 0100</h2>"), "{html}");
    let js = app.visit("GET", "/static/chooser.js", None, None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text().contains("role-filter"));
    app.shutdown().await;
});
