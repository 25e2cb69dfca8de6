//! AdminStore and ApiKeyStore on every backend.

use crate::common::at;
use lanyard_core::admin::{generate_api_key, GeneratedKey, Role};
use lanyard_core::session::Account;
use lanyard_core::store::{AdminStore, ApiKeyStore, NewApiKey, SignInStore};
use lanyard_core::{AdminId, ApiKeyId, Error};
use lanyard_store::store_test;
use time::OffsetDateTime;

fn key<'a>(
    name: &'a str,
    role: Role,
    generated: &'a GeneratedKey,
    expires_at: Option<OffsetDateTime>,
) -> NewApiKey<'a> {
    NewApiKey {
        name,
        role,
        prefix: &generated.prefix,
        hash: &generated.hash,
        created_by: "admin:ann@example.com",
        expires_at,
    }
}

store_test!(admins_create_find_list_delete, |store| {
    let ann = store
        .create_admin("Ann@Example.com", Role::Administrator, "h1", at(0))
        .await
        .unwrap();
    assert_eq!(ann.email, "ann@example.com");
    assert_eq!((ann.role, ann.created_at), (Role::Administrator, at(0)));
    let ro = store
        .create_admin("ro@example.com", Role::ReadOnly, "h2", at(1))
        .await
        .unwrap();

    let (found, hash) = store
        .find_admin_by_email("ANN@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, hash.as_str()), (ann.clone(), "h1"));
    assert!(store
        .find_admin_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_none());

    match store
        .create_admin("ann@EXAMPLE.com", Role::ReadOnly, "h3", at(2))
        .await
    {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("email", "ann@example.com"))
        }
        other => panic!("expected an email conflict, got {other:?}"),
    }
    assert_eq!(
        store.list_admins().await.unwrap(),
        vec![ann.clone(), ro.clone()]
    );
    let (_, hash) = store
        .find_admin_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "h1", "the failed create changed nothing");

    assert_eq!(store.get_admin(ro.id).await.unwrap(), ro);
    assert!(!ann.disabled && !ann.second_factor && ann.locked_until.is_none());
    store.delete_admin(ann.id).await.unwrap();
    assert_eq!(store.list_admins().await.unwrap(), vec![ro]);
    match store.delete_admin(AdminId(ann.id.0)).await {
        Err(Error::NotFound { kind, .. }) => assert_eq!(kind, "admin"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    match store.get_admin(ann.id).await {
        Err(Error::NotFound { kind, .. }) => assert_eq!(kind, "admin"),
        other => panic!("expected NotFound, got {other:?}"),
    }
});

store_test!(admins_change_role_disabled_password_and_factor, |store| {
    let ann = store
        .create_admin("ann@example.com", Role::Administrator, "h1", at(0))
        .await
        .unwrap();
    let changed = store
        .update_admin(ann.id, Role::ReadOnly, true)
        .await
        .unwrap();
    assert_eq!((changed.role, changed.disabled), (Role::ReadOnly, true));
    assert_eq!(store.get_admin(ann.id).await.unwrap(), changed);
    store.set_admin_password_hash(ann.id, "h2").await.unwrap();
    let (_, hash) = store
        .find_admin_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "h2");
    // Admins keep the sign-in state users have.
    let account = Account::Admin(ann.id);
    store.set_totp_pending(account, Some("S")).await.unwrap();
    assert!(store.confirm_totp(account, "S", 7).await.unwrap());
    assert!(store.get_admin(ann.id).await.unwrap().second_factor);
    assert!(store.claim_login_attempt(account, 1, at(0)).await.unwrap());
    let until = store
        .lock_if_exhausted(account, 1, time::Duration::minutes(15), at(0))
        .await
        .unwrap();
    assert_eq!(until, Some(at(900)));
    assert_eq!(store.get_admin(ann.id).await.unwrap().locked_until, until);
    store.reset_totp(account).await.unwrap();
    assert!(!store.get_admin(ann.id).await.unwrap().second_factor);
    let missing = AdminId(999);
    for result in [
        store
            .update_admin(missing, Role::ReadOnly, false)
            .await
            .map(|_| ()),
        store.set_admin_password_hash(missing, "h").await,
        store.sign_in_state(missing.into()).await.map(|_| ()),
        store.reset_login_failures(missing.into()).await,
    ] {
        match result {
            Err(Error::NotFound { kind, .. }) => assert_eq!(kind, "admin"),
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
});

store_test!(api_keys_are_found_by_hash_until_revoked, |store| {
    let k1 = generate_api_key([1; 32]);
    let k2 = generate_api_key([2; 32]);
    let ci = store
        .create_api_key(&key("ci", Role::ReadOnly, &k1, None), at(0))
        .await
        .unwrap();
    assert_eq!((ci.name.as_str(), ci.role), ("ci", Role::ReadOnly));
    assert_eq!(ci.prefix, k1.prefix);
    assert_eq!(
        (ci.created_at, ci.last_used_at, ci.revoked_at),
        (at(0), None, None)
    );
    let deploy = store
        .create_api_key(
            &key("deploy", Role::Administrator, &k2, Some(at(3600))),
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(ci.created_by.as_deref(), Some("admin:ann@example.com"));
    assert_eq!((ci.expires_at, deploy.expires_at), (None, Some(at(3600))));
    assert!(!deploy.is_expired(at(3599)) && deploy.is_expired(at(3600)));

    assert_eq!(
        store.find_active_api_key(&k1.hash).await.unwrap(),
        Some(ci.clone())
    );
    assert_eq!(store.find_active_api_key("nope").await.unwrap(), None);

    store.touch_api_key(ci.id, at(5)).await.unwrap();
    let touched = store.find_active_api_key(&k1.hash).await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(at(5)));

    let revoked = store.revoke_api_key(ci.id, at(6)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at(6)));
    assert_eq!(store.find_active_api_key(&k1.hash).await.unwrap(), None);
    let again = store.revoke_api_key(ci.id, at(7)).await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at(6)),
        "the first revocation time stays"
    );
    assert_eq!(
        store.find_active_api_key(&k2.hash).await.unwrap(),
        Some(deploy.clone())
    );

    // Listing shows revoked keys too, oldest first.
    assert_eq!(store.list_api_keys().await.unwrap(), vec![again, deploy]);

    match store
        .create_api_key(&key("dup", Role::ReadOnly, &k2, None), at(8))
        .await
    {
        Err(Error::Conflict { field, value }) => assert_eq!((field, value), ("key", k2.prefix)),
        other => panic!("expected a key conflict, got {other:?}"),
    }
    for r in [
        store.touch_api_key(ApiKeyId(999), at(9)).await,
        store.revoke_api_key(ApiKeyId(999), at(9)).await.map(|_| ()),
    ] {
        match r {
            Err(Error::NotFound { kind, .. }) => assert_eq!(kind, "api key"),
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
});
