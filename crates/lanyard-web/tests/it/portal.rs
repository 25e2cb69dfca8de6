//! The user portal end to end on every backend: which tiles a user sees,
//! that labels and descriptions render inert, the tile links and images,
//! the suspended page, and the password change.

use axum::http::StatusCode;
use lanyard_core::store::SignInStore;
use lanyard_core::UserId;
use serde_json::json;

use crate::common::browser::{hidden, location, Browser};

const PW: &str = crate::common::USER_PW;

fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(4, 4)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

web_test!(
    root_goes_to_the_portal_and_the_portal_needs_a_session,
    |app| {
        let mut b = Browser::new(&app);
        let r = b.get("/").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/portal");
        for path in ["/portal", "/portal/totp", "/portal/password"] {
            let r = b.get(path).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER);
            assert!(location(&r).starts_with("/login?next=%2Fportal"), "{path}");
        }
        app.shutdown().await;
    }
);

web_test!(
    the_portal_shows_exactly_the_active_shown_bound_apps,
    |app| {
        let ann = app.user("ann").await;
        let group = app.create_group("staff").await["id"].as_i64().unwrap();
        let other = app.create_group("others").await["id"].as_i64().unwrap();
        app.admin(
            "PUT",
            &format!("/api/v1/groups/{group}/members/{ann}"),
            None,
        )
        .await
        .expect(StatusCode::NO_CONTENT);

        let (visible, _) = app.store_app("visible").await;
        let (hidden_app, _) = app.store_app("not-shown").await;
        let (inactive, _) = app.store_app("inactive").await;
        app.store_app("unbound").await;
        let (elsewhere, _) = app.store_app("elsewhere").await;
        let (plain, _) = app.store_app("plain").await;
        for id in [visible, hidden_app, inactive, plain] {
            app.admin(
                "PUT",
                &format!("/api/v1/applications/{id}/groups/{group}"),
                None,
            )
            .await;
        }
        app.admin(
            "PUT",
            &format!("/api/v1/applications/{elsewhere}/groups/{other}"),
            None,
        )
        .await;
        app.admin(
            "PATCH",
            &format!("/api/v1/applications/{hidden_app}"),
            Some(json!({"show_in_portal": false})),
        )
        .await
        .expect(StatusCode::OK);
        app.admin(
            "POST",
            &format!("/api/v1/applications/{inactive}/deactivate"),
            None,
        )
        .await
        .expect(StatusCode::OK);
        app.admin(
            "PATCH",
            &format!("/api/v1/applications/{visible}"),
            Some(json!({
                "label": "<script>alert(\"x\")</script> & 'AWS'",
                "description": "Prod \"console\" <b>bold</b>",
            })),
        )
        .await
        .expect(StatusCode::OK);
        let key = app.admin_key.clone();
        app.upload(
            "PUT",
            &format!("/api/v1/applications/{visible}/image"),
            &key,
            "image/png",
            png(),
        )
        .await
        .expect_bytes(StatusCode::OK);
        let sha = app
            .get(&format!("/api/v1/applications/{visible}"))
            .await
            .expect(StatusCode::OK)["image_url"]
            .as_str()
            .unwrap()
            .rsplit_once("?v=")
            .unwrap()
            .1
            .to_owned();

        let mut b = Browser::new(&app);
        b.sign_in("ann", PW).await;
        let r = b.get("/portal").await;
        assert_eq!(r.status, StatusCode::OK);
        let html = r.text();
        let tiles: Vec<&str> = html.matches("class=\"tile\" href=\"").collect();
        assert_eq!(tiles.len(), 2, "{html}");
        assert!(html.contains("href=\"/saml2/visible\""), "{html}");
        assert!(html.contains("href=\"/saml2/plain\""), "{html}");
        for absent in ["not-shown", "inactive", "unbound", "elsewhere"] {
            assert!(
                !html.contains(&format!("/saml2/{absent}")),
                "{absent}: {html}"
            );
        }
        // Escaped, not markup.
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<b>bold"), "{html}");
        assert!(
            html.contains(
                "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;AWS&#39;"
            ) || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("Prod &#34;console&#34; &#60;b&#62;bold&#60;/b&#62;")
                || html.contains("&lt;b&gt;"),
            "{html}"
        );
        // One image, from our origin, versioned; the plain tile has none.
        assert_eq!(html.matches("<img ").count(), 1, "{html}");
        assert!(
            html.contains(&format!(
                "<img src=\"/app-images/{visible}?v={sha}\" alt=\"\">"
            )),
            "{html}"
        );
        let img = b.get(&format!("/app-images/{visible}?v={sha}")).await;
        assert_eq!(img.status, StatusCode::OK);
        assert_eq!(img.headers["content-type"], "image/png");

        // A user in no group sees no tiles.
        app.user("bob").await;
        let mut c = Browser::new(&app);
        c.sign_in("bob", PW).await;
        let html = c.get("/portal").await.text();
        assert!(!html.contains("class=\"tile\""));
        assert!(html.contains("No applications"));
        app.shutdown().await;
    }
);

web_test!(the_sign_out_button_works_from_the_portal, |app| {
    app.user("ann").await;
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;
    let html = b.get("/portal").await.text();
    assert!(html.contains("action=\"/logout\""));
    let csrf = hidden(&html, "csrf").unwrap();
    let r = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/login");
    assert_eq!(b.get("/portal").await.status, StatusCode::SEE_OTHER);
    app.shutdown().await;
});

web_test!(
    password_change_needs_the_current_password_and_ends_other_sessions,
    |app| {
        let id = app.user("ann").await;
        let mut elsewhere = Browser::new(&app).at_addr([192, 0, 2, 50]);
        elsewhere.sign_in("ann", PW).await;
        let mut b = Browser::new(&app);
        b.sign_in("ann", PW).await;
        let csrf = b.csrf_of("/portal/password").await;
        let new = "a brand new passphrase";

        let r = b
            .post(
                "/portal/password",
                &[
                    ("csrf", "x"),
                    ("current", PW),
                    ("new", new),
                    ("confirm", new),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = b
            .post(
                "/portal/password",
                &[
                    ("csrf", &csrf),
                    ("current", PW),
                    ("new", new),
                    ("confirm", "other"),
                ],
            )
            .await;
        assert!(r.text().contains("do not match"));
        let r = b
            .post(
                "/portal/password",
                &[
                    ("csrf", &csrf),
                    ("current", PW),
                    ("new", "short"),
                    ("confirm", "short"),
                ],
            )
            .await;
        assert!(r.text().contains("between 8 and 256"), "{}", r.text());
        let r = b
            .post(
                "/portal/password",
                &[
                    ("csrf", &csrf),
                    ("current", "not it!!"),
                    ("new", new),
                    ("confirm", new),
                ],
            )
            .await;
        assert!(r.text().contains("The current password is wrong."));
        assert_eq!(
            app.store
                .sign_in_state(UserId(id).into())
                .await
                .unwrap()
                .failures,
            1,
            "counted"
        );

        let r = b
            .post(
                "/portal/password",
                &[
                    ("csrf", &csrf),
                    ("current", PW),
                    ("new", new),
                    ("confirm", new),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("Password changed"));
        assert_eq!(
            app.store
                .sign_in_state(UserId(id).into())
                .await
                .unwrap()
                .failures,
            0
        );
        // This browser carries on with a new session; the other one is out.
        assert_eq!(b.get("/portal").await.status, StatusCode::OK);
        assert_eq!(elsewhere.get("/portal").await.status, StatusCode::SEE_OTHER);
        assert_eq!(
            app.store
                .list_user_sessions(UserId(id))
                .await
                .unwrap()
                .len(),
            1
        );

        let mut c = Browser::new(&app);
        assert!(c
            .sign_in("ann", PW)
            .await
            .text()
            .contains("Wrong email/username or password."));
        assert_eq!(c.sign_in("ann", new).await.status, StatusCode::SEE_OTHER);

        let events = app.audit_events().await;
        let change: Vec<_> = events
            .iter()
            .filter(|e| e.action == "user.password.change")
            .collect();
        assert_eq!(change.len(), 1);
        assert!(
            change[0].summary.contains("\"other_sessions_ended\":1"),
            "{:?}",
            change[0]
        );
        for e in &events {
            assert!(!e.summary.contains(new) && !e.summary.contains(PW), "{e:?}");
        }
        app.shutdown().await;
    }
);

web_test!(suspended_users_see_only_a_suspension_page, |app| {
    let id = app.user("ann").await;
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;
    app.admin("POST", &format!("/api/v1/users/{id}/suspend"), None)
        .await
        .expect(StatusCode::OK);
    // The suspension ended the session.
    let r = b.get("/portal").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A session a suspended user still holds (made in the store, as no door
    // makes one) reaches nothing but the suspension page.
    b.cookies
        .insert("lanyard_session".into(), app.session_for(id).await);
    let csrf = "test-csrf";
    for path in ["/portal", "/portal/totp", "/portal/password"] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().contains("Your account is suspended"));
    }
    let r = b
        .post("/portal/totp", &[("csrf", csrf), ("code", "123456")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let state = app.store.sign_in_state(UserId(id).into()).await.unwrap();
    assert!(state.totp_pending.is_none(), "no enrollment started");
    app.shutdown().await;
});
