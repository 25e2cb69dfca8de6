//! AdminSessionStore on every backend: create (and refuse for a missing
//! admin), find with the admin joined, touch, delete, purge by both limits,
//! the cascade from a deleted admin, and one-time form tokens.

use crate::common::at;
use lanyard_core::admin::Role;
use lanyard_core::session::{token_hash, AuthMethods, NewAdminSession, SessionStage};
use lanyard_core::store::{AdminSessionStore, AdminStore, Transactional};
use lanyard_core::{AdminId, AdminSessionId, Error};
use lanyard_store::store_test;
use lanyard_store::testing::count_rows;
use time::Duration;

fn new_session(admin: AdminId, token: &str, secs: i64) -> NewAdminSession {
    NewAdminSession {
        token_hash: token_hash(token),
        admin_id: admin,
        stage: SessionStage::Complete,
        methods: AuthMethods::Password,
        csrf_secret: format!("csrf-{token}"),
        now: at(secs),
        expires_at: at(secs) + Duration::hours(12),
        client: Some("192.0.2.1".into()),
        user_agent: Some("Mozilla/5.0 \u{e9}".into()),
    }
}

store_test!(admin_sessions_round_trip_with_their_admin, |store| {
    let ann = store
        .create_admin("ann@example.com", Role::ReadOnly, "h", at(0))
        .await
        .unwrap();
    let s = store
        .create_admin_session(&new_session(ann.id, "t1", 10))
        .await
        .unwrap();
    assert_eq!(s.admin_id, ann.id);
    assert_eq!((s.created_at, s.last_seen_at), (at(10), at(10)));
    assert_eq!(s.expires_at, at(10) + Duration::hours(12));
    assert_eq!(s.csrf_secret, "csrf-t1");
    assert_eq!(s.user_agent.as_deref(), Some("Mozilla/5.0 \u{e9}"));

    let (found, admin) = store
        .find_admin_session(&token_hash("t1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, admin), (s.clone(), ann.clone()));
    assert!(store
        .find_admin_session(&token_hash("t2"))
        .await
        .unwrap()
        .is_none());

    store.touch_admin_session(s.id, at(70)).await.unwrap();
    let (touched, _) = store
        .find_admin_session(&token_hash("t1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.last_seen_at, at(70));
    assert!(matches!(
        store
            .touch_admin_session(AdminSessionId(s.id.0 + 100), at(70))
            .await,
        Err(Error::NotFound { .. })
    ));

    store.delete_admin_session(s.id).await.unwrap();
    store.delete_admin_session(s.id).await.unwrap();
    assert!(store
        .find_admin_session(&token_hash("t1"))
        .await
        .unwrap()
        .is_none());
});

store_test!(admin_sessions_advance_list_and_end, |store| {
    let ann = store
        .create_admin("ann@example.com", Role::Administrator, "h", at(0))
        .await
        .unwrap();
    let bob = store
        .create_admin("bob@example.com", Role::Administrator, "h", at(0))
        .await
        .unwrap();
    let half = NewAdminSession {
        stage: SessionStage::AwaitingTotp,
        ..new_session(ann.id, "half", 10)
    };
    let s = store.create_admin_session(&half).await.unwrap();
    assert_eq!(
        (s.stage, s.methods, s.authenticated_at),
        (SessionStage::AwaitingTotp, AuthMethods::Password, at(10))
    );
    let done = store
        .advance_admin_session(
            s.id,
            SessionStage::Complete,
            AuthMethods::PasswordTotp,
            &token_hash("done"),
            at(20),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            done.stage,
            done.methods,
            done.authenticated_at,
            done.last_seen_at
        ),
        (
            SessionStage::Complete,
            AuthMethods::PasswordTotp,
            at(20),
            at(20)
        )
    );
    assert!(store
        .find_admin_session(&token_hash("half"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .find_admin_session(&token_hash("done"))
            .await
            .unwrap()
            .unwrap()
            .0,
        done
    );
    let again = store
        .reauthenticate_admin_session(s.id, at(30))
        .await
        .unwrap();
    assert_eq!(again.authenticated_at, at(30));

    let s2 = store
        .create_admin_session(&new_session(ann.id, "second", 40))
        .await
        .unwrap();
    let b1 = store
        .create_admin_session(&new_session(bob.id, "bob", 40))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_admin_sessions(ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [s2.id, s.id], "newest first, only ann's");
    assert!(matches!(
        store.revoke_admin_session(ann.id, b1.id).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        store
            .revoke_admin_sessions(ann.id, Some(s2.id))
            .await
            .unwrap(),
        1
    );
    store.revoke_admin_session(ann.id, s2.id).await.unwrap();
    assert!(store.list_admin_sessions(ann.id).await.unwrap().is_empty());
    assert_eq!(store.revoke_admin_sessions(bob.id, None).await.unwrap(), 1);
    assert!(matches!(
        store.list_admin_sessions(AdminId(999)).await,
        Err(Error::NotFound { .. })
    ));
    for missing in [
        store
            .advance_admin_session(
                b1.id,
                SessionStage::Complete,
                AuthMethods::Password,
                &token_hash("x"),
                at(50),
            )
            .await
            .map(|_| ()),
        store
            .reauthenticate_admin_session(b1.id, at(50))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
    }
});

store_test!(admin_sessions_need_an_admin_and_go_with_it, |store| {
    match store
        .create_admin_session(&new_session(AdminId(999), "t", 0))
        .await
    {
        Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("admin", "999")),
        other => panic!("{other:?}"),
    }
    let ann = store
        .create_admin("ann@example.com", Role::Administrator, "h", at(0))
        .await
        .unwrap();
    for t in ["a", "b"] {
        store
            .create_admin_session(&new_session(ann.id, t, 0))
            .await
            .unwrap();
    }
    assert_eq!(count_rows(&store, "admin_sessions").await, 2);
    store.delete_admin(ann.id).await.unwrap();
    assert_eq!(count_rows(&store, "admin_sessions").await, 0);
});

store_test!(admin_sessions_purge_by_either_limit, |store| {
    let ann = store
        .create_admin("ann@example.com", Role::Administrator, "h", at(0))
        .await
        .unwrap();
    // Made at 0 (ends at 12 h), at 3 h and at 11 h.
    for (t, secs) in [("old", 0), ("idle", 3 * 3600), ("fresh", 11 * 3600)] {
        store
            .create_admin_session(&new_session(ann.id, t, secs))
            .await
            .unwrap();
    }
    let now = at(12 * 3600);
    let n = store
        .purge_admin_sessions(now, now - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(store
        .find_admin_session(&token_hash("fresh"))
        .await
        .unwrap()
        .is_some());
});

store_test!(form_tokens_are_good_once_until_they_expire, |store| {
    let token = "0123456789abcdef0123456789abcdef";
    let until = at(3600);
    assert!(store.use_form_token(token, at(0), until).await.unwrap());
    assert!(!store.use_form_token(token, at(10), until).await.unwrap());
    assert!(store
        .use_form_token("another", at(10), until)
        .await
        .unwrap());
    // Used in a unit of work that is rolled back: not used.
    let work = store.begin().await.unwrap();
    assert!(work
        .use_form_token("rolled back", at(20), until)
        .await
        .unwrap());
    drop(work);
    assert!(store
        .use_form_token("rolled back", at(30), until)
        .await
        .unwrap());
    // Forgotten once expired.
    assert_eq!(count_rows(&store, "form_tokens").await, 3);
    assert!(store
        .use_form_token(token, at(3600), at(7200))
        .await
        .unwrap());
    assert_eq!(count_rows(&store, "form_tokens").await, 1);
});
