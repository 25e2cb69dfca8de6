//! Sessions that end when they must, cookies nobody can plant, security
//! events never lost: each test plays the attacker against the whole app,
//! on SQLite and PostgreSQL, and failed on the code before these rules.

use axum::http::StatusCode;
use lanyard_core::store::SignInStore;
use lanyard_core::{BaseUrl, UserId};
use serde_json::json;
use time::Duration;
use totp_rs::{Algorithm, Builder, Secret};

use crate::common::browser::{hidden, location, Browser};
use crate::common::{settings, TestApp};

const PW: &str = crate::common::USER_PW;

/// Whether `b`'s session still signs it in (on `b`'s node).
async fn signed_in(b: &mut Browser<'_>) -> bool {
    let r = b.get("/portal").await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert!(location(&r).starts_with("/login"), "{}", location(&r));
            false
        }
        other => panic!("/portal answered {other}: {}", r.text()),
    }
}

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

// A session opened before an admin's action must not outlive it, on any
// node: suspending (and unsuspending), setting the password, resetting the
// second factor, deleting the user.
web_test!(
    an_admins_action_ends_every_session_of_the_user_on_every_node,
    |app| {
        let other = app.another_node();
        for (step, action) in ["suspend", "password", "totp", "delete"].iter().enumerate() {
            let name = format!("u{step}");
            let id = app.user(&name).await;
            let mut here = Browser::new(&app);
            here.sign_in(&name, PW).await;
            let mut there = Browser::new(&other);
            there.sign_in(&name, PW).await;
            assert!(signed_in(&mut here).await && signed_in(&mut there).await);
            match *action {
                "suspend" => {
                    app.admin("POST", &format!("/api/v1/users/{id}/suspend"), None)
                        .await
                        .expect(StatusCode::OK);
                    // Unsuspending must not bring the old sessions back.
                    app.admin("POST", &format!("/api/v1/users/{id}/unsuspend"), None)
                        .await
                        .expect(StatusCode::OK);
                }
                "password" => {
                    app.admin(
                        "PUT",
                        &format!("/api/v1/users/{id}/password"),
                        Some(json!({"password": "a new long password"})),
                    )
                    .await;
                }
                "totp" => {
                    app.admin("DELETE", &format!("/api/v1/users/{id}/totp"), None)
                        .await
                        .expect(StatusCode::OK);
                }
                _ => {
                    app.admin("DELETE", &format!("/api/v1/users/{id}"), None)
                        .await;
                }
            }
            assert!(!signed_in(&mut here).await, "{action}: this node");
            assert!(!signed_in(&mut there).await, "{action}: the other node");
            if *action != "delete" {
                let left = app.store.list_user_sessions(UserId(id)).await.unwrap();
                assert!(left.is_empty(), "{action}: {left:?}");
            }
        }
        other.shutdown().await;
        app.shutdown().await;
    }
);

// The token handed out after the password alone stops working when the
// second factor completes; the session records how and when; `next=` is
// still followed.
web_test!(the_second_factor_replaces_the_password_only_token, |app| {
    let id = app.user("ann").await;
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    app.store
        .set_totp_pending(UserId(id).into(), Some(secret))
        .await
        .unwrap();
    app.store
        .confirm_totp(UserId(id).into(), secret, 0)
        .await
        .unwrap();

    let mut b = Browser::new(&app);
    let r = b.sign_in_to("ann", PW, "/portal/password").await;
    assert!(
        location(&r).starts_with("/login/totp?next="),
        "{}",
        location(&r)
    );
    let half = b.cookie("lanyard_session").unwrap().to_owned();
    app.clock.advance(Duration::seconds(40));
    let form = b.get(location(&r)).await.text();
    let csrf = hidden(&form, "csrf").unwrap();
    let r = b
        .post(
            "/login/totp",
            &[
                ("csrf", &csrf),
                ("code", &code(&app, secret)),
                ("next", "/portal/password"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/portal/password", "next= is followed");
    let full = b.cookie("lanyard_session").unwrap().to_owned();
    assert_ne!(full, half, "a new token after the second factor");
    assert_eq!(b.get("/portal/password").await.status, StatusCode::OK);

    // An attacker who saw the password-only token gets nothing with it.
    let mut thief = Browser::new(&app);
    thief.cookies.insert("lanyard_session".into(), half);
    assert!(!signed_in(&mut thief).await);
    let r = thief.get("/login/totp").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "no half-done session left");

    let sessions = app.store.list_user_sessions(UserId(id)).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.methods, lanyard_core::session::AuthMethods::PasswordTotp);
    assert_eq!(s.authenticated_at, app.clock_now());
    assert!(s.authenticated_at > s.created_at);
    app.shutdown().await;
});

// Turning the second factor on or off with a session signed in long ago
// asks for the password again first.
web_test!(changing_the_second_factor_wants_a_recent_password, |app| {
    let id = app.user("ann").await;
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;
    app.clock.advance(Duration::minutes(6));

    // Enrolling: the page asks for the password instead of showing a secret.
    let page = b.get("/portal/totp").await.text();
    assert!(page.contains("Confirm your password"), "{page}");
    assert!(!page.contains("Setup link"), "{page}");
    let state = app.store.sign_in_state(UserId(id).into()).await.unwrap();
    assert!(state.totp_pending.is_none(), "no secret was made");
    let csrf = hidden(&page, "csrf").unwrap();
    let r = b
        .post(
            "/portal/reauth",
            &[
                ("csrf", &csrf),
                ("password", "not it at all"),
                ("next", "/portal/totp"),
            ],
        )
        .await;
    assert!(r.text().contains("The password is wrong."), "{}", r.text());
    let r = b
        .post(
            "/portal/reauth",
            &[("csrf", &csrf), ("password", PW), ("next", "/portal/totp")],
        )
        .await;
    assert_eq!(location(&r), "/portal/totp");
    let page = b.get("/portal/totp").await.text();
    assert!(page.contains("Setup link"), "{page}");
    let secret = app
        .store
        .sign_in_state(UserId(id).into())
        .await
        .unwrap()
        .totp_pending
        .unwrap();
    let r = b
        .post(
            "/portal/totp",
            &[("csrf", &csrf), ("code", &code(&app, &secret))],
        )
        .await;
    assert!(r.text().contains("Two-step sign-in is on"), "{}", r.text());

    // Removing, six minutes later: the password again, then a current code.
    app.clock.advance(Duration::minutes(6));
    let r = b
        .post(
            "/portal/totp/remove",
            &[("csrf", &csrf), ("code", &code(&app, &secret))],
        )
        .await;
    assert_eq!(location(&r), "/portal/totp");
    assert!(app
        .store
        .sign_in_state(UserId(id).into())
        .await
        .unwrap()
        .totp_enabled());
    let page = b.get("/portal/totp").await.text();
    assert!(page.contains("Confirm your password"), "{page}");
    b.post(
        "/portal/reauth",
        &[("csrf", &csrf), ("password", PW), ("next", "/portal/totp")],
    )
    .await;
    let r = b
        .post(
            "/portal/totp/remove",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert!(r.text().contains("Wrong code"), "{}", r.text());
    app.clock.advance(Duration::seconds(30));
    let r = b
        .post(
            "/portal/totp/remove",
            &[("csrf", &csrf), ("code", &code(&app, &secret))],
        )
        .await;
    assert!(r.text().contains("Two-step sign-in is off"), "{}", r.text());
    assert!(!app
        .store
        .sign_in_state(UserId(id).into())
        .await
        .unwrap()
        .totp_enabled());
    // (Changes are written at once, re-authentications in a batch: sorted.)
    let mut actions: Vec<String> = app
        .audit_events()
        .await
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("user.totp") || a == "user.reauthenticate")
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "user.reauthenticate",
            "user.reauthenticate",
            "user.totp.enroll",
            "user.totp.remove"
        ]
    );
    app.shutdown().await;
});

// A cookie planted beside the real one (a sibling subdomain can set one
// for the parent domain) is never served: the request is refused. On
// https every cookie is `__Host-`, which a sibling cannot set at all.
web_test!(
    planted_cookies_are_refused_and_https_cookies_are_host_only,
    |app| {
        app.user("ann").await;
        let mut b = Browser::new(&app);
        b.sign_in("ann", PW).await;
        let real = b.cookie("lanyard_session").unwrap().to_owned();
        let planted = "0".repeat(64);
        for cookie in [
            format!("lanyard_session={planted}; lanyard_session={real}"),
            format!("lanyard_session={real}; lanyard_session={planted}"),
            format!("lanyard_admin={planted}; lanyard_admin={real}"),
        ] {
            let req = axum::http::Request::builder()
                .uri("/portal")
                .header("cookie", cookie.as_str())
                .body(axum::body::Body::empty())
                .unwrap();
            let r = app.send(req).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{cookie}");
            assert!(r.text().contains("Conflicting cookies"), "{}", r.text());
        }

        let mut https = settings();
        https.base_url = BaseUrl::parse("https://idp.example.com").unwrap();
        let secure = app.another_node_with(https);
        let mut s = Browser::new(&secure);
        s.origin = Some("https://idp.example.com".into());
        let login = s.get("/login").await;
        let set = login.headers["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.starts_with("__Host-lanyard_csrf="), "{set}");
        let r = s.sign_in("ann", PW).await;
        let set: Vec<&str> = r
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(set.len(), 1, "{set:?}");
        assert!(set[0].starts_with("__Host-lanyard_session="), "{set:?}");
        assert!(
            set[0].contains("; Path=/;") && set[0].ends_with("; Secure"),
            "{set:?}"
        );
        assert!(!set[0].contains("Domain"), "{set:?}");
        assert_eq!(s.get("/portal").await.status, StatusCode::OK);
        // The bare name means nothing on https: a planted `lanyard_session`
        // signs nobody in.
        let mut planter = Browser::new(&secure);
        planter.cookies.insert("lanyard_session".into(), real);
        assert_eq!(planter.get("/portal").await.status, StatusCode::SEE_OTHER);
        secure.shutdown().await;
        app.shutdown().await;
    }
);

// Sign-in events that cannot be queued are written to the log instead,
// and the audit API and page say how many.
web_test!(
    security_events_that_cannot_be_queued_are_counted,
    |mut app| {
        app.user("ann").await;
        app.stop_audit_writer().await;
        let mut b = Browser::new(&app);
        let r = b.sign_in("ann", "a wrong guess").await;
        assert!(r.text().contains("Wrong email/username or password."));
        let page = app.get("/api/v1/audit-events").await.expect(StatusCode::OK);
        assert_eq!(page["logged_instead"], 1, "{page}");
        crate::common::admin::make_admin(&app, "root@example.com", "administrator").await;
        let mut admin = Browser::new(&app);
        crate::common::admin::admin_sign_in(
            &mut admin,
            "root@example.com",
            crate::common::admin::PW,
        )
        .await;
        let html = admin.get("/admin/audit").await.text();
        assert!(
            html.contains("were written to the server&#x27;s log instead")
                || html.contains("were written to the server's log instead"),
            "{html}"
        );
        app.shutdown().await;
    }
);

// Every way a session ends leaves it in the user's session history with
// when and why, through the doors that end it (sign-out, signing in again,
// an admin's revocation on the page, idling out, an admin's action): the
// API and the admin's user page show it, and nothing in it signs anyone in.
web_test!(ended_sessions_are_kept_with_when_and_why, |app| {
    let id = app.user("ann").await;
    let step = || app.clock.advance(Duration::seconds(5));

    // Signed out from the portal.
    let mut out = Browser::new(&app);
    out.sign_in("ann", PW).await;
    let out_token = out.cookie("lanyard_session").unwrap().to_owned();
    let csrf = hidden(&out.get("/portal").await.text(), "csrf").unwrap();
    out.post("/logout", &[("csrf", &csrf)]).await;
    step();
    // Signed in again in the same browser (a sign-in form opened before
    // another tab signed in, then sent).
    let mut again = Browser::new(&app);
    let csrf = hidden(&again.get("/login").await.text(), "csrf").unwrap();
    let mut tab = Browser::new(&app);
    tab.sign_in("ann", PW).await;
    let first = tab.cookie("lanyard_session").unwrap().to_owned();
    again.cookies.insert("lanyard_session".into(), first);
    step();
    let r = again
        .post(
            "/login",
            &[
                ("login", "ann"),
                ("password", PW),
                ("csrf", &csrf),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(location(&r), "/portal", "{}", r.text());
    assert!(!signed_in(&mut tab).await, "the first session ended");
    step();
    // Revoked by an admin on the user page.
    let mut admin =
        crate::common::admin::signed_in(&app, "root@example.com", "administrator").await;
    let live = app.store.list_user_sessions(UserId(id)).await.unwrap();
    assert_eq!(live.len(), 1);
    let csrf = admin.csrf_of(&format!("/admin/users/{id}")).await;
    let r = admin
        .post(
            &format!("/admin/users/{id}/sessions/{}/revoke", live[0].id.0),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(!signed_in(&mut again).await);
    step();
    // Idle past `session_idle`: ended when it is next presented.
    let mut idle = Browser::new(&app);
    idle.sign_in("ann", PW).await;
    app.clock
        .advance(app.state.settings().auth.session_idle + Duration::seconds(1));
    assert!(!signed_in(&mut idle).await);
    let idled_at = app.clock_now();
    step();
    // An admin's action on the user.
    let mut suspended = Browser::new(&app);
    suspended.sign_in("ann", PW).await;
    app.admin("POST", &format!("/api/v1/users/{id}/suspend"), None)
        .await
        .expect(StatusCode::OK);

    let history = app
        .get(&format!("/api/v1/users/{id}/sessions/ended"))
        .await
        .expect(StatusCode::OK);
    let reasons: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["suspended", "idle", "revoked", "replaced", "signed_out"]
    );
    let idle_entry = &history[1];
    assert_eq!(
        idle_entry["ended_at"],
        json!(idled_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap())
    );
    assert_eq!(idle_entry["stage"], "complete");
    assert_eq!(idle_entry["methods"], "password");
    assert!(idle_entry.get("token_hash").is_none() && idle_entry.get("csrf_secret").is_none());
    app.get("/api/v1/users/99999/sessions/ended")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    // The page lists them in words (a new admin session: the first one
    // idled out with ann's).
    let mut admin = crate::common::admin::signed_in(&app, "ops@example.com", "read_only").await;
    let page = admin.get(&format!("/admin/users/{id}")).await.text();
    let ended = &page[page.find("Ended sessions").expect("the history card")..];
    for words in [
        "User suspended",
        "Idle",
        "Revoked by an admin",
        "Signed in again",
        "Signed out",
    ] {
        assert!(ended.contains(words), "{words} missing from {ended}");
    }
    // An ended session's cookie signs nobody in.
    let mut replay = Browser::new(&app);
    replay.cookies.insert("lanyard_session".into(), out_token);
    assert!(!signed_in(&mut replay).await);
    app.shutdown().await;
});
