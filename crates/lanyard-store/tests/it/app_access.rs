//! AppStore on every backend, who gets in: group bindings from both ends,
//! the portal's list, entitlement tables, and what deleting a group or a
//! user takes with it.

use crate::common::apps::{app_missing, create, grant, key, labels, new_app, not_found};
use crate::common::{at, new_group, new_user};
use lanyard_core::application::Grant;
use lanyard_core::store::{AppStore, GroupStore, UserStore};
use lanyard_core::{AppId, GroupId, UserId};
use lanyard_store::store_test;
use lanyard_store::testing::count_rows;

store_test!(bindings_are_idempotent_and_seen_from_both_ends, |store| {
    let aws = create(&store, "aws", "Amazon AWS").await;
    let gh = create(&store, "github", "github").await;
    let ops = store.create_group(&new_group("ops"), at(0)).await.unwrap();
    let eng = store
        .create_group(&new_group("Engineering"), at(0))
        .await
        .unwrap();
    for (a, g) in [(aws.id, ops.id), (aws.id, eng.id), (gh.id, eng.id)] {
        store.bind_group(a, g).await.unwrap();
        store.bind_group(a, g).await.unwrap();
    }
    let names = |groups: Vec<lanyard_core::directory::Group>| {
        groups.into_iter().map(|g| g.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_app_groups(aws.id).await.unwrap()),
        vec!["Engineering", "ops"],
        "by name"
    );
    assert_eq!(
        labels(&store.list_group_apps(eng.id).await.unwrap()),
        vec!["Amazon AWS", "github"],
        "by label, whatever the case"
    );
    assert_eq!(
        labels(&store.list_group_apps(ops.id).await.unwrap()),
        vec!["Amazon AWS"]
    );

    store.unbind_group(aws.id, ops.id).await.unwrap();
    store.unbind_group(aws.id, ops.id).await.unwrap();
    assert!(store.list_group_apps(ops.id).await.unwrap().is_empty());
    assert_eq!(
        names(store.list_app_groups(aws.id).await.unwrap()),
        vec!["Engineering"]
    );

    let (no_app, no_group) = (AppId(999), GroupId(999));
    for r in [
        store.bind_group(no_app, eng.id).await,
        store.unbind_group(no_app, eng.id).await,
        store.bind_group(no_app, no_group).await,
        store.list_app_groups(no_app).await.map(|_| ()),
    ] {
        assert_eq!(not_found(r), app_missing(no_app));
    }
    for r in [
        store.bind_group(aws.id, no_group).await,
        store.unbind_group(aws.id, no_group).await,
        store.list_group_apps(no_group).await.map(|_| ()),
    ] {
        assert_eq!(not_found(r), ("group", "999".into()));
    }
    // Empty is not missing.
    assert!(store.list_app_groups(gh.id).await.unwrap().len() == 1);
    let empty = store
        .create_group(&new_group("Empty"), at(0))
        .await
        .unwrap();
    assert!(store.list_group_apps(empty.id).await.unwrap().is_empty());
    let lone = create(&store, "lone", "Lone").await;
    assert!(store.list_app_groups(lone.id).await.unwrap().is_empty());
});

store_test!(deleting_a_group_or_user_removes_their_rows, |store| {
    let app = create(&store, "aws", "AWS").await;
    let eng = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
    let ops = store.create_group(&new_group("Ops"), at(0)).await.unwrap();
    let ann = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    store.add_member(eng.id, ann.id).await.unwrap();
    store.bind_group(app.id, eng.id).await.unwrap();
    store.bind_group(app.id, ops.id).await.unwrap();
    store
        .set_entitlements(
            app.id,
            &[
                grant(eng.id, "123456789012", "Admin"),
                grant(ops.id, "123456789012", "ReadOnly"),
            ],
            at(1),
        )
        .await
        .unwrap();
    let app = store.set_app_sso_active(app.id, true, at(2)).await.unwrap();
    assert_eq!(
        store.list_portal_apps(ann.id).await.unwrap(),
        vec![app.clone()]
    );

    store.delete_group(eng.id).await.unwrap();
    let groups = store.list_app_groups(app.id).await.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![ops.id]
    );
    assert_eq!(
        store.list_entitlements(app.id).await.unwrap(),
        vec![grant(ops.id, "123456789012", "ReadOnly")]
    );
    assert!(store.list_portal_apps(ann.id).await.unwrap().is_empty());

    store.delete_user(ann.id).await.unwrap();
    assert_eq!(
        not_found(store.list_portal_apps(ann.id).await),
        ("user", ann.id.to_string())
    );
    assert_eq!(count_rows(&store, "app_groups").await, 1);
    assert_eq!(count_rows(&store, "app_entitlements").await, 1);
});

store_test!(
    portal_lists_active_shown_apps_bound_to_the_users_groups,
    |store| {
        let ann = store
            .create_user(&new_user("ann@example.com", "ann"), None, at(0))
            .await
            .unwrap();
        let bob = store
            .create_user(&new_user("bob@example.com", "bob"), None, at(0))
            .await
            .unwrap();
        let eng = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
        let ops = store.create_group(&new_group("Ops"), at(0)).await.unwrap();
        let other = store
            .create_group(&new_group("Other"), at(0))
            .await
            .unwrap();
        store.add_member(eng.id, ann.id).await.unwrap();
        store.add_member(ops.id, ann.id).await.unwrap();
        store.add_member(other.id, bob.id).await.unwrap();

        // (slug, label, active, shown, bound groups)
        let setups: [(&str, &str, bool, bool, &[GroupId]); 6] = [
            ("zeta", "zeta", true, true, &[eng.id]),
            ("both", "Both groups", true, true, &[eng.id, ops.id]),
            ("inactive", "Inactive", false, true, &[eng.id]),
            ("hidden", "Hidden", true, false, &[eng.id]),
            ("unbound", "Unbound", true, true, &[]),
            ("alpha", "Alpha", true, true, &[ops.id, other.id]),
        ];
        for (slug, label, active, shown, groups) in setups {
            let mut new = new_app(slug, label);
            new.config.show_in_portal = shown;
            let app = store.create_app(&new, &key(0), at(0)).await.unwrap();
            store
                .set_app_sso_active(app.id, active, at(1))
                .await
                .unwrap();
            for g in groups {
                store.bind_group(app.id, *g).await.unwrap();
            }
        }
        let ann_apps = store.list_portal_apps(ann.id).await.unwrap();
        assert_eq!(labels(&ann_apps), vec!["Alpha", "Both groups", "zeta"]);
        assert!(ann_apps
            .iter()
            .all(|a| a.sso_active && a.config.show_in_portal));
        assert_eq!(
            labels(&store.list_portal_apps(bob.id).await.unwrap()),
            vec!["Alpha"]
        );
        let carl = store
            .create_user(&new_user("carl@example.com", "carl"), None, at(0))
            .await
            .unwrap();
        assert!(store.list_portal_apps(carl.id).await.unwrap().is_empty());
        assert_eq!(
            not_found(store.list_portal_apps(UserId(999)).await),
            ("user", "999".into())
        );
    }
);

store_test!(entitlements_are_replaced_whole, |store| {
    let app = create(&store, "aws", "AWS").await;
    let other_app = create(&store, "other", "Other").await;
    let eng = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
    let ops = store.create_group(&new_group("Ops"), at(0)).await.unwrap();
    assert!(store.list_entitlements(app.id).await.unwrap().is_empty());

    let mut labelled = grant(ops.id, "210987654321", "path/Deploy");
    labelled.entitlement.account_label = Some("prod".into());
    labelled.entitlement.max_session_duration = Some(43_200);
    let first = vec![
        grant(ops.id, "123456789012", "Admin"),
        labelled,
        grant(eng.id, "123456789012", "ReadOnly"),
    ];
    let stored = store.set_entitlements(app.id, &first, at(5)).await.unwrap();
    assert_eq!(stored, first, "in the order given");
    assert_eq!(store.list_entitlements(app.id).await.unwrap(), first);
    assert_eq!(store.get_app(app.id).await.unwrap().updated_at, at(5));
    store
        .set_entitlements(
            other_app.id,
            &[grant(eng.id, "123456789012", "Other")],
            at(5),
        )
        .await
        .unwrap();

    let second = vec![first[2].clone(), first[0].clone()];
    assert_eq!(
        store
            .set_entitlements(app.id, &second, at(6))
            .await
            .unwrap(),
        second
    );
    assert_eq!(store.list_entitlements(app.id).await.unwrap(), second);

    // An unknown group: NotFound naming it, and nothing changes.
    let bad = vec![
        first[1].clone(),
        grant(GroupId(999), "123456789012", "Admin"),
    ];
    assert_eq!(
        not_found(store.set_entitlements(app.id, &bad, at(7)).await),
        ("group", "999".into())
    );
    assert_eq!(store.list_entitlements(app.id).await.unwrap(), second);
    assert_eq!(store.get_app(app.id).await.unwrap().updated_at, at(6));

    assert_eq!(
        not_found(store.set_entitlements(AppId(999), &second, at(7)).await),
        app_missing(AppId(999))
    );
    assert_eq!(
        not_found(store.list_entitlements(AppId(999)).await),
        app_missing(AppId(999))
    );

    // Many rows (more than one INSERT's worth on SQLite) keep their order.
    let many: Vec<Grant> = (0..200)
        .map(|i| {
            grant(
                if i % 2 == 0 { eng.id } else { ops.id },
                "123456789012",
                &format!("R{i}"),
            )
        })
        .collect();
    assert_eq!(
        store.set_entitlements(app.id, &many, at(8)).await.unwrap(),
        many
    );

    assert!(store
        .set_entitlements(app.id, &[], at(9))
        .await
        .unwrap()
        .is_empty());
    assert!(store.list_entitlements(app.id).await.unwrap().is_empty());
    assert_eq!(
        store.list_entitlements(other_app.id).await.unwrap().len(),
        1
    );
});

store_test!(
    group_counts_cover_members_and_bindings_in_one_call,
    |store| {
        use lanyard_core::directory::GroupCounts;
        use lanyard_core::store::StoreInfo;

        let aws = create(&store, "aws", "Amazon AWS").await;
        let gh = create(&store, "github", "github").await;
        let eng = store.create_group(&new_group("eng"), at(0)).await.unwrap();
        let ops = store.create_group(&new_group("ops"), at(0)).await.unwrap();
        let empty = store
            .create_group(&new_group("empty"), at(0))
            .await
            .unwrap();
        for n in 0..3 {
            let u = store
                .create_user(
                    &new_user(&format!("u{n}@example.com"), &format!("u{n}")),
                    None,
                    at(0),
                )
                .await
                .unwrap();
            store.add_member(eng.id, u.id).await.unwrap();
            if n == 0 {
                store.add_member(ops.id, u.id).await.unwrap();
            }
        }
        for a in [aws.id, gh.id] {
            store.bind_group(a, eng.id).await.unwrap();
        }
        let counts = store
            .count_group_relations(&[empty.id, eng.id, GroupId(999_999), ops.id])
            .await
            .unwrap();
        let c = |members, applications| GroupCounts {
            members,
            applications,
        };
        assert_eq!(
            counts,
            vec![(eng.id, c(3, 2)), (ops.id, c(1, 0)), (empty.id, c(0, 0))],
            "by id, unknown groups left out"
        );
        assert!(store.count_group_relations(&[]).await.unwrap().is_empty());
        assert_eq!(store.backend_name(), store.backend());
    }
);
