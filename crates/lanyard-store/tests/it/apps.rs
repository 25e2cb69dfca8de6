//! AppStore on every backend, the application itself: every field round
//! trips, slug conflicts, search and pages, updates, SSO on/off, all-or-nothing
//! deletion that takes keys, bindings, entitlements and the image along, and
//! portal images.

use crate::common;
use crate::common::apps::{app_missing, config, create, grant, image, key, new_app, not_found};
use crate::common::{at, new_group, query};
use lanyard_core::apps::{NameIdSource, SignatureAlgorithm};
use lanyard_core::directory::ListQuery;
use lanyard_core::store::{AppStore, GroupStore};
use lanyard_core::{AppId, Error};
use lanyard_store::testing::count_rows;
use lanyard_store::{store_test, SqlStore};

store_test!(create_and_get_round_trip_every_field, |store| {
    let mut new = new_app("amazon-aws", "Amazon AWS");
    new.config.show_in_portal = false;
    let app = store.create_app(&new, &key(1), at(0)).await.unwrap();
    assert_eq!(app.slug, "amazon-aws");
    assert_eq!(app.template, "aws");
    assert!(app.aws_rules);
    assert!(!app.sso_active, "new apps start with SSO off");
    assert_eq!(app.config, new.config);
    assert_eq!(app.image, None);
    assert_eq!((app.created_at, app.updated_at), (at(0), at(0)));
    assert_eq!(store.get_app(app.id).await.unwrap(), app);
    assert_eq!(store.get_app_by_slug("amazon-aws").await.unwrap(), app);

    let keys = store.list_app_keys(app.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].active);
    assert_eq!(keys[0].app_id, app.id);
    assert_eq!(keys[0].certificate_pem, key(1).certificate_pem);
    assert_eq!(keys[0].not_after, key(1).not_after);
    assert_eq!(keys[0].created_at, at(0));
    let (active, private) = store.active_signing_key(app.id).await.unwrap();
    assert_eq!(active, keys[0]);
    assert_eq!(private, key(1).private_key);

    // The other variants and empty or absent values survive too.
    let mut other = new_app("plain", "Plain");
    other.aws_rules = false;
    other.template = "custom".into();
    other.config.description = String::new();
    other.config.groups_attribute = None;
    other.config.sp_certificates = Vec::new();
    other.config.attributes = Vec::new();
    other.config.sso.name_id = NameIdSource::Email;
    other.config.sso.default_relay_state = None;
    other.config.sso.algorithm = SignatureAlgorithm::RsaSha256;
    let plain = store.create_app(&other, &key(2), at(1)).await.unwrap();
    assert!(!plain.aws_rules);
    assert_eq!(plain.template, "custom");
    assert_eq!(plain.config, other.config);
    assert_eq!(store.get_app(plain.id).await.unwrap(), plain);

    assert_eq!(
        not_found(store.get_app(AppId(999)).await),
        app_missing(AppId(999))
    );
    assert_eq!(
        not_found(store.get_app_by_slug("nope").await),
        ("application", "nope".into())
    );
    assert!(store.get_app_by_slug("bad\0slug").await.is_err());
});

store_test!(slugs_are_unique, |store| {
    let first = create(&store, "amazon-aws", "Amazon AWS").await;
    match store
        .create_app(&new_app("amazon-aws", "Other"), &key(1), at(1))
        .await
    {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("slug", "amazon-aws"))
        }
        other => panic!("expected a slug conflict, got {other:?}"),
    }
    // Nothing of the refused app was kept, its key included.
    let all = store.list_apps(&common::all()).await.unwrap();
    assert_eq!(all.items, vec![first.clone()]);
    assert_eq!(count_rows(&store, "app_keys").await, 1);
    // Labels need not be unique.
    create(&store, "amazon-aws-2", "Amazon AWS").await;
});

store_test!(apps_page_and_search_by_label_or_slug, |store| {
    let mut ids = Vec::new();
    for (slug, label) in [
        ("aws-prod", "Amazon AWS (Prod)"),
        ("zendesk", "Help desk"),
        ("github", "GitHub"),
        ("aws-dev", "amazon aws dev"),
        ("gitlab", "Élan Git"),
    ] {
        ids.push(create(&store, slug, label).await.id);
    }
    let found = |q: ListQuery| {
        let store = store.clone();
        async move {
            let page = store.list_apps(&q).await.unwrap();
            (
                page.items.into_iter().map(|a| a.slug).collect::<Vec<_>>(),
                page.next,
            )
        }
    };
    // Label prefix, whatever the case; ordered by id.
    assert_eq!(
        found(query(Some("AMAZON"), None, 50)).await,
        (vec!["aws-prod".to_string(), "aws-dev".into()], None)
    );
    // Slug prefix.
    assert_eq!(
        found(query(Some("git"), None, 50)).await,
        (vec!["github".to_string(), "gitlab".into()], None)
    );
    assert_eq!(
        found(query(Some("zen"), None, 50)).await,
        (vec!["zendesk".to_string()], None)
    );
    // Label, not just ASCII.
    assert_eq!(
        found(query(Some("élan"), None, 50)).await,
        (vec!["gitlab".to_string()], None)
    );
    // A prefix, not a substring.
    assert_eq!(found(query(Some("desk"), None, 50)).await, (vec![], None));
    // Pages by id.
    assert_eq!(
        found(query(None, None, 2)).await,
        (
            vec!["aws-prod".to_string(), "zendesk".into()],
            Some(ids[1].0)
        )
    );
    assert_eq!(
        found(query(None, Some(ids[1].0), 2)).await,
        (vec!["github".to_string(), "aws-dev".into()], Some(ids[3].0))
    );
    assert_eq!(
        found(query(None, Some(ids[3].0), 2)).await,
        (vec!["gitlab".to_string()], None)
    );
    assert_eq!(
        found(query(Some("a"), Some(ids[0].0), 1)).await,
        (vec!["aws-dev".to_string()], None)
    );
});

store_test!(update_replaces_the_config_only, |store| {
    let app = create(&store, "amazon-aws", "Amazon AWS").await;
    let mut config = config("AWS Console");
    config.show_in_portal = false;
    config.description = "renamed".into();
    config.sso.acs_urls.truncate(1);
    config.sso.require_signed_requests = false;
    config.attributes.pop();
    config.groups_attribute = None;
    config.sp_certificates = vec!["MIIBcert3".into()];
    let updated = store.update_app(app.id, &config, at(10)).await.unwrap();
    assert_eq!(updated.config, config);
    assert_eq!(
        (updated.slug.as_str(), updated.template.as_str()),
        ("amazon-aws", "aws")
    );
    assert_eq!((updated.created_at, updated.updated_at), (at(0), at(10)));
    assert_eq!(updated.sso_active, app.sso_active);
    assert_eq!(store.get_app(app.id).await.unwrap(), updated);
    // The new label is what search sees.
    let hits = store
        .list_apps(&query(Some("aws c"), None, 50))
        .await
        .unwrap();
    assert_eq!(hits.items, vec![updated]);
    // (The slug "amazon-aws" would still match "amazon"; the old label not.)
    assert!(store
        .list_apps(&query(Some("amazon aws"), None, 50))
        .await
        .unwrap()
        .items
        .is_empty());

    assert_eq!(
        not_found(store.update_app(AppId(999), &config, at(11)).await),
        app_missing(AppId(999))
    );
});

store_test!(sso_active_toggles, |store| {
    let app = create(&store, "amazon-aws", "Amazon AWS").await;
    let on = store.set_app_sso_active(app.id, true, at(5)).await.unwrap();
    assert!(on.sso_active);
    assert_eq!(on.updated_at, at(5));
    assert_eq!(on.config, app.config);
    assert_eq!(store.get_app(app.id).await.unwrap(), on);
    let off = store
        .set_app_sso_active(app.id, false, at(6))
        .await
        .unwrap();
    assert!(!off.sso_active);
    assert_eq!(off.updated_at, at(6));
    assert_eq!(
        not_found(store.set_app_sso_active(AppId(999), true, at(7)).await),
        app_missing(AppId(999))
    );
});

store_test!(deleting_apps_is_all_or_nothing, |store| {
    let a = create(&store, "a", "A").await;
    let b = create(&store, "b", "B").await;
    let c = create(&store, "c", "C").await;

    // One unknown id: nothing is deleted.
    assert_eq!(
        not_found(store.delete_apps(&[a.id, AppId(999), b.id]).await),
        app_missing(AppId(999))
    );
    assert_eq!(
        store.list_apps(&common::all()).await.unwrap().items,
        vec![a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(count_rows(&store, "app_keys").await, 3);

    // Duplicates count once; the result follows the request's order.
    let deleted = store.delete_apps(&[c.id, a.id, c.id]).await.unwrap();
    assert_eq!(deleted, vec![c.clone(), a.clone()]);
    assert_eq!(
        store.list_apps(&common::all()).await.unwrap().items,
        vec![b.clone()]
    );
    // Deleting again: the first id still there is not enough.
    assert_eq!(
        not_found(store.delete_apps(&[b.id, a.id]).await),
        app_missing(a.id)
    );
    assert_eq!(store.get_app(b.id).await.unwrap(), b);
    assert!(store.delete_apps(&[]).await.unwrap().is_empty());
});

store_test!(deleting_an_app_removes_everything_it_owns, |store| {
    let app = create(&store, "amazon-aws", "Amazon AWS").await;
    let keep = create(&store, "keep", "Keep").await;
    let g = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
    store
        .add_app_key(app.id, &key(2), false, at(1))
        .await
        .unwrap();
    for a in [app.id, keep.id] {
        store.bind_group(a, g.id).await.unwrap();
        store
            .set_entitlements(a, &[grant(g.id, "123456789012", "Admin")], at(2))
            .await
            .unwrap();
        let (info, bytes) = image(1);
        store
            .set_app_image(a, Some((&info, &bytes)), at(3))
            .await
            .unwrap();
    }
    let counts = |store: SqlStore| async move {
        let mut n = Vec::new();
        for t in ["app_keys", "app_groups", "app_entitlements", "app_images"] {
            n.push(count_rows(&store, t).await);
        }
        n
    };
    assert_eq!(counts(store.clone()).await, vec![3, 2, 2, 2]);

    let deleted = store.delete_apps(&[app.id]).await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, app.id);
    assert_eq!(counts(store.clone()).await, vec![1, 1, 1, 1]);
    assert_eq!(not_found(store.get_app(app.id).await), app_missing(app.id));
    assert_eq!(
        not_found(store.list_app_keys(app.id).await),
        app_missing(app.id)
    );
    assert_eq!(
        not_found(store.list_entitlements(app.id).await),
        app_missing(app.id)
    );
    assert_eq!(
        not_found(store.get_app_image(app.id).await),
        app_missing(app.id)
    );
    assert_eq!(
        store.list_group_apps(g.id).await.unwrap(),
        vec![store.get_app(keep.id).await.unwrap()]
    );
    // The slug is free again; the id is not reused.
    let again = create(&store, "amazon-aws", "Amazon AWS").await;
    assert!(again.id.0 > keep.id.0);
    assert!(store.list_entitlements(again.id).await.unwrap().is_empty());
});

store_test!(images_are_set_replaced_and_removed, |store| {
    let app = create(&store, "aws", "AWS").await;
    assert!(store.get_app_image(app.id).await.unwrap().is_none());

    let (info, bytes) = image(1);
    let with = store
        .set_app_image(app.id, Some((&info, &bytes)), at(5))
        .await
        .unwrap();
    assert_eq!(with.image.as_ref(), Some(&info));
    assert_eq!(with.updated_at, at(5));
    assert_eq!(store.get_app(app.id).await.unwrap(), with);
    let got = store.get_app_image(app.id).await.unwrap().unwrap();
    assert_eq!((got.info, got.bytes), (info, bytes));
    // The image facts come with every listing, no extra query.
    assert_eq!(
        store.list_apps(&common::all()).await.unwrap().items,
        vec![with]
    );

    let (info2, bytes2) = image(2);
    store
        .set_app_image(app.id, Some((&info2, &bytes2)), at(6))
        .await
        .unwrap();
    let got = store.get_app_image(app.id).await.unwrap().unwrap();
    assert_eq!((got.info, got.bytes), (info2, bytes2));
    assert_eq!(count_rows(&store, "app_images").await, 1);

    let without = store.set_app_image(app.id, None, at(7)).await.unwrap();
    assert_eq!(without.image, None);
    assert_eq!(without.updated_at, at(7));
    assert!(store.get_app_image(app.id).await.unwrap().is_none());
    assert_eq!(count_rows(&store, "app_images").await, 0);
    // Removing again is fine.
    store.set_app_image(app.id, None, at(8)).await.unwrap();

    let missing = AppId(999);
    let (info, bytes) = image(3);
    assert_eq!(
        not_found(
            store
                .set_app_image(missing, Some((&info, &bytes)), at(9))
                .await
        ),
        app_missing(missing)
    );
    assert_eq!(
        not_found(store.get_app_image(missing).await),
        app_missing(missing)
    );
    assert_eq!(count_rows(&store, "app_images").await, 0);
});
