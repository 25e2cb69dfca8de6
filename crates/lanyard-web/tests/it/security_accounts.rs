//! Accounts an attacker cannot walk into or lock out, through the doors:
//! the sign-in pages' answers to a throttled address and a locked account,
//! admins' second factor and required enrollment, the last active
//! administrator in the API and the pages, expired API keys, and password
//! rules. On SQLite and PostgreSQL; each failed on the code before them.

use axum::http::StatusCode;
use lanyard_core::session::Account;
use lanyard_core::store::{AdminStore, SignInStore};
use serde_json::{json, Value};
use time::Duration;
use totp_rs::{Algorithm, Builder, Secret};

use crate::common::admin::{admin_sign_in, make_admin, signed_in, PW};
use crate::common::browser::{hidden, location, Browser};
use crate::common::{settings, TestApp};

/// The code an authenticator app shows for `secret` at `app`'s now.
fn code(app: &TestApp, secret: &str) -> String {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(app.clock_now().unix_timestamp() as u64)
        .to_string()
}

/// The id of the admin with `email`.
async fn admin_id(app: &TestApp, email: &str) -> i64 {
    let list = app
        .admin("GET", "/api/v1/admins", None)
        .await
        .expect(StatusCode::OK);
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

web_test!(an_address_that_fails_three_times_gets_429, |app| {
    app.user("ann").await;
    let mut stranger = Browser::new(&app).at_addr([203, 0, 113, 5]);
    for _ in 0..3 {
        let r = stranger.sign_in("ann", "a wrong guess").await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("Wrong email/username or password."));
    }
    let r = stranger.sign_in("ann", crate::common::USER_PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(
        r.text().contains("Too many failed sign-ins for this account came from your address. Try again in 15 minutes."),
        "{}",
        r.text()
    );
    assert_eq!(r.headers["retry-after"], "900");
    // Ann, elsewhere, is not locked out.
    let mut ann = Browser::new(&app).at_addr([192, 0, 2, 44]);
    let r = ann.sign_in("ann", crate::common::USER_PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    app.shutdown().await;
});

web_test!(a_locked_account_says_until_when_and_the_api_agrees, |app| {
    let id = app.user("ann").await;
    for i in 0..5u8 {
        let mut b = Browser::new(&app).at_addr([198, 51, 100, i + 1]);
        b.sign_in("ann", "a wrong guess").await;
    }
    let mut b = Browser::new(&app).at_addr([198, 51, 100, 99]);
    let r = b.sign_in("ann", crate::common::USER_PW).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .contains("locked after too many failed sign-ins until 2025-03-01 12:15 UTC"),
        "{}",
        r.text()
    );
    let state = app
        .admin("GET", &format!("/api/v1/users/{id}/sign-in"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(state["locked"], true);
    assert_eq!(state["locked_until"], "2025-03-01T12:15:00Z");
    assert_eq!(state["failures"], 0, "a lock starts a new count");
    // The lock ends by itself.
    app.clock.advance(Duration::minutes(15));
    let r = b.sign_in("ann", crate::common::USER_PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    app.shutdown().await;
});

web_test!(admins_are_locked_and_unlocked_through_every_door, |app| {
    make_admin(&app, "ops@example.com", "administrator").await;
    let id = admin_id(&app, "ops@example.com").await;
    for i in 0..5u8 {
        let mut b = Browser::new(&app).at_addr([198, 51, 100, i + 1]);
        let r = admin_sign_in(&mut b, "ops@example.com", "a wrong guess").await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let mut b = Browser::new(&app).at_addr([198, 51, 100, 99]);
    let r = admin_sign_in(&mut b, "ops@example.com", PW).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "twelve wrong, then right, must not sign in"
    );
    assert!(
        r.text().contains("until 2025-03-01 12:15 UTC"),
        "{}",
        r.text()
    );
    let view = app
        .admin("GET", &format!("/api/v1/admins/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(view["locked_until"], "2025-03-01T12:15:00Z");
    let after = app
        .admin("POST", &format!("/api/v1/admins/{id}/unlock"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(after["locked_until"], Value::Null);
    let r = admin_sign_in(&mut b, "ops@example.com", PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    app.shutdown().await;
});

web_test!(an_admin_with_totp_passes_the_code_step, |app| {
    make_admin(&app, "ops@example.com", "administrator").await;
    let id = admin_id(&app, "ops@example.com").await;
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let account = Account::Admin(lanyard_core::AdminId(id));
    app.store
        .set_totp_pending(account, Some(secret))
        .await
        .unwrap();
    assert!(app.store.confirm_totp(account, secret, 0).await.unwrap());

    let mut b = Browser::new(&app);
    let r = admin_sign_in(&mut b, "ops@example.com", PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        "/admin/login/totp?next=%2Fadmin%2Fapplications"
    );
    // The password alone reaches no admin page.
    let r = b.get("/admin/users").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/admin/login"), "{}", location(&r));
    let page = b.get("/admin/login/totp").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden(&page.text(), "csrf").unwrap();
    let r = b
        .post(
            "/admin/login/totp",
            &[
                ("csrf", &csrf),
                ("code", "000000"),
                ("next", "/admin/users"),
            ],
        )
        .await;
    assert!(r.text().contains("Wrong code"), "{}", r.text());
    let r = b
        .post(
            "/admin/login/totp",
            &[
                ("csrf", &csrf),
                ("code", &code(&app, secret)),
                ("next", "/admin/users"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(location(&r), "/admin/users");
    assert_eq!(b.get("/admin/users").await.status, StatusCode::OK);
    let view = app
        .admin("GET", &format!("/api/v1/admins/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(view["second_factor"], true);
    app.shutdown().await;
});

web_test!(
    a_required_second_factor_is_set_up_before_anything_else,
    |app| {
        make_admin(&app, "ops@example.com", "administrator").await;
        let mut required = settings();
        required.auth.require_admin_second_factor = true;
        let node = app.another_node_with(required);
        let mut b = Browser::new(&node);
        let r = admin_sign_in(&mut b, "ops@example.com", PW).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/admin/enroll?next=%2Fadmin%2Fapplications");
        for path in ["/admin/applications", "/admin/account", "/admin/admins"] {
            let r = b.get(path).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
            assert!(location(&r).starts_with("/admin/login"), "{path}");
        }
        let page = b.get("/admin/enroll").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let text = page.text();
        let start = text.find("Key: <code>").unwrap() + "Key: <code>".len();
        let secret = text[start..start + 32].to_owned();
        let csrf = hidden(&text, "csrf").unwrap();
        let r = b
            .post(
                "/admin/enroll",
                &[
                    ("csrf", &csrf),
                    ("code", &code(&node, &secret)),
                    ("next", "/admin/account"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(location(&r), "/admin/account");
        let account = b.get("/admin/account").await;
        assert_eq!(account.status, StatusCode::OK);
        assert!(
            account.text().contains("password+totp"),
            "the session says how"
        );
        node.shutdown().await;
        app.shutdown().await;
    }
);

web_test!(the_last_active_administrator_cannot_be_removed, |app| {
    // The test app's admin key is an API key: the admins table starts
    // with the one below.
    make_admin(&app, "ops@example.com", "administrator").await;
    let id = admin_id(&app, "ops@example.com").await;
    let message =
        "this is the last active administrator: make another admin an administrator first";
    for (method, body) in [
        ("DELETE", None),
        ("PATCH", Some(json!({"role": "read_only"}))),
        ("PATCH", Some(json!({"disabled": true}))),
    ] {
        let r = app
            .admin(method, &format!("/api/v1/admins/{id}"), body)
            .await;
        let err = r.expect_error(StatusCode::CONFLICT, "refused");
        assert_eq!(err["message"], message);
    }
    // The page says so too.
    let mut b = signed_in(&app, "second@example.com", "administrator").await;
    let second = admin_id(&app, "second@example.com").await;
    app.admin("DELETE", &format!("/api/v1/admins/{id}"), None)
        .await
        .expect_bytes(StatusCode::NO_CONTENT);
    let csrf = b.csrf_of("/admin/admins").await;
    let r = b
        .post(
            &format!("/admin/admins/{second}/role"),
            &[("csrf", &csrf), ("role", "read_only")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(
        r.text().contains("This is the last active administrator"),
        "{}",
        r.text()
    );
    let me = app
        .store
        .get_admin(lanyard_core::AdminId(second))
        .await
        .unwrap();
    assert!(me.is_active_administrator());
    app.shutdown().await;
});

web_test!(admins_are_managed_in_the_portal, |app| {
    let mut b = signed_in(&app, "root@example.com", "administrator").await;
    let csrf = b.csrf_of("/admin/admins").await;
    let r = b
        .post(
            "/admin/admins",
            &[
                ("csrf", &csrf),
                ("email", "new@example.com"),
                ("role", "read_only"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .contains("Password must be between 12 and 256 characters"),
        "{}",
        r.text()
    );
    let r = b
        .post(
            "/admin/admins",
            &[
                ("csrf", &csrf),
                ("email", "new@example.com"),
                ("role", "read_only"),
                ("password", "qwertyuiop123"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("is too easy to guess"), "{}", r.text());
    let r = b
        .post(
            "/admin/admins",
            &[
                ("csrf", &csrf),
                ("email", "new@example.com"),
                ("role", "read_only"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let new = admin_id(&app, "new@example.com").await;
    let mut nb = Browser::new(&app).at_addr([192, 0, 2, 80]);
    assert_eq!(
        admin_sign_in(&mut nb, "new@example.com", PW).await.status,
        StatusCode::SEE_OTHER
    );
    for (action, check) in [("role", "administrator"), ("disable", "disabled")] {
        let fields: Vec<(&str, &str)> = if action == "role" {
            vec![("csrf", &csrf), ("role", "administrator")]
        } else {
            vec![("csrf", &csrf)]
        };
        let r = b
            .post(&format!("/admin/admins/{new}/{action}"), &fields)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{action}: {}", r.text());
        let view = app
            .admin("GET", &format!("/api/v1/admins/{new}"), None)
            .await
            .expect(StatusCode::OK);
        match check {
            "administrator" => assert_eq!(view["role"], "administrator"),
            _ => assert_eq!(view["disabled"], true),
        }
    }
    // Disabled: the session it had ends, and its sign-in is refused.
    let r = nb.get("/admin/applications").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = admin_sign_in(&mut nb, "new@example.com", PW).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text().contains("This admin account is disabled"),
        "{}",
        r.text()
    );
    let r = b
        .post(&format!("/admin/admins/{new}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    app.admin("GET", &format!("/api/v1/admins/{new}"), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    let actions: Vec<String> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.target == format!("admin:{new}"))
        .map(|e| e.action)
        .collect();
    for expected in ["admin.create", "admin.update", "admin.delete"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
    app.shutdown().await;
});

web_test!(
    an_admin_changes_their_own_password_and_ends_sessions,
    |app| {
        let mut b = signed_in(&app, "ops@example.com", "read_only").await;
        let mut other = Browser::new(&app).at_addr([192, 0, 2, 90]);
        admin_sign_in(&mut other, "ops@example.com", PW).await;
        assert_eq!(other.get("/admin/users").await.status, StatusCode::OK);
        let csrf = b.csrf_of("/admin/account").await;
        let new_pw = "a brand new passphrase";
        let r = b
            .post(
                "/admin/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", "not it"),
                    ("new", new_pw),
                    ("confirm", new_pw),
                ],
            )
            .await;
        assert!(
            r.text().contains("The current password is wrong."),
            "{}",
            r.text()
        );
        let r = b
            .post(
                "/admin/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", PW),
                    ("new", new_pw),
                    ("confirm", new_pw),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("Password changed"));
        // This browser goes on under its new session; the other one is out.
        assert_eq!(b.get("/admin/account").await.status, StatusCode::OK);
        assert_eq!(
            other.get("/admin/users").await.status,
            StatusCode::SEE_OTHER
        );
        let mut again = Browser::new(&app).at_addr([192, 0, 2, 91]);
        assert_eq!(
            admin_sign_in(&mut again, "ops@example.com", new_pw)
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        // Sign out everywhere else.
        let csrf = b.csrf_of("/admin/account").await;
        let r = b
            .post("/admin/account/sessions/revoke-others", &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            again.get("/admin/users").await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(b.get("/admin/users").await.status, StatusCode::OK);
        app.shutdown().await;
    }
);

web_test!(an_expired_api_key_gets_401_saying_so, |app| {
    let created = app
        .admin(
            "POST",
            "/api/v1/api-keys",
            Some(json!({"name": "ci", "role": "read_only", "expires_at": "2025-03-02T12:00:00Z"})),
        )
        .await
        .expect(StatusCode::CREATED);
    assert!(created["key"]["created_by"]
        .as_str()
        .unwrap()
        .starts_with("apikey:admin#"));
    assert_eq!(created["key"]["expires_at"], "2025-03-02T12:00:00Z");
    let secret = created["secret"].as_str().unwrap().to_owned();
    app.call("GET", "/api/v1/users", &secret, None)
        .await
        .expect(StatusCode::OK);
    app.clock.advance(Duration::days(1));
    let r = app.call("GET", "/api/v1/users", &secret, None).await;
    let err = r.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(err["message"], "this API key has expired: create a new one");
    let r = app
        .admin(
            "POST",
            "/api/v1/api-keys",
            Some(json!({"name": "old", "role": "read_only", "expires_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.expect_invalid("expires_at"), "must be in the future");
    app.shutdown().await;
});
