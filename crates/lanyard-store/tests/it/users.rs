//! UserStore on every backend: CRUD, conflicts, logins, paging and search.

use crate::common::{all, at, attrs, new_user, query};
use lanyard_core::directory::{NewUser, UserPatch, UserState};
use lanyard_core::store::UserStore;
use lanyard_core::{Error, UserId};
use lanyard_store::store_test;

store_test!(create_get_update_delete, |store| {
    let mut new = new_user("Ann@Example.com", "ann");
    new.attributes = attrs(&[("dept", &["eng", "ops"]), ("title", &["Dr"])]);
    let created = store.create_user(&new, Some("hash1"), at(0)).await.unwrap();
    assert_eq!(created.email, "ann@example.com");
    assert_eq!(created.username, "ann");
    assert_eq!(created.state, UserState::Active);
    assert_eq!(created.attributes, new.attributes);
    assert_eq!(created.created_at, at(0));
    assert_eq!(created.updated_at, at(0));
    assert_eq!(store.get_user(created.id).await.unwrap(), created);

    let patch = UserPatch {
        first_name: Some("Anne".into()),
        attributes: Some(attrs(&[("dept", &["sales"])])),
        ..UserPatch::default()
    };
    let updated = store.update_user(created.id, &patch, at(10)).await.unwrap();
    assert_eq!(updated.first_name, "Anne");
    assert_eq!(updated.last_name, "Lee", "fields left out of a patch stay");
    assert_eq!(updated.email, "ann@example.com");
    assert_eq!(updated.attributes, attrs(&[("dept", &["sales"])]));
    assert_eq!(updated.created_at, at(0));
    assert_eq!(updated.updated_at, at(10));
    assert_eq!(store.get_user(created.id).await.unwrap(), updated);

    let suspended = store
        .set_user_state(created.id, UserState::Suspended, at(20))
        .await
        .unwrap();
    assert_eq!(suspended.state, UserState::Suspended);
    store
        .set_password_hash(created.id, "hash2", at(30))
        .await
        .unwrap();
    let (user, hash) = store.find_user_by_login("ann").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("hash2"));
    assert_eq!(user.updated_at, at(30));

    store.delete_user(created.id).await.unwrap();
    assert!(matches!(
        store.get_user(created.id).await,
        Err(Error::NotFound { kind: "user", .. })
    ));
});

store_test!(missing_users_are_not_found, |store| {
    let id = UserId(4242);
    let not_found = |r: Result<_, Error>| match r {
        Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("user", "4242")),
        Ok(_) => panic!("expected NotFound, got Ok"),
        Err(e) => panic!("expected NotFound, got {e:?}"),
    };
    not_found(store.get_user(id).await.map(|_| ()));
    not_found(
        store
            .update_user(id, &UserPatch::default(), at(0))
            .await
            .map(|_| ()),
    );
    not_found(
        store
            .set_user_state(id, UserState::Active, at(0))
            .await
            .map(|_| ()),
    );
    not_found(store.set_password_hash(id, "h", at(0)).await);
    not_found(store.delete_user(id).await);
    not_found(store.list_groups_of_user(id).await.map(|_| ()));
});

store_test!(email_and_username_conflicts_leave_data_unchanged, |store| {
    let ann = store
        .create_user(&new_user("ann@example.com", "ann"), None, at(0))
        .await
        .unwrap();
    let bob = store
        .create_user(&new_user("bob@example.com", "bob"), None, at(0))
        .await
        .unwrap();

    // Emails are unique whatever their case.
    match store
        .create_user(&new_user("ANN@example.COM", "ann2"), None, at(1))
        .await
    {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("email", "ann@example.com"))
        }
        other => panic!("expected an email conflict, got {other:?}"),
    }
    // Usernames too.
    match store
        .create_user(&new_user("ann2@example.com", "ANN"), None, at(1))
        .await
    {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("username", "ANN"))
        }
        other => panic!("expected a username conflict, got {other:?}"),
    }
    // And on update.
    let to_ann = UserPatch {
        email: Some("Ann@Example.com".into()),
        first_name: Some("Changed".into()),
        ..UserPatch::default()
    };
    match store.update_user(bob.id, &to_ann, at(2)).await {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("email", "ann@example.com"))
        }
        other => panic!("expected an email conflict, got {other:?}"),
    }
    let to_ann = UserPatch {
        username: Some("Ann".into()),
        ..UserPatch::default()
    };
    match store.update_user(bob.id, &to_ann, at(2)).await {
        Err(Error::Conflict { field, value }) => {
            assert_eq!((field, value.as_str()), ("username", "Ann"))
        }
        other => panic!("expected a username conflict, got {other:?}"),
    }

    let page = store.list_users(&all()).await.unwrap();
    assert_eq!(
        page.items,
        vec![ann, bob.clone()],
        "failed writes changed nothing"
    );
    // A user may take back their own values in another case.
    let own = UserPatch {
        username: Some("BOB".into()),
        email: Some("bob@example.com".into()),
        ..UserPatch::default()
    };
    assert_eq!(
        store
            .update_user(bob.id, &own, at(3))
            .await
            .unwrap()
            .username,
        "BOB"
    );
});

store_test!(logins_match_email_in_any_case_or_username, |store| {
    let ann = store
        .create_user(&new_user("ann@example.com", "Ann.L"), Some("h"), at(0))
        .await
        .unwrap();
    store
        .create_user(&new_user("bob@example.com", "bob"), None, at(0))
        .await
        .unwrap();
    for login in ["ann@example.com", " ANN@Example.com ", "Ann.L", "ann.l"] {
        let (user, hash) = store
            .find_user_by_login(login)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{login:?} not found"));
        assert_eq!((user.id, hash.as_deref()), (ann.id, Some("h")), "{login:?}");
    }
    let (bob, hash) = store.find_user_by_login("bob").await.unwrap().unwrap();
    assert_eq!((bob.username.as_str(), hash), ("bob", None));
    for nobody in ["carol", "ann", "", "ann@example.co", "a\0b"] {
        assert!(
            store.find_user_by_login(nobody).await.unwrap().is_none(),
            "{nobody:?}"
        );
    }
});

store_test!(keyset_pages_cover_everyone_once, |store| {
    let mut ids = Vec::new();
    for i in 0..7 {
        let u = new_user(&format!("user{i}@example.com"), &format!("user{i}"));
        ids.push(store.create_user(&u, None, at(i)).await.unwrap().id.0);
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store.list_users(&query(None, after, 3)).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|u| u.id.0));
        match page.next {
            Some(next) => {
                assert_eq!(Some(next), page.items.last().map(|u| u.id.0));
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3, "7 users in pages of 3");
    // A page that ends exactly at the last user says there is no next page.
    let exact = store
        .list_users(&query(None, Some(ids[3]), 3))
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 3);
    assert_eq!(exact.next, None);
    let empty = store
        .list_users(&query(None, Some(ids[6]), 3))
        .await
        .unwrap();
    assert_eq!((empty.items.len(), empty.next), (0, None));
});

store_test!(
    search_is_a_case_insensitive_prefix_of_four_fields,
    |store| {
        let people = [
            ("ann.lee@example.com", "annl", "Ann", "Lee"),
            ("bob@example.com", "bobby", "Robert", "Annan"),
            ("carol@example.com", "c.annis", "Carol", "Smith"),
            ("dan@annex.example", "dan", "Dan", "O'Brien"),
            ("émile@example.com", "emile", "Émile", "Zola"),
            ("fay@example.com", "fay_100", "Fay", "Under_score"),
        ];
        let mut ids = Vec::new();
        for (email, username, first, last) in people {
            let new = NewUser {
                email: email.into(),
                username: username.into(),
                first_name: first.into(),
                last_name: last.into(),
                ..NewUser::default()
            }
            .validate()
            .unwrap();
            ids.push(store.create_user(&new, None, at(0)).await.unwrap().id);
        }
        let found = |search: &'static str| {
            let store = store.clone();
            async move {
                store
                    .list_users(&query(Some(search), None, 500))
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|u| u.username)
                    .collect::<Vec<_>>()
            }
        };
        // email "ann.lee", username "annl", first name "Ann", last name "Annan".
        assert_eq!(found("ANN").await, vec!["annl", "bobby"]);
        assert_eq!(found("ann.").await, vec!["annl"]);
        assert_eq!(found("c.a").await, vec!["c.annis"]);
        assert_eq!(found("rob").await, vec!["bobby"]);
        assert_eq!(found("é").await, vec!["emile"]);
        assert_eq!(found("ÉMI").await, vec!["emile"]);
        assert_eq!(found("under_").await, vec!["fay_100"]);
        assert_eq!(found("under%").await, Vec::<String>::new());
        assert_eq!(found("o'b").await, vec!["dan"]);
        assert_eq!(found("zz").await, Vec::<String>::new());
        assert_eq!(found("a\u{7}").await, Vec::<String>::new());

        // Search and keyset combine.
        let first = store
            .list_users(&query(Some("ann"), None, 1))
            .await
            .unwrap();
        assert_eq!(first.items[0].id, ids[0]);
        assert_eq!(first.next, Some(ids[0].0));
        let second = store
            .list_users(&query(Some("ann"), first.next, 1))
            .await
            .unwrap();
        assert_eq!(second.items[0].id, ids[1]);
        assert_eq!(second.next, None);
    }
);
