//! The sign-in state machine on a real store (every backend), with a fixed
//! clock: every outcome, and the order of the steps that decides between
//! them.

use std::net::IpAddr;
use std::sync::Arc;

use lanyard_core::admin::Role;
use lanyard_core::audit::{AuditEvent, AuditFilter};
use lanyard_core::directory::UserState;
use lanyard_core::session::{
    token_hash, Account, AuthMethods, AuthSettings, SessionStage, SignInState, MAX_LOCKOUT,
};
use lanyard_core::store::{AdminStore, AuditStore, SignInStore, UserStore};
use lanyard_core::{AdminId, BaseUrl, Error, FixedClock, Settings, UserId};
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
            http: Default::default(),
        };
        let l = Lanyard::new(settings, clock.clone(), shared, writer.handle()).unwrap();
        Fixture {
            l,
            store,
            clock,
            writer: Some(writer),
        }
    }

    /// A writer for the host operator, with the clock's "now".
    fn operator(&self) -> crate::Writer {
        self.l
            .writer(&Authenticated::host_operator(), None)
            .unwrap()
    }

    /// A user `name@example.com` with [`PASSWORD`], made by the use-case.
    async fn user(&self, name: &str) -> UserId {
        let w = self.operator();
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
        self.totp_for(user.into()).await
    }

    /// Turns TOTP on for `account`; returns the secret.
    async fn totp_for(&self, account: Account) -> String {
        let secret = totp::new_secret().unwrap();
        self.store
            .set_totp_pending(account, Some(&secret))
            .await
            .unwrap();
        assert!(self.store.confirm_totp(account, &secret, 1).await.unwrap());
        secret
    }

    async fn failures(&self, user: UserId) -> u32 {
        self.state(user.into()).await.failures
    }

    async fn state(&self, account: Account) -> SignInState {
        self.store.sign_in_state(account).await.unwrap()
    }

    /// An admin `email` with [`PASSWORD`], made by the use-case.
    async fn admin(&self, email: &str, role: Role) -> AdminId {
        let w = self.operator();
        crate::admins::create_admin(&w, email, role, PASSWORD.into())
            .await
            .unwrap()
            .id
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
    attempt_from(login, password, "192.0.2.1")
}

/// An attempt from address `addr`.
fn attempt_from(login: &str, password: &str, addr: &str) -> Attempt {
    Attempt {
        login: login.into(),
        password: password.into(),
        client: from(addr),
        presented_token: None,
    }
}

/// The `n`th of many addresses (for failures that must not be throttled
/// by the per-source rule).
fn addr(n: u32) -> String {
    format!("198.51.100.{}", n % 250 + 1)
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
        for i in 0..3 {
            assert_eq!(
                user(&f.l, attempt_from("ann", "wrong password", &addr(i)))
                    .await
                    .unwrap(),
                Outcome::WrongCredentials
            );
        }
        let until = f.l.now() + Duration::minutes(15);
        assert_eq!(
            user(&f.l, attempt_from("ann", PASSWORD, &addr(9)))
                .await
                .unwrap(),
            Outcome::Locked { until: Some(until) },
            "the right password does not open a locked account"
        );
        let state = f.state(ann.into()).await;
        assert_eq!((state.locked_until, state.lock_count), (Some(until), 1));
        f.store.reset_login_failures(ann.into()).await.unwrap();
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
            guesses.spawn(async move {
                let guess = format!("guess number {i}");
                user(&l, attempt_from("ann", &guess, &addr(i))).await
            });
        }
        let mut wrong = 0;
        let mut locked = 0;
        while let Some(outcome) = guesses.join_next().await {
            match outcome.unwrap().unwrap() {
                Outcome::WrongCredentials => wrong += 1,
                Outcome::Locked { .. } => locked += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((wrong, locked), (3, 5));
        let state = f.state(ann.into()).await;
        assert!(state.is_locked(f.l.now()), "{state:?}");
        assert_eq!(state.lock_count, 1, "one lock for one exhaustion");
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
    f.store.reset_login_failures(ann.into()).await.unwrap();

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
        SecondFactor::Locked {
            until: Some(f.l.now() + Duration::minutes(15))
        }
    );
    assert!(pending(&f.l, token_of(&out)).await.unwrap().is_none());
    f.store.reset_login_failures(ann.into()).await.unwrap();

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
    f.store.reset_totp(ann.into()).await.unwrap();
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

/// The outcome's kind, for counting.
fn kind(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::WrongCredentials => "wrong",
        Outcome::Throttled { .. } => "throttled",
        Outcome::Locked { .. } => "locked",
        Outcome::SignedIn { .. } => "signed_in",
        other => panic!("{other:?}"),
    }
}

store_test!(one_address_cannot_lock_an_account, |store| {
    let f = Fixture::new(store).await;
    let ann = f.user("ann").await;
    let stranger = "203.0.113.5";
    for _ in 0..3 {
        assert_eq!(
            user(&f.l, attempt_from("ann", "a wrong guess", stranger))
                .await
                .unwrap(),
            Outcome::WrongCredentials
        );
    }
    // From now on that address is refused for ann before any password is
    // checked, the right one too, and ann's counter does not move.
    let until = f.l.now() + Duration::minutes(15);
    for password in ["another guess", PASSWORD, "a third guess"] {
        assert_eq!(
            user(&f.l, attempt_from("ann", password, stranger))
                .await
                .unwrap(),
            Outcome::Throttled { until }
        );
    }
    assert_eq!(f.failures(ann).await, 3);
    assert!(!f.state(ann.into()).await.is_locked(f.l.now()));
    // Ann, from her own address, signs in.
    assert_eq!(
        kind(
            &user(&f.l, attempt_from("ann", PASSWORD, "192.0.2.44"))
                .await
                .unwrap()
        ),
        "signed_in"
    );
    assert_eq!(f.failures(ann).await, 0);
    // The stranger stays refused for fifteen minutes from the third
    // failure, then may guess again.
    f.clock.advance(Duration::minutes(14));
    assert_eq!(
        user(&f.l, attempt_from("ann", "a wrong guess", stranger))
            .await
            .unwrap(),
        Outcome::Throttled { until }
    );
    f.clock.advance(Duration::minutes(1));
    assert_eq!(
        user(&f.l, attempt_from("ann", "a wrong guess", stranger))
            .await
            .unwrap(),
        Outcome::WrongCredentials
    );
    let reasons: Vec<String> = f.events().await.into_iter().map(|e| e.2).collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| *r == r#"{"reason":"throttled"}"#)
            .count(),
        4,
        "{reasons:?}"
    );
    f.shutdown().await;
});

store_test!(
    parallel_guesses_from_one_address_check_at_most_three_passwords,
    |store| {
        let f = Fixture::new(store).await;
        let ann = f.user("ann").await;
        let mut guesses = tokio::task::JoinSet::new();
        for i in 0..10 {
            let l = f.l.clone();
            guesses.spawn(async move {
                let guess = format!("guess number {i}");
                user(&l, attempt_from("ann", &guess, "203.0.113.9")).await
            });
        }
        let mut counts = std::collections::BTreeMap::new();
        while let Some(outcome) = guesses.join_next().await {
            *counts.entry(kind(&outcome.unwrap().unwrap())).or_insert(0) += 1;
        }
        assert_eq!(
            counts,
            std::collections::BTreeMap::from([("throttled", 7), ("wrong", 3)])
        );
        assert_eq!(f.failures(ann).await, 3);
        assert!(!f.state(ann.into()).await.is_locked(f.l.now()));
        f.shutdown().await;
    }
);

store_test!(locks_last_longer_each_time_up_to_a_day, |store| {
    let auth = AuthSettings {
        max_failures: 2,
        ..AuthSettings::default()
    };
    let f = Fixture::with(store, auth).await;
    let ann = f.user("ann").await;
    let lock = |round: u32| {
        let f = &f;
        async move {
            for i in 0..2 {
                let from = addr(round * 2 + i);
                let out = user(&f.l, attempt_from("ann", "wrong password", &from))
                    .await
                    .unwrap();
                assert_eq!(out, Outcome::WrongCredentials, "round {round}");
            }
            f.state(ann.into()).await
        }
    };
    let minutes = [15, 30, 60, 120, 240, 480, 960, 1440, 1440];
    for (round, m) in (0u32..).zip(minutes) {
        let state = lock(round).await;
        assert_eq!(
            state.locked_until,
            Some(f.l.now() + Duration::minutes(m)),
            "lock {round}"
        );
        assert_eq!(state.lock_count, round + 1);
        assert_eq!(state.failures, 0, "a lock starts a new count");
        f.clock.advance(Duration::minutes(m) - Duration::seconds(1));
        let probe = user(&f.l, attempt_from("ann", PASSWORD, &addr(100 + round)))
            .await
            .unwrap();
        assert!(
            matches!(probe, Outcome::Locked { .. }),
            "still locked a second before the end: {probe:?}"
        );
        f.clock.advance(Duration::seconds(1));
    }
    assert_eq!(
        lanyard_core::session::lock_duration(Duration::minutes(15), 8),
        MAX_LOCKOUT
    );
    // Over: the right password signs in, and that ends the doubling.
    let out = user(&f.l, attempt_from("ann", PASSWORD, &addr(120)))
        .await
        .unwrap();
    assert_eq!(kind(&out), "signed_in");
    assert_eq!(f.state(ann.into()).await.lock_count, 0);
    let state = lock(20).await;
    assert_eq!(state.locked_until, Some(f.l.now() + Duration::minutes(15)));
    f.shutdown().await;
});

store_test!(a_counter_left_at_the_limit_becomes_a_timed_lock, |store| {
    // The rule before timed locks left a full counter and no end.
    let f = Fixture::new(store).await;
    let ann = f.user("ann").await;
    for _ in 0..5 {
        assert!(f
            .store
            .claim_login_attempt(ann.into(), 5, f.l.now())
            .await
            .unwrap());
    }
    assert_eq!(
        user(&f.l, attempt("ann", PASSWORD)).await.unwrap(),
        Outcome::Locked {
            until: Some(f.l.now() + Duration::minutes(15))
        }
    );
    f.clock.advance(Duration::minutes(15));
    assert_eq!(
        kind(&user(&f.l, attempt("ann", PASSWORD)).await.unwrap()),
        "signed_in"
    );
    f.shutdown().await;
});

store_test!(
    admins_are_throttled_counted_and_locked_like_users,
    |store| {
        let f = Fixture::new(store).await;
        let root = f.admin("root@example.com", Role::Administrator).await;
        let stranger = "203.0.113.5";
        for _ in 0..3 {
            assert_eq!(
                admin(
                    &f.l,
                    attempt_from("root@example.com", "wrong guess", stranger)
                )
                .await
                .unwrap(),
                Outcome::WrongCredentials
            );
        }
        let throttled = admin(&f.l, attempt_from("root@example.com", PASSWORD, stranger))
            .await
            .unwrap();
        assert_eq!(kind(&throttled), "throttled");
        for i in 0..2 {
            let out = admin(&f.l, attempt_from("root@example.com", "guess", &addr(i)))
                .await
                .unwrap();
            assert_eq!(out, Outcome::WrongCredentials);
        }
        let until = f.l.now() + Duration::minutes(15);
        assert_eq!(
            admin(&f.l, attempt_from("root@example.com", PASSWORD, &addr(7)))
                .await
                .unwrap(),
            Outcome::Locked { until: Some(until) },
            "the fifth failure locked the admin"
        );
        let w = f.operator();
        let after = crate::admins::unlock_admin(&w, root).await.unwrap();
        assert!(!after.is_locked(f.l.now()));
        assert_eq!(
            kind(
                &admin(&f.l, attempt_from("root@example.com", PASSWORD, &addr(7)))
                    .await
                    .unwrap()
            ),
            "signed_in"
        );
        let events = f.events().await;
        let failed: Vec<&str> = events
            .iter()
            .filter(|e| e.0 == "admin.sign_in_failed")
            .map(|e| e.2.as_str())
            .collect();
        assert_eq!(failed.len(), 7, "{failed:?}");
        assert_eq!(failed[3], r#"{"reason":"throttled"}"#);
        assert!(
            failed[5].contains(r#""reason":"wrong_password""#)
                && failed[5].contains(r#""locked_until":"2025-03-01T12:15:00Z""#),
            "the failure that locked says until when: {}",
            failed[5]
        );
        assert_eq!(failed[6], r#"{"reason":"locked"}"#);
        f.shutdown().await;
    }
);

store_test!(an_admin_with_totp_signs_in_with_the_code, |store| {
    let f = Fixture::new(store).await;
    let root = f.admin("root@example.com", Role::Administrator).await;
    let secret = f.totp_for(root.into()).await;
    let out = admin(&f.l, attempt("root@example.com", PASSWORD))
        .await
        .unwrap();
    let Outcome::NeedsSecondFactor { token } = out else {
        panic!("{out:?}");
    };
    assert!(
        f.l.authenticate_admin_session(&token)
            .await
            .unwrap()
            .is_none(),
        "the password alone reaches nothing"
    );
    let session = admin_pending(&f.l, &token, SessionStage::AwaitingTotp)
        .await
        .unwrap()
        .unwrap();
    let client = from("192.0.2.1");
    assert_eq!(
        admin_second_factor(&f.l, &session, &wrong_code(&secret, f.l.now()), &client)
            .await
            .unwrap(),
        SecondFactor::WrongCode
    );
    assert_eq!(f.state(root.into()).await.failures, 2, "password and code");
    let code = totp::code_at(&secret, f.l.now()).unwrap();
    let SecondFactor::SignedIn { token: done } =
        admin_second_factor(&f.l, &session, &code, &client)
            .await
            .unwrap()
    else {
        panic!("the right code signs in");
    };
    let signed =
        f.l.authenticate_admin_session(&done)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(signed.admin.id, root);
    assert_eq!(signed.session.methods, AuthMethods::PasswordTotp);
    assert!(signed.admin.second_factor);
    assert!(f
        .l
        .authenticate_admin_session(&token)
        .await
        .unwrap()
        .is_none());
    assert_eq!(f.state(root.into()).await.failures, 0);
    let last = f.events().await.pop().unwrap();
    assert_eq!(last.0, "admin.sign_in");
    assert!(last.2.contains("password+totp"), "{last:?}");
    f.shutdown().await;
});

store_test!(
    a_required_second_factor_is_enrolled_before_anything_else,
    |store| {
        let auth = AuthSettings {
            require_admin_second_factor: true,
            ..AuthSettings::default()
        };
        let f = Fixture::with(store, auth).await;
        let root = f.admin("root@example.com", Role::Administrator).await;
        let client = from("192.0.2.1");
        let out = admin(&f.l, attempt("root@example.com", PASSWORD))
            .await
            .unwrap();
        let Outcome::MustEnroll { token } = out else {
            panic!("{out:?}");
        };
        assert!(
            f.l.authenticate_admin_session(&token)
                .await
                .unwrap()
                .is_none(),
            "an enrolling session reaches nothing else"
        );
        assert!(admin_pending(&f.l, &token, SessionStage::AwaitingTotp)
            .await
            .unwrap()
            .is_none());
        let session = admin_pending(&f.l, &token, SessionStage::Enrolling)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            crate::admins::finish_enrollment(&f.l, &session, &client)
                .await
                .unwrap(),
            None,
            "no second factor yet"
        );
        let owner = crate::admins::enrolling_owner(&f.l, &session)
            .await
            .unwrap();
        let crate::factors::TotpPage::Enrolling(e) =
            crate::factors::start_totp(&f.l, &owner).await.unwrap()
        else {
            panic!("a new secret to enroll");
        };
        let code = totp::code_at(&e.secret, f.l.now()).unwrap();
        assert!(matches!(
            crate::factors::confirm_totp(&f.l, &owner, &code, &client)
                .await
                .unwrap(),
            crate::factors::TotpConfirmation::Enabled
        ));
        let done = crate::admins::finish_enrollment(&f.l, &session, &client)
            .await
            .unwrap()
            .unwrap();
        let signed =
            f.l.authenticate_admin_session(&done)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(signed.session.methods, AuthMethods::PasswordTotp);
        assert!(f
            .l
            .authenticate_admin_session(&token)
            .await
            .unwrap()
            .is_none());
        // Required: it cannot be turned off by its owner.
        f.clock.advance(Duration::seconds(30));
        let now_code = totp::code_at(&e.secret, f.l.now()).unwrap();
        assert_eq!(
            crate::factors::remove_totp(&f.l, &crate::admins::owner(&signed), &now_code, &client)
                .await
                .unwrap(),
            crate::factors::TotpRemoval::Required
        );
        // The next sign-in asks for the code.
        assert!(matches!(
            admin(&f.l, attempt("root@example.com", PASSWORD))
                .await
                .unwrap(),
            Outcome::NeedsSecondFactor { .. }
        ));
        // Break-glass on the host: the factor goes, the sessions end, and
        // the admin enrolls again at the next sign-in.
        let w = f.operator();
        let reset = crate::admins::reset_admin_totp(&w, root).await.unwrap();
        assert!(!reset.second_factor);
        assert!(f
            .l
            .authenticate_admin_session(&done)
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            admin(&f.l, attempt("root@example.com", PASSWORD))
                .await
                .unwrap(),
            Outcome::MustEnroll { .. }
        ));
        let events = f.events().await;
        let enrolled: Vec<_> = events.iter().filter(|e| e.0 == "admin.sign_in").collect();
        assert!(enrolled[0].2.contains(r#""enrolled":true"#), "{enrolled:?}");
        let page = f
            .store
            .list_audit_events(&AuditFilter {
                action: Some("admin.totp.reset".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].actor, "cli");
        assert_eq!(page.items[0].target, format!("admin:{root}"));
        f.shutdown().await;
    }
);

store_test!(the_last_active_administrator_stays, |store| {
    let f = Fixture::new(store).await;
    let root = f.admin("root@example.com", Role::Administrator).await;
    let viewer = f.admin("viewer@example.com", Role::ReadOnly).await;
    let w = f.operator();
    let refused = |r: lanyard_core::Result<lanyard_core::admin::Admin>| match r {
        Err(Error::Refused(m)) => m,
        other => panic!("{:?}", other.map(|_| ())),
    };
    let demote = crate::admins::AdminChange {
        role: Some(Role::ReadOnly),
        disabled: None,
    };
    let disable = crate::admins::AdminChange {
        role: None,
        disabled: Some(true),
    };
    use crate::admins::{delete_admin, update_admin, LAST_ADMINISTRATOR};
    assert_eq!(
        refused(delete_admin(&w, root).await),
        LAST_ADMINISTRATOR,
        "a read-only admin does not count"
    );
    assert_eq!(
        refused(update_admin(&w, root, demote.clone()).await),
        LAST_ADMINISTRATOR
    );
    assert_eq!(
        refused(update_admin(&w, root, disable.clone()).await),
        LAST_ADMINISTRATOR
    );
    let still = f.store.get_admin(root).await.unwrap();
    assert!(
        still.is_active_administrator(),
        "nothing changed: {still:?}"
    );
    // With a second administrator, one may go; then the other is the last.
    let promote = crate::admins::AdminChange {
        role: Some(Role::Administrator),
        disabled: None,
    };
    update_admin(&w, viewer, promote).await.unwrap();
    update_admin(&w, root, disable.clone()).await.unwrap();
    assert_eq!(
        refused(delete_admin(&w, viewer).await),
        LAST_ADMINISTRATOR,
        "a disabled administrator does not count"
    );
    let enable = crate::admins::AdminChange {
        role: None,
        disabled: Some(false),
    };
    update_admin(&w, root, enable).await.unwrap();
    delete_admin(&w, viewer).await.unwrap();
    f.l.audit().flush().await;
    let updates = f
        .store
        .list_audit_events(&AuditFilter {
            action: Some("admin.update".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(updates.items.len(), 3, "refused changes leave no event");
    f.shutdown().await;
});

store_test!(disabling_an_admin_ends_their_sessions, |store| {
    let f = Fixture::new(store).await;
    f.admin("root@example.com", Role::Administrator).await;
    let ann = f.admin("ann@example.com", Role::Administrator).await;
    let out = admin(&f.l, attempt("ann@example.com", PASSWORD))
        .await
        .unwrap();
    let w = f.operator();
    let change = crate::admins::AdminChange {
        role: None,
        disabled: Some(true),
    };
    crate::admins::update_admin(&w, ann, change).await.unwrap();
    assert!(f
        .l
        .authenticate_admin_session(token_of(&out))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        admin(&f.l, attempt("ann@example.com", PASSWORD))
            .await
            .unwrap(),
        Outcome::Suspended
    );
    assert_eq!(
        admin(&f.l, attempt("ann@example.com", "wrong password"))
            .await
            .unwrap(),
        Outcome::WrongCredentials,
        "a guesser is not told"
    );
    f.shutdown().await;
});

store_test!(expired_api_keys_authenticate_nobody, |store| {
    let f = Fixture::new(store).await;
    let w = f.operator();
    let (key, secret) = crate::admins::create_key(
        &w,
        "ci",
        Role::ReadOnly,
        Some(f.l.now() + Duration::days(1)),
    )
    .await
    .unwrap();
    assert_eq!(key.created_by.as_deref(), Some("cli"));
    assert!(matches!(
        f.l.authenticate_api_key(&secret).await.unwrap(),
        crate::KeyCheck::Valid(_)
    ));
    f.clock.advance(Duration::days(1));
    assert!(matches!(
        f.l.authenticate_api_key(&secret).await.unwrap(),
        crate::KeyCheck::Expired
    ));
    // A writer's "now" is its request's: a new one for the later request.
    let w = f.operator();
    match crate::admins::create_key(&w, "late", Role::ReadOnly, Some(f.l.now())).await {
        Err(Error::Invalid(fields)) => {
            assert_eq!(fields["expires_at"], "must be in the future")
        }
        other => panic!("{:?}", other.map(|(k, _)| k)),
    }
    f.shutdown().await;
});

store_test!(passwords_follow_the_rules_of_their_kind, |store| {
    let f = Fixture::new(store).await;
    let w = f.operator();
    let refused = |r: lanyard_core::Result<lanyard_core::admin::Admin>| match r {
        Err(Error::Invalid(fields)) => fields["password"].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(
            crate::admins::create_admin(&w, "a@example.com", Role::ReadOnly, "eleven char".into())
                .await
        ),
        "must be between 12 and 256 characters"
    );
    let common = refused(
        crate::admins::create_admin(&w, "a@example.com", Role::ReadOnly, "password1234".into())
            .await,
    );
    assert!(common.starts_with("is too easy to guess: "), "{common}");
    // Users: 8 at least, and the same list.
    let form = |password: &str| CreateUserForm {
        email: "u@example.com".into(),
        username: "u".into(),
        first_name: String::new(),
        last_name: String::new(),
        attributes: Default::default(),
        password: Some(password.into()),
    };
    match users::create(&w, form("iloveyou")).await {
        Err(Error::Invalid(fields)) => {
            assert!(
                fields["password"].starts_with("is too easy to guess"),
                "{fields:?}"
            )
        }
        other => panic!("{:?}", other.map(|u| u.id)),
    }
    users::create(&w, form("kestrel umbra")).await.unwrap();
    f.shutdown().await;
});
