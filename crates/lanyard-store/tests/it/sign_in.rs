//! SignInStore on every backend: sessions (create, find whatever their
//! liveness, touch, complete, list, revoke, purge), the lockout counter, TOTP
//! enrolment and single-use steps, AuthnRequest replay memory, the cascades
//! from users and apps, and the two atomic checks under parallel callers.

use std::sync::Arc;

use crate::common::apps::{app_missing, create, not_found};
use crate::common::{at, new_user};
use lanyard_core::directory::User;
use lanyard_core::session::{
    token_hash, Account, AuthMethods, EndedSession, NewSession, Session, SessionEnd, SessionStage,
    SignInState,
};
use lanyard_core::store::{AppStore, SignInStore, UserStore};
use lanyard_core::{AppId, SessionId, UserId};
use lanyard_store::testing::count_rows;
use lanyard_store::{store_test, SqlStore};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

async fn user(store: &SqlStore, name: &str) -> User {
    store
        .create_user(&new_user(&format!("{name}@example.com"), name), None, at(0))
        .await
        .unwrap()
}

/// A session for `user` made at `at(secs)`, ending 12 hours later.
fn new_session(user: UserId, token: &str, secs: i64) -> NewSession {
    NewSession {
        token_hash: token_hash(token),
        user_id: user,
        stage: SessionStage::Complete,
        methods: AuthMethods::Password,
        csrf_secret: format!("csrf-{token}"),
        now: at(secs),
        expires_at: at(secs) + Duration::hours(12),
        client: Some("192.0.2.1".into()),
        user_agent: Some("Mozilla/5.0 \u{e9}".into()),
    }
}

async fn session(store: &SqlStore, user: UserId, token: &str, secs: i64) -> Session {
    store
        .create_session(&new_session(user, token, secs))
        .await
        .unwrap()
}

fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

fn user_missing(id: UserId) -> (&'static str, String) {
    ("user", id.to_string())
}

fn session_missing(id: SessionId) -> (&'static str, String) {
    ("session", id.to_string())
}

store_test!(sessions_are_created_found_touched_and_completed, |store| {
    let ann = user(&store, "ann").await;
    let new = NewSession {
        stage: SessionStage::AwaitingTotp,
        client: None,
        user_agent: None,
        ..new_session(ann.id, "tok-1", 10)
    };
    let created = store.create_session(&new).await.unwrap();
    assert_eq!(created.user_id, ann.id);
    assert_eq!(created.stage, SessionStage::AwaitingTotp);
    assert_eq!(created.csrf_secret, "csrf-tok-1");
    assert_eq!(
        (created.created_at, created.last_seen_at, created.expires_at),
        (at(10), at(10), at(10) + Duration::hours(12))
    );
    assert_eq!(
        (created.client.clone(), created.user_agent.clone()),
        (None, None)
    );
    let found = store.find_session(&token_hash("tok-1")).await.unwrap();
    assert_eq!(found, Some(created.clone()));
    assert_eq!(
        store.find_session(&token_hash("tok-2")).await.unwrap(),
        None
    );
    assert_eq!(store.find_session("").await.unwrap(), None);

    // Optional columns round-trip.
    let other = session(&store, ann.id, "tok-2", 20).await;
    assert_eq!(other.client.as_deref(), Some("192.0.2.1"));
    assert_eq!(other.user_agent.as_deref(), Some("Mozilla/5.0 \u{e9}"));
    assert!(other.id > created.id);

    assert_eq!(
        store
            .touch_sessions(&[created.id, other.id, SessionId(999)], at(100))
            .await
            .unwrap(),
        2,
        "the missing one is skipped"
    );
    assert_eq!(
        store.touch_sessions(&[created.id], at(50)).await.unwrap(),
        0,
        "never moved back"
    );
    let touched = store
        .find_session(&token_hash("tok-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.last_seen_at, at(100));
    assert_eq!(touched.created_at, at(10));

    assert_eq!(
        (touched.methods, touched.authenticated_at),
        (AuthMethods::Password, at(10))
    );

    // The second factor: complete, under a new token, authenticated now.
    let done = store
        .complete_session(created.id, &token_hash("tok-1b"), at(110))
        .await
        .unwrap();
    assert_eq!(done.stage, SessionStage::Complete);
    assert_eq!(done.last_seen_at, at(110));
    assert_eq!(
        (done.methods, done.authenticated_at),
        (AuthMethods::PasswordTotp, at(110))
    );
    assert_eq!((done.id, done.created_at), (created.id, created.created_at));
    assert_eq!(
        store.find_session(&token_hash("tok-1")).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_session(&token_hash("tok-1b")).await.unwrap(),
        Some(done.clone())
    );
    // Confirming the password again moves only the authentication time.
    let again = store
        .reauthenticate_session(created.id, at(200))
        .await
        .unwrap();
    assert_eq!(
        (again.methods, again.authenticated_at, again.last_seen_at),
        (AuthMethods::PasswordTotp, at(200), at(200))
    );
    assert_eq!(
        not_found(store.reauthenticate_session(SessionId(999), at(0)).await),
        session_missing(SessionId(999))
    );

    // Found whatever its liveness: the caller judges.
    let long_after = done.expires_at + Duration::days(30);
    let stale = store
        .find_session(&token_hash("tok-1b"))
        .await
        .unwrap()
        .unwrap();
    assert!(!stale.is_live(long_after, Duration::hours(1)));

    // Missing sessions and users.
    assert_eq!(
        not_found(store.complete_session(SessionId(999), "h", at(0)).await),
        session_missing(SessionId(999))
    );
    let nobody = UserId(999);
    assert_eq!(
        not_found(store.create_session(&new_session(nobody, "tok-3", 0)).await),
        user_missing(nobody)
    );
    assert_eq!(count_rows(&store, "sessions").await, 2);
});

store_test!(sessions_are_listed_newest_first_and_revoked, |store| {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let a1 = session(&store, ann.id, "a1", 0).await;
    let b1 = session(&store, bob.id, "b1", 1).await;
    let a2 = session(&store, ann.id, "a2", 2).await;
    let a3 = session(&store, ann.id, "a3", 3).await;

    let listed = store.list_user_sessions(ann.id).await.unwrap();
    assert_eq!(ids(&listed), vec![a3.id, a2.id, a1.id]);
    assert_eq!(listed[0], a3);
    assert_eq!(
        store.list_user_sessions(bob.id).await.unwrap(),
        vec![b1.clone()]
    );

    // One session, only by its owner.
    store
        .revoke_user_session(ann.id, a2.id, at(10))
        .await
        .unwrap();
    assert_eq!(store.find_session(&token_hash("a2")).await.unwrap(), None);
    assert_eq!(
        not_found(store.revoke_user_session(ann.id, a2.id, at(11)).await),
        session_missing(a2.id)
    );
    assert_eq!(
        not_found(store.revoke_user_session(ann.id, b1.id, at(11)).await),
        session_missing(b1.id),
        "another user's session"
    );
    // It went to the history, with when and why; nothing of bob's did.
    let history = store.list_ended_sessions(ann.id, 50).await.unwrap();
    assert_eq!(
        history,
        vec![EndedSession {
            id: a2.id,
            user_id: ann.id,
            stage: a2.stage,
            created_at: a2.created_at,
            last_seen_at: a2.last_seen_at,
            ended_at: at(10),
            reason: SessionEnd::Revoked,
            methods: a2.methods,
            client: a2.client.clone(),
            user_agent: a2.user_agent.clone(),
        }]
    );
    assert!(store
        .list_ended_sessions(bob.id, 50)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .find_session(&token_hash("b1"))
        .await
        .unwrap()
        .is_some());

    // Ending (sign-out) is idempotent, and recorded once.
    let out = SessionEnd::SignedOut;
    store.end_session(a3.id, out, at(20)).await.unwrap();
    store.end_session(a3.id, out, at(21)).await.unwrap();
    store
        .end_session(SessionId(999), out, at(21))
        .await
        .unwrap();
    assert_eq!(
        ids(&store.list_user_sessions(ann.id).await.unwrap()),
        vec![a1.id]
    );
    let ends = |h: Vec<EndedSession>| -> Vec<(SessionId, SessionEnd, OffsetDateTime)> {
        h.into_iter()
            .map(|e| (e.id, e.reason, e.ended_at))
            .collect()
    };
    assert_eq!(
        ends(store.list_ended_sessions(ann.id, 50).await.unwrap()),
        vec![
            (a3.id, SessionEnd::SignedOut, at(20)),
            (a2.id, SessionEnd::Revoked, at(10))
        ]
    );

    // All of a user's sessions.
    let a4 = session(&store, ann.id, "a4", 4).await;
    let changed = SessionEnd::PasswordChanged;
    assert_eq!(
        store
            .revoke_user_sessions(ann.id, changed, at(30))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .revoke_user_sessions(ann.id, changed, at(31))
            .await
            .unwrap(),
        0
    );
    assert!(store.list_user_sessions(ann.id).await.unwrap().is_empty());
    assert_eq!(store.list_user_sessions(bob.id).await.unwrap(), vec![b1]);
    let mut history = ends(store.list_ended_sessions(ann.id, 50).await.unwrap());
    history[..2].sort_by_key(|e| e.0);
    assert_eq!(
        history,
        vec![
            (a1.id, changed, at(30)),
            (a4.id, changed, at(30)),
            (a3.id, SessionEnd::SignedOut, at(20)),
            (a2.id, SessionEnd::Revoked, at(10))
        ]
    );
    assert_eq!(store.list_ended_sessions(ann.id, 1).await.unwrap().len(), 1);

    let nobody = UserId(999);
    assert_eq!(
        not_found(store.list_user_sessions(nobody).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.revoke_user_sessions(nobody, changed, at(40)).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.revoke_user_session(nobody, a1.id, at(40)).await),
        session_missing(a1.id)
    );
    assert_eq!(
        not_found(store.list_ended_sessions(nobody, 50).await),
        user_missing(nobody)
    );
});

store_test!(purge_deletes_ended_and_idle_sessions, |store| {
    let ann = user(&store, "ann").await;
    let now = at(100_000);
    let idle_before = now - Duration::hours(1);
    let mut ended = new_session(ann.id, "ended", 0);
    ended.expires_at = now;
    let ended = store.create_session(&ended).await.unwrap();
    assert_eq!(store.touch_sessions(&[ended.id], now).await.unwrap(), 1);
    let idle = session(&store, ann.id, "idle", 90_000).await;
    let just_idle = session(&store, ann.id, "edge", 100_000 - 3600).await;
    let live = session(&store, ann.id, "live", 99_000).await;
    assert_eq!(just_idle.last_seen_at, idle_before, "the boundary is kept");

    assert_eq!(store.purge_sessions(now, idle_before).await.unwrap(), 2);
    assert_eq!(
        ids(&store.list_user_sessions(ann.id).await.unwrap()),
        vec![live.id, just_idle.id]
    );
    for gone in ["ended", "idle"] {
        assert_eq!(store.find_session(&token_hash(gone)).await.unwrap(), None);
    }
    assert!(idle.last_seen_at < idle_before);
    assert_eq!(store.purge_sessions(now, idle_before).await.unwrap(), 0);
    // Each went to the history with its own reason.
    let mut history: Vec<_> = store
        .list_ended_sessions(ann.id, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.reason, e.ended_at))
        .collect();
    history.sort_by_key(|e| e.0);
    assert_eq!(
        history,
        vec![
            (ended.id, SessionEnd::Expired, now),
            (idle.id, SessionEnd::Idle, now)
        ]
    );
});

store_test!(ended_sessions_are_pruned_oldest_first_in_batches, |store| {
    let ann = user(&store, "ann").await;
    for i in 0..5 {
        let s = session(&store, ann.id, &format!("s{i}"), i).await;
        store
            .end_session(s.id, SessionEnd::SignedOut, at(1_000 * (i + 1)))
            .await
            .unwrap();
    }
    // Ended before 3,500 ms: the first three; two per statement.
    assert_eq!(store.prune_ended_sessions(at(3_500), 2).await.unwrap(), 2);
    assert_eq!(store.prune_ended_sessions(at(3_500), 2).await.unwrap(), 1);
    assert_eq!(store.prune_ended_sessions(at(3_500), 2).await.unwrap(), 0);
    let left: Vec<_> = store
        .list_ended_sessions(ann.id, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.ended_at)
        .collect();
    assert_eq!(left, vec![at(5_000), at(4_000)]);
});

store_test!(deleting_a_user_deletes_their_sessions_and_state, |store| {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    session(&store, ann.id, "a1", 0).await;
    session(&store, ann.id, "a2", 1).await;
    let b1 = session(&store, bob.id, "b1", 2).await;
    store
        .set_totp_pending(ann.id.into(), Some("SECRET"))
        .await
        .unwrap();
    assert!(store
        .claim_login_attempt(ann.id.into(), 5, at(0))
        .await
        .unwrap());

    store
        .end_session(b1.id, SessionEnd::SignedOut, at(3))
        .await
        .unwrap();
    let b2 = session(&store, bob.id, "b2", 3).await;
    let a3 = session(&store, ann.id, "a3", 3).await;
    store
        .end_session(a3.id, SessionEnd::SignedOut, at(4))
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "ended_sessions").await, 2);

    store.delete_user(ann.id).await.unwrap();
    assert_eq!(count_rows(&store, "sessions").await, 1);
    assert_eq!(count_rows(&store, "ended_sessions").await, 1, "bob's stays");
    let b1 = b2;
    assert_eq!(store.find_session(&token_hash("a1")).await.unwrap(), None);
    assert_eq!(store.list_user_sessions(bob.id).await.unwrap(), vec![b1]);
    assert_eq!(
        not_found(store.sign_in_state(ann.id.into()).await),
        user_missing(ann.id)
    );
});

store_test!(login_attempts_lock_at_max_until_reset, |store| {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    assert_eq!(
        store.sign_in_state(ann.id.into()).await.unwrap(),
        SignInState {
            failures: 0,
            locked_until: None,
            lock_count: 0,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: 0,
        }
    );

    for n in 1..=3 {
        assert!(
            store
                .claim_login_attempt(ann.id.into(), 3, at(0))
                .await
                .unwrap(),
            "{n}"
        );
        assert_eq!(
            store.sign_in_state(ann.id.into()).await.unwrap().failures,
            n
        );
    }
    for _ in 0..2 {
        assert!(
            !store
                .claim_login_attempt(ann.id.into(), 3, at(0))
                .await
                .unwrap(),
            "locked"
        );
    }
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(state.failures, 3, "a refused attempt changes nothing");
    assert!(
        !state.is_locked(at(0)),
        "a full counter is not a lock by itself"
    );
    // A higher limit frees slots; zero allows nothing.
    assert!(store
        .claim_login_attempt(ann.id.into(), 4, at(0))
        .await
        .unwrap());
    assert!(!store
        .claim_login_attempt(bob.id.into(), 0, at(0))
        .await
        .unwrap());
    assert_eq!(
        store.sign_in_state(bob.id.into()).await.unwrap().failures,
        0
    );

    store.reset_login_failures(ann.id.into()).await.unwrap();
    assert_eq!(
        store.sign_in_state(ann.id.into()).await.unwrap().failures,
        0
    );
    assert!(store
        .claim_login_attempt(ann.id.into(), 3, at(0))
        .await
        .unwrap());
    store.reset_login_failures(ann.id.into()).await.unwrap();

    // Sign-in state is not a directory edit: the user row reads the same.
    assert_eq!(store.get_user(ann.id).await.unwrap(), ann);

    let nobody = UserId(999);
    assert_eq!(
        not_found(store.claim_login_attempt(nobody.into(), 3, at(0)).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.reset_login_failures(nobody.into()).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.sign_in_state(nobody.into()).await),
        user_missing(nobody)
    );
});

store_test!(a_full_counter_locks_once_and_doubles, |store| {
    let ann = user(&store, "ann").await;
    let first = Duration::minutes(15);
    let lock = |now| store.lock_if_exhausted(ann.id.into(), 2, first, now);
    assert!(store
        .claim_login_attempt(ann.id.into(), 2, at(0))
        .await
        .unwrap());
    assert_eq!(lock(at(0)).await.unwrap(), None, "not exhausted yet");
    assert!(store
        .claim_login_attempt(ann.id.into(), 2, at(0))
        .await
        .unwrap());
    assert_eq!(lock(at(0)).await.unwrap(), Some(at(0) + first));
    assert_eq!(lock(at(0)).await.unwrap(), None, "one lock per exhaustion");
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!((state.failures, state.lock_count), (0, 1));
    assert!(state.is_locked(at(899)) && !state.is_locked(at(900)));
    // Locked: no slot, whatever the counter.
    assert!(!store
        .claim_login_attempt(ann.id.into(), 2, at(899))
        .await
        .unwrap());
    // Over: the next exhaustion locks twice as long, and so on to a day.
    let mut now = at(900);
    for minutes in [30, 60, 120, 240, 480, 960, 1440, 1440, 1440] {
        for _ in 0..2 {
            assert!(store
                .claim_login_attempt(ann.id.into(), 2, now)
                .await
                .unwrap());
        }
        let until = lock(now).await.unwrap().unwrap();
        assert_eq!(until - now, Duration::minutes(minutes));
        now = until;
    }
    // Unlock: everything back to 0.
    store.reset_login_failures(ann.id.into()).await.unwrap();
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(
        (state.failures, state.locked_until, state.lock_count),
        (0, None, 0)
    );
    assert_eq!(
        not_found(
            store
                .lock_if_exhausted(UserId(999).into(), 2, first, at(0))
                .await
        ),
        user_missing(UserId(999))
    );
});

store_test!(a_source_has_three_slots_per_account_then_a_block, |store| {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    let (a, b): (Account, Account) = (ann.id.into(), bob.id.into());
    let src = "203.0.113.5";
    for _ in 0..3 {
        assert_eq!(
            store.claim_source_attempt(a, src, at(0)).await.unwrap(),
            None
        );
    }
    // Used up while the three guesses are being checked: refused until the
    // window ends.
    assert_eq!(
        store.claim_source_attempt(a, src, at(10)).await.unwrap(),
        Some(at(900))
    );
    // Other accounts and other sources are not affected.
    assert_eq!(
        store.claim_source_attempt(b, src, at(10)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .claim_source_attempt(a, "203.0.113.6", at(10))
            .await
            .unwrap(),
        None
    );
    // The third guess failed: blocked for fifteen minutes from then.
    store
        .block_source_if_exhausted(a, src, at(20))
        .await
        .unwrap();
    assert_eq!(
        store.claim_source_attempt(a, src, at(100)).await.unwrap(),
        Some(at(920))
    );
    assert_eq!(
        store.claim_source_attempt(a, src, at(920)).await.unwrap(),
        None
    );
    // Blocking below three failures does nothing.
    store
        .block_source_if_exhausted(b, src, at(30))
        .await
        .unwrap();
    assert_eq!(
        store.claim_source_attempt(b, src, at(30)).await.unwrap(),
        None
    );
    // A window that ended starts again at one.
    assert_eq!(
        store.claim_source_attempt(b, src, at(2000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.claim_source_attempt(b, src, at(2001)).await.unwrap(),
        None
    );
    assert_eq!(
        store.claim_source_attempt(b, src, at(2002)).await.unwrap(),
        None
    );
    assert_eq!(
        store.claim_source_attempt(b, src, at(2003)).await.unwrap(),
        Some(at(2900))
    );
    // Forgetting one source, then all of an account's.
    store.forget_sources(b, Some(src)).await.unwrap();
    assert_eq!(
        store.claim_source_attempt(b, src, at(2004)).await.unwrap(),
        None
    );
    assert_eq!(count_rows(&store, "sign_in_sources").await, 3);
    store.forget_sources(a, None).await.unwrap();
    assert_eq!(count_rows(&store, "sign_in_sources").await, 1);
    // Rows whose window and block are over are purged.
    assert_eq!(store.purge_sources(at(2903)).await.unwrap(), 0);
    assert_eq!(store.purge_sources(at(2904)).await.unwrap(), 1);
});

store_test!(totp_is_enrolled_confirmed_and_reset, |store| {
    let ann = user(&store, "ann").await;
    assert!(
        !store
            .confirm_totp(ann.id.into(), "FIRST", 10)
            .await
            .unwrap(),
        "nothing pending"
    );

    store
        .set_totp_pending(ann.id.into(), Some("FIRST"))
        .await
        .unwrap();
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(
        (state.totp_secret.as_deref(), state.totp_pending.as_deref()),
        (None, Some("FIRST"))
    );
    assert!(!state.totp_enabled());

    assert!(
        !store
            .confirm_totp(ann.id.into(), "OTHER", 100)
            .await
            .unwrap(),
        "a secret that is no longer pending is not confirmed"
    );
    assert!(store
        .confirm_totp(ann.id.into(), "FIRST", 100)
        .await
        .unwrap());
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(state.totp_secret.as_deref(), Some("FIRST"));
    assert_eq!(
        (state.totp_pending.as_deref(), state.totp_last_step),
        (None, 100)
    );
    assert!(state.totp_enabled());
    assert!(
        !store
            .confirm_totp(ann.id.into(), "FIRST", 101)
            .await
            .unwrap(),
        "once"
    );
    assert!(
        !store.use_totp_step(ann.id.into(), 100).await.unwrap(),
        "the step was used"
    );

    // Re-enrolling keeps the enrolled secret until the new one is confirmed;
    // abandoning it keeps it too.
    store
        .set_totp_pending(ann.id.into(), Some("SECOND"))
        .await
        .unwrap();
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(
        (state.totp_secret.as_deref(), state.totp_pending.as_deref()),
        (Some("FIRST"), Some("SECOND"))
    );
    store.set_totp_pending(ann.id.into(), None).await.unwrap();
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(
        (state.totp_secret.as_deref(), state.totp_pending.as_deref()),
        (Some("FIRST"), None)
    );
    store
        .set_totp_pending(ann.id.into(), Some("THIRD"))
        .await
        .unwrap();
    assert!(store
        .confirm_totp(ann.id.into(), "THIRD", 200)
        .await
        .unwrap());
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!(
        (state.totp_secret.as_deref(), state.totp_last_step),
        (Some("THIRD"), 200)
    );

    // Reset removes both secrets.
    store
        .set_totp_pending(ann.id.into(), Some("FOURTH"))
        .await
        .unwrap();
    store.reset_totp(ann.id.into()).await.unwrap();
    let state = store.sign_in_state(ann.id.into()).await.unwrap();
    assert_eq!((state.totp_secret, state.totp_pending), (None, None));
    assert_eq!(store.get_user(ann.id).await.unwrap(), ann);

    let nobody = UserId(999);
    assert_eq!(
        not_found(store.set_totp_pending(nobody.into(), Some("X")).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.set_totp_pending(nobody.into(), None).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.confirm_totp(nobody.into(), "X", 1).await),
        user_missing(nobody)
    );
    assert_eq!(
        not_found(store.reset_totp(nobody.into()).await),
        user_missing(nobody)
    );
});

store_test!(totp_steps_are_used_once_and_only_forward, |store| {
    let ann = user(&store, "ann").await;
    let bob = user(&store, "bob").await;
    assert!(store
        .use_totp_step(ann.id.into(), 56_000_000)
        .await
        .unwrap());
    assert!(
        !store
            .use_totp_step(ann.id.into(), 56_000_000)
            .await
            .unwrap(),
        "replay"
    );
    assert!(
        !store
            .use_totp_step(ann.id.into(), 55_999_999)
            .await
            .unwrap(),
        "older"
    );
    assert!(store
        .use_totp_step(ann.id.into(), 56_000_001)
        .await
        .unwrap());
    assert_eq!(
        store
            .sign_in_state(ann.id.into())
            .await
            .unwrap()
            .totp_last_step,
        56_000_001
    );
    assert!(
        store
            .use_totp_step(bob.id.into(), 56_000_000)
            .await
            .unwrap(),
        "steps are per user"
    );
    let nobody = UserId(999);
    assert_eq!(
        not_found(store.use_totp_step(nobody.into(), 1).await),
        user_missing(nobody)
    );
});

store_test!(
    force_authn_requests_keep_when_they_were_first_seen,
    |store| {
        let app = create(&store, "custom", "Custom").await;
        let note = |id: &'static str, now: i64, until: i64| {
            let store = store.clone();
            async move {
                store
                    .note_forced_authn(app.id, id, at(now), at(until))
                    .await
            }
        };
        assert_eq!(note("_f1", 10, 600).await.unwrap(), at(10));
        assert_eq!(
            note("_f1", 50, 640).await.unwrap(),
            at(10),
            "the first sighting stays"
        );
        assert_eq!(note("_f2", 60, 100).await.unwrap(), at(60));
        assert_eq!(count_rows(&store, "sso_force_authn").await, 2);
        // Expired entries go; the same ID is then new again.
        assert_eq!(note("_f2", 100, 700).await.unwrap(), at(100));
        assert_eq!(note("_f1", 600, 900).await.unwrap(), at(600));
        match store
            .note_forced_authn(AppId(999), "_x", at(0), at(60))
            .await
        {
            Err(lanyard_core::Error::NotFound { kind, .. }) => assert_eq!(kind, "application"),
            other => panic!("{other:?}"),
        }
        store.delete_apps(&[app.id]).await.unwrap();
        assert_eq!(
            count_rows(&store, "sso_force_authn").await,
            0,
            "gone with the app"
        );
    }
);

store_test!(request_ids_are_remembered_until_they_expire, |store| {
    let app = create(&store, "aws", "AWS").await;
    let other = create(&store, "other", "Other").await;
    let remember = |app: AppId, id: &'static str, now: i64, until: i64| {
        let store = store.clone();
        async move { store.remember_request_id(app, id, at(now), at(until)).await }
    };

    assert!(remember(app.id, "_r1", 0, 300).await.unwrap());
    assert!(!remember(app.id, "_r1", 10, 310).await.unwrap(), "replay");
    assert!(
        !remember(app.id, "_r1", 299, 599).await.unwrap(),
        "not yet expired"
    );
    assert!(remember(other.id, "_r1", 10, 310).await.unwrap(), "per app");
    assert!(
        remember(app.id, "_R1", 10, 310).await.unwrap(),
        "IDs are exact"
    );
    assert!(remember(app.id, "_r2", 100, 200).await.unwrap());
    assert_eq!(count_rows(&store, "seen_requests").await, 4);

    // At its expiry an ID is forgotten, and may be used again (until it
    // expires anew); the app's other expired IDs are forgotten on the way,
    // another app's are not.
    assert!(remember(app.id, "_r1", 300, 600).await.unwrap());
    assert!(!remember(app.id, "_r1", 301, 601).await.unwrap());
    assert_eq!(
        count_rows(&store, "seen_requests").await,
        3,
        "_r2 forgotten"
    );
    assert!(remember(app.id, "_r2", 301, 601).await.unwrap());

    let missing = AppId(999);
    assert_eq!(
        not_found(remember(missing, "_r1", 0, 300).await),
        app_missing(missing)
    );
});

store_test!(deleting_an_app_forgets_its_request_ids, |store| {
    let app = create(&store, "aws", "AWS").await;
    let other = create(&store, "other", "Other").await;
    for id in ["_a", "_b"] {
        assert!(store
            .remember_request_id(app.id, id, at(0), at(300))
            .await
            .unwrap());
    }
    assert!(store
        .remember_request_id(other.id, "_a", at(0), at(300))
        .await
        .unwrap());
    store.delete_apps(&[app.id]).await.unwrap();
    assert_eq!(count_rows(&store, "seen_requests").await, 1);
    assert!(!store
        .remember_request_id(other.id, "_a", at(1), at(301))
        .await
        .unwrap());
});

/// Callers started together, each making one call; how many got `true`.
async fn in_parallel<F, Fut>(callers: usize, call: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let start = Arc::new(Barrier::new(callers));
    let mut handles = Vec::new();
    for _ in 0..callers {
        let start = start.clone();
        let call = call();
        handles.push(tokio::spawn(async move {
            start.wait().await;
            call.await
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    wins
}

/// 50 wrong passwords at once against a limit of 5: exactly 5 are let
/// through to a password check, and the counter stops at 5.
async fn claim_in_parallel(store: &SqlStore) {
    let ann = user(store, "ann").await;
    let wins = in_parallel(50, || {
        let store = store.clone();
        async move {
            store
                .claim_login_attempt(ann.id.into(), 5, at(0))
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(wins, 5);
    assert_eq!(
        store.sign_in_state(ann.id.into()).await.unwrap().failures,
        5
    );
}

/// One TOTP code sent 20 times at once: accepted exactly once.
async fn use_step_in_parallel(store: &SqlStore) {
    let ann = user(store, "ann").await;
    let wins = in_parallel(20, || {
        let store = store.clone();
        async move { store.use_totp_step(ann.id.into(), 100).await.unwrap() }
    })
    .await;
    assert_eq!(wins, 1);
    assert_eq!(
        store
            .sign_in_state(ann.id.into())
            .await
            .unwrap()
            .totp_last_step,
        100
    );
}

/// 30 guesses from one address at once: exactly 3 get a source slot.
async fn claim_source_in_parallel(store: &SqlStore) {
    let ann = user(store, "ann").await;
    let wins = in_parallel(30, || {
        let store = store.clone();
        async move {
            store
                .claim_source_attempt(ann.id.into(), "203.0.113.5", at(0))
                .await
                .unwrap()
                .is_none()
        }
    })
    .await;
    assert_eq!(wins, 3);
}

/// 20 failures that all see an exhausted counter: exactly one locks.
async fn lock_in_parallel(store: &SqlStore) {
    let ann = user(store, "ann").await;
    for _ in 0..3 {
        store
            .claim_login_attempt(ann.id.into(), 3, at(0))
            .await
            .unwrap();
    }
    let wins = in_parallel(20, || {
        let store = store.clone();
        async move {
            store
                .lock_if_exhausted(ann.id.into(), 3, Duration::minutes(15), at(0))
                .await
                .unwrap()
                .is_some()
        }
    })
    .await;
    assert_eq!(wins, 1);
    assert_eq!(
        store.sign_in_state(ann.id.into()).await.unwrap().lock_count,
        1
    );
}

store_test!(parallel_guesses_from_one_source_take_three_slots, |store| {
    claim_source_in_parallel(&store).await;
});

store_test!(parallel_failures_lock_exactly_once, |store| {
    lock_in_parallel(&store).await;
});

// On PostgreSQL the callers run on up to 10 pooled connections at once (the
// private in-memory SQLite has one connection, so there they queue).
store_test!(parallel_login_attempts_take_exactly_max_slots, |store| {
    claim_in_parallel(&store).await;
});

store_test!(a_totp_step_sent_in_parallel_is_used_once, |store| {
    use_step_in_parallel(&store).await;
});

/// A migrated store on a new SQLite file (8 pooled connections, WAL), for
/// callers on several threads; removed by [`drop_file_store`].
async fn file_store(name: &str) -> (SqlStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("lanyard-store-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("s.db").display());
    let store = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(lanyard_store::testing::test_keyring());
    store.migrate().await.unwrap();
    (store, dir)
}

async fn drop_file_store(store: SqlStore, dir: std::path::PathBuf) {
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The session reads a signed-in request starts with, as a unit of work
/// makes them (always through the pool), to compare the inline reads with.
async fn pooled_reads(
    store: &SqlStore,
    token: &str,
    slug: &str,
) -> (
    Option<(Session, User, Vec<lanyard_core::directory::Group>)>,
    (
        Option<(Session, User, Vec<lanyard_core::directory::Group>)>,
        Option<(AppId, i64)>,
    ),
) {
    use lanyard_core::store::Transactional;
    let work = store.begin().await.unwrap();
    let with_user = work
        .find_session_with_user(&token_hash(token))
        .await
        .unwrap();
    let for_app = work
        .find_session_for_app(&token_hash(token), slug)
        .await
        .unwrap();
    drop(work);
    (with_user, for_app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_answers_session_reads_inline_as_the_pool_would() {
    use lanyard_core::directory::UserState;
    use lanyard_core::store::GroupStore;
    let (store, dir) = file_store("inline").await;
    let ann = store
        .create_user(
            &lanyard_core::directory::NewUser {
                attributes: crate::common::attrs(&[("department", &["ops", "sec \u{e9}"])]),
                ..new_user("ann@example.com", "ann")
            },
            None,
            at(0),
        )
        .await
        .unwrap();
    for name in ["zeta", "alpha"] {
        let mut new = crate::common::new_group(name);
        new.attributes = crate::common::attrs(&[("tier", &[name])]);
        let group = store.create_group(&new, at(1)).await.unwrap();
        store.add_member(group.id, ann.id).await.unwrap();
    }
    let app = create(&store, "aws", "AWS").await;
    let s = session(&store, ann.id, "tok-inline", 5).await;
    assert_eq!(store.inline_read_counts(), Some((0, 0)));

    let (with_user, (for_app, app_version)) = pooled_reads(&store, "tok-inline", "aws").await;
    let inline_with_user = store
        .find_session_with_user(&token_hash("tok-inline"))
        .await
        .unwrap();
    let (inline_for_app, inline_app) = store
        .find_session_for_app(&token_hash("tok-inline"), "aws")
        .await
        .unwrap();
    assert_eq!(store.inline_read_counts(), Some((2, 0)));
    let (session_read, user_read, groups) = inline_with_user.clone().unwrap();
    assert_eq!(session_read, s);
    assert_eq!(user_read, ann);
    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["alpha", "zeta"]
    );
    assert_eq!(inline_with_user, with_user);
    assert_eq!(inline_for_app, for_app);
    assert_eq!(inline_app, app_version);
    assert_eq!(inline_app.map(|(id, _)| id), Some(app.id));

    // A change committed through the pool is seen by the next inline read.
    store
        .set_user_state(ann.id, UserState::Suspended, at(6))
        .await
        .unwrap();
    let (found, _) = store
        .find_session_for_app(&token_hash("tok-inline"), "aws")
        .await
        .unwrap();
    assert_eq!(found.unwrap().1.state, UserState::Suspended);
    store
        .end_session(s.id, SessionEnd::Revoked, at(7))
        .await
        .unwrap();
    let (found, app_now) = store
        .find_session_for_app(&token_hash("tok-inline"), "aws")
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(app_now.map(|(id, _)| id), Some(app.id));
    assert!(store
        .find_session_with_user(&token_hash("tok-inline"))
        .await
        .unwrap()
        .is_none());
    // The unknown token's app version came from the pool (no session row).
    assert_eq!(store.inline_read_counts(), Some((5, 0)));
    drop_file_store(store, dir).await;
}

#[tokio::test]
async fn in_memory_sqlite_reads_only_through_the_pool() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.inline_read_counts(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_login_attempts_on_a_sqlite_file_take_exactly_max_slots() {
    let (store, dir) = file_store("claims").await;
    claim_in_parallel(&store).await;
    drop_file_store(store, dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_totp_step_sent_in_parallel_to_a_sqlite_file_is_used_once() {
    let (store, dir) = file_store("steps").await;
    use_step_in_parallel(&store).await;
    drop_file_store(store, dir).await;
}

store_test!(a_users_last_role_choice_is_kept_per_app, |store| {
    let app = create(&store, "aws", "AWS").await;
    let other = create(&store, "other", "Other").await;
    let ann = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    let bob = store
        .create_user(&new_user("bob@example.com", "bob"), None, at(0))
        .await
        .unwrap();
    assert_eq!(store.last_role_choice(ann.id, app.id).await.unwrap(), None);
    store
        .remember_role_choice(ann.id, app.id, "role-a", at(1))
        .await
        .unwrap();
    store
        .remember_role_choice(ann.id, app.id, "role-b", at(2))
        .await
        .unwrap();
    store
        .remember_role_choice(ann.id, other.id, "role-c", at(2))
        .await
        .unwrap();
    store
        .remember_role_choice(bob.id, app.id, "role-d", at(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .last_role_choice(ann.id, app.id)
            .await
            .unwrap()
            .as_deref(),
        Some("role-b"),
        "the latest replaces the one before"
    );
    assert_eq!(
        store
            .last_role_choice(ann.id, other.id)
            .await
            .unwrap()
            .as_deref(),
        Some("role-c")
    );
    assert_eq!(count_rows(&store, "role_choices").await, 3);
    // Gone with the app or the user; for a missing one nothing is stored.
    store.delete_apps(&[other.id]).await.unwrap();
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(count_rows(&store, "role_choices").await, 1);
    store
        .remember_role_choice(bob.id, app.id, "role-e", at(3))
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "role_choices").await, 1);
});
