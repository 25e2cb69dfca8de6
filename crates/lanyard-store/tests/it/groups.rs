//! GroupStore on every backend: CRUD, name conflicts, membership (idempotent,
//! cascading), members listing, and a user's groups.

use crate::common::{all, at, attrs, new_group, new_user, query};
use lanyard_core::directory::{GroupPatch, ListQuery};
use lanyard_core::store::{GroupStore, UserStore};
use lanyard_core::{Error, GroupId, UserId};
use lanyard_store::store_test;

store_test!(create_get_update_delete, |store| {
    let mut new = new_group("Engineering");
    new.attributes = attrs(&[("dept", &["eng"])]);
    let g = store.create_group(&new, at(0)).await.unwrap();
    assert_eq!(g.name, "Engineering");
    assert_eq!(g.description, "the Engineering group");
    assert_eq!(g.attributes, new.attributes);
    assert_eq!((g.created_at, g.updated_at), (at(0), at(0)));
    assert_eq!(store.get_group(g.id).await.unwrap(), g);

    let patch = GroupPatch {
        description: Some("builders".into()),
        ..GroupPatch::default()
    };
    let updated = store.update_group(g.id, &patch, at(5)).await.unwrap();
    assert_eq!(updated.name, "Engineering");
    assert_eq!(updated.description, "builders");
    assert_eq!(updated.attributes, new.attributes);
    assert_eq!((updated.created_at, updated.updated_at), (at(0), at(5)));
    assert_eq!(store.get_group(g.id).await.unwrap(), updated);

    store.delete_group(g.id).await.unwrap();
    assert!(matches!(
        store.get_group(g.id).await,
        Err(Error::NotFound { kind: "group", .. })
    ));
    assert!(matches!(
        store.delete_group(g.id).await,
        Err(Error::NotFound { kind: "group", .. })
    ));
    assert!(matches!(
        store.update_group(g.id, &patch, at(6)).await,
        Err(Error::NotFound { kind: "group", .. })
    ));
});

store_test!(group_names_are_unique_whatever_the_case, |store| {
    let eng = store
        .create_group(&new_group("Engineering"), at(0))
        .await
        .unwrap();
    let ops = store.create_group(&new_group("Ops"), at(0)).await.unwrap();
    match store.create_group(&new_group("ENGINEERING"), at(1)).await {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("name", "ENGINEERING"))
        }
        other => panic!("expected a name conflict, got {other:?}"),
    }
    let rename = GroupPatch {
        name: Some("engineering".into()),
        description: Some("changed".into()),
        ..GroupPatch::default()
    };
    match store.update_group(ops.id, &rename, at(1)).await {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("name", "engineering"))
        }
        other => panic!("expected a name conflict, got {other:?}"),
    }
    assert_eq!(
        store.list_groups(&all()).await.unwrap().items,
        vec![eng, ops]
    );
});

store_test!(groups_page_and_search, |store| {
    let mut ids = Vec::new();
    for name in ["Admins", "Developers", "devops", "Sales", "Support"] {
        ids.push(
            store
                .create_group(&new_group(name), at(0))
                .await
                .unwrap()
                .id,
        );
    }
    let names = |q: ListQuery| {
        let store = store.clone();
        async move {
            let page = store.list_groups(&q).await.unwrap();
            (
                page.items.into_iter().map(|g| g.name).collect::<Vec<_>>(),
                page.next,
            )
        }
    };
    assert_eq!(
        names(query(Some("DEV"), None, 50)).await,
        (vec!["Developers".to_string(), "devops".into()], None)
    );
    assert_eq!(
        names(query(None, None, 2)).await,
        (
            vec!["Admins".to_string(), "Developers".into()],
            Some(ids[1].0)
        )
    );
    assert_eq!(
        names(query(None, Some(ids[3].0), 2)).await,
        (vec!["Support".to_string()], None)
    );
    assert_eq!(names(query(Some("x"), None, 2)).await, (vec![], None));
});

store_test!(membership_is_idempotent_and_checks_both_ends, |store| {
    let g = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
    let ann = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    store.add_member(g.id, ann.id).await.unwrap();
    store.add_member(g.id, ann.id).await.unwrap();
    let members = store.list_members(g.id, &all()).await.unwrap();
    assert_eq!(members.items, vec![ann.clone()]);

    let missing_group = GroupId(999);
    let missing_user = UserId(999);
    for r in [
        store.add_member(missing_group, ann.id).await,
        store.remove_member(missing_group, ann.id).await,
        store.list_members(missing_group, &all()).await.map(|_| ()),
    ] {
        match r {
            Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("group", "999")),
            other => panic!("expected group NotFound, got {other:?}"),
        }
    }
    for r in [
        store.add_member(g.id, missing_user).await,
        store.remove_member(g.id, missing_user).await,
    ] {
        match r {
            Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("user", "999")),
            other => panic!("expected user NotFound, got {other:?}"),
        }
    }

    store.remove_member(g.id, ann.id).await.unwrap();
    store.remove_member(g.id, ann.id).await.unwrap();
    assert!(store
        .list_members(g.id, &all())
        .await
        .unwrap()
        .items
        .is_empty());
});

store_test!(deleting_a_user_or_group_removes_memberships, |store| {
    let eng = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
    let ops = store.create_group(&new_group("Ops"), at(0)).await.unwrap();
    let ann = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    let bob = store
        .create_user(&new_user("bob@example.com", "bob"), None, at(0))
        .await
        .unwrap();
    for (g, u) in [
        (eng.id, ann.id),
        (eng.id, bob.id),
        (ops.id, ann.id),
        (ops.id, bob.id),
    ] {
        store.add_member(g, u).await.unwrap();
    }
    store.delete_user(ann.id).await.unwrap();
    assert_eq!(
        store.list_members(eng.id, &all()).await.unwrap().items,
        vec![bob.clone()]
    );
    assert_eq!(
        store.list_members(ops.id, &all()).await.unwrap().items,
        vec![bob.clone()]
    );

    store.delete_group(eng.id).await.unwrap();
    let bobs: Vec<_> = store
        .list_groups_of_user(bob.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(bobs, vec!["Ops"]);
    // The ids are not reused, so stale references cannot point at new rows.
    let again = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(1))
        .await
        .unwrap();
    assert!(again.id.0 > bob.id.0);
    assert!(store
        .list_groups_of_user(again.id)
        .await
        .unwrap()
        .is_empty());
});

store_test!(groups_of_a_user_feed_effective_attributes, |store| {
    let mut b = new_group("b-team");
    b.attributes = attrs(&[("dept", &["b"]), ("x", &["from-b"])]);
    let mut a = new_group("A-team");
    a.attributes = attrs(&[("dept", &["a"])]);
    let b = store.create_group(&b, at(0)).await.unwrap();
    let a = store.create_group(&a, at(0)).await.unwrap();
    let other = store
        .create_group(&new_group("Other"), at(0))
        .await
        .unwrap();
    let mut new = new_user("ann@example.com", "ann");
    new.attributes = attrs(&[("title", &["Dr"])]);
    let ann = store.create_user(&new, None, at(0)).await.unwrap();
    store.add_member(b.id, ann.id).await.unwrap();
    store.add_member(a.id, ann.id).await.unwrap();

    let groups = store.list_groups_of_user(ann.id).await.unwrap();
    assert_eq!(
        groups,
        vec![a.clone(), b.clone()],
        "by name, case-insensitively"
    );
    assert!(!groups.contains(&other));
    let group_attrs: Vec<_> = groups.iter().map(|g| &g.attributes).collect();
    let eff = lanyard_core::directory::effective_attributes(&ann.attributes, &group_attrs);
    // Both groups' values, in the groups' (name) order.
    assert_eq!(
        eff,
        attrs(&[
            ("dept", &["a", "b"]),
            ("title", &["Dr"]),
            ("x", &["from-b"])
        ])
    );
});

store_test!(members_page_and_search_within_the_group, |store| {
    let g = store.create_group(&new_group("Eng"), at(0)).await.unwrap();
    let mut members = Vec::new();
    for i in 0..5 {
        let u = store
            .create_user(
                &new_user(&format!("u{i}@example.com"), &format!("u{i}")),
                None,
                at(0),
            )
            .await
            .unwrap();
        if i != 2 {
            store.add_member(g.id, u.id).await.unwrap();
            members.push(u.id);
        }
    }
    let first = store
        .list_members(g.id, &query(None, None, 3))
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        members[..3].to_vec()
    );
    assert_eq!(first.next, Some(members[2].0));
    let rest = store
        .list_members(g.id, &query(None, first.next, 3))
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        members[3..].to_vec()
    );
    assert_eq!(rest.next, None);
    let u2 = store
        .list_members(g.id, &query(Some("u2"), None, 3))
        .await
        .unwrap();
    assert!(u2.items.is_empty(), "u2 is not a member");
    let u3 = store
        .list_members(g.id, &query(Some("U3@"), None, 3))
        .await
        .unwrap();
    assert_eq!(u3.items.len(), 1);
    // An empty group lists nothing, and is not "not found".
    let empty = store
        .create_group(&new_group("Empty"), at(0))
        .await
        .unwrap();
    assert!(store
        .list_members(empty.id, &all())
        .await
        .unwrap()
        .items
        .is_empty());
});
