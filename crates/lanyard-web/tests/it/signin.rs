//! Sign-in end to end through the real router, on every backend: the
//! session cookie and its store row, identical answers for unknown users and
//! wrong passwords, CSRF and Origin checks, atomic lockout under 50 parallel
//! attempts (file-backed SQLite and PostgreSQL), TOTP with replay refusal,
//! idle and absolute timeouts, suspension, the per-address rate limit, the
//! admin session/lockout/TOTP endpoints, and the page headers.

use std::sync::Arc;

use axum::http::StatusCode;
use lanyard_core::session::SessionStage;
use lanyard_core::store::SignInStore;
use lanyard_core::UserId;
use lanyard_store::SqlStore;
use time::{Duration, OffsetDateTime};
use totp_rs::{Builder, Secret};

use crate::common::browser::{hidden, location, Browser};
use crate::common::TestApp;

const PW: &str = crate::common::USER_PW;
const WRONG: &str = "Wrong email/username or password.";
const LOCKED: &str = "This account is locked after too many failed sign-ins until \
                      2025-03-01 12:15 UTC. An administrator can unlock it sooner.";

/// The TOTP code an authenticator app shows at `at`.
fn code(secret: &str, at: OffsetDateTime) -> String {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(at.unix_timestamp() as u64)
        .to_string()
}

fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn events(app: &TestApp, action: &str) -> Vec<lanyard_core::audit::AuditEvent> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

fn reason(e: &lanyard_core::audit::AuditEvent) -> String {
    let v: serde_json::Value = serde_json::from_str(&e.summary).unwrap();
    v["reason"].as_str().unwrap_or_default().to_owned()
}

web_test!(
    sign_in_sets_a_session_cookie_and_stores_the_session,
    |app| {
        let id = app.user("ann").await;
        let mut b = Browser::new(&app);

        // Not signed in: the portal sends us to sign in, and back.
        let r = b.get("/portal").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/login?next=%2Fportal");

        let login_page = b.get("/login?next=%2Fportal").await;
        let set_csrf = login_page.headers["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(set_csrf.starts_with("lanyard_csrf="), "{set_csrf}");
        assert!(set_csrf.contains("HttpOnly") && set_csrf.contains("SameSite=Strict"));

        let r = b.sign_in_to("ANN@example.com", PW, "/portal").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(location(&r), "/portal");
        let set = r.headers["set-cookie"].to_str().unwrap();
        assert!(set.starts_with("lanyard_session="), "{set}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attr), "{attr} missing: {set}");
        }
        assert!(!set.contains("Secure"), "http base URL: {set}");

        // The store has it, by hash only.
        let token = b.cookie("lanyard_session").unwrap().to_owned();
        let sessions = app.store.list_user_sessions(UserId(id)).await.unwrap();
        assert_eq!(sessions.len(), 1);
        let s = &sessions[0];
        assert_eq!(s.stage, SessionStage::Complete);
        assert_eq!(s.client.as_deref(), Some("192.0.2.7"));
        assert_eq!(s.expires_at, app.clock_now() + Duration::hours(12));
        let found = app
            .store
            .find_session(&lanyard_core::session::token_hash(&token))
            .await
            .unwrap();
        assert_eq!(found.map(|f| f.id), Some(s.id));

        let portal = b.get("/portal").await;
        assert_eq!(portal.status, StatusCode::OK);
        assert!(portal.text().contains("ann@example.com"));

        // Signing in by username works too; a hostile `next` goes nowhere.
        let mut b2 = Browser::new(&app);
        let r = b2.sign_in_to("ann", PW, "https://evil.example/x").await;
        assert_eq!(location(&r), "/portal");
        let mut b3 = Browser::new(&app);
        let r = b3.sign_in_to("ann", PW, "/portal/password").await;
        assert_eq!(location(&r), "/portal/password");

        let ok = events(&app, "user.sign_in").await;
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].actor, "user:ann@example.com");
        assert_eq!(ok[0].target, format!("user:{id}"));
        assert_eq!(ok[0].source.as_deref(), Some("192.0.2.7"));
        app.shutdown().await;
    }
);

web_test!(
    a_signed_in_visitor_skips_the_form_and_a_new_sign_in_ends_the_old_session,
    |app| {
        let id = app.user("ann").await;
        let mut b = Browser::new(&app);
        b.sign_in("ann", PW).await;
        let r = b.get("/login?next=%2Fportal%2Fpassword").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/portal/password");

        // Signing in again in the same browser replaces the session.
        let old = b.cookie("lanyard_session").unwrap().to_owned();
        let csrf = b.cookie("lanyard_csrf").unwrap().to_owned();
        b.post(
            "/login",
            &[("login", "ann"), ("password", PW), ("csrf", &csrf)],
        )
        .await;
        assert_ne!(b.cookie("lanyard_session").unwrap(), old);
        assert_eq!(
            app.store
                .list_user_sessions(UserId(id))
                .await
                .unwrap()
                .len(),
            1
        );
        app.shutdown().await;
    }
);

web_test!(unknown_user_and_wrong_password_look_the_same, |app| {
    let id = app.user("ann").await;
    let mut b = Browser::new(&app);
    let wrong = b.sign_in("ann", "not the password").await;
    let unknown = b.sign_in("nobody", "not the password").await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert_eq!(unknown.status, wrong.status);
    assert!(wrong.text().contains(WRONG), "{}", wrong.text());
    // The same page but for the login echoed back into the form.
    assert_eq!(
        wrong.text().replace("value=\"ann\"", "value=\"X\""),
        unknown.text().replace("value=\"nobody\"", "value=\"X\"")
    );
    assert!(b.cookie("lanyard_session").is_none());
    assert!(app
        .store
        .list_user_sessions(UserId(id))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.store
            .sign_in_state(UserId(id).into())
            .await
            .unwrap()
            .failures,
        1
    );

    let failed = events(&app, "user.sign_in_failed").await;
    let reasons: Vec<_> = failed.iter().map(reason).collect();
    assert_eq!(reasons, ["wrong_password", "unknown_user"]);
    assert_eq!(failed[1].target, "login:nobody");
    for e in &failed {
        assert!(!e.summary.contains("not the password"), "{e:?}");
    }
    app.shutdown().await;
});

// A NUL typed into the login field reaches the audit log as U+FFFD; on
// PostgreSQL a raw NUL would make the whole batch fail (and block the log).
web_test!(
    control_characters_in_the_login_do_not_block_the_audit_log,
    |app| {
        let mut b = Browser::new(&app);
        let r = b.sign_in("nobody\u{0}\nx", "not the password").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let failed = events(&app, "user.sign_in_failed").await;
        assert_eq!(failed.len(), 1, "the event was written");
        assert_eq!(failed[0].target, "login:nobody\u{FFFD}\u{FFFD}x");
        app.shutdown().await;
    }
);

web_test!(csrf_and_origin_are_checked_before_anything_else, |app| {
    let id = app.user("ann").await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let token = b.cookie("lanyard_csrf").unwrap().to_owned();

    // No token, a wrong one, no cookie.
    let r = b
        .post("/login", &[("login", "ann"), ("password", PW)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("Request refused"));
    let r = b
        .post(
            "/login",
            &[
                ("login", "ann"),
                ("password", PW),
                ("csrf", &"0".repeat(64)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut cookieless = Browser::new(&app);
    let r = cookieless
        .post(
            "/login",
            &[("login", "ann"), ("password", PW), ("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The right token, from another origin.
    b.origin = Some("https://evil.example".into());
    let r = b
        .post(
            "/login",
            &[("login", "ann"), ("password", PW), ("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Nothing happened: no session, no failure counted, no event.
    assert!(b.cookie("lanyard_session").is_none());
    assert!(app
        .store
        .list_user_sessions(UserId(id))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.store
            .sign_in_state(UserId(id).into())
            .await
            .unwrap()
            .failures,
        0
    );
    assert!(events(&app, "user.sign_in_failed").await.is_empty());

    // Without an Origin header (old clients), the token suffices.
    b.origin = None;
    let r = b
        .post(
            "/login",
            &[("login", "ann"), ("password", PW), ("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    app.shutdown().await;
});

web_test!(logout_needs_the_session_token_and_ends_the_session, |app| {
    let id = app.user("ann").await;
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;
    let stolen = b.cookie("lanyard_session").unwrap().to_owned();
    let csrf = b.csrf_of("/portal").await;
    assert_eq!(csrf.len(), 64);

    let pre_session_token = b.cookie("lanyard_csrf").unwrap().to_owned();
    for bad in ["", "0000", pre_session_token.as_str()] {
        let r = b.post("/logout", &[("csrf", bad)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad:?}");
    }
    b.origin = Some("https://evil.example".into());
    assert_eq!(
        b.post("/logout", &[("csrf", &csrf)]).await.status,
        StatusCode::FORBIDDEN
    );
    b.origin = Some("http://127.0.0.1:8080".into());
    assert_eq!(
        b.get("/portal").await.status,
        StatusCode::OK,
        "still signed in"
    );

    let r = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    assert!(r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert!(b.cookie("lanyard_session").is_none());
    assert!(app
        .store
        .list_user_sessions(UserId(id))
        .await
        .unwrap()
        .is_empty());

    // The old cookie no longer works.
    b.cookies.insert("lanyard_session".into(), stolen);
    let r = b.get("/portal").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));
    assert_eq!(events(&app, "user.sign_out").await.len(), 1);
    app.shutdown().await;
});

/// 50 wrong passwords at once from 50 addresses: exactly `max_failures` (5)
/// are checked, the rest are refused as locked, and then even the right
/// password is refused until an admin unlocks the account.
async fn parallel_wrong_passwords(app: TestApp) {
    let id = app.user("ann").await;
    let app = Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50u8 {
        let app = app.clone();
        tasks.spawn(async move {
            let mut b = Browser::new(&app).at_addr([198, 51, 100, i]);
            b.sign_in("ann", "wrong password!").await.text()
        });
    }
    let (mut wrong, mut locked) = (0, 0);
    while let Some(body) = tasks.join_next().await {
        let body = body.unwrap();
        if body.contains(WRONG) {
            wrong += 1;
        } else if body.contains(LOCKED) {
            locked += 1;
        } else {
            panic!("unexpected answer: {body}");
        }
    }
    assert_eq!((wrong, locked), (5, 45), "on {}", app.backend);
    let state = app.store.sign_in_state(UserId(id).into()).await.unwrap();
    assert_eq!(
        (state.failures, state.lock_count),
        (0, 1),
        "one lock, a new count, on {}",
        app.backend
    );

    let mut b = Browser::new(&app).at_addr([203, 0, 113, 1]);
    let r = b.sign_in("ann", PW).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains(LOCKED));
    assert!(b.cookie("lanyard_session").is_none());

    let view = app
        .get(&format!("/api/v1/users/{id}/sign-in"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(view["failures"], 0);
    assert_eq!(view["locked"], true);
    assert_eq!(view["locked_until"], "2025-03-01T12:15:00Z");
    let view = app
        .admin("POST", &format!("/api/v1/users/{id}/unlock"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(view["locked"], false);
    assert_eq!(view["failures"], 0);
    let r = b.sign_in("ann", PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

    let failed = events(&app, "user.sign_in_failed").await;
    assert_eq!(
        failed
            .iter()
            .filter(|e| reason(e) == "wrong_password")
            .count(),
        5
    );
    assert_eq!(failed.iter().filter(|e| reason(e) == "locked").count(), 46);
    assert_eq!(events(&app, "user.unlock").await.len(), 1);
    match Arc::try_unwrap(app) {
        Ok(app) => app.shutdown().await,
        Err(_) => panic!("tasks still hold the app"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_check_at_most_max_failures_on_sqlite_file() {
    let dir = std::env::temp_dir().join(format!(
        "lanyard-lockout-{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("lanyard.db").display());
    let store = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(lanyard_store::testing::test_keyring());
    store.migrate().await.unwrap();
    parallel_wrong_passwords(TestApp::new("sqlite-file", store.clone()).await).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_check_at_most_max_failures_on_postgres() {
    let Some((store, db)) = lanyard_store::testing::fresh_store("postgres").await else {
        return;
    };
    parallel_wrong_passwords(TestApp::new("postgres", store.clone()).await).await;
    store.close().await;
    if let Some(db) = db {
        lanyard_store::testing::drop_database(&db).await;
    }
}

web_test!(totp_enrollment_sign_in_replay_and_admin_reset, |app| {
    let id = app.user("ann").await;
    let t0 = app.clock_now();
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;

    // Enrollment: a secret, its otpauth URI and an inline SVG QR code.
    let page = b.get("/portal/totp").await;
    assert_eq!(page.status, StatusCode::OK);
    let secret = app
        .store
        .sign_in_state(UserId(id).into())
        .await
        .unwrap()
        .totp_pending
        .expect("a pending secret");
    let html = page.text();
    assert!(html.contains(&secret));
    assert!(html.contains(&format!(
        "otpauth://totp/Lanyard:ann%40example.com?secret={secret}&#38;issuer=Lanyard"
    )));
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    let csrf = hidden(&html, "csrf").unwrap();

    // A wrong first code changes nothing; the right one turns TOTP on.
    let r = b
        .post("/portal/totp", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert!(r.text().contains("Wrong code"), "{}", r.text());
    assert!(r.text().contains(&secret), "the same secret again");
    assert!(!app
        .store
        .sign_in_state(UserId(id).into())
        .await
        .unwrap()
        .totp_enabled());
    let r = b
        .post(
            "/portal/totp",
            &[("csrf", "bad"), ("code", &code(&secret, t0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            "/portal/totp",
            &[("csrf", &csrf), ("code", &code(&secret, t0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Two-step sign-in is on"), "{}", r.text());
    assert!(app
        .store
        .sign_in_state(UserId(id).into())
        .await
        .unwrap()
        .totp_enabled());
    // Once on, the page offers no new secret.
    let again = b.get("/portal/totp").await.text();
    assert!(again.contains("ask an administrator"), "{again}");
    assert!(!again.contains("otpauth://"));

    // Sign-in now stops halfway, at the code.
    let mut c = Browser::new(&app);
    let r = c.sign_in_to("ann", PW, "/portal/password").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login/totp?next=%2Fportal%2Fpassword");
    let pending = app.store.list_user_sessions(UserId(id)).await.unwrap();
    assert_eq!(pending[0].stage, SessionStage::AwaitingTotp);
    let r = c.get("/portal").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "half a sign-in is no sign-in"
    );
    let form = c.get("/login/totp?next=%2Fportal%2Fpassword").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden(&form.text(), "csrf").unwrap();
    let next = hidden(&form.text(), "next").unwrap();
    assert_eq!(next, "/portal/password");
    let submit = |code: String| {
        [
            ("csrf", csrf.clone()),
            ("code", code),
            ("next", next.clone()),
        ]
    };

    // The code used for enrollment (same step) is refused: replay.
    let f = submit(code(&secret, t0));
    let r = c.post("/login/totp", &pairs(&f)).await;
    assert!(r.text().contains("already used"), "{}", r.text());
    // A code from a step outside the window is wrong.
    app.clock.advance(Duration::seconds(30));
    let t1 = app.clock_now();
    let f = submit(code(&secret, t1 + Duration::seconds(90)));
    let r = c.post("/login/totp", &pairs(&f)).await;
    assert!(r.text().contains("Wrong code"), "{}", r.text());
    // The current code works, once.
    let f = submit(code(&secret, t1));
    let r = c.post("/login/totp", &pairs(&f)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(location(&r), "/portal/password");
    assert_eq!(c.get("/portal").await.status, StatusCode::OK);
    assert_eq!(
        app.store
            .sign_in_state(UserId(id).into())
            .await
            .unwrap()
            .failures,
        0
    );

    let mut d = Browser::new(&app);
    d.sign_in("ann", PW).await;
    let form = d.get("/login/totp").await.text();
    let dcsrf = hidden(&form, "csrf").unwrap();
    let r = d
        .post(
            "/login/totp",
            &[("csrf", &dcsrf), ("code", &code(&secret, t1))],
        )
        .await;
    assert!(
        r.text().contains("already used"),
        "same step, another browser"
    );
    assert_eq!(d.get("/portal").await.status, StatusCode::SEE_OTHER);

    let failed = events(&app, "user.sign_in_failed").await;
    let reasons: Vec<_> = failed.iter().map(reason).collect();
    assert_eq!(reasons, ["replayed_totp", "wrong_totp", "replayed_totp"]);
    let ok = events(&app, "user.sign_in").await;
    assert!(ok.last().unwrap().summary.contains("password+totp"));
    assert_eq!(events(&app, "user.totp.enroll").await.len(), 1);

    // An admin reset removes TOTP: the password is enough again.
    let view = app
        .admin("DELETE", &format!("/api/v1/users/{id}/totp"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(view["totp_enabled"], false);
    let mut e = Browser::new(&app);
    let r = e.sign_in("ann", PW).await;
    assert_eq!(location(&r), "/portal");
    // A sign-in left halfway when the reset came starts again.
    let r = d
        .post("/login/totp", &[("csrf", &dcsrf), ("code", "123456")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));
    assert_eq!(events(&app, "user.totp.reset").await.len(), 1);
    app.shutdown().await;
});

web_test!(
    wrong_codes_lock_the_account_and_the_code_step_expires,
    |app| {
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

        // Password and code attempts share the counter, and a right password
        // does not reset it while the code is outstanding: 1 + 2 + 1 + 1.
        let mut b = Browser::new(&app);
        b.sign_in("ann", PW).await;
        let csrf = hidden(&b.get("/login/totp").await.text(), "csrf").unwrap();
        for _ in 0..2 {
            let r = b
                .post("/login/totp", &[("csrf", &csrf), ("code", "000000")])
                .await;
            assert!(r.text().contains("Wrong code"), "{}", r.text());
        }
        b.sign_in("ann", PW).await;
        let csrf = hidden(&b.get("/login/totp").await.text(), "csrf").unwrap();
        let r = b
            .post("/login/totp", &[("csrf", &csrf), ("code", "000000")])
            .await;
        assert!(r.text().contains("Wrong code"), "{}", r.text());
        let state = app.store.sign_in_state(UserId(id).into()).await.unwrap();
        assert!(
            state.is_locked(app.clock_now()),
            "the fifth failure locked: {state:?}"
        );
        // The right code is too late now: locked, and the half session ends.
        let now = app.clock_now();
        let r = b
            .post(
                "/login/totp",
                &[("csrf", &csrf), ("code", &code(secret, now))],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains(LOCKED));
        assert!(app
            .store
            .list_user_sessions(UserId(id))
            .await
            .unwrap()
            .is_empty());
        app.admin("POST", &format!("/api/v1/users/{id}/unlock"), None)
            .await
            .expect(StatusCode::OK);

        // The second step must come within 5 minutes of the password.
        let mut c = Browser::new(&app);
        c.sign_in("ann", PW).await;
        let csrf = hidden(&c.get("/login/totp").await.text(), "csrf").unwrap();
        app.clock.advance(Duration::minutes(6));
        let now = app.clock_now();
        let r = c
            .post(
                "/login/totp",
                &[("csrf", &csrf), ("code", &code(secret, now))],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with("/login?next="));
        assert!(app
            .store
            .list_user_sessions(UserId(id))
            .await
            .unwrap()
            .is_empty());
        app.shutdown().await;
    }
);

web_test!(sessions_end_when_idle_and_at_their_absolute_limit, |app| {
    app.user("ann").await;
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;
    app.clock.advance(Duration::minutes(59));
    assert_eq!(b.get("/portal").await.status, StatusCode::OK);
    app.clock.advance(Duration::minutes(59));
    assert_eq!(
        b.get("/portal").await.status,
        StatusCode::OK,
        "use refreshes it"
    );
    app.clock.advance(Duration::minutes(61));
    let r = b.get("/portal").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "idle for over an hour");

    // Busy all along: still over after 12 hours.
    let mut c = Browser::new(&app);
    c.sign_in("ann", PW).await;
    for k in 1..=15 {
        app.clock.advance(Duration::minutes(50));
        let status = c.get("/portal").await.status;
        let expected = if k * 50 < 12 * 60 {
            StatusCode::OK
        } else {
            StatusCode::SEE_OTHER
        };
        assert_eq!(status, expected, "after {} minutes", k * 50);
    }
    app.shutdown().await;
});

// A use is written off the request path, in a batch, shortly after; all
// sessions noted within the batch window land in the store.
web_test!(session_use_is_written_in_a_batch_shortly_after, |app| {
    let id = app.user("ann").await;
    let (mut a, mut b) = (Browser::new(&app), Browser::new(&app));
    a.sign_in("ann", PW).await;
    b.sign_in("ann", PW).await;
    let signed_in_at = app.clock_now();
    app.clock.advance(Duration::minutes(5));
    assert_eq!(a.get("/portal").await.status, StatusCode::OK);
    assert_eq!(b.get("/portal").await.status, StatusCode::OK);
    let used_at = app.clock_now();
    let mut seen: Vec<time::OffsetDateTime>;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        seen = app
            .store
            .list_user_sessions(UserId(id))
            .await
            .unwrap()
            .iter()
            .map(|s| s.last_seen_at)
            .collect();
        if seen.iter().all(|at| *at == used_at) || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, vec![used_at, used_at], "signed in at {signed_in_at}");
    app.shutdown().await;
});

web_test!(sign_in_purges_expired_sessions_now_and_then, |app| {
    let id = app.user("ann").await;
    let mut a = Browser::new(&app);
    a.sign_in("ann", PW).await;
    app.clock.advance(Duration::hours(2));
    // The idle session is still stored until a purge or its next use.
    assert_eq!(
        app.store
            .list_user_sessions(UserId(id))
            .await
            .unwrap()
            .len(),
        1
    );
    let mut b = Browser::new(&app);
    b.sign_in("ann", PW).await;
    let left = app.store.list_user_sessions(UserId(id)).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].created_at, app.clock_now());
    app.shutdown().await;
});

web_test!(
    suspended_users_cannot_sign_in_and_guessers_cannot_tell,
    |app| {
        let id = app.user("ann").await;
        let mut signed_in = Browser::new(&app);
        signed_in.sign_in("ann", PW).await;
        app.admin("POST", &format!("/api/v1/users/{id}/suspend"), None)
            .await
            .expect(StatusCode::OK);

        let mut b = Browser::new(&app);
        let r = b.sign_in("ann", "a wrong guess").await;
        assert!(r.text().contains(WRONG), "a guess learns nothing");
        let r = b.sign_in("ann", PW).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("This account is suspended."));
        assert!(b.cookie("lanyard_session").is_none());

        // Mid-session: the session ended with the suspension.
        let r = signed_in.get("/portal").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/login?next=%2Fportal");
        let reasons: Vec<_> = events(&app, "user.sign_in_failed")
            .await
            .iter()
            .map(reason)
            .collect();
        assert_eq!(reasons, ["wrong_password", "suspended"]);
        app.shutdown().await;
    }
);

web_test!(sign_in_is_rate_limited_per_address, |app| {
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let csrf = b.cookie("lanyard_csrf").unwrap().to_owned();
    let attempt = [
        ("login", "nobody"),
        ("password", "whatever!"),
        ("csrf", csrf.as_str()),
    ];
    for i in 0..30 {
        let r = b.post("/login", &attempt).await;
        assert_eq!(r.status, StatusCode::OK, "attempt {i}");
    }
    for _ in 0..3 {
        let r = b.post("/login", &attempt).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers["retry-after"], "60");
        assert!(r.text().contains("Too many sign-in attempts"));
    }
    // Another address is not affected; a minute later this one is free.
    let mut other = Browser::new(&app).at_addr([192, 0, 2, 8]);
    other.cookies = b.cookies.clone();
    assert_eq!(other.post("/login", &attempt).await.status, StatusCode::OK);
    app.clock.advance(Duration::seconds(60));
    assert_eq!(b.post("/login", &attempt).await.status, StatusCode::OK);

    let limited: Vec<_> = events(&app, "user.sign_in_failed")
        .await
        .into_iter()
        .filter(|e| reason(e) == "rate_limited")
        .collect();
    assert_eq!(limited.len(), 1, "one event per address and window");
    app.shutdown().await;
});

web_test!(admins_list_and_revoke_sessions, |app| {
    let id = app.user("ann").await;
    let mut a = Browser::new(&app);
    a.sign_in("ann", PW).await;
    let mut b = Browser::new(&app).at_addr([192, 0, 2, 9]);
    b.sign_in("ann", PW).await;

    let list = app
        .get(&format!("/api/v1/users/{id}/sessions"))
        .await
        .expect(StatusCode::OK);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["client"], "192.0.2.9", "newest first");
    assert_eq!(items[0]["live"], true);
    assert_eq!(items[0]["stage"], "complete");
    assert!(!list
        .to_string()
        .contains(b.cookie("lanyard_session").unwrap()));
    assert!(items[0].get("csrf_secret").is_none());

    let sid = items[0]["id"].as_i64().unwrap();
    app.admin(
        "DELETE",
        &format!("/api/v1/users/{id}/sessions/{sid}"),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert_eq!(b.get("/portal").await.status, StatusCode::SEE_OTHER);
    assert_eq!(a.get("/portal").await.status, StatusCode::OK);
    app.admin(
        "DELETE",
        &format!("/api/v1/users/{id}/sessions/{sid}"),
        None,
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "not_found");

    let r = app
        .admin("DELETE", &format!("/api/v1/users/{id}/sessions"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["revoked"], 1);
    assert_eq!(a.get("/portal").await.status, StatusCode::SEE_OTHER);
    app.get("/api/v1/users/999999/sessions")
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    assert_eq!(events(&app, "user.session.revoke").await.len(), 1);
    assert_eq!(events(&app, "user.sessions.revoke").await.len(), 1);
    app.shutdown().await;
});

web_test!(pages_carry_a_strict_content_security_policy, |app| {
    app.user("ann").await;
    let mut b = Browser::new(&app);
    let mut pages = vec![b.get("/login").await];
    b.sign_in("ann", PW).await;
    for path in ["/portal", "/portal/totp", "/portal/password"] {
        pages.push(b.get(path).await);
    }
    for r in pages {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert_eq!(r.headers["cache-control"], "no-store");
        assert!(!r.text().contains("<script>") && !r.text().contains("style="));
    }
    app.shutdown().await;
});
