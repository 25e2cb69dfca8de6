//! The seed's steps (JumpCloud's "SSO with Amazon AWS IAM") as an admin
//! follows them in the portal, on every backend: the IdP URL slug chosen at
//! creation and fixed afterwards; AWS's global and regional sign-in
//! endpoints offered as a choice with one default; Export Metadata with one
//! app selected giving its XML file (and a message with none); Deactivate
//! SSO asking first; the delete button naming what it deletes; entitlement
//! rows taking the app's default SAML provider name; a click in a row
//! opening the app (the attribute here, the click in tests/browser).

use axum::http::StatusCode;
use serde_json::json;

use crate::admin_portal::entitlement_fields;
use crate::common::admin::{create_app, signed_in};
use crate::common::browser::{hidden, location, Browser};

const GLOBAL: &str = "https://signin.aws.amazon.com/saml";
const EU_WEST_1: &str = "https://eu-west-1.signin.aws.amazon.com/saml";
const US_EAST_2: &str = "https://us-east-2.signin.aws.amazon.com/saml";

/// Posts the new-app form for an Amazon AWS IAM app with `slug`.
async fn create_with_slug(b: &mut Browser<'_>, label: &str, slug: &str) -> crate::common::Resp {
    let csrf = b.csrf_of("/admin/applications/new?template=aws-iam").await;
    b.post(
        "/admin/applications/new",
        &[
            ("csrf", &csrf),
            ("template", "aws-iam"),
            ("label", label),
            ("slug", slug),
            ("description", ""),
            ("show_in_portal", "1"),
        ],
    )
    .await
}

web_test!(
    the_idp_url_slug_is_chosen_at_creation_and_fixed_after,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let form = b
            .get("/admin/applications/new?template=aws-iam")
            .await
            .text();
        assert!(
            form.contains("IdP URL slug (a plaintext string unique to this connector"),
            "{form}"
        );
        assert!(
            form.contains("<code>http://127.0.0.1:8080/saml2/&lt;slug&gt;</code>"),
            "{form}"
        );

        // Not a slug: refused by name, the typed values kept.
        let r = create_with_slug(&mut b, "Production", "Prod Account").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let text = r.text();
        assert!(
            text.contains("IdP URL slug must be 1-63 lowercase letters, digits and single hyphens"),
            "{text}"
        );
        assert!(text.contains("value=\"Prod Account\""), "{text}");

        let r = create_with_slug(&mut b, "Production", "aws-prod").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let apps = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        let created = &apps["items"][0];
        assert_eq!(created["slug"], "aws-prod");
        assert_eq!(created["idp_url"], "http://127.0.0.1:8080/saml2/aws-prod");
        let id = created["id"].as_i64().unwrap();

        // Taken: refused by name.
        let r = create_with_slug(&mut b, "Again", "aws-prod").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text()
                .contains("IdP URL slug &#34;aws-prod&#34; is already in use"),
            "{}",
            r.text()
        );
        // Empty: made from the label, as before.
        let r = create_with_slug(&mut b, "Staging Account", "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let apps = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        let slugs: Vec<&str> = apps["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["slug"].as_str().unwrap())
            .collect();
        assert!(slugs.contains(&"staging-account"), "{slugs:?}");

        // Afterwards the General tab shows it fixed, and it cannot change.
        let general = b.get(&format!("/admin/applications/{id}")).await.text();
        assert!(
            general.contains("<input type=\"text\" id=\"slug\" value=\"aws-prod\" readonly"),
            "{general}"
        );
        assert!(
            general.contains("Fixed when the application was created"),
            "{general}"
        );
        let r = app
            .admin(
                "PATCH",
                &format!("/api/v1/applications/{id}"),
                Some(json!({"slug": "other"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("is immutable"), "{}", r.text());
        app.shutdown().await;
    }
);

/// The SSO tab's form as stored, with the endpoint fields replaced.
async fn sso_fields(
    b: &mut Browser<'_>,
    id: i64,
    endpoints: &[&'static str],
    default: &'static str,
    others: &'static str,
) -> Vec<(&'static str, String)> {
    let text = b
        .get(&format!("/admin/applications/{id}?tab=sso"))
        .await
        .text();
    let csrf = hidden(&text, "csrf").unwrap();
    let mut fields: Vec<(&'static str, String)> = vec![
        ("csrf", csrf),
        (
            "idp_entity_id",
            format!("http://127.0.0.1:8080/saml2/x{id}"),
        ),
        ("sp_entity_id", "urn:amazon:webservices".into()),
        ("acs_urls", others.into()),
        ("acs_default", default.into()),
        ("default_relay_state", String::new()),
        ("name_id", "email".into()),
        ("name_id_attribute", String::new()),
        (
            "name_id_format",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
        ),
        ("algorithm", "rsa_sha256".into()),
        ("sign_assertion", "1".into()),
    ];
    fields.extend(endpoints.iter().map(|e| ("acs_endpoint", (*e).to_owned())));
    fields
}

async fn stored_acs(app: &crate::common::TestApp, id: i64) -> serde_json::Value {
    app.get(&format!("/api/v1/applications/{id}"))
        .await
        .expect(StatusCode::OK)["sso"]["acs_urls"]
        .clone()
}

web_test!(
    the_sso_tab_offers_aws_sign_in_endpoints_with_one_default,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Amazon AWS").await;
        let tab = b
            .get(&format!("/admin/applications/{id}?tab=sso"))
            .await
            .text();
        assert!(tab.contains("AWS sign-in endpoints (ACS URLs)"), "{tab}");
        // The template's endpoint is registered and the default; the regions
        // are offered.
        assert!(
        tab.contains(&format!(
            "name=\"acs_endpoint\" value=\"{GLOBAL}\" aria-label=\"Register global (us-east-1)\" checked"
        )),
        "{tab}"
    );
        assert!(
        tab.contains(&format!(
            "name=\"acs_default\" value=\"{GLOBAL}\" aria-label=\"Default: global (us-east-1)\" checked"
        )),
        "{tab}"
    );
        assert!(
            tab.contains(&format!(
                "name=\"acs_endpoint\" value=\"{EU_WEST_1}\" aria-label=\"Register eu-west-1\">"
            )),
            "{tab}"
        );

        // Two regions and the global endpoint; eu-west-1 the default.
        let path = format!("/admin/applications/{id}/sso");
        let fields = sso_fields(&mut b, id, &[GLOBAL, EU_WEST_1, US_EAST_2], EU_WEST_1, "").await;
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post(&path, &pairs).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(
            stored_acs(&app, id).await,
            json!([
                {"url": GLOBAL, "is_default": false},
                {"url": US_EAST_2, "is_default": false},
                {"url": EU_WEST_1, "is_default": true},
            ])
        );
        let tab = b.get(location(&r)).await.text();
        assert!(
            tab.contains(&format!(
            "name=\"acs_default\" value=\"{EU_WEST_1}\" aria-label=\"Default: eu-west-1\" checked"
        )),
            "{tab}"
        );

        // A default that is not ticked is registered too; a per-provider ACS
        // URL goes in "other", and may be the default.
        let fields = sso_fields(&mut b, id, &[], US_EAST_2, "").await;
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post(&path, &pairs).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(
            stored_acs(&app, id).await,
            json!([{"url": US_EAST_2, "is_default": true}])
        );
        let acs = "https://eu-west-1.signin.aws.amazon.com/saml/acs/SAMLSP4ABCD";
        let fields = sso_fields(&mut b, id, &[GLOBAL], "other", acs).await;
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post(&path, &pairs).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(
            stored_acs(&app, id).await,
            json!([{"url": GLOBAL, "is_default": false}, {"url": acs, "is_default": true}])
        );

        // An "other" URL that is not AWS's is named by the AWS rule.
        let fields = sso_fields(
            &mut b,
            id,
            &[GLOBAL],
            GLOBAL,
            "https://evil.example.com/saml",
        )
        .await;
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post(&path, &pairs).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text()
                .contains("ACS URL [aws.recipient] must be an AWS sign-in endpoint"),
            "{}",
            r.text()
        );

        // Other templates type their ACS URLs.
        let custom = app
            .admin(
                "POST",
                "/api/v1/applications",
                Some(json!({"template": "custom-saml", "label": "Wiki", "sso": {
                    "sp_entity_id": "https://wiki.example.com",
                    "acs_urls": [{"url": "https://wiki.example.com/acs", "is_default": true}]
                }})),
            )
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_i64()
            .unwrap();
        let tab = b
            .get(&format!("/admin/applications/{custom}?tab=sso"))
            .await
            .text();
        assert!(!tab.contains("AWS sign-in endpoints"), "{tab}");
        assert!(
            tab.contains("ACS URLs (one per line; the first is the default)"),
            "{tab}"
        );
        app.shutdown().await;
    }
);

web_test!(export_metadata_of_one_selected_app_is_its_xml_file, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let one = create_app(&mut b, "Amazon AWS").await;
    let r = b
        .get(&format!(
            "/admin/applications/selection?action=export&ids={one}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "application/samlmetadata+xml; charset=utf-8"
    );
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"Lanyard-amazon-aws-metadata.xml\""
    );
    let xml = r.text();
    let doc = roxmltree::Document::parse(&xml).expect("the download is an XML document");
    assert_eq!(doc.root_element().tag_name().name(), "EntityDescriptor");
    assert_eq!(
        doc.root_element().attribute("entityID"),
        Some("http://127.0.0.1:8080/saml2/amazon-aws")
    );

    // None selected: the list says what to do.
    for (action, says) in [
        ("export", "to export its metadata."),
        ("delete", "to delete it."),
    ] {
        let r = b
            .get(&format!("/admin/applications/selection?action={action}"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let list = b.get(location(&r)).await.text();
        assert!(
            list.contains(&format!(
                "<p class=\"error\" role=\"alert\">Select an application first (tick its row) {says}</p>"
            )),
            "{list}"
        );
    }
    app.shutdown().await;
});

web_test!(
    deactivate_sso_asks_first_and_delete_names_its_button,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Amazon AWS").await;
        let tab = b
            .get(&format!("/admin/applications/{id}?tab=sso"))
            .await
            .text();
        // The SSO tab's button only opens the question.
        assert!(
        tab.contains(&format!(
            "<a class=\"button danger\" href=\"/admin/applications/{id}/deactivate\">Deactivate SSO</a>"
        )),
        "{tab}"
    );
        let ask = b.get(&format!("/admin/applications/{id}/deactivate")).await;
        assert_eq!(ask.status, StatusCode::OK);
        let text = ask.text();
        assert!(text.contains("Deactivate SSO for “Amazon AWS”?"), "{text}");
        assert!(
            text.contains(&format!(
            "<a class=\"button secondary\" href=\"/admin/applications/{id}?tab=sso\">Cancel</a>"
        )),
            "{text}"
        );
        // Asking changed nothing.
        let v = app
            .get(&format!("/api/v1/applications/{id}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(v["sso_active"], true);
        let csrf = hidden(&text, "csrf").unwrap();
        let r = b
            .post(
                &format!("/admin/applications/{id}/deactivate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let v = app
            .get(&format!("/api/v1/applications/{id}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(v["sso_active"], false);
        let again = b
            .get(&format!("/admin/applications/{id}/deactivate"))
            .await
            .text();
        assert!(again.contains("SSO is already deactivated"), "{again}");

        // A read-only admin is not even asked.
        let mut ro = signed_in(&app, "viewer@example.com", "read_only").await;
        let r = ro
            .get(&format!("/admin/applications/{id}/deactivate"))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // The delete dialog's button says what it deletes.
        let two = create_app(&mut b, "Amazon AWS").await;
        let single = b
            .get(&format!(
                "/admin/applications/selection?action=delete&ids={id}"
            ))
            .await
            .text();
        assert!(
            single.contains("<button type=\"submit\" class=\"danger\">Delete Application</button>"),
            "{single}"
        );
        let both = b
            .get(&format!(
                "/admin/applications/selection?action=delete&ids={id}&ids={two}"
            ))
            .await
            .text();
        assert!(
            both.contains("<button type=\"submit\" class=\"danger\">Delete Applications</button>"),
            "{both}"
        );
        // Each row of the list opens its app.
        let list = b.get("/admin/applications").await.text();
        assert!(
            list.contains(&format!("<tr data-href=\"/admin/applications/{id}\">")),
            "{list}"
        );
        app.shutdown().await;
    }
);

web_test!(
    entitlement_rows_take_the_apps_default_provider_name,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Amazon AWS").await;
        let g = app.create_group("engineers").await["id"].as_i64().unwrap();
        let gs = g.to_string();
        let tab = format!("/admin/applications/{id}?tab=attributes");
        let text = b.get(&tab).await.text();
        // Prefilled from the slug.
        assert!(
            text.contains(
                "id=\"ent_default_provider\" name=\"ent_default_provider\" value=\"amazon-aws\""
            ),
            "{text}"
        );
        let csrf = hidden(&text, "csrf").unwrap();
        let path = format!("/admin/applications/{id}/entitlements");
        let entitlements = || async {
            app.get(&format!("/api/v1/applications/{id}/entitlements"))
                .await
                .expect(StatusCode::OK)
        };

        // Rows without a provider take the default.
        let mut fields = entitlement_fields(
            &csrf,
            &[
                [&gs, "123456789012", "Admin", "", "", ""],
                [&gs, "123456789012", "ReadOnly", "", "", ""],
            ],
        );
        fields.push(("ent_default_provider", "amazon-aws"));
        let r = b.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let stored = entitlements().await;
        assert_eq!(stored[0]["provider_name"], "amazon-aws");
        assert_eq!(stored[1]["provider_name"], "amazon-aws");

        // An edited default is saved and taken by empty rows; a typed provider
        // stays the row's own.
        let mut fields = entitlement_fields(
            &csrf,
            &[
                [&gs, "123456789012", "Admin", "", "", ""],
                [&gs, "210987654321", "Admin", "Legacy", "", ""],
            ],
        );
        fields.push(("ent_default_provider", "LanyardProd"));
        let r = b.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let stored = entitlements().await;
        assert_eq!(stored[0]["provider_name"], "LanyardProd");
        assert_eq!(stored[1]["provider_name"], "Legacy");
        let v = app
            .get(&format!("/api/v1/applications/{id}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(v["sso"]["aws_provider_name"], "LanyardProd");
        let shown = b.get(&tab).await.text();
        assert!(shown.contains("value=\"LanyardProd\""), "{shown}");
        assert!(shown.contains("placeholder=\"LanyardProd\""), "{shown}");

        // Not a provider name: named, nothing saved.
        let mut fields = entitlement_fields(&csrf, &[[&gs, "123456789012", "Ops", "", "", ""]]);
        fields.push(("ent_default_provider", "bad name!"));
        let r = b.post(&path, &fields).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
        r.text().contains(
            "SAML provider name must be an IAM SAML provider name (1-128 of letters, digits, ._-)"
        ),
        "{}",
        r.text()
    );
        assert_eq!(entitlements().await.as_array().unwrap().len(), 2);

        // The API takes the same default when a row names no provider.
        let r = app
            .admin(
                "PUT",
                &format!("/api/v1/applications/{id}/entitlements"),
                Some(json!([{"group_id": g, "account_id": "123456789012", "role_name": "Api"}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(entitlements().await[0]["provider_name"], "LanyardProd");
        app.shutdown().await;
    }
);
