//! AppStore on every backend, signing keys: rotation keeps exactly one key
//! active, the active key cannot be deleted, another app's key is not found,
//! and concurrent rotations are taken in turn.

use crate::common::apps::{active_ids, app_missing, create, key, not_found};
use crate::common::at;
use lanyard_core::store::AppStore;
use lanyard_core::{AppId, AppKeyId, Error};
use lanyard_store::testing::count_rows;
use lanyard_store::{store_test, SqlStore};

store_test!(keys_rotate_with_exactly_one_active, |store| {
    let app = create(&store, "amazon-aws", "Amazon AWS").await;
    let other = create(&store, "other", "Other").await;
    let k1 = store.list_app_keys(app.id).await.unwrap()[0].clone();

    // A published, not yet signing, key.
    let k2 = store
        .add_app_key(app.id, &key(2), false, at(10))
        .await
        .unwrap();
    assert!(!k2.active);
    assert_eq!((k2.app_id, k2.created_at), (app.id, at(10)));
    let keys = store.list_app_keys(app.id).await.unwrap();
    assert_eq!(keys, vec![k1.clone(), k2.clone()], "active first");
    assert_eq!(store.active_signing_key(app.id).await.unwrap().0, k1);

    // Added and activated at once: the others step down.
    let k3 = store
        .add_app_key(app.id, &key(3), true, at(20))
        .await
        .unwrap();
    assert!(k3.active);
    let keys = store.list_app_keys(app.id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![k3.id, k2.id, k1.id],
        "active first, then newest first"
    );
    assert_eq!(active_ids(&keys), vec![k3.id]);
    let (signing, private) = store.active_signing_key(app.id).await.unwrap();
    assert_eq!((signing, private), (k3.clone(), key(3).private_key));

    // Back to the first key.
    let k1_again = store.activate_app_key(app.id, k1.id).await.unwrap();
    assert!(k1_again.active);
    assert_eq!(k1_again.id, k1.id);
    let keys = store.list_app_keys(app.id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![k1.id, k3.id, k2.id]
    );
    assert_eq!(active_ids(&keys), vec![k1.id]);
    // Activating the active key changes nothing.
    store.activate_app_key(app.id, k1.id).await.unwrap();
    assert_eq!(store.list_app_keys(app.id).await.unwrap(), keys);

    // Another app's key, or none: NotFound, and the signing key stays.
    let foreign = store.list_app_keys(other.id).await.unwrap()[0].id;
    for k in [foreign, AppKeyId(999)] {
        assert_eq!(
            not_found(store.activate_app_key(app.id, k).await),
            ("key", k.to_string())
        );
        assert_eq!(
            not_found(store.delete_app_key(app.id, k).await),
            ("key", k.to_string())
        );
    }
    assert_eq!(store.list_app_keys(app.id).await.unwrap(), keys);
    assert_eq!(store.list_app_keys(other.id).await.unwrap().len(), 1);

    // The active key stays until another is activated.
    match store.delete_app_key(app.id, k1.id).await {
        Err(Error::Invalid(errors)) => assert_eq!(
            errors["key"],
            "the active signing key cannot be deleted: activate another key first"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
    store.delete_app_key(app.id, k2.id).await.unwrap();
    assert_eq!(
        not_found(store.delete_app_key(app.id, k2.id).await),
        ("key", k2.id.to_string())
    );
    store.activate_app_key(app.id, k3.id).await.unwrap();
    store.delete_app_key(app.id, k1.id).await.unwrap();
    let keys = store.list_app_keys(app.id).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), vec![k3.id]);
    assert_eq!(active_ids(&keys), vec![k3.id]);

    // An unknown app.
    let missing = AppId(999);
    assert_eq!(
        not_found(store.list_app_keys(missing).await),
        app_missing(missing)
    );
    assert_eq!(
        not_found(store.add_app_key(missing, &key(4), true, at(30)).await),
        app_missing(missing)
    );
    assert_eq!(
        not_found(store.activate_app_key(missing, k3.id).await),
        app_missing(missing)
    );
    assert_eq!(
        not_found(store.delete_app_key(missing, k3.id).await),
        app_missing(missing)
    );
    assert_eq!(
        not_found(store.active_signing_key(missing).await),
        app_missing(missing)
    );
    assert_eq!(count_rows(&store, "app_keys").await, 2);
});

/// Tasks rotating one app's keys at once, each adding, activating and then
/// deleting its own previous key: every call succeeds, and exactly one key
/// is active at the end (the app's row lock takes the writers in turn).
async fn rotate_in_parallel(store: &SqlStore) {
    let app = create(store, "aws", "AWS").await;
    let mut handles = Vec::new();
    for t in 0..4u32 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut previous: Option<AppKeyId> = None;
            for i in 0..10u32 {
                let k = store
                    .add_app_key(app.id, &key(t * 100 + i), i % 2 == 0, at(i64::from(i)))
                    .await
                    .unwrap();
                assert!(store.activate_app_key(app.id, k.id).await.unwrap().active);
                if let Some(p) = previous.replace(k.id) {
                    store.delete_app_key(app.id, p).await.unwrap();
                }
                let keys = store.list_app_keys(app.id).await.unwrap();
                assert_eq!(active_ids(&keys).len(), 1, "{keys:?}");
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let keys = store.list_app_keys(app.id).await.unwrap();
    assert_eq!(keys.len(), 5, "the first key and each task's last");
    assert_eq!(active_ids(&keys).len(), 1, "{keys:?}");
    assert!(keys[0].active);
    let (signing, _) = store.active_signing_key(app.id).await.unwrap();
    assert_eq!(signing, keys[0]);
}

store_test!(key_rotations_in_parallel_keep_one_active, |store| {
    rotate_in_parallel(&store).await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_rotations_on_a_sqlite_file_wait_their_turn() {
    let dir = std::env::temp_dir().join(format!("lanyard-store-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("k.db").display());
    let store = SqlStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(lanyard_store::testing::test_keyring());
    store.migrate().await.unwrap();
    rotate_in_parallel(&store).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
