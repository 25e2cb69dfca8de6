//! The admin portal's key, SP metadata and image forms, through the real
//! router on every backend: key rotation by clicking (generate, publish,
//! activate, delete; the active key cannot go), key upload with the broken
//! rule named, SP metadata import from a file or pasted (hostile XML
//! refused, nothing changed), the portal image (multipart upload, served
//! back, non-images refused, removal), Copy Metadata URL, read-only admins
//! and CSRF on multipart forms.

use axum::http::StatusCode;

use crate::common;
use crate::common::admin::{create_app, signed_in};
use crate::common::TestApp;

const SP_METADATA: &str = include_str!("../../../lanyard-saml/test_vectors/metadata/sp-ok.xml");
const SP_KEY: &str = include_str!("../../../lanyard-saml/test_vectors/sp-test-only.key.pem");
const SP_CERT: &str = include_str!("../../../lanyard-saml/test_vectors/sp-test-only.crt.pem");
const KEY_1024: &str = include_str!("../fixtures/rsa1024-test-only.key.pem");
const CERT_1024: &str = include_str!("../fixtures/rsa1024-test-only.crt.pem");

/// The app's keys as the REST API lists them: (id, active, subject).
async fn keys(app: &TestApp, id: i64) -> Vec<(i64, bool, String)> {
    app.admin("GET", &format!("/api/v1/applications/{id}/keys"), None)
        .await
        .expect(StatusCode::OK)
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_i64().unwrap(),
                k["active"].as_bool().unwrap(),
                k["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn see_other_to(r: &common::Resp, want: &str) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(common::browser::location(r), want);
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(w, h)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

web_test!(
    keys_rotate_by_clicking_and_the_signing_key_cannot_be_deleted,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Rotate").await;
        let sso = format!("/admin/applications/{id}?tab=sso");
        let page = b.get(&sso).await.text();
        assert!(page.contains("Regenerate Key"), "{page}");
        assert!(page.contains("days left"), "{page}");
        let first = keys(&app, id).await;
        assert_eq!(first.len(), 1);
        let old = first[0].0;

        // Generate: published, not signing yet.
        let csrf = b.csrf_of(&sso).await;
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys"),
                &[
                    ("csrf", &csrf),
                    ("source", "generate"),
                    ("validity_days", "30"),
                ],
            )
            .await;
        see_other_to(
            &r,
            &format!("/admin/applications/{id}?tab=sso&saved=key_added"),
        );
        let now = keys(&app, id).await;
        assert_eq!(now.len(), 2);
        let new = now.iter().find(|k| k.0 != old).unwrap().0;
        assert!(now.iter().any(|k| k.0 == old && k.1), "{now:?}");
        let md = b
            .get(&format!("/admin/applications/{id}/metadata"))
            .await
            .text();
        assert_eq!(md.matches("<ds:X509Certificate>").count(), 2, "{md}");
        let page = b.get(&format!("{sso}&saved=key_added")).await.text();
        assert!(
            page.contains("New signing key published in the metadata"),
            "{page}"
        );
        assert!(
            page.contains("29 days left") || page.contains("30 days left"),
            "{page}"
        );

        // Validity that is not a number, or out of range: the rule named.
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys"),
                &[
                    ("csrf", &csrf),
                    ("source", "generate"),
                    ("validity_days", "ten"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text().contains("must be a whole number of days"),
            "{}",
            r.text()
        );
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys"),
                &[
                    ("csrf", &csrf),
                    ("source", "generate"),
                    ("validity_days", "0"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("must be between 1 and"), "{}", r.text());
        assert_eq!(keys(&app, id).await.len(), 2);

        // The signing key cannot be deleted.
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys/{old}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text()
                .contains("the active signing key cannot be deleted: activate another key first"),
            "{}",
            r.text()
        );

        // Activate the new one, then the old one can go.
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys/{new}/activate"),
                &[("csrf", &csrf)],
            )
            .await;
        see_other_to(
            &r,
            &format!("/admin/applications/{id}?tab=sso&saved=key_activated"),
        );
        assert!(keys(&app, id).await.iter().any(|k| k.0 == new && k.1));
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys/{old}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        see_other_to(
            &r,
            &format!("/admin/applications/{id}?tab=sso&saved=key_deleted"),
        );
        assert_eq!(
            keys(&app, id).await.iter().map(|k| k.0).collect::<Vec<_>>(),
            [new]
        );
        // A key id that is not a number, or another app's: 404, nothing done.
        let r = b
            .post(
                &format!("/admin/applications/{id}/keys/x/activate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let other = create_app(&mut b, "Other").await;
        let r = b
            .post(
                &format!("/admin/applications/{other}/keys/{new}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
        assert_eq!(keys(&app, id).await.len(), 1);

        let actions: Vec<String> = app
            .audit_events()
            .await
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("application.key_"))
            .collect();
        assert_eq!(
            actions,
            [
                "application.key_add",
                "application.key_activate",
                "application.key_delete"
            ]
        );
        app.shutdown().await;
    }
);

web_test!(uploaded_keys_must_match_and_be_large_enough, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let id = create_app(&mut b, "Upload").await;
    let sso = format!("/admin/applications/{id}?tab=sso");
    let csrf = b.csrf_of(&sso).await;
    let path = format!("/admin/applications/{id}/keys");
    let fields = [
        ("csrf", csrf.as_str()),
        ("source", "upload"),
        ("activate", "1"),
    ];

    // 1024 bits: refused, the rule named.
    let r = b
        .post_multipart(
            &path,
            &fields,
            &[
                ("private_key_file", "k.pem", KEY_1024.as_bytes()),
                ("certificate_file", "c.pem", CERT_1024.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("is a 1024-bit key; at least 2048 bits are required"),
        "{}",
        r.text()
    );
    // A certificate of another key.
    let r = b
        .post_multipart(
            &path,
            &[
                fields[0],
                fields[1],
                ("private_key_pem", SP_KEY),
                ("certificate_pem", CERT_1024),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("does not match the private key"),
        "{}",
        r.text()
    );
    // Half a pair.
    let r = b
        .post_multipart(
            &path,
            &[fields[0], fields[1], ("private_key_pem", SP_KEY)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("Certificate is required"), "{}", r.text());
    assert_eq!(keys(&app, id).await.len(), 1);

    // The pair as files, made the signing key at once.
    let r = b
        .post_multipart(
            &path,
            &fields,
            &[
                ("private_key_file", "sp.key", SP_KEY.as_bytes()),
                ("certificate_file", "sp.crt", SP_CERT.as_bytes()),
            ],
        )
        .await;
    see_other_to(
        &r,
        &format!("/admin/applications/{id}?tab=sso&saved=key_rotated"),
    );
    let now = keys(&app, id).await;
    assert_eq!(now.len(), 2);
    let signing = now.iter().find(|k| k.1).unwrap();
    let want = lanyard_saml::keys::Certificate::from_pem(SP_CERT).unwrap();
    assert_eq!(signing.2, want.subject());
    // The page shows the certificate, never the key.
    let page = b.get(&sso).await.text();
    assert!(page.contains(&want.sha256_fingerprint()), "{page}");
    app.shutdown().await;
});

web_test!(
    sp_metadata_imports_from_a_file_or_pasted_and_hostile_xml_changes_nothing,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Wiki").await;
        let sso = format!("/admin/applications/{id}?tab=sso");
        let csrf = b.csrf_of(&sso).await;
        let path = format!("/admin/applications/{id}/sp-metadata");
        let before = app
            .admin("GET", &format!("/api/v1/applications/{id}"), None)
            .await
            .expect(StatusCode::OK);

        let hostile = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"&e;\"/>";
        let r = b
            .post_multipart(
                &path,
                &[("csrf", &csrf)],
                &[("sp_metadata_file", "evil.xml", hostile.as_bytes())],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text().contains("is not usable SP metadata"),
            "{}",
            r.text()
        );
        assert!(!r.text().contains("root:"), "{}", r.text());
        let r = b.post_multipart(&path, &[("csrf", &csrf)], &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("is empty: choose the SP"), "{}", r.text());
        let unchanged = app
            .admin("GET", &format!("/api/v1/applications/{id}"), None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(before["sso"], unchanged["sso"]);

        // The AWS app keeps AWS's rules: a non-AWS SP's metadata breaks them,
        // and the page says which.
        let r = b
            .post_multipart(&path, &[("csrf", &csrf), ("sp_metadata", SP_METADATA)], &[])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("[aws."), "{}", r.text());

        // A custom SAML app takes it, pasted or as a file.
        let r = app
            .admin(
                "POST",
                "/api/v1/applications",
                Some(
                    serde_json::json!({"template": "custom-saml", "label": "Custom", "sso": {
                        "sp_entity_id": "urn:before-import",
                        "acs_urls": [{"url": "https://before.example/acs", "is_default": true}]
                    }}),
                ),
            )
            .await
            .expect(StatusCode::CREATED);
        let custom = r["id"].as_i64().unwrap();
        let r = b
            .post_multipart(
                &format!("/admin/applications/{custom}/sp-metadata"),
                &[("csrf", &csrf)],
                &[("sp_metadata_file", "sp.xml", SP_METADATA.as_bytes())],
            )
            .await;
        see_other_to(
            &r,
            &format!("/admin/applications/{custom}?tab=sso&saved=metadata_imported"),
        );
        let md = lanyard_saml::metadata::SpMetadata::parse(SP_METADATA).unwrap();
        let got = app
            .admin("GET", &format!("/api/v1/applications/{custom}"), None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(got["sso"]["sp_entity_id"], md.entity_id.as_str());
        let page = b
            .get(&format!(
                "/admin/applications/{custom}?tab=sso&saved=metadata_imported"
            ))
            .await
            .text();
        assert!(page.contains("SP metadata imported"), "{page}");
        assert!(page.contains(&md.entity_id), "{page}");
        app.shutdown().await;
    }
);

web_test!(
    the_portal_image_uploads_with_multipart_and_only_images_are_kept,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut b, "Pictured").await;
        let general = format!("/admin/applications/{id}?tab=general");
        let page = b.get(&general).await.text();
        assert!(page.contains("No image yet"), "{page}");
        assert!(page.contains("data-preview=\"image-preview\""), "{page}");
        let csrf = b.csrf_of(&general).await;
        let path = format!("/admin/applications/{id}/image");

        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        let r = b
            .post_multipart(&path, &[("csrf", &csrf)], &[("image", "x.png", svg)])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text().contains("Image is not a PNG, JPEG or WebP"),
            "{}",
            r.text()
        );
        let r = b.post_multipart(&path, &[("csrf", &csrf)], &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("no file was chosen"), "{}", r.text());

        let bytes = png(8, 8);
        let r = b
            .post_multipart(&path, &[("csrf", &csrf)], &[("image", "logo.png", &bytes)])
            .await;
        see_other_to(
            &r,
            &format!("/admin/applications/{id}?tab=general&saved=image_set"),
        );
        let page = b.get(&general).await.text();
        let src = format!("/app-images/{id}?v=");
        assert!(page.contains(&src), "{page}");
        let served = app.get(&format!("/app-images/{id}")).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.bytes[..], bytes[..]);

        let r = b.post(&format!("{path}/delete"), &[("csrf", &csrf)]).await;
        see_other_to(
            &r,
            &format!("/admin/applications/{id}?tab=general&saved=image_removed"),
        );
        assert_eq!(
            app.get(&format!("/app-images/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
        app.shutdown().await;
    }
);

web_test!(
    copy_metadata_url_read_only_admins_and_csrf_on_multipart_forms,
    |app| {
        let mut admin = signed_in(&app, "root@example.com", "administrator").await;
        let id = create_app(&mut admin, "Shared").await;
        let sso = format!("/admin/applications/{id}?tab=sso");
        let page = admin.get(&sso).await.text();
        let url = "value=\"http://127.0.0.1:8080/saml2/shared/metadata\" readonly";
        assert!(page.contains(url), "{page}");
        assert!(
            page.contains("data-copy=\"metadata-url\">Copy Metadata URL</button>"),
            "{page}"
        );
        let js = app.get("/static/admin.js").await;
        assert_eq!(js.status, StatusCode::OK);
        assert!(js.text().contains("navigator.clipboard.writeText"));

        // A multipart form without the session's token: refused first.
        let bytes = png(4, 4);
        let r = admin
            .post_multipart(
                &format!("/admin/applications/{id}/image"),
                &[("csrf", "forged")],
                &[("image", "a.png", &bytes)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("This form has expired"), "{}", r.text());

        // A read-only admin sees the certificates but no key or upload form,
        // and the server refuses the POSTs.
        let mut reader = signed_in(&app, "ro@example.com", "read_only").await;
        let page = reader.get(&sso).await.text();
        assert!(page.contains("Signing certificates"), "{page}");
        for absent in [
            "Regenerate Key",
            "Upload Key",
            "Import Metadata",
            "Make signing key",
        ] {
            assert!(!page.contains(absent), "{absent}: {page}");
        }
        let page = reader
            .get(&format!("/admin/applications/{id}?tab=general"))
            .await
            .text();
        assert!(!page.contains("Upload Image"), "{page}");
        let csrf = reader.csrf_of(&sso).await;
        let r = reader
            .post(
                &format!("/admin/applications/{id}/keys"),
                &[("csrf", &csrf), ("source", "generate")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = reader
            .post_multipart(
                &format!("/admin/applications/{id}/image"),
                &[("csrf", &csrf)],
                &[("image", "a.png", &bytes)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r
            .text()
            .contains("which can see everything and change nothing"));
        assert_eq!(keys(&app, id).await.len(), 1);
        app.shutdown().await;
    }
);

web_test!(
    a_new_application_takes_its_image_and_a_bad_one_creates_nothing,
    |app| {
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let form = b
            .get("/admin/applications/new?template=aws-iam")
            .await
            .text();
        assert!(form.contains("enctype=\"multipart/form-data\""), "{form}");
        assert!(form.contains("data-preview=\"image-preview\""), "{form}");
        let csrf = b.csrf_of("/admin/applications/new?template=aws-iam").await;
        let fields = [
            ("csrf", csrf.as_str()),
            ("template", "aws-iam"),
            ("label", "With Image"),
            ("show_in_portal", "1"),
        ];
        let r = b
            .post_multipart(
                "/admin/applications/new",
                &fields,
                &[("image", "logo.gif", b"GIF89a not really".as_slice())],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("Image is"), "{}", r.text());
        let listed = app
            .admin("GET", "/api/v1/applications", None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");

        let bytes = png(6, 6);
        let r = b
            .post_multipart(
                "/admin/applications/new",
                &fields,
                &[("image", "logo.png", &bytes)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("Configure Application"), "{}", r.text());
        let listed = app
            .admin("GET", "/api/v1/applications", None)
            .await
            .expect(StatusCode::OK);
        let id = listed["items"][0]["id"].as_i64().unwrap();
        let served = app.get(&format!("/app-images/{id}")).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.bytes[..], bytes[..]);
        app.shutdown().await;
    }
);
