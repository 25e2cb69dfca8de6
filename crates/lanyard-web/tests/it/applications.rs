//! `/api/v1/applications` end to end through the router, on every backend:
//! template defaults, every validation rule by its message, placeholders
//! blocking activation, the immutable slug, typed-count deletion, metadata
//! export (single, zip, public URL), keys (generate, upload, rotate), SP
//! metadata import, bindings from both sides, entitlements, portal images,
//! the preview, and no private key in any response.

use std::io::{Cursor, Read};

use axum::http::StatusCode;
use lanyard_core::store::AppStore;
use lanyard_core::AppId;
use serde_json::{json, Value};

use crate::common::TestApp;

const SP_METADATA: &str = include_str!("../../../lanyard-saml/test_vectors/metadata/sp-ok.xml");
const AWS_SP_METADATA: &str = include_str!("../fixtures/aws-sp-metadata.xml");
const SP_KEY: &str = include_str!("../../../lanyard-saml/test_vectors/sp-test-only.key.pem");
const SP_CERT: &str = include_str!("../../../lanyard-saml/test_vectors/sp-test-only.crt.pem");
const KEY_1024: &str = include_str!("../fixtures/rsa1024-test-only.key.pem");
const CERT_1024: &str = include_str!("../fixtures/rsa1024-test-only.crt.pem");

async fn create(app: &TestApp, body: Value) -> Value {
    app.admin("POST", "/api/v1/applications", Some(body))
        .await
        .expect(StatusCode::CREATED)
}

async fn aws(app: &TestApp, label: &str) -> Value {
    create(app, json!({"template": "aws-iam", "label": label})).await
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

web_test!(aws_template_defaults, |app| {
    let a = aws(&app, "Amazon AWS (Prod)").await;
    assert_eq!(a["slug"], "amazon-aws-prod");
    assert_eq!(a["template"], "aws-iam");
    assert_eq!(a["label"], "Amazon AWS (Prod)");
    assert_eq!(a["show_in_portal"], true);
    assert_eq!(a["aws_rules"], true);
    assert_eq!(a["idp_url"], "http://127.0.0.1:8080/saml2/amazon-aws-prod");
    assert_eq!(
        a["metadata_url"],
        "http://127.0.0.1:8080/saml2/amazon-aws-prod/metadata"
    );
    assert_eq!(a["sso"]["idp_entity_id"], a["idp_url"]);
    assert_eq!(a["sso"]["sp_entity_id"], "urn:amazon:webservices");
    assert_eq!(
        a["sso"]["acs_urls"],
        json!([{"url": "https://signin.aws.amazon.com/saml", "is_default": true}])
    );
    assert_eq!(a["sso"]["name_id"], json!({"kind": "email"}));
    assert_eq!(a["sso"]["algorithm"], "rsa_sha256");
    assert_eq!(a["sso"]["sign_assertion"], true);
    assert_eq!(
        a["attributes"],
        json!([
            {"name": "https://aws.amazon.com/SAML/Attributes/SessionDuration",
             "source": {"kind": "constant", "value": "3600"}},
            {"name": "https://aws.amazon.com/SAML/Attributes/RoleSessionName",
             "source": {"kind": "user_field", "value": "email"}}
        ])
    );
    assert_eq!(a["placeholders"], json!([]));
    assert_eq!(a["image_url"], Value::Null);
    let got = app
        .get(&format!("/api/v1/applications/{}", id(&a)))
        .await
        .expect(StatusCode::OK);
    assert_eq!(got, a);

    // One generated RSA-2048 key, valid five years.
    let keys = app
        .get(&format!("/api/v1/applications/{}/keys", id(&a)))
        .await
        .expect(StatusCode::OK);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["active"], true);
    assert_eq!(keys[0]["bits"], 2048);
    assert_eq!(keys[0]["not_after"], "2030-02-28T12:00:00Z");

    let events = app.audit_events().await;
    let e = events.last().unwrap();
    assert_eq!(e.action, "application.create");
    assert_eq!(e.target, format!("application:{}", id(&a)));
    app.shutdown().await;
});

web_test!(creation_rules_name_the_field, |app| {
    let post = |b: Value| app.admin("POST", "/api/v1/applications", Some(b));
    assert_eq!(
        post(json!({"template": "aws-iam", "label": "  "}))
            .await
            .expect_invalid("label"),
        "is required: 1-100 characters without control characters"
    );
    assert!(post(json!({"template": "salesforce", "label": "x"}))
        .await
        .expect_invalid("template")
        .starts_with("unknown template \"salesforce\""));
    assert!(
        post(json!({"template": "aws-iam", "label": "x", "slug": "Bad_Slug"}))
            .await
            .expect_invalid("slug")
            .starts_with("must be 1-63 lowercase letters")
    );
    // Custom SAML needs the SP's entity ID and ACS URL (or its metadata).
    let v = post(json!({"template": "custom-saml", "label": "Wiki"}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    assert!(v["fields"]["sso.sp_entity_id"].is_string(), "{v}");
    assert_eq!(
        v["fields"]["sso.acs_urls"],
        "at least one ACS URL is required"
    );
    let msg = post(json!({"template": "custom-saml", "label": "Wiki",
        "sso": {"sp_entity_id": "https://wiki.example.com", "acs_urls": [{"url": "http://wiki.example.com/acs", "is_default": true}]}}))
    .await
    .expect_invalid("sso.acs_urls[0]");
    assert_eq!(
        msg,
        "must be an https URL (http is allowed only for localhost)"
    );
    let v = post(json!({"template": "aws-iam", "label": "x",
        "sso": {"acs_urls": [{"url": "https://signin.aws.amazon.com/saml", "is_default": false}],
                "sign_assertion": false, "sign_response": false}}))
    .await
    .expect_error(StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(
        v["fields"]["sso.acs_urls"],
        "exactly one ACS URL must be the default"
    );
    assert_eq!(
        v["fields"]["sso.sign_assertion"],
        "sign the Assertion, the Response, or both"
    );
    // Unknown fields are refused by name.
    assert!(
        post(json!({"template": "aws-iam", "label": "x", "colour": 1}))
            .await
            .expect_invalid("colour")
            .contains("unknown field")
    );
    // The slug is unique: a default one gets a suffix, a chosen one is
    // refused by name.
    aws(&app, "Amazon AWS").await;
    let second = aws(&app, "Amazon AWS").await;
    assert_eq!(second["slug"], "amazon-aws-2");
    let v = post(json!({"template": "aws-iam", "label": "x", "slug": "amazon-aws"}))
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
    assert_eq!(v["fields"]["slug"], "is already in use");
    // Certificate validity is bounded.
    assert!(
        post(json!({"template": "aws-iam", "label": "y", "validity_days": 0}))
            .await
            .expect_invalid("validity_days")
            .starts_with("must be between 1 and")
    );
    app.shutdown().await;
});

web_test!(aws_rules_refuse_broken_settings_at_save_time, |app| {
    let a = aws(&app, "AWS").await;
    let path = format!("/api/v1/applications/{}", id(&a));
    let patch = |b: Value| app.admin("PATCH", &path, Some(b));
    let msg = patch(json!({"attributes": [
        {"name": "https://aws.amazon.com/SAML/Attributes/SessionDuration", "source": {"kind": "constant", "value": "60"}}
    ]}))
    .await
    .expect_invalid("attributes[0]");
    assert!(
        msg.starts_with("[aws.session_duration.range] SessionDuration"),
        "{msg}"
    );
    let msg = patch(json!({"attributes": [
        {"name": "https://aws.amazon.com/SAML/Attributes/Role", "source": {"kind": "constant", "value": "arn:aws:iam::123456789012:role/A, arn:aws:iam::123456789012:saml-provider/P"}}
    ]}))
    .await
    .expect_invalid("attributes[0]");
    assert!(msg.starts_with("[aws.role.syntax]"), "{msg}");
    let msg = patch(json!({"sso": {"sp_entity_id": "https://example.com"}}))
        .await
        .expect_invalid("sso.sp_entity_id");
    assert!(msg.starts_with("[aws.audience]"), "{msg}");
    let msg = patch(json!({"sso": {"acs_urls": [{"url": "https://evil.example.com/saml", "is_default": true}]}}))
        .await
        .expect_invalid("sso.acs_urls[0]");
    assert!(msg.starts_with("[aws.recipient]"), "{msg}");
    let msg = patch(json!({"attributes": [
        {"name": "x", "source": {"kind": "user_field", "value": "shoe_size"}}
    ]}))
    .await
    .expect_invalid("attributes[0].source");
    assert!(msg.starts_with("unknown user field \"shoe_size\""), "{msg}");
    // Nothing of the refused changes was stored.
    let now = app.get(&path).await.expect(StatusCode::OK);
    assert_eq!(now["attributes"], a["attributes"]);
    assert_eq!(now["sso"], a["sso"]);
    app.shutdown().await;
});

web_test!(updates_are_partial_and_the_slug_is_immutable, |app| {
    let a = aws(&app, "AWS").await;
    let path = format!("/api/v1/applications/{}", id(&a));
    let msg = app
        .admin("PATCH", &path, Some(json!({"slug": "other"})))
        .await
        .expect_invalid("slug");
    assert!(msg.starts_with("is immutable"), "{msg}");
    let v = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"slug": "aws", "label": "AWS Prod", "description": "Console",
                "show_in_portal": false, "groups_attribute": "groups",
                "sso": {"algorithm": "rsa_sha1", "default_relay_state": "https://console.aws.amazon.com/"}})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["slug"], "aws");
    assert_eq!(v["label"], "AWS Prod");
    assert_eq!(v["description"], "Console");
    assert_eq!(v["show_in_portal"], false);
    assert_eq!(v["groups_attribute"], "groups");
    assert_eq!(v["sso"]["algorithm"], "rsa_sha1");
    assert_eq!(
        v["sso"]["default_relay_state"],
        "https://console.aws.amazon.com/"
    );
    assert_eq!(v["sso"]["sp_entity_id"], "urn:amazon:webservices", "kept");
    let v = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"groups_attribute": "", "sso": {"default_relay_state": ""}})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["groups_attribute"], Value::Null);
    assert_eq!(v["sso"]["default_relay_state"], Value::Null);
    app.admin(
        "PATCH",
        "/api/v1/applications/9999",
        Some(json!({"label": "x"})),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "not_found");
    app.shutdown().await;
});

web_test!(placeholders_block_activation_and_name_each_field, |app| {
    let a = create(
        &app,
        json!({"template": "aws-identity-center", "label": "AWS SSO"}),
    )
    .await;
    assert_eq!(
        a["placeholders"],
        json!([
            "sso.sp_entity_id",
            "sso.acs_urls[0]",
            "sso.default_relay_state"
        ])
    );
    assert_eq!(a["sso_active"], false);
    let path = format!("/api/v1/applications/{}", id(&a));
    let v = app
        .admin("POST", &format!("{path}/activate"), None)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    for f in [
        "sso.sp_entity_id",
        "sso.acs_urls[0]",
        "sso.default_relay_state",
    ] {
        assert!(
            v["fields"][f]
                .as_str()
                .unwrap()
                .starts_with("still holds a template placeholder"),
            "{v}"
        );
    }
    app.admin(
        "PATCH",
        &path,
        Some(json!({"sso": {
            "sp_entity_id": "https://eu-west-1.signin.aws.amazon.com/platform/saml/d-123",
            "acs_urls": [{"url": "https://eu-west-1.signin.aws.amazon.com/platform/saml/acs/d-123", "is_default": true}],
            "default_relay_state": "https://d-123.awsapps.com/start"}})),
    )
    .await
    .expect(StatusCode::OK);
    let v = app
        .admin("POST", &format!("{path}/activate"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso_active"], true);
    assert_eq!(v["placeholders"], json!([]));
    app.shutdown().await;
});

web_test!(deactivate_and_activate_keep_the_settings, |app| {
    let a = aws(&app, "AWS").await;
    assert_eq!(a["sso_active"], true, "no placeholder: active on creation");
    let path = format!("/api/v1/applications/{}", id(&a));
    let off = app
        .admin("POST", &format!("{path}/deactivate"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(off["sso_active"], false);
    assert_eq!(off["sso"], a["sso"]);
    assert_eq!(off["attributes"], a["attributes"]);
    let on = app
        .admin("POST", &format!("{path}/activate"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(on["sso_active"], true);
    let actions: Vec<String> = app
        .audit_events()
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.ends_with(&[
        "application.deactivate".to_owned(),
        "application.activate".to_owned()
    ]));
    app.shutdown().await;
});

web_test!(
    deletion_needs_the_typed_count_and_removes_everything,
    |app| {
        let a = aws(&app, "AWS One").await;
        let b = aws(&app, "AWS Two").await;
        let keep = aws(&app, "AWS Keep").await;
        let g = app.create_group("admins").await;
        for x in [&a, &b, &keep] {
            app.admin(
                "PUT",
                &format!("/api/v1/applications/{}/groups/{}", id(x), id(&g)),
                None,
            )
            .await
            .expect(StatusCode::NO_CONTENT);
        }
        let del = |body: Value| app.admin("DELETE", "/api/v1/applications", Some(body));
        let msg = del(json!({"ids": [id(&a), id(&b)], "confirm_count": 1}))
            .await
            .expect_invalid("confirm_count");
        assert_eq!(
            msg,
            "you are deleting 2 applications: type 2 to confirm (got 1); nothing was deleted"
        );
        assert_eq!(
            del(json!({"ids": [], "confirm_count": 0}))
                .await
                .expect_invalid("ids"),
            "name at least one application"
        );
        // An unknown id: 404 and nothing deleted.
        del(json!({"ids": [id(&a), 999_999], "confirm_count": 2}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        let list = app.get("/api/v1/applications").await.expect(StatusCode::OK);
        assert_eq!(list["items"].as_array().unwrap().len(), 3);

        let slug_a = a["slug"].as_str().unwrap();
        app.raw("GET", &format!("/saml2/{slug_a}/metadata"), None, None)
            .await
            .expect_bytes(StatusCode::OK);
        let v = del(json!({"ids": [id(&a), id(&b), id(&a)], "confirm_count": 2}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            v["deleted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["label"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["AWS One", "AWS Two"]
        );
        for x in [&a, &b] {
            assert!(matches!(
                app.store.get_app(AppId(id(x))).await,
                Err(lanyard_core::Error::NotFound { .. })
            ));
            let p = format!("/api/v1/applications/{}", id(x));
            for sub in ["", "/keys", "/groups", "/metadata", "/entitlements"] {
                app.get(&format!("{p}{sub}"))
                    .await
                    .expect_error(StatusCode::NOT_FOUND, "not_found");
            }
            let slug = x["slug"].as_str().unwrap();
            app.raw("GET", &format!("/saml2/{slug}/metadata"), None, None)
                .await
                .expect_error(StatusCode::NOT_FOUND, "not_found");
        }
        // The group's side of the bindings only has the kept app.
        let apps = app
            .get(&format!("/api/v1/groups/{}/applications", id(&g)))
            .await
            .expect(StatusCode::OK);
        assert_eq!(apps.as_array().unwrap().len(), 1);
        assert_eq!(apps[0]["id"], keep["id"]);
        let deletes: Vec<_> = app
            .audit_events()
            .await
            .into_iter()
            .filter(|e| e.action == "application.delete")
            .collect();
        assert_eq!(deletes.len(), 2);
        assert!(deletes[0].summary.contains("AWS One"), "{deletes:?}");
        app.shutdown().await;
    }
);

web_test!(list_searches_label_and_slug, |app| {
    aws(&app, "Amazon AWS").await;
    create(
        &app,
        json!({"template": "aws-iam", "label": "Console", "slug": "prod-console"}),
    )
    .await;
    let labels = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["label"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.get("/api/v1/applications").await.expect(StatusCode::OK);
    assert_eq!(labels(all), vec!["Amazon AWS", "Console"]);
    let v = app
        .get("/api/v1/applications?search=amaz")
        .await
        .expect(StatusCode::OK);
    assert_eq!(labels(v), vec!["Amazon AWS"]);
    let v = app
        .get("/api/v1/applications?search=prod")
        .await
        .expect(StatusCode::OK);
    assert_eq!(labels(v), vec!["Console"]);
    let v = app
        .get("/api/v1/applications?limit=1")
        .await
        .expect(StatusCode::OK);
    assert_eq!(labels(v.clone()), vec!["Amazon AWS"]);
    let next = v["next"].as_i64().unwrap();
    let v = app
        .get(&format!("/api/v1/applications?limit=1&after={next}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(labels(v), vec!["Console"]);
    app.shutdown().await;
});

fn cert_b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

web_test!(metadata_export_single_zip_and_public, |app| {
    let a = aws(&app, "Amazon AWS").await;
    let b = aws(&app, "AWS Sandbox").await;
    let r = app
        .get(&format!("/api/v1/applications/{}/metadata", id(&a)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"Lanyard-amazon-aws-metadata.xml\""
    );
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/samlmetadata+xml"));
    let xml = r.text();
    assert!(!r.bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(
        xml.chars().count() >= 1000,
        "AWS needs 1000+ characters: {}",
        xml.len()
    );
    assert!(xml.contains("entityID=\"http://127.0.0.1:8080/saml2/amazon-aws\""));
    assert!(xml.contains("Location=\"http://127.0.0.1:8080/saml2/amazon-aws\""));
    let keys = app
        .get(&format!("/api/v1/applications/{}/keys", id(&a)))
        .await
        .expect(StatusCode::OK);
    assert!(xml.contains(&cert_b64(keys[0]["certificate_pem"].as_str().unwrap())));
    assert_eq!(xml.matches("<md:KeyDescriptor use=\"signing\">").count(), 1);

    // The public URL serves the same document without credentials.
    let public = app
        .raw("GET", "/saml2/amazon-aws/metadata", None, None)
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.text(), xml);
    app.raw("GET", "/saml2/nope/metadata", None, None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    // Several at once: a zip of the same documents.
    let r = app
        .get(&format!(
            "/api/v1/applications/metadata?ids={},{}",
            id(&a),
            id(&b)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/zip");
    let mut zip = zip::ZipArchive::new(Cursor::new(r.bytes.clone())).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "Lanyard-amazon-aws-metadata.xml",
            "Lanyard-aws-sandbox-metadata.xml"
        ]
    );
    let mut inner = String::new();
    zip.by_name("Lanyard-amazon-aws-metadata.xml")
        .unwrap()
        .read_to_string(&mut inner)
        .unwrap();
    assert_eq!(inner, xml);
    assert!(app
        .get("/api/v1/applications/metadata?ids=1,x")
        .await
        .expect_invalid("ids")
        .contains("\"x\" is not an application id"));
    app.get("/api/v1/applications/metadata?ids=424242")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    app.shutdown().await;
});

web_test!(
    keys_rotate_without_downtime_and_uploads_are_checked,
    |app| {
        let a = aws(&app, "AWS").await;
        let keys_path = format!("/api/v1/applications/{}/keys", id(&a));
        let first = app.get(&keys_path).await.expect(StatusCode::OK)[0].clone();

        // Publish the next key first: both in the metadata, the old one signs.
        let next = app
            .admin("POST", &keys_path, Some(json!({"validity_days": 30})))
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(next["active"], false);
        assert_eq!(next["not_after"], "2025-03-31T12:00:00Z");
        let xml = app
            .get(&format!("/api/v1/applications/{}/metadata", id(&a)))
            .await
            .text();
        assert_eq!(xml.matches("<md:KeyDescriptor use=\"signing\">").count(), 2);
        let (signing, _) = app.store.active_signing_key(AppId(id(&a))).await.unwrap();
        assert_eq!(signing.id.0, first["id"].as_i64().unwrap());

        // Then switch, and retire the old one.
        let old_path = format!("{keys_path}/{}", first["id"]);
        let msg = app
            .admin("DELETE", &old_path, None)
            .await
            .expect_invalid("key");
        assert!(
            msg.contains("active signing key cannot be deleted"),
            "{msg}"
        );
        app.admin(
            "POST",
            &format!("{keys_path}/{}/activate", next["id"]),
            None,
        )
        .await
        .expect(StatusCode::OK);
        let (signing, _) = app.store.active_signing_key(AppId(id(&a))).await.unwrap();
        assert_eq!(signing.id.0, next["id"].as_i64().unwrap());
        app.admin("DELETE", &old_path, None)
            .await
            .expect(StatusCode::NO_CONTENT);
        let keys = app.get(&keys_path).await.expect(StatusCode::OK);
        assert_eq!(keys.as_array().unwrap().len(), 1);

        // Uploads: a matching 2048-bit pair is accepted...
        let up = app
        .admin(
            "POST",
            &keys_path,
            Some(json!({"private_key_pem": SP_KEY, "certificate_pem": SP_CERT, "activate": true})),
        )
        .await
        .expect(StatusCode::CREATED);
        assert_eq!(up["active"], true);
        assert_eq!(
            cert_b64(up["certificate_pem"].as_str().unwrap()),
            cert_b64(SP_CERT)
        );
        // ...a key with someone else's certificate is not...
        let other_cert = keys[0]["certificate_pem"].as_str().unwrap();
        assert_eq!(
            app.admin(
                "POST",
                &keys_path,
                Some(json!({"private_key_pem": SP_KEY, "certificate_pem": other_cert})),
            )
            .await
            .expect_invalid("certificate_pem"),
            "does not match the private key (their public keys differ)"
        );
        // ...nor a 1024-bit pair, nor garbage, nor half a pair.
        assert_eq!(
            app.admin(
                "POST",
                &keys_path,
                Some(json!({"private_key_pem": KEY_1024, "certificate_pem": CERT_1024})),
            )
            .await
            .expect_invalid("private_key_pem"),
            "is a 1024-bit key; at least 2048 bits are required"
        );
        assert!(app
        .admin(
            "POST",
            &keys_path,
            Some(json!({"private_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "certificate_pem": SP_CERT})),
        )
        .await
        .expect_invalid("private_key_pem")
        .starts_with("is not a PEM RSA private key"));
        assert_eq!(
            app.admin("POST", &keys_path, Some(json!({"private_key_pem": SP_KEY})))
                .await
                .expect_invalid("certificate_pem"),
            "is required with private_key_pem"
        );
        // Keys of another app are not reachable through this one.
        let b = aws(&app, "Other").await;
        let b_key = app
            .get(&format!("/api/v1/applications/{}/keys", id(&b)))
            .await
            .expect(StatusCode::OK)[0]["id"]
            .clone();
        app.admin("POST", &format!("{keys_path}/{b_key}/activate"), None)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        app.shutdown().await;
    }
);

web_test!(no_private_key_in_any_response, |app| {
    let a = aws(&app, "AWS").await;
    let b = aws(&app, "AWS B").await;
    let p = format!("/api/v1/applications/{}", id(&a));
    app.admin("POST", &format!("{p}/keys"), Some(json!({})))
        .await
        .expect(StatusCode::CREATED);
    app.admin(
        "POST",
        &format!("{p}/keys"),
        Some(json!({"private_key_pem": SP_KEY, "certificate_pem": SP_CERT})),
    )
    .await
    .expect(StatusCode::CREATED);
    for path in [
        p.clone(),
        format!("{p}/keys"),
        format!("{p}/metadata"),
        format!("/api/v1/applications/metadata?ids={},{}", id(&a), id(&b)),
        "/api/v1/applications".to_owned(),
        "/api/v1/audit-events".to_owned(),
    ] {
        app.get(&path).await.expect_bytes(StatusCode::OK);
    }
    app.raw("GET", "/saml2/aws/metadata", None, None)
        .await
        .expect_bytes(StatusCode::OK);
    app.audit_events().await;

    // The private keys as stored: no response carries any line of them.
    let mut secrets = vec![cert_b64(SP_KEY)];
    for x in [&a, &b] {
        let (_, pem) = app.store.active_signing_key(AppId(id(x))).await.unwrap();
        secrets.push(cert_b64(pem.expose()));
    }
    let bodies = app.bodies.lock().unwrap().clone();
    assert!(bodies.len() >= 10);
    for body in &bodies {
        // Without line breaks (raw or JSON-escaped), so a key split across
        // lines in any shape is still found.
        let text = String::from_utf8_lossy(body)
            .replace("\\n", "")
            .replace(['\n', '\r'], "");
        for s in &secrets {
            // Any 64 characters of the key's private half would be a leak
            // (the first ~400 characters encode the public modulus, which
            // the certificate rightly carries: search from the end).
            for chunk in s.as_bytes().rchunks(64).skip(1).take(8) {
                let chunk = std::str::from_utf8(chunk).unwrap();
                assert!(!text.contains(chunk), "a private key leaked: {text}");
            }
        }
    }
    for e in app.audit_events().await {
        assert!(!e.summary.contains("PRIVATE KEY"), "{e:?}");
    }
    app.shutdown().await;
});

web_test!(sp_metadata_import_fills_the_sp_side, |app| {
    let a = create(
        &app,
        json!({"template": "custom-saml", "label": "Wiki", "sp_metadata": SP_METADATA}),
    )
    .await;
    assert_eq!(a["sso"]["sp_entity_id"], "https://sp.example");
    assert_eq!(
        a["sso"]["acs_urls"],
        json!([{"url": "https://sp.example/acs", "is_default": true, "index": 0}]),
        "the metadata's index is kept"
    );
    assert_eq!(a["sso"]["require_signed_requests"], true);
    assert_eq!(
        a["sso"]["accept_authn_requests"], true,
        "a custom SP sends requests"
    );
    assert_eq!(a["sp_certificates"].as_array().unwrap().len(), 1);

    // Import onto an existing app, as a raw XML upload.
    let b = create(
        &app,
        json!({"template": "custom-saml", "label": "Wiki 2",
            "sso": {"sp_entity_id": "https://old.example", "acs_urls": [{"url": "https://old.example/acs", "is_default": true}]}}),
    )
    .await;
    let path = format!("/api/v1/applications/{}/sp-metadata", id(&b));
    let v = app
        .upload(
            "POST",
            &path,
            &app.admin_key,
            "application/samlmetadata+xml",
            SP_METADATA.into(),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso"]["sp_entity_id"], "https://sp.example");
    assert_eq!(v["sp_certificates"], a["sp_certificates"]);
    // Bad input: named, and nothing changes.
    let msg = app
        .upload(
            "POST",
            &path,
            &app.admin_key,
            "application/xml",
            b"<x/>".to_vec(),
        )
        .await
        .expect_invalid("sp_metadata");
    assert!(msg.starts_with("is not usable SP metadata"), "{msg}");
    let dtd = format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{SP_METADATA}");
    app.upload(
        "POST",
        &path,
        &app.admin_key,
        "application/xml",
        dtd.into_bytes(),
    )
    .await
    .expect_invalid("sp_metadata");
    app.upload(
        "POST",
        &path,
        &app.admin_key,
        "text/plain",
        SP_METADATA.into(),
    )
    .await
    .expect_invalid("body");

    // AWS's own metadata onto an AWS app passes the AWS rules; another
    // SP's metadata does not, and the rule is named.
    let c = aws(&app, "AWS").await;
    let path = format!("/api/v1/applications/{}/sp-metadata", id(&c));
    let v = app
        .upload(
            "POST",
            &path,
            &app.admin_key,
            "application/xml",
            AWS_SP_METADATA.into(),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["sso"]["sp_entity_id"], "urn:amazon:webservices");
    assert_eq!(v["sso"]["require_signed_requests"], false);
    assert!(app
        .upload(
            "POST",
            &path,
            &app.admin_key,
            "application/xml",
            SP_METADATA.into()
        )
        .await
        .expect_invalid("sso.sp_entity_id")
        .starts_with("[aws.audience]"));
    app.shutdown().await;
});

web_test!(bindings_from_both_sides_are_one_relation, |app| {
    let a = aws(&app, "AWS").await;
    let g = app.create_group("devs").await;
    let h = app.create_group("ops").await;
    let from_app = format!("/api/v1/applications/{}/groups", id(&a));
    let from_group = |gid: i64| format!("/api/v1/groups/{gid}/applications");
    assert_eq!(app.get(&from_app).await.expect(StatusCode::OK), json!([]));

    app.admin("PUT", &format!("{from_app}/{}", id(&g)), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.admin("PUT", &format!("{from_app}/{}", id(&g)), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.admin("PUT", &format!("{}/{}", from_group(id(&h)), id(&a)), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let names: Vec<Value> = app
        .get(&from_app)
        .await
        .expect(StatusCode::OK)
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("devs"), json!("ops")]);
    let apps = app.get(&from_group(id(&g))).await.expect(StatusCode::OK);
    assert_eq!(apps[0]["id"], a["id"]);

    // Unbind through the other door.
    app.admin(
        "DELETE",
        &format!("{}/{}", from_group(id(&g)), id(&a)),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.admin("DELETE", &format!("{from_app}/{}", id(&h)), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(app.get(&from_app).await.expect(StatusCode::OK), json!([]));
    assert_eq!(
        app.get(&from_group(id(&h))).await.expect(StatusCode::OK),
        json!([])
    );

    // Missing ends are 404, either way round.
    let v = app
        .admin("PUT", &format!("{from_app}/424242"), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(v["message"].as_str().unwrap().contains("group"), "{v}");
    let v = app
        .admin("PUT", &format!("{}/424242", from_group(id(&g))), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(
        v["message"].as_str().unwrap().contains("application"),
        "{v}"
    );
    app.get(&from_group(424242))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    let binds = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("application.") && e.action.ends_with("bind_group"))
        .count();
    assert_eq!(binds, 5);
    app.shutdown().await;
});

web_test!(entitlements_are_checked_and_replaced_whole, |app| {
    let a = aws(&app, "AWS").await;
    let g = app.create_group("admins").await;
    let path = format!("/api/v1/applications/{}/entitlements", id(&a));
    let row = json!({"group_id": id(&g), "account_id": "123456789012", "role_name": "Admin",
        "provider_name": "Lanyard", "account_label": "prod"});
    let v = app
        .admin("PUT", &path, Some(json!([row])))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v[0]["role_name"], "Admin");
    assert_eq!(v[0]["group_id"], g["id"]);
    assert_eq!(app.get(&path).await.expect(StatusCode::OK), v);

    let v = app
        .admin(
            "PUT",
            &path,
            Some(
                json!([{"group_id": id(&g), "account_id": "1234", "role_name": "a b",
                "provider_name": "p", "max_session_duration": 60}]),
            ),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(
        v["fields"]["entitlements[0].account_id"],
        "must be a 12-digit AWS account id"
    );
    assert!(v["fields"]["entitlements[0].role_name"].is_string());
    assert!(v["fields"]["entitlements[0].max_session_duration"].is_string());
    let mut other = row.clone();
    other["group_id"] = json!(424242);
    app.admin("PUT", &path, Some(json!([other])))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    // Refused writes changed nothing.
    assert_eq!(
        app.get(&path).await.expect(StatusCode::OK)[0]["account_label"],
        "prod"
    );
    app.admin("PUT", &path, Some(json!([])))
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.get(&path).await.expect(StatusCode::OK), json!([]));
    app.shutdown().await;
});

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::RgbImage::new(w, h)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

web_test!(
    portal_images_are_decoded_and_served_from_our_origin,
    |app| {
        let a = aws(&app, "AWS").await;
        let path = format!("/api/v1/applications/{}/image", id(&a));
        let bytes = png(16, 16);
        let v = app
            .upload("PUT", &path, &app.admin_key, "image/png", bytes.clone())
            .await
            .expect(StatusCode::OK);
        let url = v["image_url"].as_str().unwrap();
        let local = url.strip_prefix("http://127.0.0.1:8080").unwrap();
        assert!(
            local.starts_with(&format!("/app-images/{}?v=", id(&a))),
            "{url}"
        );
        let r = app.raw("GET", local, None, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.bytes, bytes);
        assert_eq!(r.headers["content-type"], "image/png");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        let etag = r.headers["etag"].to_str().unwrap().to_owned();
        let req = axum::http::Request::builder()
            .uri(local)
            .header("if-none-match", &etag)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(app.send(req).await.status, StatusCode::NOT_MODIFIED);

        // Whatever the client claims, the bytes decide.
        let svg =
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
        assert!(app
            .upload("PUT", &path, &app.admin_key, "image/png", svg)
            .await
            .expect_invalid("image")
            .starts_with("is not a PNG, JPEG or WebP"));
        let mut broken = bytes.clone();
        broken.truncate(40);
        assert!(app
            .upload("PUT", &path, &app.admin_key, "image/png", broken)
            .await
            .expect_invalid("image")
            .starts_with("cannot be decoded"));
        assert!(app
            .upload(
                "PUT",
                &path,
                &app.admin_key,
                "image/png",
                vec![0x89; 600 * 1024]
            )
            .await
            .expect_invalid("image")
            .contains("the limit is 512 KiB"));
        // The stored image survived the refused uploads.
        assert_eq!(app.raw("GET", local, None, None).await.bytes, bytes);

        let v = app
            .admin("DELETE", &path, None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(v["image_url"], Value::Null);
        app.raw("GET", local, None, None)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        app.shutdown().await;
    }
);

web_test!(preview_shows_the_assertion_and_every_broken_rule, |app| {
    let a = aws(&app, "AWS").await;
    let g = app.create_group("admins").await;
    let alice = app.create_user("alice@example.com", "alice").await;
    let bob = app.create_user("bob@example.com", "bob").await;
    app.admin(
        "PUT",
        &format!("/api/v1/groups/{}/members/{}", id(&g), id(&alice)),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let p = format!("/api/v1/applications/{}", id(&a));
    app.admin("PUT", &format!("{p}/groups/{}", id(&g)), None)
        .await
        .expect(StatusCode::NO_CONTENT);

    // Bound, but no role yet: the rule that breaks is named.
    let v = app
        .get(&format!("{p}/preview?user=alice"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["decision"], "breaks_aws_rules");
    let rules: Vec<&str> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["aws.role.required"]);

    app.admin("PUT", &format!("{p}/entitlements"), Some(json!([
        {"group_id": id(&g), "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard"}
    ])))
    .await
    .expect(StatusCode::OK);
    let v = app
        .get(&format!("{p}/preview?user=alice@example.com"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["decision"], "issue", "{v}");
    assert_eq!(v["violations"], json!([]));
    assert_eq!(v["content"]["name_id"], "alice@example.com");
    assert_eq!(v["content"]["audience"], "urn:amazon:webservices");
    assert_eq!(
        v["content"]["acs_url"],
        "https://signin.aws.amazon.com/saml"
    );
    assert_eq!(
        v["content"]["attributes"],
        json!({
            "https://aws.amazon.com/SAML/Attributes/Role": ["arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard"],
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName": ["alice@example.com"],
            "https://aws.amazon.com/SAML/Attributes/SessionDuration": ["3600"]
        })
    );

    // Not in a bound group: denied, and the content still shown.
    let v = app
        .get(&format!("{p}/preview?user={}", id(&bob)))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["decision"], "not_authorized");
    assert_eq!(v["content"]["name_id"], "bob@example.com");

    // A value AWS would refuse: the rule, and what AWS would say.
    app.admin("PATCH", &p, Some(json!({"attributes": [
        {"name": "https://aws.amazon.com/SAML/Attributes/RoleSessionName", "source": {"kind": "user_attribute", "value": "session"}}
    ]})))
    .await
    .expect(StatusCode::OK);
    app.admin(
        "PUT",
        &format!("/api/v1/users/{}/attributes", id(&alice)),
        Some(json!({"session": ["alice smith!"]})),
    )
    .await
    .expect(StatusCode::OK);
    let v = app
        .get(&format!("{p}/preview?user=alice"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["decision"], "breaks_aws_rules");
    assert_eq!(v["violations"][0]["rule"], "aws.role_session_name.pattern");
    assert_eq!(
        v["violations"][0]["aws_error"],
        "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
    );

    // Deactivated: says so.
    app.admin("POST", &format!("{p}/deactivate"), None)
        .await
        .expect(StatusCode::OK);
    let v = app
        .get(&format!("{p}/preview?user=alice"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["decision"], "sso_inactive");

    app.get(&format!("{p}/preview?user=nobody"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.get(&format!(
            "{p}/preview?user=alice&acs_url=https://evil.example.com/"
        ))
        .await
        .expect_invalid("acs_url"),
        "is not one of the app's ACS URLs"
    );
    app.shutdown().await;
});

// Every field rule of the SSO tab and the attributes, each with its exact
// message, through the API.
web_test!(every_settings_rule_names_its_field, |app| {
    let a = aws(&app, "AWS").await;
    let path = format!("/api/v1/applications/{}", id(&a));
    let long = "x".repeat(1025);
    let cases: Vec<(Value, &str, String)> = vec![
        (json!({"sso": {"idp_entity_id": " "}}), "sso.idp_entity_id",
         "must be 1-1024 characters without control characters".into()),
        (json!({"sso": {"idp_entity_id": long}}), "sso.idp_entity_id",
         "must be 1-1024 characters without control characters".into()),
        (json!({"sso": {"name_id_format": "a\u{7}b"}}), "sso.name_id_format",
         "must be 1-256 characters without control characters".into()),
        (json!({"sso": {"name_id": {"kind": "attribute", "name": " "}}}), "sso.name_id",
         "name the user attribute that holds the NameID".into()),
        (json!({"sso": {"default_relay_state": "a\nb"}}), "sso.default_relay_state",
         "must be at most 80 KiB without control characters".into()),
        (json!({"sso": {"acs_urls": []}}), "sso.acs_urls",
         "at least one ACS URL is required".into()),
        (json!({"sso": {"acs_urls": [{"url": "http://localhost:1@evil.com/saml", "is_default": true}]}}),
         "sso.acs_urls[0]",
         "must not contain a user name or password (an @ before the host)".into()),
        (json!({"sso": {"name_id_format": "urn:example:custom"}}), "sso.name_id_format",
         "[aws.nameid.format] AWS accepts only these NameID formats: urn:oasis:names:tc:SAML:2.0:nameid-format:persistent, urn:oasis:names:tc:SAML:2.0:nameid-format:transient, urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress, urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified, urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName, urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName, urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos, urn:oasis:names:tc:SAML:2.0:nameid-format:entity".into()),
        (json!({"attributes": [{"name": " ", "source": {"kind": "constant", "value": "v"}}]}),
         "attributes[0].name", "must be 1-256 characters without control characters".into()),
        (json!({"attributes": [{"name": "n", "source": {"kind": "constant", "value": "v".repeat(2049)}}]}),
         "attributes[0].source",
         "constants are at most 2048 characters without control characters".into()),
        (json!({"attributes": [{"name": "n", "source": {"kind": "user_attribute", "value": ""}}]}),
         "attributes[0].source", "name the user attribute".into()),
        (json!({"sp_certificates": ["a", "b", "c", "d", "e"]}), "sp_certificates",
         "at most 4 certificates".into()),
        (json!({"groups_attribute": "a\u{0}"}), "groups_attribute",
         "must be 1-256 characters without control characters (or absent)".into()),
        (json!({"label": "x".repeat(101)}), "label",
         "is required: 1-100 characters without control characters".into()),
    ];
    for (body, field, message) in cases {
        let got = app
            .admin("PATCH", &path, Some(body.clone()))
            .await
            .expect_invalid(field);
        assert_eq!(got, message, "{body}");
    }
    // An active app may not gain a placeholder.
    let msg = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"sso": {"acs_urls": [
            {"url": "https://YOUR_AWS_REGION.signin.aws.amazon.com/saml", "is_default": true}]}})),
        )
        .await
        .expect_invalid("sso.acs_urls[0]");
    assert!(
        msg.starts_with("would hold a template placeholder while SSO is active"),
        "{msg}"
    );
    // Entitlement row limits.
    let g = app.create_group("g").await;
    let ep = format!("{path}/entitlements");
    let row = |label: Value| {
        json!({"group_id": id(&g), "account_id": "123456789012",
        "role_name": "Admin", "provider_name": "Lanyard", "account_label": label})
    };
    assert_eq!(
        app.admin("PUT", &ep, Some(json!([row(json!("x".repeat(101)))])))
            .await
            .expect_invalid("entitlements[0].account_label"),
        "must be at most 100 characters without control characters"
    );
    let many: Vec<Value> = (0..501)
        .map(|i| {
            json!({"group_id": id(&g), "account_id": "123456789012",
        "role_name": format!("R{i}"), "provider_name": "Lanyard"})
        })
        .collect();
    assert_eq!(
        app.admin("PUT", &ep, Some(Value::Array(many)))
            .await
            .expect_invalid("entitlements"),
        "at most 500 rows"
    );
    app.shutdown().await;
});

web_test!(preview_finds_digit_usernames_by_login_first, |app| {
    let a = aws(&app, "AWS").await;
    let first = app.create_user("first@example.com", "first").await;
    // A user whose username is another user's id.
    let digits = app
        .create_user("digits@example.com", &first["id"].to_string())
        .await;
    let v = app
        .get(&format!(
            "/api/v1/applications/{}/preview?user={}",
            id(&a),
            first["id"]
        ))
        .await
        .expect(StatusCode::OK);
    assert_eq!(v["user_id"], digits["id"]);
    app.shutdown().await;
});
