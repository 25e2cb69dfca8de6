//! The client's address at the edge: `Forwarded` / `X-Forwarded-For` are
//! believed only from `trusted_proxies`, and then the per-address rate
//! limit, the per-source sign-in throttle, sessions and the audit log all
//! see the forwarded client; from anyone else the headers change nothing.
//! On SQLite and PostgreSQL; each failed before trusted proxies existed.

use axum::http::StatusCode;
use lanyard_core::settings::parse_trusted_proxies;
use lanyard_core::store::SignInStore;
use lanyard_core::UserId;

use crate::common::browser::Browser;
use crate::common::{settings, TestApp, USER_PW};

/// A node that trusts the default browser address (192.0.2.7) as its
/// reverse proxy, with `per_minute` sign-in attempts per client.
fn behind_proxy(app: &TestApp, per_minute: u32) -> TestApp {
    let mut s = settings();
    s.http.trusted_proxies = parse_trusted_proxies("192.0.2.7").unwrap();
    s.auth.login_attempts_per_minute = per_minute;
    app.another_node_with(s)
}

/// The client recorded for `user`'s newest session.
async fn session_client(app: &TestApp, user: i64) -> Option<String> {
    let sessions = app.store.list_user_sessions(UserId(user)).await.unwrap();
    sessions[0].client.clone()
}

web_test!(
    forwarded_clients_are_believed_only_from_trusted_proxies,
    |app| {
        let ann = app.user("ann").await;
        let node = behind_proxy(&app, 30);
        // Through the proxy: the right-most address it did not add is the
        // client; a left-most entry the client wrote itself is not.
        let mut b = Browser::new(&node).with_header("x-forwarded-for", "6.6.6.6, 203.0.113.50");
        assert_eq!(
            b.sign_in("ann", USER_PW).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            session_client(&node, ann).await.as_deref(),
            Some("203.0.113.50")
        );
        let rfc =
            Browser::new(&node).with_header("forwarded", "for=\"203.0.113.51:4711\";proto=https");
        let mut rfc = rfc;
        assert_eq!(
            rfc.sign_in("ann", USER_PW).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            session_client(&node, ann).await.as_deref(),
            Some("203.0.113.51")
        );
        // Not through the proxy: the header is ignored.
        let mut direct = Browser::new(&node)
            .at_addr([198, 51, 100, 9])
            .with_header("x-forwarded-for", "203.0.113.77");
        assert_eq!(
            direct.sign_in("ann", USER_PW).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            session_client(&node, ann).await.as_deref(),
            Some("198.51.100.9")
        );
        // And a node that trusts no proxy ignores it from the proxy's address too.
        let mut plain = Browser::new(&app).with_header("x-forwarded-for", "203.0.113.78");
        assert_eq!(
            plain.sign_in("ann", USER_PW).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            session_client(&app, ann).await.as_deref(),
            Some("192.0.2.7")
        );
        // Each node's batched events, flushed.
        let mut events = node.audit_events().await;
        events.extend(app.audit_events().await);
        let sources: Vec<Option<String>> = events
            .into_iter()
            .filter(|e| e.action == "user.sign_in")
            .map(|e| e.source)
            .collect();
        for expected in ["203.0.113.50", "203.0.113.51", "198.51.100.9", "192.0.2.7"] {
            assert!(
                sources.iter().any(|s| s.as_deref() == Some(expected)),
                "{expected} in {sources:?}"
            );
        }
        node.shutdown().await;
        app.shutdown().await;
    }
);

web_test!(
    one_client_behind_the_proxy_does_not_block_the_others,
    |app| {
        app.user("ann").await;
        app.user("bob").await;
        let node = behind_proxy(&app, 2);
        let mut mallory = Browser::new(&node).with_header("x-forwarded-for", "203.0.113.66");
        for _ in 0..2 {
            let r = mallory.sign_in("bob", "a wrong guess").await;
            assert_eq!(r.status, StatusCode::OK);
        }
        let r = mallory.sign_in("bob", "a wrong guess").await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "the rate limit, per client"
        );
        assert!(r
            .text()
            .contains("Too many sign-in attempts came from your network"));
        // Ann comes through the same proxy: her own client address, her own
        // limit and her own per-source count.
        let mut ann = Browser::new(&node).with_header("x-forwarded-for", "203.0.113.44");
        assert_eq!(
            ann.sign_in("ann", USER_PW).await.status,
            StatusCode::SEE_OTHER
        );
        node.shutdown().await;
        app.shutdown().await;
    }
);

web_test!(
    spoofed_forwarding_headers_do_not_dodge_the_throttle,
    |app| {
        app.user("ann").await;
        // An untrusted client rotates X-Forwarded-For on every guess: its own
        // address is what counts, so the fourth attempt is refused.
        for i in 0..3u8 {
            let mut b = Browser::new(&app)
                .at_addr([198, 51, 100, 20])
                .with_header("x-forwarded-for", &format!("203.0.113.{i}"));
            assert_eq!(
                b.sign_in("ann", "a wrong guess").await.status,
                StatusCode::OK
            );
        }
        let mut b = Browser::new(&app)
            .at_addr([198, 51, 100, 20])
            .with_header("x-forwarded-for", "203.0.113.99");
        let r = b.sign_in("ann", USER_PW).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        assert!(r
            .text()
            .contains("Too many failed sign-ins for this account came from your address"));
        app.shutdown().await;
    }
);
