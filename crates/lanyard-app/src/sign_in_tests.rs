//! The sign-in state machine on a real store (every backend), with a fixed
//! clock: every outcome, and the order of the steps that decides between
//! them.

use std::net::IpAddr;
use std::sync::Arc;

use lanyard_core::admin::Role;
use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::directory::UserState;
use lanyard_core::session::{token_hash, AuthMethods, AuthSettings, SessionStage};
use lanyard_core::store::{AdminStore, AuditStore, SignInStore, UserStore};
use lanyard_core::{BaseUrl, FixedClock, Settings, UserId};
use lanyard_store::{store_test, SqlStore};
use time::macros::datetime;
use time::Duration;

use super::*;
use crate::directory::users::{self, CreateUserForm};
use crate::{AuditWriter, Authenticated, Lanyard};

const PASSWORD: &str = "correct horse battery";

struct Fixture {
    l: Lanyard,
    store: SqlStore,
    clock: Arc<FixedClock>,
    writer: Option<AuditWriter>,
}

impl Fixture {
    async fn new(store: SqlStore) -> Fixture {
        Fixture::with(store, AuthSettings::default()).await
    }

    async fn with(store: SqlStore, auth: AuthSettings) -> Fixture {
        let clock = Arc::new(FixedClock::new(datetime!(2025-03-01 12:00:00 UTC)));
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let writer = AuditWriter::start(shared.clone());
        let settings = Settings {
            listen: "127.0.0.1:8080".parse().unwrap(),
            base_url: BaseUrl::parse("http://127.0.0.1:8080").unwrap(),
            log: "info".into(),
            auth,
        };
        let l = Lanyard::new(settings, clock.clone(), shared, writer.handle()).unwrap();
        Fixture {
            l,
            store,
            clock,
            writer: Some(writer),
        }
    }

    /// A user `name@example.com` with [`PASSWORD`], made by the use-case.
    async fn user(&self, name: &str) -> UserId {
        let w = self
            .l
            .writer(&Authenticated::host_operator(), None)
            .unwrap();
        let form = CreateUserForm {
            email: format!("{name}@example.com"),
            username: name.into(),
            first_name: String::new(),
            last_name: String::new(),
            attributes: Default::default(),
            password: Some(PASSWORD.into()),
        };
        users::create(&w, form).await.unwrap().id
    }

    /// Turns TOTP on for `user`; returns the secret.
    async fn totp(&self, user: UserId) -> String {
        let secret = totp::new_secret().unwrap();
        self.store
            .set_totp_pending(user, Some(&secret))
            .await
            .unwrap();
        assert!(self.store.confirm_totp(user, &secret, 1).await.unwrap());
        secret
    }

    async fn failures(&self, user: UserId) -> u32 {
        self.store.sign_in_state(user).await.unwrap().failures
    }

    /// The sign-in events so far, oldest first: (action, actor, summary).
    async fn events(&self) -> Vec<(String, String, String)> {
        self.l.audit().flush().await;
        let page = self
            .store
            .list_audit_events(&AuditFilter::default())
            .await
            .unwrap();
        let mut events: Vec<AuditEvent> = page
            .items
            .into_iter()
            .filter(|e| e.action.contains("sign_in"))
            .collect();
        events.reverse();
        events
            .into_iter()
            .map(|e| (e.action, e.actor, e.summary))
            .collect()
    }

    async fn shutdown(mut self) {
        if let Some(w) = self.writer.take() {
            w.shutdown().await;
        }
    }
}

fn from(addr: &str) -> Client {
    Client {
        addr: Some(addr.parse::<IpAddr>().unwrap()),
        user_agent: Some("test".into()),
    }
}

fn attempt(login: &str, password: &str) -> Attempt {
    Attempt {
        login: login.into(),
        password: password.into(),
        client: from("192.0.2.1"),
        presented_token: None,
    }
}

/// A code that is none of the three a check at `now` accepts.
fn wrong_code(secret: &str, now: time::OffsetDateTime) -> String {
    let near: Vec<String> = [-30, 0, 30]
        .iter()
        .map(|s| totp::code_at(secret, now + Duration::seconds(*s)).unwrap())
        .collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

fn token_of(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::SignedIn { token } | Outcome::NeedsSecondFactor { token } => token,
        other => panic!("no session: {other:?}"),
    }
}

store_test!(
    the_right_password_signs_in_with_a_complete_session,
    |store| {
        let f = Fixture::new(store).await;
        let ann = f.user("ann").await;
        let out = user(&f.l, attempt("ann@example.com", PASSWORD))
            .await
            .unwrap();
        let session = f
            .store
            .find_session(&token_hash(token_of(&out)))
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(out, Outcome::SignedIn { .. }));
        assert_eq!(
            (session.user_id, session.stage),
            (ann, SessionStage::Complete)
        );
        assert_eq!(session.client.as_deref(), Some("192.0.2.1"));
        // The username works as the login too; the name is trimmed.
        let again = user(&f.l, attempt("  ann ", PASSWORD)).await.unwrap();
        assert!(matches!(again, Outcome::SignedIn { .. }));
        let events = f.events().await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].0, "user.sign_in");
        assert_eq!(events[0].1, "user:ann@example.com");
        assert!(events[0].2.contains(r#""method":"password""#), "{events:?}");
        f.shutdown().await;
    }
);

store_test!(
    an_unknown_login_and_a_wrong_password_answer_alike,
    |store| {
        let f = Fixture::new(store).await;
        let ann = f.user("ann").await;
        let unknown = user(&f.l, attempt("nobody@example.com", PASSWORD))
            .await
            .unwrap();
        let wrong = user(&f.l, attempt("ann", "not the password"))
            .await
            .unwrap();
        let empty = user(&f.l, attempt("   ", PASSWORD)).await.unwrap();
        assert_eq!(unknown, Outcome::WrongCredentials);
        assert_eq!(wrong, Outcome::WrongCredentials);
        assert_eq!(empty, Outcome::WrongCredentials);
        assert_eq!(f.failures(ann).await, 1, "only the known account counts");
        let reasons: Vec<String> = f.events().await.into_iter().map(|e| e.2).collect();
        assert_eq!(
            reasons,
            [
                r#"{"reason":"unknown_user"}"#,
                r#"{"reason":"wrong_password"}"#,
                r#"{"reason":"unknown_user"}"#
            ]
        );
        f.shutdown().await;
    }
);

store_test!(the_rate_limit_comes_before_anything_else, |store| {
    let auth = AuthSettings {
        login_attempts_per_minute: 2,
        ..AuthSettings::default()
    };
    let f = Fixture::with(store, auth).await;
    let ann = f.user("ann").await;
    for _ in 0..2 {
        assert_eq!(
            user(&f.l, attempt("ann", "wrong password")).await.unwrap(),
            Outcome::WrongCredentials
        );
    }
    // The right password, past the limit: refused before it is checked, and
    // the account's counter does not move.
    assert_eq!(
        user(&f.l, attempt("ann", PASSWORD)).await.unwrap(),
        Outcome::RateLimited
    );
    assert_eq!(
        admin(&f.l, attempt("root@example.com", PASSWORD))
            .await
            .unwrap(),
        Outcome::RateLimited,
        "admins share the per-address limit"
    );
    assert_eq!(f.failures(ann).await, 2);
    // Another address is not limited; nor is this one a minute later.
    let other = Attempt {
        client: from("198.51.100.9"),
        ..attempt("ann", PASSWORD)
    };
    assert!(matches!(
        user(&f.l, other).await.unwrap(),
        Outcome::SignedIn { .. }
    ));
    f.clock.advance(Duration::minutes(1));
    assert!(matches!(
        user(&f.l, attempt("ann", PASSWORD)).await.unwrap(),
        Outcome::SignedIn { .. }
    ));
    let limited: Vec<_> = f
        .events()
        .await
        .into_iter()
        .filter(|e| e.2.contains("rate_limited"))
        .collect();
    assert_eq!(limited.len(), 1, "one event per window: {limited:?}");
    assert_eq!(limited[0].1, "anonymous");
    f.shutdown().await;
});

store_test!(
    a_locked_account_is_refused_before_its_password_is_checked,
    |store| {
        let auth = AuthSettings {
            max_failures: 3,
            ..AuthSettings::default()
        };
        let f = Fixture::with(store, auth).await;
        let ann = f.user("ann").await;
        for _ in 0..3 {
            assert_eq!(
                user(&f.l, attempt("ann", "wrong password")).await.unwrap(),
                Outcome::WrongCredentials
            );
        }
        assert_eq!(
            user(&f.l, attempt("ann", PASSWORD)).await.unwrap(),
            Outcome::Locked,
            "the right password does not open a locked account"
        );
        assert_eq!(f.failures(ann).await, 3, "and does not reset the counter");
        f.store.reset_login_failures(ann).await.unwrap();
        assert!(matches!(
            user(&f.l, attempt("ann", PASSWORD)).await.unwrap(),
            Outcome::SignedIn { .. }
        ));
        f.shutdown().await;
    }
);

store_test!(
    parallel_guesses_check_at_most_max_failures_passwords,
    |store| {
        let auth = AuthSettings {
            max_failures: 3,
            ..AuthSettings::default()
        };
        let f = Fixture::with(store, auth).await;
        let ann = f.user("ann").await;
        let mut guesses = tokio::task::JoinSet::new();
        for i in 0..8 {
            let l = f.l.clone();
            guesses
                .spawn(async move { user(&l, attempt("ann", &format!("guess number {i}"))).await });
        }
        let mut wrong = 0;
        let mut locked = 0;
        while let Some(outcome) = guesses.join_next().await {
            match outcome.unwrap().unwrap() {
                Outcome::WrongCredentials => wrong += 1,
                Outcome::Locked => locked += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((wrong, locked), (3, 5));
        assert_eq!(f.failures(ann).await, 3);
        f.shutdown().await;
    }
);

store_test!(suspension_is_told_only_after_the_right_password, |store| {
    let f = Fixture::new(store).await;
    let ann = f.user("ann").await;
    f.store
        .set_user_state(ann, UserState::Suspended, f.l.now())
        .await
        .unwrap();
    assert_eq!(
        user(&f.l, attempt("ann", "wrong password")).await.unwrap(),
        Outcome::WrongCredentials
    );
    assert_eq!(
        user(&f.l, attempt("ann", PASSWORD)).await.unwrap(),
        Outcome::Suspended
    );
    assert!(f.store.list_user_sessions(ann).await.unwrap().is_empty());
    let last = f.events().await.pop().unwrap();
    assert_eq!(last.2, r#"{"reason":"suspended"}"#);
    f.shutdown().await;
});

store_test!(the_presented_session_is_ended_by_a_new_sign_in, |store| {
    let f = Fixture::new(store).await;
    let ann = f.user("ann").await;
    let first = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    let again = Attempt {
        presented_token: Some(token_of(&first).to_owned()),
        ..attempt("ann", PASSWORD)
    };
    let second = user(&f.l, again).await.unwrap();
    let sessions = f.store.list_user_sessions(ann).await.unwrap();
    assert_eq!(sessions.len(), 1, "no fixation: the old session is gone");
    let live = f
        .store
        .find_session(&token_hash(token_of(&second)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sessions[0].id, live.id);
    f.shutdown().await;
});

store_test!(a_second_factor_holds_the_counter_until_the_code, |store| {
    let f = Fixture::new(store).await;
    let ann = f.user("ann").await;
    let secret = f.totp(ann).await;
    user(&f.l, attempt("ann", "wrong password")).await.unwrap();
    let out = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    assert!(matches!(out, Outcome::NeedsSecondFactor { .. }), "{out:?}");
    assert_eq!(
        f.failures(ann).await,
        2,
        "the password alone resets nothing"
    );
    assert!(
        crate::sessions::current(&f.l, token_of(&out))
            .await
            .unwrap()
            .is_none(),
        "a half-done session signs nobody in"
    );

    let session = pending(&f.l, token_of(&out)).await.unwrap().unwrap();
    let client = from("192.0.2.1");
    assert_eq!(
        second_factor(&f.l, &session, &wrong_code(&secret, f.l.now()), &client)
            .await
            .unwrap(),
        SecondFactor::WrongCode
    );
    assert_eq!(f.failures(ann).await, 3, "a wrong code counts");
    f.clock.advance(Duration::seconds(30));
    let code = totp::code_at(&secret, f.l.now() - Duration::seconds(30)).unwrap();
    let SecondFactor::SignedIn { token } =
        second_factor(&f.l, &session, &code, &client).await.unwrap()
    else {
        panic!("the right code signs in");
    };
    assert_eq!(f.failures(ann).await, 0);
    // The session is complete under a new token; the password-only token
    // is worth nothing now.
    let me = crate::sessions::current(&f.l, &token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((me.user.id, me.session.id), (ann, session.id));
    assert_eq!(me.session.methods, AuthMethods::PasswordTotp);
    assert_eq!(me.session.authenticated_at, f.l.now());
    assert!(crate::sessions::current(&f.l, token_of(&out))
        .await
        .unwrap()
        .is_none());
    assert!(pending(&f.l, token_of(&out)).await.unwrap().is_none());
    let last = f.events().await.pop().unwrap();
    assert_eq!(last.0, "user.sign_in");
    assert!(last.2.contains(r#""method":"password+totp""#), "{last:?}");

    // The same code again, in a new sign-in: refused as replayed.
    let out = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    let session = pending(&f.l, token_of(&out)).await.unwrap().unwrap();
    assert_eq!(
        second_factor(&f.l, &session, &code, &client).await.unwrap(),
        SecondFactor::ReplayedCode
    );
    f.shutdown().await;
});

store_test!(the_second_factor_step_ends_when_it_must, |store| {
    let auth = AuthSettings {
        max_failures: 2,
        ..AuthSettings::default()
    };
    let f = Fixture::with(store, auth).await;
    let ann = f.user("ann").await;
    let secret = f.totp(ann).await;
    let client = from("192.0.2.1");

    // Too late: the half-done session is gone.
    let out = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    f.clock.advance(TOTP_STAGE_LIMIT + Duration::seconds(1));
    assert!(pending(&f.l, token_of(&out)).await.unwrap().is_none());
    assert!(f.store.list_user_sessions(ann).await.unwrap().is_empty());
    f.store.reset_login_failures(ann).await.unwrap();

    // Locked by wrong codes: the session ends with the lock.
    let out = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    let session = pending(&f.l, token_of(&out)).await.unwrap().unwrap();
    assert_eq!(
        second_factor(&f.l, &session, &wrong_code(&secret, f.l.now()), &client)
            .await
            .unwrap(),
        SecondFactor::WrongCode
    );
    let code = totp::code_at(&secret, f.l.now()).unwrap();
    assert_eq!(
        second_factor(&f.l, &session, &code, &client).await.unwrap(),
        SecondFactor::Locked
    );
    assert!(pending(&f.l, token_of(&out)).await.unwrap().is_none());
    f.store.reset_login_failures(ann).await.unwrap();

    // Suspended meanwhile.
    let out = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    let session = pending(&f.l, token_of(&out)).await.unwrap().unwrap();
    f.store
        .set_user_state(ann, UserState::Suspended, f.l.now())
        .await
        .unwrap();
    assert_eq!(
        second_factor(&f.l, &session, &code, &client).await.unwrap(),
        SecondFactor::Suspended
    );
    assert!(pending(&f.l, token_of(&out)).await.unwrap().is_none());
    f.store
        .set_user_state(ann, UserState::Active, f.l.now())
        .await
        .unwrap();

    // The second factor removed meanwhile: start again.
    let out = user(&f.l, attempt("ann", PASSWORD)).await.unwrap();
    let session = pending(&f.l, token_of(&out)).await.unwrap().unwrap();
    f.store.reset_totp(ann).await.unwrap();
    assert_eq!(
        second_factor(&f.l, &session, &code, &client).await.unwrap(),
        SecondFactor::Restart
    );
    assert!(pending(&f.l, token_of(&out)).await.unwrap().is_none());
    f.shutdown().await;
});

store_test!(admins_sign_in_through_the_same_machine, |store| {
    let f = Fixture::new(store).await;
    let hash = crate::secrets::PasswordHasher::new()
        .hash(PASSWORD.into())
        .await
        .unwrap();
    let root = f
        .store
        .create_admin("root@example.com", Role::Administrator, &hash, f.l.now())
        .await
        .unwrap();
    assert_eq!(
        admin(&f.l, attempt("nobody@example.com", PASSWORD))
            .await
            .unwrap(),
        Outcome::WrongCredentials
    );
    assert_eq!(
        admin(&f.l, attempt("root@example.com", "wrong password"))
            .await
            .unwrap(),
        Outcome::WrongCredentials
    );
    let out = admin(&f.l, attempt("ROOT@example.com", PASSWORD))
        .await
        .unwrap();
    let signed =
        f.l.authenticate_admin_session(token_of(&out))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(signed.admin.id, root.id);
    // A user's sign-in does not accept an admin's credentials.
    assert_eq!(
        user(&f.l, attempt("root@example.com", PASSWORD))
            .await
            .unwrap(),
        Outcome::WrongCredentials
    );
    let events = f.events().await;
    let admin_events: Vec<_> = events
        .iter()
        .filter(|e| e.0.starts_with("admin."))
        .collect();
    assert_eq!(admin_events.len(), 3, "{events:?}");
    assert_eq!(admin_events[0].2, r#"{"reason":"unknown_admin"}"#);
    assert_eq!(admin_events[1].2, r#"{"reason":"wrong_password"}"#);
    assert_eq!(admin_events[2].0, "admin.sign_in");
    assert_eq!(admin_events[2].1, "admin:root@example.com");
    f.shutdown().await;
});
