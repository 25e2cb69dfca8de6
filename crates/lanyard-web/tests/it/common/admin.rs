//! Admin portal helpers: admin accounts, the sign-in form, and an app
//! created through the portal's own form.

use axum::http::StatusCode;
use serde_json::json;

use super::browser::{hidden, location, Browser};
use super::{Resp, TestApp};

pub const PW: &str = "admin passphrase 1";

pub async fn make_admin(app: &TestApp, email: &str, role: &str) {
    app.admin(
        "POST",
        "/api/v1/admins",
        Some(json!({"email": email, "role": role, "password": PW})),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// `GET /admin/login`, then the form with its CSRF token.
pub async fn admin_sign_in(b: &mut Browser<'_>, email: &str, password: &str) -> Resp {
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
pub async fn signed_in<'a>(app: &'a TestApp, email: &str, role: &str) -> Browser<'a> {
    make_admin(app, email, role).await;
    let mut b = Browser::new(app);
    let r = admin_sign_in(&mut b, email, PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(location(&r), "/admin/applications");
    b
}

/// Creates an app through the portal's form; returns its id.
pub async fn create_app(b: &mut Browser<'_>, label: &str) -> i64 {
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
    // The "Configure Application" button (a banner may link other apps).
    let before = "<a class=\"button\" href=\"/admin/applications/";
    let at = text.find(before).unwrap() + before.len();
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
