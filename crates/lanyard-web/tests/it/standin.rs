//! The AWS sign-in stand-in (`lanyard demo`'s ACS): a response issued by our
//! own SSO endpoint passes it, shows the role chooser for two roles and the
//! assumed role after the choice; tampered, stale or misaddressed responses
//! get AWS's own error text.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::browser::hidden;
use crate::common::TestApp;

const STANDIN_ACS: &str = "http://127.0.0.1:8080/aws-standin/aws/saml";

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// An AWS app whose default ACS is the stand-in, a user with two roles, a
/// session: (session token, SAMLResponse). Lanyard's own role chooser is off,
/// so both roles go in the response and AWS's chooser (the stand-in's) asks.
async fn issued(app: &TestApp) -> (String, String) {
    let (id, _) = app.store_app("aws").await;
    app.admin(
        "PATCH",
        &format!("/api/v1/applications/{id}"),
        Some(json!({"sso": {
            "acs_urls": [{"url": STANDIN_ACS, "is_default": true}],
            "role_chooser": false
        }})),
    )
    .await
    .expect(StatusCode::OK);
    let g = app.create_group("aws-admins").await;
    let u = app.create_user("alice@example.com", "alice").await;
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{}/members/{}", g["id"], u["id"]),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{id}/groups/{}", g["id"]),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.admin(
        "PUT",
        &format!("/api/v1/applications/{id}/entitlements"),
        Some(json!([
            {"group_id": g["id"], "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard"},
            {"group_id": g["id"], "account_id": "210987654321", "role_name": "ReadOnly", "provider_name": "Lanyard"}
        ])),
    )
    .await
    .expect(StatusCode::OK);
    let token = app.session_for(u["id"].as_i64().unwrap()).await;
    let page = app.visit("GET", "/saml2/aws", Some(&token), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let response = hidden(&page.text(), "SAMLResponse").expect("a SAMLResponse field");
    (token, response)
}

web_test!(
    a_good_response_reaches_the_console_through_the_role_chooser,
    |app| {
        let (_, response) = issued(&app).await;
        let chooser = app
            .visit(
                "POST",
                "/aws-standin/aws/saml",
                None,
                Some(form(&[("SAMLResponse", &response)])),
            )
            .await;
        assert_eq!(chooser.status, StatusCode::OK, "{}", chooser.text());
        let html = chooser.text();
        assert!(html.contains("Select a role"), "{html}");
        assert!(html.contains("arn:aws:iam::123456789012:role/Admin"));
        assert!(html.contains("arn:aws:iam::210987654321:role/ReadOnly"));
        let pick = "arn:aws:iam::210987654321:role/ReadOnly,arn:aws:iam::210987654321:saml-provider/Lanyard";
        let console = app
            .visit(
                "POST",
                "/aws-standin/aws/saml",
                None,
                Some(form(&[("SAMLResponse", &response), ("roleIndex", pick)])),
            )
            .await;
        assert_eq!(console.status, StatusCode::OK, "{}", console.text());
        assert!(
            console
                .text()
                .contains("assumed-role/ReadOnly/alice@example.com"),
            "{}",
            console.text()
        );
        // A role that is not in the assertion is refused.
        let forged =
            "arn:aws:iam::999999999999:role/Root,arn:aws:iam::999999999999:saml-provider/Lanyard";
        let r = app
            .visit(
                "POST",
                "/aws-standin/aws/saml",
                None,
                Some(form(&[("SAMLResponse", &response), ("roleIndex", forged)])),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        app.shutdown().await;
    }
);

web_test!(bad_responses_get_aws_error_text, |app| {
    let (_, response) = issued(&app).await;
    let invalid = "Your request included an invalid SAML response.";
    // Tampered: the signed NameID changed after signing.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(b64.decode(&response).unwrap()).unwrap();
    assert!(xml.contains(">alice@example.com<"));
    let tampered = b64.encode(xml.replace(">alice@example.com<", ">mallory@example.com<"));
    for (body, why) in [
        (form(&[("SAMLResponse", &tampered)]), "tampered"),
        (form(&[("SAMLResponse", "not base64!")]), "garbage"),
    ] {
        let r = app
            .visit("POST", "/aws-standin/aws/saml", None, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(r.text().contains(invalid), "{why}: {}", r.text());
    }
    // The same response posted to another provider's ACS: not for it.
    let r = app
        .visit(
            "POST",
            "/aws-standin/other/saml",
            None,
            Some(form(&[("SAMLResponse", &response)])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("no SAML provider named"), "{}", r.text());
    // Six minutes later: expired, as AWS would say.
    app.clock.advance(time::Duration::minutes(6));
    let r = app
        .visit(
            "POST",
            "/aws-standin/aws/saml",
            None,
            Some(form(&[("SAMLResponse", &response)])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains(invalid), "{}", r.text());
    app.shutdown().await;
});
