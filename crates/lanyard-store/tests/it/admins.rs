//! AdminStore and ApiKeyStore on every backend.

use crate::common::at;
use lanyard_core::admin::{generate_api_key, Role};
use lanyard_core::store::{AdminStore, ApiKeyStore};
use lanyard_core::{AdminId, ApiKeyId, Error};
use lanyard_store::store_test;

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

    store.delete_admin(ann.id).await.unwrap();
    assert_eq!(store.list_admins().await.unwrap(), vec![ro]);
    match store.delete_admin(AdminId(ann.id.0)).await {
        Err(Error::NotFound { kind, .. }) => assert_eq!(kind, "admin"),
        other => panic!("expected NotFound, got {other:?}"),
    }
});

store_test!(api_keys_are_found_by_hash_until_revoked, |store| {
    let k1 = generate_api_key([1; 32]);
    let k2 = generate_api_key([2; 32]);
    let ci = store
        .create_api_key("ci", Role::ReadOnly, &k1.prefix, &k1.hash, at(0))
        .await
        .unwrap();
    assert_eq!((ci.name.as_str(), ci.role), ("ci", Role::ReadOnly));
    assert_eq!(ci.prefix, k1.prefix);
    assert_eq!(
        (ci.created_at, ci.last_used_at, ci.revoked_at),
        (at(0), None, None)
    );
    let deploy = store
        .create_api_key("deploy", Role::Administrator, &k2.prefix, &k2.hash, at(1))
        .await
        .unwrap();

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
        .create_api_key("dup", Role::ReadOnly, &k2.prefix, &k2.hash, at(8))
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
